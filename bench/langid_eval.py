"""Language-ID accuracy and speed on a labelled set of real files (bench/langid/manifest.yaml).

Compares three labellers per language, and apart for the ambiguous extensions (.h .m .pl .ts .R):
  extension-only  the floor: the language whose primary extension it is, popular first, then by name
  rules           codecorpus.annotate.language.detect_language (Linguist's strategies + heuristics)
  go-enry         enry.get_language (the same Linguist data plus its Bayesian classifier)
and measures files/s of each on one core. Usage:

    python bench/langid_eval.py --fetch        # download the pinned packages once (registries only)
    python bench/langid_eval.py [--repeat 5]   # offline: print the markdown tables
"""
from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import yaml

from codecorpus.annotate import language as lang

MANIFEST = Path(__file__).resolve().parent / "langid" / "manifest.yaml"


def cache_dir() -> Path:
    root = os.environ.get("CODECORPUS_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "codecorpus") / "langid"


def unpacked(source: dict) -> Path:
    return cache_dir() / source["registry"] / f"{source['name']}-{source['version']}"


def fetch(source: dict) -> None:
    """Download one pinned package with its registry's client and unpack it (idempotent)."""
    target = unpacked(source)
    if target.exists():
        return
    spec = f"{source['name']}@{source['version']}" if source["registry"] == "npm" else None
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")  # renamed into place when complete
    with tempfile.TemporaryDirectory() as tmp:
        if source["registry"] == "apt":
            subprocess.run(["apt-get", "download", f"{source['name']}={source['version']}"],
                           cwd=tmp, check=True)
            (deb,) = Path(tmp).glob("*.deb")
            subprocess.run(["dpkg-deb", "-x", str(deb), str(partial)], check=True)
        elif source["registry"] == "npm":
            subprocess.run(["npm", "pack", spec, "--silent"], cwd=tmp, check=True, capture_output=True)
            (tgz,) = Path(tmp).glob("*.tgz")
            with tarfile.open(tgz) as archive:
                archive.extractall(partial, filter="data")
        else:
            raise SystemExit(f"registry {source['registry']!r} not supported (apt, npm)")
    partial.rename(target)


def labelled_files(sources: list[dict]) -> list[tuple[str, str, bool, str]]:
    """(path inside package, label, ambiguous, absolute path, set), deterministic."""
    rows = []
    for source in sources:
        root = unpacked(source)
        if not root.exists():
            raise SystemExit(f"{root} missing: run `python bench/langid_eval.py --fetch` first")
        found = sorted({p for pattern in source["files"] for p in glob.glob(str(root / pattern),
                                                                           recursive=True)
                        if os.path.isfile(p) and not os.path.islink(p)})
        if not found:
            raise SystemExit(f"{source['name']}: no file matches {source['files']} under {root}")
        step = max(1, len(found) // source["max_files"])
        for path in found[::step][:source["max_files"]]:
            rows.append((os.path.relpath(path, root), source["label"], source["ambiguous"], path,
                         source.get("set", "")))
    return rows


def extension_only(path: str) -> str | None:
    """The floor: no content, no heuristics; popular languages and primary extensions win ties."""
    candidates = lang.extension_candidates(path)
    if not candidates:
        return None
    table = lang.rules().languages
    ext = lang.extensions_of(path)

    def rank(name: str):
        spec = table[name]
        primary = bool(spec["extensions"]) and spec["extensions"][0].lower() in ext
        return (not primary, not spec["popular"], name)
    return min(candidates, key=rank)


LABELLERS = {"extension-only": extension_only, "rules": lang.detect_language,
             "go-enry": lang.enry_language}


def evaluate(rows, contents, repeat: int):
    predictions, speed = {}, {}
    for name, label_fn in LABELLERS.items():
        start = time.perf_counter()
        for _ in range(repeat):
            out = [label_fn(rel, data) if name != "extension-only" else label_fn(rel)
                   for (rel, *_), data in zip(rows, contents)]
        speed[name] = repeat * len(rows) / (time.perf_counter() - start)
        predictions[name] = out
    start = time.perf_counter()
    for _ in range(repeat):
        for (rel, *_), data in zip(rows, contents):
            lang.is_generated(rel, data)
    speed["is_generated (go-enry)"] = repeat * len(rows) / (time.perf_counter() - start)
    return predictions, speed


def table(rows, predictions, ambiguous: bool) -> list[str]:
    groups = defaultdict(list)
    for i, (rel, label, amb, _, subset) in enumerate(rows):
        if amb == ambiguous:
            groups[(label, Path(rel).suffix + (f" ({subset})" if subset else ""))].append(i)
    names = list(LABELLERS)
    lines = ["| language | ext | files | " + " | ".join(names) + " | rules: None |",
             "|---|---|---:|" + "---:|" * (len(names) + 1)]
    total = defaultdict(int)
    count = 0
    for (label, ext), idx in sorted(groups.items()):
        cells = []
        for name in names:
            right = sum(predictions[name][i] == label for i in idx)
            total[name] += right
            cells.append(f"{100 * right / len(idx):.1f}%")
        none = sum(predictions["rules"][i] is None for i in idx)
        total["none"] += none
        count += len(idx)
        lines.append(f"| {label} | {ext} | {len(idx)} | " + " | ".join(cells) + f" | {none} |")
    lines.append(f"| **all** | | {count} | " + " | ".join(
        f"**{100 * total[n] / count:.1f}%**" for n in names) + f" | {total['none']} |")
    return lines


def confusions(rows, predictions, name: str) -> list[str]:
    wrong = defaultdict(int)
    for i, (rel, label, *_rest) in enumerate(rows):
        if predictions[name][i] != label:
            wrong[(label, Path(rel).suffix, predictions[name][i])] += 1
    return [f"- {label} {ext} -> {got}: {n}" for (label, ext, got), n in
            sorted(wrong.items(), key=lambda kv: (-kv[1], str(kv[0])))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fetch", action="store_true", help="download the pinned packages first")
    parser.add_argument("--repeat", type=int, default=3, help="passes over the set for files/s")
    args = parser.parse_args(argv)
    sources = yaml.safe_load(MANIFEST.read_text())["sources"]
    if args.fetch:
        for source in sources:
            fetch(source)
    rows = labelled_files(sources)
    contents = [Path(row[3]).read_bytes() for row in rows]
    lang.rules(), lang._enry()  # load once, outside the timings
    predictions, speed = evaluate(rows, contents, args.repeat)
    print(f"labelled files: {len(rows)} from {len(sources)} pinned packages; cache {cache_dir()}\n")
    print("Ambiguous extensions\n")
    print("\n".join(table(rows, predictions, True)))
    print("\nUnambiguous extensions\n")
    print("\n".join(table(rows, predictions, False)))
    for name in ("rules", "go-enry"):
        print(f"\nErrors of {name}:\n" + ("\n".join(confusions(rows, predictions, name)) or "- none"))
    mb = sum(map(len, contents)) / 1e6
    print(f"\nSpeed on one core ({len(rows)} files, {mb:.1f} MB, {args.repeat} passes):\n")
    for name, rate in speed.items():
        print(f"- {name}: {rate:,.0f} files/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

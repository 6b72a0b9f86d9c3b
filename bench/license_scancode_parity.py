r"""Our license matcher against scancode-toolkit (the detector The Stack v2 used), text by text.

Texts: the labelled set of tests/test_license_accuracy.py (real license texts with their declared SPDX
ids) and every license-named file (go-license-detector's names: LICENSE, COPYING, NOTICE, README, ...)
of a built-in sample corpus. Both engines see the same file under the same name; each side's SPDX ids
go through the same decision rule (The Stack v2's get_license_type, no hosting metadata). scancode runs
in its own venv (it pins what this project's venv cannot): install it once with

    python3 -m venv ../scancode-venv
    ../scancode-venv/bin/pip install scancode-toolkit==32.0.8 "pluggy<1.6"

then

    PYTHONPATH=. .venv/bin/python bench/license_scancode_parity.py --scancode-python ../scancode-venv/bin/python \
        [--out parity.jsonl]   # every text: ours vs scancode, ids and license_type

Ids are compared as sets: scancode's ``detected_license_expression_spdx`` split on AND/OR, the exception
after WITH left out on both sides (as SPDX headers are read); "family" also ignores GPL-style
-only/-or-later. scancode's answers are cached by text digest (--cache) so a matcher change re-runs fast.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

from codecorpus.annotate.license import get_license_type, is_license_file, license_file_ids
from tests.test_license_accuracy import family, labelled_set

SCANCODE = """
import json, sys
from scancode.api import get_licenses
paths, out = json.load(open(sys.argv[1])), {}
for path in paths:
    try:
        out[path] = get_licenses(path, include_text=False, deadline=100)["detected_license_expression_spdx"] or ""
    except Exception as err:  # a text scancode chokes on is reported, the rest goes on
        out[path] = "ERROR " + repr(err)
json.dump(out, open(sys.argv[2], "w"))
"""


def expression_ids(expression: str) -> list[str]:
    tokens = expression.replace("(", " ").replace(")", " ").split()
    ids, skip = set(), False
    for token in tokens:
        if skip:
            skip = False
        elif token.upper() == "WITH":
            skip = True
        elif token.upper() not in ("AND", "OR"):
            ids.add(token)
    return sorted(ids)


def cases(sample: str | None) -> list[tuple[str, str, str, set[str] | None]]:
    """(name, file name, text, declared ids or None)."""
    out = [(name, "README.md" if "readme" in name else "LICENSE", text, expected)
           for name, text, expected in labelled_set()]
    if sample:
        from codecorpus.sources.sample import build_sample
        root = build_sample(sample) / "repos"
        for path in sorted(p for p in root.rglob("*") if p.is_file() and is_license_file(p.name)):
            text = path.read_bytes().decode("utf-8", errors="replace")
            out.append((f"{sample}:{path.relative_to(root)}", path.name, text, None))
    return out


def scancode_ids(items, scancode_python: str, cache_path: Path) -> dict[str, str]:
    """scancode's SPDX expression per text digest, computing only what the cache lacks."""
    cache = json.loads(cache_path.read_text()) if cache_path.is_file() else {}
    todo = {}
    with tempfile.TemporaryDirectory() as folder:
        for k, (_name, file_name, text, _expected) in enumerate(items):
            key = hashlib.sha1(f"{file_name}\0{text}".encode()).hexdigest()
            if key not in cache and key not in todo.values():
                path = Path(folder) / str(k) / file_name
                path.parent.mkdir()
                path.write_text(text)
                todo[str(path)] = key
        if todo:
            (Path(folder) / "in.json").write_text(json.dumps(sorted(todo)))
            subprocess.run([scancode_python, "-c", SCANCODE, f"{folder}/in.json", f"{folder}/out.json"], check=True)
            for path, expression in json.loads((Path(folder) / "out.json").read_text()).items():
                cache[todo[path]] = expression
    cache_path.write_text(json.dumps(cache, indent=0, sort_keys=True))
    return cache


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scancode-python", required=True, help="python of a venv with scancode-toolkit")
    parser.add_argument("--sample", default="default", help="sample corpus whose license files are added "
                        "(small, default, large; 'none' for the labelled set only)")
    parser.add_argument("--cache", default="scancode-cache.json", help="scancode answers by text digest")
    parser.add_argument("--out", help="also write every text's comparison here, one JSON object a line")
    args = parser.parse_args()
    items = cases(None if args.sample == "none" else args.sample)
    answers = scancode_ids(items, args.scancode_python, Path(args.cache))
    groups: dict[str, Counter] = {}
    disagreements = []
    confusion: Counter = Counter()
    rows = []
    for name, file_name, text, expected in items:
        theirs_raw = answers[hashlib.sha1(f"{file_name}\0{text}".encode()).hexdigest()]
        theirs = [] if theirs_raw.startswith("ERROR") else expression_ids(theirs_raw)
        ours = license_file_ids(file_name, text)
        ours_type, theirs_type = get_license_type(None, ours), get_license_type(None, theirs)
        group = groups.setdefault("labelled" if expected is not None else "sample", Counter())
        group["texts"] += 1
        group["type agrees"] += ours_type == theirs_type
        group["ids agree"] += set(ours) == set(theirs)
        group["id families agree"] += family(ours) == family(theirs)
        if expected is not None:
            want = get_license_type(None, expected)
            group["ours: type = label"] += ours_type == want
            group["scancode: type = label"] += theirs_type == want
            group["ours: families = label"] += family(ours) == family(expected)
            group["scancode: families = label"] += family(theirs) == family(expected)
        confusion[(ours_type, theirs_type)] += 1
        rows.append({"text": name, "label": sorted(expected) if expected is not None else None, "ours": ours,
                     "ours_type": ours_type, "scancode": theirs_raw, "scancode_ids": theirs,
                     "scancode_type": theirs_type})
        if family(ours) != family(theirs) or ours_type != theirs_type:
            disagreements.append((ours_type != theirs_type, name, ours, ours_type, theirs_raw, theirs_type))
    if args.out:
        Path(args.out).write_text("".join(json.dumps(row) + "\n" for row in rows))
    for label, counts in groups.items():
        n = counts.pop("texts")
        print(f"{label}: {n} texts; " + "; ".join(f"{k} {v / n:.1%}" for k, v in counts.items()))
    print("license_type, ours (rows) x scancode (columns):")
    types = ("permissive", "no_license", "non_permissive")
    print("  " + " ".join(f"{t:>15}" for t in ("", *types)))
    for ours_type in types:
        print("  " + f"{ours_type:>15} " + " ".join(f"{confusion[(ours_type, t)]:>15}" for t in types))
    print(f"{len(disagreements)} texts whose ids (families) or type differ; type first:")
    for type_differs, name, ours, ours_type, theirs_raw, theirs_type in sorted(disagreements, key=lambda d: (not d[0], d[1])):
        flag = "TYPE" if type_differs else "ids "
        print(f"  {flag} {name}: ours {ours} ({ours_type}) | scancode {theirs_raw!r} ({theirs_type})")


if __name__ == "__main__":
    main()

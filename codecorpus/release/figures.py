"""Figures of a release card (PNG, matplotlib's Agg backend), drawn from stats.json alone:
size per language, kept vs dropped by stage, file-length distributions per language, license mix."""
from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

FIGURES = {
    "size_by_language": "Bytes (and tokens, when computed) per language",
    "kept_vs_dropped": "Files kept and dropped at each stage",
    "file_length_by_language": "File-length distribution per language",
    "license_mix": "License mix of the released files",
}
KEPT, DROPPED = "#4C72B0", "#DD8452"


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    # no Software/date metadata: the same stats give the same bytes
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def _top(rows: list[dict], key: str, value: str, n: int) -> tuple[list[str], list[float]]:
    """The n largest rows by ``value``, the rest summed as 'other'."""
    ranked = sorted(rows, key=lambda r: (-(r.get(value) or 0), str(r[key])))
    labels = [str(r[key]) for r in ranked[:n]]
    values = [r.get(value) or 0 for r in ranked[:n]]
    rest = sum(r.get(value) or 0 for r in ranked[n:])
    if rest:
        labels.append("other")
        values.append(rest)
    return labels, values


def _mib(n: float) -> float:
    return n / 2 ** 20


def size_by_language(stats: dict, top: int) -> bytes:
    labels, values = _top(stats["files"]["by_language"], "language", "bytes", top)
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(labels) + 1.5))
    ax.barh(labels[::-1], [_mib(v) for v in values[::-1]], color=KEPT)
    for y, v in enumerate(values[::-1]):
        ax.annotate(f"{_mib(v):,.2f} MiB", (_mib(v), y), xytext=(3, 0), textcoords="offset points", va="center",
                    fontsize=8)
    docs = stats.get("documents")
    tokens = docs and docs["total"]["tokens"]
    note = f"documents: {tokens:,} tokens in total" if tokens else "tokens not computed in this run"
    ax.set_xlabel(f"MiB of released files ({note})")
    ax.set_title("Size per language")
    ax.margins(x=0.25)
    return _png(fig)


def kept_vs_dropped(stats: dict) -> bytes:
    flow = stats["flow"]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    names = [f["stage"] for f in flow]
    kept = [f["kept"] for f in flow]
    dropped = [f["dropped"] for f in flow]
    ax.bar(names, kept, color=KEPT, label="kept")
    ax.bar(names, dropped, bottom=kept, color=DROPPED, label="dropped")
    for x, (k, d) in enumerate(zip(kept, dropped)):
        ax.annotate(f"-{d:,}" if d else "", (x, k + d), xytext=(0, 2), textcoords="offset points", ha="center",
                    fontsize=8)
    ax.set_ylabel("files")
    ax.set_title("Files kept and dropped at each stage")
    ax.legend()
    return _png(fig)


def file_length_by_language(stats: dict, top: int) -> bytes:
    languages, _ = _top(stats["files"]["by_language"], "language", "files", top)
    languages = [name for name in languages if name != "other"]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for name in languages:
        rows = [r for r in stats["length_histogram"] if r["language"] == name]
        total = sum(r["files"] for r in rows)
        ax.plot([2 ** max(r["bucket"], 0) for r in rows], [r["files"] / total for r in rows], marker="o",
                label=f"{name} ({total:,} files)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("file size, bytes (power-of-two buckets)")
    ax.set_ylabel("share of the language's files")
    ax.set_title("File-length distribution per language")
    ax.legend(fontsize=8)
    return _png(fig)


def license_mix(stats: dict, top: int) -> bytes:
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
    labels, values = _top(stats["licenses"]["by_type"], "license_type", "files", top)
    left.bar(labels, values, color=KEPT)
    left.set_title("Files by license type")
    labels, values = _top(stats["licenses"]["by_id"], "license", "files", top)
    right.barh(labels[::-1], values[::-1], color=KEPT)
    right.set_title("Files by detected license (SPDX)")
    for ax in (left, right):
        ax.tick_params(labelsize=8)
    return _png(fig)


def render_figures(stats: dict, top: int) -> dict[str, bytes]:
    """PNG bytes of each figure, by name (figures/<name>.png in the release)."""
    return {"size_by_language": size_by_language(stats, top),
            "kept_vs_dropped": kept_vs_dropped(stats),
            "file_length_by_language": file_length_by_language(stats, top),
            "license_mix": license_mix(stats, top)}

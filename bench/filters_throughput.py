"""Throughput of the annotate signals, license detection, quality filters and decontamination, as ratios
to a passthrough floor (an identity mapInArrow over the same files) measured in the same run.

Corpus: real files from the venv's site-packages (py, js, json, html, txt, md, c, h), read in a fixed
order. Each stage's output is written to Spark's `noop` sink so all work runs and nothing is stored.

    .venv/bin/python bench/filters_throughput.py --files 4000
"""
from __future__ import annotations

import argparse
import hashlib
import sysconfig
import time
from pathlib import Path

import enry

from codecorpus.annotate.license import detect_licenses
from codecorpus.annotate.signals import add_signals
from codecorpus.filters.config import DecontaminationConfig, FilterConfig
from codecorpus.filters.decontaminate import benchmark_patterns, decontaminate
from codecorpus.filters.quality import apply_filters
from codecorpus.session import get_spark

SUFFIXES = {".py", ".js", ".json", ".html", ".txt", ".md", ".c", ".h"}


def corpus_rows(limit: int):
    site = Path(sysconfig.get_paths()["purelib"])
    rows = []
    for path in sorted(site.rglob("*")):
        if path.suffix not in SUFFIXES or not path.is_file() or path.stat().st_size > 1_000_000:
            continue
        data = path.read_bytes()
        rel = str(path.relative_to(site))
        repo = "/".join(rel.split("/")[:1] * 2)
        rows.append((hashlib.sha1(rel.encode()).hexdigest(), hashlib.sha1(data).hexdigest(), repo, rel,
                     enry.get_language(path.name, data) or None, data.decode("utf-8", "replace"), len(data),
                     bool(enry.is_generated(path.name, data)), None))
        if len(rows) >= limit:
            break
    return rows


def timed(df) -> float:
    start = time.perf_counter()
    df.write.format("noop").mode("overwrite").save()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=4000)
    args = ap.parse_args()
    spark = get_spark(master="local[2]", conf={"spark.sql.shuffle.partitions": "4"})
    rows = corpus_rows(args.files)
    schema = ("file_id string, blob_id string, repo_name string, path string, language string, content string, "
              "length_bytes bigint, is_generated boolean, gha_license_id string")
    files = spark.createDataFrame(rows, schema).repartition(4, "file_id").cache()
    n, mb = files.count(), sum(r[6] for r in rows) / 1e6
    patterns = benchmark_patterns(DecontaminationConfig())
    tenfold = [(b, f"{t}#{i}", p + str(i)) for i in range(10) for b, t, p in patterns]
    stages = {
        "passthrough floor": files.mapInArrow(lambda it: it, files.schema),
        "signals (tree-sitter on)": add_signals(files),
        "license detection": detect_licenses(files)[0],
        "decontamination 1x patterns": decontaminate(files, patterns=patterns)[0],
        "decontamination 10x patterns": decontaminate(files, patterns=tenfold)[0],
    }
    timed(stages["passthrough floor"])   # warm the Python workers
    floor = None
    print(f"{n} files, {mb:.1f} MB, 2 cores; patterns {len(patterns)} / {len(tenfold)}")
    print("| stage | s | files/s/core | MB/s/core | x floor time |\n|---|---|---|---|---|")
    for name, df in stages.items():
        seconds = timed(df)
        floor = floor or seconds
        print(f"| {name} | {seconds:.2f} | {n / seconds / 2:.0f} | {mb / seconds / 2:.2f} | {seconds / floor:.1f} |")
    # the rules alone, over signals materialised once (cached after the signals timing, so the timing
    # above measured real work, not a cache read)
    signals = add_signals(files).cache()
    signals.count()
    seconds = timed(apply_filters(signals, FilterConfig())[0])
    print(f"| quality filters (over cached signals) | {seconds:.2f} | {n / seconds / 2:.0f} | "
          f"{mb / seconds / 2:.2f} | {seconds / floor:.1f} |")


if __name__ == "__main__":
    main()

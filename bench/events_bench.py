"""Events/s and PRs/s per core from raw GH Archive files to documents, as a ratio to a passthrough floor.

    python bench/events_bench.py [--events 100000] [--files 8] [--cores 2] [--near-dup]

Corpus: the real event fixtures (codecorpus/sources/event_sample.py: recorded @octokit webhook payloads
wrapped as GH Archive records) replicated with distinct ids until --events; copy k moves every
repository to ``<repo>-k`` so each copy is its own PRs and issues, and each copy's psf/requests PRs
resolve to the two requests snapshots (real code changes). Written as --files hourly *.json.gz files.

Floor: the same files read by Spark's binaryFile source, gunzipped and split into lines in Python
workers (mapInArrow), lines counted: the I/O and decompression every reader pays.
Measured: the events stage then the conversations stage (runner, Parquet commits, ledger balance), with
its decontamination and PII steps; near-dedup only with --near-dup, since the copies are near-duplicates
of each other by construction (with it, one document per distinct thread survives).
"""
from __future__ import annotations

import argparse
import gzip
import json
import math
import tempfile
import time
from pathlib import Path

import pyarrow as pa

from codecorpus.config import parse_config
from codecorpus.pipeline import STAGES
from codecorpus.runner import Runner
from codecorpus.session import get_spark
from codecorpus.sources.event_sample import build_event_fixtures, replicate


def write_corpus(fixtures: Path, out: Path, events: int, files: int) -> tuple[int, int, dict[str, str]]:
    """(events written, copies, snapshots mapping for every copy)."""
    with gzip.open(fixtures / "events" / "2023-07-01-10.json.gz") as f:
        records = [json.loads(line) for line in f]
    copies = math.ceil(events / len(records))
    out.mkdir(parents=True)
    handles = [gzip.open(out / f"2023-07-02-{k}.json.gz", "wt") for k in range(files)]
    n = 0
    for n, record in enumerate(replicate(records, copies), 1):
        handles[n % files].write(json.dumps(record) + "\n")
    for h in handles:
        h.close()
    base = json.loads((fixtures / "snapshots.json").read_text())
    snapshots = {key.replace("psf/requests@", f"psf/requests-{k}@"): repo for k in range(copies) for key, repo in base.items()}
    return n, copies, snapshots


def _count_lines(batches):
    for batch in batches:
        counts = [sum(1 for _ in gzip.GzipFile(fileobj=__import__("io").BytesIO(c)))
                  for c in batch.column("content").to_pylist()]
        yield pa.RecordBatch.from_pydict({"n": counts})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--near-dup", action="store_true", help="run the near-dedup of documents too")
    args = parser.parse_args()
    fixtures = build_event_fixtures(progress=lambda _: None)
    spark = get_spark(f"local[{args.cores}]", {"spark.sql.shuffle.partitions": str(args.cores * 2),
                                               "spark.ui.enabled": "false"})
    with tempfile.TemporaryDirectory() as tmp:
        n, copies, snapshots = write_corpus(fixtures, Path(tmp) / "events", args.events, args.files)
        started = time.perf_counter()
        lines = spark.read.format("binaryFile").load(f"{tmp}/events").select("content") \
            .mapInArrow(_count_lines, "n bigint").groupBy().sum("n").first()[0]
        floor = time.perf_counter() - started
        config = parse_config({
            "run_dir": f"{tmp}/run", "stages": ["ingest", "events", "conversations"], "files_per_table": args.cores,
            "ingest": {"shards": 1}, "sources": {"local": [str(fixtures / "repos")], "gharchive": [f"{tmp}/events"]},
            "conversations": {"pull_requests": {"snapshots": snapshots}}, "dedup": {"near": args.near_dup}})
        runner = Runner(config, spark, STAGES, progress=lambda _: None)
        runner.run(only=["ingest"])
        reports = runner.run(only=["events", "conversations"])
        seconds = sum(r.manifest["seconds"] for r in reports)
        outputs = reports[1].manifest["outputs"]
        prs, issues, pii = (outputs[t]["rows"] for t in ("pull_requests", "issues", "pii"))
        threads = spark.read.parquet(runner.table_path("events", "events")).select("thread_id").distinct().count()
    per_core = args.cores
    print(f"events {n} ({lines} lines) in {args.files} files, {copies} copies of the fixture hour; "
          f"threads {threads}, documents: {prs} PRs, {issues} issues; pii rows {pii}; near-dedup {args.near_dup}")
    print(f"floor (binaryFile + gunzip + split lines): {floor:.1f}s, {n / floor / per_core:,.0f} events/s/core")
    print(f"events + conversations stages: {seconds:.1f}s, {n / seconds / per_core:,.0f} events/s/core, "
          f"{prs / seconds / per_core:,.1f} kept PRs/s/core, {threads / seconds / per_core:,.1f} threads/s/core")
    print(f"ratio to floor: {seconds / floor:.1f}x the floor's time")


if __name__ == "__main__":
    main()

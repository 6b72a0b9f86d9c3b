"""Dedup benchmarks on real files (the .py files of the installed packages, sorted by path):

1. signatures: docs/s per core of codecorpus's vectorised MinHash against a single-process datasketch
   loop doing the same shingling (BigCode's 5-gram set) with 250 permutations, in the same run;
2. stage: near_dedup end to end on Spark local[2] (signatures, bands, components, verified survivors,
   ledger) against a single-process datasketch MinHash + MinHashLSH + union-find pipeline.

    .venv/bin/python bench/dedup_bench.py --files 3000
    .venv/bin/python bench/dedup_bench.py --only stage --run-dir RUN_DIR   # a run's near-dedup input

With ``--run-dir`` the corpus is what the dedup stage of that run (e.g. `codecorpus run` on a sample)
near-deduplicates: the filter stage's files minus the ledger's exact_dup rows, with their real ranks.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import numpy as np
from datasketch import MinHash, MinHashLSH

from codecorpus.dedup import DedupConfig, minhash

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from test_dedup_data import FILE_COLUMNS, file_row  # noqa: E402  (the tests' real-file rows)

NON_WORD = re.compile(r"\W")


def real_files(n: int) -> list[tuple[str, str]]:
    root = Path(sysconfig.get_paths()["purelib"])
    out = []
    for path in sorted(root.rglob("*.py")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        out.append((str(path.relative_to(root)), text))
        if len(out) == n:
            break
    return out


def datasketch_signature(text: str, num_perm: int, seed: int) -> MinHash | None:
    tokens = NON_WORD.split(text.lower())
    if len(tokens) < 5:
        return None
    m = MinHash(num_perm=num_perm, seed=seed)
    m.update_batch([s.encode() for s in {" ".join(tokens[i:i + 5]) for i in range(len(tokens) - 4)}])
    return m


def bench_signatures(files, cfg: DedupConfig) -> None:
    texts = [t for _, t in files]
    mb = sum(len(t.encode()) for t in texts) / 1e6
    a, b = minhash.permutations(cfg.num_perm, cfg.seed)
    start = time.perf_counter()
    for lo in range(0, len(texts), 64):
        minhash.signatures(texts[lo:lo + 64], a, b)
    ours = time.perf_counter() - start
    start = time.perf_counter()
    for text in texts:
        datasketch_signature(text, cfg.num_perm, cfg.seed)
    ref = time.perf_counter() - start
    print(f"signatures, one process, {len(texts)} files, {mb:.1f} MB")
    print(f"  codecorpus numpy : {len(texts) / ours:8.0f} docs/s  {mb / ours:6.2f} MB/s  ({ours:.1f} s)")
    print(f"  datasketch loop  : {len(texts) / ref:8.0f} docs/s  {mb / ref:6.2f} MB/s  ({ref:.1f} s)")
    print(f"  speed-up         : {ref / ours:.2f}x")


def datasketch_pipeline(files, cfg: DedupConfig) -> int:
    bands, rows = cfg.lsh_params()
    lsh = MinHashLSH(num_perm=cfg.num_perm, params=(bands, rows))
    sigs = {}
    for name, text in files:
        m = datasketch_signature(text, cfg.num_perm, cfg.seed)
        if m is not None:
            sigs[name] = m
            lsh.insert(name, m)
    parent = {k: k for k in sigs}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x
    for name, m in sigs.items():
        for other in lsh.query(m):
            ra, rb = find(name), find(other)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    return sum(find(k) != k for k in sigs)


def run_dir_files(run_dir: str) -> list[dict]:
    """The near-dedup input of a run: filter's files minus exact duplicates (rows with FILE_COLUMNS)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    ledger = pq.read_table(f"{run_dir}/ledger/dedup", columns=["id", "rule"])
    exact = ledger.filter(pc.equal(ledger["rule"], "exact_dup"))["id"]
    names = FILE_COLUMNS.names
    files = pq.read_table(f"{run_dir}/stages/filter/files", columns=names)
    return files.filter(pc.invert(pc.is_in(files["file_id"], exact))).to_pylist()


def bench_stage(files, cfg: DedupConfig, rows: list[dict] | None = None) -> None:

    from codecorpus.dedup import near_dedup
    from codecorpus.session import get_spark
    events = tempfile.mkdtemp(prefix="dedup-bench-events-")
    conf = {"spark.sql.shuffle.partitions": "8", "spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false",
            "spark.eventLog.enabled": "true", "spark.eventLog.dir": f"file://{events}",
            "spark.eventLog.compress": "false", "spark.eventLog.logStageExecutorMetrics": "true"}
    conf.update(a.split("=", 1) for a in os.environ.get("BENCH_CONF", "").split() if a)
    spark = get_spark("local[2]", conf)
    rows = rows or [file_row(f"site/{name.split('/')[0]}", name, text, "permissive") for name, text in files]
    df = spark.createDataFrame(rows, FILE_COLUMNS)
    print(f"near-dedup stage, {len(files)} files, {sum(len(t) for _, t in files) / 1e6:.1f} MB")
    timings = []
    with tempfile.TemporaryDirectory() as tmp:
        # Four files of even size, as a stage's input table: both cores hash, no shuffle of contents.
        df.repartition(4).write.parquet(f"{tmp}/files")
        files_df = spark.read.parquet(f"{tmp}/files")
        # Run 1 is the session's first query of each kind (the JVM compiles as it goes); run 2 is the
        # stage as it runs in a pipeline, after earlier stages warmed the JVM.
        for run in ("cold JVM", "warm JVM"):
            group = f"near_dedup_{len(timings)}"
            spark.sparkContext.setJobGroup(group, group)
            start = time.perf_counter()
            kept, clusters, ledger = near_dedup(files_df, cfg, f"{tmp}/checkpoints_{len(timings)}")
            removed, n_kept = ledger.count(), kept.count()
            spark_s = time.perf_counter() - start
            timings.append(spark_s)
            rounds = len(list(Path(f"{tmp}/checkpoints_0/components").glob("round_*")))
            jobs = len(spark.sparkContext.statusTracker().getJobIdsForGroup(group))
            print(f"  codecorpus Spark local[2], {run}: {len(files) / spark_s:7.0f} docs/s ({spark_s:.1f} s), "
                  f"{removed} removed, {n_kept} kept, component rounds {rounds}, {jobs} Spark jobs")
        largest = largest_bucket(spark, f"{tmp}/checkpoints_0/signatures", cfg)
    spark.stop()
    print_event_metrics(events, largest)
    start = time.perf_counter()
    ds_removed = datasketch_pipeline(files, cfg)
    ds_s = time.perf_counter() - start
    print(f"  datasketch MinHashLSH 1 process: {len(files) / ds_s:7.0f} docs/s ({ds_s:.1f} s), "
          f"{ds_removed} removed (unverified components)")
    print(f"  speed-up: {ds_s / timings[0]:.2f}x cold, {ds_s / timings[1]:.2f}x warm")


def largest_bucket(spark, signatures: str, cfg: DedupConfig) -> int:
    from pyspark.sql import functions as F
    bands, rows = cfg.lsh_params()
    keys = F.array(*[F.substring("signature", i * rows * 4 + 1, rows * 4) for i in range(bands)])
    sizes = spark.read.parquet(signatures).select(F.posexplode(keys).alias("band", "key")).groupBy("band", "key").count()
    return sizes.agg(F.max("count")).first()[0]


def print_event_metrics(events: str, largest: int) -> None:
    """Shuffle bytes, the JVM's peak heap and the longest task, from the Spark event log of the runs."""
    import json
    shuffle, peak_heap, longest = 0, 0, 0
    for path in Path(events).glob("**/events_*"):
        for line in path.open():
            event = json.loads(line)
            if event["Event"] == "SparkListenerTaskEnd" and event.get("Task Metrics"):
                metrics = event["Task Metrics"]
                shuffle += metrics["Shuffle Write Metrics"]["Shuffle Bytes Written"]
                info = event["Task Info"]
                longest = max(longest, info["Finish Time"] - info["Launch Time"])
            elif event["Event"] == "SparkListenerStageExecutorMetrics":
                peak_heap = max(peak_heap, event["Executor Metrics"].get("JVMHeapMemory", 0))
    print(f"  both runs: shuffle written {shuffle / 1e6:.1f} MB, JVM peak heap {peak_heap / 1e9:.2f} GB, "
          f"longest task {longest / 1000:.1f} s; largest band bucket {largest} files")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--only", choices=["signatures", "stage"])
    parser.add_argument("--run-dir", help="take the near-dedup input of this run instead of installed files")
    args = parser.parse_args()
    cfg = DedupConfig()
    rows = run_dir_files(args.run_dir) if args.run_dir else None
    files = [(f"{r['repo_name']}/{r['path']}", r["content"]) for r in rows] if rows else real_files(args.files)
    if args.only in (None, "signatures"):
        bench_signatures(files, cfg)
    if args.only in (None, "stage"):
        bench_stage(files, cfg, rows)


if __name__ == "__main__":
    np.seterr(over="ignore")
    main()

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
    sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
    from test_dedup_data import FILE_COLUMNS
    ledger = pq.read_table(f"{run_dir}/ledger/dedup", columns=["id", "rule"])
    exact = ledger.filter(pc.equal(ledger["rule"], "exact_dup"))["id"]
    names = FILE_COLUMNS.names
    files = pq.read_table(f"{run_dir}/stages/filter/files", columns=names)
    return files.filter(pc.invert(pc.is_in(files["file_id"], exact))).to_pylist()


def bench_stage(files, cfg: DedupConfig, rows: list[dict] | None = None) -> None:
    sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
    from test_dedup_data import FILE_COLUMNS, file_row

    from codecorpus.dedup import near_dedup
    from codecorpus.session import get_spark
    spark = get_spark("local[2]", {"spark.sql.shuffle.partitions": "8", "spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false", **dict(a.split("=", 1) for a in os.environ.get("BENCH_CONF", "").split() if a)})
    rows = rows or [file_row(f"site/{name.split('/')[0]}", name, text, "permissive") for name, text in files]
    df = spark.createDataFrame(rows, FILE_COLUMNS)
    with tempfile.TemporaryDirectory() as tmp:
        # Four files of even size, as a stage's input table: both cores hash, no shuffle of contents.
        df.repartition(4).write.parquet(f"{tmp}/files")
        files_df = spark.read.parquet(f"{tmp}/files")
        spark.sparkContext.setJobGroup("near_dedup", "near_dedup")
        start = time.perf_counter()
        kept, clusters, ledger = near_dedup(files_df, cfg, f"{tmp}/checkpoints")
        removed = ledger.count()
        n_kept = kept.count()
        spark_s = time.perf_counter() - start
        rounds = len(list(Path(f"{tmp}/checkpoints/components").glob("round_*")))
        jobs = len(spark.sparkContext.statusTracker().getJobIdsForGroup("near_dedup"))
    start = time.perf_counter()
    ds_removed = datasketch_pipeline(files, cfg)
    ds_s = time.perf_counter() - start
    print(f"near-dedup stage, {len(files)} files")
    print(f"  codecorpus Spark local[2]: {len(files) / spark_s:7.0f} docs/s ({spark_s:.1f} s), "
          f"{removed} removed, {n_kept} kept, component rounds {rounds}, {jobs} Spark jobs")
    print(f"  datasketch MinHashLSH 1 process: {len(files) / ds_s:7.0f} docs/s ({ds_s:.1f} s), "
          f"{ds_removed} removed (unverified components)")
    print(f"  speed-up: {ds_s / spark_s:.2f}x")


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

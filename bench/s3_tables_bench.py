"""Tables on S3 without hadoop-aws: seconds to write and to read a table through `Storage` on s3://
(codecorpus.s3.tables: pyarrow + boto3 inside Spark tasks, manifest commit; moto's server on loopback,
in its own process) against `Storage` on a local folder (Spark's own Parquet writer and reader), in the
same run, on the same rows and partitioning. Rows are the real files of the small sample corpus,
repeated --copies times with distinct ids. Each figure is the best of --repeat rounds.

    PYTHONPATH=. .venv/bin/python bench/s3_tables_bench.py --copies 20 --repeat 3
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import boto3
from pyspark.sql import functions as F

sys.path.insert(0, str(Path(__file__).parent))
from s3_fetch_bench import start_moto  # noqa: E402

from codecorpus.s3.config import S3Config  # noqa: E402
from codecorpus.session import get_spark  # noqa: E402
from codecorpus.sources.sample import build_sample  # noqa: E402
from codecorpus.storage import Storage  # noqa: E402

BUCKET = "bench-tables"


def sample_files(spark, copies: int):
    root = build_sample("small", progress=lambda m: None) / "repos"
    rows = [(p.relative_to(root).as_posix(), p.read_bytes().decode("utf-8", "replace"))
            for p in sorted(root.rglob("*")) if p.is_file()]
    files = spark.createDataFrame(rows, "path string, content string")
    copy = spark.range(copies).select(F.col("id").alias("copy"))
    return (files.crossJoin(copy)
            .select(F.sha1(F.concat_ws("\0", "path", F.col("copy").cast("string"))).alias("file_id"), "path", "content")
            .persist())


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=20)
    parser.add_argument("--files", type=int, default=4, help="files per table (write tasks)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull})
    moto, endpoint = start_moto()
    try:
        boto3.client("s3", endpoint_url=f"http://{endpoint}", region_name="us-east-1").create_bucket(Bucket=BUCKET)
        spark = get_spark("local[2]", {"spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false"})
        spark.sparkContext.environment.update({k: os.environ[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                                                            "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")})
        store = Storage(spark, S3Config(endpoint_url=f"http://{endpoint}", region="us-east-1"))
        files = sample_files(spark, args.copies)
        rows = files.count()
        megabytes = files.select(F.sum(F.length("content"))).first()[0] / 1e6
        local = tempfile.mkdtemp(prefix="s3-tables-bench-")
        targets = {"local folder (Spark's Parquet)": f"{local}/files",
                   "s3:// through boto3 (codecorpus_s3)": f"s3://{BUCKET}/run/files"}
        results = {}
        for name, path in targets.items():
            write = min(timed(lambda: store.write_table(files, path, args.files, ["file_id"])) for _ in range(args.repeat))
            read = min(timed(lambda: store.read_table(path).select(F.sum(F.length("content"))).first())
                       for _ in range(args.repeat))
            results[name] = (write, read)
        base_write, base_read = results["local folder (Spark's Parquet)"]
        print(f"{rows:,} rows, {megabytes:.1f} MB of content, {args.files} files per table\n")
        print("| target | write s | write MB/s | read s | read MB/s | write x local | read x local |")
        print("|---|---|---|---|---|---|---|")
        for name, (write, read) in results.items():
            print(f"| {name} | {write:.2f} | {megabytes / write:.1f} | {read:.2f} | {megabytes / read:.1f} | "
                  f"{write / base_write:.2f} | {read / base_read:.2f} |")
    finally:
        moto.terminate()


if __name__ == "__main__":
    main()

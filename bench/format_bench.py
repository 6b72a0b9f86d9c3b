"""Formatting, tokenization and packing throughput as ratios to a passthrough floor, at 1x and 4x.

The input is a sample corpus's ingested files (the runner's ingest stage, run once into --work). In one
process, on local[2], each step reads the files and writes its result to Spark's `noop` sink:

    floor      read files -> identity mapInArrow -> noop        (the cost of moving the data through Python)
    format     repo_documents (repo-context documents with metadata and FIM)
    tokenize   documents -> token counts with the trained tokenizer
    pack       documents -> token ids -> 4K sequences

4x is the same files under four distinct repository names (so every document is distinct). The
realised shares of the format's draws (metadata, FIM candidates, FIM files, SPM) are read from the
documents' metadata at 1x.

    .venv/bin/python bench/format_bench.py --size small --work WORK_DIR
"""
from __future__ import annotations

import argparse
import json
import os
import time

from pyspark.sql import functions as F

from codecorpus.config import FormatConfig, parse_config
from codecorpus.format.pack import pack_sequences, tokenize_documents
from codecorpus.format.repo_context import repo_documents
from codecorpus.format.tokenizer import TokenizerConfig, train_tokenizer, with_token_counts
from codecorpus.pipeline import STAGES
from codecorpus.runner import Runner
from codecorpus.session import get_spark

CORES = 2


def ingested(spark, size: str, work: str):
    config = parse_config({"run_dir": f"{work}/run-{size}", "sources": {"sample": size}, "stages": ["ingest"],
                           "files_per_table": 4})
    runner = Runner(config, spark, STAGES, progress=print)
    runner.run()
    return spark.read.parquet(runner.table_path("ingest", "files"))


def replicate(files, times: int):
    copies = [files.withColumn("repo_name", F.concat("repo_name", F.lit(f"~{i}")))
              .withColumn("file_id", F.sha1(F.concat_ws("\0", "repo_name", "path"))) for i in range(times)]
    out = copies[0]
    for copy in copies[1:]:
        out = out.unionByName(copy)
    return out


def timed(frame) -> float:
    start = time.perf_counter()
    frame.write.format("noop").mode("overwrite").save()
    return time.perf_counter() - start


def identity(batches):
    yield from batches


def measure(files, tokenizer: str, seed: int) -> dict:
    files = files.select("repo_name", "file_id", "path", "content", "language").cache()
    n_files, chars = files.agg(F.count("*"), F.sum(F.length("content"))).first()
    documents = repo_documents(files, FormatConfig(), seed).cache()
    n_docs, doc_tokens = with_token_counts(documents, tokenizer, "text").agg(
        F.count("*"), F.sum("n_tokens")).first()
    result = {"files": n_files, "chars": chars, "documents": n_docs, "tokens": doc_tokens}
    documents.unpersist()
    result["floor_s"] = timed(files.mapInArrow(identity, files.schema))
    result["format_s"] = timed(repo_documents(files, FormatConfig(), seed))
    documents = repo_documents(files, FormatConfig(), seed).cache()
    documents.count()
    result["tokenize_s"] = timed(with_token_counts(documents, tokenizer, "text"))
    result["pack_s"] = timed(pack_sequences(tokenize_documents(documents, tokenizer), 4096, 1.0, seed))
    documents.unpersist()
    files.unpersist()
    return result


def shares(files, seed: int) -> dict:
    meta = repo_documents(files, FormatConfig(), seed).select(
        F.get_json_object("metadata", "$.with_metadata").alias("m"),
        F.get_json_object("metadata", "$.fim_candidate").alias("c"),
        F.get_json_object("metadata", "$.fim_files").cast("int").alias("f"),
        F.size("source_ids").alias("n"),
        (F.size(F.split("text", "<fim_prefix><fim_suffix>")) - 1).alias("spm"))
    row = meta.agg(F.avg((F.col("m") == "true").cast("int")).alias("metadata"),
                   F.avg((F.col("c") == "true").cast("int")).alias("fim_repos"),
                   (F.sum(F.when(F.col("c") == "true", F.col("f"))) /
                    F.sum(F.when(F.col("c") == "true", F.col("n")))).alias("fim_files"),
                   (F.sum("spm") / F.sum("f")).alias("spm"), F.count("*").alias("documents")).first()
    return row.asDict()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="default", choices=["small", "default", "large"])
    parser.add_argument("--work", required=True)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    spark = get_spark(f"local[{CORES}]", {"spark.ui.showConsoleProgress": "false", "spark.sql.shuffle.partitions": "8"})
    files = ingested(spark, args.size, args.work)
    tokenizer = train_tokenizer(files, TokenizerConfig(train_sample_chars=20_000_000), args.seed)
    report = {"size": args.size, "shares": shares(files, args.seed), "runs": {}}
    for times in (1, 4):
        report["runs"][f"{times}x"] = measure(replicate(files, times), tokenizer, args.seed)
        print(json.dumps(report, indent=1))
    print("| corpus | files | documents | tokens | step | s | docs/s/core | tokens/s/core | x floor time |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, r in report["runs"].items():
        for step in ("floor", "format", "tokenize", "pack"):
            s = r[f"{step}_s"]
            print(f"| {args.size} {name} | {r['files']} | {r['documents']} | {r['tokens']} | {step} | {s:.1f} | "
                  f"{r['documents'] / s / CORES:.1f} | {r['tokens'] / s / CORES:,.0f} | {s / r['floor_s']:.2f} |")


if __name__ == "__main__":
    main()

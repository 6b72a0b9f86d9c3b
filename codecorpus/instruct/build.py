"""Replies to the instruction dataset: parse, exact dedup, decontaminate, drop near-benchmark samples,
optionally execute, and write. Every seed with a request ends in the dataset or in ledger/build.

Steps and their ledger rules:
  parse           request_failed, invalid_response, no_choice, finish_reason, missing_problem,
                  missing_solution, sections_out_of_order, empty_problem, empty_solution, no_response,
                  duplicate_response, unknown_custom_id
  dedup           exact_dup_seed, exact_dup_problem, exact_dup_solution (Magicoder: shuffled with seed 666,
                  the first of each whitespace-stripped seed, then problem, then solution is kept)
  decontaminate   decontamination (the filter stage's exact benchmark match on problem + solution)
  similarity      benchmark_similarity (TF-IDF cosine to a HumanEval problem >= threshold)
  execute         no_tests, execution_failed, execution_timeout, execution_memory_limit, execution_killed
"""
from __future__ import annotations

from typing import Iterator

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from codecorpus.filters.decontaminate import decontaminate
from codecorpus.instruct.config import BuildConfig
from codecorpus.instruct.parse import parse_line, program, code_blocks, LANGUAGE_OF_FENCE
from codecorpus.instruct.sandbox import Sandbox
from codecorpus.ledger import rejects

REPLY_DDL = ("line_id string, custom_id string, problem string, solution string, tests string, raw string, "
             "model string, system_fingerprint string, finish_reason string, prompt_tokens int, "
             "completion_tokens int, fence_language string, rule string, value string")
STEPS = ("parse", "dedup", "decontaminate", "similarity", "execute")
EXECUTION_DDL = "sample_id string, execution string, execution_detail string"


def _fence_language(solution: str | None) -> str | None:
    for info, _code in code_blocks(solution or ""):
        if info:
            return LANGUAGE_OF_FENCE.get(info, info.capitalize())
    return None


def parse_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    import hashlib
    rows = []
    for line in batch.column("value").to_pylist():
        r = parse_line(line)
        rows.append((hashlib.sha1(line.encode()).hexdigest()[:16], r.custom_id, r.problem, r.solution, r.tests,
                     r.raw, r.model, r.system_fingerprint, r.finish_reason, r.prompt_tokens, r.completion_tokens,
                     _fence_language(r.solution), r.rule, r.value))
    names = [f.split()[0] for f in REPLY_DDL.split(", ")]
    types = [pa.int32() if f.endswith(" int") else pa.string() for f in REPLY_DDL.split(", ")]
    columns = list(zip(*rows)) if rows else [[]] * len(names)
    return pa.RecordBatch.from_arrays([pa.array(list(c), t) for c, t in zip(columns, types)], names=names)


def parse_replies(spark: SparkSession, paths: list[str], seeds: DataFrame, excluded: DataFrame
                  ) -> tuple[DataFrame, list[DataFrame]]:
    """(parsed samples joined with their seed, ledger frames). ``excluded``: seed ids never requested."""
    lines = spark.read.text(paths).where(F.trim("value") != "")
    replies = lines.mapInArrow(lambda batches: (parse_batch(b) for b in batches), REPLY_DDL)
    ledger = [rejects(replies.where(F.col("custom_id").isNull()), F.col("rule"), F.col("value"),
                      id_col="line_id", id_kind="response")]
    replies = replies.where(F.col("custom_id").isNotNull())
    # One reply per seed: a usable reply before a rejected one, then the smallest line id.
    first = Window.partitionBy("custom_id").orderBy(F.col("rule").isNotNull(), "line_id")
    replies = replies.withColumn("_n", F.row_number().over(first))
    ledger.append(rejects(replies.where(F.col("_n") > 1), "duplicate_response", F.col("custom_id"),
                          id_col="line_id", id_kind="response"))
    replies = replies.where(F.col("_n") == 1).drop("_n").withColumnRenamed("custom_id", "seed_id")
    ledger.append(rejects(replies.join(seeds, "seed_id", "left_anti"), "unknown_custom_id", F.col("seed_id"),
                          id_col="line_id", id_kind="response"))
    requested = seeds.join(excluded, "seed_id", "left_anti")
    ledger.append(rejects(requested.join(replies, "seed_id", "left_anti"), "no_response", id_col="seed_id",
                          id_kind="seed", detail=F.concat_ws("/", "repo_name", "path")))
    joined = requested.withColumnRenamed("language", "seed_language").join(replies, "seed_id")
    ledger.append(rejects(joined.where(F.col("rule").isNotNull()), F.col("rule"), F.col("value"),
                          id_col="seed_id", id_kind="seed"))
    samples = (joined.where(F.col("rule").isNull()).drop("rule", "value", "line_id")
               .withColumn("language", F.coalesce("fence_language", "seed_language")).drop("fence_language"))
    return samples, ledger


def exact_dedup(samples: DataFrame, shuffle_seed: int) -> tuple[DataFrame, list[DataFrame]]:
    ledger = []
    order = F.xxhash64(F.lit(shuffle_seed), "seed_id")
    for column in ("seed", "problem", "solution"):
        window = Window.partitionBy(F.trim(column)).orderBy(order, "seed_id")
        ranked = samples.withColumn("_first", F.first("seed_id").over(window))
        ledger.append(rejects(ranked.where(F.col("_first") != F.col("seed_id")), f"exact_dup_{column}",
                              F.col("_first"), id_col="seed_id", id_kind="seed"))
        samples = ranked.where(F.col("_first") == F.col("seed_id")).drop("_first")
    return samples, ledger


def decontaminate_samples(samples: DataFrame, cfg: BuildConfig) -> tuple[DataFrame, DataFrame, DataFrame]:
    framed = samples.withColumn("file_id", F.col("seed_id")).withColumn(
        "content", F.concat_ws("\n", "problem", "solution"))
    kept, ledger, report = decontaminate(framed, cfg.decontamination)
    ledger = ledger.withColumn("id_kind", F.lit("seed"))
    return kept.drop("file_id", "content"), ledger, report


def execute(samples: DataFrame, cfg: BuildConfig) -> DataFrame:
    """sample_id, execution (passed, failed, timeout, memory_limit, killed, no_tests, not_run), detail."""
    languages = {lang.lower() for lang in cfg.execution.languages}
    sandbox_cfg = cfg.execution.sandbox

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        sandbox = Sandbox(sandbox_cfg)     # once per Python worker task
        for batch in batches:
            ids, status, detail = [], [], []
            for sid, language, solution, tests in zip(*(batch.column(c).to_pylist() for c in
                                                        ("seed_id", "language", "solution", "tests"))):
                ids.append(sid)
                if (language or "").lower() not in languages:
                    status.append("not_run"), detail.append(None)
                    continue
                code = program(solution, tests, language)
                if code is None:
                    status.append("no_tests"), detail.append("no fenced code in [Solution] or [Tests]")
                    continue
                outcome = sandbox.run(code)
                status.append(outcome.status), detail.append(outcome.detail)
            yield pa.RecordBatch.from_arrays([pa.array(ids, pa.string()), pa.array(status, pa.string()),
                                              pa.array(detail, pa.string())], names=["sample_id", "execution",
                                                                                    "execution_detail"])

    return samples.select("seed_id", "language", "solution", "tests").mapInArrow(run, EXECUTION_DDL)


def dataset_columns(samples: DataFrame, cfg: BuildConfig) -> DataFrame:
    return samples.select(
        F.col("seed_id").alias("sample_id"),
        F.concat(F.lit(cfg.instruction_prefix), "problem").alias("instruction"),
        F.col("solution").alias("response"), "problem", "tests", "language", "seed", "seed_language", "mode",
        "repo_name", "path", "license_type", "detected_licenses", "model", "system_fingerprint",
        "execution", "similarity", "nearest_humaneval", "prompt_tokens", "completion_tokens", "raw")

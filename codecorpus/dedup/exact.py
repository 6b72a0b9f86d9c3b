"""Exact dedup by ``blob_id`` (same bytes) across all repositories, keeping the best-ranked copy."""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from codecorpus.dedup.config import DedupConfig
from codecorpus.dedup.ranking import rank_key
from codecorpus.ledger import rejects

RULE = "exact_dup"


def exact_dedup(files: DataFrame, cfg: DedupConfig | None = None) -> tuple[DataFrame, DataFrame]:
    """``(kept_files, rejects)``: one file per blob_id; each other copy is a ledger row with rule
    ``exact_dup`` and value = the survivor's file_id."""
    keys = files.select("file_id", "blob_id", rank_key().alias("rank_key"))
    # min(rank_key) per blob is a partial aggregation: a blob copied a million times costs no memory.
    best = keys.groupBy("blob_id").agg(F.min("rank_key").getField("file_id").alias("kept_id"))
    copies = (keys.join(best, "blob_id")
              .where(F.col("file_id") != F.col("kept_id"))
              .select("file_id", "kept_id"))
    dropped = files.select("file_id", "repo_name", "path").join(copies, "file_id")
    kept = files.join(copies.select("file_id"), "file_id", "left_anti")
    return kept, rejects(dropped, rule=RULE, value=F.col("kept_id"))

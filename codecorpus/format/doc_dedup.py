"""MinHash near-dedup of any (id, text) table, by the dedup stage's own flow (dedup.near.removals):
signatures, LSH band edges, connected components, one survivor per cluster (the smallest id, as these
sources have no stars or licences to rank by), and the same checks of each removal (`dedup.verify`)."""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from codecorpus.dedup.config import DedupConfig
from codecorpus.dedup.lsh import signature_table
from codecorpus.dedup.components import materialize
from codecorpus.dedup.near import removals


def near_duplicates(docs: DataFrame, id_col: str, text_col: str, cfg: DedupConfig, checkpoint_dir: str) -> DataFrame:
    """``(id, kept_id, est_jaccard)`` for every row of ``docs`` that is a near-duplicate of a kept row."""
    files = docs.select(F.col(id_col).alias("file_id"), F.col(text_col).alias("content"))
    sigs = materialize(signature_table(files, cfg), f"{checkpoint_dir}/signatures")
    ranks = files.select("file_id", F.struct("file_id").alias("rank_key"))
    texts = files if cfg.verify == "exact" else None
    return (removals(sigs, ranks, cfg, checkpoint_dir, texts)
            .select(F.col("file_id").alias("id"), "kept_id", "est_jaccard"))

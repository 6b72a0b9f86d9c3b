"""MinHash near-dedup of any (id, text) table, with the dedup stage's parts: signatures, LSH band edges,
connected components and one survivor per cluster (the smallest id, as these sources have no stars or
licences to rank by). Each removal is checked against its survivor as the dedup stage does (`dedup.verify`:
exact Jaccard of the shingle sets by default, or the signatures' estimate): a pair chained through others
but not alike itself is kept, not dropped."""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from codecorpus.dedup.components import connected_components
from codecorpus.dedup.config import DedupConfig
from codecorpus.dedup.lsh import band_edges, checked_pairs, signature_table
from codecorpus.dedup.ranking import survivors


def near_duplicates(docs: DataFrame, id_col: str, text_col: str, cfg: DedupConfig, checkpoint_dir: str) -> DataFrame:
    """``(id, kept_id, est_jaccard)`` for every row of ``docs`` that is a near-duplicate of a kept row."""
    spark = docs.sparkSession
    files = docs.select(F.col(id_col).alias("file_id"), F.col(text_col).alias("content"))
    signature_table(files, cfg).write.mode("overwrite").parquet(f"{checkpoint_dir}/signatures")
    sigs = spark.read.parquet(f"{checkpoint_dir}/signatures")   # read twice: edges and the check
    components, _ = connected_components(band_edges(sigs, cfg), checkpoint_dir, cfg.max_iterations, "near")
    ranks = components.select("file_id", F.struct("file_id").alias("rank_key"))
    kept = survivors(components, ranks, "cluster_id")
    pairs = components.join(kept, "cluster_id").where(F.col("file_id") != F.col("kept_id"))
    texts = files if cfg.verify == "exact" else None
    scored = checked_pairs(pairs, sigs, texts, cfg).where(F.col("est_jaccard") >= cfg.threshold)
    return scored.select(F.col("file_id").alias("id"), "kept_id", "est_jaccard")

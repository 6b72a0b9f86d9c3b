"""Opt-out reuse for dedup: removing opted-out files from dedup's previous output equals a fresh run
only when no cluster loses a member that mattered. A removed survivor (exact or near) would let a fresh
run elect another copy, and a removed near-duplicate may have been the bridge that joined its cluster:
in those cases dedup runs again in full (None); otherwise its tables just lose the opted-out files."""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from codecorpus.dedup import exact, near
from codecorpus.filters.optout import reuse_file_stage


def reuse_dedup(previous: dict[str, DataFrame], previous_ledger: DataFrame, inputs: dict[str, DataFrame],
                added: list[tuple[str, str]]) -> tuple[dict[str, DataFrame], DataFrame] | None:
    dups = previous_ledger.where(F.col("rule").isin(exact.RULE, near.RULE))
    survivors = dups.select(F.col("value").alias("file_id"))
    near_members = dups.where(F.col("rule") == near.RULE).select(F.col("id").alias("file_id"))
    # files that mattered to a cluster and are gone from the input (removed upstream by the new entries)
    gone = survivors.unionByName(near_members).distinct().join(inputs["files"].select("file_id"), "file_id",
                                                                "left_anti")
    if gone.limit(1).count():
        return None
    return reuse_file_stage(previous, previous_ledger, inputs, added)

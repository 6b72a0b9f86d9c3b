"""The Stack v2 survivor ranking as one sortable column: the smallest ``rank_key`` is the file to keep.

Order: license_type (permissive < no_license < non_permissive; null counts as no_license), stars desc,
forks desc, revision_date latest, visit_date latest, missing metadata last, then file_id. Because the
key is a struct with a total order, a survivor is ``min(rank_key)``: a reduction that keeps memory flat
however large the group (the comparator of BigCode's ``reduceByKey``), never a groupBy materialising it.
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

LICENSE_ORDER = {"permissive": 0, "no_license": 1, "non_permissive": 2}
# The columns rank_key reads besides file_id.
RANK_COLUMNS = ("license_type", "star_events_count", "fork_events_count", "revision_date", "visit_date")


def _desc_nulls_last(col: str, numeric: Column) -> Column:
    # (is null, -value): ascending struct order = value descending, missing values after all others.
    return F.struct(F.col(col).isNull().alias("missing"), (-numeric).alias("neg"))


def rank_key(license_col: str = "license_type") -> Column:
    """Struct column ordering files best-first under The Stack v2 policy."""
    license_rank = (F.when(F.col(license_col) == "permissive", 0)
                    .when(F.col(license_col).isNull() | (F.col(license_col) == "no_license"), 1)
                    .otherwise(2))
    return F.struct(
        license_rank.alias("license"),
        _desc_nulls_last("star_events_count", F.col("star_events_count").cast("long")).alias("stars"),
        _desc_nulls_last("fork_events_count", F.col("fork_events_count").cast("long")).alias("forks"),
        _desc_nulls_last("revision_date", F.unix_micros(F.col("revision_date"))).alias("revision"),
        _desc_nulls_last("visit_date", F.unix_micros(F.col("visit_date"))).alias("visit"),
        F.col("file_id").alias("file_id"),
    )


def with_rank(files: DataFrame) -> DataFrame:
    """``file_id`` and its ``rank_key`` only: the small table survivor choice joins on."""
    return files.select("file_id", rank_key().alias("rank_key"))


def survivors(members: DataFrame, ranks: DataFrame, group_col: str) -> DataFrame:
    """One survivor per group: ``(group_col, kept_id)`` by min rank_key over the group's members.

    ``members`` has ``file_id`` and ``group_col``; ``ranks`` comes from :func:`with_rank`."""
    return (members.join(ranks, "file_id")
            .groupBy(group_col)
            .agg(F.min("rank_key").alias("best"))
            .select(group_col, F.col("best.file_id").alias("kept_id")))

"""The rejects ledger: one row per dropped input, with the stage, the rule and the value that decided it."""
from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F



class Rejected(Exception):
    """Raised by per-row Python work (inside mapInPandas) for an input it drops: the ledger ``rule``, the
    ``value`` that decided it, and the message (the ledger's detail) saying why."""

    def __init__(self, rule: str, value: str, message: str):
        super().__init__(message)
        self.rule, self.value = rule, value


def _as_column(value: Column | str | None) -> Column:
    if value is None:
        return F.lit(None).cast("string")
    if isinstance(value, Column):
        return value.cast("string")
    return F.lit(value)


def rejects(dropped: DataFrame, rule: Column | str, value: Column | str | None = None,
            detail: Column | str | None = None, id_col: str = "file_id", id_kind: str = "file") -> DataFrame:
    """Ledger rows for ``dropped``; the runner fills in ``stage``.

    ``value`` is the measurement that tripped the rule (a column, or a literal), ``detail`` says more
    (defaults to ``repo_name/path`` for files).
    """
    if detail is None and id_kind == "file" and {"repo_name", "path"} <= set(dropped.columns):
        detail = F.concat_ws("/", "repo_name", "path")
    return dropped.select(
        F.col(id_col).cast("string").alias("id"),
        F.lit(id_kind).alias("id_kind"),
        F.lit(None).cast("string").alias("stage"),
        _as_column(rule).alias("rule"),
        _as_column(value).alias("value"),
        _as_column(detail).alias("detail"),
    )


def union_all(frames: list[DataFrame]) -> DataFrame | None:
    """Union ledger frames (None when there are none)."""
    frames = [f for f in frames if f is not None]
    if not frames:
        return None
    out = frames[0]
    for frame in frames[1:]:
        out = out.unionByName(frame)
    return out

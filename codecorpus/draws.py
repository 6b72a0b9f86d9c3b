"""Seeded uniform draws in Spark: one number in [0, 1) per row from xxhash64 of (run seed, a salt naming
the choice, the unit's id columns), so a row's draw depends only on the seed and its id, never on how
Spark partitions the data. The mix's keep draws and pack's fractional-epoch draws use it."""
from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F


def uniform(seed: int, salt: str, *ids: str | Column) -> Column:
    """The draw of (seed, salt, ids): xxhash64's signed 64-bit range mapped onto [0, 1)."""
    return (F.xxhash64(F.lit(seed), F.lit(salt), *ids).cast("double") + 2.0 ** 63) / 2.0 ** 64

"""Table names and schemas (from schemas/*.json), checks against them, and a canonical digest."""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

# Each table is sorted by these keys when written, which fixes row order in the files.
SORT_KEYS = {
    "files": ["file_id"],
    "repos": ["repo_name"],
    "ledger": ["id", "stage", "rule"],
    "documents": ["doc_id"],
    "clusters": ["file_id"],
    "events": ["event_id"],
    "pii": ["file_id", "start"],
}


class SchemaError(ValueError):
    """A table that does not match its schema; the message names the table and the column."""


def _schema_dir() -> Path:
    packaged = resources.files("codecorpus") / "data" / "schemas"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "schemas"


@lru_cache(maxsize=None)
def schema_doc(table: str) -> dict:
    path = _schema_dir() / f"{table}.json"
    if not path.is_file():
        raise SchemaError(f"no schema for table {table!r} (expected {path.name} in schemas/)")
    return json.loads(path.read_text())


def table_names() -> list[str]:
    return sorted(p.stem for p in _schema_dir().glob("*.json"))


def spark_schema(table: str) -> T.StructType:
    fields = [T.StructField(f["name"], T._parse_datatype_string(f["type"]), f["nullable"])
              for f in schema_doc(table)["fields"]]
    return T.StructType(fields)


def check(df: DataFrame, table: str, required: list[str] | None = None) -> None:
    """Fail fast when ``df`` is not a valid ``table``: unknown columns, wrong types, or missing
    ``required`` columns (all schema columns when ``required`` is None)."""
    expected = {f.name: f.dataType for f in spark_schema(table).fields}
    actual = {f.name: f.dataType for f in df.schema.fields}
    for name, dtype in actual.items():
        if name not in expected:
            raise SchemaError(f"table {table}: column {name!r} is not in schemas/{table}.json")
        if dtype != expected[name]:
            raise SchemaError(f"table {table}: column {name!r} is {dtype.simpleString()}, "
                              f"schema says {expected[name].simpleString()}")
    for name in (expected if required is None else required):
        if name not in actual:
            raise SchemaError(f"table {table}: required column {name!r} is missing")


def conform(df: DataFrame, table: str) -> DataFrame:
    """Select the schema's columns in schema order, adding absent ones as typed nulls."""
    present = set(df.columns)
    return df.select([F.col(f.name).cast(f.dataType) if f.name in present
                      else F.lit(None).cast(f.dataType).alias(f.name)
                      for f in spark_schema(table).fields])


def digest(df: DataFrame) -> str:
    """Order-independent digest of a table's rows: count and sum of 64-bit row hashes.

    Parquet file names and metadata can differ between writers; this compares contents."""
    row_hash = F.xxhash64(*[F.col(c) for c in sorted(df.columns)]).cast("decimal(38,0)")
    result = df.agg(F.count(F.lit(1)).alias("n"), F.sum(row_hash).alias("h")).first()
    return f"{result['n']}:{result['h'] or 0}"

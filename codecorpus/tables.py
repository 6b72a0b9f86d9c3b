"""Table names and schemas (from schemas/*.json), checks against them, and a canonical digest."""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from itertools import islice
from typing import Iterable, Iterator

import pyarrow as pa

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
    "pull_requests": ["pr_id"],
    "issues": ["issue_id"],
    "pii": ["file_id", "start"],
    "contamination": ["benchmark"],
    "plan": ["kind", "name"],
    "sequences": ["seq_len", "seq_index"],
}
# The document tables of the non-code sources, in the order the mix stage reads them: each is written by
# one stage before mix (a stage that adds a source names its table here). The mix stage measures them,
# applies the plan and writes what it keeps as `source_documents`, which pack reads beside format's
# `documents`. All share the documents schema.
SOURCE_DOCUMENT_TABLES = ("conversation_documents", "notebook_documents", "ir_documents", "docs_documents",
                          "text_documents", "kaggle_documents")
SCHEMA_OF = {table: "documents" for table in (*SOURCE_DOCUMENT_TABLES, "source_documents")}
SORT_KEYS |= {table: ["doc_id"] for table in SCHEMA_OF}


class SchemaError(ValueError):
    """A table that does not match its schema; the message names the table and the column."""


def _schema_dir():
    """schemas/ as shipped in the package (codecorpus/data/schemas links to it; a wheel holds a copy,
    possibly inside a zip on --py-files, hence importlib.resources)."""
    return resources.files("codecorpus") / "data" / "schemas"


@lru_cache(maxsize=None)
def schema_doc(table: str) -> dict:
    path = _schema_dir() / f"{SCHEMA_OF.get(table, table)}.json"
    if not path.is_file():
        raise SchemaError(f"no schema for table {table!r} (expected {table}.json in schemas/)")
    return json.loads(path.read_text())


def table_names() -> list[str]:
    return sorted(p.name[:-5] for p in _schema_dir().iterdir() if p.name.endswith(".json"))


SIMPLE_TYPES = {"string": T.StringType(), "bigint": T.LongType(), "int": T.IntegerType(),
                "float": T.FloatType(), "double": T.DoubleType(), "boolean": T.BooleanType(),
                "timestamp": T.TimestampType(), "date": T.DateType(), "binary": T.BinaryType()}


def parse_type(text: str) -> T.DataType:
    """The schema files' type names (Spark DDL: string, bigint, array<string>...), without a JVM."""
    text = text.strip()
    if text.startswith("array<") and text.endswith(">"):
        return T.ArrayType(parse_type(text[6:-1]))
    if text not in SIMPLE_TYPES:
        raise SchemaError(f"unsupported column type {text!r} in schemas/ (allowed: {sorted(SIMPLE_TYPES)}, array<...>)")
    return SIMPLE_TYPES[text]


def spark_schema(table: str) -> T.StructType:
    fields = [T.StructField(f["name"], parse_type(f["type"]), f["nullable"])
              for f in schema_doc(table)["fields"]]
    return T.StructType(fields)


def batch_schema(table: str, *extra: str) -> T.StructType:
    """``table``'s columns, all nullable, then ``extra`` string columns: the output of a mapInPandas that
    returns the table's rows and ledger rows side by side (nullable, so Spark never assumes a column of
    the other kind of row is set)."""
    return T.StructType([T.StructField(f.name, f.dataType, True) for f in spark_schema(table).fields]
                        + [T.StructField(name, T.StringType(), True) for name in extra])


def check(df: DataFrame, table: str, required: list[str] | None = None) -> None:
    """Fail fast when ``df`` is not a valid ``table``: unknown columns, wrong types, or missing
    ``required`` columns (all schema columns when ``required`` is None)."""
    expected = {f.name: f.dataType for f in spark_schema(table).fields}
    actual = {f.name: f.dataType for f in df.schema.fields}
    for name, dtype in actual.items():
        if name not in expected:
            raise SchemaError(f"table {table}: column {name!r} is not in schemas/{table}.json")
        if dtype.simpleString() != expected[name].simpleString():   # element nullability may differ
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


def arrow_batches(rows: Iterable[dict], schema: pa.Schema, size: int) -> Iterator[pa.RecordBatch]:
    """``rows`` (dicts) as Arrow record batches of at most ``size`` rows: bounded memory however many
    rows one input (an event file, a dataset file) yields."""
    rows = iter(rows)
    while chunk := list(islice(rows, size)):
        yield pa.RecordBatch.from_pylist(chunk, schema=schema)

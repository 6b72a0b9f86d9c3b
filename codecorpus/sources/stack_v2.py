"""Ingest The Stack v2: a file index (Parquet, from the Hugging Face Hub) whose contents are gzip blobs
in Software Heritage's bucket, `s3://softwareheritage/content/{blob_id}`.

Both published layouts are read: the flat one (one row per file: blob_id, path, repo_name, ...) and
the repository-grouped `-ids` one (one row per repository with a `files` list). The index's metadata
(stars, forks, dates, GitHub license and ids) fills the columns that local ingest leaves null or 0;
language and license labels are left to `annotate`, so every later stage runs as for local sources.

Units are repositories, listed on the driver from the index (names and a signature of their paths
and blob ids). Contents are fetched inside Spark tasks: `mapInArrow` over index rows partitioned by
blob_id and sorted, so each distinct blob is fetched once, by a `BlobFetcher` built once per Python
worker. Blobs that earlier runs already fetched (the stage's previous output, finished shards of any
earlier attempt) are reused, not fetched again.
"""
from __future__ import annotations

import hashlib
from typing import Iterator

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from codecorpus import tables
from codecorpus.ledger import rejects
from codecorpus.s3.config import S3Config
from codecorpus.s3.fetch import blob_fetcher
from codecorpus.sources.decode import decode
from codecorpus.stage import Unit
from codecorpus.storage import Storage

UNIT_KIND = "stack_v2"
REQUIRED = ("blob_id", "path", "repo_name")
# Index columns carried into `files` as they are (The Stack v2 schema, see schemas/files.json).
FILE_METADATA = ("directory_id", "snapshot_id", "revision_id", "branch_name", "visit_date", "revision_date",
                 "committer_date", "github_id", "gha_license_id", "gha_event_created_at", "gha_created_at",
                 "gha_language")
# Columns the fetch adds to each index row (the `_known_*` ones hold blobs earlier runs fetched).
FETCHED = pa.schema([("_content", pa.string()), ("_encoding", pa.string()), ("_content_id", pa.string()),
                     ("_length", pa.int64()), ("_rule", pa.string()), ("_value", pa.string())])
FETCHED_DDL = "_content string, _encoding string, _content_id string, _length bigint, _rule string, _value string"
SLICE_ROWS = 1024
KNOWN = {"content": "_known_content", "src_encoding": "_known_encoding", "content_id": "_known_content_id",
         "length_bytes": "_known_length"}

class StackV2Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: str = Field(..., description=(
        "The index: a Parquet file or folder, flat or `-ids` layout. A local path, hdfs://, or s3:// "
        "(through s3a:// where Spark has hadoop-aws, else read by the executors through boto3 with "
        "the `s3` settings)."))
    bucket: str = Field("softwareheritage", description="Bucket holding the content blobs.")
    key_template: str = Field("content/{blob_id}", description="Object key of a blob.")


# ---------------------------------------------------------------------------------------------
# The index (driver plans, Spark reads)

def load_index(spark: SparkSession, cfg: StackV2Config, s3: S3Config) -> DataFrame:
    """One row per file whatever the layout, with `file_id` added; fails naming missing columns."""
    index = Storage(spark, s3).read_table(cfg.index, manifest_required=False)
    return flatten_index(index, cfg.index)


def flatten_index(index: DataFrame, origin: str = "index") -> DataFrame:
    if "files" in index.columns:      # -ids layout: repository columns plus a list of files
        file_fields = index.schema["files"].dataType.elementType.fieldNames()
        repo_cols = [c for c in index.columns if c not in ("files", "num_files") and c not in file_fields]
        index = index.select(*repo_cols, F.explode("files").alias("_file")).select(*repo_cols, "_file.*")
    missing = [c for c in REQUIRED if c not in index.columns]
    if missing:
        raise ValueError(f"Stack v2 index {origin} lacks the columns {missing} (has {sorted(index.columns)}); "
                         "expected The Stack v2 file index, flat or -ids layout")
    return index.withColumn("file_id", F.sha1(F.concat_ws("\0", "repo_name", "path")))


def list_units(spark: SparkSession, cfg: StackV2Config, s3: S3Config) -> list[Unit]:
    """One unit per repository of the index; the signature changes when its paths or blobs do."""
    entries = F.array_sort(F.collect_list(F.concat_ws("\t", "path", "blob_id")))
    per_repo = (load_index(spark, cfg, s3).where(F.col("repo_name").isNotNull())
                .groupBy("repo_name").agg(F.sha1(F.concat_ws("\n", entries)).alias("signature"))
                .orderBy("repo_name"))
    # Unit metadata (a name and a hash per repository), like the local source's listing.
    return [Unit(row["repo_name"], cfg.index, UNIT_KIND, row["signature"]) for row in per_repo.collect()]


# ---------------------------------------------------------------------------------------------
# Fetching (executors)

def fetch_batches(batches: Iterator[pa.RecordBatch], s3_json: str, bucket: str, key_template: str,
                  max_bytes: int) -> Iterator[pa.RecordBatch]:
    """mapInArrow body: index rows in, the same rows out with the FETCHED columns added. Each distinct
    blob of a slice that is neither skipped nor known from an earlier run is fetched once; slices
    bound the memory held by fetched contents."""
    fetcher = blob_fetcher(S3Config.model_validate_json(s3_json), bucket, key_template, max_bytes)
    for batch in batches:
        for start in range(0, batch.num_rows, SLICE_ROWS):
            yield _fetch_slice(batch.slice(start, SLICE_ROWS), fetcher)


def _fetch_slice(batch: pa.RecordBatch, fetcher) -> pa.RecordBatch:
    rows = batch.select(["blob_id", "_skip", "_declared", *KNOWN.values()]).to_pylist()
    wanted = {r["blob_id"]: r["_declared"] for r in rows if r["_skip"] is None and r["_known_content"] is None}
    blobs = {blob.blob_id: _blob_columns(blob, wanted[blob.blob_id]) for blob in fetcher.stream(wanted)}
    out = [_known_columns(r) if r["_known_content"] is not None else blobs.get(r["blob_id"], {}) for r in rows]
    columns = [pa.array([o.get(f.name) for o in out], f.type) for f in FETCHED]
    return pa.RecordBatch.from_arrays(batch.columns + columns, schema=pa.schema(list(batch.schema) + list(FETCHED)))


def _known_columns(row: dict) -> dict:
    return {"_content": row["_known_content"], "_encoding": row["_known_encoding"],
            "_content_id": row["_known_content_id"], "_length": row["_known_length"]}


def _blob_columns(blob, declared: str | None) -> dict:
    if blob.data is None:
        return {"_rule": blob.rule, "_value": blob.value}
    decoded = decode(blob.data, declared)
    if decoded.rule:
        return {"_rule": decoded.rule, "_value": decoded.value}
    return {"_content": decoded.text, "_encoding": decoded.encoding, "_length": len(blob.data),
            "_content_id": hashlib.sha1(b"blob %d\0" % len(blob.data) + blob.data).hexdigest()}


def fetch_contents(rows: DataFrame, s3: S3Config, cfg: StackV2Config, max_bytes: int) -> DataFrame:
    """``rows`` with FETCHED_DDL columns. Rows of one blob land in one task, next to each other (sorted),
    so it is fetched once (twice at most, when its rows straddle two slices)."""
    spark = rows.sparkSession
    parallelism = spark.sparkContext.defaultParallelism * 2
    s3_json, bucket, template = s3.model_dump_json(), cfg.bucket, cfg.key_template
    schema = StructType(rows.schema.fields + StructType.fromDDL(FETCHED_DDL).fields)
    return (rows.repartition(parallelism, "blob_id").sortWithinPartitions("blob_id")
            .mapInArrow(lambda batches: fetch_batches(batches, s3_json, bucket, template, max_bytes), schema))


# ---------------------------------------------------------------------------------------------
# The stage's work for one shard of repositories

def _extension(path: F.Column) -> F.Column:
    base = F.element_at(F.split(path, "/"), -1)
    return F.when(F.regexp_replace(base, r"^\.+", "").contains("."),
                  F.substring_index(base, ".", -1)).otherwise(F.lit(""))


def _with_known(rows: DataFrame, previous: DataFrame | None) -> DataFrame:
    """Adds the `_known_*` columns: a blob's content as an earlier run fetched and decoded it, if any."""
    if previous is None:
        return rows.select("*", *[F.lit(None).cast(t).alias(KNOWN[c]) for c, t in
                                  (("content", "string"), ("src_encoding", "string"), ("content_id", "string"),
                                   ("length_bytes", "bigint"))])
    known = previous.select("blob_id", *[F.col(c).alias(k) for c, k in KNOWN.items()]).dropDuplicates(["blob_id"])
    return rows.join(known, "blob_id", "left")


def ingest_stack_v2(spark: SparkSession, units: list[Unit], cfg: StackV2Config, s3: S3Config,
                    max_bytes: int, previous: DataFrame | None = None) -> tuple[DataFrame, DataFrame, DataFrame]:
    """(files, repos, ledger rows) for the repositories ``units``."""
    names = spark.createDataFrame([(u.unit_id,) for u in units], "repo_name string")
    index = load_index(spark, cfg, s3).join(F.broadcast(names), "repo_name")
    cols = set(index.columns)

    def column(name: str, dtype: str) -> F.Column:
        return F.col(name) if name in cols else F.lit(None).cast(dtype)

    size = column("length_bytes", "bigint")
    bad_id = F.col("blob_id").isNull() | ~F.col("blob_id").rlike("^[0-9a-f]{40}$")
    rows = index.select("*", size.alias("_size"), column("src_encoding", "string").alias("_declared"),
                        F.when(bad_id, F.lit("bad_blob_id")).when(size >= max_bytes, F.lit("too_large")).alias("_skip"))
    fetched = fetch_contents(_with_known(rows, previous), s3, cfg, max_bytes).persist(StorageLevel.DISK_ONLY)

    files = fetched.where(F.col("_skip").isNull() & F.col("_rule").isNull()).select(
        "file_id", "blob_id", "path", "repo_name", *[F.col(c) for c in FILE_METADATA if c in cols],
        F.coalesce(column("content_id", "string"), "_content_id").alias("content_id"),
        F.coalesce("_size", "_length").alias("length_bytes"),
        F.coalesce(column("extension", "string"), _extension(F.col("path"))).alias("extension"),
        F.col("_encoding").alias("src_encoding"), F.col("_content").alias("content"),
        *[F.coalesce(column(c, "bigint"), F.lit(0)).cast("bigint").alias(c)
          for c in ("star_events_count", "fork_events_count")])
    dropped = fetched.where(F.col("_skip").isNotNull() | F.col("_rule").isNotNull())
    ledger = rejects(dropped, rule=F.coalesce("_skip", "_rule"),
                     value=F.when(F.col("_skip") == "too_large", F.col("_size").cast("string"))
                     .when(F.col("_skip") == "bad_blob_id", F.col("blob_id")).otherwise(F.col("_value")),
                     detail=F.concat(F.col("repo_name"), F.lit("/"), F.col("path"),
                                     F.lit(" (blob "), F.coalesce("blob_id", F.lit("null")), F.lit(")")))
    return tables.conform(files, "files"), _repos(index), ledger


def _repos(index: DataFrame) -> DataFrame:
    cols = set(index.columns)

    def biggest(name: str, cast: str | None = None):
        col = F.max(name) if name in cols else F.lit(None)
        return (col.cast(cast) if cast else col).alias(name)

    url = F.max("repo_url") if "repo_url" in cols else F.lit(None)
    return tables.conform(index.groupBy("repo_name").agg(
        F.coalesce(url, F.concat(F.lit("https://github.com/"), F.col("repo_name"))).alias("repo_url"),
        F.lit(UNIT_KIND).alias("source_kind"), biggest("revision_id"), biggest("revision_date"),
        F.coalesce(biggest("star_events_count", "bigint"), F.lit(0)).alias("star_events_count"),
        F.coalesce(biggest("fork_events_count", "bigint"), F.lit(0)).alias("fork_events_count"),
        biggest("gha_license_id"), F.count("*").alias("num_files")), "repos")


def index_totals(spark: SparkSession, cfg: StackV2Config, s3: S3Config, max_bytes: int) -> dict:
    """Files, distinct blobs under the size limit, and their decoded bytes: the inputs of an estimate."""
    index = load_index(spark, cfg, s3)
    size = F.col("length_bytes") if "length_bytes" in index.columns else F.lit(0)
    blobs = index.where((size < max_bytes) | size.isNull()).groupBy("blob_id").agg(F.max(size).alias("size"))
    row = blobs.agg(F.count("*").alias("blobs"), F.sum("size").alias("bytes")).first()
    return {"files": index.count(), "blobs": row["blobs"], "bytes": row["bytes"] or 0}

"""Tables on S3 through boto3, for Spark without hadoop-aws (local mode has no s3a jar).

A Spark data source (Spark's Python data source API, format `codecorpus_s3`) moves the bytes inside
tasks, so no table goes through the driver:

- writing, each task turns its partition into one Parquet object with pyarrow and uploads it under a
  fresh version prefix; when every task has succeeded, the driver commits by replacing
  `_manifest.json` with one naming the new objects (and the table's Spark schema). S3 has no rename,
  but a PUT replaces an object atomically, so readers see the old manifest or the new one: a write
  killed at any point leaves them on the previous version. Older versions, and the objects of
  writes that died before their manifest, are deleted after the commit;
- reading, the driver reads the manifest (or, for a prefix without one such as a published Stack v2
  index, lists its `*.parquet` objects and reads the first one's footer for the schema), and each
  task downloads one object to local disk and streams its record batches.

    s3://bucket/run/stages/filter/files/_manifest.json   {"format", "version", "schema", "rows", "objects"}
    s3://bucket/run/stages/filter/files/v-<id>/part-00000.parquet

Manifests hold keys relative to the table, never the bucket's endpoint; credentials are never
options (boto3's chain finds them on every worker).

`write_parts` uses the same writer without versions or manifest, for files whose names a caller then
fixes (release shards, JSONL files): one object per task, as Spark's own file writers lay out a folder.
"""
from __future__ import annotations

import io
import json
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.datasource import (DataSource, DataSourceArrowWriter, DataSourceReader, InputPartition,
                                    WriterCommitMessage)
from pyspark.sql.types import StructType

from codecorpus.s3 import objects
from codecorpus.s3.client import s3_client, split_uri
from codecorpus.s3.config import S3Config

SOURCE = "codecorpus_s3"
MANIFEST = "_manifest.json"
FORMAT = "codecorpus-s3-table/1"
SPARK_SCHEMA_KEY = b"org.apache.spark.sql.parquet.row.metadata"    # where Spark keeps its schema in Parquet
BATCH_ROWS = 2048       # rows per record batch read: bounds a task's memory for tables of file contents


def _join(prefix: str, name: str) -> str:
    return f"{prefix.rstrip('/')}/{name}" if prefix.strip("/") else name


# ---------------------------------------------------------------------------------------------
# The data source (its reader and writer run in Spark's Python workers)

@dataclass
class Part(WriterCommitMessage):
    objects: list[dict]   # {"key", "size", "rows"} of each object a task wrote, keys relative to the table


EXTENSIONS = {"parquet": ".parquet", "text": ".txt"}
# Characters Spark escapes (as %XX) in a partition folder's value, and its name for a null value.
_ESCAPED = set('"#%\'*/:=?\\\x7f{[]^') | {chr(c) for c in range(1, 32)}
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"


def partition_folder(column: str, value) -> str:
    """`column=value` as Spark's partitioned writers name the folder."""
    if value is None:
        return f"{column}={NULL_PARTITION}"
    return f"{column}=" + "".join(f"%{ord(c):02X}" if c in _ESCAPED else c for c in str(value))


class S3Tables(DataSource):
    """Options: `s3` (S3Config as JSON); reading: `objects` (JSON [[bucket, key], ...]) with a given
    schema; writing: `table` (s3://...) and either `version` (a table) or `layout=parts` (plain part
    objects), with `format` (parquet, or text: one string column as lines) and `partition_by`."""

    @classmethod
    def name(cls) -> str:
        return SOURCE

    def reader(self, schema: StructType) -> DataSourceReader:
        return _Reader(schema, json.loads(self.options["objects"]), self.options["s3"])

    def writer(self, schema: StructType, overwrite: bool) -> "_Writer":
        if not overwrite:
            raise ValueError(f"{SOURCE} only replaces whole tables: write with mode('overwrite')")
        o = self.options
        return _Writer(schema, o["table"], o.get("version", ""), o["s3"], o.get("layout", "table"),
                       o.get("format", "parquet"), o.get("partition_by") or None)


class _Reader(DataSourceReader):
    def __init__(self, schema: StructType, parts: list[list[str]], s3_json: str):
        self.schema, self.parts, self.s3_json = schema, parts, s3_json

    def partitions(self) -> list[InputPartition]:
        return [InputPartition(tuple(p)) for p in self.parts]     # one object per task

    def read(self, partition: InputPartition) -> Iterator[pa.RecordBatch]:
        from pyspark.sql.pandas.types import to_arrow_schema
        if partition.value is None:     # Spark asks for one partition of a table with no objects
            return
        target = to_arrow_schema(self.schema, timezone="UTC")
        bucket, key = partition.value
        client = s3_client(S3Config.model_validate_json(self.s3_json), botocore_retries=True)
        with tempfile.TemporaryDirectory(prefix="codecorpus-s3-") as tmp:
            local = f"{tmp}/part.parquet"
            client.download_file(bucket, key, local)
            # Spark writes timestamps as INT96 by default; read them as microseconds, Spark's unit.
            for batch in pq.ParquetFile(local, coerce_int96_timestamp_unit="us").iter_batches(BATCH_ROWS):
                yield conform(batch, target)


def conform(batch: pa.RecordBatch, target: pa.Schema) -> pa.RecordBatch:
    """``batch`` with exactly ``target``'s columns and types (Spark checks both): columns a file lacks
    are null, as Spark's own Parquet reader makes them."""
    arrays = []
    for field in target:
        index = batch.schema.get_field_index(field.name)
        column = batch.column(index) if index >= 0 else pa.nulls(batch.num_rows, field.type)
        arrays.append(column if column.type == field.type else column.cast(field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=target)


class _Output:
    """One object a task builds on local disk before uploading it: Parquet (zstd, Spark's schema in the
    footer so Spark's own reader restores it exactly) or text (the one column's values as lines)."""

    def __init__(self, path: Path, fmt: str, schema_json: str):
        self.path, self.fmt, self.schema_json = path, fmt, schema_json
        self.rows, self._writer = 0, None

    def write(self, batch: pa.RecordBatch) -> None:
        if self.fmt == "text":      # as Spark's text writer: a null value is an empty line
            self._writer = self._writer or open(self.path, "wb")
            self._writer.write("".join(f"{v}\n" for v in batch.column(0).fill_null("").to_pylist()).encode("utf-8"))
        else:
            if self._writer is None:
                schema = batch.schema.with_metadata({SPARK_SCHEMA_KEY: self.schema_json.encode()})
                self._writer = pq.ParquetWriter(self.path, schema, compression="zstd")
            self._writer.write_batch(batch)
        self.rows += batch.num_rows

    def close(self) -> int:
        self._writer.close()
        return self.path.stat().st_size


class _Writer(DataSourceArrowWriter):
    def __init__(self, schema: StructType, table: str, version: str, s3_json: str, layout: str = "table",
                 fmt: str = "parquet", partition_by: str | None = None):
        if fmt not in EXTENSIONS or (fmt == "text" and len(schema.fields) - bool(partition_by) != 1):
            raise ValueError(f"{SOURCE} writes parquet, or text from one string column; got {fmt} of {schema.simpleString()}")
        self.table, self.s3_json, self.fmt, self.partition_by = table, s3_json, fmt, partition_by
        # a table's objects go under its new version; plain parts straight under the folder
        self.version, self.base = version, (version if layout == "table" else "")
        # as Spark's partitioned writers do, the partition column is the folder's name, not in the files
        self.schema_json = StructType([f for f in schema.fields if f.name != partition_by]).json()

    def _client(self):
        return s3_client(S3Config.model_validate_json(self.s3_json), botocore_retries=True)

    def _split(self, batch: pa.RecordBatch) -> Iterator[tuple[str, pa.RecordBatch]]:
        """(folder, rows) of the batch: one piece, or one per value of the partition column."""
        if not self.partition_by:
            yield self.base, batch
            return
        import pyarrow.compute as pc
        column = batch.column(self.partition_by)
        rest = batch.drop_columns([self.partition_by])
        for value in pc.unique(column).to_pylist():
            mask = pc.is_null(column) if value is None else pc.fill_null(pc.equal(column, value), False)
            yield _join(self.base, partition_folder(self.partition_by, value)), rest.filter(mask)

    def write(self, batches: Iterator[pa.RecordBatch]) -> Part:
        from pyspark import TaskContext
        bucket, prefix = split_uri(self.table)
        name = f"part-{TaskContext.get().partitionId():05d}{EXTENSIONS[self.fmt]}"
        outputs: dict[str, _Output] = {}
        with tempfile.TemporaryDirectory(prefix="codecorpus-s3-") as tmp:
            for batch in batches:
                for folder, rows in self._split(batch):
                    if rows.num_rows:
                        out = outputs.get(folder) or outputs.setdefault(
                            folder, _Output(Path(tmp) / str(len(outputs)), self.fmt, self.schema_json))
                        out.write(rows)
            client, written = self._client(), []
            for folder, out in sorted(outputs.items()):
                size, key = out.close(), _join(folder, name)
                # A retried task uploads the same key again: the last complete upload wins.
                client.upload_file(str(out.path), bucket, _join(prefix, key))
                written.append({"key": key, "size": size, "rows": out.rows})
        return Part(written)

    def commit(self, messages: list[Part]) -> None:
        if not self.version:    # plain parts: each object is in place once its task succeeded
            return
        bucket, prefix = split_uri(self.table)
        parts = sorted((o for m in messages for o in m.objects), key=lambda o: o["key"])
        manifest = {"format": FORMAT, "version": self.version, "schema": json.loads(self.schema_json),
                    "rows": sum(o["rows"] for o in parts), "objects": parts}
        self._client().put_object(Bucket=bucket, Key=_join(prefix, MANIFEST),
                                  Body=json.dumps(manifest, indent=1).encode(), ContentType="application/json")
        # The previous version, and objects of writes that died before their manifest, are unreferenced now.
        cfg = S3Config.model_validate_json(self.s3_json)
        keep = {_join(prefix, o["key"]) for o in parts}
        stale = [o["Key"] for o in objects.list_keys(bucket, _join(prefix, objects.VERSION_PREFIX), cfg)
                 if o["Key"] not in keep]
        objects.delete_keys(bucket, stale, cfg)

    def abort(self, messages: list[Part | None]) -> None:
        bucket, prefix = split_uri(self.table)
        objects.delete(f"s3://{bucket}/{_join(prefix, self.base)}", S3Config.model_validate_json(self.s3_json))


# ---------------------------------------------------------------------------------------------
# The driver's side: plans (manifests, listings, footers) and the calls

def read_manifest(uri: str, cfg: S3Config) -> dict | None:
    text = objects.read_bytes(_join(uri, MANIFEST), cfg)
    return json.loads(text) if text is not None else None


def table_objects(uri: str, cfg: S3Config, manifest_required: bool = True) -> tuple[StructType | None, list[list[str]]]:
    """(schema if the manifest has it, [[bucket, key], ...]) of the committed table at ``uri``. With
    ``manifest_required=False`` a prefix without a manifest (a published dataset) gives its `*.parquet`
    objects, and a key ending in .parquet is one object."""
    bucket, prefix = split_uri(uri)
    manifest = read_manifest(uri, cfg)
    if manifest is not None:
        schema = StructType.fromJson(manifest["schema"]) if "schema" in manifest else None
        return schema, [[bucket, _join(prefix, o["key"])] for o in manifest["objects"]]
    if manifest_required:
        raise FileNotFoundError(f"{uri} is not a committed table: it has no {MANIFEST} "
                                "(never written, or its first write did not finish)")
    if prefix.endswith(".parquet"):
        return None, [[bucket, prefix]]
    keys = [[bucket, o["Key"]] for o in objects.list_keys(bucket, prefix.rstrip("/") + "/" if prefix else "", cfg)
            if o["Key"].endswith(".parquet")]
    if not keys:
        raise FileNotFoundError(f"{uri} holds no Parquet objects and no {MANIFEST}")
    return None, keys


class _Ranged(io.RawIOBase):
    """A seekable read-only view of one object through ranged GETs, for reading Parquet footers."""

    def __init__(self, client, bucket: str, key: str):
        self.client, self.bucket, self.key, self.pos = client, bucket, key, 0
        self.size = client.head_object(Bucket=bucket, Key=key)["ContentLength"]

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = {0: 0, 1: self.pos, 2: self.size}[whence] + offset
        return self.pos

    def readinto(self, buffer) -> int:
        end = min(self.size, self.pos + len(buffer))
        if end <= self.pos:
            return 0
        data = self.client.get_object(Bucket=self.bucket, Key=self.key, Range=f"bytes={self.pos}-{end - 1}")["Body"].read()
        buffer[:len(data)] = data
        self.pos += len(data)
        return len(data)


def open_object(bucket: str, key: str, cfg: S3Config) -> io.BufferedReader:
    """A seekable file of one object, read on demand by ranged GETs of at least 64 KiB."""
    return io.BufferedReader(_Ranged(s3_client(cfg, botocore_retries=True), bucket, key), 1 << 16)


def footer_schema(bucket: str, key: str, cfg: S3Config) -> StructType:
    """The Spark schema of one Parquet object, from its footer alone (a few KB of ranged reads)."""
    from pyspark.sql.pandas.types import from_arrow_schema
    schema = pq.read_schema(open_object(bucket, key, cfg))
    spark_json = (schema.metadata or {}).get(SPARK_SCHEMA_KEY)
    if spark_json:
        return StructType.fromJson(json.loads(spark_json))
    return from_arrow_schema(schema, prefer_timestamp_ntz=False)


def _register(spark: SparkSession) -> None:
    """Register the data source with the session, again whenever the environment given to Python
    workers changed: registration captures it (credentials may come from there)."""
    environment = sorted(spark.sparkContext.environment.items())
    if getattr(spark, "_codecorpus_s3_environment", None) != environment:
        spark.dataSource.register(S3Tables)
        spark._codecorpus_s3_environment = environment


def read_table(spark: SparkSession, uris: list[str], cfg: S3Config, manifest_required: bool = True) -> DataFrame:
    """The tables at ``uris`` as one DataFrame (the first one's schema; columns others lack are null)."""
    planned = [table_objects(uri, cfg, manifest_required) for uri in uris]
    parts = [p for _, found in planned for p in found]
    schema = planned[0][0] or footer_schema(*parts[0], cfg)
    _register(spark)
    return (spark.read.format(SOURCE).schema(schema).option("objects", json.dumps(parts))
            .option("s3", cfg.model_dump_json()).load())


def write_table(df: DataFrame, uri: str, cfg: S3Config, num_files: int | None = None,
                sort_by: list[str] | None = None) -> dict:
    """Write ``df`` as the table at ``uri`` and return its new manifest. With ``num_files`` and
    ``sort_by`` rows are hash-partitioned by the first sort key and sorted within each file, as
    `Storage.write_table` does, so a table does not depend on upstream partitioning."""
    if num_files:
        df = df.repartition(num_files, sort_by[0]).sortWithinPartitions(*sort_by)
    _register(df.sparkSession)
    version = f"{objects.VERSION_PREFIX}{uuid.uuid4().hex[:16]}"
    (df.write.format(SOURCE).mode("overwrite").option("table", uri).option("version", version)
       .option("s3", cfg.model_dump_json()).save())
    return read_manifest(uri, cfg)


def write_parts(df: DataFrame, folder: str, cfg: S3Config, fmt: str = "parquet", partition_by: str | None = None) -> None:
    """Write ``df`` as it is partitioned into the new folder ``folder`` as Spark's own writers lay one
    out: an object per task (and per value of ``partition_by``, under `<column>=<value>/`), named
    part-<task>.parquet (or .txt: text writes the one string column as lines). No manifest: the
    caller moves the parts to their final names."""
    _register(df.sparkSession)
    (df.write.format(SOURCE).mode("overwrite").option("table", folder).option("layout", "parts")
       .option("format", fmt).option("partition_by", partition_by or "").option("s3", cfg.model_dump_json()).save())


def publish_run(runner, uri: str, cfg: S3Config) -> dict[str, dict]:
    """Write the latest version of every table of a finished run, and its ledger, under ``uri``
    (``uri/<table>/``), each committed by its own manifest. Returns the manifests by table."""
    from codecorpus import tables
    from codecorpus.inspect import _latest_outputs, _manifests
    store, root = runner.store, uri.rstrip("/")
    published = {}
    for table, path in sorted(_latest_outputs(runner, _manifests(runner)).items()):
        published[table] = write_table(store.read_table(path), f"{root}/{table}", cfg,
                                       runner.config.files_per_table, tables.SORT_KEYS[table])
    ledgers = [runner.ledger_path(m["stage"]) for m in _manifests(runner)]
    published["ledger"] = write_table(store.read_table(*ledgers), f"{root}/ledger", cfg,
                                      runner.config.files_per_table, tables.SORT_KEYS["ledger"])
    return published

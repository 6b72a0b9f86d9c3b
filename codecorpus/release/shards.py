"""Data shards of a release, written through Spark with deterministic names:

    data/files/<config>/part-00000.parquet ...   the final files table, one folder per language
    data/documents/part-00000.parquet ...        the training documents, when the format stage ran

A language gets ceil(its bytes / shard_bytes) shards; a file's shard is a hash of its file_id, and rows
are sorted by file_id (doc_id) inside a shard, so the same run gives the same shards whatever the
partitioning. Timestamps are written as Parquet TIMESTAMP_MICROS (not Spark's legacy INT96), which
pandas, DuckDB and `datasets` all read."""
from __future__ import annotations

import math
import re
import uuid
from contextlib import contextmanager

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from codecorpus.release.stats import UNKNOWN
from codecorpus.storage import Storage


def config_name(language: str) -> str:
    """Hub config name of a language: 'C++' -> 'cpp', 'C#' -> 'c-sharp', 'Jupyter Notebook' -> 'jupyter-notebook'."""
    if language == UNKNOWN:
        return "unknown"
    name = language.lower().replace("+", "p").replace("#", "-sharp")
    return re.sub(r"[^a-z0-9]+", "-", name).strip("-") or "unknown"


def language_configs(by_language: list[dict], shard_bytes: int) -> list[dict]:
    """One config per language: its name (unique) and number of shards, from the file stats."""
    out, taken = [], set()
    for row in sorted(by_language, key=lambda r: r["language"]):
        name = config_name(row["language"])
        base, k = name, 2
        while name in taken or name in ("all", "documents"):
            name, k = f"{base}-{k}", k + 1
        taken.add(name)
        out.append({"language": row["language"], "config": name, "files": row["files"],
                    "shards": max(1, math.ceil((row["bytes"] or 0) / shard_bytes))})
    return out


@contextmanager
def _micros_timestamps(spark: SparkSession):
    key = "spark.sql.parquet.outputTimestampType"
    before = spark.conf.get(key)
    spark.conf.set(key, "TIMESTAMP_MICROS")
    try:
        yield
    finally:
        spark.conf.set(key, before)


def write_file_shards(files: DataFrame, configs: list[dict], out_dir: str) -> list[dict]:
    """Write ``files`` as per-language folders under out_dir/data/files; returns the configs with
    their shard counts as written and the relative glob of each."""
    spark, store = files.sparkSession, Storage(files.sparkSession)
    lang = F.coalesce("language", F.lit(UNKNOWN))
    names = F.create_map(*[x for c in configs for x in (F.lit(c["language"]), F.lit(c["config"]))])
    counts = F.create_map(*[x for c in configs for x in (F.lit(c["language"]), F.lit(c["shards"]))])
    tmp = f"{out_dir}/data/.files-{uuid.uuid4().hex}"
    total = sum(c["shards"] for c in configs)
    shaped = (files.withColumn("config", names[lang])
              .withColumn("_shard", F.pmod(F.xxhash64("file_id"), counts[lang]))
              .repartition(total, "config", "_shard").drop("_shard")
              .sortWithinPartitions("config", "file_id"))
    with _micros_timestamps(spark):
        store.write_parts(shaped, tmp, partition_by="config")
    out = []
    for c in configs:
        dest = f"{out_dir}/data/files/{c['config']}"
        written = store.publish_parts(f"{tmp}/config={c['config']}", dest)
        out.append({**c, "shards": written, "path": f"data/files/{c['config']}/*.parquet"})
    store.delete(tmp)
    return out


def write_document_shards(documents: DataFrame, chars: int, shard_bytes: int, out_dir: str) -> dict:
    spark, store = documents.sparkSession, Storage(documents.sparkSession)
    count = max(1, math.ceil(chars / shard_bytes))
    tmp = f"{out_dir}/data/.documents-{uuid.uuid4().hex}"
    with _micros_timestamps(spark):
        store.write_parts(documents.repartition(count, "doc_id").sortWithinPartitions("doc_id"), tmp)
    written = store.publish_parts(tmp, f"{out_dir}/data/documents")
    store.delete(tmp)
    return {"shards": written, "path": "data/documents/*.parquet"}


def write_single_file(df: DataFrame, sort_by: list[str], dest: str, fmt: str = "parquet") -> None:
    """Write a table as one file at ``dest`` (Parquet, or text from a single string column), sorted."""
    store = Storage(df.sparkSession)
    tmp = f"{dest}.tmp-{uuid.uuid4().hex}"
    # one partition, sorted inside it: the order holds without a global sort's range partitioning
    frame = df.coalesce(1).sortWithinPartitions(*sort_by)
    with _micros_timestamps(df.sparkSession):
        store.write_parts(frame.select(df.columns[-1]) if fmt == "text" else frame, tmp, fmt)
    parts = store.part_files(tmp)
    store.delete(dest)
    if parts:
        store.rename(f"{tmp}/{parts[0]}", dest)
    else:   # an empty text table leaves no part file
        store.write_text(dest, "")
    store.delete(tmp)


def remove_checksums(spark: SparkSession, root: str) -> None:
    """Delete the .crc side files Hadoop's local file system writes: a release folder holds data only."""
    root = Storage(spark).native(root)
    if root is None:
        return   # S3 through boto3: no side files
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(root)
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.getClass().getName().endswith("LocalFileSystem"):
        return   # only the local file system writes them
    fs = fs.getRawFileSystem()   # the checksummed view hides the .crc files from listings
    found, listing = [], fs.listFiles(path, True)
    while listing.hasNext():
        status = listing.next()
        if status.getPath().getName().endswith(".crc"):
            found.append(status.getPath())
    for crc in found:
        fs.delete(crc, False)

"""Tables on S3 through boto3, for Spark without hadoop-aws (local mode has no s3a jar).

S3 has no rename, so a write is made atomic by a manifest: the table's Parquet files are uploaded
under a fresh version prefix, and only then is `<table>/_manifest.json` replaced by one naming them.
Readers follow the manifest, so a write killed halfway leaves them on the previous version; the
previous version's objects (and those of killed writes) are deleted after the new manifest is in place.

    s3://bucket/tables/files/_manifest.json       {"format": ..., "version": "v-...", "objects": [...]}
    s3://bucket/tables/files/v-<id>/part-00000.parquet

Reading a prefix without a manifest (a published dataset such as a Stack v2 index) takes every
`*.parquet` object under it. Either way the objects are mirrored into a local cache (re-downloaded
only when their ETag changes) and read from there. On a cluster with hadoop-aws, use `s3a://` paths
and Spark's own reader instead: a driver-local cache is not visible to executors.
"""
from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from codecorpus.s3.client import s3_client, split_uri
from codecorpus.s3.config import S3Config

MANIFEST = "_manifest.json"
FORMAT = "codecorpus-s3-table/1"


def _join(prefix: str, name: str) -> str:
    return f"{prefix.rstrip('/')}/{name}" if prefix else name


def _list(client, bucket: str, prefix: str) -> list[dict]:
    objects = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        objects += page.get("Contents", [])
    return objects


def read_manifest(uri: str, cfg: S3Config) -> dict | None:
    bucket, prefix = split_uri(uri)
    client = s3_client(cfg, botocore_retries=True)
    try:
        body = client.get_object(Bucket=bucket, Key=_join(prefix, MANIFEST))["Body"].read()
    except client.exceptions.NoSuchKey:
        return None
    return json.loads(body)


def committed_objects(uri: str, cfg: S3Config) -> list[str]:
    """Keys (relative to the table prefix) of the table's committed Parquet files."""
    bucket, prefix = split_uri(uri)
    manifest = read_manifest(uri, cfg)
    if manifest is not None:
        return [o["key"] for o in manifest["objects"]]
    if prefix.endswith(".parquet"):
        return [""]
    base = prefix.rstrip("/") + "/" if prefix else ""
    keys = sorted(o["Key"][len(base):] for o in _list(s3_client(cfg, botocore_retries=True), bucket, base) if o["Key"].endswith(".parquet"))
    if not keys:
        raise FileNotFoundError(f"{uri} holds no Parquet objects and no {MANIFEST}")
    return keys


def mirror(uri: str, cfg: S3Config, cache: Path) -> list[str]:
    """Download the committed objects of the table at ``uri`` into ``cache`` (skipping unchanged ones);
    returns the local Parquet files to read."""
    bucket, prefix = split_uri(uri)
    client = s3_client(cfg, botocore_retries=True)
    local_root = cache / bucket / prefix.strip("/")
    keys = committed_objects(uri, cfg)
    if keys == [""]:
        return [str(_download(client, bucket, prefix, local_root))]
    return [str(_download(client, bucket, _join(prefix, rel), local_root / rel)) for rel in keys]


def _download(client, bucket: str, key: str, dest: Path) -> Path:
    head = client.head_object(Bucket=bucket, Key=key)
    etag_file = dest.with_name(f".{dest.name}.etag")
    if dest.exists() and etag_file.exists() and etag_file.read_text() == head["ETag"]:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.part")
    client.download_file(bucket, key, str(tmp))
    tmp.replace(dest)
    etag_file.write_text(head["ETag"])
    return dest


def read_table(spark: SparkSession, uri: str, cfg: S3Config, cache: Path) -> DataFrame:
    return spark.read.parquet(*mirror(uri, cfg, cache))


def write_table(df: DataFrame, uri: str, cfg: S3Config, num_files: int, sort_by: list[str]) -> dict:
    """Write ``df`` as the table at ``uri`` (see the module doc); returns the new manifest."""
    from codecorpus.storage import Storage
    bucket, prefix = split_uri(uri)
    client = s3_client(cfg, botocore_retries=True)
    version = f"v-{uuid.uuid4().hex[:16]}"
    staging = Path(tempfile.mkdtemp(prefix="codecorpus-s3-"))
    try:
        Storage(df.sparkSession).write_table(df, str(staging / "table"), num_files, sort_by)
        objects = []
        for part in sorted((staging / "table").glob("part-*.parquet")):
            rel = f"{version}/{part.name}"
            client.upload_file(str(part), bucket, _join(prefix, rel))
            objects.append({"key": rel, "size": part.stat().st_size})
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    manifest = {"format": FORMAT, "version": version, "objects": objects}
    client.put_object(Bucket=bucket, Key=_join(prefix, MANIFEST), Body=json.dumps(manifest, indent=1).encode(),
                      ContentType="application/json")
    # The previous version, and objects of writes killed before their manifest, are now unreferenced.
    base = prefix.rstrip("/") + "/" if prefix else ""
    keep = {_join(prefix, o["key"]) for o in objects}
    stale = [o["Key"] for o in _list(client, bucket, base + "v-") if o["Key"] not in keep]
    for start in range(0, len(stale), 1000):
        client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in stale[start:start + 1000]]})
    return manifest


def publish_run(runner, uri: str, cfg: S3Config) -> dict[str, dict]:
    """Write the latest version of every table of a finished run, and its ledger, under ``uri``
    (``uri/<table>/``), each committed by its own manifest. Returns the manifests by table."""
    from codecorpus import tables
    from codecorpus.inspect import _latest_outputs, _manifests
    spark, root = runner.spark, uri.rstrip("/")
    published = {}
    for table, path in sorted(_latest_outputs(runner, _manifests(runner)).items()):
        published[table] = write_table(spark.read.parquet(path), f"{root}/{table}", cfg,
                                       runner.config.files_per_table, tables.SORT_KEYS[table])
    ledgers = [runner.ledger_path(m["stage"]) for m in _manifests(runner)]
    published["ledger"] = write_table(spark.read.parquet(*ledgers), f"{root}/ledger", cfg,
                                      runner.config.files_per_table, tables.SORT_KEYS["ledger"])
    return published

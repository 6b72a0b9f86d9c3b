"""S3 prefixes as folders, through boto3: what `codecorpus.storage.Storage` needs of a file system when a
run lives on s3:// and Spark has no hadoop-aws.

A path s3://bucket/a/b names the object `a/b` and the folder `a/b/` (every object under it), as
Hadoop's S3A file system sees them. S3 has no rename: `rename` copies (server side) and then deletes,
copying marker objects (names starting with `_`, such as `_manifest.json` and `_COMMITTED`) last, so a
reader that finds a marker at the destination finds everything it vouches for.
"""
from __future__ import annotations

from botocore.exceptions import ClientError

from codecorpus.s3.client import s3_client, split_uri
from codecorpus.s3.config import S3Config


VERSION_PREFIX = "v-"     # a table's version folders (codecorpus.s3.tables)


def _client(cfg: S3Config):
    return s3_client(cfg, botocore_retries=True)


def _folder(key: str) -> str:
    return key.rstrip("/") + "/" if key.strip("/") else ""


def list_keys(bucket: str, prefix: str, cfg: S3Config) -> list[dict]:
    """Every object under ``prefix`` (S3's listing entries: Key, Size, ETag, ...), in key order."""
    found = []
    for page in _client(cfg).get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        found += page.get("Contents", [])
    return found


def exists(path: str, cfg: S3Config) -> bool:
    """The object, or a folder with something in it. A folder whose first key is an uncommitted table
    version (`v-…/`, sorting after `_manifest.json`) holds nothing but a killed first write: it does not
    exist, as a Hadoop table whose write died is only a `.tmp-` sibling."""
    bucket, key = split_uri(path)
    client = _client(cfg)
    folder = _folder(key)
    first = client.list_objects_v2(Bucket=bucket, Prefix=folder, MaxKeys=1).get("Contents", [])
    if first:
        return not first[0]["Key"].startswith(folder + VERSION_PREFIX)
    return bool(key.strip("/")) and _head(client, bucket, key)


def _head(client, bucket: str, key: str) -> bool:
    try:
        client.head_object(Bucket=bucket, Key=key)
        return True
    except ClientError as exc:
        if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
            return False
        raise


def delete(path: str, cfg: S3Config) -> None:
    """The object ``path`` and everything under the folder ``path/``."""
    bucket, key = split_uri(path)
    keys = [o["Key"] for o in list_keys(bucket, _folder(key), cfg)] + ([key] if key.strip("/") else [])
    delete_keys(bucket, keys, cfg)


def delete_keys(bucket: str, keys: list[str], cfg: S3Config) -> None:
    client = _client(cfg)
    for start in range(0, len(keys), 1000):      # S3's limit per request; absent keys are no error
        client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[start:start + 1000]],
                                                     "Quiet": True})


def listdir(path: str, cfg: S3Config) -> list[str]:
    """Names one level below the folder ``path/`` (objects and sub-folders), sorted."""
    bucket, key = split_uri(path)
    folder, names = _folder(key), set()
    for page in _client(cfg).get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=folder, Delimiter="/"):
        names.update(p["Prefix"][len(folder):].rstrip("/") for p in page.get("CommonPrefixes", []))
        names.update(o["Key"][len(folder):] for o in page.get("Contents", []))
    names.discard("")
    return sorted(names)


def read_bytes(path: str, cfg: S3Config) -> bytes | None:
    bucket, key = split_uri(path)
    try:
        return _client(cfg).get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise


def download(path: str, local, cfg: S3Config) -> None:
    """The object ``path`` to the local file ``local``, streamed (boto3's managed transfer)."""
    bucket, key = split_uri(path)
    _client(cfg).download_file(bucket, key, str(local))


def write_bytes(path: str, data: bytes, cfg: S3Config) -> None:
    """One PUT: S3 replaces an object atomically, so readers see the old bytes or the new ones."""
    bucket, key = split_uri(path)
    _client(cfg).put_object(Bucket=bucket, Key=key, Body=data)


def rename(src: str, dst: str, cfg: S3Config) -> None:
    """Copy the object and folder ``src`` to ``dst`` (markers last), then delete ``src``."""
    bucket, key = split_uri(src)
    dst_bucket, dst_key = split_uri(dst)
    entries = [o["Key"] for o in list_keys(bucket, _folder(key), cfg)]
    if key.strip("/") and _head(_client(cfg), bucket, key):
        entries.append(key)
    if not entries:
        raise FileNotFoundError(f"cannot rename {src}: nothing there")
    client = _client(cfg)
    for name in sorted(entries, key=lambda k: (k.rsplit("/", 1)[-1].startswith("_"), k)):
        client.copy({"Bucket": bucket, "Key": name}, dst_bucket, dst_key + name[len(key):])
    delete_keys(bucket, entries, cfg)

"""One boto3 S3 client per Python process and config, shared by the fetcher's threads.

botocore's own retries are off: it retries a request but not a failed body read, and its adaptive
mode slows a shared client to a crawl under throttling. The fetcher owns one retry loop over the
whole get-and-read instead (codecorpus.s3.fetch).
"""
from __future__ import annotations

import threading
from functools import lru_cache

import boto3
from botocore import UNSIGNED
from botocore.config import Config

from codecorpus.s3.config import S3Config

_lock = threading.Lock()


@lru_cache(maxsize=8)
def s3_client(cfg: S3Config, botocore_retries: bool = False):
    """The client for ``cfg`` (built once per process; boto3 clients are thread-safe, sessions are not).

    ``botocore_retries``: let botocore retry (standard mode, ``cfg.max_attempts``), for table and
    index transfers, which have no retry loop of their own."""
    with _lock:
        session = boto3.session.Session(profile_name=cfg.profile, region_name=cfg.region)
        botocore_config = Config(
            signature_version=UNSIGNED if cfg.anonymous else None,
            retries={"total_max_attempts": cfg.max_attempts if botocore_retries else 1, "mode": "standard"},
            connect_timeout=cfg.connect_timeout,
            read_timeout=min(cfg.blob_timeout, 60.0),
            max_pool_connections=cfg.concurrency,
            s3={"addressing_style": "path"} if cfg.endpoint_url else None,
        )
        return session.client("s3", endpoint_url=cfg.endpoint_url, config=botocore_config)


def split_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key/prefix`` -> (bucket, key/prefix); s3a:// and s3n:// are accepted too."""
    scheme, _, rest = uri.partition("://")
    if scheme not in ("s3", "s3a", "s3n") or not rest:
        raise ValueError(f"{uri!r} is not an S3 URI (s3://bucket/prefix)")
    bucket, _, key = rest.partition("/")
    return bucket, key


def is_s3(path: str) -> bool:
    return path.startswith(("s3://", "s3a://", "s3n://"))

"""Fetch content blobs (gzip objects keyed by the SHA-1 of their decoded bytes, as Software Heritage
stores them) concurrently, with one retry loop per blob that covers the request *and* the body read.

Every blob ends as exactly one `Blob`: its bytes, or a rule and a value for the ledger:

    blob_missing       the object does not exist (404 NoSuchKey, NoSuchBucket)
    blob_denied        403 AccessDenied, or no usable credentials
    blob_corrupt_gzip  the object is not a complete gzip stream (seen twice)
    blob_checksum      the decoded bytes' SHA-1 is not the blob_id (seen twice)
    blob_unavailable   throttling, 5xx, timeouts, resets or short bodies outlasted the retry budget or
                       the per-blob time limit; or another S3 error
    too_large          the decoded bytes exceed the size limit

Values name the error class and code only, never a message: botocore's messages carry endpoint URLs.
"""
from __future__ import annotations

import hashlib
import random
import time
import zlib
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterable, Iterator

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, PartialCredentialsError, ProfileNotFound
from urllib3.exceptions import HTTPError as Urllib3Error

from codecorpus.s3.client import s3_client
from codecorpus.s3.config import S3Config

MISSING_CODES = {"NoSuchKey", "NoSuchBucket", "NotFound", "404"}
DENIED_CODES = {"AccessDenied", "AllAccessDisabled", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch",
                "ExpiredToken", "InvalidToken"}
RETRY_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequests",
               "RequestTimeout", "InternalError", "ServiceUnavailable", "503", "500", "502", "504"}
INTEGRITY_ATTEMPTS = 2    # a corrupt or wrong body is read once more: it may have been damaged in transit


@dataclass(frozen=True)
class Blob:
    blob_id: str
    data: bytes | None = None
    rule: str | None = None       # set when data is None
    value: str | None = None
    attempts: int = 0
    compressed: int = 0           # bytes transferred for the successful attempt


class _Retry(Exception):
    """A transient failure: wait and try again."""


class _Final(Exception):
    def __init__(self, rule: str, value: str):
        super().__init__(rule, value)
        self.rule, self.value = rule, value


class _Integrity(_Final):
    """Bytes arrived whole but are wrong: retried a little, then final."""


def describe(exc: BaseException) -> str:
    """Error class and code, without the message (which may hold the endpoint or bucket URL)."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return f"{error.get('Code', 'Unknown')} (HTTP {status})"
    if isinstance(exc, (_Retry, _Final)) and exc.args:
        return str(exc.args[-1])
    return type(exc).__name__


def classify(exc: BaseException) -> Exception:
    """A `_Retry` or a `_Final` for an exception raised by a get or a body read."""
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        if code in MISSING_CODES:
            return _Final("blob_missing", describe(exc))
        if code in DENIED_CODES:
            return _Final("blob_denied", describe(exc))
        if code in RETRY_CODES or status >= 500 or status == 429:
            return _Retry(describe(exc))
        return _Final("blob_unavailable", describe(exc))
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError, ProfileNotFound)):
        return _Final("blob_denied", describe(exc))
    if isinstance(exc, (BotoCoreError, OSError, Urllib3Error)):
        return _Retry(describe(exc))     # timeouts, resets, short bodies, refused connections
    raise exc


def gunzip(raw: bytes, max_bytes: int) -> bytes:
    """Decode a (possibly multi-member) gzip stream, refusing more than ``max_bytes`` of output."""
    out, rest = [], raw
    size = 0
    while rest:
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out.append(decoder.decompress(rest, max_bytes + 1 - size))
        except zlib.error as exc:
            raise _Integrity("blob_corrupt_gzip", f"zlib error: {exc}") from None
        size += len(out[-1])
        if size > max_bytes:
            raise _Final("too_large", f"more than {max_bytes} bytes decoded")
        if not decoder.eof:
            raise _Integrity("blob_corrupt_gzip", f"gzip stream ends early ({len(raw)} bytes read)")
        rest = decoder.unused_data
    return b"".join(out)


class BlobFetcher:
    """Fetches blobs with up to ``cfg.concurrency`` in flight; built once per Python worker."""

    def __init__(self, cfg: S3Config, bucket: str, key_template: str = "content/{blob_id}",
                 max_bytes: int = 10 * 1024 * 1024):
        self.cfg, self.bucket, self.key_template, self.max_bytes = cfg, bucket, key_template, max_bytes
        self.client = s3_client(cfg)
        self.extra = {"RequestPayer": "requester"} if cfg.requester_pays else {}
        self.pool = ThreadPoolExecutor(cfg.concurrency, thread_name_prefix="blob-fetch")

    def fetch(self, blob_ids: Iterable[str]) -> dict[str, Blob]:
        """Every distinct id of ``blob_ids`` to its `Blob`; never raises for a bad blob."""
        return {blob.blob_id: blob for blob in self.stream(dict.fromkeys(blob_ids))}

    def stream(self, blob_ids: Iterable[str]) -> Iterator[Blob]:
        """`Blob`s in input order, keeping the pool busy with at most 2 x concurrency blobs in flight
        (memory stays bounded however many ids come in)."""
        window: deque = deque()
        for blob_id in blob_ids:
            window.append(self.pool.submit(self.fetch_one, blob_id))
            if len(window) >= 2 * self.cfg.concurrency:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()

    def fetch_one(self, blob_id: str) -> Blob:
        cfg = self.cfg
        deadline = time.monotonic() + cfg.blob_timeout
        last, integrity_failures = "", 0
        for attempt in range(1, cfg.max_attempts + 1):
            try:
                data, compressed = self._get_checked(blob_id)
                return Blob(blob_id, data, attempts=attempt, compressed=compressed)
            except _Integrity as exc:
                integrity_failures += 1
                if integrity_failures >= INTEGRITY_ATTEMPTS:
                    return Blob(blob_id, rule=exc.rule, value=exc.value, attempts=attempt)
                last = exc.value
            except _Final as exc:
                return Blob(blob_id, rule=exc.rule, value=exc.value, attempts=attempt)
            except _Retry as exc:
                last = describe(exc)
            wait = random.uniform(0, min(cfg.backoff_max, cfg.backoff_base * 2 ** attempt))
            if time.monotonic() + wait >= deadline:
                return Blob(blob_id, rule="blob_unavailable", attempts=attempt,
                            value=f"{last}; per-blob time limit {cfg.blob_timeout:g}s reached after {attempt} attempts")
            time.sleep(wait)
        return Blob(blob_id, rule="blob_unavailable", attempts=cfg.max_attempts,
                    value=f"{last}; retry budget of {cfg.max_attempts} attempts spent")

    def _get_checked(self, blob_id: str) -> tuple[bytes, int]:
        key = self.key_template.format(blob_id=blob_id)
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key, **self.extra)
            body = response["Body"]
            try:
                raw = body.read()     # botocore raises IncompleteReadError on a short body
            finally:
                body.close()
        except Exception as exc:     # noqa: BLE001 - classify() re-raises what it does not know
            raise classify(exc) from None
        expected = response.get("ContentLength")
        if expected is not None and len(raw) != expected:
            raise _Retry(f"short body ({len(raw)} of {expected} bytes)")
        data = gunzip(raw, self.max_bytes)
        digest = hashlib.sha1(data).hexdigest()
        if digest != blob_id:
            raise _Integrity("blob_checksum", f"decoded bytes have SHA-1 {digest}")
        return data, len(raw)


_fetchers: dict[tuple, BlobFetcher] = {}


def blob_fetcher(cfg: S3Config, bucket: str, key_template: str, max_bytes: int) -> BlobFetcher:
    """The fetcher of this Python worker for these settings (Spark reuses workers across tasks)."""
    key = (cfg, bucket, key_template, max_bytes)
    if key not in _fetchers:
        _fetchers[key] = BlobFetcher(cfg, bucket, key_template, max_bytes)
    return _fetchers[key]

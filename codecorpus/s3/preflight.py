"""Before a big fetch: can we read the blobs at all (said in words), and what will it cost?

`check_access` reads a few index rows without Spark (a local or s3:// index), checks credentials and
the bucket, fetches a sample of blobs through the real fetcher and turns each failure into a sentence.
`estimate` counts blobs and bytes over the whole index with Spark and prices the fetch.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import boto3
import pyarrow.parquet as pq
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, ProfileNotFound

from codecorpus.s3.client import is_s3, s3_client
from codecorpus.s3.config import S3Config
from codecorpus.s3.fetch import BlobFetcher, describe

# S3 Standard list prices (us-east-1, 2024): GET requests and data transfer out to the internet.
GET_PRICE_PER_1000 = 0.0004
TRANSFER_PRICE_PER_GB = 0.09

RULE_WORDS = {
    "blob_missing": "do not exist in the bucket (NoSuchKey): does the index match sources.stack_v2.bucket and key_template?",
    "blob_denied": "were denied: the credentials lack s3:GetObject on this bucket, or it is requester-pays "
                   "(set s3.requester_pays: true)",
    "blob_unavailable": "could not be read after retries (throttling, server errors or timeouts): try again later, "
                        "or raise s3.max_attempts / s3.blob_timeout",
    "blob_corrupt_gzip": "are not valid gzip: is key_template pointing at the compressed contents?",
    "blob_checksum": "decode to bytes whose SHA-1 is not their blob_id: the bucket holds other contents under these keys",
    "too_large": "are larger than ingest.max_file_bytes once decoded",
}


@dataclass
class AccessReport:
    problems: list[str]
    sampled: int = 0
    fetched: int = 0
    seconds_per_blob: float = 0.0      # mean wall time of one blob, retries included
    compression: float = 0.0           # decoded bytes / transferred bytes over the sample

    @property
    def ok(self) -> bool:
        return not self.problems


def sample_rows(index: str, s3: S3Config, n: int) -> list[dict]:
    """The first ``n`` (blob_id, length_bytes) rows of a local or s3:// index, flat or -ids layout."""
    if is_s3(index):     # the first rows of the first object, by ranged reads (not the whole object)
        from codecorpus.s3.tables import open_object, table_objects
        path = open_object(*table_objects(index, s3, manifest_required=False)[1][0], s3)
    else:
        from pathlib import Path
        path = Path(index)
        if path.is_dir():
            path = sorted(path.rglob("*.parquet"))[0]
    batch = next(pq.ParquetFile(path).iter_batches(batch_size=n))
    rows = batch.to_pylist()
    if rows and "files" in rows[0]:
        rows = [f for r in rows for f in r["files"]]
    return [{"blob_id": r["blob_id"], "length_bytes": r.get("length_bytes")} for r in rows[:n]]


def credentials_problem(s3: S3Config) -> str | None:
    if s3.anonymous:
        return None
    try:
        credentials = boto3.session.Session(profile_name=s3.profile).get_credentials()
    except ProfileNotFound:
        return (f"the profile {s3.profile!r} (s3.profile) is not in the AWS config files "
                "(~/.aws/config, ~/.aws/credentials or $AWS_CONFIG_FILE)")
    if credentials is None:
        return ("no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, name a profile in "
                "s3.profile, run on an instance with a role, or set s3.anonymous: true for a public bucket "
                "such as softwareheritage")
    return None


def bucket_problem(s3: S3Config, bucket: str) -> str | None:
    try:
        s3_client(s3).head_bucket(Bucket=bucket)
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        if status in (301, 400) and headers.get("x-amz-bucket-region"):
            return (f"bucket {bucket} is in region {headers['x-amz-bucket-region']}, but s3.region is "
                    f"{s3.region or 'unset'}: set s3.region: {headers['x-amz-bucket-region']}")
        if status == 404:
            return f"bucket {bucket} does not exist (check sources.stack_v2.bucket and s3.endpoint_url)"
        if status == 403:
            return None       # many public buckets refuse HEAD/List but allow GetObject: the blobs will tell
        return f"bucket {bucket}: {describe(exc)}"
    except EndpointConnectionError:
        return "cannot connect to the S3 endpoint: check s3.endpoint_url, s3.region and the network"
    except BotoCoreError as exc:
        return f"bucket {bucket}: {describe(exc)}"
    return None


def check_access(index: str, bucket: str, key_template: str, s3: S3Config, max_bytes: int,
                 n: int = 8) -> AccessReport:
    for problem in (credentials_problem(s3), bucket_problem(s3, bucket)):
        if problem:
            return AccessReport([problem])
    try:
        rows = sample_rows(index, s3, n)
    except (ClientError, BotoCoreError) as exc:
        return AccessReport([f"cannot read the index {index}: {describe(exc)}"])
    fetcher = BlobFetcher(s3, bucket, key_template, max_bytes)
    started = time.monotonic()
    blobs = [fetcher.fetch_one(r["blob_id"]) for r in rows]     # one at a time: measures one blob's latency
    elapsed = time.monotonic() - started
    problems, by_rule = [], {}
    for blob in blobs:
        if blob.rule:
            by_rule.setdefault(blob.rule, []).append(blob)
    for rule, failed in sorted(by_rule.items()):
        example = key_template.format(blob_id=failed[0].blob_id)
        problems.append(f"{len(failed)} of {len(blobs)} sampled blobs {RULE_WORDS.get(rule, rule)} "
                        f"(e.g. s3://{bucket}/{example}: {failed[0].value})")
    good = [b for b in blobs if b.data is not None]
    compressed = sum(b.compressed for b in good)
    return AccessReport(problems, len(blobs), len(good), elapsed / max(1, len(blobs)),
                        sum(len(b.data) for b in good) / compressed if compressed else 0.0)


@dataclass
class Estimate:
    files: int
    blobs: int
    decoded_bytes: int
    transferred_bytes: int
    requests: int
    request_cost: float
    transfer_cost: float
    seconds: float

    def lines(self) -> list[str]:
        return [
            f"files in the index:        {self.files:,}",
            f"distinct blobs to fetch:   {self.blobs:,}",
            f"bytes decoded:             {self.decoded_bytes / 1e9:,.3f} GB",
            f"bytes transferred (est.):  {self.transferred_bytes / 1e9:,.3f} GB (gzip ratio of the sample)",
            f"GET requests (est.):       {self.requests:,}",
            f"request cost:              ${self.request_cost:,.2f} at ${GET_PRICE_PER_1000}/1000 GETs",
            f"transfer cost:             ${self.transfer_cost:,.2f} out to the internet at ${TRANSFER_PRICE_PER_GB}/GB "
            "($0 from EC2 in the bucket's region)",
            f"time (est.):               {self.seconds / 3600:,.2f} h at the measured rate",
        ]


def estimate(files: int, blobs: int, decoded_bytes: int, access: AccessReport, s3: S3Config, tasks: int) -> Estimate:
    """Price fetching ``blobs`` distinct blobs: one GET each (plus the sample's share of failures), and
    time at ``tasks`` concurrent Spark tasks of ``s3.concurrency`` blobs in flight, each taking the
    sample's mean time per blob."""
    ratio = access.compression or 1.0
    transferred = int(decoded_bytes / ratio)
    requests = blobs
    rate = tasks * s3.concurrency / access.seconds_per_blob if access.seconds_per_blob else 0.0
    return Estimate(files, blobs, decoded_bytes, transferred, requests,
                    requests / 1000 * GET_PRICE_PER_1000, transferred / 1e9 * TRANSFER_PRICE_PER_GB,
                    blobs / rate if rate else float("inf"))

"""How to talk to S3: endpoint, region, credentials profile, anonymous access, requester pays, and the
fetcher's concurrency, retry budget and time limits.

Connection settings never decide a table's contents, so they live in their own top-level `s3` section
that no stage fingerprint includes: changing the concurrency or the endpoint does not redo work.
Credentials are never config values: they come from boto3's usual chain (environment, the named
profile, instance roles), so they cannot leak into manifests, the ledger or the card.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class S3Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint_url: str | None = Field(None, description=(
        "S3-compatible endpoint (MinIO, Ceph, a test server); unset for AWS itself."))
    region: str | None = Field(None, description="Bucket region, e.g. us-east-1 (Software Heritage's bucket).")
    profile: str | None = Field(None, description="Named profile of ~/.aws/config to take credentials from.")
    anonymous: bool = Field(False, description="Unsigned requests, for public buckets; no credentials needed.")
    requester_pays: bool = Field(False, description="Send RequestPayer=requester (you pay the transfer).")
    concurrency: int = Field(32, ge=1, le=512, description="Blobs in flight per Spark task (one thread each).")
    max_attempts: int = Field(8, ge=1, le=50, description=(
        "Attempts per blob, first one included, on throttling, 5xx, timeouts, resets and short bodies."))
    backoff_base: float = Field(0.1, gt=0, description="Seconds; attempt n waits a random 0..base*2^n.")
    backoff_max: float = Field(5.0, gt=0, description="Seconds; cap of one backoff wait.")
    blob_timeout: float = Field(60.0, gt=0, description=(
        "Seconds one blob may take, retries included; then it is ledgered as blob_unavailable."))
    connect_timeout: float = Field(5.0, gt=0, description="Seconds to open a connection.")
    staging_dir: str | None = Field(None, description=(
        "Where a run whose run_dir is s3:// (without hadoop-aws) keeps scratch files such as dedup's "
        "checkpoints: a local folder (default: one under the system's temporary folder) or, on a "
        "multi-node cluster, an hdfs:// path every executor can reach."))

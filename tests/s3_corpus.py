"""A Stack v2-style world on loopback: an index and gzip blobs built from real files of the small sample
corpus, served by moto's S3 server behind the fault-injecting proxy (codecorpus.s3.loopback)."""
from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pyarrow as pa
import pyarrow.parquet as pq

from codecorpus.s3.config import S3Config
from codecorpus.s3.loopback import Faults, LoopbackS3
from codecorpus.sources.local import file_id
from codecorpus.sources.sample import build_sample

BUCKET = "softwareheritage"
INDEX_BUCKET = "stack-index"
REPOS = ["debian/golang-github-pkg-errors-dev", "npm/debug", "npm/inherits", "npm/isarray", "npm/ms",
         "pypi/six-1.16.0", "debian/php-psr-log"]
# Permanent faults, each on one real file (repo, path), and the ledger rule each must produce.
BAD = {
    "missing": ("npm/debug", "src/node.js", "blob_missing"),
    "denied": ("npm/ms", "index.js", "blob_denied"),
    "truncated_gzip": ("pypi/six-1.16.0", "setup.py", "blob_corrupt_gzip"),
    "wrong_bytes": ("npm/inherits", "inherits.js", "blob_checksum"),
    "always_500": ("npm/isarray", "index.js", "blob_unavailable"),
    "hang": ("debian/php-psr-log", "Psr/Log/LoggerInterface.php", "blob_unavailable"),
}
SECRET = "codecorpus-test-secret-never-logged"
# Credentials for the driver (and, in the ingest tests, the Python workers); no ~/.aws files are read.
AWS_ENV = {"AWS_ACCESS_KEY_ID": "codecorpus-test-key", "AWS_SECRET_ACCESS_KEY": SECRET,
           "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"}
# Transient faults every good blob must survive: 30% of GETs fail in one of five ways.
TRANSIENT = dict(throttle=0.12, error_500=0.05, reset=0.05, short_body=0.05, slow=0.03, slow_seconds=0.2,
                 hang_seconds=3.0, seed=7)


@dataclass
class World:
    s3: LoopbackS3
    files: list[dict]                     # one index row per real file
    raw: dict[str, bytes]                 # file_id -> the file's bytes on disk
    bad_blobs: dict[str, str] = field(default_factory=dict)   # blob_id -> the ledger rule it must get
    index_dir: Path | None = None

    def key_path(self, blob_id: str) -> str:
        return f"/{BUCKET}/content/{blob_id}"

    def faults(self, transient: bool = True) -> Faults:
        always = {}
        for kind, fault in (("denied", "denied"), ("always_500", "error_500"), ("hang", "hang")):
            repo, path, _ = BAD[kind]
            always[self.key_path(self.row(repo, path)["blob_id"])] = fault
        return Faults(**(TRANSIENT if transient else {"hang_seconds": TRANSIENT["hang_seconds"]}), always=always)

    def row(self, repo: str, path: str) -> dict:
        return next(r for r in self.files if r["repo_name"] == repo and r["path"] == path)

    def s3_config(self, **overrides) -> dict:
        return {"endpoint_url": self.s3.endpoint, "region": "us-east-1", "concurrency": 8,
                "max_attempts": 10, "backoff_base": 0.01, "backoff_max": 0.2, "blob_timeout": 1.5, **overrides}


def index_rows(sample_root: Path) -> tuple[list[dict], dict[str, bytes]]:
    rows, raw = [], {}
    for repo in REPOS:
        base = sample_root / "repos" / repo
        crc = zlib.crc32(repo.encode())
        for full in sorted(p for p in base.rglob("*") if p.is_file()):
            data, path = full.read_bytes(), full.relative_to(base).as_posix()
            fid = file_id(repo, path)
            raw[fid] = data
            rows.append({
                "blob_id": hashlib.sha1(data).hexdigest(), "directory_id": hashlib.sha1(repo.encode()).hexdigest(),
                "path": path, "content_id": hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest(),
                "detected_licenses": [], "license_type": "no_license", "repo_name": repo,
                "snapshot_id": hashlib.sha1(b"snp" + repo.encode()).hexdigest(),
                "revision_id": hashlib.sha1(b"rev" + repo.encode()).hexdigest(), "branch_name": "refs/heads/main",
                "visit_date": dt.datetime(2023, 9, 6, tzinfo=dt.timezone.utc),
                "revision_date": dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(days=crc % 1000),
                "committer_date": dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(days=crc % 1000),
                "github_id": crc % 10_000_000, "star_events_count": crc % 5000, "fork_events_count": crc % 300,
                "gha_license_id": "MIT" if repo.startswith("npm/") else None,
                "src_encoding": "UTF-8", "language": None, "is_vendor": False, "is_generated": False,
                "length_bytes": len(data), "extension": path.rsplit(".", 1)[-1] if "." in full.name else "",
            })
    return rows, raw


def flat_table(rows: list[dict]) -> pa.Table:
    """The flat layout, with The Stack v2's types for the columns these rows leave empty (which
    pyarrow would otherwise store as its null type)."""
    table = pa.Table.from_pylist(rows)
    types = {"language": pa.string(), "detected_licenses": pa.list_(pa.string())}
    return table.cast(pa.schema([pa.field(f.name, types.get(f.name, f.type)) for f in table.schema]))


def ids_layout(rows: list[dict]) -> pa.Table:
    """The repository-grouped `-ids` layout of the same rows."""
    file_keys = ["blob_id", "path", "content_id", "language", "length_bytes", "detected_licenses",
                 "license_type", "src_encoding", "is_vendor", "is_generated"]
    repos: dict[str, dict] = {}
    for r in rows:
        repo = repos.setdefault(r["repo_name"], {k: v for k, v in r.items() if k not in file_keys and k != "extension"}
                                | {"repo_url": f"https://github.com/{r['repo_name']}", "files": []})
        repo["files"].append({k: r[k] for k in file_keys})
    out = list(repos.values())
    for repo in out:
        repo["num_files"] = len(repo["files"])
    return pa.Table.from_pylist(out)


def start_world(tmp: Path) -> World:
    import logging
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    rows, raw = index_rows(build_sample("small", progress=lambda m: None))
    s3 = LoopbackS3().__enter__()
    world = World(s3, rows, raw)
    client = boto3.client("s3", endpoint_url=s3.direct_endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key=SECRET)
    for bucket in (BUCKET, INDEX_BUCKET):
        client.create_bucket(Bucket=bucket)
    # Software Heritage's bucket is public: anyone may read its objects.
    client.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"}]}))
    special = {(repo, path): kind for kind, (repo, path, _) in BAD.items()}
    other = {r["blob_id"]: raw[file_id(r["repo_name"], r["path"])] for r in rows}
    uploaded = set()
    for r in rows:
        fid = file_id(r["repo_name"], r["path"])
        kind = special.get((r["repo_name"], r["path"]))
        if kind:
            world.bad_blobs[r["blob_id"]] = BAD[kind][2]
        if kind == "missing" or r["blob_id"] in uploaded:
            continue
        body = gzip.compress(raw[fid], mtime=0)
        if kind == "truncated_gzip":
            body = body[: len(body) // 2]
        elif kind == "wrong_bytes":      # another real file's bytes under this blob's key
            body = gzip.compress(next(v for k, v in sorted(other.items()) if k != r["blob_id"]), mtime=0)
        client.put_object(Bucket=BUCKET, Key=f"content/{r['blob_id']}", Body=body)
        uploaded.add(r["blob_id"])
    world.index_dir = tmp / "index"
    world.index_dir.mkdir(parents=True)
    half = len(rows) // 2       # two Parquet files, as a published index is split
    pq.write_table(flat_table(rows[:half]), world.index_dir / "train-00000-of-00002.parquet")
    pq.write_table(flat_table(rows[half:]), world.index_dir / "train-00001-of-00002.parquet")
    ids = ids_layout(rows)
    buf = pa.BufferOutputStream()
    pq.write_table(ids, buf)
    client.put_object(Bucket=INDEX_BUCKET, Key="the-stack-v2-train-smol-ids/data/train-00000.parquet",
                      Body=buf.getvalue().to_pybytes())
    return world


def s3_config(world: World, **overrides) -> S3Config:
    return S3Config(**world.s3_config(**overrides))

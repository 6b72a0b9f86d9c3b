"""The Stack v2 through the normal config: an index (flat, or `-ids` on s3://) and gzip blobs on a real
S3 server on loopback, behind a proxy injecting throttling, 500s, resets, slow and short responses.
Every good blob arrives byte-identical to a fault-free run; every bad one is in the ledger with its rule."""
import json
import os
import re
import shutil
from collections import Counter
from pathlib import Path

import boto3
import pytest
import yaml
from pyspark.sql import functions as F

from codecorpus import tables
from codecorpus.config import parse_config
from codecorpus.pipeline import STAGES
from codecorpus.runner import Runner
from codecorpus.s3.loopback import Faults
from codecorpus.sources.decode import decode
from codecorpus.sources.local import file_id
from tests.helpers import ledger, table
from tests.s3_corpus import AWS_ENV, INDEX_BUCKET, SECRET, s3_config, start_world

MAX_BYTES = 30_000      # test_six.py, six.py and documentation/index.rst are larger


@pytest.fixture(scope="module")
def world(spark, tmp_path_factory):
    """The loopback world, with credentials in the driver's environment and the Python workers'."""
    saved = {k: os.environ.get(k) for k in AWS_ENV}
    os.environ.update(AWS_ENV)
    spark.sparkContext.environment.update(AWS_ENV)
    w = start_world(tmp_path_factory.mktemp("s3world"))
    yield w
    w.s3.__exit__()
    for key, value in saved.items():
        spark.sparkContext.environment.pop(key, None)
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def stack_v2_runner(spark, run_dir, world, index: str, stages=("ingest",), messages=None, **s3) -> Runner:
    config = parse_config({"run_dir": str(run_dir), "stages": list(stages), "files_per_table": 2,
                           "sources": {"stack_v2": {"index": index}}, "s3": world.s3_config(**s3),
                           "ingest": {"shards": 1, "max_file_bytes": MAX_BYTES}})
    return Runner(config, spark, STAGES, progress=(messages.append if messages is not None else lambda m: None))


def expected_rules(world) -> dict[str, str]:
    """file_id -> the ledger rule each index row must end with (good rows are absent)."""
    out = {}
    for row in world.files:
        fid, raw = file_id(row["repo_name"], row["path"]), world.raw[file_id(row["repo_name"], row["path"])]
        if row["length_bytes"] >= MAX_BYTES:
            out[fid] = "too_large"
        elif row["blob_id"] in world.bad_blobs:
            out[fid] = world.bad_blobs[row["blob_id"]]
        elif decode(raw).rule:
            out[fid] = decode(raw).rule
    return out


@pytest.fixture(scope="module")
def faulty(spark, world, tmp_path_factory):
    world.s3.proxy.faults = world.faults()
    world.s3.proxy.reset_counts()
    messages = []
    runner = stack_v2_runner(spark, tmp_path_factory.mktemp("faulty") / "run", world, str(world.index_dir),
                             messages=messages)
    runner.run()
    return runner, Counter(world.s3.proxy.injected), messages


IDS_INDEX = f"s3://{INDEX_BUCKET}/the-stack-v2-train-smol-ids/data/"
STAGES_ON_S3 = ["ingest", "annotate", "filter"]


@pytest.fixture(scope="module")
def clean(spark, world, tmp_path_factory):
    """Fault-free, from the repository-grouped `-ids` index on s3://, then annotate and filter as they are."""
    world.s3.proxy.faults = Faults()
    runner = stack_v2_runner(spark, tmp_path_factory.mktemp("clean") / "run", world, IDS_INDEX, stages=STAGES_ON_S3)
    runner.run()
    return runner


@pytest.fixture(scope="module")
def on_s3(spark, world, clean):
    """The same run as `clean` with run_dir on s3:// (boto3: this Spark has no hadoop-aws)."""
    world.s3.proxy.faults = Faults()
    messages = []
    runner = stack_v2_runner(spark, f"s3://{INDEX_BUCKET}/run", world, IDS_INDEX, stages=STAGES_ON_S3,
                             messages=messages)
    runner.run()
    return runner, messages


def test_faults_were_injected(faulty):
    _, injected, _ = faulty
    for kind in ("throttle", "error_500", "reset", "short_body", "slow", "denied", "hang"):
        assert injected[kind] > 0, (kind, injected)


def test_every_good_blob_arrives_and_every_bad_one_is_ledgered(faulty, world):
    runner, _, _ = faulty
    expected = expected_rules(world)
    assert set(expected.values()) >= {"blob_missing", "blob_denied", "blob_corrupt_gzip", "blob_checksum",
                                      "blob_unavailable", "too_large"}
    files = {r["file_id"]: r for r in table(runner, "ingest", "files").select(
        "file_id", "blob_id", "content", "length_bytes", "src_encoding").collect()}
    dropped = {r["id"]: r["rule"] for r in ledger(runner, "ingest").collect()}
    every = {file_id(r["repo_name"], r["path"]) for r in world.files}
    assert set(files) | set(dropped) == every and not set(files) & set(dropped)
    assert dropped == expected
    for fid, row in files.items():
        raw = world.raw[fid]
        assert row["content"] == decode(raw).text and row["length_bytes"] == len(raw)


def test_the_index_metadata_fills_the_hosting_columns(faulty, world):
    runner, _, _ = faulty
    row = world.row("npm/debug", "package.json")
    got = table(runner, "ingest", "files").where(F.col("file_id") == file_id("npm/debug", "package.json")).first()
    for column in ("star_events_count", "fork_events_count", "gha_license_id", "github_id", "revision_id",
                   "snapshot_id", "directory_id", "branch_name", "content_id"):
        assert got[column] == row[column], column
    repo = table(runner, "ingest", "repos").where(F.col("repo_name") == "npm/debug").first()
    assert (repo["source_kind"], repo["star_events_count"], repo["gha_license_id"]) == ("stack_v2", row["star_events_count"], "MIT")


def test_good_blobs_are_identical_to_a_fault_free_run_of_the_ids_layout(faulty, clean):
    columns = ["file_id", "repo_name", "path", "blob_id", "content_id", "content", "src_encoding", "length_bytes",
               "star_events_count", "fork_events_count", "revision_id", "visit_date"]
    faulty_files = table(faulty[0], "ingest", "files").select(columns)
    clean_files = table(clean, "ingest", "files").join(faulty_files.select("file_id"), "file_id", "left_semi").select(columns)
    assert faulty_files.count() > 50
    assert tables.digest(faulty_files) == tables.digest(clean_files)


def test_later_stages_run_unchanged(clean):
    assert clean.manifest("annotate")["outputs"]["files"]["rows"] == clean.manifest("ingest")["outputs"]["files"]["rows"]
    languages = {r["language"] for r in table(clean, "annotate", "files").select("language").distinct().collect()}
    assert {"JavaScript", "Python", "Go", "PHP"} <= languages


def test_a_rerun_fetches_only_the_missing_blobs(spark, faulty, world, tmp_path):
    """After the faults heal, a re-run of ingest (manifest removed) fetches exactly the blobs that did
    not arrive; the ones that were only denied, failing or hanging now arrive."""
    copy = tmp_path / "run"
    shutil.copytree(faulty[0].root, copy)
    (copy / "manifests" / "ingest.json").unlink()
    world.s3.proxy.faults = Faults()
    world.s3.proxy.reset_counts()
    runner = stack_v2_runner(spark, copy, world, str(world.index_dir))
    runner.run()
    fetched = set(world.s3.proxy.requests)
    assert fetched == {world.key_path(b) for b in world.bad_blobs}
    healed = {r["rule"] for r in ledger(runner, "ingest").collect()}
    assert "blob_denied" not in healed and "blob_unavailable" not in healed
    assert {"blob_missing", "blob_corrupt_gzip", "blob_checksum"} <= healed


def test_a_run_is_published_to_s3_table_by_table(spark, clean, world, tmp_path):
    from codecorpus.s3.tables import publish_run, read_table
    cfg = s3_config(world)
    manifests = publish_run(clean, f"s3://{INDEX_BUCKET}/runs/clean", cfg)
    assert set(manifests) == {"files", "repos", "ledger", "contamination"}
    back = read_table(spark, [f"s3://{INDEX_BUCKET}/runs/clean/files"], cfg)
    assert tables.digest(back) == tables.digest(table(clean, "filter", "files"))


def test_a_run_on_s3_equals_the_same_run_on_a_local_run_dir(on_s3, clean, world):
    runner, _ = on_s3
    assert runner.store.native(runner.root) is None      # served by boto3, not Hadoop
    for stage in STAGES_ON_S3:
        local, remote = clean.manifest(stage), runner.manifest(stage)
        assert remote["outputs"] == local["outputs"] and remote["drops_by_rule"] == local["drops_by_rule"], stage
        assert tables.digest(ledger(runner, stage)) == tables.digest(ledger(clean, stage)), stage
    assert tables.digest(table(runner, "filter", "files")) == tables.digest(table(clean, "filter", "files"))
    client = boto3.client("s3", endpoint_url=world.s3.direct_endpoint, region_name="us-east-1")
    keys = {o["Key"] for o in client.list_objects_v2(Bucket=INDEX_BUCKET, Prefix="run/")["Contents"]}
    assert {"run/manifests/filter.json", "run/stages/filter/files/_manifest.json",
            "run/ledger/ingest/_manifest.json"} <= keys
    assert not any("work" in k.split("/") or ".tmp" in k for k in keys)     # shard commits and scratch cleaned up


def test_an_s3_index_is_read_by_the_executors_object_by_object(spark, world):
    """A flat index of two Parquet objects without a manifest: one Spark partition per object, and
    the same rows as Spark's own reader gives for the local copy."""
    from codecorpus.s3.config import S3Config
    from codecorpus.sources.stack_v2 import StackV2Config, load_index
    client = boto3.client("s3", endpoint_url=world.s3.direct_endpoint, region_name="us-east-1")
    for path in sorted(world.index_dir.glob("*.parquet")):
        client.upload_file(str(path), INDEX_BUCKET, f"flat/data/{path.name}")
    s3 = S3Config(**world.s3_config())
    remote = load_index(spark, StackV2Config(index=f"s3://{INDEX_BUCKET}/flat/data"), s3)
    local = load_index(spark, StackV2Config(index=str(world.index_dir)), s3)
    assert remote.rdd.getNumPartitions() == 2
    assert remote.schema == local.schema and tables.digest(remote) == tables.digest(local)


FIGURES = ["file_length_by_language", "kept_vs_dropped", "license_mix", "size_by_language"]


@pytest.fixture(scope="module")
def releases(spark, world, clean, on_s3, tmp_path_factory):
    """The release of the local run (to a local folder) and of the same run on S3 (`codecorpus card
    --config`, to its default RUN/release on S3)."""
    from codecorpus.cli import main as cli_main
    from codecorpus.release.build import build_release
    tmp = tmp_path_factory.mktemp("releases")
    build_release(spark, clean.root, str(tmp / "local"))
    (tmp / "s3.yaml").write_text(yaml.safe_dump({"s3": world.s3_config()}))
    assert cli_main(["card", "--run", on_s3[0].root, "--config", str(tmp / "s3.yaml")]) == 0
    return tmp / "local", f"{on_s3[0].root}/release"


def s3_text(world, uri: str) -> str:
    from codecorpus.s3 import objects
    return objects.read_bytes(uri, s3_config(world)).decode("utf-8")


def test_the_card_of_a_run_on_s3_is_the_local_runs_card(spark, releases, world):
    """Same card, attribution and figures, and shards with the same names and rows, written to S3
    through boto3 (this Spark has no hadoop-aws). Only the stage completion times differ: two runs."""
    from codecorpus.s3 import objects
    from codecorpus.s3.tables import read_table
    local, remote = releases
    cfg = s3_config(world)
    when = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
    card = s3_text(world, f"{remote}/README.md")
    assert "## How the data was built" in card and when.search(card)
    assert when.sub("<time>", card) == when.sub("<time>", (local / "README.md").read_text())
    assert s3_text(world, f"{remote}/ATTRIBUTION.md") == (local / "ATTRIBUTION.md").read_text()
    for name in FIGURES:
        png = objects.read_bytes(f"{remote}/figures/{name}.png", cfg)
        assert png.startswith(b"\x89PNG") and png == (local / "figures" / f"{name}.png").read_bytes(), name
    stats = json.loads(s3_text(world, f"{remote}/stats.json"))
    assert stats["shards"] == json.loads((local / "stats.json").read_text())["shards"]
    bucket, prefix = remote.removeprefix("s3://").split("/", 1)
    keys = sorted(o["Key"][len(prefix) + 1:] for o in objects.list_keys(bucket, prefix + "/", cfg))
    local_files = sorted(p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file())
    assert keys == local_files     # no temporary folders or side files left
    shards = read_table(spark, [f"{remote}/data/files/"], cfg, manifest_required=False)
    assert tables.digest(shards) == tables.digest(spark.read.parquet(*map(str, local.glob("data/files/*/*.parquet"))))


@pytest.fixture(scope="module")
def instruct_on_s3(spark, world, on_s3):
    """The instruct steps seeds and requests of the run on S3, into its default RUN/instruct on S3."""
    from codecorpus.instruct.workflow import Workflow
    config = parse_config({"run_dir": on_s3[0].root, "files_per_table": 2, "s3": world.s3_config(),
                           "instruct": {"seeds": {"quotas": {"Python": 8, "JavaScript": 8}}}})
    wf = Workflow(spark, config, progress=lambda m: None)
    wf.sample_seeds()
    wf.write_requests()
    return wf


def test_instruct_seeds_and_requests_write_to_s3_and_read_back(instruct_on_s3, world, tmp_path):
    from codecorpus.instruct.workflow import build_dataset, generate_dir, request_files
    wf = instruct_on_s3
    assert wf.paths.requests.startswith("s3://") and wf.store.native(wf.paths.requests) is None
    report = wf.read_json("requests.json")
    assert report["files"] == ["requests/part-00000.jsonl"] and wf.store.listdir(wf.paths.root) == [
        "ledger", "requests", "requests.json", "seeds", "seeds.json"]
    files = request_files(wf.paths.requests, s3_config(world), tmp_path)    # what `generate` reads
    lines = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    seeds = {r["seed_id"] for r in wf.seeds().select("seed_id").collect()}
    assert len(lines) == report["requests"] == len(seeds) == wf.read_json("seeds.json")["seeds"] > 0
    assert {line["custom_id"] for line in lines} == seeds and {line["url"] for line in lines} == {"/v1/chat/completions"}
    with pytest.raises(ValueError, match="--out with a local folder"):
        generate_dir(f"{wf.paths.root}/generate")
    with pytest.raises(ValueError, match="copy the file to a local"):
        build_dataset(wf, [f"{wf.paths.root}/generate/responses.jsonl"])


def test_credentials_and_endpoints_never_reach_outputs(faulty, clean, on_s3, world, releases, instruct_on_s3):
    runner, _, messages = faulty
    secrets = [SECRET, world.s3.endpoint.split("//")[1], world.s3.direct_endpoint.split("//")[1], "127.0.0.1"]
    client = boto3.client("s3", endpoint_url=world.s3.direct_endpoint, region_name="us-east-1")
    entries = client.list_objects_v2(Bucket=INDEX_BUCKET, Prefix="run/")["Contents"]
    assert {"run/release/README.md", "run/instruct/requests/part-00000.jsonl"} <= {e["Key"] for e in entries}
    for entry in entries:
        body = client.get_object(Bucket=INDEX_BUCKET, Key=entry["Key"])["Body"].read()
        assert not any(s.encode() in body for s in secrets), entry["Key"]
    assert not any(s in m for m in on_s3[1] for s in secrets)
    for run in (runner, clean):
        for path in (p for p in Path(run.root).rglob("*") if p.is_file()):
            if path.suffix in (".json", ".txt", ".md", ""):
                text = path.read_text(errors="replace")
                assert not any(s in text for s in secrets), path
        for stage in ("ingest",):
            for row in ledger(run, stage).collect():
                assert not any(s in f"{row['value']} {row['detail']}" for s in secrets), row
    assert not any(s in m for m in messages for s in secrets)


def test_a_killed_table_write_on_s3_leaves_readers_on_the_previous_version(on_s3, world):
    """The filter stage re-runs and dies writing its files table (every upload fails): the runner
    stops, and readers of the table still get the version committed before. (Runs last: it leaves
    the run without a filter manifest.)"""
    before = on_s3[0].manifest("filter")["outputs"]["files"]["digest"]
    # One attempt per request: botocore's backoff would spend a minute on the doomed uploads.
    runner = stack_v2_runner(on_s3[0].spark, on_s3[0].root, world, IDS_INDEX, stages=STAGES_ON_S3, max_attempts=1)
    runner.store.delete(runner.manifest_path("filter"))
    world.s3.proxy.faults = Faults(always={f"/{INDEX_BUCKET}/run/stages/filter/files/v-": "error_500"})
    try:
        with pytest.raises(Exception):
            runner.run(only=["filter"])
    finally:
        world.s3.proxy.faults = Faults()
    assert runner.manifest("filter") is None
    assert tables.digest(table(runner, "filter", "files")) == before

"""The blob fetcher, tables committed by manifest, and the pre-flight checks, against moto's S3 server
on loopback behind the fault-injecting proxy."""
import os

import boto3
import pytest
import yaml

from codecorpus.cli import main
from codecorpus.s3 import tables
from codecorpus.s3.fetch import BlobFetcher
from codecorpus.s3.loopback import Faults
from codecorpus.s3.preflight import check_access
from codecorpus.sources.local import file_id
from codecorpus.storage import Storage
from tests.s3_corpus import AWS_ENV, BUCKET, INDEX_BUCKET, SECRET, s3_config, start_world


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


def test_fetcher_survives_transient_faults_and_names_permanent_ones(world):
    world.s3.proxy.faults = world.faults()
    world.s3.proxy.reset_counts()
    fetcher = BlobFetcher(s3_config(world, concurrency=16), BUCKET, max_bytes=10 * 1024 * 1024)
    blobs = fetcher.fetch(r["blob_id"] for r in world.files)
    injected = world.s3.proxy.injected
    assert all(injected[k] for k in ("throttle", "error_500", "reset", "short_body", "slow")), injected
    for row in world.files:
        blob = blobs[row["blob_id"]]
        if row["blob_id"] in world.bad_blobs:
            assert (blob.rule, blob.data) == (world.bad_blobs[row["blob_id"]], None), row["path"]
        else:
            assert blob.rule is None and blob.data == world.raw[file_id(row["repo_name"], row["path"])], row["path"]
    retried = [b for b in blobs.values() if b.attempts > 1 and b.rule is None]
    assert retried, "no good blob needed a retry: the faults did not bite"


def test_a_failed_table_write_leaves_readers_on_the_previous_version(spark, world):
    world.s3.proxy.faults = Faults()
    cfg = s3_config(world, max_attempts=2)
    uri = f"s3://{INDEX_BUCKET}/tables/numbers"
    numbers = spark.range(0, 50).selectExpr("cast(id as string) as id", "id * 2 as twice")
    tables.write_table(numbers, uri, cfg, 2, ["id"])
    assert sorted(tables.read_table(spark, [uri], cfg).collect()) == sorted(numbers.collect())
    # Every upload of the next version fails (as if the writer died): the manifest must not move.
    world.s3.proxy.faults = Faults(always={f"/{INDEX_BUCKET}/tables/numbers/v-": "error_500"})
    with pytest.raises(Exception):
        tables.write_table(numbers.limit(7), uri, cfg, 2, ["id"])
    world.s3.proxy.faults = Faults()
    assert tables.read_table(spark, [uri], cfg).count() == 50
    manifest = tables.write_table(numbers.where("id < 9"), uri, cfg, 2, ["id"])
    assert tables.read_table(spark, [uri], cfg).count() == 9 and manifest["rows"] == 9
    client = boto3.client("s3", endpoint_url=world.s3.direct_endpoint, region_name="us-east-1")
    keys = {o["Key"] for o in client.list_objects_v2(Bucket=INDEX_BUCKET, Prefix="tables/numbers/")["Contents"]}
    assert keys == {"tables/numbers/_manifest.json"} | {f"tables/numbers/{o['key']}" for o in manifest["objects"]}
    text = client.get_object(Bucket=INDEX_BUCKET, Key="tables/numbers/_manifest.json")["Body"].read().decode()
    assert "127.0.0.1" not in text and SECRET not in text


def test_a_prefix_holding_only_a_killed_first_write_is_no_table(spark, world):
    """Objects a writer uploaded before it died, with no manifest naming them: the table does not
    exist, and reading it says so rather than reading the orphans."""
    world.s3.proxy.faults = Faults()
    store = Storage(spark, s3_config(world))
    client = boto3.client("s3", endpoint_url=world.s3.direct_endpoint, region_name="us-east-1")
    client.put_object(Bucket=INDEX_BUCKET, Key="tables/orphan/v-0123456789abcdef/part-00000.parquet", Body=b"PAR1")
    uri = f"s3://{INDEX_BUCKET}/tables/orphan"
    assert not store.exists(uri) and store.exists(f"s3://{INDEX_BUCKET}/tables")
    with pytest.raises(FileNotFoundError, match="not a committed table"):
        store.read_table(uri)


def test_access_check_passes_and_measures(world):
    world.s3.proxy.faults = Faults()
    report = check_access(str(world.index_dir), BUCKET, "content/{blob_id}", s3_config(world), 10 << 20)
    assert report.ok and report.fetched == report.sampled == 8 and report.compression > 1


@pytest.mark.parametrize("case, words", [
    ("no_credentials", "no AWS credentials found"),
    ("denied", "were denied"),
    ("missing_bucket", "does not exist"),
    ("wrong_region", "is in region eu-west-3"),
])
def test_access_check_says_what_is_wrong(world, monkeypatch, case, words):
    world.s3.proxy.faults = Faults()
    bucket, cfg = BUCKET, s3_config(world, max_attempts=2)
    if case == "no_credentials":
        cfg = s3_config(world, max_attempts=3)     # another config: clients are cached per config
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            monkeypatch.delenv(key)
    elif case == "denied":
        world.s3.proxy.faults = Faults(always={f"/{BUCKET}/content/": "denied"})
    elif case == "missing_bucket":
        bucket = "no-such-bucket"
    else:
        world.s3.proxy.faults = Faults(always={f"/{BUCKET}": "redirect"})
    report = check_access(str(world.index_dir), bucket, "content/{blob_id}", cfg, 10 << 20)
    assert not report.ok and words in " ".join(report.problems), report.problems
    assert not any(SECRET in p or "127.0.0.1" in p for p in report.problems)


def test_validate_and_estimate_commands(spark, world, tmp_path, capsys):
    world.s3.proxy.faults = Faults()
    config = {"run_dir": str(tmp_path / "run"), "s3": world.s3_config(),
              "sources": {"stack_v2": {"index": f"s3://{INDEX_BUCKET}/the-stack-v2-train-smol-ids/data/"}}}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["validate", str(path)]) == 0
    assert "8 of 8 sampled blobs fetched" in capsys.readouterr().out
    assert main(["estimate", str(path), "--tasks", "4"]) == 0
    out = capsys.readouterr().out
    assert f"files in the index:        {len(world.files)}" in out
    assert f"distinct blobs to fetch:   {len({r['blob_id'] for r in world.files}) - 0:,}" in out
    world.s3.proxy.faults = Faults(always={f"/{BUCKET}/content/": "denied"})
    assert main(["validate", str(path)]) == 1
    assert "were denied" in capsys.readouterr().err

"""The runner: resume, re-run on change, determinism across partitionings, kill -9 recovery,
the ledger balance check and schema checks."""
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from pyspark.sql import functions as F

from codecorpus.config import parse_config
from codecorpus.pipeline import STAGES
from codecorpus.runner import LedgerImbalance, Runner
from codecorpus.stage import Balance, Stage, StageResult
from codecorpus.tables import SchemaError
from tests.corpora import good_corpus
from tests.helpers import run_pipeline

# The stages whose work depends on partitioning (shards, shuffles, joins, groupings); the others map
# row by row. Each run costs a Spark pipeline, so the repeated runs use these.
SHUFFLING_STAGES = ["ingest", "dedup", "format"]


def tree_digest(run_dir: Path) -> dict[str, str]:
    """SHA-1 of every Parquet file of every table and ledger: byte-identity, not just equal rows."""
    files = sorted(p for sub in ("stages", "ledger") for p in (run_dir / sub).rglob("*.parquet"))
    return {str(p.relative_to(run_dir)): hashlib.sha1(p.read_bytes()).hexdigest() for p in files}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return str(good_corpus(tmp_path_factory.mktemp("corpus")))


@pytest.fixture(scope="module")
def reference_run(spark, corpus, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("reference") / "run"
    run_pipeline(spark, run_dir, [corpus], SHUFFLING_STAGES, ingest={"shards": 2})
    return run_dir


def test_same_output_whatever_the_partitioning(spark, corpus, reference_run, tmp_path):
    expected = tree_digest(reference_run)
    assert any("documents" in name for name in expected) and any("clusters" in name for name in expected)
    before = spark.conf.get("spark.sql.shuffle.partitions")
    try:
        for partitions in (1, 3, 8):
            spark.conf.set("spark.sql.shuffle.partitions", str(partitions))
            run_dir = tmp_path / f"p{partitions}"
            run_pipeline(spark, run_dir, [corpus], SHUFFLING_STAGES, ingest={"shards": partitions})
            assert tree_digest(run_dir) == expected, f"{partitions} partitions"
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", before)


def test_rerun_skips_finished_stages(spark, corpus, reference_run):
    config = parse_config({"run_dir": str(reference_run), "stages": SHUFFLING_STAGES, "files_per_table": 2,
                           "sources": {"local": [corpus]}, "ingest": {"shards": 2}})
    before = tree_digest(reference_run)
    reports = Runner(config, spark, STAGES, progress=lambda m: None).run()
    assert [r.skipped for r in reports] == [True] * len(SHUFFLING_STAGES)
    assert tree_digest(reference_run) == before


def test_config_change_reruns_that_stage_and_later_ones(spark, corpus, tmp_path):
    run_dir = tmp_path / "run"
    run_pipeline(spark, run_dir, [corpus], ["ingest", "annotate", "filter"])
    config = parse_config({"run_dir": str(run_dir), "stages": ["ingest", "annotate", "filter"],
                           "files_per_table": 2, "sources": {"local": [corpus]},
                           "filter": {"rules": {"max_line_length": 60}}})
    reports = Runner(config, spark, STAGES, progress=lambda m: None).run()
    assert [r.skipped for r in reports] == [True, True, False]
    assert reports[2].manifest["drops_by_rule"].get("max_line_length", 0) > 0


def test_a_stage_that_loses_rows_fails_loudly(spark, corpus, reference_run):
    def lossy(ctx):
        return StageResult({"files": ctx.inputs["files"].where(F.col("path") != "decoder.py")})
    stages = {**STAGES, "filter": Stage("filter", ("files",), ("files",), lossy, (), (Balance("files", "files"),))}
    config = parse_config({"run_dir": str(reference_run) + "-lossy", "stages": ["ingest", "filter"],
                           "files_per_table": 2, "sources": {"local": [corpus]}})
    with pytest.raises(LedgerImbalance, match="reached neither files nor the ledger"):
        Runner(config, spark, stages, progress=lambda m: None).run()


def test_a_table_off_its_schema_fails_fast(spark, corpus, reference_run):
    def extra_column(ctx):
        return StageResult({"files": ctx.inputs["files"].withColumn("colour", F.lit("red"))})
    stages = {**STAGES, "filter": Stage("filter", ("files",), ("files",), extra_column)}
    config = parse_config({"run_dir": str(reference_run) + "-schema", "stages": ["ingest", "filter"],
                           "files_per_table": 2, "sources": {"local": [corpus]}})
    with pytest.raises(SchemaError, match="'colour'"):
        Runner(config, spark, stages, progress=lambda m: None).run()


def test_killed_run_resumes_to_identical_outputs(spark, corpus, reference_run, tmp_path):
    """kill -9 the CLI once the first ingest shard is committed; the re-run finishes the job and
    the final tables are byte-identical to an uninterrupted run."""
    run_dir = tmp_path / "killed"
    config = {"run_dir": str(run_dir), "stages": SHUFFLING_STAGES, "files_per_table": 2,
              "sources": {"local": [corpus]}, "ingest": {"shards": 2},
              "spark_master": "local[2]", "spark_conf": {"spark.sql.shuffle.partitions": "4",
                                                         "spark.ui.enabled": "false"}}
    config_path = tmp_path / "run.yaml"
    config_path.write_text(yaml.safe_dump(config))
    process = subprocess.Popen([sys.executable, "-m", "codecorpus.cli", "run", str(config_path)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    try:
        while not list(run_dir.glob("work/ingest-*/shard-*/_COMMITTED")):
            assert process.poll() is None, "the run ended before it could be killed"
            assert time.time() < deadline, "no shard was committed in time"
            time.sleep(0.2)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert not (run_dir / "manifests" / "ingest.json").exists()
    run_pipeline(spark, run_dir, [corpus], SHUFFLING_STAGES, ingest={"shards": 2})
    assert tree_digest(run_dir) == tree_digest(reference_run)

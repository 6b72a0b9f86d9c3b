"""One SparkSession for the whole test run: local[2], few shuffle partitions, no UI, and a small
driver result limit so any accidental collect() of file data fails loudly."""
import pytest

from codecorpus.config import parse_config
from codecorpus.pipeline import STAGES
from codecorpus.runner import Runner
from codecorpus.session import get_spark

TEST_CONF = {
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "4",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.maxResultSize": "8m",
}


@pytest.fixture(scope="session")
def spark():
    session = get_spark(master="local[2]", conf=TEST_CONF, app_name="codecorpus-tests")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def sample_run(spark, tmp_path_factory):
    """Every stage on the small built-in sample corpus, once per test session (tests only read it)."""
    config = parse_config({"run_dir": str(tmp_path_factory.mktemp("sample") / "run"),
                           "sources": {"sample": "small"}, "files_per_table": 2, "ingest": {"shards": 2},
                           # a small tokenizer trains in seconds; the format is the same
                           "tokenizer": {"vocab_size": 2000, "train_sample_chars": 3_000_000}})
    runner = Runner(config, spark, STAGES, progress=lambda message: None)
    runner.run()
    return runner

"""One SparkSession for the whole test run: local[2], few shuffle partitions, no UI, and a small
driver result limit so any accidental collect() of file data fails loudly."""
import pytest

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

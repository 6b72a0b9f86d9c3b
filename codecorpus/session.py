"""The SparkSession: local mode by default, the cluster's own when launched by spark-submit."""
from __future__ import annotations

import os
import sys

from pyspark.sql import SparkSession

DEFAULT_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.parquet.compression.codec": "zstd",
    "spark.sql.adaptive.enabled": "true",
}


def launched_by_spark_submit() -> bool:
    # spark-submit starts the Python driver itself and hands it the JVM gateway through these variables.
    return "PYSPARK_GATEWAY_PORT" in os.environ


def get_spark(master: str | None = None, conf: dict[str, str] | None = None,
              app_name: str = "codecorpus") -> SparkSession:
    """Return the active session, or start one.

    Under spark-submit the launcher's master and settings win; otherwise a local session starts on
    ``master`` (default ``local[*]``) with 6g of driver memory, enough for the sample corpora.
    """
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.appName(app_name)
    settings = dict(DEFAULT_CONF)
    if not launched_by_spark_submit():
        builder = builder.master(master or "local[*]")
        settings["spark.driver.memory"] = "6g"
    settings.update(conf or {})
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark

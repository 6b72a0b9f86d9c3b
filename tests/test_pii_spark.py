"""The pii stage function on the shared Spark session: rows and ids kept, redactions recorded."""
from __future__ import annotations

import hashlib
import sysconfig
from pathlib import Path

from pyspark.sql import functions as F

from codecorpus import tokens
from codecorpus.pii.config import PiiConfig
from codecorpus.pii.redact import redact_files
from codecorpus.tables import spark_schema

SITE = Path(sysconfig.get_paths()["purelib"])
# Real files with real PII-looking content (a test CA key, public IPs in AWS docs, author emails).
FILES = ["moto/moto_proxy/ca.key", "botocore/data/ec2/2016-04-01/examples-1.json",
         "nltk/parse/generate.py", "fsspec/implementations/smb.py", "moto/rds/models.py",
         "cryptography/hazmat/primitives/serialization/ssh.py", "six.py", "typing_extensions.py"]


def _files(spark):
    rows = []
    for rel in FILES:
        path = SITE / rel
        if path.is_file():
            rows.append((hashlib.sha1(f"site\0{rel}".encode()).hexdigest(), rel, path.read_text(encoding="utf-8")))
    return spark.createDataFrame(rows, "file_id string, path string, content string").repartition(3)


def test_redact_files_keeps_rows_and_ids_and_records_pii(spark):
    files = _files(spark)
    redacted, pii, dropped = redact_files(files, PiiConfig(), seed=11)
    assert redacted.columns == files.columns
    assert redacted.count() == files.count() and dropped.count() == 0
    assert redacted.select("file_id").subtract(files.select("file_id")).count() == 0
    assert set(pii.columns) == set(spark_schema("pii").fieldNames())
    kinds = {r.kind for r in pii.select("kind").distinct().toLocalIterator()}
    assert {"key", "ip_address", "email", "password"} <= kinds
    key = redacted.where(F.col("path") == "moto/moto_proxy/ca.key").select("content")
    assert key.where(F.col("content").contains(tokens.KEY)).count() == 1


def test_redaction_does_not_depend_on_partitioning(spark):
    files = _files(spark)
    one = redact_files(files.coalesce(1), PiiConfig(), seed=5)[0]
    many = redact_files(files.repartition(4), PiiConfig(), seed=5)[0]
    digest = lambda df: df.select(F.sha2(F.concat_ws("|", "file_id", "content"), 256).alias("h"))
    assert digest(one).exceptAll(digest(many)).count() == 0
    assert digest(many).exceptAll(digest(one)).count() == 0


def test_file_past_the_time_limit_is_dropped_with_a_ledger_row(spark):
    files = _files(spark)
    redacted, pii, dropped = redact_files(files, PiiConfig(max_seconds_per_file=1e-9), seed=1)
    # Every file with at least one anchor window looks at the clock and runs out of time.
    assert redacted.count() + dropped.count() == files.count()
    assert dropped.count() > 0
    assert {r.rule for r in dropped.select("rule").distinct().toLocalIterator()} == {"pii_timeout"}

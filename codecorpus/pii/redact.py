"""Redact PII in place, StarCoder2's way, and record every redaction in the `pii` table.

Emails become `<EMAIL>`, keys and tokens `<KEY>`, passwords `<PASSWORD>`; an IP address becomes one of
StarPII's five private addresses of the same version, the same original always mapped to the same
replacement within a file, drawn from an RNG seeded by (run seed, file_id) so the output does not depend
on partitioning. The `pii` table holds (file_id, kind, start, end, detector) with offsets into the
original content: never the secret itself.
"""
from __future__ import annotations

import random
import time
from typing import Iterator

import pyarrow as pa
from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from codecorpus import tokens
from codecorpus.ledger import rejects
from codecorpus.pii.config import PiiConfig
from codecorpus.pii.detect import Finding, ScanTimeout, find_pii

# StarPII's replacement addresses (bigcode-dataset pii/ner/pii_redaction/replacements.json).
IPV4_REPLACEMENTS = ("172.16.31.10", "172.16.58.3", "172.16.17.32", "192.168.127.12", "192.168.3.11")
IPV6_REPLACEMENTS = ("fd00:c2b6:b24b:be67:2827:688d:e6a1:6a3b", "fd00:a516:7c1b:17cd:6d81:2137:bd2a:2c5b",
                     "fc00:e968:6179::de52:7100", "fc00:db20:35b:7399::5", "fdf8:f53e:61e4::18")
TAGS = {"email": tokens.EMAIL, "key": tokens.KEY, "password": tokens.PASSWORD}

SPAN = T.StructType([
    T.StructField("kind", T.StringType(), False),
    T.StructField("start", T.IntegerType(), False),
    T.StructField("end", T.IntegerType(), False),
    T.StructField("detector", T.StringType(), False),
])
PII_COLUMNS = ("file_id", "kind", "start", "end", "detector")
TIMEOUT_RULE = "pii_timeout"


def file_rng(seed: int, file_id: str) -> random.Random:
    # A str seed is hashed with SHA-512 by random.Random: stable across processes and hash seeds.
    return random.Random(f"pii:{seed}:{file_id}")


def redact_text(text: str, findings: list[Finding], seed: int, file_id: str) -> str:
    """``text`` with every finding replaced; IPs map consistently within the file."""
    rng = file_rng(seed, file_id)
    ip_map: dict[str, str] = {}
    parts, last = [], 0
    for f in findings:
        original = text[f.start:f.end]
        if f.kind == "ip_address":
            if original not in ip_map:
                pool = IPV6_REPLACEMENTS if ":" in original else IPV4_REPLACEMENTS
                ip_map[original] = rng.choice(pool)
            replacement = ip_map[original]
        else:
            replacement = TAGS[f.kind]
        parts += [text[last:f.start], replacement]
        last = f.end
    parts.append(text[last:])
    return "".join(parts)


def _redact_batches(batches: Iterator[pa.RecordBatch], cfg: PiiConfig, seed: int,
                    out_schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        contents = batch.column("content").to_pylist()
        file_ids = batch.column("file_id").to_pylist()
        paths = batch.column("path").to_pylist() if "path" in batch.schema.names else [None] * len(file_ids)
        new_contents, spans, timeouts = [], [], []
        for text, file_id, path in zip(contents, file_ids, paths):
            started = time.perf_counter()
            try:
                found = find_pii(text, cfg, path) if text else []
                new_contents.append(redact_text(text, found, seed, file_id) if found else text)
                spans.append([{"kind": f.kind, "start": f.start, "end": f.end, "detector": f.detector}
                              for f in found])
                timeouts.append(None)
            except ScanTimeout:
                new_contents.append(text)
                spans.append([])
                timeouts.append(round(time.perf_counter() - started, 3))
        columns = [batch.column(name) if name != "content" else pa.array(new_contents, pa.string())
                   for name in batch.schema.names]
        columns.append(pa.array(spans, out_schema.field("pii_spans").type))
        columns.append(pa.array(timeouts, pa.float64()))
        yield pa.RecordBatch.from_arrays(columns, schema=out_schema)


def scan_files(files: DataFrame, cfg: PiiConfig, seed: int) -> DataFrame:
    """``files`` with content redacted, plus `pii_spans` and `pii_timeout_s` (null unless it timed out)."""
    schema = T.StructType(files.schema.fields + [
        T.StructField("pii_spans", T.ArrayType(SPAN, False), False),
        T.StructField("pii_timeout_s", T.DoubleType(), True),
    ])
    from pyspark.sql.pandas.types import to_arrow_schema
    arrow_schema = to_arrow_schema(schema, timezone="UTC")  # timestamps as Spark sends them
    return files.mapInArrow(lambda it: _redact_batches(it, cfg, seed, arrow_schema), schema)


def redact_files(files: DataFrame, cfg: PiiConfig, seed: int) -> tuple[DataFrame, DataFrame, DataFrame]:
    """(redacted_files, pii, rejects).

    redacted_files: same columns as ``files``, content redacted in place, minus files whose scan ran past
    ``cfg.max_seconds_per_file``; those come back as ledger rows (rule ``pii_timeout``, value = seconds).
    pii: one row per redaction (schemas/pii.json). The scan runs once: its result is persisted because
    all three frames derive from it (the caller may ``unpersist`` the files frame's parent after writing).
    """
    if not cfg.enabled:
        empty = files.sparkSession.createDataFrame([], pii_schema())
        return files, empty, rejects(files.limit(0), rule=TIMEOUT_RULE)
    scanned = scan_files(files, cfg, seed).persist(StorageLevel.MEMORY_AND_DISK)
    timed_out = F.col("pii_timeout_s").isNotNull()
    redacted = scanned.where(~timed_out).select(*files.columns)
    pii = (scanned.where(~timed_out)
           .select("file_id", F.explode("pii_spans").alias("s"))
           .select("file_id", "s.kind", "s.start", "s.end", "s.detector"))
    dropped = rejects(scanned.where(timed_out), rule=TIMEOUT_RULE, value=F.col("pii_timeout_s"))
    return redacted, pii, dropped


def pii_schema() -> T.StructType:
    return T.StructType([T.StructField("file_id", T.StringType(), False)] + list(SPAN.fields))

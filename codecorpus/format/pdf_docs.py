"""PDF documentation (reference §1.5: CRAN manuals, free programming books) as text with poppler's
``pdftotext``, one ``documentation`` document per PDF, inside Spark tasks.

PDFs are binary, so ingest never puts them in ``files``: the docs stage reads the PDFs named by
``docs.pdfs`` (files, folders or globs, any Hadoop path) with Spark's ``binaryFile`` source. Each is
converted by ``pdftotext -enc UTF-8`` in a subprocess under ``docs.timeout_seconds``; pages (form feeds)
are joined by a blank line. Without ``pdftotext`` (Debian package ``poppler-utils``) the stage says so
once and each PDF gets a ``pdftotext_missing`` ledger row; the run goes on.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import pandas as pd
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from codecorpus import tables, tokens
from codecorpus.ledger import rejects

TOOL_MISSING = "pdftotext_missing"
EXTRACTION_FAILED = "pdf_extraction_failed"   # pdftotext failed or timed out (encrypted, corrupt)
NO_TEXT = "pdf_no_text"                        # no text layer (scanned or image-only)


def missing_tool_message(tool: str) -> str:
    return (f"{tool} is not installed, so PDF documentation is not converted: install the Debian package "
            "`poppler-utils` (apt-get install -y poppler-utils) or set docs.pdftotext to its path")


def pdf_text(data: bytes, tool: str, timeout: float) -> str:
    """The PDF's text, pages joined by a blank line; raises RuntimeError with pdftotext's message."""
    with tempfile.TemporaryDirectory(prefix="codecorpus-pdf-") as work:
        source = Path(work, "in.pdf")
        source.write_bytes(data)
        try:
            done = subprocess.run([tool, "-enc", "UTF-8", str(source), "-"], capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"pdftotext took longer than docs.timeout_seconds={timeout:g}") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines() or [f"exit status {done.returncode}"]
        raise RuntimeError(f"pdftotext: {message[-1]}")
    pages = done.stdout.decode("utf-8", "replace").split("\f")
    return "\n\n".join(page.strip() for page in pages if page.strip())


PDF_DDL = ("doc_id string, source string, languages array<string>, text string, n_chars bigint, "
           "source_ids array<string>, metadata string, id string, rule string, value string, detail string")
PDF_COLUMNS = [c.split()[0] for c in PDF_DDL.split(", ")]


def _convert_batches(batches: Iterator[pd.DataFrame], tool: str, timeout: float, min_chars: int):
    found = shutil.which(tool)
    for batch in batches:
        rows = []
        for path, data in zip(batch["path"], batch["content"]):
            row = dict.fromkeys(PDF_COLUMNS) | {"id": path}
            try:
                if found is None:
                    raise FileNotFoundError(missing_tool_message(tool))
                text = pdf_text(bytes(data), found, timeout)
            except FileNotFoundError as exc:
                row |= {"rule": TOOL_MISSING, "value": tool, "detail": str(exc)}
            except RuntimeError as exc:
                row |= {"rule": EXTRACTION_FAILED, "value": str(len(data)), "detail": f"{path}: {exc}"[:1000]}
            else:
                if len(text) < min_chars:
                    row |= {"rule": NO_TEXT, "value": str(len(text)), "detail": f"{path}: no text layer"}
                else:
                    text += tokens.ENDOFTEXT
                    row |= {"doc_id": hashlib.sha1(f"{path}\0pdf".encode()).hexdigest(), "source": "documentation",
                            "languages": ["Text"], "text": text, "n_chars": len(text), "source_ids": [path],
                            "metadata": json.dumps({"pdf": path, "bytes": len(data)}, sort_keys=True)}
            rows.append(row)
        yield pd.DataFrame(rows, columns=PDF_COLUMNS)


def pdf_documents(spark: SparkSession, paths: list[str], tool: str, timeout: float, min_chars: int
                  ) -> tuple[DataFrame, DataFrame]:
    """One document per PDF of ``paths`` with text, and ledger rows (id_kind pdf) for the others."""
    if shutil.which(tool) is None:   # said once on the driver; each PDF also gets its ledger row
        print(f"[docs] {missing_tool_message(tool)}; those PDFs go to the ledger as {TOOL_MISSING}")
    raw = (spark.read.format("binaryFile").option("recursiveFileLookup", "true")
           .option("pathGlobFilter", "*.[pP][dD][fF]").load(paths).select("path", "content"))
    results = (raw.mapInPandas(lambda it: _convert_batches(it, tool, timeout, min_chars), PDF_DDL)
               .persist(StorageLevel.DISK_ONLY))   # read for documents and ledger rows
    documents = tables.conform(results.where(F.col("rule").isNull()), "documents")
    return documents, rejects(results.where(F.col("rule").isNotNull()), F.col("rule"), F.col("value"),
                              F.col("detail"), id_col="id", id_kind="pdf")

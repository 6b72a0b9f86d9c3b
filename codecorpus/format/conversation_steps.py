"""The corpus-wide steps StarCoder2 applied to pull requests and issues (reference §2.9, the paper's Table 3:
dedup, malware, decontamination, opt-out, PII), run on the rendered documents by the conversations stage
with the code steps' own functions and config sections:

- opt-out (``filter.opt_out``): in the PR and issue rules themselves (pull_requests.py, issues.py);
- decontamination (``filter.decontamination``): the filter stage's benchmark matcher on the document
  text; ledger rule ``decontamination``, value the task id;
- PII (``pii``): the pii stage's detector and replacements, on each text between two special tokens
  (titles, descriptions, comments, base code, diffs), so no span crosses a token; usernames are already
  ``username_i``. ``pii`` rows as the pii stage writes them, ``file_id`` = the doc_id and offsets into
  the document before redaction; a scan past ``pii.max_seconds_per_file`` drops it: ``pii_timeout``;
- near-dedup (``dedup``): MinHash LSH, connected components and the verified survivors of
  codecorpus.dedup over document texts; ``near_dup``, value the surviving thread. Survivors follow The
  Stack v2's ranking: license type, then the latest activity (the thread's last event), then doc_id;
- malware: not done; codecorpus has no malware scan for any source yet.

A document dropped here is one ledger row for its PR or issue and one per event it rendered.
"""
from __future__ import annotations

import re
from typing import Iterator

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from codecorpus import tokens
from codecorpus.dedup.config import DedupConfig
from codecorpus.dedup.near import near_dedup
from codecorpus.filters.decontaminate import first_hits
from codecorpus.pii.config import PiiConfig
from codecorpus.pii.detect import Finding, ScanTimeout, find_pii
from codecorpus.pii.redact import redact_text

_TOKEN = re.compile("|".join(re.escape(t) for t in tokens.FORMAT_TOKENS))
_CODE_TOKENS = (tokens.PR_BASE_CODE, tokens.PR_DIFF_HUNK)
SPAN_TYPE = "array<struct<kind:string,start:int,end:int,detector:string>>"


def text_spans(text: str) -> Iterator[tuple[int, int, str | None]]:
    """(start, end, path) of every text between special tokens; ``path`` is the file a code or hunk
    text belongs to (the detector knows lock files by name), None for conversation text."""
    pos, last, path = 0, None, None
    for match in list(_TOKEN.finditer(text)) + [None]:
        end = match.start() if match else len(text)
        if last == tokens.PR_FILE:
            path = text[pos:end]
        if end > pos:
            yield pos, end, path if last in _CODE_TOKENS else None
        if match:
            pos, last = match.end(), match.group()


def redact_document(text: str, cfg: PiiConfig, seed: int, doc_id: str) -> tuple[str, list[dict]]:
    """(redacted text, pii spans into the original); raises ScanTimeout from the detector."""
    found = [Finding(f.start + start, f.end + start, f.kind, f.detector)
             for start, end, path in text_spans(text) for f in find_pii(text[start:end], cfg, path)]
    spans = [{"kind": f.kind, "start": f.start, "end": f.end, "detector": f.detector} for f in found]
    return (redact_text(text, found, seed, doc_id) if found else text), spans


def screen_documents(rows: list[dict], patterns: list, pii: PiiConfig, seed: int) -> list[dict]:
    """One batch's output rows with decontamination and PII applied to its documents: a contaminated or
    timed-out document leaves with its PR/issue row, replaced by ledger rows."""
    docs = [r for r in rows if r["kind"] == "document"]
    hits = first_hits([d["text"] for d in docs], patterns) if patterns else [None] * len(docs)
    dropped: dict[str, tuple[str, str, str | None]] = {}
    for doc, hit in zip(docs, hits):
        if hit:
            dropped[doc["doc_id"]] = ("decontamination", hit[1], hit[0])
        elif pii.enabled:
            try:
                doc["text"], doc["pii_spans"] = redact_document(doc["text"], pii, seed, doc["doc_id"])
            except ScanTimeout as timeout:
                dropped[doc["doc_id"]] = ("pii_timeout", f"{timeout.seconds:.3f}", None)
    n_chars = {d["doc_id"]: len(d["text"]) for d in docs}
    out = []
    for row in rows:
        doc_id = row.get("doc_id")
        if row["kind"] != "ledger" and doc_id in dropped:
            if row["kind"] == "document":
                rule, value, detail = dropped[doc_id]
                thread = row.get("pr_id") or row.get("issue_id")
                out.append({"kind": "ledger", "id": thread, "id_kind": row["source"], "rule": rule, "value": value,
                            "detail": detail})
                out += [{"kind": "ledger", "id": e, "id_kind": "event", "rule": rule, "value": value, "detail": thread}
                        for e in row["source_ids"]]
            continue
        if doc_id in n_chars and row["kind"] != "ledger":
            row["n_chars"] = n_chars[doc_id]
        out.append(row)
    return out


def near_dup_documents(docs: DataFrame, cfg: DedupConfig, checkpoint_dir: str) -> tuple[DataFrame, DataFrame]:
    """(doc_ids kept, ledger rows) of near-dedup over ``docs`` (output rows of kind document)."""
    thread = F.coalesce("pr_id", "issue_id")
    as_files = docs.select(
        F.col("doc_id").alias("file_id"), F.col("text").alias("content"), "repo_name", thread.alias("path"),
        "license_type", F.lit(None).cast("bigint").alias("star_events_count"),
        F.lit(None).cast("bigint").alias("fork_events_count"),
        F.to_timestamp(F.get_json_object("metadata", "$.last_event")).alias("revision_date"),
        F.lit(None).cast("timestamp").alias("visit_date"))
    kept, _clusters, removed = near_dedup(as_files, cfg, checkpoint_dir)
    info = docs.select(F.col("doc_id").alias("id"), thread.alias("thread"), "source", "source_ids")
    survivor = docs.select(F.col("doc_id").alias("value"), thread.alias("kept_thread"))
    gone = (removed.join(info, "id").join(survivor, "value")
            .select("thread", "source", "source_ids", "kept_thread",
                    F.regexp_extract("detail", r"\S*jaccard=\S+", 0).alias("similarity")))
    ledger = gone.select(F.col("thread").alias("id"), F.col("source").alias("id_kind"), F.lit(None).cast("string").alias("stage"),
                         F.lit("near_dup").alias("rule"), F.col("kept_thread").alias("value"), F.col("similarity").alias("detail"))
    events = gone.select(F.explode("source_ids").alias("id"), F.lit("event").alias("id_kind"),
                         F.lit(None).cast("string").alias("stage"), F.lit("near_dup").alias("rule"),
                         F.col("kept_thread").alias("value"), F.col("thread").alias("detail"))
    return kept.select(F.col("file_id").alias("doc_id")), ledger.unionByName(events)

"""The ``conversations`` stage's Spark side: events grouped into pull requests and issues, each PR's
commit pairs resolved to their changed files (codecorpus.sources.commits: the run's files table, git
clones or Software Heritage blobs), then ``pull_requests.py`` and ``issues.py`` run on Arrow batches,
one thread at a time, and the documents go through the corpus-wide steps of ``conversation_steps.py``
(decontamination, PII redaction, near-dedup).

Outputs ``pull_requests``, ``issues``, their ``documents`` (rows of the documents table, sources
``pull_request`` and ``issue``, ``source_ids`` = the events rendered) and the ``pii`` rows of those
documents; every other event, every dropped PR, issue and base file is a ledger row.
"""
from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Iterator

import pyarrow as pa
from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from codecorpus import tables
from codecorpus.filters.config import OptOutConfig
from codecorpus.filters.decontaminate import benchmark_patterns
from codecorpus.filters.optout import load_opt_out
from codecorpus.format.conversation_config import ConversationsConfig
from codecorpus.format.conversation_steps import SPAN_TYPE, near_dup_documents, screen_documents
from codecorpus.format.issues import render_issue
from codecorpus.format.pull_requests import render_pull_request
from codecorpus.format.repo_context import rng_for
from codecorpus.ledger import union_all
from codecorpus.pii.config import PiiConfig
from codecorpus.sources.commits import PAIR_KEYS, changed_files

if TYPE_CHECKING:
    from codecorpus.config import RunConfig


EVENT_FIELDS = ("event_id", "type", "action", "repo_name", "actor", "created_at", "payload")


def _columns(*names: str) -> list[tuple[str, str]]:
    out = {}
    for name in names:
        for f in tables.schema_doc(name)["fields"]:
            out.setdefault(f["name"], f["type"])
    return list(out.items())


OUT_COLUMNS = ([("kind", "string")] + _columns("pull_requests", "issues", "documents", "ledger")
               + [("pii_spans", SPAN_TYPE)])
OUT_DDL = ", ".join(f"{n} {t}" for n, t in OUT_COLUMNS)
_SPAN = pa.list_(pa.struct([("kind", pa.string()), ("start", pa.int32()), ("end", pa.int32()), ("detector", pa.string())]))
_ARROW = {"string": pa.string(), "bigint": pa.int64(), "boolean": pa.bool_(), "array<string>": pa.list_(pa.string()),
          SPAN_TYPE: _SPAN}
OUT_SCHEMA = pa.schema([(n, _ARROW[t]) for n, t in OUT_COLUMNS])


def opt_out_sets(cfg: OptOutConfig) -> tuple[set[str], set[str]]:
    """(owners, owner/repo names) opted out, lowercased: the filter stage's list serves PRs and issues."""
    entries = load_opt_out(cfg)
    return {k for kind, k in entries if kind == "owner"}, {k for kind, k in entries if kind == "repo"}


# ------------------------------------------------------------------------------ Spark side

def pr_commits(events: DataFrame, files: DataFrame, config: RunConfig) -> tuple[DataFrame, DataFrame]:
    """(per PR (thread_id): its commit pairs, the snapshots they resolve to and the changed files; ledger
    rows of commits and files that could not be had)."""
    field = lambda k: F.coalesce(F.get_json_object("payload", f"$.{k}"), F.lit("")).alias(k)   # noqa: E731
    pairs = (events.where(F.col("thread_kind") == "pull_request")
             .select("thread_id", *[field(k) for k in PAIR_KEYS])
             .where((F.col("base_sha") != "") & (F.col("head_sha") != "")).distinct())
    cfg = config.conversations
    changed, ledger = changed_files(pairs.select(*PAIR_KEYS).distinct(), files, cfg.contents,
                                    cfg.pull_requests.snapshots, config.s3)
    commits = (pairs.join(changed, PAIR_KEYS, "left")
               .groupBy("thread_id").agg(F.collect_list(F.struct(
                   "base_sha", "head_sha", "base_files_repo", "head_files_repo", "files")).alias("commits")))
    return commits, ledger


def threads(events: DataFrame, commits: DataFrame) -> DataFrame:
    """One row per PR or issue: its events, its repository's PR count, and (PRs) its commits."""
    grouped = events.groupBy("thread_kind", "thread_id").agg(
        F.first("repo_name").alias("repo_name"),   # every event of a thread has the same repo
        F.collect_list(F.struct(*EVENT_FIELDS)).alias("events"))
    repo_prs = (events.where(F.col("thread_kind") == "pull_request").select("repo_name", "thread_id").distinct()
                .groupBy("repo_name").agg(F.count(F.lit(1)).alias("repo_prs")))
    return (grouped.join(repo_prs, "repo_name", "left").join(commits, "thread_id", "left")
            .select("thread_kind", "thread_id", "events", "repo_prs", "commits"))


def conversation_tables(events: DataFrame, files: DataFrame, config: RunConfig,
                        scratch_dir: str) -> tuple[dict[str, DataFrame], DataFrame]:
    """({pull_requests, issues, documents, pii}, ledger rows)."""
    cfg, seed = config.conversations, config.seed
    owners_repos = opt_out_sets(config.filter.opt_out)
    decontamination = config.filter.decontamination
    patterns = benchmark_patterns(decontamination) if decontamination.enabled else []
    commits, commit_ledger = pr_commits(events, files, config)
    pii = config.pii
    rows = (threads(events, commits)
            .mapInArrow(lambda batches: _render_batches(batches, cfg, owners_repos, seed, patterns, pii), OUT_DDL)
            .persist(StorageLevel.DISK_ONLY))
    rejects = [commit_ledger, tables.conform(rows.where(F.col("kind") == "ledger"), "ledger")]
    docs = rows.where(F.col("kind") == "document")
    if config.dedup.near:
        kept, near_ledger = near_dup_documents(docs, config.dedup, f"{scratch_dir}/near_dup")
        rejects.append(near_ledger)
        docs = docs.join(kept, "doc_id", "left_semi")
    pick = lambda kind, table: tables.conform(   # noqa: E731
        rows.where(F.col("kind") == kind).join(docs.select("doc_id"), "doc_id", "left_semi"), table)
    spans = docs.select(F.col("doc_id").alias("file_id"), F.explode("pii_spans").alias("s")).select("file_id", "s.*")
    return ({"pull_requests": pick("pull_request", "pull_requests"), "issues": pick("issue", "issues"),
             "conversation_documents": tables.conform(docs, "documents"), "pii": tables.conform(spans, "pii")},
            union_all(rejects))


# ------------------------------------------------------------------------------ Python side

def doc_id(kind: str, thread_id: str) -> str:
    return hashlib.sha1(f"{kind}\0{thread_id}".encode()).hexdigest()


def thread_rows(thread: dict, cfg: ConversationsConfig, opt_out: tuple[set[str], set[str]], seed: int) -> list[dict]:
    """Output rows (kind pull_request/issue + document, and ledger) of one thread."""
    kind, thread_id = thread["thread_kind"], thread["thread_id"]
    if kind == "pull_request":
        outcome = render_pull_request(thread_id, thread["events"], thread["commits"] or [], thread["repo_prs"] or 0,
                                      rng_for(seed, thread_id), cfg.pull_requests, opt_out)
    else:
        outcome = render_issue(thread_id, thread["events"], cfg.issues, opt_out)
    out = [{"kind": "ledger", **row} for row in outcome.ledger]
    if outcome.text is None:
        return out
    info, number = outcome.info, int(thread_id.rsplit("#", 1)[1])
    doc = doc_id(kind, thread_id)
    users = info.pop("users")
    rendered = set(outcome.rendered)
    last = max(e["created_at"] for e in thread["events"] if e["event_id"] in rendered)
    meta = {"seed": seed, thread_kind_key(kind): thread_id, "last_event": last.isoformat(),
            **{k: v for k, v in info.items() if k in ("windows", "closed", "merged")}}
    out.append({"kind": "document", "doc_id": doc, "source": kind, "repo_name": info["repo_name"],
                thread_kind_key(kind): thread_id, "license_type": info.get("license_type"),
                "languages": info.get("languages", []), "text": outcome.text, "n_chars": len(outcome.text),
                "source_ids": outcome.rendered, "metadata": json.dumps(meta, sort_keys=True)})
    common = {"kind": kind, "repo_name": info["repo_name"], "number": number, "title": info["title"],
              "event_ids": outcome.rendered, "users": users, "doc_id": doc, "n_chars": len(outcome.text)}
    if kind == "pull_request":
        out.append({**common, "pr_id": thread_id, **{k: info[k] for k in (
            "merged", "approved", "license_type", "base_snapshot", "head_snapshots", "files_changed")}})
    else:
        out.append({**common, "issue_id": thread_id, "closed": info["closed"], "text_chars": info["text_chars"]})
    return out


def thread_kind_key(kind: str) -> str:
    return "pr_id" if kind == "pull_request" else "issue_id"


def _render_batches(batches: Iterator[pa.RecordBatch], cfg: ConversationsConfig, opt_out: tuple[set[str], set[str]],
                    seed: int, patterns: list, pii: PiiConfig) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        rows = [row for thread in batch.to_pylist() for row in thread_rows(thread, cfg, opt_out, seed)]
        yield pa.RecordBatch.from_pylist(screen_documents(rows, patterns, pii, seed), schema=OUT_SCHEMA)

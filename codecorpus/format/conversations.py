"""The ``conversations`` stage's Spark side: events grouped into pull requests and issues, each PR's
commit pairs resolved to snapshots of the ``files`` table with the files that differ, then
``pull_requests.py`` and ``issues.py`` run on Arrow batches, one thread at a time.

Outputs ``pull_requests``, ``issues`` and their ``documents`` (rows of the documents table, sources
``pull_request`` and ``issue``, ``source_ids`` = the events rendered); every other event, every dropped
PR, issue and base file is a ledger row.

Snapshots: a commit ``owner/repo@sha`` is found through ``conversations.pull_requests.snapshots`` (config,
mapping it to a files-table ``repo_name``), else as the files-table repository whose ``revision_id`` is
that sha (a git repository ingested at that commit). Changed files are computed once per distinct
(base snapshot, head snapshot) pair and shared by the PRs that have it.
"""
from __future__ import annotations

import hashlib
import json
from typing import Iterator

import pyarrow as pa
from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from codecorpus import tables
from codecorpus.filters.config import OptOutConfig
from codecorpus.filters.optout import load_opt_out
from codecorpus.format.conversation_config import ConversationsConfig
from codecorpus.format.issues import render_issue
from codecorpus.format.pull_requests import render_pull_request
from codecorpus.format.repo_context import rng_for


EVENT_FIELDS = ("event_id", "type", "action", "repo_name", "actor", "created_at", "payload")


def _columns(*names: str) -> list[tuple[str, str]]:
    out = {}
    for name in names:
        for f in tables.schema_doc(name)["fields"]:
            out.setdefault(f["name"], f["type"])
    return list(out.items())


OUT_COLUMNS = [("kind", "string")] + _columns("pull_requests", "issues", "documents", "ledger")
OUT_DDL = ", ".join(f"{n} {t}" for n, t in OUT_COLUMNS)
_ARROW = {"string": pa.string(), "bigint": pa.int64(), "boolean": pa.bool_(), "array<string>": pa.list_(pa.string())}
OUT_SCHEMA = pa.schema([(n, _ARROW[t]) for n, t in OUT_COLUMNS])


def opt_out_sets(cfg: OptOutConfig) -> tuple[set[str], set[str]]:
    """(owners, owner/repo names) opted out, lowercased: the filter stage's list serves PRs and issues."""
    entries = load_opt_out(cfg)
    return {k for kind, k in entries if kind == "owner"}, {k for kind, k in entries if kind == "repo"}


# ------------------------------------------------------------------------------ Spark side

def pr_commits(events: DataFrame, files: DataFrame, snapshots: dict[str, str]) -> DataFrame:
    """Per PR (thread_id): its commit pairs, the snapshots they resolve to, and the changed files."""
    spark = events.sparkSession
    field = lambda k: F.get_json_object("payload", f"$.{k}").alias(k)   # noqa: E731
    pairs = (events.where(F.col("thread_kind") == "pull_request")
             .select("thread_id", *[field(k) for k in ("base_repo", "base_sha", "head_repo", "head_sha")])
             .where(F.col("base_sha").isNotNull() & F.col("head_sha").isNotNull()).distinct())
    mapped = spark.createDataFrame(sorted(snapshots.items()) or [("", "")], "key string, mapped string")
    by_revision = (files.where(F.col("revision_id").isNotNull())
                   .groupBy(F.col("revision_id").alias("sha")).agg(F.min("repo_name").alias("by_rev")))
    for side in ("base", "head"):
        key = F.concat_ws("@", f"{side}_repo", f"{side}_sha")
        pairs = (pairs.join(F.broadcast(mapped), key == F.col("key"), "left")
                 .join(by_revision, F.col(f"{side}_sha") == F.col("sha"), "left")
                 .withColumn(f"{side}_files_repo", F.coalesce("mapped", "by_rev"))
                 .drop("key", "mapped", "sha", "by_rev"))
    snap = (pairs.where(F.col("base_files_repo").isNotNull() & F.col("head_files_repo").isNotNull())
            .select("base_files_repo", "head_files_repo").distinct())
    base = snap.join(files.select(F.col("repo_name").alias("base_files_repo"), "path",
                                  F.col("content").alias("base_content"), F.col("language").alias("base_language")),
                     "base_files_repo")
    head = snap.join(files.select(F.col("repo_name").alias("head_files_repo"), "path",
                                  F.col("content").alias("head_content"), F.col("language").alias("head_language")),
                     "head_files_repo")
    keys = ["base_files_repo", "head_files_repo"]
    changed = (base.join(head, keys + ["path"], "full_outer")
               .where(~F.col("base_content").eqNullSafe(F.col("head_content")))
               .groupBy(*keys).agg(F.collect_list(F.struct(
                   "path", "base_content", "head_content",
                   F.coalesce("base_language", "head_language").alias("language"))).alias("files")))
    return (pairs.join(changed, keys, "left")
            .groupBy("thread_id").agg(F.collect_list(F.struct(
                "base_sha", "head_sha", *keys, "files")).alias("commits")))


def threads(events: DataFrame, files: DataFrame, cfg: ConversationsConfig) -> DataFrame:
    """One row per PR or issue: its events, its repository's PR count, and (PRs) its commits."""
    grouped = events.groupBy("thread_kind", "thread_id").agg(
        F.first("repo_name").alias("repo_name"),   # every event of a thread has the same repo
        F.collect_list(F.struct(*EVENT_FIELDS)).alias("events"))
    repo_prs = (events.where(F.col("thread_kind") == "pull_request").select("repo_name", "thread_id").distinct()
                .groupBy("repo_name").agg(F.count(F.lit(1)).alias("repo_prs")))
    commits = pr_commits(events, files, cfg.pull_requests.snapshots)
    return (grouped.join(repo_prs, "repo_name", "left").join(commits, "thread_id", "left")
            .select("thread_kind", "thread_id", "events", "repo_prs", "commits"))


def conversation_tables(events: DataFrame, files: DataFrame, cfg: ConversationsConfig, opt_out: OptOutConfig,
                        seed: int) -> tuple[DataFrame, DataFrame, DataFrame, DataFrame]:
    """(pull_requests, issues, documents, ledger rows)."""
    owners_repos = opt_out_sets(opt_out)
    rows = (threads(events, files, cfg)
            .mapInArrow(lambda batches: _render_batches(batches, cfg, owners_repos, seed), OUT_DDL)
            .persist(StorageLevel.DISK_ONLY))
    pick = lambda kind, table: tables.conform(rows.where(F.col("kind") == kind), table)   # noqa: E731
    rejects = rows.where(F.col("kind") == "ledger").select("id", "id_kind", "stage", "rule", "value", "detail")
    return pick("pull_request", "pull_requests"), pick("issue", "issues"), pick("document", "documents"), rejects


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
    meta = {"seed": seed, thread_kind_key(kind): thread_id,
            **{k: v for k, v in info.items() if k in ("windows", "closed", "merged")}}
    out.append({"kind": "document", "doc_id": doc, "source": kind, "repo_name": info["repo_name"],
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


def _render_batches(batches: Iterator[pa.RecordBatch], cfg: ConversationsConfig,
                    opt_out: tuple[set[str], set[str]], seed: int) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        rows = [row for thread in batch.to_pylist() for row in thread_rows(thread, cfg, opt_out, seed)]
        yield pa.RecordBatch.from_pylist(rows, schema=OUT_SCHEMA)

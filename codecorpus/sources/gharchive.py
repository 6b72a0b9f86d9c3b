"""GitHub event data in the GH Archive layout (hourly ``*.json.gz`` files, one JSON event a line) into the
``events`` table: the five event types StarCoder2's pull requests and issues are built from.

Each hourly file is one unit of the ``events`` stage. Files are read with Spark's ``binaryFile`` source
(so any Hadoop path works: local, ``hdfs://``, ``s3a://``) and parsed on Arrow batches in Python workers.
Nothing is dropped silently; each of these becomes a ledger row and the job goes on:

    rule               id_kind      id                  when
    truncated_gzip     event_file   the file            the gzip stream ends early (events before the cut are kept)
    not_gzip           event_file   the file            the file is not gzip at all
    no_used_events     event_file   the file            no line of the file became an event row
    not_json           event_line   file:line           a line is not a JSON object
    missing_field      event_line   file:line           id, type, repo.name, created_at or payload is absent
                       event        event id            a used type without its thread number (value: the field)
    unknown_event_type event        event id            a type GitHub does not document
    unused_event_type  event        event id            a documented type the formats do not use (PushEvent...)

The ``payload`` column keeps only the fields the formats read (see ``EXTRACT``), as JSON: a GH Archive
pull-request payload is ~20 kB, of which the formats need a few hundred bytes.
"""
from __future__ import annotations

import gzip
import io
import json
import zlib
from datetime import datetime
from typing import Any, Iterator

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession

from codecorpus import tables
from codecorpus.stage import Unit

PR_TYPES = ("PullRequestEvent", "PullRequestReviewEvent", "PullRequestReviewCommentEvent")
ISSUE_TYPES = ("IssuesEvent", "IssueCommentEvent")
USED_TYPES = PR_TYPES + ISSUE_TYPES
# Every event type of GitHub's Events API (docs.github.com "GitHub event types") and older GH Archive ones.
KNOWN_TYPES = frozenset(USED_TYPES + (
    "CommitCommentEvent", "CreateEvent", "DeleteEvent", "ForkEvent", "GollumEvent", "MemberEvent",
    "PublicEvent", "PushEvent", "ReleaseEvent", "SponsorshipEvent", "WatchEvent", "PullRequestReviewThreadEvent",
    "DiscussionEvent", "GistEvent", "FollowEvent", "DownloadEvent", "ForkApplyEvent", "TeamAddEvent",
    "StatusEvent", "CheckRunEvent"))
REQUIRED = ("id", "type", "repo.name", "created_at", "payload")

EVENT_SCHEMA = pa.schema([
    ("kind", pa.string()),
    ("event_id", pa.string()), ("type", pa.string()), ("action", pa.string()), ("repo_name", pa.string()),
    ("actor", pa.string()), ("created_at", pa.timestamp("us", tz="UTC")), ("thread_kind", pa.string()),
    ("thread_id", pa.string()), ("payload", pa.string()), ("source_file", pa.string()),
    ("id", pa.string()), ("id_kind", pa.string()), ("rule", pa.string()), ("value", pa.string()),
    ("detail", pa.string()),
])
EVENT_DDL = ("kind string, event_id string, type string, action string, repo_name string, actor string, "
             "created_at timestamp, thread_kind string, thread_id string, payload string, source_file string, "
             "id string, id_kind string, rule string, value string, detail string")

# Fields kept from each payload (dotted paths into the webhook/GH Archive payload), by output key.
_PR = {"number": "pull_request.number", "title": "pull_request.title", "body": "pull_request.body",
       "merged": "pull_request.merged", "author": "pull_request.user.login",
       "base_repo": "pull_request.base.repo.full_name", "base_sha": "pull_request.base.sha",
       "head_repo": "pull_request.head.repo.full_name", "head_sha": "pull_request.head.sha",
       "license": "pull_request.base.repo.license.spdx_id"}
EXTRACT = {
    "PullRequestEvent": _PR,
    "PullRequestReviewEvent": {**_PR, "review_id": "review.id", "state": "review.state", "body": "review.body"},
    "PullRequestReviewCommentEvent": {
        **_PR, "comment_id": "comment.id", "review_id": "comment.pull_request_review_id",
        "in_reply_to_id": "comment.in_reply_to_id", "path": "comment.path",
        "original_position": "comment.original_position", "position": "comment.position",
        "diff_hunk": "comment.diff_hunk", "body": "comment.body"},
    "IssuesEvent": {"number": "issue.number", "title": "issue.title", "body": "issue.body",
                    "author": "issue.user.login"},
    "IssueCommentEvent": {"number": "issue.number", "title": "issue.title", "comment_id": "comment.id",
                          "body": "comment.body", "author": "issue.user.login",
                          "is_pull_request": "issue.pull_request"},
}


def dig(data: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _reject(id_: str, id_kind: str, rule: str, value: str | None, detail: str | None) -> dict:
    return {"kind": "reject", "id": id_, "id_kind": id_kind, "rule": rule, "value": value, "detail": detail}


def _timestamp(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None


def parse_event(line: bytes | str, source: str, line_no: int) -> dict:
    """One line of an event file: an ``events`` row (kind "event") or a ledger row (kind "reject")."""
    where = f"{source}:{line_no}"
    try:
        event = json.loads(line)
    except ValueError as exc:
        return _reject(where, "event_line", "not_json", str(exc)[:200], where)
    if not isinstance(event, dict):
        return _reject(where, "event_line", "not_json", type(event).__name__, where)
    absent = [f for f in REQUIRED if dig(event, f) is None]
    created = _timestamp(event.get("created_at"))
    if created is None and "created_at" not in absent:
        absent.append("created_at")
    if absent:
        return _reject(str(event.get("id") or where), "event_line" if "id" in absent else "event",
                       "missing_field", ",".join(absent), where)
    event_id, kind, payload = str(event["id"]), event["type"], event["payload"]
    if kind not in USED_TYPES:
        rule = "unused_event_type" if kind in KNOWN_TYPES else "unknown_event_type"
        return _reject(event_id, "event", rule, str(kind), where)
    fields = {key: dig(payload, path) for key, path in EXTRACT[kind].items()}
    if fields["number"] is None:
        return _reject(event_id, "event", "missing_field", f"payload.{EXTRACT[kind]['number']}", where)
    on_pr = kind in PR_TYPES or fields.pop("is_pull_request", None) is not None
    fields = {k: v for k, v in fields.items() if v is not None}
    repo = event["repo"]["name"]
    return {"kind": "event", "event_id": event_id, "type": kind, "action": payload.get("action"),
            "repo_name": repo, "actor": dig(event, "actor.login"), "created_at": created,
            "thread_kind": "pull_request" if on_pr else "issue", "thread_id": f"{repo}#{fields['number']}",
            "payload": json.dumps(fields, sort_keys=True, ensure_ascii=False), "source_file": source}


def parse_event_file(source: str, content: bytes) -> Iterator[dict]:
    """Every line of one gzip event file as event or ledger rows; a cut or corrupt stream ends the file
    with a ledger row (the events before the cut are kept)."""
    used, line_no = 0, 0
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(content)) as stream:
            for line_no, line in enumerate(stream, 1):
                if not line.strip():
                    continue
                row = parse_event(line, source, line_no)
                used += row["kind"] == "event"
                yield row
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
        rule = "not_gzip" if line_no == 0 and isinstance(exc, gzip.BadGzipFile) else "truncated_gzip"
        yield _reject(source, "event_file", rule, f"after line {line_no}",
                      f"{type(exc).__name__}: {exc}; {len(content)} bytes read")
    if used == 0:
        yield _reject(source, "event_file", "no_used_events", str(line_no), f"{line_no} lines")


BATCH_ROWS = 10_000


def _parse_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """mapInArrow body: (path, content) rows in, event and ledger rows out, BATCH_ROWS at a time."""
    for batch in batches:
        for path, content in zip(batch.column("path").to_pylist(), batch.column("content").to_pylist()):
            yield from tables.arrow_batches(parse_event_file(path, content), EVENT_SCHEMA, BATCH_ROWS)


def list_event_files(spark: SparkSession, locations: list[str]) -> list[Unit]:
    """Every ``*.json.gz`` file named by ``locations`` (files, folders or globs, any Hadoop path), with
    its size and modification time as the signature that tells a re-run it changed."""
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    units: dict[str, Unit] = {}
    for location in locations:
        path = jvm.org.apache.hadoop.fs.Path(location)
        fs = path.getFileSystem(conf)
        statuses = fs.globStatus(path) or []
        for status in statuses:
            if status.isDirectory():
                statuses_inside = fs.globStatus(jvm.org.apache.hadoop.fs.Path(status.getPath(), "*.json.gz")) or []
            else:
                statuses_inside = [status]
            for found in statuses_inside:
                name = found.getPath().toString()
                units[name] = Unit(name, name, "gharchive", f"{found.getLen()}:{found.getModificationTime()}")
        if not statuses:
            raise FileNotFoundError(f"sources.gharchive: {location} matches no file; give GH Archive "
                                    "hourly files (*.json.gz), a folder of them, or a glob")
    return [units[name] for name in sorted(units)]


def read_event_files(spark: SparkSession, units: list[Unit]) -> DataFrame:
    """Event and ledger rows (column ``kind``) of the given event files, parsed in Spark tasks.

    ``binaryFile`` hands each file whole to a task (an hourly file is 20-150 MB compressed); the
    decompressed lines are streamed, never held at once."""
    raw = spark.read.format("binaryFile").load([u.location for u in units])
    return raw.select("path", "content").mapInArrow(_parse_batches, EVENT_DDL)

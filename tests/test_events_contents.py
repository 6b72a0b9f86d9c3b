"""Pull requests' base and head files from git clones and from Software Heritage blobs, and the corpus-wide
steps on PR and issue documents (decontamination, PII, near-dedup), on the real event fixtures
(codecorpus/sources/event_sample.py) and real code: files of the requests 2.31.0 and 2.32.3 releases of the
small sample corpus, committed to a git repository in the test or served as gzip blobs by moto on loopback.

The document each source gives is checked against the one the files-table snapshots give (test_events.py
checks that one token by token against a hand-written golden text).
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
from pathlib import Path

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from codecorpus import tables, tokens
from codecorpus.config import parse_config
from codecorpus.filters.config import DecontaminationConfig
from codecorpus.filters.decontaminate import benchmark_patterns, humaneval_patterns
from codecorpus.format import pull_requests as prs
from codecorpus.format.conversation_steps import redact_document, screen_documents, text_spans
from codecorpus.format.conversations import conversation_tables, thread_rows
from codecorpus.format.repo_context import rng_for
from codecorpus.pii.config import PiiConfig
from codecorpus.s3.loopback import LoopbackS3
from codecorpus.sources.commits import PAIR_KEYS, swh_changed
from codecorpus.sources.event_sample import BASE_VERSION, HEAD_VERSION, build_event_fixtures, replicate
from codecorpus.sources.gharchive import EVENT_DDL, parse_event_file
from codecorpus.sources.sample import build_sample

PR_RULES = {"base_full_file_rate": 1.0, "diff_context_min": 3, "diff_context_max": 4, "repo_subsample": False}
SNAPSHOT = ("tests/test_help.py", "requests/__version__.py")   # the files of the golden PR
WITH_PII = "tests/test_utils.py"   # changed too; URLs with passwords and emails in its test cases
RENDERED = SNAPSHOT + (WITH_PII,)
UNREADABLE = "setup.cfg"        # changed between the releases; its head blob is missing from every source
PII_VALUES = {"pass%20pass", "pass@complex.url.com"}


@pytest.fixture(scope="module")
def fixtures() -> Path:
    return build_event_fixtures(progress=lambda _: None)


@pytest.fixture(scope="module")
def release_files(fixtures) -> dict[str, dict[str, bytes]]:
    """version -> path -> bytes: the snapshot files and setup.cfg of the two requests releases."""
    sample = build_sample("small", progress=lambda _: None) / "repos" / "pypi"
    out = {}
    for version in (BASE_VERSION, HEAD_VERSION):
        root = fixtures / "repos" / "snapshots" / f"requests-{version}"
        out[version] = {p: (root / p).read_bytes() for p in SNAPSHOT}
        for path in (WITH_PII, UNREADABLE):
            out[version][path] = (sample / f"requests-{version}" / path).read_bytes()
    return out


def records(fixtures: Path) -> list[dict]:
    with gzip.open(fixtures / "events" / "2023-07-01-10.json.gz") as fh:
        return [json.loads(line) for line in fh]


def with_commits(recs: list[dict], base: str | None, head: str) -> list[dict]:
    out = json.loads(json.dumps(recs))
    for r in out:
        pr = r["payload"].get("pull_request")
        if isinstance(pr, dict) and "base" in pr:
            pr["base"]["sha"] = base or pr["base"]["sha"]
            pr["head"]["sha"] = head
    return out


def thread(recs: list[dict], repo: str, number: int) -> list[dict]:
    def number_of(r):
        p = r["payload"]
        return (p.get("pull_request") or p.get("issue") or {}).get("number")
    return [r for r in recs if r["repo"]["name"] == repo and number_of(r) == number]


def event_rows(recs: list[dict]) -> list[dict]:
    """Rows of the events table, through the GH Archive reader."""
    data = gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in recs), mtime=0)
    return [r for r in parse_event_file("events.json.gz", data) if r["kind"] == "event"]


def events_frame(spark, recs: list[dict]):
    return tables.conform(spark.createDataFrame(event_rows(recs), EVENT_DDL), "events")


def snapshot_commits(events_rows: list[dict], files: dict[str, dict[str, bytes]]) -> list[dict]:
    """The PR's commit pair as the files-table source gives it: the release files that changed."""
    opened = json.loads(events_rows[0]["payload"])
    changed = [{"path": p, "base_content": files[BASE_VERSION][p].decode(), "head_content": files[HEAD_VERSION][p].decode(),
                "language": "Python"} for p in RENDERED]
    return [{"base_sha": opened["base_sha"], "head_sha": opened["head_sha"], "base_files_repo": "b",
             "head_files_repo": "h", "files": changed}]


def snapshot_render(events_rows: list[dict], thread_id: str, files: dict[str, dict[str, bytes]], seed: int):
    """The document the files-table source gives for the same two commits."""
    return prs.render_pull_request(thread_id, events_rows, snapshot_commits(events_rows, files), 1,
                                   rng_for(seed, thread_id), prs.PullRequestConfig(**PR_RULES))


def splice(text: str, spans: list[dict]) -> str:
    """``text`` with each pii span replaced by its kind's tag (StarCoder2's replacements)."""
    tags = {"email": tokens.EMAIL, "password": tokens.PASSWORD, "key": tokens.KEY}
    for s in sorted(spans, key=lambda s: s["start"], reverse=True):
        text = text[:s["start"]] + tags[s["kind"]] + text[s["end"]:]
    return text


def collect(frame) -> list[dict]:
    return [r.asDict(recursive=True) for r in frame.collect()]


def check_balance(events, docs, ledger):
    """Every event is rendered in a document or has a ledger row."""
    seen = {e for d in docs for e in d["source_ids"]} | {r["id"] for r in ledger if r["id_kind"] == "event"}
    assert {r["event_id"] for r in collect(events.select("event_id"))} <= seen


# ------------------------------------------------------------------------------ git

def git(*args, cwd: Path) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "codecorpus", "GIT_AUTHOR_EMAIL": "tests@codecorpus.invalid",
           "GIT_COMMITTER_NAME": "codecorpus", "GIT_COMMITTER_EMAIL": "tests@codecorpus.invalid",
           "GIT_AUTHOR_DATE": "2023-07-01T00:00:00Z", "GIT_COMMITTER_DATE": "2023-07-01T00:00:00Z"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, check=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def clones(tmp_path_factory, release_files) -> tuple[Path, dict[str, str]]:
    """psf/requests-0 (a working clone) and psf/requests-1.git (a bare clone of it): one commit per
    release; setup.cfg's head blob deleted from both object stores."""
    root = tmp_path_factory.mktemp("clones")
    work = root / "psf" / "requests-0"
    work.mkdir(parents=True)
    git("init", "-q", cwd=work)
    shas = {}
    for version in (BASE_VERSION, HEAD_VERSION):
        for path, data in release_files[version].items():
            (work / path).parent.mkdir(parents=True, exist_ok=True)
            (work / path).write_bytes(data)
        git("add", "-A", cwd=work)
        git("commit", "-q", "-m", f"requests {version}", cwd=work)
        shas[version] = git("rev-parse", "HEAD", cwd=work)
    bare = root / "psf" / "requests-1.git"
    git("clone", "-q", "--bare", str(work), str(bare), cwd=root)     # a local clone keeps objects loose
    blob = git("rev-parse", f"HEAD:{UNREADABLE}", cwd=work)
    for objects in (work / ".git" / "objects", bare / "objects"):
        (objects / blob[:2] / blob[2:]).unlink()
    return root, shas


def test_git_clones_give_the_snapshot_documents(spark, fixtures, clones, release_files, tmp_path):
    root, shas = clones
    recs = records(fixtures)
    golden = with_commits(thread(recs, "psf/requests", 1), shas[BASE_VERSION], shas[HEAD_VERSION])
    unknown_base = with_commits(thread(recs, "psf/requests", 2), None, shas[HEAD_VERSION])
    hello = [r for r in recs if r["repo"]["name"] == "Codertocat/Hello-World"]
    events = events_frame(spark, list(replicate(golden, 2)) + list(replicate(unknown_base, 1)) + hello)
    config = parse_config({"conversations": {"contents": {"source": "git", "git": [str(root)]},
                                             "pull_requests": PR_RULES}})
    outputs, ledger = conversation_tables(events, spark.createDataFrame([], tables.spark_schema("files")), config,
                                          str(tmp_path / "scratch"))
    docs, ledger = collect(outputs["conversation_documents"]), collect(ledger)
    rules = {(r["id"], r["id_kind"], r["rule"]): r for r in ledger}

    # the two copies of the golden PR (one per clone) are near-duplicates: the smaller doc_id survives
    prs_docs = {json.loads(d["metadata"])["pr_id"]: d for d in docs if d["source"] == "pull_request"}
    assert len(prs_docs) == 1
    kept = next(iter(prs_docs))
    other = ({"psf/requests-0#1", "psf/requests-1#1"} - {kept}).pop()
    assert rules[(other, "pull_request", "near_dup")]["value"] == kept
    assert sum(1 for r in ledger if r["rule"] == "near_dup" and r["id_kind"] == "event") == len(golden)

    # the document is the snapshots' one, PII redacted; setup.cfg is in the ledger, the PR goes on
    kept_rows = [r for r in collect(events.where(events.thread_id == kept))]
    expected = snapshot_render(kept_rows, kept, release_files, config.seed).text
    spans = collect(outputs["pii"])
    assert {s["file_id"] for s in spans} == {prs_docs[kept]["doc_id"]}
    assert PII_VALUES <= {expected[s["start"]:s["end"]] for s in spans}
    assert prs_docs[kept]["text"] == splice(expected, spans) != expected
    pr = collect(outputs["pull_requests"])
    assert [(p["pr_id"], p["base_snapshot"], p["files_changed"]) for p in pr] == \
        [(kept, f"{kept.split('#')[0]}@{shas[BASE_VERSION]}", 3)]
    for copy in ("psf/requests-0", "psf/requests-1"):
        assert rules[(f"{copy}@{shas[HEAD_VERSION]}:{UNREADABLE}", "commit_file", "blob_missing")]

    # a commit not in its clone, a repository without a clone: ledger rows, and the PRs drop
    assert ("psf/requests-0#2", "pull_request", "base_files_missing") in rules
    missing_base = json.loads(collect(events.where(events.thread_id == "psf/requests-0#2"))[0]["payload"])["base_sha"]
    assert rules[(f"psf/requests-0@{missing_base}", "commit", "commit_missing")]
    assert any(k[1:] == ("commit", "repo_missing") and k[0].startswith("Codertocat/Hello-World@") for k in rules)
    assert ("Codertocat/Hello-World#1", "issue", "too_short") in rules
    check_balance(events, docs, ledger)


# ------------------------------------------------------------------------------ Software Heritage

@pytest.fixture(scope="module")
def swh(tmp_path_factory, fixtures, release_files):
    """Blobs of both releases' files in a moto bucket (setup.cfg's head blob never uploaded) and a flat
    Stack v2-style index listing them under the fixture PR's commits."""
    import logging
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = LoopbackS3().__enter__()
    client = boto3.client("s3", endpoint_url=server.direct_endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.create_bucket(Bucket="softwareheritage")
    client.put_bucket_policy(Bucket="softwareheritage", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::softwareheritage/*"}]}))
    golden = thread(records(fixtures), "psf/requests", 1)[0]["payload"]["pull_request"]
    revisions = {BASE_VERSION: golden["base"]["sha"], HEAD_VERSION: golden["head"]["sha"]}
    rows = []
    for version, files in release_files.items():
        for path, data in sorted(files.items()):
            blob_id = hashlib.sha1(data).hexdigest()
            rows.append({"repo_name": "psf/requests", "revision_id": revisions[version], "path": path,
                         "blob_id": blob_id, "length_bytes": len(data)})
            if not (version == HEAD_VERSION and path == UNREADABLE):
                client.put_object(Bucket="softwareheritage", Key=f"content/{blob_id}", Body=gzip.compress(data, mtime=0))
    index = tmp_path_factory.mktemp("swh") / "index.parquet"
    pq.write_table(pa.Table.from_pylist(rows), index)
    yield server, index, rows
    server.__exit__()


def test_software_heritage_blobs_give_the_snapshot_documents(spark, fixtures, swh, release_files):
    server, index, rows = swh
    recs = records(fixtures)
    golden = event_rows(thread(recs, "psf/requests", 1))
    opened = json.loads(golden[0]["payload"])
    unknown = thread(recs, "psf/requests", 2)[0]["payload"]["pull_request"]["base"]["sha"]
    pairs = spark.createDataFrame([("psf/requests", opened["base_sha"], "psf/requests", opened["head_sha"]),
                                   ("psf/requests", unknown, "psf/requests", opened["head_sha"])], ", ".join(
                                      f"{k} string" for k in PAIR_KEYS))
    config = parse_config({"conversations": {"contents": {"source": "swh", "swh": {"index": str(index)}},
                                             "pull_requests": PR_RULES},
                           "s3": {"endpoint_url": server.endpoint, "region": "us-east-1", "anonymous": True,
                                  "backoff_base": 0.01, "blob_timeout": 5}})
    changed, ledger = swh_changed(pairs, config.conversations.contents, config.s3)
    found = {r["base_sha"]: r for r in collect(changed)}
    rules = {(r["id"], r["id_kind"], r["rule"]) for r in collect(ledger)}
    assert found[unknown]["base_files_repo"] is None and found[unknown]["files"] is None
    assert (f"psf/requests@{unknown}", "commit", "commit_missing") in rules
    head = next(r for r in rows if r["path"] == UNREADABLE and r["revision_id"] == opened["head_sha"])
    assert (f"psf/requests@{head['revision_id']}:{UNREADABLE}", "commit_file", "blob_missing") in rules
    pair = found[opened["base_sha"]]
    assert pair["base_files_repo"] == f"psf/requests@{opened['base_sha']}"
    assert sorted((f["path"], f["base_content"].encode(), f["head_content"].encode(), f["language"])
                  for f in pair["files"]) == sorted(
        (p, release_files[BASE_VERSION][p], release_files[HEAD_VERSION][p], "Python") for p in RENDERED)
    # the PR renders as from the files table
    document = rows_of(golden, release_files, commits=[pair])
    expected = snapshot_render(golden, "psf/requests#1", release_files, config.seed).text
    assert next(r for r in document if r["kind"] == "document")["text"] == expected


# ------------------------------------------------------------------------------ decontamination and PII

@pytest.fixture(scope="module")
def golden_rows(fixtures):
    """The events rows of the golden PR."""
    return event_rows(thread(records(fixtures), "psf/requests", 1))


def rows_of(events, release_files, commits=None):
    """thread_rows of the golden PR, by default with the release files as its commit pair."""
    cfg = parse_config({"conversations": {"pull_requests": PR_RULES}}).conversations
    return thread_rows({"thread_kind": "pull_request", "thread_id": "psf/requests#1", "events": events, "repo_prs": 1,
                        "commits": commits or snapshot_commits(events, release_files)}, cfg, (set(), set()), 42)


def test_decontamination_drops_a_pr_quoting_a_benchmark(golden_rows, release_files):
    patterns = benchmark_patterns(DecontaminationConfig())
    task = next(p for p in humaneval_patterns() if p[1] == "HumanEval/0" and p[0] == "humaneval_solution")
    clean = rows_of(golden_rows, release_files)
    assert screen_documents(clean, patterns, PiiConfig(), 42)[-2]["kind"] == "document"
    quoting = [dict(e) for e in golden_rows]
    payload = json.loads(quoting[3]["payload"])     # the issue comment quotes HumanEval/0's solution
    payload["body"] = payload["body"] + "\n" + task[2]
    quoting[3]["payload"] = json.dumps(payload)
    out = screen_documents(rows_of(quoting, release_files), patterns, PiiConfig(), 42)
    assert not [r for r in out if r["kind"] != "ledger"]
    dropped = [(r["id"], r["id_kind"], r["rule"], r["value"]) for r in out if r["rule"] == "decontamination"]
    assert dropped[0] == ("psf/requests#1", "pull_request", "decontamination", "HumanEval/0")
    assert sorted(r[0] for r in dropped[1:]) == sorted(e["event_id"] for e in golden_rows)


def test_pii_redaction_of_pr_text_and_timeout(golden_rows, release_files):
    rows = rows_of(golden_rows, release_files)
    doc = next(r for r in rows if r["kind"] == "document")
    text, spans = redact_document(doc["text"], PiiConfig(), 42, doc["doc_id"])
    assert PII_VALUES <= {doc["text"][s["start"]:s["end"]] for s in spans} and text == splice(doc["text"], spans)
    # spans never cross a special token, and code spans carry their file's path (lock files are known by name)
    pieces = list(text_spans(doc["text"]))
    assert not [p for p in pieces if any(t in doc["text"][p[0]:p[1]] for t in tokens.FORMAT_TOKENS)]
    assert {p for _, _, p in pieces if p} == set(RENDERED) | {"README.md"}   # README.md: the review comment's hunk
    assert all(any(a <= s["start"] and s["end"] <= b for a, b, _ in pieces) for s in spans)
    out = screen_documents(rows_of(golden_rows, release_files), [], PiiConfig(max_seconds_per_file=1e-9), 42)
    assert [(r["id"], r["rule"]) for r in out if r["id_kind"] == "pull_request"] == [("psf/requests#1", "pii_timeout")]
    redacted = screen_documents(rows_of(golden_rows, release_files), [], PiiConfig(), 42)
    pr_row = next(r for r in redacted if r["kind"] == "pull_request")
    assert pr_row["n_chars"] == len(text) < len(doc["text"])

"""Real GitHub event data for tests and benchmarks, in the GH Archive layout, built deterministically.

GH Archive's ``payload`` is the webhook payload, so recorded webhook payloads become GH Archive records
by wrapping: ``{"id", "type", "actor": {"login": sender}, "repo": {"name"}, "payload", "public",
"created_at"}``. The payloads come from two pinned npm packages (MIT), fetched like the sample corpus
and cached under ``$CODECORPUS_CACHE`` (default ``~/.cache/codecorpus``):

- ``@octokit/webhooks-examples@7.6.1``: recorded webhook deliveries (``api.github.com/index.json``) of
  pull_request, pull_request_review, pull_request_review_comment, issues, issue_comment, push, star...
- ``@octokit/fixtures@23.1.2``: recorded REST sessions; its ``search-issues`` and ``paginate-issues``
  scenarios give issues by two other users.

Code changes are real too: two files of two published requests releases from the small sample corpus
(``tests/test_help.py``, and ``requests/__version__.py``, which 2.32 moved to ``src/``), laid out as two
snapshot repositories ``snapshots/requests-2.31.0`` and ``snapshots/requests-2.32.3``.

What the wrapping changes, and nothing else: event ids (``EVENT_ID_BASE`` + a counter), times (one
minute apart from ``START``), and for the two ``psf/requests`` pull requests the repository name, the
number, the base/head shas (sdists carry no git commit: ``sha1("requests-<version>")``) and, on the
closing event, ``merged: true`` (no recorded delivery has a merged or approved PR). Texts are untouched.

Files (``events/``): ``2023-07-01-10.json.gz`` (the threads below), ``2023-07-01-11.json.gz`` (a line
cut in half, an event without ``repo``, one without ``payload.issue.number``, and valid events),
``2023-07-01-12.json.gz`` (a gzip stream cut at 60% of its bytes). Threads:

- ``psf/requests#1``: opened, review, review comment, comment, closed as merged; base and head resolve
  to the snapshots (``snapshots.json``): the golden pull request.
- ``psf/requests#2``: the same deliveries, base sha unknown to the files table (base_files_missing).
- ``Codertocat/Hello-World#2``: the recorded PR as delivered (not approved, not merged).
- ``Codertocat/Hello-World#1``: the recorded issue: opened, comment, labeled, closed.
- ``octokit-fixture-org/search-issues#…`` and ``paginate-issues#…``: issues opened by fixture users.
- PushEvent, WatchEvent (unused types) and SecurityAdvisoryEvent (not a GH Archive type).
"""
from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import tarfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterator

from codecorpus.sources.sample import SourceEntry, build_sample, cache_root, fetch_all

WEBHOOKS = SourceEntry(registry="npm", name="@octokit/webhooks-examples", version="7.6.1")
FIXTURES = SourceEntry(registry="npm", name="@octokit/fixtures", version="23.1.2")
EVENT_ID_BASE = 30_000_000_000
START = datetime(2023, 7, 1, 10, 0, tzinfo=timezone.utc)
BASE_VERSION, HEAD_VERSION = "2.31.0", "2.32.3"
SNAPSHOT_FILES = {"tests/test_help.py": ("tests/test_help.py", "tests/test_help.py"),
                  "requests/__version__.py": ("requests/__version__.py", "src/requests/__version__.py")}
FORMAT = 1   # bump when the output changes, so cached builds are redone


def commit_sha(version: str) -> str:
    return hashlib.sha1(f"requests-{version}".encode()).hexdigest()


def _package(entry: SourceEntry, cache: Path) -> dict[str, bytes]:
    """Every file of a cached npm tarball, by path inside ``package/``."""
    archive = fetch_all([entry], cache / "downloads", progress=lambda _: None)[entry.key]
    with tarfile.open(archive) as tar:
        return {m.name.removeprefix("package/"): tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


class Recorder:
    """Wraps payloads into GH Archive records with increasing ids and times."""

    def __init__(self) -> None:
        self.count = 0

    def record(self, kind: str, payload: dict, repo: str | None = None, actor: str | None = None) -> dict:
        self.count += 1
        login = actor or (payload.get("sender") or {}).get("login")
        repo = repo or (payload.get("repository") or {}).get("full_name")
        return {"id": str(EVENT_ID_BASE + self.count), "type": kind, "actor": {"login": login},
                "repo": {"name": repo}, "payload": payload, "public": True,
                "created_at": (START + timedelta(minutes=self.count)).strftime("%Y-%m-%dT%H:%M:%SZ")}


def _retarget(payload: dict, repo: str, number: int, base_sha: str, head_sha: str) -> dict:
    """A copy of a pull-request delivery moved to ``repo``#``number`` with the given commits."""
    payload = json.loads(json.dumps(payload))
    pr = payload["pull_request"]
    pr["number"] = number
    for side, sha in (("base", base_sha), ("head", head_sha)):
        pr[side]["sha"] = sha
        pr[side]["repo"]["full_name"] = repo
    payload["repository"]["full_name"] = repo
    return payload


def pull_request_thread(hooks: dict, rec: Recorder, repo: str, number: int, base_sha: str,
                        head_sha: str) -> list[dict]:
    """opened, review, review comment, comment, closed (merged) of one PR, from recorded deliveries."""
    opened = next(e for e in hooks["pull_request"] if e["action"] == "opened" and e["pull_request"]["body"])
    review = hooks["pull_request_review"][0]
    comment = next(e for e in hooks["pull_request_review_comment"] if e["action"] == "created")
    closed = next(e for e in hooks["pull_request"] if e["action"] == "closed")
    talk = json.loads(json.dumps(next(e for e in hooks["issue_comment"] if e["action"] == "created")))
    talk["issue"].update(number=number, pull_request={"url": f"https://api.github.com/repos/{repo}/pulls/{number}"})
    merged = _retarget(closed, repo, number, base_sha, head_sha)
    merged["pull_request"]["merged"] = True
    return [rec.record("PullRequestEvent", _retarget(opened, repo, number, base_sha, head_sha), repo),
            rec.record("PullRequestReviewEvent", _retarget(review, repo, number, base_sha, head_sha), repo),
            rec.record("PullRequestReviewCommentEvent", _retarget(comment, repo, number, base_sha, head_sha), repo),
            rec.record("IssueCommentEvent", talk, repo),
            rec.record("PullRequestEvent", merged, repo)]


def issue_thread(hooks: dict, rec: Recorder) -> list[dict]:
    opened = next(e for e in hooks["issues"] if e["action"] == "opened" and e["issue"]["body"])
    labeled = next(e for e in hooks["issues"] if e["action"] == "labeled")
    comment = next(e for e in hooks["issue_comment"] if e["action"] == "created")
    closed = json.loads(json.dumps(opened))
    closed["action"] = "closed"
    return [rec.record("IssuesEvent", opened), rec.record("IssueCommentEvent", comment),
            rec.record("IssuesEvent", labeled), rec.record("IssuesEvent", closed)]


def fixture_issues(fixtures: dict[str, bytes], rec: Recorder) -> list[dict]:
    """IssuesEvent opened for each issue the recorded REST sessions returned."""
    out = []
    for scenario in ("search-issues", "paginate-issues"):
        for call in json.loads(fixtures[f"scenarios/api.github.com/{scenario}/normalized-fixture.json"]):
            body = call["response"]
            items = body.get("items", []) if isinstance(body, dict) else body
            for issue in items:
                repo = issue["repository_url"].split("/repos/", 1)[1]
                out.append(rec.record("IssuesEvent", {"action": "opened", "issue": issue}, repo, issue["user"]["login"]))
    return out


def other_events(hooks: dict, rec: Recorder) -> list[dict]:
    return ([rec.record("PushEvent", p) for p in hooks["push"][:2]] + [rec.record("WatchEvent", hooks["star"][0])]
            + [rec.record("SecurityAdvisoryEvent", hooks["security_advisory"][0], "github/advisory-database",
                          "github")])


def _lines(records: list[dict]) -> bytes:
    return b"".join(json.dumps(r, sort_keys=True).encode() + b"\n" for r in records)


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def write_snapshots(repos: Path, sample: Path) -> dict[str, str]:
    """The two snapshot repositories; returns the ``snapshots`` config mapping."""
    for index, version in enumerate((BASE_VERSION, HEAD_VERSION)):
        for path, sources in SNAPSHOT_FILES.items():
            target = repos / "snapshots" / f"requests-{version}" / path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(sample / "repos" / "pypi" / f"requests-{version}" / sources[index], target)
    return {f"psf/requests@{commit_sha(v)}": f"snapshots/requests-{v}" for v in (BASE_VERSION, HEAD_VERSION)}


def load_payloads(cache: Path) -> tuple[dict, dict[str, bytes]]:
    hooks_files = _package(WEBHOOKS, cache)
    hooks = {w["name"]: w["examples"] for w in json.loads(hooks_files["api.github.com/index.json"])}
    return hooks, _package(FIXTURES, cache)


def thread_records(hooks: dict, fixtures: dict[str, bytes], rec: Recorder) -> list[dict]:
    """Every record of the main hourly file, in time order."""
    base, head = commit_sha(BASE_VERSION), commit_sha(HEAD_VERSION)
    return (pull_request_thread(hooks, rec, "psf/requests", 1, base, head)
            + pull_request_thread(hooks, rec, "psf/requests", 2, hashlib.sha1(b"unknown base").hexdigest(), head)
            + [rec.record("PullRequestEvent", e) for e in hooks["pull_request"][:3]]
            + issue_thread(hooks, rec) + fixture_issues(fixtures, rec) + other_events(hooks, rec))


def malformed_records(hooks: dict, rec: Recorder) -> bytes:
    """A cut line, an event without repo, one without its issue number, between valid ones."""
    good = [rec.record("IssueCommentEvent", e) for e in hooks["issue_comment"][:2]]
    no_repo = rec.record("IssuesEvent", hooks["issues"][0])
    del no_repo["repo"]
    no_number = rec.record("IssueCommentEvent", json.loads(json.dumps(hooks["issue_comment"][0])))
    del no_number["payload"]["issue"]["number"]
    cut = json.dumps(rec.record("IssuesEvent", hooks["issues"][1])).encode()
    return _lines([good[0], no_repo]) + cut[: len(cut) // 2] + b"\n" + _lines([no_number, good[1]])


def build_event_fixtures(out: Path | None = None, cache_dir: Path | None = None,
                         progress: Callable[[str], object] = print) -> Path:
    """Build (or reuse) the event fixtures; returns their directory (events/, repos/, snapshots.json)."""
    cache = cache_root(cache_dir)
    out = Path(out) if out else cache / f"events-fixtures-{FORMAT}"
    if (out / "snapshots.json").exists():
        return out
    sample = build_sample("small", cache_dir, progress=progress)
    hooks, fixtures = load_payloads(cache)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "events").mkdir(parents=True)
    rec = Recorder()
    (tmp / "events" / "2023-07-01-10.json.gz").write_bytes(_gzip(_lines(thread_records(hooks, fixtures, rec))))
    (tmp / "events" / "2023-07-01-11.json.gz").write_bytes(_gzip(malformed_records(hooks, rec)))
    whole = _gzip(_lines([rec.record("IssueCommentEvent", e) for e in hooks["issue_comment"]]))
    (tmp / "events" / "2023-07-01-12.json.gz").write_bytes(whole[: len(whole) * 6 // 10])
    snapshots = write_snapshots(tmp / "repos", sample)
    (tmp / "snapshots.json").write_text(json.dumps(snapshots, indent=1, sort_keys=True) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    progress(f"event fixtures: {rec.count} events in {out}")
    return out


def replicate(records: list[dict], copies: int) -> Iterator[dict]:
    """``copies`` copies of ``records`` with distinct event ids and thread numbers (for benchmarks): copy k
    moves every repository to ``<owner>/<repo>-k`` so PRs and issues stay distinct threads."""
    for k in range(copies):
        for r in records:
            r = json.loads(json.dumps(r))
            r["id"] = str(int(r["id"]) + k * 1_000_000)
            r["repo"]["name"] = f"{r['repo']['name']}-{k}"
            pr = r["payload"].get("pull_request")
            if isinstance(pr, dict) and "base" in pr:
                for side in ("base", "head"):
                    pr[side]["repo"]["full_name"] = r["repo"]["name"]
            yield r

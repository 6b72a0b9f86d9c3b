"""Pull requests and issues from GitHub events (reference §1.2, §1.3), on real recorded payloads wrapped
as GH Archive files (codecorpus/sources/event_sample.py) and real code changes (requests 2.31.0 -> 2.32.3).

Golden texts below are written by hand from the reference template; only the base files (the input,
shown whole) are read from the snapshots.
"""
from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest

from codecorpus.config import parse_config
from codecorpus.format.conversations import conversation_tables
from codecorpus.format import issues as iss
from codecorpus.format import pull_requests as prs
from codecorpus.format.conversation_text import BotRules, anonymise, is_bot, strip_email_reply, \
    strip_markdown_comments, truncate_middle, username_map
from codecorpus.format.pr_diff import changed_range, hunks, shift_hunk_header
from codecorpus.pipeline import STAGES
from codecorpus.runner import Runner
from codecorpus.sources.event_sample import build_event_fixtures
from codecorpus.sources.gharchive import parse_event, parse_event_file
from codecorpus.tables import digest


@pytest.fixture(scope="module")
def fixtures() -> Path:
    return build_event_fixtures(progress=lambda _: None)


@pytest.fixture(scope="module")
def events(fixtures):
    """The events rows of the main hourly file, by thread."""
    path = str(fixtures / "events" / "2023-07-01-10.json.gz")
    by_thread: dict[str, list[dict]] = {}
    for row in parse_event_file(path, (fixtures / "events" / "2023-07-01-10.json.gz").read_bytes()):
        if row["kind"] == "event":
            by_thread.setdefault(row["thread_id"], []).append(row)
    return by_thread


def snapshot(fixtures: Path, version: str) -> dict[str, str]:
    root = fixtures / "repos" / "snapshots" / f"requests-{version}"
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def commits(fixtures, events):
    base, head = snapshot(fixtures, "2.31.0"), snapshot(fixtures, "2.32.3")
    opened = json.loads(events["psf/requests#1"][0]["payload"])
    files = [{"path": p, "base_content": base[p], "head_content": head[p], "language": "Python"} for p in base]
    return [{"base_sha": opened["base_sha"], "head_sha": opened["head_sha"], "base_files_repo": "snapshots/requests-2.31.0",
             "head_files_repo": "snapshots/requests-2.32.3", "files": files}]


FIXED = prs.PullRequestConfig(base_full_file_rate=1.0, diff_context_min=3, diff_context_max=4, repo_subsample=False)


def render(events, commits, cfg=FIXED, repo_prs=1, opt_out=(set(), set())):
    return prs.render_pull_request("psf/requests#1", events, commits, repo_prs, random.Random(0), cfg, opt_out)


# --------------------------------------------------------------------------------------- golden

VERSION_HUNK = (
    "@@ -5,10 +5,10 @@\n"
    ' __title__ = "requests"\n'
    ' __description__ = "Python HTTP for Humans."\n'
    ' __url__ = "https://requests.readthedocs.io"\n'
    '-__version__ = "2.31.0"\n'
    "-__build__ = 0x023100\n"
    '+__version__ = "2.32.3"\n'
    "+__build__ = 0x023203\n"
    ' __author__ = "Kenneth Reitz"\n'
    ' __author_email__ = "me@kennethreitz.org"\n'
    '-__license__ = "Apache 2.0"\n'
    '+__license__ = "Apache-2.0"\n'
    ' __copyright__ = "Copyright Kenneth Reitz"\n'
    ' __cake__ = "\\u2728 \\U0001f370 \\u2728"')
HELP_HUNK_1 = "@@ -1,3 +1,5 @@\n+from unittest import mock\n+\n from requests.help import info\n \n "
HELP_HUNK_2 = '''@@ -11,15 +13,15 @@
         self.__version__ = version
 
 
-def test_idna_without_version_attribute(mocker):
+def test_idna_without_version_attribute():
     """Older versions of IDNA don't provide a __version__ attribute, verify
     that if we have such a package, we don't blow up.
     """
-    mocker.patch("requests.help.idna", new=None)
-    assert info()["idna"] == {"version": ""}
+    with mock.patch("requests.help.idna", new=None):
+        assert info()["idna"] == {"version": ""}
 
 
-def test_idna_with_version_attribute(mocker):
+def test_idna_with_version_attribute():
     """Verify we're actually setting idna version when it should be available."""
-    mocker.patch("requests.help.idna", new=VersionedPackage("2.6"))
-    assert info()["idna"] == {"version": "2.6"}
+    with mock.patch("requests.help.idna", new=VersionedPackage("2.6")):
+        assert info()["idna"] == {"version": "2.6"}'''


def test_golden_pull_request(fixtures, events, commits):
    base = snapshot(fixtures, "2.31.0")
    expected = (
        "<pr>Title: Update the README with new information.\n"
        "username_0: This is a pretty simple change that we need to pull into master."
        "<pr_status>opened<repo_name>psf/requests"
        "<pr_base><pr_file>requests/__version__.py<pr_base_code>" + base["requests/__version__.py"]
        + "<pr_file>tests/test_help.py<pr_base_code>" + base["tests/test_help.py"]
        + "<pr_diff><pr_file>requests/__version__.py<pr_diff_hunk>" + VERSION_HUNK
        + "<pr_file>tests/test_help.py<pr_diff_hunk>" + HELP_HUNK_1
        + "<pr_diff_hunk>" + HELP_HUNK_2
        + "<pr_review>username_0<pr_event_id>237895671<pr_review_state>commented"
        "<pr_review_comment><pr_event_id>284312630<pr_in_reply_to_review_id>237895671<pr_file>README.md"
        "<pr_diff_hunk_comment_line>1<pr_diff_hunk>@@ -1 +1 @@\n-# Hello-World"
        "<pr_comment>username_0: Maybe you should use more emoji on this line."
        "<pr_comment>username_0: You are totally right! I'll get this fixed right away.<pr_event_id>492700400"
        "<pr_status>created"
        "<pr>username_0<pr_status>closed<pr_is_merged>True<|endoftext|>")
    outcome = render(events["psf/requests#1"], commits)
    assert outcome.text == expected
    assert outcome.rendered == [e["event_id"] for e in events["psf/requests#1"]]


def test_golden_issue(events):
    cfg = iss.IssueConfig(min_text_chars=100)
    outcome = iss.render_issue("Codertocat/Hello-World#1", events["Codertocat/Hello-World#1"], cfg)
    assert outcome.text == ("<issue_start>Title: Spelling error in the README file\n"
                            "username_0: It looks like you accidently spelled 'commit' with two 't's."
                            "<issue_comment>username_0: You are totally right! I'll get this fixed right away."
                            "<issue_closed><|endoftext|>")
    assert [r["rule"] for r in outcome.ledger] == ["not_rendered"]   # the labeled event


def test_round_trip(events, commits):
    """The tokens of the rendered PR parse back into its events, in order."""
    thread = [prs.with_fields(e) for e in events["psf/requests#1"]]
    outcome = render(events["psf/requests#1"], commits)
    parsed = prs.parse_pull_request(outcome.text)
    kinds = {"PullRequestEvent": "pr", "PullRequestReviewEvent": "review",
             "PullRequestReviewCommentEvent": "review_comment", "IssueCommentEvent": "comment"}
    assert [p["kind"] for p in parsed] == [kinds[e["type"]] for e in thread]
    ids = {"PullRequestReviewEvent": "review_id"}
    for p, e in zip(parsed, thread):
        if p["kind"] != "pr":
            assert p["id"] == str(e[ids.get(e["type"], "comment_id")])
        assert p["user"] == "username_0"
    assert [p.get("status") for p in parsed] == ["opened", "commented", None, "created", "closed"]


# --------------------------------------------------------------------------------------- PR rules

def pr_events(events, **changes):
    """The golden PR's events with payload fields of the opened event changed."""
    out = [dict(e) for e in events["psf/requests#1"]]
    opened = json.loads(out[0]["payload"])
    opened.update(changes)
    out[0]["payload"] = json.dumps(opened)
    return out


def rule_of(outcome):
    return next((r["rule"], r["value"]) for r in outcome.ledger if r["id_kind"] == "pull_request")


@pytest.mark.parametrize("title, rule", [("bug", "title_rule"), ("Initial release", "title_rule")])
def test_title_rules(events, commits, title, rule):
    outcome = render(pr_events(events, title=title), commits)
    assert outcome.text is None and rule_of(outcome)[0] == rule


@pytest.mark.parametrize("body, rule", [("Test issue 13", "description_rule"), (None, "description_rule")])
def test_description_rules(events, commits, body, rule):
    outcome = render(pr_events(events, body=body), commits)
    assert rule_of(outcome)[0] == rule
    assert render(pr_events(events, body="I’ve waited all year long, but there was no pop 😭"), commits).text


def test_blocked_text(events, commits):
    cfg = FIXED.model_copy(update={"blocked_text": ["pull into master"]})
    assert rule_of(render(events["psf/requests#1"], commits, cfg)) == ("description_rule", "blocked_text: pull into master")


def test_bot_opened_and_bot_comments_only(events, commits):
    bot = [dict(e, actor="dependabot[bot]") if i == 0 else e for i, e in enumerate(events["psf/requests#1"])]
    assert rule_of(render(bot, commits))[0] == "bot"
    talk_by_bot = [dict(e, actor="codecov-io") if e["type"] != "PullRequestEvent" else e
                   for e in events["psf/requests#1"]]
    assert rule_of(render(talk_by_bot, commits))[0] == "bot_comments_only"


def test_license(events, commits):
    assert rule_of(render(pr_events(events, license="GPL-3.0"), commits)) == ("license", "GPL-3.0 (non_permissive)")
    assert render(pr_events(events, license="MIT"), commits).text


def test_opt_out(events, commits):
    assert rule_of(render(events["psf/requests#1"], commits, opt_out=({"psf"}, set())))[0] == "opt_out"
    assert rule_of(render(events["psf/requests#1"], commits, opt_out=(set(), {"psf/requests"})))[0] == "opt_out"
    kept = render(events["psf/requests#1"], commits, opt_out=({"someone-else"}, set()))
    assert kept.text


def test_not_approved_or_merged(events, commits):
    closed = [dict(e) for e in events["psf/requests#1"]]
    payload = json.loads(closed[-1]["payload"])
    payload["merged"] = False
    closed[-1]["payload"] = json.dumps(payload)
    assert rule_of(render(closed, commits))[0] == "not_approved_or_merged"


def test_changed_base(events, commits):
    def rebased(*shas):
        moved = [dict(e) for e in events["psf/requests#1"]]
        for e, sha in zip(moved[1:], shas):
            payload = json.loads(e["payload"])
            payload["base_sha"] = sha
            e["payload"] = json.dumps(payload)
        return moved
    # a merged PR's base may move once (the merge); a second move is a rebase
    assert render(rebased("0" * 40, "0" * 40), commits).text
    assert rule_of(render(rebased("0" * 40, "1" * 40), commits)) == ("changed_base", "3")


def test_base_and_head_files_missing(events, commits):
    assert rule_of(render(events["psf/requests#1"], []))[0] == "base_files_missing"
    assert rule_of(render(events["psf/requests#1"], [dict(commits[0], head_files_repo=None)]))[0] == "head_files_missing"
    unchanged = [dict(commits[0], files=[])]
    assert rule_of(render(events["psf/requests#1"], unchanged))[0] == "no_initial_diff"


def test_added_and_deleted_files_are_not_base_files(events, commits):
    files = commits[0]["files"] + [{"path": "tests/test_adapters.py", "base_content": None,
                                    "head_content": "import requests\n", "language": "Python"}]
    outcome = render(events["psf/requests#1"], [dict(commits[0], files=files)])
    assert outcome.text and "test_adapters" not in outcome.text
    assert ("psf/requests#1:tests/test_adapters.py", "file_added") in [(r["id"], r["rule"]) for r in outcome.ledger]


def test_file_rules(fixtures):
    cfg = prs.PullRequestConfig()
    source = snapshot(fixtures, "2.31.0")["tests/test_help.py"]
    assert prs.file_rule("tests/test_help.py", source, "Python", cfg) is None
    assert prs.file_rule("a.py", source, "Python", cfg.model_copy(update={"max_file_chars": 100}))[0] == "file_too_large"
    assert prs.file_rule("a.py", source, "Python", cfg.model_copy(update={"min_alphanum_fraction": 0.9}))[0] == "file_alphanum"
    assert prs.file_rule("a.py", source, "Python", cfg.model_copy(update={"max_hex_fraction": 0.0}))[0] == "file_hex"
    assert prs.file_rule("a.py", source, "Python", cfg.model_copy(update={"max_file_lines": 10}))[0] == "file_lines"
    assert prs.file_rule("a.py", source, "Python", cfg.model_copy(update={"max_line_length": 50}))[0] == "file_line_length"
    assert prs.file_rule("a.md", source, "Markdown", cfg.model_copy(update={"max_line_length": 50})) is None
    readme = "It looks like you accidently spelled 'commit' with two 't's."
    assert prs.file_rule("README.md", readme, "Markdown", cfg) is None
    assert prs.file_rule("README.md", "# Hello-World\nUpdate package.json", "Markdown", cfg)[0] == "file_not_english"
    blocked = cfg.model_copy(update={"blocked_languages": ["Python:py"]})
    assert prs.file_rule("tests/test_help.py", source, "Python", blocked)[0] == "file_blocked_language"


def test_pr_length_caps(events, commits):
    assert rule_of(render(events["psf/requests#1"], commits, FIXED.model_copy(update={"max_pr_chars": 1000})))[0] == "too_long"
    assert rule_of(render(events["psf/requests#1"], commits, FIXED.model_copy(update={"min_pr_chars": 10**6})))[0] == "too_short"


def test_repo_subsampling(events, commits):
    assert prs.repo_keep_rate(1) == pytest.approx(0.8)
    assert prs.repo_keep_rate(1000) == pytest.approx(0.1007)
    assert prs.repo_keep_rate(5000) == pytest.approx(0.02)
    cfg = FIXED.model_copy(update={"repo_subsample": True})
    assert rule_of(prs.render_pull_request("psf/requests#1", events["psf/requests#1"], commits, 100_000,
                                           random.Random(1), cfg))[0] == "repo_subsample"
    assert prs.render_pull_request("psf/requests#1", events["psf/requests#1"], commits, 1, random.Random(1), cfg).text


def test_base_window_and_context_are_seeded(events, commits):
    cfg = prs.PullRequestConfig(repo_subsample=False, base_full_file_rate=0.0)
    one = prs.render_pull_request("psf/requests#1", events["psf/requests#1"], commits, 1, random.Random(7), cfg)
    two = prs.render_pull_request("psf/requests#1", events["psf/requests#1"], commits, 1, random.Random(7), cfg)
    assert one.text == two.text and one.info["windows"]["tests/test_help.py"][0] <= 11
    full = prs.render_pull_request("psf/requests#1", events["psf/requests#1"], commits, 1, random.Random(7),
                                   cfg.model_copy(update={"base_full_file_rate": 1.0}))
    assert full.info["windows"]["tests/test_help.py"] == [0, 25]


def test_yaml_json_subsampling():
    cfg = prs.PullRequestConfig()
    lock = {"path": "package-lock.json", "base_content": '{\n "a": 1\n}\n', "head_content": '{\n "a": 2\n}\n',
            "language": "JSON"}
    ledger: list[dict] = []
    kept = sum("package-lock.json" in prs.base_windows([[lock]], random.Random(s), cfg, "x#1", ledger) for s in range(200))
    assert 5 <= kept <= 40 and ledger[0]["rule"] == "subsample"
    assert all("package-lock.json" in prs.base_windows([[dict(lock, language="Python")]], random.Random(s), cfg, "x#1", [])
               for s in range(20))


def test_review_hunk_omitted_and_comment_text_rules(events, commits):
    cfg = FIXED.model_copy(update={"max_review_hunk_chars": 5})
    assert "<pr_diff_hunk>[OMITTED]<pr_comment>" in render(events["psf/requests#1"], commits, cfg).text
    short = FIXED.model_copy(update={"min_text_chars": 50})
    outcome = render(pr_events(events, body="This is a pretty simple change that we need to pull into master."),
                     commits, short)
    assert ("text_too_short" in [r["rule"] for r in outcome.ledger]) and outcome.text
    assert render(events["psf/requests#1"], commits).text.count("<pr_comment>") == 2


# --------------------------------------------------------------------------------------- text rules

def test_text_rules():
    reply = ("You are totally right! I'll get this fixed right away.\n\n"
             "On Tue, Jan 2, 2024 at 10:00 AM Codertocat <notifications@github.com> wrote:\n"
             "> It looks like you accidently spelled 'commit' with two 't's.\n"
             "Reply to this email directly, view it on GitHub")
    assert strip_email_reply(reply) == "You are totally right! I'll get this fixed right away."
    assert strip_email_reply("Update the README with new information.") == "Update the README with new information."
    assert strip_markdown_comments("<!-- Please describe -->Fixes the typo") == "Fixes the typo"
    lines = "\n".join(f"line {i}" for i in range(100))
    cut = truncate_middle(lines, 80, 20, "[TRUNCATED]").split("\n")
    assert cut[59] == "line 59" and cut[60] == "[TRUNCATED]" and cut[61] == "line 80" and len(cut) == 81
    assert truncate_middle("line 0\nline 1", 80, 20, "[TRUNCATED]") == "line 0\nline 1"
    assert prs.render_text("u", "codecov-io: Coverage decreased", prs.PullRequestConfig()) == "u: [OMITTED]CodeCov"


def test_bots():
    rules = BotRules()
    for login in ("dependabot[bot]", "codecov-io", "k8s-ci-robot", "travis-ci", "renovatebot", "probot-stale"):
        assert is_bot(login, rules), login
    for login in ("Codertocat", "octokit-fixture-user-a", "octokit-fixture-user-b"):
        assert not is_bot(login, rules), login


def test_username_anonymisation_order():
    names = username_map(["octokit-fixture-user-b", "Codertocat", "octokit-fixture-user-b", "octokit-fixture-user-a"])
    assert names == {"octokit-fixture-user-b": "username_0", "Codertocat": "username_1",
                     "octokit-fixture-user-a": "username_2"}
    assert anonymise("thanks @octokit-fixture-user-a and @Codertocat", names) == "thanks @username_2 and @username_1"


def test_diff_helpers():
    base, head = ["a", "b", "c"], ["a", "B", "c"]
    assert changed_range(base, head) == (1, 2) and changed_range(base, base) is None
    assert hunks(base, head, 1) == ["@@ -1,3 +1,3 @@\n a\n-b\n+B\n c"]
    assert shift_hunk_header("@@ -10,3 +10,4 @@ def f():\n x", 4) == "@@ -6,3 +6,4 @@ def f():\n x"


# --------------------------------------------------------------------------------------- issue rules

def issue(events, **cfg):
    return iss.render_issue("Codertocat/Hello-World#1", events["Codertocat/Hello-World#1"], iss.IssueConfig(**cfg))


def test_issue_rules(events):
    assert [r for r in issue(events).ledger if r["id_kind"] == "issue"][0] == \
        {"id": "Codertocat/Hello-World#1", "id_kind": "issue", "rule": "too_short", "value": "114", "detail": None}   # 60 + 54 chars
    assert issue(events, min_text_chars=100).text
    single = issue(events, min_text_chars=100, max_chars_single_user=50)
    assert [r for r in single.ledger if r["id_kind"] == "issue"][0]["rule"] == "user_count"
    assert issue(events, min_text_chars=100, max_chars_single_user=50, min_users=1).text
    by_bot = [dict(e, actor="probot-stale") if e["type"] == "IssueCommentEvent" else e
              for e in events["Codertocat/Hello-World#1"]]
    out = iss.render_issue("Codertocat/Hello-World#1", by_bot, iss.IssueConfig(min_text_chars=10))
    assert "bot_comment" in [r["rule"] for r in out.ledger] and "<issue_comment>" not in out.text
    opened_by_bot = [dict(e, actor="probot-stale") for e in events["Codertocat/Hello-World#1"]]
    assert iss.render_issue("x#1", opened_by_bot, iss.IssueConfig()).ledger[0]["rule"] == "bot"
    assert "[Truncated]" in iss.truncate_middle("\n".join(["x"] * 90), 80, 20, iss.TRUNCATED)
    assert iss.render_issue("x#1", events["Codertocat/Hello-World#1"], iss.IssueConfig(min_text_chars=100),
                            ({"codertocat"}, set())).ledger[0]["rule"] == "opt_out"
    assert iss.render_issue("x#1", events["Codertocat/Hello-World#1"], iss.IssueConfig(min_text_chars=100),
                            ({"octokit-fixture-org"}, {"psf/requests"})).text
    no_open = [e for e in events["Codertocat/Hello-World#1"] if e["action"] != "opened"]
    assert iss.render_issue("x#1", no_open, iss.IssueConfig()).ledger[0]["rule"] == "no_opened_event"


# --------------------------------------------------------------------------------------- malformed input

def test_malformed_lines(fixtures):
    rows = list(parse_event_file("f", (fixtures / "events" / "2023-07-01-11.json.gz").read_bytes()))
    rules = [(r["rule"], r.get("value")) for r in rows if r["kind"] == "reject"]
    assert ("missing_field", "repo.name") in rules and ("missing_field", "payload.issue.number") in rules
    assert "not_json" in [r for r, _ in rules]
    assert sum(r["kind"] == "event" for r in rows) == 2
    assert parse_event(b"[1, 2]", "f", 1)["rule"] == "not_json"


def test_truncated_and_not_gzip(fixtures):
    rows = list(parse_event_file("f", (fixtures / "events" / "2023-07-01-12.json.gz").read_bytes()))
    assert rows[-1]["rule"] == "truncated_gzip"
    assert sum(r["kind"] == "event" for r in rows) >= 1          # events before the cut are kept
    plain = list(parse_event_file("g", b'{"id": "1"}\n'))
    assert plain[0]["rule"] == "not_gzip"
    unused = list(parse_event_file("h", gzip.compress(b'{"id":"1","type":"WatchEvent","repo":{"name":"a/b"},'
                                                       b'"created_at":"2015-01-01T00:00:00Z","payload":{}}\n')))
    assert [r["rule"] for r in unused] == ["unused_event_type", "no_used_events"]


# --------------------------------------------------------------------------------------- the stages

def test_stages_end_to_end(spark, fixtures, tmp_path):
    snapshots = json.loads((fixtures / "snapshots.json").read_text())
    config = parse_config({
        "run_dir": str(tmp_path / "run"), "stages": ["ingest", "events", "conversations"], "files_per_table": 1,
        "ingest": {"shards": 1}, "sources": {"local": [str(fixtures / "repos")],
                                             "gharchive": [str(fixtures / "events")]},
        "conversations": {"pull_requests": {"snapshots": snapshots}},
        "dedup": {"near": False}})     # near-dedup of documents: test_events_contents.py
    runner = Runner(config, spark, STAGES, progress=lambda _: None)
    runner.run()     # the runner checks every file and event reached an output or the ledger
    read = lambda stage, t: spark.read.parquet(runner.table_path(stage, t))   # noqa: E731
    docs = read("conversations", "conversation_documents").select("source", "repo_name", "source_ids").collect()
    assert sorted((d.source, d.repo_name) for d in docs) == [("issue", "Codertocat/Hello-World"),
                                                             ("pull_request", "psf/requests")]
    pr = read("conversations", "pull_requests").collect()[0]
    assert (pr.pr_id, pr.merged, pr.base_snapshot, pr.files_changed) == ("psf/requests#1", True,
                                                                          "snapshots/requests-2.31.0", 2)
    ledger = spark.read.parquet(runner.ledger_path("conversations"))
    rules = {(r.id, r.rule) for r in ledger.where("id_kind = 'pull_request'").collect()}
    assert ("psf/requests#2", "base_files_missing") in rules
    event_rules = {r.rule for r in spark.read.parquet(runner.ledger_path("events")).collect()}
    assert {"not_json", "missing_field", "truncated_gzip", "unused_event_type", "unknown_event_type"} <= event_rules
    # the same documents whatever the partitioning of the inputs
    events, files = read("events", "events").repartition(3, "event_id"), read("ingest", "files").repartition(1)
    again = conversation_tables(events, files, config, str(tmp_path / "again"))[0]["conversation_documents"]
    assert digest(again) == digest(read("conversations", "conversation_documents"))


def test_review_before_opened_is_left_out(events, commits):
    early = [dict(e) for e in events["psf/requests#1"]]
    early[1]["created_at"] = early[0]["created_at"].replace(year=2020)   # the review, before the PR opened
    outcome = render(early, commits)
    assert outcome.text and "<pr_review>" not in outcome.text
    assert ("30000000002", "before_opened") in [(r["id"], r["rule"]) for r in outcome.ledger]

"""Pull-request documents in StarCoder2's format (reference §1.2; the-stack-v2 ``render.py`` and
``process_pr_events.py``, re-written): the PR filters, the base-file and diff rules, username
anonymisation and the render template. Pure Python on one PR at a time; ``conversations.py`` runs it
inside Spark partitions.

A PR reaches this module as its events (sorted here by time, then id) and its ``commits``: for each
(base sha, head sha) pair seen in its events, the files-table snapshots they resolved to and the files
that differ between them. Every random choice draws from ``rng_for(seed, pr_id)``, in this order:
repo subsampling, then per base file (by path) full-file-or-window and YAML/JSON subsampling, then
per rendered diff the context size.
"""
from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from codecorpus import tokens
from codecorpus.annotate.license import get_license_type
from codecorpus.format.conversation_text import (BotRules, anonymise, is_bot, strip_email_reply,
                                                 strip_markdown_comments, truncate_middle, username_map)
from codecorpus.format.pr_diff import changed_range, hunks, shift_hunk_header

TITLE_PREFIX = "Title: "
TRUNCATED = "[TRUNCATED]"
OMITTED = "[OMITTED]"
DIFFS_OMITTED = "[DIFFS OMITTED]"
REVIEW_TYPES = ("PullRequestReviewEvent", "PullRequestReviewCommentEvent")
DOC_LANGUAGES = ["Markdown", "reStructuredText", "RMarkdown", "RDoc", "AsciiDoc"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubsampleRule(_Strict):
    keys: list[str] = Field(description="a base file whose path contains one of these is subsampled")
    share_of_base: float = Field(0.5, description="...and so is one larger than this share of all base code")
    keep_rate: float = Field(0.1, description="probability a subsampled file is kept")


class PullRequestConfig(_Strict):
    """StarCoder2's pull-request rules (reference §1.2); names match the ledger's rule names."""
    snapshots: dict[str, str] = Field(default_factory=dict, description=(
        "where a commit's files are: 'owner/repo@sha' -> a repo_name of the files table. Commits not "
        "listed are found by files.revision_id (git repositories ingested at that commit)."))
    license_keep: list[str] = Field(["permissive", "no_license"], description=(
        "license types of the base repository kept (from its GitHub license id, The Stack v2's rule)"))
    bots: BotRules = Field(default_factory=BotRules, description="who is a bot (opener, comment authors)")
    min_title_chars: int = Field(10, description="title_rule: drop the PR when the title is shorter")
    max_title_chars: int = Field(500, description="titles are cut here")
    title_keywords: list[str] = Field(["dependencies", "dependency", "depend", "release"],
                                      description="title_rule: drop when the lowercased title contains one")
    min_text_chars: int = Field(20, description="description_rule / comment_too_short: shorter texts drop "
                                "the PR (description) or the event (comment); review bodies are exempt")
    max_text_chars: int = Field(1000, description="texts are cut here (after line truncation)")
    max_text_lines: int = Field(80, description="texts longer than this keep the first lines and the last ...")
    keep_last_lines: int = Field(20, description="... this many, with [TRUNCATED] between")
    blocked_text: list[str] = Field(["Qwiet"], description="a text containing one drops the PR or event")
    max_review_hunk_chars: int = Field(10_000, description="review diff hunks longer become [OMITTED]")
    base_full_file_rate: float = Field(0.2, ge=0, le=1, description="a base file is shown whole with this probability")
    base_extra_lines: int = Field(32, ge=1, description="else its changed range plus [0, this) lines each side")
    diff_context_min: int = Field(3, ge=0, description="diff hunks get [min, max) context lines")
    diff_context_max: int = Field(10, ge=1, description="(upper bound exclusive, as numpy.randint in render.py)")
    min_pr_chars: int = Field(200, description="too_short: shorter documents are dropped")
    max_pr_chars: int = Field(100_000, description="too_long: the paper's cap (render.py used 1,000,000)")
    repo_subsample: bool = Field(True, description="keep a PR with p = 0.8007-0.0007n (n<=1000) else 100/n, "
                                 "n = PRs of its repository")
    subsample: dict[str, SubsampleRule] = Field(default_factory=lambda: {
        "YAML": SubsampleRule(keys=["pack", "lock", "yarn", "output", "swagger", "openapi"]),
        "JSON": SubsampleRule(keys=["pack", "lock", "output"])}, description="per-language base-file subsampling")
    max_file_chars: int = Field(1_000_000, description="file_too_large: base files longer are dropped")
    min_alphanum_fraction: float = Field(0.25, description="file_alphanum: dropped at or below")
    max_hex_fraction: float = Field(0.25, description="file_hex: count('\\\\x')*2/len at or above drops")
    max_file_lines: int = Field(100_000, description="file_lines: dropped at or above")
    max_avg_line_length: float = Field(100, description="file_line_length: mean line length at or above drops")
    max_line_length: int = Field(1000, description="file_line_length: longest line at or above drops")
    long_line_exempt_languages: list[str] = Field(default_factory=lambda: list(DOC_LANGUAGES))
    english_pattern: str = Field(r"\s+(the|be|to|of|and|that|have|with)\s+",
                                 description="file_not_english: Markdown base files must match it")
    blocked_languages: list[str] = Field(default_factory=list, description=(
        "'Language:ext' pairs dropped (The Stack v2's language_labels.csv include_final=FALSE rows; "
        "not public, so empty by default)"))


class Drop(Exception):
    """A PR dropped by ``rule`` with the measured ``value``."""

    def __init__(self, rule: str, value: Any = None):
        super().__init__(rule)
        self.rule, self.value = rule, None if value is None else str(value)


class EventDrop(Exception):
    def __init__(self, rule: str, value: Any = None):
        super().__init__(rule)
        self.rule, self.value = rule, None if value is None else str(value)


@dataclass
class Outcome:
    """What became of one PR (or issue): its document text (None when dropped), the ledger rows, and
    the events rendered in document order."""
    text: str | None
    rendered: list[str] = field(default_factory=list)
    ledger: list[dict] = field(default_factory=list)
    info: dict = field(default_factory=dict)


def ledger_row(id_: str, id_kind: str, rule: str, value: Any = None, detail: str | None = None) -> dict:
    return {"id": id_, "id_kind": id_kind, "rule": rule, "value": None if value is None else str(value),
            "detail": detail}


def sort_events(events: list[dict]) -> list[dict]:
    """Time order; GH Archive ids grow with time, so they break ties."""
    return sorted(events, key=lambda e: (e["created_at"], len(e["event_id"]), e["event_id"]))


def with_fields(event: dict) -> dict:
    return {**event, **json.loads(event["payload"] or "{}")}


# ------------------------------------------------------------------------------------------ texts

def render_title(title: str | None, cfg: PullRequestConfig) -> str:
    text = truncate_middle(title or "", cfg.max_text_lines, cfg.keep_last_lines, TRUNCATED)
    if len(text) < cfg.min_title_chars:
        raise EventDrop("title_rule", f"{len(text)} chars")
    low = text.lower()
    hit = next((k for k in cfg.title_keywords if k in low), None)
    if hit:
        raise EventDrop("title_rule", hit)
    return TITLE_PREFIX + text[:cfg.max_title_chars] + "\n"


def render_text(user: str, text: str | None, cfg: PullRequestConfig, exempt_min: bool = False) -> str:
    """``user: text`` after the text rules; ``user`` alone for an empty text."""
    text = strip_email_reply(text)
    blocked = next((b for b in cfg.blocked_text if b in text), None)
    if blocked:
        raise EventDrop("blocked_text", blocked)
    if "codecov" in text.lower():
        return f"{user}: {OMITTED}CodeCov"
    text = truncate_middle(strip_markdown_comments(text), cfg.max_text_lines, cfg.keep_last_lines, TRUNCATED)
    if len(text) < cfg.min_text_chars and not exempt_min:
        raise EventDrop("text_too_short", f"{len(text)} chars")
    text = text[:cfg.max_text_chars]
    return f"{user}: {text}" if text else user


# ------------------------------------------------------------------------------------------ files

def file_rule(path: str, content: str, language: str | None, cfg: PullRequestConfig) -> tuple[str, str] | None:
    """The first base-file rule ``content`` trips, as (rule, value); None when it passes them all."""
    n = len(content)
    if n > cfg.max_file_chars:
        return "file_too_large", str(n)
    alnum = sum(c.isalnum() for c in content) / n if n else 0.0
    if alnum <= cfg.min_alphanum_fraction:
        return "file_alphanum", f"{alnum:.3f}"
    hex_fraction = content.count("\\x") * 2 / n
    if hex_fraction >= cfg.max_hex_fraction:
        return "file_hex", f"{hex_fraction:.3f}"
    lines = content.splitlines() or [""]
    if len(lines) >= cfg.max_file_lines:
        return "file_lines", str(len(lines))
    if language not in cfg.long_line_exempt_languages:
        longest, mean = max(map(len, lines)), sum(map(len, lines)) / len(lines)
        if mean >= cfg.max_avg_line_length or longest >= cfg.max_line_length:
            return "file_line_length", f"avg {mean:.1f}, max {longest}"
    if language == "Markdown" and not re.search(cfg.english_pattern, content):
        return "file_not_english", None
    extension = path.rsplit(".", 1)[-1] if "." in path.rsplit("/", 1)[-1] else ""
    if f"{language}:{extension}" in cfg.blocked_languages:
        return "file_blocked_language", f"{language}:{extension}"
    return None


def usable_files(pr_id: str, files: list[dict], cfg: PullRequestConfig, ledger: list[dict],
                 seen: set[str]) -> list[dict]:
    """The changed files of one commit pair that may be rendered: sorted by path, both sides present,
    passing ``file_rule``. Each path dropped gets one ledger row (``seen`` holds the paths reported)."""
    kept = []
    for f in sorted(files, key=lambda f: f["path"]):
        if f["base_content"] is None or f["head_content"] is None:
            verdict = ("file_added", None) if f["base_content"] is None else ("file_deleted", None)
        else:
            verdict = file_rule(f["path"], f["base_content"], f.get("language"), cfg)
        if verdict is None:
            kept.append(f)
        elif f["path"] not in seen:
            seen.add(f["path"])
            ledger.append(ledger_row(f"{pr_id}:{f['path']}", "pr_file", verdict[0], verdict[1], pr_id))
    return kept


@dataclass
class BaseFile:
    path: str
    content: str
    language: str | None
    start: int
    end: int


def base_windows(diffs: list[list[dict]], rng: random.Random, cfg: PullRequestConfig, pr_id: str,
                 ledger: list[dict]) -> dict[str, BaseFile]:
    """The base code shown per path: the union of the changed ranges of every commit, then the whole
    file (base_full_file_rate) or that range with [0, base_extra_lines) more lines each side; then
    YAML/JSON subsampling against the total base size."""
    files: dict[str, BaseFile] = {}
    for diff in diffs:
        for f in diff:
            span = changed_range(f["base_content"].splitlines(), f["head_content"].splitlines())
            if span is None:
                continue
            known = files.get(f["path"])
            if known is None:
                files[f["path"]] = BaseFile(f["path"], f["base_content"], f.get("language"), *span)
            else:
                known.start, known.end = min(known.start, span[0]), max(known.end, span[1])
    shown = {}
    for path in sorted(files):
        f = files[path]
        lines = f.content.splitlines()
        if rng.random() < cfg.base_full_file_rate:
            shown[path] = BaseFile(path, f.content, f.language, 0, len(lines))
        else:
            start = max(0, f.start - rng.randrange(cfg.base_extra_lines))
            end = min(len(lines), f.end + rng.randrange(cfg.base_extra_lines))
            shown[path] = BaseFile(path, "\n".join(lines[start:end]), f.language, start, end)
    total = max(1, sum(len(f.content) for f in shown.values()))
    for path in sorted(shown):
        rule = cfg.subsample.get(shown[path].language or "")
        if rule and (any(k in path for k in rule.keys) or len(shown[path].content) / total > rule.share_of_base):
            if rng.random() >= rule.keep_rate:
                del shown[path]
                ledger.append(ledger_row(f"{pr_id}:{path}", "pr_file", "subsample", rule.keep_rate, pr_id))
    return shown


def render_base(shown: dict[str, BaseFile]) -> str:
    return tokens.PR_BASE + "".join(f"{tokens.PR_FILE}{p}{tokens.PR_BASE_CODE}{f.content}"
                                    for p, f in shown.items())


def render_diff(files: list[dict], shown: dict[str, BaseFile], rng: random.Random, cfg: PullRequestConfig) -> str:
    if not files:
        return tokens.PR_DIFF + DIFFS_OMITTED
    context = rng.randrange(cfg.diff_context_min, cfg.diff_context_max)
    out = [tokens.PR_DIFF]
    for f in files:
        if f["path"] not in shown:   # dropped by subsampling
            continue
        start = shown[f["path"]].start
        found = hunks(f["base_content"].splitlines()[start:], f["head_content"].splitlines()[start:], context)
        out.append(tokens.PR_FILE + f["path"] + "".join(tokens.PR_DIFF_HUNK + h for h in found))
    return "".join(out)


# ------------------------------------------------------------------------------------------ events

def render_pr_event(e: dict, user: str, opened_before: bool, cfg: PullRequestConfig) -> str:
    out = tokens.PR
    if e["action"] in ("opened", "edited", "reopened"):
        out += render_title(e.get("title"), cfg) + render_text(user, e.get("body"), cfg)
    else:
        out += user
    if e["action"]:
        out += f"{tokens.PR_STATUS}{e['action'].lower()}"
    if not opened_before:
        out += f"{tokens.REPO_NAME}{e.get('base_repo') or e['repo_name']}"
    if e["action"] == "closed":
        out += f"{tokens.PR_IS_MERGED}{bool(e.get('merged'))}"
    return out


def render_review(e: dict, user: str, shown: dict[str, BaseFile], cfg: PullRequestConfig) -> str:
    if e["type"] == "PullRequestReviewEvent":
        body = render_text(user, e.get("body"), cfg, exempt_min=True) if e.get("body") else user
        return (f"{tokens.PR_REVIEW}{body}{tokens.PR_EVENT_ID}{e.get('review_id')}"
                f"{tokens.PR_REVIEW_STATE}{e.get('state')}")
    line = e.get("original_position", e.get("position"))
    if line is None or e.get("comment_id") is None:
        raise EventDrop("missing_field", "comment.original_position" if line is None else "comment.id")
    out = f"{tokens.PR_REVIEW_COMMENT}{tokens.PR_EVENT_ID}{e['comment_id']}"
    if e.get("review_id") is not None:
        out += f"{tokens.PR_IN_REPLY_TO_REVIEW_ID}{e['review_id']}"
    if e.get("in_reply_to_id") is not None:
        out += f"{tokens.PR_IN_REPLY_TO_COMMENT_ID}{e['in_reply_to_id']}"
    hunk = e.get("diff_hunk") or ""
    skipped = shown[e["path"]].start if e.get("path") in shown else 0
    hunk = shift_hunk_header(hunk, skipped)
    hunk = OMITTED if len(hunk) > cfg.max_review_hunk_chars else hunk
    return (out + f"{tokens.PR_FILE}{e.get('path')}{tokens.PR_DIFF_HUNK_COMMENT_LINE}{line}"
            f"{tokens.PR_DIFF_HUNK}{hunk}{tokens.PR_COMMENT}" + render_text(user, e.get("body"), cfg))


def render_comment(e: dict, user: str, cfg: PullRequestConfig) -> str:
    out = tokens.PR_COMMENT + render_text(user, e.get("body"), cfg)
    if e.get("comment_id") is not None:
        out += f"{tokens.PR_EVENT_ID}{e['comment_id']}"
    if e["action"]:
        out += f"{tokens.PR_STATUS}{e['action'].lower()}"
    return out


# ------------------------------------------------------------------------------------------ filters

def repo_keep_rate(n: int) -> float:
    """Per-repository subsampling: fewer PRs kept from repositories with many."""
    return 0.8007 - 0.0007 * n if n <= 1000 else 100 / n


def check_pr(events: list[dict], opt_out: tuple[set[str], set[str]], cfg: PullRequestConfig) -> dict:
    """The PR-level filters (§1.2 "PR filters"); raises Drop, else returns the opened event."""
    owners, repos = opt_out
    opened = next((e for e in events if e["type"] == "PullRequestEvent" and e["action"] == "opened"), None)
    if opened is None:
        raise Drop("no_opened_event")
    touched = {opened["repo_name"], opened.get("base_repo") or "", opened.get("head_repo") or ""}
    hit = next((r for r in sorted(touched) if r.lower() in repos or r.split("/")[0].lower() in owners), None)
    if hit or (opened["actor"] or "").lower() in owners:
        raise Drop("opt_out", hit or opened["actor"])
    if is_bot(opened["actor"], cfg.bots):
        raise Drop("bot", opened["actor"])
    talk = [e for e in events if e["type"] in REVIEW_TYPES or e["type"] == "IssueCommentEvent"]
    if not any(not is_bot(e["actor"], cfg.bots) for e in talk):
        raise Drop("bot_comments_only", f"{len(talk)} review/comment events, none by a person")
    license_type = get_license_type(opened.get("license"), None)
    if license_type not in cfg.license_keep:
        raise Drop("license", f"{opened.get('license')} ({license_type})")
    merged = any(e.get("merged") for e in events)
    approved = any(e["type"] == "PullRequestReviewEvent" and str(e.get("state")).lower() == "approved"
                   for e in events)
    if not (merged or approved):
        raise Drop("not_approved_or_merged")
    bases = {e["base_sha"] for e in events if e.get("base_sha")}
    if len(bases) - 1 - merged > 0:
        raise Drop("changed_base", len(bases))
    return {"opened": opened, "merged": merged, "approved": approved, "license_type": license_type}


def commit_diffs(pr_id: str, opened: dict, commits: list[dict], cfg: PullRequestConfig,
                 ledger: list[dict]) -> tuple[dict[str, list[dict]], dict]:
    """Usable changed files per head sha; raises Drop when the initial commit pair has none."""
    by_head = {c["head_sha"]: c for c in commits if c["base_sha"] == opened.get("base_sha")}
    first = by_head.get(opened.get("head_sha"))
    if first is None or first["base_files_repo"] is None:
        raise Drop("base_files_missing", f"{opened.get('base_repo')}@{opened.get('base_sha')}")
    if first["head_files_repo"] is None:
        raise Drop("head_files_missing", f"{opened.get('head_repo')}@{opened.get('head_sha')}")
    seen: set[str] = set()
    diffs = {sha: usable_files(pr_id, c["files"] or [], cfg, ledger, seen)
             for sha, c in sorted(by_head.items()) if c["base_files_repo"] and c["head_files_repo"]}
    if not diffs[opened["head_sha"]]:
        raise Drop("no_initial_diff", f"{len(first['files'] or [])} files changed, none usable")
    return diffs, {"base_snapshot": first["base_files_repo"],
                   "head_snapshots": sorted({by_head[s]["head_files_repo"] for s in diffs})}


# ------------------------------------------------------------------------------------------ one PR

def diff_for(e: dict, head: str, diffs: dict[str, list[dict]], shown: dict[str, BaseFile],
             rng: random.Random, cfg: PullRequestConfig) -> tuple[str, str]:
    """A PR or review event on a new head commit first shows that commit's diff (when its files are known)."""
    sha = e.get("head_sha")
    if e["type"] == "IssueCommentEvent" or not sha or sha == head:
        return head, ""
    return sha, render_diff(diffs[sha], shown, rng, cfg) if sha in diffs else ""


def render_events(pr_id: str, events: list[dict], diffs: dict[str, list[dict]], rng: random.Random,
                  cfg: PullRequestConfig, outcome: Outcome) -> str:
    """The document body, event by event (render.py's order); a failing event is left out with a
    ledger row, except the opening one, whose title and description rules drop the PR."""
    names = username_map(e["actor"] for e in events)
    out, head, shown, opened_done = "", "", {}, False
    for e in events:
        user = names.get(e["actor"], "")
        e = {**e, "title": anonymise(e.get("title") or "", names), "body": anonymise(e.get("body") or "", names)}
        try:
            if e["type"] == "PullRequestEvent":
                if opened_done:
                    head, diff = diff_for(e, head, diffs, shown, rng, cfg)
                    out += diff
                piece = render_pr_event(e, user, opened_done, cfg)
                if not opened_done and e["action"] in ("opened", "reopened"):
                    opened_done = True
                    shown = base_windows([diffs[s] for s in diffs], rng, cfg, pr_id, outcome.ledger)
                    if not shown:
                        raise Drop("no_base_files")
                    head, diff = diff_for(e, head, diffs, shown, rng, cfg)
                    piece += render_base(shown) + diff
            elif e["type"] in REVIEW_TYPES:
                if not opened_done:
                    raise EventDrop("before_opened")
                head, diff = diff_for(e, head, diffs, shown, rng, cfg)
                out += diff
                piece = render_review(e, user, shown, cfg)
            else:
                piece = render_comment(e, user, cfg)
        except EventDrop as drop:
            if e["action"] == "opened" and e["type"] == "PullRequestEvent":
                rule = "title_rule" if drop.rule == "title_rule" else "description_rule"
                raise Drop(rule, f"{drop.rule}: {drop.value}") from None
            outcome.ledger.append(ledger_row(e["event_id"], "event", drop.rule, drop.value, pr_id))
            continue
        out += piece
        outcome.rendered.append(e["event_id"])
        if len(out) > cfg.max_pr_chars:
            raise Drop("too_long", f"over {cfg.max_pr_chars} chars")
    outcome.info.update(files_changed=len(shown), users=len({names[e["actor"]] for e in events
                                                              if e["event_id"] in outcome.rendered and e["actor"]}),
                        windows={p: [f.start, f.end] for p, f in shown.items()},
                        languages=sorted({f.language for f in shown.values() if f.language}))
    return out


def head_order(events: list[dict], diffs: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """``diffs`` in the order their head commits first appear in the events."""
    order = list(dict.fromkeys(e["head_sha"] for e in events if e.get("head_sha") in diffs))
    return {sha: diffs[sha] for sha in order}


def render_pull_request(pr_id: str, events: list[dict], commits: list[dict], repo_prs: int, rng: random.Random,
                        cfg: PullRequestConfig, opt_out: tuple[set[str], set[str]] = (set(), set())) -> Outcome:
    """Filter and render one PR. ``events`` are rows of the events table, ``commits`` its commit pairs
    with their changed files, ``repo_prs`` the number of PRs of its repository. Dropped events, files
    and (when dropped) the PR itself and all its events become ledger rows."""
    events = [with_fields(e) for e in sort_events(events)]
    outcome = Outcome(None)
    owners = opt_out[0]
    try:
        facts = check_pr(events, opt_out, cfg)
        diffs, snapshots = commit_diffs(pr_id, facts["opened"], commits, cfg, outcome.ledger)
        if cfg.repo_subsample:
            rate = repo_keep_rate(repo_prs)
            if rng.random() >= rate:
                raise Drop("repo_subsample", f"p={rate:.4f} (n={repo_prs})")
        kept = []
        for e in events:
            if (e["actor"] or "").lower() in owners:
                outcome.ledger.append(ledger_row(e["event_id"], "event", "opt_out", e["actor"], pr_id))
            else:
                kept.append(e)
        body = render_events(pr_id, kept, head_order(kept, diffs), rng, cfg, outcome)
        if len(body) < cfg.min_pr_chars:
            raise Drop("too_short", len(body))
    except Drop as drop:
        outcome.ledger.append(ledger_row(pr_id, "pull_request", drop.rule, drop.value))
        reported = {r["id"] for r in outcome.ledger if r["id_kind"] == "event"}
        outcome.ledger += [ledger_row(e["event_id"], "event", drop.rule, drop.value, pr_id)
                           for e in events if e["event_id"] not in reported]
        outcome.rendered = []
        return outcome
    opened = facts["opened"]
    outcome.text = body + tokens.ENDOFTEXT
    outcome.info.update(merged=facts["merged"], approved=facts["approved"], license_type=facts["license_type"],
                        title=opened.get("title"), repo_name=opened.get("base_repo") or opened["repo_name"],
                        **snapshots)
    return outcome


# ------------------------------------------------------------------------------------------ parsing

PR_TOKENS = (tokens.PR, tokens.PR_STATUS, tokens.PR_IS_MERGED, tokens.REPO_NAME, tokens.PR_BASE, tokens.PR_FILE,
             tokens.PR_BASE_CODE, tokens.PR_DIFF, tokens.PR_DIFF_HUNK, tokens.PR_COMMENT, tokens.PR_EVENT_ID,
             tokens.PR_REVIEW, tokens.PR_REVIEW_STATE, tokens.PR_REVIEW_COMMENT, tokens.PR_IN_REPLY_TO_REVIEW_ID,
             tokens.PR_IN_REPLY_TO_COMMENT_ID, tokens.PR_DIFF_HUNK_COMMENT_LINE, tokens.ENDOFTEXT)
_SPLIT = re.compile("(" + "|".join(re.escape(t) for t in PR_TOKENS) + ")")


def segments(text: str) -> list[tuple[str, str]]:
    """A PR document as (token, text up to the next token) pairs."""
    parts = _SPLIT.split(text)
    if parts[0]:
        raise ValueError(f"a PR document starts with a token, not {parts[0][:40]!r}")
    return list(zip(parts[1::2], parts[2::2]))


def parse_pull_request(text: str) -> list[dict]:
    """The events of a rendered PR, in order: {"kind": pr|review|review_comment|comment, "user", ...}.
    The inverse of the renderer for everything but the code (base files and diffs are skipped)."""
    events: list[dict] = []
    in_review_comment = False
    for token, value in segments(text):
        if token == tokens.PR:
            user = value.split("\n", 1)[1] if value.startswith(TITLE_PREFIX) else value
            events.append({"kind": "pr", "user": user.split(": ", 1)[0]})
            in_review_comment = False
        elif token == tokens.PR_REVIEW:
            events.append({"kind": "review", "user": value.split(": ", 1)[0]})
        elif token == tokens.PR_REVIEW_COMMENT:
            events.append({"kind": "review_comment"})
            in_review_comment = True
        elif token == tokens.PR_COMMENT:
            if in_review_comment:
                events[-1]["user"] = value.split(": ", 1)[0]
                in_review_comment = False
            else:
                events.append({"kind": "comment", "user": value.split(": ", 1)[0]})
        elif token == tokens.PR_EVENT_ID:
            events[-1]["id"] = value
        elif token in (tokens.PR_STATUS, tokens.PR_REVIEW_STATE):
            events[-1]["status"] = value
        elif token in (tokens.PR_BASE, tokens.PR_DIFF):
            in_review_comment = False
    return events

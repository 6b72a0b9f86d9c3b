"""GitHub issue documents in StarCoder2's format (reference §1.3; bigcode-dataset
``preprocessing/filtering_issues.py`` and ``utils/utils_issues.py``, re-written), one issue at a time:

    <issue_start>Title: {title}\\nusername_0: {description}<issue_comment>username_1: {comment}...
    [<issue_closed>]...<|endoftext|>

Steps, in the reference's order: email-reply boilerplate, quoted lines and ``____`` breaks stripped;
issues under ``min_text_chars`` dropped (too_short); long texts cut in the middle; bot comments removed
(an issue opened by a bot is dropped: bot); the user/size rule (user_count); usernames anonymised.
Rendered events: IssuesEvent opened (title and description), closed (``<issue_closed>``), and
IssueCommentEvent created; any other action (labeled, edited, deleted...) is left out with a ledger row.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from codecorpus import tokens
from codecorpus.format.conversation_text import BotRules, anonymise, is_bot, strip_email_reply, truncate_middle, \
    username_map
from codecorpus.format.pull_requests import Outcome, ledger_row, sort_events, with_fields

TITLE_PREFIX = "Title: "
TRUNCATED = "[Truncated]"


class IssueConfig(BaseModel):
    """StarCoder2's issue rules (reference §1.3); names match the ledger's rule names."""
    model_config = ConfigDict(extra="forbid")
    bots: BotRules = Field(default_factory=BotRules, description="bot comments are removed")
    min_text_chars: int = Field(200, description="too_short: issues with less cleaned text are dropped")
    max_lines: int = Field(80, description="texts longer keep their first lines and the last ... "
                           "(the code's 80; the paper says 100)")
    keep_last_lines: int = Field(20, description="... this many, with [Truncated] between")
    min_users: int = Field(2, description="user_count: issues with this many users are kept...")
    max_chars_single_user: int = Field(7000, description="...else only with at most this much text...")
    max_events_single_user: int = Field(10, description="...and at most this many events")


def _text(e: dict) -> str:
    return strip_email_reply(e.get("body"))


def render_issue(issue_id: str, events: list[dict], cfg: IssueConfig,
                 opt_out: tuple[set[str], set[str]] = (set(), set())) -> Outcome:
    """Filter and render one issue; dropped events and (when dropped) the issue become ledger rows."""
    events = [with_fields(e) for e in sort_events(events)]
    outcome = Outcome(None)
    ledger = outcome.ledger

    def drop(rule: str, value=None) -> Outcome:
        ledger.append(ledger_row(issue_id, "issue", rule, value))
        reported = {r["id"] for r in ledger if r["id_kind"] == "event"}
        ledger.extend(ledger_row(e["event_id"], "event", rule, value, issue_id)
                      for e in events if e["event_id"] not in reported)
        return outcome

    owners, repos = opt_out
    repo = events[0]["repo_name"]
    if repo.lower() in repos or repo.split("/")[0].lower() in owners:
        return drop("opt_out", repo)
    opened = next((e for e in events if e["type"] == "IssuesEvent" and e["action"] == "opened"), None)
    if opened is None:
        return drop("no_opened_event")
    if (opened["actor"] or "").lower() in owners:
        return drop("opt_out", opened["actor"])
    if is_bot(opened["actor"], cfg.bots):
        return drop("bot", opened["actor"])
    kept = []
    for e in events:
        renders = (e is opened or (e["type"] == "IssueCommentEvent" and e["action"] == "created")
                   or (e["type"] == "IssuesEvent" and e["action"] == "closed"))
        if not renders:
            ledger.append(ledger_row(e["event_id"], "event", "not_rendered", f"{e['type']} {e['action']}", issue_id))
        elif e is not opened and (e["actor"] or "").lower() in owners:
            ledger.append(ledger_row(e["event_id"], "event", "opt_out", e["actor"], issue_id))
        elif e["type"] == "IssueCommentEvent" and is_bot(e["actor"], cfg.bots):
            ledger.append(ledger_row(e["event_id"], "event", "bot_comment", e["actor"], issue_id))
        else:
            closing = e["type"] == "IssuesEvent" and e["action"] == "closed"   # renders no text
            kept.append({**e, "text": "" if closing else _text(e)})
    first = opened["event_id"]
    kept.sort(key=lambda e: e["event_id"] != first)   # the description leads, even after an older close
    text_chars = sum(len(e["text"]) for e in kept)
    if text_chars < cfg.min_text_chars:
        return drop("too_short", text_chars)
    users = {e["actor"] for e in kept}
    if len(users) < cfg.min_users and (text_chars > cfg.max_chars_single_user or len(kept) > cfg.max_events_single_user):
        return drop("user_count", f"{len(users)} users, {text_chars} chars, {len(kept)} events")
    names = username_map(e["actor"] for e in kept)
    parts = [tokens.ISSUE_START, TITLE_PREFIX, anonymise(opened.get("title") or "", names), "\n"]
    for e in kept:
        if e["type"] == "IssuesEvent" and e["action"] == "closed":
            parts.append(tokens.ISSUE_CLOSED)
        else:
            text = truncate_middle(anonymise(e["text"], names), cfg.max_lines, cfg.keep_last_lines, TRUNCATED)
            if e["event_id"] != first:
                parts.append(tokens.ISSUE_COMMENT)
            parts.append(f"{names.get(e['actor'], '')}: {text}")
        outcome.rendered.append(e["event_id"])
    outcome.text = "".join(parts) + tokens.ENDOFTEXT
    outcome.info.update(title=opened.get("title"), closed=any(e["action"] == "closed" for e in kept),
                        users=len(users), text_chars=text_chars, repo_name=repo)
    return outcome

"""Text rules shared by pull-request and issue documents (reference §1.2 and §1.3): GitHub email-reply
boilerplate, markdown comments, middle truncation, bot authors, and username anonymisation.

The regexes and bot lists are BigCode's (bigcode-dataset ``preprocessing/utils/utils_issues.py``, reused by
the-stack-v2 ``process_pr_events.py``); the lists are config values with these defaults.
"""
from __future__ import annotations

import re
from typing import Iterable

from pydantic import BaseModel, ConfigDict, Field

GITHUB_EMAILS = [re.compile(p, re.DOTALL) for p in (
    r"(.*)From:.+Reply to this email directly.+view it on GitHub(.*)\n?(.*)",
    r"(.*)On.+notifications@github.com.+wrote:.+Reply to this email directly.+view it on GitHub(.*)\n?(.*)",
    r"(.*)Signed-off-by: .+<.+>(.*?)\n?(.*)",
)]
GITHUB_EMAIL_DATE = re.compile(r"\d+/\d+/\d+ \d{2}:\d{2} [AP]M.+wrote")
PAGE_BREAK = re.compile(r"_{20,}")

BOT_AUTHORS = ["Apache-HBase", "AutorestCI", "CLAassistant", "cmsbuild", "codecov-io", "codecov-commenter",
               "coveralls", "danger-public", "dnfclas", "msftclas", "PyDocTeur", "SparkQA", "karma-pr-reporter",
               "claassistantio", "probot-stale"]
BOT_KEYWORDS = ["[bot]", "botmanager", "bors-", "jenkins", "k8s-", "-test-", "travis"]
BOT_SUFFIXES = ["-automaton", "-automation", "-benchmark", "-build", "-deployer", "-cloud", "bot", "-ci",
                "-linter", "-teamcity", "-test", "-testing", "-Service-Account"]


class BotRules(BaseModel):
    """Who counts as a bot (BigCode's lists; a login matches case-insensitively, exact names exactly)."""
    model_config = ConfigDict(extra="forbid")
    authors: list[str] = Field(default_factory=lambda: list(BOT_AUTHORS), description="exact logins")
    keywords: list[str] = Field(default_factory=lambda: list(BOT_KEYWORDS), description="substrings of a login")
    suffixes: list[str] = Field(default_factory=lambda: list(BOT_SUFFIXES), description="login endings")


def is_bot(login: str | None, rules: BotRules) -> bool:
    if not login:
        return False
    low = login.lower()
    return (login in rules.authors or any(k.lower() in low for k in rules.keywords)
            or any(low.endswith(s.lower()) for s in rules.suffixes))


def strip_email_reply(text: str | None) -> str:
    """Remove what GitHub adds to a comment posted by email reply: the quoted thread (``>`` lines), the
    "Reply to this email directly" footer, sign-offs and ``_____`` page breaks."""
    text = (text or "").strip()
    if not text:
        return ""
    match = next((m for m in (p.match(text) for p in GITHUB_EMAILS) if m), None)
    if match:
        text = match.group(1) + match.group(3)
    else:
        lines = text.split("\n")
        start, end = 0, -1
        for i, line in enumerate(lines):
            line = line.strip()
            if "notifications@github.com" in line or GITHUB_EMAIL_DATE.search(line):
                start = i
            if "Reply to this email directly" in line:
                end = i + 1 if line.endswith(":") else i
            if line.startswith(">"):
                end = i
        text = "\n".join(lines[:start] + lines[end + 1:])
    return PAGE_BREAK.sub("", text).strip()


def strip_markdown_comments(text: str) -> str:
    """Drop ``<!-- ... -->`` (PR templates are full of them); an unclosed one runs to the end."""
    return "".join(part.rsplit("-->", 1)[-1] for part in text.split("<!--"))


def truncate_middle(text: str, max_lines: int, keep_last: int, marker: str) -> str:
    """Over ``max_lines`` lines: the first ``max_lines - keep_last``, the marker, the last ``keep_last``."""
    lines = text.split("\n")
    if len(lines) <= max_lines:
        return text
    return "\n".join(lines[:max_lines - keep_last]) + f"\n{marker}\n" + "\n".join(lines[-keep_last:])


def username_map(logins: Iterable[str | None]) -> dict[str, str]:
    """``username_i`` for each login in order of first appearance."""
    names: dict[str, str] = {}
    for login in logins:
        if login and login not in names:
            names[login] = f"username_{len(names)}"
    return names


def anonymise(text: str, names: dict[str, str]) -> str:
    """Replace every participant's login in ``text`` (longest first, so ``bob`` cannot cut ``bobby``)."""
    for login in sorted(names, key=len, reverse=True):
        if login in text:
            text = text.replace(login, names[login])
    return text

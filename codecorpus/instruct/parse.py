"""Replies to samples, by Magicoder's rules: the first line containing ``[problem description]`` and the
first containing ``[solution]`` (case-insensitive) split the reply; either missing, out of order or
empty after stripping, or a ``finish_reason`` other than ``stop``, rejects the reply with that rule.
A ``[Tests]`` line after the solution, when present, ends the solution and starts the tests.

Input lines have the OpenAI Batch output format (ours, OpenAI's and vLLM run_batch's)."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from codecorpus.instruct.prompts import FENCE, PROBLEM, SOLUTION, TESTS

# Rejection rules, in the order they are checked.
REQUEST_FAILED = "request_failed"
INVALID_JSON = "invalid_response"
NO_CHOICE = "no_choice"
FINISH_REASON = "finish_reason"
MISSING_PROBLEM = "missing_problem"
MISSING_SOLUTION = "missing_solution"
OUT_OF_ORDER = "sections_out_of_order"
EMPTY_PROBLEM = "empty_problem"
EMPTY_SOLUTION = "empty_solution"

_FENCE = re.compile(r"^```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
LANGUAGE_OF_FENCE = {**{v: k for k, v in FENCE.items()}, "py": "Python", "python3": "Python", "sh": "Shell",
                     "shell": "Shell", "c++": "C++", "cs": "C#", "c#": "C#", "ts": "TypeScript", "rs": "Rust",
                     "js": "JavaScript", "c": "C"}


@dataclass
class Reply:
    custom_id: str | None
    problem: str | None = None
    solution: str | None = None
    tests: str | None = None
    raw: str | None = None
    model: str | None = None
    system_fingerprint: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    rule: str | None = None       # set when rejected
    value: str | None = None


def _first(lines: list[str], marker: str, start: int = 0) -> int | None:
    marker = marker.lower()
    for i in range(start, len(lines)):
        if marker in lines[i].lower():
            return i
    return None


def split_sections(text: str) -> tuple[str | None, str | None, str | None, str | None]:
    """(problem, solution, tests, rule): rule names why the text has no usable sections."""
    lines = text.splitlines()
    p, s = _first(lines, PROBLEM), _first(lines, SOLUTION)
    if p is None:
        return None, None, None, MISSING_PROBLEM
    if s is None:
        return None, None, None, MISSING_SOLUTION
    if s < p:
        return None, None, None, OUT_OF_ORDER
    t = _first(lines, TESTS, s + 1)
    problem = "\n".join(lines[p + 1:s]).strip()
    solution = "\n".join(lines[s + 1:t]).strip()
    tests = "\n".join(lines[t + 1:]).strip() if t is not None else None
    if not problem:
        return None, None, None, EMPTY_PROBLEM
    if not solution:
        return None, None, None, EMPTY_SOLUTION
    return problem, solution, tests or None, None


def parse_line(line: str) -> Reply:
    try:
        record = json.loads(line)
        custom_id = record["custom_id"]
    except (ValueError, KeyError, TypeError):
        return Reply(None, rule=INVALID_JSON, value=line[:200])
    reply = Reply(custom_id)
    response = record.get("response") or {}
    body = response.get("body")
    if record.get("error") and not body or response.get("status_code", 200) != 200:
        error = record.get("error") or {}
        reply.rule, reply.value = REQUEST_FAILED, str(error.get("code") or response.get("status_code"))
        if error.get("code") == "invalid_json":
            reply.rule = INVALID_JSON
        return reply
    if not isinstance(body, dict):
        reply.rule, reply.value = INVALID_JSON, type(body).__name__
        return reply
    reply.model, reply.system_fingerprint = body.get("model"), body.get("system_fingerprint")
    usage = body.get("usage") or {}
    reply.prompt_tokens, reply.completion_tokens = usage.get("prompt_tokens"), usage.get("completion_tokens")
    try:
        choice = body["choices"][0]
        text = choice["message"]["content"]
        reply.finish_reason = choice.get("finish_reason")
    except (KeyError, IndexError, TypeError):
        reply.rule, reply.value = NO_CHOICE, None
        return reply
    if not isinstance(text, str):
        reply.rule, reply.value = NO_CHOICE, type(text).__name__
        return reply
    reply.raw = text
    if reply.finish_reason != "stop":
        reply.rule, reply.value = FINISH_REASON, str(reply.finish_reason)
        return reply
    reply.problem, reply.solution, reply.tests, reply.rule = split_sections(text)
    return reply


def code_blocks(text: str) -> list[tuple[str, str]]:
    """(info string, code) of each fenced block."""
    return [(m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(text or "")]


def solution_language(solution: str, seed_language: str | None) -> str | None:
    """The language of the solution's first fenced block, else the seed's."""
    for info, _code in code_blocks(solution):
        if info:
            return LANGUAGE_OF_FENCE.get(info, info.capitalize())
    return seed_language


def program(solution: str, tests: str | None, language: str = "python") -> str | None:
    """The code of the solution followed by the tests' code: the file the sandbox runs."""
    wanted = {k for k, v in LANGUAGE_OF_FENCE.items() if v.lower() == language.lower()} | {language.lower(), ""}
    code = [c for info, c in code_blocks(solution) if info in wanted]
    test = [c for info, c in code_blocks(tests or "") if info in wanted]
    if not code or not test:
        return None
    return "\n".join(code) + "\n\n" + "\n".join(test)

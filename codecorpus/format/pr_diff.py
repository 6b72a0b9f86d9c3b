"""Line diffs of one file between a pull request's base and head: the changed range (which sets the
base-file window) and the hunks of ``<pr_diff_hunk>`` (the-stack-v2 ``render.py``, re-written).

Hunks are built from difflib's opcodes. ``context`` lines surround each change; two changes closer than
``context`` lines are joined into one hunk. Line numbers count from 1 like ``git diff``; a hunk is its
``@@ -a,b +c,d @@`` header, a newline, and its lines (`` ``, ``-``, ``+`` prefixed) joined by newlines.
"""
from __future__ import annotations

import re
from difflib import SequenceMatcher

Opcode = tuple[str, int, int, int, int]
_HEADER = re.compile(r"^@@ -(\d+)(,\d+)? \+(\d+)(,\d+)? @@(.*)$", re.S)


def changes(base: list[str], head: list[str]) -> list[Opcode]:
    return [op for op in SequenceMatcher(None, base, head, autojunk=False).get_opcodes() if op[0] != "equal"]


def changed_range(base: list[str], head: list[str]) -> tuple[int, int] | None:
    """(first, end) base lines touched by the change, end exclusive; None when the files are equal."""
    ops = changes(base, head)
    if not ops:
        return None
    return min(op[1] for op in ops), max(op[2] for op in ops)


def _groups(ops: list[Opcode], context: int) -> list[list[Opcode]]:
    groups: list[list[Opcode]] = []
    for op in ops:
        if groups and op[1] - context <= groups[-1][-1][2]:
            groups[-1].append(op)
        else:
            groups.append([op])
    return groups


def hunks(base: list[str], head: list[str], context: int) -> list[str]:
    """The hunks turning ``base`` into ``head`` with ``context`` lines around each change."""
    groups = _groups(changes(base, head), context)
    out, last_end = [], 0
    for k, group in enumerate(groups):
        first, last = group[0], group[-1]
        start = max(first[1] - context, last_end, 0)
        next_start = groups[k + 1][0][1] if k + 1 < len(groups) else len(base)
        stop = min(last[2] + context, next_start)
        head_start = first[3] - (first[1] - start)
        head_stop = last[4] + (stop - last[2])
        lines = [" " + line for line in base[start:first[1]]]
        for i, op in enumerate(group):
            lines += ["-" + line for line in base[op[1]:op[2]]]
            lines += ["+" + line for line in head[op[3]:op[4]]]
            if i + 1 < len(group):
                lines += [" " + line for line in base[op[2]:group[i + 1][1]]]
        lines += [" " + line for line in base[last[2]:stop]]
        header = f"@@ -{start + 1},{stop - start} +{head_start + 1},{head_stop - head_start} @@"
        out.append(header + "\n" + "\n".join(lines))
        last_end = stop
    return out


def shift_hunk_header(hunk: str, skipped: int) -> str:
    """Renumber a review comment's hunk header by the lines the base window left out above it, so its
    numbers match the base code the document shows. A header that would go below 1 is left as is."""
    first, sep, rest = hunk.partition("\n")
    match = _HEADER.match(first)
    if not match or skipped <= 0:
        return hunk
    old, new = int(match.group(1)) - skipped, int(match.group(3)) - skipped
    if old < 0 or new < 0:
        return hunk
    header = f"@@ -{old}{match.group(2) or ''} +{new}{match.group(4) or ''} @@{match.group(5)}"
    return header + sep + rest

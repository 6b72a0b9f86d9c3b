"""Generate lang_configs/languages.yaml (and its packaged copy) from GitHub Linguist's data files.

Linguist keeps its knowledge in YAML (languages, heuristics, vendor and documentation paths) with
Ruby (Onigmo) regular expressions. This script reads those files, keeps only what the annotator needs
at run time, translates every regex to Python's ``re`` dialect and checks that it compiles, then writes
one deterministic file with Linguist's MIT attribution in its header:

    python scripts/gen_languages.py [--linguist DIR] [--out lang_configs/languages.yaml]

The same bytes are copied to codecorpus/data/languages.yaml so the annotator works from an installed
wheel (it loads them with importlib.resources).
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
DEFAULT_LINGUIST = Path("..") / "shared" / "linguist"
DEFAULT_OUT = Path("lang_configs") / "languages.yaml"
PACKAGED_COPY = Path("codecorpus") / "data" / "languages.yaml"

# Flags every translated pattern is compiled with: in Ruby ^ and $ always match at line breaks, and
# \w, \d, \s are ASCII-only.
PY_FLAGS = re.MULTILINE | re.ASCII

# Ruby flag letters -> Python's: Ruby's "m" is Python's DOTALL ("s"); "i" and "x" are the same.
RUBY_FLAG = {"m": "s", "i": "i", "x": "x"}

# Ruby escapes Python's re lacks.
RUBY_ESCAPE = {"z": r"\Z", "Z": r"(?=\n?\Z)", "h": "[0-9a-fA-F]", "H": "[^0-9a-fA-F]"}
RUBY_CLASS_ESCAPE = {"h": "0-9a-fA-F"}

# Character-class intersections Python cannot express with &&, rewritten by hand.
CLASS_INTERSECTIONS = {r"[\s&&[^\r\n]]": r"[^\S\r\n]"}


def _flags(ruby: str) -> str:
    return "".join(RUBY_FLAG[c] for c in ruby if c in RUBY_FLAG)


def _group_body(pattern: str, name: str) -> str:
    """The text inside the named group ``(?<name>...)`` (Linguist's patterns keep it simple)."""
    start = pattern.index(f"(?<{name}>") + len(name) + 4
    depth, i = 1, start
    while depth:
        if pattern[i] == "\\":
            i += 2
            continue
        depth += {"(": 1, ")": -1}.get(pattern[i], 0)
        i += 1
    return pattern[start:i - 1]


def inline_subexpression_calls(pattern: str) -> str:
    """Ruby's ``\\g<name>`` re-runs a named group's pattern; Python has no such call, so inline it
    (without its name, which Python would reject as a duplicate)."""
    def body(match: re.Match) -> str:
        inner = re.sub(r"\(\?<([A-Za-z_]\w*)>", "(?:", _group_body(pattern, match.group(1)))
        return f"(?:{inner})"
    return re.sub(r"\\g<([A-Za-z_]\w*)>", body, pattern)


def ruby_to_python(pattern: str) -> str:
    """Translate one Onigmo regex to Python's ``re`` syntax (the subset Linguist's data uses)."""
    for ruby, py in CLASS_INTERSECTIONS.items():
        pattern = pattern.replace(ruby, py)
    pattern = inline_subexpression_calls(pattern)
    out: list[str] = []
    closers = [0]  # per open group: extra ")" owed by a mid-group "(?i)" that Python cannot scope
    i, n, in_class = 0, len(pattern), False
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt == "k" and pattern.startswith("<", i + 2):
                end = pattern.index(">", i)
                out.append(f"(?P={pattern[i + 3:end]})")
                i = end + 1
                continue
            if in_class:
                out.append(RUBY_CLASS_ESCAPE.get(nxt, c + nxt))
            else:
                out.append(RUBY_ESCAPE.get(nxt, c + nxt))
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            out.append(c)
            # a "]" right after "[" or "[^" is a literal member
            j = i + 1
            if pattern.startswith("^", j):
                out.append("^")
                j += 1
            if pattern.startswith("]", j):
                out.append("]")
                j += 1
            i = j
            continue
        if c == "(":
            scoped = re.match(r"\(\?([imx]*)(?:-([imx]*))?(:|\))", pattern[i:])
            named = re.match(r"\(\?<([A-Za-z_]\w*)>", pattern[i:])
            if named:
                out.append(f"(?P<{named.group(1)}>")
                closers.append(0)
                i += named.end()
                continue
            if scoped and (scoped.group(1) or scoped.group(2) is not None):
                on, off, kind = _flags(scoped.group(1)), _flags(scoped.group(2) or ""), scoped.group(3)
                # Python only allows turning off i/x/s locally and never a bare "(?-s)"; DOTALL is off
                # by default so "-m" can simply be dropped.
                off = off.replace("s", "")
                flag_text = on + (f"-{off}" if off else "")
                if kind == ":":
                    out.append(f"(?{flag_text}:" if flag_text else "(?:")
                    closers.append(0)
                elif not flag_text:
                    pass  # e.g. "(?-m)": nothing to do in Python
                elif "".join(out) == "":
                    out.append(f"(?{flag_text})")  # a global flag at the start stays global
                else:
                    # Ruby scopes a mid-pattern "(?i)" to the end of the enclosing group.
                    out.append(f"(?{flag_text}:")
                    closers[-1] += 1
                i += scoped.end()
                continue
            out.append(c)
            closers.append(0)
            i += 1
            continue
        if c == ")":
            out.append(")" * closers.pop())
            out.append(c)
            i += 1
            continue
        out.append(c)
        i += 1
    out.append(")" * closers.pop())
    return "".join(out)


def translate(pattern: str, where: str) -> str:
    """Translate and check that Python compiles the result; a failure names the pattern's origin."""
    py = ruby_to_python(pattern)
    try:
        re.compile(py, PY_FLAGS)
    except re.error as err:
        raise SystemExit(f"{where}: cannot translate regex {pattern!r} -> {py!r}: {err}")
    return py


def as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def source_version(linguist: Path) -> dict:
    text = (linguist / "SOURCE.md").read_text()
    version = re.search(r"version\s+([\w.]+)", text)
    commit = re.search(r"commit\s+([0-9a-f]{40})", text)
    return {"linguist_version": version.group(1) if version else "unknown",
            "linguist_commit": commit.group(1) if commit else "unknown"}


def languages_table(linguist: Path) -> dict:
    raw = yaml.safe_load((linguist / "languages.yml").read_text())
    popular = set(yaml.safe_load((linguist / "popular.yml").read_text()))
    table = {}
    for name in sorted(raw):
        spec = raw[name]
        table[name] = {
            "type": spec.get("type"),
            "group": spec.get("group"),
            "language_id": spec.get("language_id"),
            "popular": name in popular,
            "aliases": as_list(spec.get("aliases")),
            "extensions": as_list(spec.get("extensions")),
            "filenames": as_list(spec.get("filenames")),
            "interpreters": as_list(spec.get("interpreters")),
        }
    return table


def condition(rule: dict, named: dict, where: str) -> list[dict]:
    """One Linguist rule (or 'and' member) -> a list of conditions that must all hold.

    A condition is {patterns: [...], negate: bool}; it holds when any pattern matches (negate: none).
    """
    conds = []
    for sub in rule.get("and", []):
        conds.extend(condition(sub, named, where))
    if "pattern" in rule:
        conds.append({"negate": False, "patterns": [translate(p, where) for p in as_list(rule["pattern"])]})
    if "negative_pattern" in rule:
        conds.append({"negate": True,
                      "patterns": [translate(p, where) for p in as_list(rule["negative_pattern"])]})
    if "named_pattern" in rule:
        conds.append({"negate": False, "patterns": named[rule["named_pattern"]]})
    return conds


def heuristics_table(linguist: Path, known: set[str]) -> list[dict]:
    raw = yaml.safe_load((linguist / "heuristics.yml").read_text())
    named = {key: [translate(p, f"named_patterns.{key}") for p in as_list(value)]
             for key, value in sorted(raw["named_patterns"].items())}
    table = []
    for block in raw["disambiguations"]:
        where = f"heuristics {block['extensions']}"
        rules = []
        for rule in block["rules"]:
            langs = as_list(rule["language"])
            unknown = [lang for lang in langs if lang not in known]
            if unknown:
                raise SystemExit(f"{where}: language {unknown} is not in languages.yml")
            rules.append({"languages": langs, "conditions": condition(rule, named, where)})
        table.append({"extensions": [e.lower() for e in block["extensions"]], "rules": rules})
    return table


def path_patterns(linguist: Path, name: str) -> list[str]:
    return [translate(p, name) for p in as_list(yaml.safe_load((linguist / name).read_text()))]


HEADER = """\
# GENERATED by scripts/gen_languages.py from GitHub Linguist {linguist_version}
# (commit {linguist_commit}); do not edit by hand, re-run the script.
#
# Regexes are translated from Ruby (Onigmo) to Python's re and are compiled with re.MULTILINE |
# re.ASCII (Ruby's ^/$ always match at line breaks; \\w, \\d, \\s are ASCII-only there).
#
# Contains data derived from GitHub Linguist (https://github.com/github-linguist/linguist),
# under its MIT license, reproduced here:
#
{license}
"""


def build(linguist: Path) -> str:
    version = source_version(linguist)
    languages = languages_table(linguist)
    generic = sorted(e.lower() for e in as_list(yaml.safe_load(
        (linguist / "generic.yml").read_text())["extensions"]))
    doc = {
        "source": version,
        "regex_flags": "MULTILINE|ASCII",
        "languages": languages,
        "generic_extensions": generic,
        "heuristics": heuristics_table(linguist, set(languages)),
        "vendor": path_patterns(linguist, "vendor.yml"),
        "documentation": path_patterns(linguist, "documentation.yml"),
    }
    body = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=1_000_000)
    license_text = (linguist / "LICENSE").read_text().strip().splitlines()
    license_comment = "\n".join(f"#   {line}".rstrip() for line in license_text)
    return HEADER.format(license=license_comment, **version) + body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--linguist", type=Path, default=DEFAULT_LINGUIST,
                        help="directory with Linguist's YAML files (default: ../shared/linguist, "
                             "relative to the repo root)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="output path (default: lang_configs/languages.yaml in the repo)")
    args = parser.parse_args(argv)
    linguist = args.linguist if args.linguist.is_absolute() else REPO / args.linguist
    out = args.out if args.out.is_absolute() else REPO / args.out
    text = build(linguist)
    for target in (out, REPO / PACKAGED_COPY):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        print(f"wrote {target.relative_to(REPO) if target.is_relative_to(REPO) else target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

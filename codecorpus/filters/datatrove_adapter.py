"""datatrove document filters inside Spark partitions: Arrow rows -> datatrove Documents -> survivors back
to the same Arrow rows, and every dropped document -> a ledger row ``datatrove_<FilterName>`` whose value
is the filter's reason.

The filters run through datatrove's own ``BaseFilter.run(docs, rank, world_size)`` with the Spark
partition index as rank; a small in-memory exclusion writer catches what each filter drops and why.
They are built once per Python worker. Only files in ``DatatroveConfig.languages`` (Markdown,
reStructuredText, Text by default) become Documents; the others ride through untouched.

Offline: datatrove's English word tokenizer is spaCy's (not installed, and its models download), so every
filter that takes a ``language`` gets `RegexWordTokenizer` instead unless the config names one. Filters
that fetch word lists or models at run time (C4BadWordsFilter, URLFilter, LanguageFilter, fastText
filters) would fail here without network; pass them local resources through ``params`` if needed.
"""
from __future__ import annotations

import inspect
import logging
import re
from functools import lru_cache
from typing import Iterator

from datatrove.utils.word_tokenizers import WordTokenizer
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from codecorpus.filters.config import DatatroveConfig, DatatroveFilter
from codecorpus.ledger import rejects

log = logging.getLogger(__name__)
_RULE, _REASON = "_dt_rule", "_dt_reason"


class RegexWordTokenizer(WordTokenizer):
    """Words are runs of word characters (punctuation is not a word: as tokens, markup's `#`, `*` and `|`
    made Gopher's n-gram rules drop ordinary READMEs). Sentences end at . ! ? and a space. No model."""

    _words = re.compile(r"\w+")
    _sentence_end = re.compile(r"(?<=[.!?])\s+")

    def __init__(self):
        super().__init__("regex")

    def word_tokenize(self, text: str) -> list[str]:
        return self._words.findall(text)

    def sent_tokenize(self, text: str) -> list[str]:
        return [s for s in self._sentence_end.split(text) if s.strip()]

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        spans, start = [], 0
        for m in self._sentence_end.finditer(text):
            spans.append((start, m.start()))
            start = m.end()
        if start < len(text):
            spans.append((start, len(text)))
        return spans


# one instance: datatrove caches tokenisations keyed by (text, mode, tokenizer)
WORD_TOKENIZER = RegexWordTokenizer()


class _DropCatcher:
    """The exclusion writer datatrove's BaseFilter.run calls for each dropped document (duck-typed: a
    context manager with write(doc, rank)); it keeps the reasons in memory instead of writing files."""

    def __init__(self):
        self.reasons: dict[str, str] = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def write(self, doc, rank: int = 0) -> None:
        self.reasons[doc.id] = doc.metadata.get("filter_reason") or "dropped"


def _as_tuples(value):
    """JSON/YAML lists stand for the tuples datatrove's arguments expect (e.g. top_n_grams)."""
    return tuple(_as_tuples(v) for v in value) if isinstance(value, list) else value


def build_filter(spec: DatatroveFilter):
    """Instantiate one configured filter (clear errors for unknown names or arguments)."""
    import datatrove.pipeline.filters as dt_filters
    from datatrove.pipeline.filters.base_filter import BaseFilter
    cls = getattr(dt_filters, spec.name, None)
    if not (inspect.isclass(cls) and issubclass(cls, BaseFilter)):
        known = sorted(n for n, c in vars(dt_filters).items() if inspect.isclass(c) and issubclass(c, BaseFilter))
        raise ValueError(f"filter.datatrove.filters: unknown datatrove filter {spec.name!r}; known: {known}")
    params = {k: _as_tuples(v) for k, v in spec.params.items()}
    accepted = inspect.signature(cls.__init__).parameters
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ValueError(f"filter.datatrove.filters[{spec.name}].params: unknown arguments {unknown}; "
                         f"accepted: {sorted(set(accepted) - {'self', 'exclusion_writer'})}")
    if "language" in accepted and "language" not in params:
        params["language"] = WORD_TOKENIZER
    step = cls(**params)
    step.exclusion_writer = _DropCatcher()
    return step


@lru_cache(maxsize=4)
def _filters(cfg_json: str) -> list:
    """The configured filters, built once per Python worker (keyed by the config's JSON)."""
    cfg = DatatroveConfig.model_validate_json(cfg_json)
    return [build_filter(spec) for spec in cfg.filters]


def _run_step(step, docs: list, rank: int, world_size: int) -> tuple[list, dict[str, str]]:
    """(survivors, {doc id: reason}) of one filter. A document the filter raises on is dropped with
    reason ``error:<Exception>`` and the others go on (filters are pure: re-running them is safe)."""
    step.exclusion_writer.reasons = {}
    try:
        return list(step.run(iter(docs), rank=rank, world_size=world_size)), step.exclusion_writer.reasons
    except Exception:
        survivors, reasons = [], {}
        for doc in docs:
            step.exclusion_writer.reasons = {}
            try:
                survivors += step.run(iter([doc]), rank=rank, world_size=world_size)
                reasons.update(step.exclusion_writer.reasons)
            except Exception as error:
                log.warning("datatrove %s failed on %s (%s): %s", type(step).__name__,
                            doc.metadata.get("path", doc.id), type(error).__name__, error)
                reasons[doc.id] = f"error:{type(error).__name__}"
        return survivors, reasons


def filter_documents(docs: list, steps: list, rank: int = 0, world_size: int = 1) -> dict[str, tuple[str, str]]:
    """Run ``steps`` in order over datatrove Documents; {doc id: (rule, reason)} for those dropped."""
    dropped: dict[str, tuple[str, str]] = {}
    survivors = docs
    for step in steps:
        survivors, reasons = _run_step(step, survivors, rank, world_size)
        rule = f"datatrove_{type(step).__name__}"
        dropped.update({doc_id: (rule, reason) for doc_id, reason in reasons.items()})
    return dropped


def datatrove_batch(batch: pa.RecordBatch, cfg: DatatroveConfig, rank: int, world_size: int) -> pa.RecordBatch:
    """The batch with two columns appended: the rule and reason of a drop (null for kept files)."""
    from datatrove.data import Document
    languages = batch.column("language").to_pylist()
    wanted = set(cfg.languages)
    rows = [i for i, language in enumerate(languages) if language in wanted]
    dropped: dict[str, tuple[str, str]] = {}
    if rows:
        ids, texts = batch.column("file_id").to_pylist(), batch.column("content").to_pylist()
        repos, paths = batch.column("repo_name").to_pylist(), batch.column("path").to_pylist()
        docs = [Document(text=texts[i], id=ids[i],
                         metadata={"repo_name": repos[i], "path": paths[i], "language": languages[i]})
                for i in rows if texts[i]]  # empty text: datatrove's ratios divide by its length
        dropped = filter_documents(docs, _filters(cfg.model_dump_json()), rank, world_size)
    hits = [dropped.get(file_id) for file_id in batch.column("file_id").to_pylist()] if dropped else [None] * batch.num_rows
    return pa.RecordBatch.from_arrays(
        list(batch.columns) + [pa.array([h[0] if h else None for h in hits], pa.string()),
                               pa.array([h[1] if h else None for h in hits], pa.string())],
        names=list(batch.schema.names) + [_RULE, _REASON])


def apply_datatrove(files: DataFrame, cfg: DatatroveConfig | None = None) -> tuple[DataFrame, DataFrame | None]:
    """(kept files, ledger rows) after the configured datatrove filters. Needs file_id, content,
    language, repo_name and path. Disabled or no filters: the files unchanged and no ledger."""
    cfg = cfg or DatatroveConfig()
    if not cfg.enabled or not cfg.filters:
        return files, None
    _filters(cfg.model_dump_json())  # fail on the driver, before the job, on a bad filter name or argument

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from pyspark import TaskContext
        rank = TaskContext.get().partitionId()
        for batch in batches:
            # world_size stays 1: no filter uses it, and counting partitions could cost a Spark job
            yield datatrove_batch(batch, cfg, rank, 1)

    schema = StructType(list(files.schema.fields) + [StructField(_RULE, StringType()), StructField(_REASON, StringType())])
    marked = files.mapInArrow(run, schema)
    kept = marked.where(F.col(_RULE).isNull()).drop(_RULE, _REASON)
    ledger = rejects(marked.where(F.col(_RULE).isNotNull()), rule=F.col(_RULE), value=F.col(_REASON))
    return kept, ledger


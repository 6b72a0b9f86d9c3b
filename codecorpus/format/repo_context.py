"""Repository-context documents (StarCoder2 §5.1) with repo-level file FIM (§4.2 of the reference).

A repository's files, in an order drawn per repository, become one document:
    with metadata (metadata_rate):  <repo_name>{repo}<file_sep>{path}\\n{code}<file_sep>...<|endoftext|>
    without:                        <file_sep>{code}<file_sep>{code}...<|endoftext|>
A repository is a FIM candidate with probability fim_rate; each of its files is then transformed with
probability fragment_fim_rate, at character boundaries, in SPM order with probability fim_spm_rate.
The <repo_name> header is never transformed. Repository choices draw from an RNG seeded by (run seed,
repository), file choices from one seeded by (run seed, document id).
Repositories larger than max_doc_chars are split on file boundaries into several documents (a huge
file on line boundaries), each valid on its own, so no document exceeds the limit.
"""
from __future__ import annotations

import hashlib
import json
import random
import time
from typing import Iterator

import pandas as pd
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from codecorpus import tables, tokens
from codecorpus.annotate.signals import grammar_for, parse_tree
from codecorpus.config import FormatConfig


def rng_for(seed: int, unit_id: str) -> random.Random:
    """The RNG of one unit (document, file, PR...): depends only on the run seed and the unit's id."""
    return random.Random(int.from_bytes(hashlib.sha1(f"{seed}\0{unit_id}".encode()).digest()[:8], "big"))


def fim_transform(text: str, rng: random.Random, spm_rate: float, span: tuple[int, int] | None = None) -> str:
    """Megatron's FIM permutation of one file chunk into prefix/middle/suffix: the middle is ``span``
    when given (syntax mode), else two character positions drawn at random."""
    lo, hi = span if span else sorted(rng.randint(0, len(text)) for _ in range(2))
    prefix, middle, suffix = text[:lo], text[lo:hi], text[hi:]
    if rng.random() < spm_rate:
        return f"{tokens.FIM_PREFIX}{tokens.FIM_SUFFIX}{suffix}{tokens.FIM_MIDDLE}{prefix}{middle}"
    return f"{tokens.FIM_PREFIX}{prefix}{tokens.FIM_SUFFIX}{suffix}{tokens.FIM_MIDDLE}{middle}"


def syntax_span(code: str, language: str | None, rng: random.Random, time_limit_s: float) -> tuple[int, int] | None:
    """A random whole syntax node of ``code`` as a character span: a named node that starts a line
    (after indentation) and ends one, e.g. a statement, a function or a class. None when the language
    has no grammar, the parse fails or runs out of time, or no node qualifies."""
    grammar = grammar_for(language)
    if grammar is None or not code:
        return None
    data = code.encode("utf-8")
    deadline = time.monotonic() + time_limit_s
    status, tree = parse_tree(data, grammar, deadline)
    if tree is None:
        return None
    candidates, stack = [], list(tree.root_node.named_children)
    while stack and len(candidates) < 50_000 and time.monotonic() < deadline:
        node = stack.pop()
        start, end = node.start_byte, node.end_byte
        line_start = data.rfind(b"\n", 0, start) + 1
        if (end > start and not node.has_error and not data[line_start:start].strip()
                and (end == len(data) or data[end:end + 1] in (b"\n", b"\r"))):
            candidates.append((start, end))
        stack.extend(node.named_children)
    if not candidates:
        return None
    start, end = rng.choice(sorted(candidates))
    if len(data) == len(code):      # ASCII: bytes are characters
        return start, end
    return len(data[:start].decode("utf-8", "ignore")), len(data[:end].decode("utf-8", "ignore"))


def render_repository(repo_name: str, files: list[tuple[str, str, str | None]], repo_rng: random.Random,
                      file_rng: random.Random, cfg: FormatConfig) -> tuple[str, dict]:
    """Render ``files`` [(path, content, language)], already in document order, as one training document.
    ``repo_rng`` draws the repository's choices (metadata, FIM candidate), so every document of a split
    repository makes the same ones; ``file_rng`` draws the per-file FIM choices of this document."""
    with_metadata = repo_rng.random() < cfg.metadata_rate
    fim_repo = repo_rng.random() < cfg.fim_rate
    parts = [f"{tokens.REPO_NAME}{repo_name}"] if with_metadata else []
    fim_files = syntax_spans = 0
    for path, content, language in files:
        header = f"{path}\n" if with_metadata else ""
        chunk = header + content
        if fim_repo and file_rng.random() < cfg.fragment_fim_rate:
            span = syntax_span(content, language, file_rng, cfg.fim_parse_time_limit_s) \
                if cfg.fim_mode == "syntax" else None
            if span:
                span = (span[0] + len(header), span[1] + len(header))
                syntax_spans += 1
            chunk = fim_transform(chunk, file_rng, cfg.fim_spm_rate, span)
            fim_files += 1
        parts.append(f"{tokens.FILE_SEP}{chunk}")
    text = "".join(parts) + tokens.ENDOFTEXT
    return text, {"with_metadata": with_metadata, "fim_candidate": fim_repo, "fim_files": fim_files,
                  "fim_syntax_spans": syntax_spans}


def undo_fim(chunk: str) -> str:
    """The original text of a chunk, FIM-transformed (PSM or SPM) or not."""
    if not chunk.startswith(tokens.FIM_PREFIX):
        return chunk
    body = chunk[len(tokens.FIM_PREFIX):]
    head, rest = body.split(tokens.FIM_SUFFIX, 1)
    suffix, tail = rest.split(tokens.FIM_MIDDLE, 1)
    # PSM: head=prefix, tail=middle. SPM: head is empty, tail=prefix+middle. Both read back the same way.
    return head + tail + suffix


def parse_document(text: str) -> tuple[str | None, list[str]]:
    """Split a rendered document back into (repo name or None, chunk texts with FIM undone). A chunk is
    ``path\ncode`` in the metadata form and ``code`` otherwise."""
    if not text.endswith(tokens.ENDOFTEXT):
        raise ValueError("a repository document ends with the end-of-text token")
    head, *chunks = text[: -len(tokens.ENDOFTEXT)].split(tokens.FILE_SEP)
    repo = head[len(tokens.REPO_NAME):] if head.startswith(tokens.REPO_NAME) else None
    if head and repo is None:
        raise ValueError(f"unexpected text before the first file separator: {head[:40]!r}")
    return repo, [undo_fim(chunk) for chunk in chunks]


DOC_SCHEMA = tables.batch_schema("documents")
# Characters a file chunk adds around its content at most: separator, path line, the three FIM tokens.
CHUNK_OVERHEAD = len(tokens.FILE_SEP) + 1 + len(tokens.FIM_PREFIX) + len(tokens.FIM_SUFFIX) + len(tokens.FIM_MIDDLE)
DOC_OVERHEAD = len(tokens.REPO_NAME) + len(tokens.ENDOFTEXT)


def _render_batches(batches: Iterator[pd.DataFrame], seed: int, cfg: FormatConfig) -> Iterator[pd.DataFrame]:
    for batch in batches:
        rows = []
        for repo_name, chunk, items in zip(batch["repo_name"], batch["chunk"], batch["items"]):
            items = sorted(items, key=lambda item: (item["order_key"], item["file_id"], item["piece"]))
            doc_id = hashlib.sha1(f"{repo_name}\0{chunk}".encode()).hexdigest()
            text, meta = render_repository(repo_name, [(i["path"], i["content"], i["language"]) for i in items],
                                           rng_for(seed, repo_name), rng_for(seed, doc_id), cfg)
            rows.append({
                "doc_id": doc_id, "source": "repo_context", "repo_name": repo_name,
                "languages": sorted({i["language"] for i in items if i["language"]}),
                "text": text, "n_chars": len(text), "n_tokens": None,
                "source_ids": list(dict.fromkeys(i["file_id"] for i in items)),
                "metadata": json.dumps({**meta, "chunk": int(chunk), "seed": seed}, sort_keys=True),
            })
        yield pd.DataFrame(rows, columns=DOC_SCHEMA.fieldNames())


def split_lines(text: str, limit: int) -> list[str]:
    """``text`` cut on line boundaries into pieces of at most ``limit`` characters (a longer line is
    cut where it must); joining the pieces gives ``text`` back."""
    pieces, current = [], ""
    for line in text.splitlines(keepends=True):
        while len(line) > limit:
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[:limit])
            line = line[limit:]
        if len(current) + len(line) > limit:
            pieces.append(current)
            current = ""
        current += line
    return pieces + [current] if current or not pieces else pieces


def chunk_cost() -> Column:
    """An upper bound of a file chunk's characters in a document (the repository name counted in, so
    that the header fits too)."""
    return F.length("content") + F.length("path") + F.length("repo_name") + CHUNK_OVERHEAD


PIECE_SCHEMA = "repo_name string, file_id string, piece int, path string, content string, language string"


def _split_batches(batches: Iterator[pd.DataFrame], budget: int) -> Iterator[pd.DataFrame]:
    for batch in batches:
        rows = [(repo, file_id, index, path, piece, language)
                for repo, file_id, path, content, language in zip(
                    batch["repo_name"], batch["file_id"], batch["path"], batch["content"], batch["language"])
                for index, piece in enumerate(split_lines(
                    content, max(1, budget - CHUNK_OVERHEAD - len(path) - len(repo))))]
        yield pd.DataFrame(rows, columns=[c.split()[0] for c in PIECE_SCHEMA.split(", ")])


def file_pieces(files: DataFrame, budget: int) -> DataFrame:
    """Files as pieces of at most ``budget`` characters with their chunk overhead: most files are one
    piece; a huge one is cut on line boundaries (only those go through Python)."""
    columns = ["repo_name", "file_id", "path", "content", "language"]
    small = files.where(chunk_cost() <= budget).select("repo_name", "file_id", F.lit(0).alias("piece"), "path",
                                               "content", "language")
    huge = files.where(chunk_cost() > budget).select(*columns).mapInPandas(lambda it: _split_batches(it, budget),
                                                                    PIECE_SCHEMA)
    return small.unionByName(huge)


def repo_documents(files: DataFrame, cfg: FormatConfig, seed: int) -> DataFrame:
    """One or more documents per repository; ``source_ids`` lists the files each one merges.

    Pieces are assigned to a repository's documents by where they start in the repository's seeded
    order, in steps of half the size limit: as no piece is longer than that step, no document exceeds
    ``max_doc_chars``, and the assignment is a window sum, so a giant repository needs no grouping in
    Python before it is cut."""
    order_key = F.xxhash64(F.lit(seed), F.col("file_id"))
    ordered = Window.partitionBy("repo_name").orderBy("order_key", "file_id", "piece")
    step = (cfg.max_doc_chars - DOC_OVERHEAD) // 2
    pieces = file_pieces(files, step).withColumn("order_key", order_key)
    chunked = (pieces.withColumn("cost", chunk_cost())
               .withColumn("chunk", F.floor((F.sum("cost").over(ordered) - F.col("cost")) / step)))
    grouped = chunked.groupBy("repo_name", "chunk").agg(
        F.collect_list(F.struct("order_key", "file_id", "piece", "path", "content", "language")).alias("items"))
    return grouped.mapInPandas(lambda it: _render_batches(it, seed, cfg), DOC_SCHEMA)

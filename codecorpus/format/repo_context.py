"""Repository-context documents (StarCoder2 §5.1) with repo-level file FIM (§4.2 of the reference).

A repository's files, in an order drawn per repository, become one document:
    with metadata (metadata_rate):  <repo_name>{repo}<file_sep>{path}\\n{code}<file_sep>...<|endoftext|>
    without:                        <file_sep>{code}<file_sep>{code}...<|endoftext|>
A repository is a FIM candidate with probability fim_rate; each of its files is then transformed with
probability fragment_fim_rate, at character boundaries, in SPM order with probability fim_spm_rate.
The <repo_name> header is never transformed. Every draw comes from an RNG seeded by (run seed, doc id).
Repositories larger than max_doc_chars are split into several documents, so no task holds a giant repo.
"""
from __future__ import annotations

import hashlib
import json
import random
from typing import Iterator

import pandas as pd
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from codecorpus import tokens
from codecorpus.config import FormatConfig


def rng_for(seed: int, unit_id: str) -> random.Random:
    """The RNG of one unit (document, file, PR...): depends only on the run seed and the unit's id."""
    return random.Random(int.from_bytes(hashlib.sha1(f"{seed}\0{unit_id}".encode()).digest()[:8], "big"))


def fim_transform(text: str, rng: random.Random, spm_rate: float) -> str:
    """Megatron's character-level FIM permutation of one file (prefix/middle/suffix)."""
    lo, hi = sorted(rng.randint(0, len(text)) for _ in range(2))
    prefix, middle, suffix = text[:lo], text[lo:hi], text[hi:]
    if rng.random() < spm_rate:
        return f"{tokens.FIM_PREFIX}{tokens.FIM_SUFFIX}{suffix}{tokens.FIM_MIDDLE}{prefix}{middle}"
    return f"{tokens.FIM_PREFIX}{prefix}{tokens.FIM_SUFFIX}{suffix}{tokens.FIM_MIDDLE}{middle}"


def render_repository(repo_name: str, files: list[tuple[str, str]], rng: random.Random,
                      cfg: FormatConfig) -> tuple[str, dict]:
    """Render ``files`` [(path, content)], already in document order, as one training document."""
    with_metadata = rng.random() < cfg.metadata_rate
    fim_repo = rng.random() < cfg.fim_rate
    parts = [f"{tokens.REPO_NAME}{repo_name}"] if with_metadata else []
    fim_files = 0
    for path, content in files:
        chunk = f"{path}\n{content}" if with_metadata else content
        if fim_repo and rng.random() < cfg.fragment_fim_rate:
            chunk = fim_transform(chunk, rng, cfg.fim_spm_rate)
            fim_files += 1
        parts.append(f"{tokens.FILE_SEP}{chunk}")
    text = "".join(parts) + tokens.ENDOFTEXT
    return text, {"with_metadata": with_metadata, "fim_candidate": fim_repo, "fim_files": fim_files}


DOC_SCHEMA = ("doc_id string, source string, repo_name string, languages array<string>, text string, "
              "n_chars bigint, n_tokens bigint, source_ids array<string>, metadata string")


def _render_batches(batches: Iterator[pd.DataFrame], seed: int, cfg: FormatConfig) -> Iterator[pd.DataFrame]:
    for batch in batches:
        rows = []
        for repo_name, chunk, items in zip(batch["repo_name"], batch["chunk"], batch["items"]):
            items = sorted(items, key=lambda item: (item["order_key"], item["file_id"]))
            doc_id = hashlib.sha1(f"{repo_name}\0{chunk}".encode()).hexdigest()
            text, meta = render_repository(repo_name, [(i["path"], i["content"]) for i in items],
                                           rng_for(seed, doc_id), cfg)
            rows.append({
                "doc_id": doc_id, "source": "repo_context", "repo_name": repo_name,
                "languages": sorted({i["language"] for i in items if i["language"]}),
                "text": text, "n_chars": len(text), "n_tokens": None,
                "source_ids": [i["file_id"] for i in items],
                "metadata": json.dumps({**meta, "chunk": int(chunk), "seed": seed}, sort_keys=True),
            })
        yield pd.DataFrame(rows, columns=[c.split()[0] for c in DOC_SCHEMA.split(", ")])


def repo_documents(files: DataFrame, cfg: FormatConfig, seed: int) -> DataFrame:
    """One or more documents per repository; ``source_ids`` lists the files each one merges."""
    order_key = F.xxhash64(F.lit(seed), F.col("file_id"))
    ordered = Window.partitionBy("repo_name").orderBy("order_key", "file_id")
    chunked = (files.select("repo_name", "file_id", "path", "content", "language", order_key.alias("order_key"))
               .withColumn("size", F.length("content"))
               .withColumn("chunk", F.floor((F.sum("size").over(ordered) - F.col("size")) / cfg.max_doc_chars)))
    grouped = chunked.groupBy("repo_name", "chunk").agg(
        F.collect_list(F.struct("order_key", "file_id", "path", "content", "language")).alias("items"))
    return grouped.mapInPandas(lambda it: _render_batches(it, seed, cfg), DOC_SCHEMA)

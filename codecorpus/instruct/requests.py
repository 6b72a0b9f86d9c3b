"""Seeds to OpenAI-compatible batch requests: one JSON line per seed, the format of the OpenAI Batch API
and of vLLM's ``run_batch`` (``custom_id``, ``method``, ``url``, ``body``).

``max_tokens`` follows Magicoder: min(max_new_tokens, context_tokens - prompt_tokens - margin); a seed
whose prompt leaves no room is a ledger row (``prompt_too_long``). Prompt tokens are counted with the
tokenizer.json the config names, loaded once per Python worker; nothing is downloaded. The request seed
is drawn from (run seed, seed_id) rather than Magicoder's 976 + index, so it does not depend on order.
"""
from __future__ import annotations

import hashlib
import json
import logging
from functools import lru_cache
from typing import Iterator

import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from codecorpus.instruct.config import RequestConfig
from codecorpus.instruct.prompts import messages
from codecorpus.ledger import rejects

log = logging.getLogger(__name__)
TOO_LONG = "prompt_too_long"
REQUEST_DDL = "seed_id string, line string, prompt_tokens int, max_tokens int"


@lru_cache(maxsize=4)
def _tokenizer(path: str):
    from tokenizers import Tokenizer
    return Tokenizer.from_file(path)


def count_tokens(texts: list[str], tokenizer_path: str | None) -> list[int]:
    """Tokens of each text with the tokenizer file, or the UTF-8 bytes / 3 estimate without one."""
    if tokenizer_path is None:
        return [-(-len(t.encode("utf-8")) // 3) for t in texts]
    encodings = _tokenizer(tokenizer_path).encode_batch(texts, add_special_tokens=False)
    return [len(e.ids) for e in encodings]


def request_seed(run_seed: int, seed_id: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{run_seed}:request:{seed_id}".encode()).digest()[:4], "big") >> 1


def max_tokens(prompt_tokens: int, cfg: RequestConfig) -> int:
    return min(cfg.max_new_tokens, cfg.context_tokens - prompt_tokens - cfg.margin_tokens)


def batch_line(seed_id: str, chat: list[dict], limit: int, seed: int, cfg: RequestConfig) -> str:
    body = {"model": cfg.model, "messages": chat, "temperature": cfg.temperature, "max_tokens": limit,
            "n": 1, "seed": seed}
    return json.dumps({"custom_id": seed_id, "method": "POST", "url": cfg.url, "body": body}, ensure_ascii=False)


def request_batch(batch: pa.RecordBatch, cfg: RequestConfig, run_seed: int) -> pa.RecordBatch:
    ids = batch.column("seed_id").to_pylist()
    chats = [messages(seed, language, cfg.ask_for_tests) for seed, language
             in zip(batch.column("seed").to_pylist(), batch.column("language").to_pylist())]
    tokens = count_tokens(["\n".join(m["content"] for m in chat) for chat in chats], cfg.tokenizer)
    lines, limits = [], []
    for seed_id, chat, n in zip(ids, chats, tokens):
        limit = max_tokens(n, cfg)
        limits.append(limit)
        lines.append(batch_line(seed_id, chat, limit, request_seed(run_seed, seed_id), cfg) if limit > 0 else None)
    return pa.RecordBatch.from_arrays([pa.array(ids, pa.string()), pa.array(lines, pa.string()),
                                       pa.array(tokens, pa.int32()), pa.array(limits, pa.int32())],
                                      names=["seed_id", "line", "prompt_tokens", "max_tokens"])


def build_requests(seeds: DataFrame, cfg: RequestConfig, run_seed: int) -> tuple[DataFrame, DataFrame]:
    """(requests: seed_id, line, prompt_tokens, max_tokens; ledger rows for seeds left out)."""
    if cfg.tokenizer is None:
        log.warning("instruct.requests.tokenizer is unset: prompt tokens are estimated as UTF-8 bytes / 3")

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            yield request_batch(batch, cfg, run_seed)

    made = seeds.select("seed_id", "seed", "language").mapInArrow(run, REQUEST_DDL)
    too_long = made.where(F.col("line").isNull())
    ledger = rejects(too_long, TOO_LONG, F.col("prompt_tokens"), F.format_string("max_tokens=%d", "max_tokens"),
                     id_col="seed_id", id_kind="seed")
    return made.where(F.col("line").isNotNull()), ledger

"""The run's tokenizer: a user's `tokenizer.json`, or a byte-level BPE trained offline on the corpus.

A trained tokenizer follows StarCoder2's: byte-level BPE, 49,152 entries, digits split one by one,
every special token of codecorpus.tokens reserved first (so their ids are stable and small). Training
reads a deterministic, bounded sample of the kept files (at most ``train_sample_chars`` characters,
streamed to the driver, which is where BPE training runs); everything else tokenizes on executors.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Iterator

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from codecorpus import tokens


class TokenizerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str | None = Field(None, description=(
        "A Hugging Face tokenizer.json (local path). Unset: train a byte-level BPE on the run's files."))
    vocab_size: int = Field(49_152, ge=len(tokens.ALL_SPECIAL_TOKENS) + 256,
                            description="Vocabulary of a trained tokenizer (StarCoder2: 49,152).")
    train_sample_chars: int = Field(50_000_000, gt=0, description=(
        "Characters of the corpus a trained tokenizer learns from (a seeded sample of files)."))


def new_bpe_trainer(vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(tokens.ALL_SPECIAL_TOKENS),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    return tokenizer, trainer


def training_sample(files: DataFrame, cfg: TokenizerConfig, seed: int) -> DataFrame:
    """A seeded sample of file contents of about ``train_sample_chars`` characters, in a stable order."""
    total = files.agg(F.sum(F.length("content"))).first()[0] or 0
    share = min(1.0, cfg.train_sample_chars / total) if total else 1.0
    rank = F.xxhash64(F.lit(seed), F.col("file_id"))
    if share < 1.0:
        # xxhash64 is uniform over the signed 64-bit range: keep the lowest `share` of it.
        files = files.where(rank < F.lit(min(2**63 - 1, -(2**63) + int(share * 2**64))))
    return files.select(rank.alias("rank"), "file_id", "content").orderBy("rank", "file_id")


def train_tokenizer(files: DataFrame, cfg: TokenizerConfig, seed: int) -> str:
    """Train on a sample of ``files`` (content column); returns the tokenizer as JSON."""
    tokenizer, trainer = new_bpe_trainer(cfg.vocab_size)
    texts = (row.content for row in training_sample(files, cfg, seed).toLocalIterator())
    tokenizer.train_from_iterator(texts, trainer)
    return tokenizer.to_str()


def check_special_tokens(tokenizer_json: str, origin: str) -> None:
    """A user tokenizer must know StarCoder2's format tokens, or documents would tokenize wrongly."""
    vocab = tokenizer_from_json(tokenizer_json).get_vocab()
    missing = [t for t in tokens.FORMAT_TOKENS if t not in vocab]
    if missing:
        raise ValueError(f"tokenizer {origin} lacks {len(missing)} special tokens of the format "
                         f"(e.g. {', '.join(missing[:4])}): add them, or leave tokenizer.path unset to train one")


@lru_cache(maxsize=4)
def _cached(digest: str, tokenizer_json: str):
    from tokenizers import Tokenizer
    return Tokenizer.from_str(tokenizer_json)


def tokenizer_from_json(tokenizer_json: str):
    """Parsed once per Python worker and tokenizer."""
    return _cached(hashlib.sha1(tokenizer_json.encode()).hexdigest(), tokenizer_json)


def count_batches(batches: Iterator[pa.RecordBatch], tokenizer_json: str, column: str) -> Iterator[pa.RecordBatch]:
    tokenizer = tokenizer_from_json(tokenizer_json)
    for batch in batches:
        texts = [t or "" for t in batch.column(column).to_pylist()]
        counts = [len(e.ids) for e in tokenizer.encode_batch(texts, add_special_tokens=False)]
        yield batch.append_column("n_tokens", pa.array(counts, pa.int64()))


def with_token_counts(frame: DataFrame, tokenizer_json: str, column: str) -> DataFrame:
    """``frame`` plus an ``n_tokens`` column: tokens of ``column``, counted on Arrow batches."""
    base = frame.drop("n_tokens") if "n_tokens" in frame.columns else frame
    schema = T.StructType(base.schema.fields + [T.StructField("n_tokens", T.LongType(), False)])
    return base.mapInArrow(lambda it: count_batches(it, tokenizer_json, column), schema)

"""Packing documents into fixed-length training sequences (StarCoder2 trains at 4K, then 16K tokens).

Documents are tokenized on executors, repeated by their source's epochs in the plan (whole passes, plus
one more with probability equal to the fraction, drawn per (run seed, document)), put in a seeded shuffled order and
concatenated into one token stream, cut every ``seq_len`` tokens. Documents end with <|endoftext|>, so
no separator is added; a long document spans consecutive sequences and later ones carry no header, as
in StarCoder2. Only the last sequence may be shorter.

The stream offsets are an exact prefix sum in a total order (sorted partitions, one running total per
partition), so the sequences do not depend on how Spark partitions the data, and no task ever holds
more than one sequence's tokens.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.taskcontext import TaskContext

from codecorpus.draws import uniform
from codecorpus.format.tokenizer import tokenizer_from_json
from codecorpus.mix.stage import per_key

SEQUENCE_SCHEMA = "seq_len int, seq_index bigint, n_tokens int, token_ids array<int>, doc_ids array<string>"


def _encode_batches(batches: Iterator[pa.RecordBatch], tokenizer_json: str) -> Iterator[pa.RecordBatch]:
    tokenizer = tokenizer_from_json(tokenizer_json)
    for batch in batches:
        encoded = tokenizer.encode_batch(batch.column("text").to_pylist(), add_special_tokens=False)
        ids = pa.array([e.ids for e in encoded], pa.list_(pa.int32()))
        yield pa.RecordBatch.from_arrays([batch.column("doc_id"), batch.column("source"), ids],
                                         ["doc_id", "source", "token_ids"])


def tokenize_documents(documents: DataFrame, tokenizer_json: str) -> DataFrame:
    return documents.select("doc_id", "source", "text").mapInArrow(
        lambda it: _encode_batches(it, tokenizer_json), "doc_id string, source string, token_ids array<int>")


Epochs = float | dict[str, float]   # one number for every document, or a number per `source` (absent: 0)


def epochs_of(epochs: Epochs) -> Column:
    """Each document's epochs: the one number, or its ``source``'s."""
    if isinstance(epochs, dict):
        return F.coalesce(per_key(epochs, F.col("source")), F.lit(0.0))
    return F.lit(float(epochs))


def repeats(documents: DataFrame, epochs: Epochs, seed: int) -> DataFrame:
    """(doc_id, n_tokens, epoch, order_key): each document floor(e) times, plus once more with
    probability frac(e), e its epochs; order_key is the seeded shuffle of all copies."""
    e = epochs_of(epochs)
    copies = F.floor(e).cast("int") + F.when(uniform(seed, "epoch", "doc_id") < e - F.floor(e), 1).otherwise(0)
    return (documents.select("doc_id", "n_tokens", copies.alias("copies"))
            .where(F.col("copies") > 0)
            .select("doc_id", "n_tokens", F.explode(F.sequence(F.lit(0), F.col("copies") - 1)).alias("epoch"))
            .withColumn("order_key", F.xxhash64(F.lit(seed), F.lit("order"), "doc_id", "epoch")))


def _partition_totals(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    total = sum(pc.sum(b.column("n_tokens")).as_py() or 0 for b in batches)
    yield pa.RecordBatch.from_pydict({"part": [TaskContext.get().partitionId()], "total": [total]},
                                     pa.schema([("part", pa.int32()), ("total", pa.int64())]))


def _with_offsets(batches: Iterator[pa.RecordBatch], starts: dict[int, int]) -> Iterator[pa.RecordBatch]:
    running = starts[TaskContext.get().partitionId()]
    for batch in batches:
        n = batch.column("n_tokens").to_numpy(zero_copy_only=False).astype(np.int64)
        offsets = running + np.cumsum(n) - n
        running += int(n.sum())
        yield batch.append_column("offset", pa.array(offsets, pa.int64()))


def stream_offsets(copies: DataFrame) -> DataFrame:
    """Each copy's first token position in the stream ordered by (order_key, doc_id, epoch)."""
    ordered = copies.orderBy("order_key", "doc_id", "epoch").persist(StorageLevel.DISK_ONLY)
    totals = ordered.mapInArrow(_partition_totals, "part int, total bigint").collect()  # one row per partition
    starts, running = {}, 0
    for row in sorted(totals):
        starts[row.part] = running
        running += row.total
    schema = T.StructType(ordered.schema.fields + [T.StructField("offset", T.LongType())])
    return ordered.mapInArrow(lambda it: _with_offsets(it, starts), schema)


def unsampled(documents: DataFrame, epochs: Epochs, seed: int) -> DataFrame:
    """Documents that get no copy (only when their epochs < 1), with their ``epochs``, for the ledger."""
    left_out = documents.join(repeats(documents.select("doc_id", "source", "n_tokens"), epochs, seed),
                              "doc_id", "left_anti")
    return left_out.withColumn("epochs", epochs_of(epochs))


def pack_sequences(token_ids: DataFrame, seq_len: int, epochs: Epochs, seed: int) -> DataFrame:
    """The packed sequences of ``seq_len`` tokens (SEQUENCE_SCHEMA) from ``token_ids`` (doc_id, source,
    token_ids)."""
    counted = token_ids.select("doc_id", "source", F.size("token_ids").alias("n_tokens"))
    placed = stream_offsets(repeats(counted, epochs, seed)).join(token_ids, "doc_id")
    start, end = F.col("offset"), F.col("offset") + F.col("n_tokens")
    first, last = F.floor(start / seq_len), F.floor((end - 1) / seq_len)
    segments = (placed.where(F.col("n_tokens") > 0)
                .withColumn("seq_index", F.explode(F.sequence(first, last)))
                .withColumn("lo", F.greatest(start, F.col("seq_index") * seq_len))
                .withColumn("hi", F.least(end, (F.col("seq_index") + 1) * seq_len))
                .select("seq_index", "lo", "doc_id",
                        F.slice("token_ids", (F.col("lo") - start + 1).cast("int"),
                                (F.col("hi") - F.col("lo")).cast("int")).alias("segment")))
    parts = F.array_sort(F.collect_list(F.struct("lo", "doc_id", "segment")))
    return (segments.groupBy("seq_index").agg(parts.alias("parts"))
            .select(F.lit(seq_len).alias("seq_len"), "seq_index",
                    F.flatten(F.transform("parts", lambda p: p["segment"])).alias("token_ids"),
                    F.array_distinct(F.transform("parts", lambda p: p["doc_id"])).alias("doc_ids"))
            .select("seq_len", "seq_index", F.size("token_ids").alias("n_tokens"), "token_ids", "doc_ids"))

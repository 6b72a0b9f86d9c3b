"""MinHash on Spark: signatures over Arrow batches, LSH band buckets as star edges, signature similarity.

Every bucket (same band, same rows of the signature) becomes a star on its smallest file_id, never a
clique, so a bucket of m files gives m - 1 edges. Buckets are split into ``bucket_salts`` sub-stars by
a hash of file_id (each joined to its sub-bucket minimum, and the sub-bucket minima to the bucket
minimum), so a giant bucket of boilerplate spreads over that many tasks.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Iterator

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from codecorpus.dedup import minhash
from codecorpus.dedup.config import DedupConfig

SIGNATURE_SCHEMA = "file_id string, signature binary"
_BATCH_CHARS = 256 * 1024   # text per numpy batch: the reference measure found 64-256 KB fastest


@lru_cache(maxsize=4)
def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    return minhash.permutations(num_perm, seed)    # once per Python worker


def _signature_batches(cfg: DedupConfig):
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        a, b = _permutations(cfg.num_perm, cfg.seed)
        for batch in batches:
            ids = batch.column("file_id").to_pylist()
            texts = batch.column("content").to_pylist()
            lo = 0
            while lo < len(texts):
                hi, size = lo, 0
                while hi < len(texts) and (hi == lo or size < _BATCH_CHARS):
                    size += min(len(texts[hi]), cfg.max_hash_chars)
                    hi += 1
                sig, has = minhash.signatures(texts[lo:hi], a, b, cfg.ngram, cfg.min_tokens,
                                              cfg.max_hash_chars)
                keep = np.nonzero(has)[0]
                if keep.size:
                    yield pa.RecordBatch.from_arrays(
                        [pa.array([ids[lo + i] for i in keep], pa.string()),
                         pa.array([sig[i].tobytes() for i in keep], pa.binary())],
                        names=["file_id", "signature"])
                lo = hi
    return run


def signature_table(files: DataFrame, cfg: DedupConfig) -> DataFrame:
    """``(file_id, signature)``: num_perm little-endian uint32 per file; files too short to shingle
    (fewer than max(ngram, min_tokens) tokens) have no row."""
    return files.select("file_id", "content").mapInArrow(_signature_batches(cfg), SIGNATURE_SCHEMA)


def _repo_minimum_batches(num_perm: int):
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        names, mins = [], []
        for batch in batches:      # rows sorted by repository: one running minimum at a time
            repos = batch.column("repo_name").to_pylist()
            sig = np.frombuffer(b"".join(batch.column("signature").to_pylist()), dtype="<u4").reshape(-1, num_perm)
            for i, repo in enumerate(repos):
                if names and names[-1] == repo:
                    np.minimum(mins[-1], sig[i], out=mins[-1])
                else:
                    names.append(repo)
                    mins.append(sig[i].copy())
            if len(names) > 1:     # every repository but the last is complete
                yield _signature_batch(names[:-1], mins[:-1])
                names, mins = names[-1:], mins[-1:]
        if names:
            yield _signature_batch(names, mins)
    return run


def _signature_batch(ids: list[str], sigs: list[np.ndarray]) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([pa.array(ids, pa.string()), pa.array([s.tobytes() for s in sigs], pa.binary())],
                                      names=["file_id", "signature"])


def repo_signatures(file_signatures: DataFrame, cfg: DedupConfig) -> DataFrame:
    """``(file_id, signature)`` with file_id = repo_name: the elementwise minimum of a repository's file
    signatures, which is the MinHash of the union of their shingle sets. Each repository is streamed
    through one task in sorted order, so memory holds one signature whatever its size."""
    by_repo = (file_signatures.select("repo_name", "signature").repartition("repo_name")
               .sortWithinPartitions("repo_name"))
    return by_repo.mapInArrow(_repo_minimum_batches(cfg.num_perm), SIGNATURE_SCHEMA)


def band_edges(signatures: DataFrame, cfg: DedupConfig) -> DataFrame:
    """``(src, dst)`` edges, ``src > dst``: every file of a band bucket linked, through its sub-bucket
    minimum, to the bucket minimum."""
    bands, rows = cfg.lsh_params()
    width = rows * 4
    keys = F.array(*[F.substring("signature", i * width + 1, width) for i in range(bands)])
    banded = (signatures.select("file_id", F.posexplode(keys).alias("band", "key"))
              .withColumn("salt", F.pmod(F.xxhash64("file_id"), F.lit(cfg.bucket_salts))))
    bucket = ["band", "key"]
    subs = (banded.groupBy(*bucket, "salt")
            .agg(F.min("file_id").alias("sub_min"), F.count(F.lit(1)).alias("n")))
    member_edges = (banded.join(subs.where(F.col("n") > 1), [*bucket, "salt"])
                    .where(F.col("file_id") != F.col("sub_min"))
                    .select(F.col("file_id").alias("src"), F.col("sub_min").alias("dst")))
    roots = (subs.groupBy(*bucket)
             .agg(F.min("sub_min").alias("root"), F.count(F.lit(1)).alias("n_subs"))
             .where(F.col("n_subs") > 1))
    sub_edges = (subs.join(roots, bucket)
                 .where(F.col("sub_min") != F.col("root"))
                 .select(F.col("sub_min").alias("src"), F.col("root").alias("dst")))
    return member_edges.unionByName(sub_edges).distinct()


def _jaccard_batches(num_perm: int):
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            left = np.frombuffer(b"".join(batch.column("signature").to_pylist()), dtype="<u4")
            right = np.frombuffer(b"".join(batch.column("kept_signature").to_pylist()), dtype="<u4")
            same = (left.reshape(-1, num_perm) == right.reshape(-1, num_perm)).mean(axis=1)
            yield pa.RecordBatch.from_arrays(
                [batch.column("file_id"), batch.column("kept_id"), pa.array(same, pa.float64())],
                names=["file_id", "kept_id", "est_jaccard"])
    return run


def estimate_jaccard(pairs: DataFrame, signatures: DataFrame, cfg: DedupConfig) -> DataFrame:
    """``(file_id, kept_id, est_jaccard)`` for pairs ``(file_id, kept_id)``: the share of equal
    signature values, an unbiased estimate of the Jaccard similarity of their shingle sets."""
    sig = signatures.select("file_id", "signature")
    kept_sig = signatures.select(F.col("file_id").alias("kept_id"), F.col("signature").alias("kept_signature"))
    both = pairs.select("file_id", "kept_id").join(sig, "file_id").join(kept_sig, "kept_id")
    return both.select("file_id", "kept_id", "signature", "kept_signature").mapInArrow(
        _jaccard_batches(cfg.num_perm), "file_id string, kept_id string, est_jaccard double")


def _exact_batches(cfg: DedupConfig):
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            jaccard = minhash.exact_jaccard(batch.column("content").to_pylist(),
                                            batch.column("kept_content").to_pylist(),
                                            cfg.ngram, cfg.min_tokens, cfg.max_hash_chars)
            yield pa.RecordBatch.from_arrays(
                [batch.column("file_id"), batch.column("kept_id"), pa.array(jaccard, pa.float64())],
                names=["file_id", "kept_id", "est_jaccard"])
    return run


def exact_pair_jaccard(pairs: DataFrame, texts: DataFrame, cfg: DedupConfig) -> DataFrame:
    """``(file_id, kept_id, est_jaccard)`` with the exact Jaccard similarity of the two files' shingle
    sets (column named as estimate_jaccard's so both checks feed the same steps). Only the pairs'
    contents move: the files a pass would remove and their survivors."""
    content = texts.select("file_id", "content")
    kept_content = texts.select(F.col("file_id").alias("kept_id"), F.col("content").alias("kept_content"))
    both = pairs.select("file_id", "kept_id").join(content, "file_id").join(kept_content, "kept_id")
    return both.select("file_id", "kept_id", "content", "kept_content").mapInArrow(
        _exact_batches(cfg), "file_id string, kept_id string, est_jaccard double")


def checked_pairs(pairs: DataFrame, signatures: DataFrame, texts: DataFrame | None, cfg: DedupConfig) -> DataFrame:
    """``(file_id, kept_id, est_jaccard)``: the exact Jaccard when ``texts`` (file_id, content) are given,
    the signatures' estimate otherwise; the one choice ``dedup.verify`` makes for every near-dedup."""
    return exact_pair_jaccard(pairs, texts, cfg) if texts is not None else estimate_jaccard(pairs, signatures, cfg)

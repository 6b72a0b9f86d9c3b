"""MinHash on Spark: signatures over Arrow batches, LSH band buckets as star edges, signature similarity.

Every bucket (same band, same rows of the signature) becomes a star on its smallest file_id, never a
clique, so a bucket of m files gives m - 1 edges. Buckets are split into ``bucket_salts`` sub-stars by
a hash of file_id (each joined to its sub-bucket minimum, and the sub-bucket minima to the bucket
minimum), so a giant bucket of boilerplate spreads over that many tasks.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Iterator

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame, Window
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
    minimum, to the bucket minimum. A bucket is named by the 64-bit hash of (band, rows of the
    signature): shuffles move a long instead of the key's bytes (a collision only adds a candidate, which
    the removal check then judges). Minima are window aggregates, one shuffle each level, no joins."""
    bands, rows = cfg.lsh_params()
    width = rows * 4
    keys = F.array(*[F.substring("signature", i * width + 1, width) for i in range(bands)])
    banded = (signatures.select("file_id", F.posexplode(keys).alias("band", "key"))
              .select("file_id", F.xxhash64("band", "key").alias("bucket"),
                      F.pmod(F.xxhash64("file_id"), F.lit(cfg.bucket_salts)).alias("salt")))
    sub = banded.withColumn("sub_min", F.min("file_id").over(Window.partitionBy("bucket", "salt")))
    member_edges = (sub.where(F.col("file_id") != F.col("sub_min"))
                    .select(F.col("file_id").alias("src"), F.col("sub_min").alias("dst")))
    heads = sub.where(F.col("file_id") == F.col("sub_min")).select("bucket", "file_id")
    sub_edges = (heads.withColumn("root", F.min("file_id").over(Window.partitionBy("bucket")))
                 .where(F.col("file_id") != F.col("root"))
                 .select(F.col("file_id").alias("src"), F.col("root").alias("dst")))
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
            # A survivor is in many pairs: its shingle set is made once per batch.
            kept_ids = batch.column("kept_id").to_pylist()
            first = {k: i for i, k in reversed(list(enumerate(kept_ids)))}
            kept_content = batch.column("kept_content").to_pylist()
            sets = minhash.shingle_sets(batch.column("content").to_pylist() + [kept_content[i] for i in first.values()],
                                        cfg.ngram, cfg.min_tokens, cfg.max_hash_chars)
            kept_sets = dict(zip(first, sets[batch.num_rows:]))
            jaccard = [minhash.set_jaccard(sets[i], kept_sets[k]) for i, k in enumerate(kept_ids)]
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


class _KeptInGroup:
    """The files kept so far in one component, for checking the next one against all of them: signatures
    as one growing matrix (a single vectorised comparison per file) and, for exact checks, shingle sets."""

    def __init__(self, num_perm: int):
        self.ids: list[str] = []
        self.sets: list[np.ndarray] = []
        self.sigs = np.empty((8, num_perm), dtype=np.uint32)

    def add(self, file_id: str, sig: np.ndarray, shingles: np.ndarray | None) -> None:
        if len(self.ids) == len(self.sigs):
            self.sigs = np.concatenate((self.sigs, np.empty_like(self.sigs)))
        self.sigs[len(self.ids)] = sig
        self.ids.append(file_id)
        self.sets.append(shingles)

    def match(self, sig: np.ndarray, shingles: np.ndarray | None, floor: float, threshold: float
              ) -> tuple[str, float] | None:
        """(kept file_id, similarity) of the most similar kept file at or above ``threshold``: by the
        signatures' estimate, or, with shingle sets, by exact Jaccard on the files whose estimate
        reaches ``floor``, most similar first."""
        est = (self.sigs[:len(self.ids)] == sig).mean(axis=1)
        for i in np.argsort(-est, kind="stable"):
            if est[i] < floor:
                break
            similarity = est[i] if shingles is None else minhash.set_jaccard(shingles, self.sets[i])
            if similarity >= threshold:
                return self.ids[i], float(similarity)
        return None


def _greedy_batches(cfg: DedupConfig, exact: bool):
    # Exact checks start from files whose estimate is within 5 standard errors of the threshold (0.145 at
    # J 0.7 and 250 permutations), so a pair at or above it is missed with probability under 1e-6.
    margin = 5 * math.sqrt(cfg.threshold * (1 - cfg.threshold) / cfg.num_perm) if exact else 0.0
    floor = cfg.threshold - margin

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        group, kept = None, _KeptInGroup(cfg.num_perm)
        for batch in batches:     # rows sorted by group, then best rank first
            groups, ids = batch.column("group").to_pylist(), batch.column("file_id").to_pylist()
            sigs = np.frombuffer(b"".join(batch.column("signature").to_pylist()), dtype="<u4").reshape(-1, cfg.num_perm)
            texts = batch.column("content").to_pylist() if exact else None
            out = ([], [], [])
            for i, g in enumerate(groups):
                if g != group:
                    group, kept = g, _KeptInGroup(cfg.num_perm)
                shingles = (minhash.shingle_sets([texts[i]], cfg.ngram, cfg.min_tokens, cfg.max_hash_chars)[0]
                            if exact else None)
                found = kept.match(sigs[i], shingles, floor, cfg.threshold)
                if found is None:
                    kept.add(ids[i], sigs[i], shingles)
                else:
                    for column, value in zip(out, (ids[i], *found)):
                        column.append(value)
            yield pa.RecordBatch.from_arrays([pa.array(out[0], pa.string()), pa.array(out[1], pa.string()),
                                              pa.array(out[2], pa.float64())],
                                             names=["file_id", "kept_id", "est_jaccard"])
    return run


def greedy_within_groups(members: DataFrame, signatures: DataFrame, ranks: DataFrame,
                         texts: DataFrame | None, cfg: DedupConfig) -> DataFrame:
    """``(file_id, kept_id, est_jaccard)``: within each ``group`` of ``members`` (file_id, group), files
    in rank order, each removed when it is similar (exact Jaccard with ``texts``, else the estimate) to
    a file of its group already kept, and kept otherwise. Each group streams through one task, holding
    only its kept files; the dedup stage sends here just the files that failed their first check."""
    rows = members.join(ranks, "file_id").join(signatures, "file_id")
    columns = ["group", "file_id", "signature"]
    if texts is not None:
        rows, columns = rows.join(texts.select("file_id", "content"), "file_id"), columns + ["content"]
    ordered = rows.repartition("group").sortWithinPartitions("group", "rank_key").select(*columns)
    return ordered.mapInArrow(_greedy_batches(cfg, texts is not None),
                              "file_id string, kept_id string, est_jaccard double")

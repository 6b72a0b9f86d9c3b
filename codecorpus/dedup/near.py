"""MinHash near-dedup of files: signatures, LSH buckets, connected components, one survivor per cluster.

Plain MinHash + connected components chains files that are not alike (A~B, B~C, A!~C) and would drop
C for A. So each removal is checked against its survivor (``dedup.verify``: exact Jaccard of the
shingle sets, or the signatures' estimate), as pairs spread over the cluster. The few files that fail
are then taken per component in rank order and checked against every file of the component kept so
far: removed at the first match, kept otherwise. That keeps removal precision at 1 (exact) and finds
the near-duplicates among the failures, which a survivor-only check leaves in the corpus.
"""
from __future__ import annotations

import logging

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from codecorpus.dedup.components import connected_components, materialize
from codecorpus.dedup.config import DedupConfig
from codecorpus.dedup.lsh import (band_edges, checked_pairs, estimate_jaccard, greedy_within_groups,
                                  repo_signatures, signature_table)
from codecorpus.dedup.ranking import RANK_COLUMNS, rank_key, survivors, with_rank
from codecorpus.ledger import rejects

RULE = "near_dup"
REPO_RULE = "near_dup_repo"
log = logging.getLogger(__name__)


def near_dedup(files: DataFrame, cfg: DedupConfig, checkpoint_dir: str
               ) -> tuple[DataFrame, DataFrame, DataFrame]:
    """``(kept_files, clusters, rejects)``.

    ``clusters`` (file_id, cluster_id, kept_id) holds every removed file and its survivor, cluster_id
    being the smallest file_id of the pair's cluster; ``rejects`` has rule ``near_dup``, value = the
    kept file's file_id, detail = repo/path and the Jaccard similarity to it (exact, or the estimate).
    With ``cfg.scope == "repo"`` the units are whole repositories (see :func:`_repo_removals`)."""
    sigs = materialize(signature_table(files, cfg), f"{checkpoint_dir}/signatures")
    if cfg.scope == "repo":
        return _repo_removals(files, sigs, cfg, checkpoint_dir)
    texts = files.select("file_id", "content") if cfg.verify == "exact" else None
    removed = removals(sigs, with_rank(files), cfg, checkpoint_dir, texts)
    clusters = _clusters(removed)
    dropped = files.select("file_id", "repo_name", "path").join(removed, "file_id")
    measure = "jaccard=%.3f" if cfg.verify == "exact" else "est_jaccard=%.3f"
    detail = F.concat_ws(" ", F.concat_ws("/", "repo_name", "path"), F.format_string(measure, F.col("est_jaccard")))
    ledger = rejects(dropped, rule=RULE, value=F.col("kept_id"), detail=detail)
    kept_files = files.join(removed.select("file_id"), "file_id", "left_anti")
    return kept_files, clusters, ledger


def removals(sigs: DataFrame, ranks: DataFrame, cfg: DedupConfig, checkpoint_dir: str,
             texts: DataFrame | None = None) -> DataFrame:
    """``(file_id, kept_id, est_jaccard)`` of every unit removed: components of the LSH edges, one
    survivor each by rank (``ranks``: file_id, rank_key), each other member checked against it (exact
    Jaccard on ``texts`` (file_id, content) when given, else the signatures' estimate), and the members
    that fail checked, per component in rank order, against the members kept so far. With
    ``verify: off`` every member but the survivor goes."""
    edges = materialize(band_edges(sigs, cfg), f"{checkpoint_dir}/edges")
    ranks = materialize(ranks, f"{checkpoint_dir}/ranks")
    comp, rounds = connected_components(edges, checkpoint_dir, cfg.max_iterations, "components")
    log.info("near-dedup: components converged in %d rounds", rounds)
    kept = survivors(comp, ranks, "cluster_id")
    pairs = comp.join(kept, "cluster_id").where(F.col("file_id") != F.col("kept_id"))
    if cfg.verify == "off":
        return materialize(estimate_jaccard(pairs, sigs, cfg), f"{checkpoint_dir}/removed")
    if texts is not None:
        # The checks read only the clustered files' contents: one scan of the corpus to set them apart.
        texts = materialize(texts.join(comp.select("file_id"), "file_id", "left_semi"),
                            f"{checkpoint_dir}/clustered_texts")
    scored = materialize(checked_pairs(pairs, sigs, texts, cfg), f"{checkpoint_dir}/scored")
    ok = F.col("est_jaccard") >= F.lit(cfg.threshold)
    # kept_id names the component: its survivor.
    failed = scored.where(~ok).select("file_id", F.col("kept_id").alias("group"))
    rechecked = greedy_within_groups(failed, sigs, ranks, texts, cfg)
    return materialize(scored.where(ok).unionByName(rechecked), f"{checkpoint_dir}/removed")


def _repo_removals(files: DataFrame, sigs: DataFrame, cfg: DedupConfig, checkpoint_dir: str
                   ) -> tuple[DataFrame, DataFrame, DataFrame]:
    """Repository scope: a repository's signature is the elementwise minimum of its files' (the MinHash
    of the union of their shingles), repositories are ranked by their best file, and a repository that
    is a near-copy of a better one leaves with all its files (rule ``near_dup_repo``, value = the kept
    repository). clusters: file_id of each removed file, cluster_id and kept_id as repository names."""
    repo_sigs = materialize(repo_signatures(sigs.join(files.select("file_id", "repo_name"), "file_id"), cfg),
                             f"{checkpoint_dir}/repo_signatures")
    repo_ranks = (files.select(F.col("repo_name").alias("file_id"), *RANK_COLUMNS)
                  .select("file_id", rank_key().alias("rank_key"))
                  .groupBy("file_id").agg(F.min("rank_key").alias("rank_key")))
    removed = removals(repo_sigs, repo_ranks, cfg, checkpoint_dir).select(
        F.col("file_id").alias("repo_name"), "kept_id", "est_jaccard")
    clusters = (files.select("file_id", "repo_name").join(_clusters(removed.withColumnRenamed("repo_name", "file_id"))
                                                          .withColumnRenamed("file_id", "repo_name"), "repo_name")
                .select("file_id", "cluster_id", "kept_id"))
    dropped = files.select("file_id", "repo_name", "path").join(removed, "repo_name")
    detail = F.concat_ws(" ", F.concat_ws("/", "repo_name", "path"),
                         F.format_string("repository est_jaccard=%.3f", F.col("est_jaccard")))
    ledger = rejects(dropped, rule=REPO_RULE, value=F.col("kept_id"), detail=detail)
    return files.join(removed.select("repo_name"), "repo_name", "left_anti"), clusters, ledger


def _clusters(removed: DataFrame) -> DataFrame:
    """Each survivor with the files it replaced; cluster_id = smallest file_id among them."""
    members = removed.select("file_id", "kept_id").unionByName(
        removed.select(F.col("kept_id").alias("file_id"), "kept_id").distinct())
    ids = members.groupBy("kept_id").agg(F.min("file_id").alias("cluster_id"))
    return members.join(ids, "kept_id").select("file_id", "cluster_id", "kept_id")

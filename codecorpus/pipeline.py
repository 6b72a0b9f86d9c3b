"""The stages of a corpus build, in order, each a thin adapter from the runner's context to the
module that does the work. Source stages list their units on the driver and commit per shard."""
from __future__ import annotations

from dataclasses import asdict

from pyspark import StorageLevel
from pyspark.sql import functions as F

from codecorpus import tables
from codecorpus.annotate.language import annotate_files
from codecorpus.annotate.license import detect_licenses
from codecorpus.annotate.natural_language import add_natural_language
from codecorpus.annotate.signals import add_signals
from codecorpus.config import RunConfig
from codecorpus.dedup.exact import exact_dedup
from codecorpus.dedup.near import near_dedup
from codecorpus.filters.pipeline import filter_files
from codecorpus.format import docs_sites, llvm_ir, notebooks
from codecorpus.format.repo_context import repo_documents
from codecorpus.ledger import union_all
from codecorpus.pii.redact import redact_files
from codecorpus.sources.local import RECORD_DDL, list_repositories, read_units_batches
from codecorpus.stage import Balance, Stage, StageContext, StageResult, Unit

FILE_BALANCE = Balance("files", "files")


def source_roots(config: RunConfig) -> list[str]:
    roots = list(config.sources.local)
    if config.sources.sample:
        from codecorpus.sources.sample import build_sample
        roots.append(str(build_sample(config.sources.sample) / "repos"))
    if not roots:
        raise ValueError("the config names no sources: set sources.sample (small, default, large) "
                         "or sources.local (folders of repositories)")
    return roots


def list_units(config: RunConfig) -> list[Unit]:
    return list_repositories(source_roots(config), config.sources.repo_depth)


def ingest(ctx: StageContext) -> StageResult:
    spark = ctx.spark
    units = spark.createDataFrame([asdict(u) for u in ctx.units],
                                  "unit_id string, location string, kind string, signature string")
    parallelism = max(1, min(len(ctx.units), spark.sparkContext.defaultParallelism * 4))
    max_bytes = ctx.config.ingest.max_file_bytes
    records = (units.repartition(parallelism, "unit_id")
               .mapInArrow(lambda batches: read_units_batches(batches, max_bytes), RECORD_DDL)
               .persist(StorageLevel.DISK_ONLY))
    # Local repositories have no hosting metadata: stars and forks are 0, GitHub fields null.
    records = records.select("*", F.timestamp_seconds("revision_ts").alias("revision_date"),
                             F.lit(0).cast("bigint").alias("star_events_count"),
                             F.lit(0).cast("bigint").alias("fork_events_count"))
    files = records.where(F.col("kind") == "file").withColumn("committer_date", F.col("revision_date"))
    repos = records.where(F.col("kind") == "repo")
    dropped = records.where(F.col("kind") == "reject").select("id", "id_kind", "rule", "value", "detail")
    return StageResult({"files": tables.conform(files, "files"), "repos": tables.conform(repos, "repos")},
                       dropped.withColumn("stage", F.lit(None).cast("string")))


def annotate(ctx: StageContext) -> StageResult:
    cfg = ctx.config.annotate
    labelled = add_signals(annotate_files(ctx.inputs["files"], cfg.language), cfg.signals)
    labelled = add_natural_language(labelled, cfg.natural_language)
    # License detection reads the labelled files several times (matching, propagation, join back, and
    # the repos output): compute the expensive labels once.
    labelled = labelled.persist(StorageLevel.DISK_ONLY)
    files, repos = detect_licenses(labelled, ctx.inputs["repos"], cfg.license)
    return StageResult({"files": tables.conform(files, "files"), "repos": repos})


def filter_stage(ctx: StageContext) -> StageResult:
    kept, dropped, contamination = filter_files(ctx.inputs["files"], ctx.config.filter)
    return StageResult({"files": kept, "contamination": contamination}, dropped)


def dedup(ctx: StageContext) -> StageResult:
    cfg, files, dropped = ctx.config.dedup, ctx.inputs["files"], []
    clusters = ctx.spark.createDataFrame([], tables.spark_schema("clusters"))
    if cfg.exact:
        files, exact_rejects = exact_dedup(files, cfg)
        dropped.append(exact_rejects)
    if cfg.near:
        files, clusters, near_rejects = near_dedup(files, cfg, f"{ctx.scratch_dir}/dedup")
        dropped.append(near_rejects)
    return StageResult({"files": files, "clusters": clusters}, union_all(dropped))


def redact_pii(ctx: StageContext) -> StageResult:
    files, pii, dropped = redact_files(ctx.inputs["files"], ctx.config.pii, ctx.seed)
    return StageResult({"files": files, "pii": pii}, dropped)


def format_documents(ctx: StageContext) -> StageResult:
    return StageResult({"documents": repo_documents(ctx.inputs["files"], ctx.config.format, ctx.seed)})


STAGES = {
    "ingest": Stage("ingest", (), ("files", "repos"), ingest, ("sources", "ingest"),
                    (Balance("units", "repos", "repo_name", "repo"),), list_units=list_units,
                    doc="Read repositories (folders, git, archives) into files and repos."),
    "annotate": Stage("annotate", ("files", "repos"), ("files", "repos"), annotate, ("annotate",), (FILE_BALANCE,),
                      doc="Language, vendor, generated and documentation labels, quality signals, licenses."),
    "filter": Stage("filter", ("files",), ("files", "contamination"), filter_stage, ("filter",), (FILE_BALANCE,),
                    doc="StarCoder2's heuristic and language-specific filters, licenses, opt-out, decontamination."),
    "dedup": Stage("dedup", ("files",), ("files", "clusters"), dedup, ("dedup",), (FILE_BALANCE,),
                   doc="Exact dedup by blob_id, then MinHash near-dedup with The Stack v2's survivor ranking."),
    "pii": Stage("pii", ("files",), ("files", "pii"), redact_pii, ("pii",), (FILE_BALANCE,),
                 doc="Emails, keys, passwords and IP addresses redacted in place; one pii row per redaction."),
    "notebooks": notebooks.STAGE,
    "ir": llvm_ir.STAGE,
    "docs": docs_sites.STAGE,
    "format": Stage("format", ("files",), ("documents",), format_documents, ("format",),
                    (Balance("files", "documents", merged="source_ids"),),
                    doc="Repository-context documents with metadata and repo-level FIM."),
}

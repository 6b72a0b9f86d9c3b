"""The stages of a corpus build, in order, each a thin adapter from the runner's context to the
module that does the work. Source stages list their units on the driver and commit per shard."""
from __future__ import annotations

from dataclasses import asdict

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from codecorpus import tables
from codecorpus.annotate.language import annotate_files
from codecorpus.annotate.license import detect_licenses
from codecorpus.annotate.natural_language import add_natural_language
from codecorpus.annotate.signals import add_signals
from codecorpus.config import RunConfig
from codecorpus.dedup.exact import exact_dedup
from codecorpus.dedup.near import near_dedup
from codecorpus.dedup.opt_out import reuse_dedup
from codecorpus.filters import malware
from codecorpus.filters.optout import reuse_file_stage, reuse_filter
from codecorpus.filters.pipeline import filter_files
from codecorpus.format import docs_sites, kaggle, llvm_ir, notebooks, text_sources
from codecorpus.format.conversations import conversation_tables
from codecorpus.format.pack import pack_sequences, tokenize_documents, unsampled
from codecorpus.format.repo_context import repo_documents
from codecorpus.format.tokenizer import with_token_counts
from codecorpus.ledger import rejects, union_all
from codecorpus.mix.planner import by_source, load_mix, parse_tokens, plan_mix
from codecorpus.mix.stage import (apply_plan, apply_source_plan, keep_everything, language_stats, run_tokenizer,
                                  saved_tokenizer, source_stats)
from codecorpus.pii.redact import redact_files
from codecorpus.sources import stack_v2
from codecorpus.sources.gharchive import list_event_files, read_event_files
from codecorpus.sources.local import RECORD_DDL, list_repositories, read_units_batches
from codecorpus.stage import Balance, Stage, StageContext, StageResult, Unit

FILE_BALANCE = Balance("files", "files")


def source_roots(config: RunConfig) -> list[str]:
    roots = list(config.sources.local)
    if config.sources.sample:
        from codecorpus.sources.sample import build_sample
        roots.append(str(build_sample(config.sources.sample) / "repos"))
    if not roots and not config.sources.stack_v2:
        raise ValueError("the config names no sources: set sources.sample (small, default, large), "
                         "sources.local (folders of repositories) or sources.stack_v2 (an index)")
    return roots


def list_units(config: RunConfig) -> list[Unit]:
    units = list_repositories(source_roots(config), config.sources.repo_depth)
    if config.sources.stack_v2:
        from codecorpus.session import get_spark
        units += stack_v2.list_units(get_spark(), config.sources.stack_v2, config.s3)
    return units


def ingest(ctx: StageContext) -> StageResult:
    """Local repositories and The Stack v2's, whichever this shard holds."""
    local = [u for u in ctx.units if u.kind != stack_v2.UNIT_KIND]
    remote = [u for u in ctx.units if u.kind == stack_v2.UNIT_KIND]
    parts = []
    if local:
        parts.append(ingest_local(ctx, local))
    if remote:
        parts.append(stack_v2.ingest_stack_v2(ctx.spark, remote, ctx.config.sources.stack_v2, ctx.config.s3,
                                              ctx.config.ingest.max_file_bytes, ctx.previous("files")))
    files, repos, dropped = (union_all([p[i] for p in parts]) for i in range(3))
    return StageResult({"files": files, "repos": repos}, dropped)


def ingest_local(ctx: StageContext, local_units: list[Unit]):
    spark = ctx.spark
    units = spark.createDataFrame([asdict(u) for u in local_units],
                                  "unit_id string, location string, kind string, signature string")
    parallelism = max(1, min(len(local_units), spark.sparkContext.defaultParallelism * 4))
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
    return (tables.conform(files, "files"), tables.conform(repos, "repos"),
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


def list_event_units(config: RunConfig) -> list[Unit]:
    if not config.sources.gharchive:
        raise ValueError("the events stage needs sources.gharchive: GH Archive hourly files (*.json.gz), "
                         "folders of them or globs")
    from pyspark.sql import SparkSession
    return list_event_files(SparkSession.getActiveSession(), config.sources.gharchive)


def events_stage(ctx: StageContext) -> StageResult:
    records = read_event_files(ctx.spark, ctx.units).persist(StorageLevel.DISK_ONLY)
    dropped = records.where(F.col("kind") == "reject").select("id", "id_kind", "rule", "value", "detail")
    return StageResult({"events": tables.conform(records.where(F.col("kind") == "event"), "events")},
                       dropped.withColumn("stage", F.lit(None).cast("string")))


def conversations_stage(ctx: StageContext) -> StageResult:
    outputs, dropped = conversation_tables(ctx.inputs["events"], ctx.inputs["files"], ctx.config, ctx.scratch_dir)
    return StageResult(outputs, dropped)


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


def source_documents(ctx: StageContext) -> DataFrame:
    """The non-code sources' documents this run has (tables.SOURCE_DOCUMENT_TABLES present), as one frame."""
    present = [tables.conform(ctx.inputs[t], "documents") for t in tables.SOURCE_DOCUMENT_TABLES if t in ctx.inputs]
    return union_all(present) or ctx.spark.createDataFrame([], tables.spark_schema("documents"))


def mix(ctx: StageContext) -> StageResult:
    config = ctx.config
    tokenizer = run_tokenizer(ctx.spark, ctx.inputs["files"], config.tokenizer, config.run_dir, ctx.seed)
    counted = with_token_counts(ctx.inputs["files"], tokenizer, "content").persist(StorageLevel.DISK_ONLY)
    documents = with_token_counts(source_documents(ctx), tokenizer, "text").persist(StorageLevel.DISK_ONLY)
    stats, sources = language_stats(counted), source_stats(documents)
    chosen = load_mix(config.mix.model) if config.mix.model else keep_everything(stats["language"], sources)
    target = parse_tokens(config.mix.target_tokens) if config.mix.target_tokens else None
    plan = plan_mix(chosen, stats, sources, target, config.mix.epoch_cap)
    kept, dropped = apply_plan(counted, plan, ctx.seed)
    kept_documents, dropped_documents = apply_source_plan(documents, plan, ctx.seed)
    plan_frame = ctx.spark.createDataFrame(plan.astype(object).where(plan.notna(), None),
                                           tables.spark_schema("plan"))
    return StageResult({"files": tables.conform(kept, "files"), "plan": plan_frame,
                        "source_documents": tables.conform(kept_documents, "documents")},
                       union_all([dropped, dropped_documents]))


def format_documents(ctx: StageContext) -> StageResult:
    documents = repo_documents(ctx.inputs["files"], ctx.config.format, ctx.seed)
    tokenizer = saved_tokenizer(ctx.spark, ctx.config)
    if tokenizer:
        documents = with_token_counts(documents, tokenizer, "text")
    return StageResult({"documents": tables.conform(documents, "documents")})


def pack(ctx: StageContext) -> StageResult:
    """Format's documents, then the mix's source documents, each repeated by its source's epochs."""
    tokenizer = saved_tokenizer(ctx.spark, ctx.config)
    if tokenizer is None:
        raise ValueError("pack needs a tokenizer: run the mix stage first, or set tokenizer.path")
    documents = ctx.inputs["documents"].unionByName(ctx.inputs["source_documents"])
    epochs = by_source(ctx.inputs["plan"].toPandas(), "epochs")   # the plan: one small row per language or source
    token_ids = tokenize_documents(documents, tokenizer).persist(StorageLevel.DISK_ONLY)
    sequences = union_all([pack_sequences(token_ids, n, epochs, ctx.seed) for n in ctx.config.pack.seq_lengths])
    left_out = unsampled(documents, epochs, ctx.seed)
    dropped = rejects(left_out, "epoch_sample", F.format_number("epochs", 4),
                      F.concat(F.lit("not drawn for a plan below one epoch: "), "source"),
                      id_col="doc_id", id_kind="document")
    return StageResult({"sequences": tables.conform(sequences, "sequences")}, dropped)


STAGES = {
    "ingest": Stage("ingest", (), ("files", "repos"), ingest, ("sources", "ingest"),
                    (Balance("units", "repos", "repo_name", "repo"),), list_units=list_units,
                    doc="Read repositories (folders, git, archives, The Stack v2 index + S3 blobs) into files and repos."),
    "annotate": Stage("annotate", ("files", "repos"), ("files", "repos"), annotate, ("annotate",), (FILE_BALANCE,),
                      doc="Language, vendor, generated and documentation labels, quality signals, licenses."),
    "events": Stage("events", (), ("events",), events_stage, ("sources",),
                    (Balance("units", "events", "source_file", "event_file"),), list_units=list_event_units,
                    doc="GH Archive event files into the events table (the five PR and issue event types)."),
    "conversations": Stage("conversations", ("events", "files"), ("pull_requests", "issues", "conversation_documents", "pii"),
                           conversations_stage, ("conversations", "filter", "pii", "dedup"),
                           (Balance("events", "conversation_documents", "event_id", "event", merged="source_ids"),),
                           doc="Pull requests and issues: StarCoder2's filters, text rules and templates; decontamination, PII, near-dedup."),
    "filter": Stage("filter", ("files",), ("files", "contamination"), filter_stage, ("filter",), (FILE_BALANCE,),
                    doc="StarCoder2's heuristic and language-specific filters, licenses, opt-out, decontamination.",
                    opt_out_reuse=reuse_filter),
    "malware": malware.STAGE,
    "dedup": Stage("dedup", ("files",), ("files", "clusters"), dedup, ("dedup",), (FILE_BALANCE,),
                   doc="Exact dedup by blob_id, then MinHash near-dedup with The Stack v2's survivor ranking.",
                   opt_out_reuse=reuse_dedup),
    "pii": Stage("pii", ("files",), ("files", "pii"), redact_pii, ("pii",), (FILE_BALANCE,),
                 doc="Emails, keys, passwords and IP addresses redacted in place; one pii row per redaction.",
                 opt_out_reuse=reuse_file_stage),
    "notebooks": notebooks.STAGE,
    "ir": llvm_ir.STAGE,
    "docs": docs_sites.STAGE,
    "text": text_sources.STAGE,
    "kaggle": kaggle.STAGE,
    "mix": Stage("mix", ("files",), ("files", "plan", "source_documents"), mix, ("mix", "tokenizer"),
                 (FILE_BALANCE, *(Balance(t, "source_documents", "doc_id", "document")
                                  for t in tables.SOURCE_DOCUMENT_TABLES)),
                 optional_reads=tables.SOURCE_DOCUMENT_TABLES,
                 doc="Token counts per file and non-code document, the target model's mix plan, its caps and "
                     "sources applied."),
    "format": Stage("format", ("files",), ("documents",), format_documents, ("format", "tokenizer"),
                    (Balance("files", "documents", merged="source_ids"),),
                    doc="Repository-context documents with metadata and repo-level FIM."),
    "pack": Stage("pack", ("documents", "source_documents", "plan"), ("sequences",), pack, ("pack", "mix", "tokenizer"),
                  (Balance("documents", "sequences", "doc_id", "document", merged="doc_ids"),
                   Balance("source_documents", "sequences", "doc_id", "document", merged="doc_ids")),
                  doc="Every source's documents tokenized, repeated by their source's epochs, packed into 4K "
                      "and 16K sequences."),
}

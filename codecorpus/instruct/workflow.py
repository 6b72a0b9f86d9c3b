"""The `codecorpus instruct` steps over a finished run: where each step's outputs live and how one step
reads the previous one's. Layout under ``<run_dir>/instruct/``:

    seeds/part-*.parquet           one row per seed                       (instruct seeds)
    requests/part-*.jsonl          OpenAI batch lines                     (instruct requests)
    generate/responses.jsonl       batch output lines; errors.jsonl; generate.json  (instruct generate;
                                   a local folder: --out when the run is on S3)
    dataset/part-*.parquet         the instruction data; dataset_jsonl/part-*.jsonl  (instruct build)
    ledger/<step>/part-*.parquet   every seed or reply a step dropped, with rule and value
    seeds.json, requests.json, report.json, report.md                      what each step did
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from codecorpus import tables
from codecorpus.config import RunConfig
from codecorpus.ledger import rejects
from codecorpus.s3 import objects
from codecorpus.s3.client import is_s3
from codecorpus.s3.config import S3Config
from codecorpus.storage import Storage


class InstructPaths:
    def __init__(self, run_dir: str, out_dir: str | None = None):
        self.root = (out_dir or f"{run_dir.rstrip('/')}/instruct").rstrip("/")

    def __getattr__(self, name: str) -> str:   # seeds, requests, dataset, dataset_jsonl, generate, work
        return f"{self.root}/{name}"

    def ledger(self, step: str) -> str:
        return f"{self.root}/ledger/{step}"

    def report(self, name: str) -> str:
        return f"{self.root}/{name}"


class Workflow:
    def __init__(self, spark: SparkSession, config: RunConfig, progress: Callable[[str], None] = print):
        self.spark, self.config, self.progress = spark, config, progress
        self.cfg = config.instruct
        self.store = Storage(spark, config.s3)
        self.paths = InstructPaths(config.run_dir, config.instruct.dir)

    # -- helpers -----------------------------------------------------------------------------------
    def write_ledger(self, step: str, ledger: DataFrame | None) -> None:
        ledger = ledger if ledger is not None else self.spark.createDataFrame([], tables.spark_schema("ledger"))
        ledger = tables.conform(ledger.withColumn("stage", F.lit(f"instruct_{step}")), "ledger")
        self.store.write_table(ledger, self.paths.ledger(step), self.config.files_per_table, tables.SORT_KEYS["ledger"])

    def write_json(self, name: str, data: dict) -> None:
        self.store.write_text(self.paths.report(name), json.dumps(data, indent=1, sort_keys=True))

    def read_json(self, name: str) -> dict | None:
        text = self.store.read_text(self.paths.report(name))
        return json.loads(text) if text else None

    def drops(self, step: str) -> dict[str, int]:
        ledger = self.store.read_table(self.paths.ledger(step))
        return {r["rule"]: r["n"] for r in ledger.groupBy("rule").agg(F.count(F.lit(1)).alias("n")).collect()}

    def seeds(self) -> DataFrame:
        if not self.store.exists(self.paths.seeds):
            raise FileNotFoundError(f"no seeds at {self.paths.seeds}: run `codecorpus instruct seeds CONFIG` first")
        return self.store.read_table(self.paths.seeds)

    # -- steps -------------------------------------------------------------------------------------
    def sample_seeds(self) -> dict:
        from codecorpus.instruct.seeds import sample_seeds, shortfall
        from codecorpus.release.run_view import open_run
        view = open_run(self.spark, self.config.run_dir)
        source = view.producer("files")
        self.progress(f"[instruct seeds] {self.cfg.seeds.mode} mode, from the kept files of stage {source}")
        scratch = self.store.scratch(f"{self.paths.work}/seeds")    # near-dedup's checkpoints
        seeds, ledger, quotas = sample_seeds(view.table("files"), self.cfg.seeds, self.config.seed, scratch)
        self.store.write_table(seeds, self.paths.seeds, self.config.files_per_table, ["seed_id"])
        self.write_ledger("seeds", ledger)
        written = self.store.read_table(self.paths.seeds)
        counts = {r["language"]: r["n"] for r in written.groupBy("language").agg(F.count(F.lit(1)).alias("n")).collect()}
        report = {"mode": self.cfg.seeds.mode, "source_stage": source, "seeds": sum(counts.values()),
                  "per_language": shortfall(counts, quotas), "dropped_by_rule": self.drops("seeds")}
        self.write_json("seeds.json", report)
        self.store.delete(scratch)
        return report

    def write_requests(self) -> dict:
        from codecorpus.instruct.requests import build_requests
        made, ledger = build_requests(self.seeds(), self.cfg.requests, self.config.seed)
        made = made.persist()
        self.store.write_lines(made, self.paths.requests, self.cfg.requests.files, ["seed_id"], "line")
        self.write_ledger("requests", ledger)
        stats = made.agg(F.count(F.lit(1)).alias("n"), F.sum("prompt_tokens").alias("prompt"),
                         F.max("prompt_tokens").alias("longest"), F.sum("max_tokens").alias("budget")).first()
        made.unpersist()
        report = {"requests": stats["n"], "prompt_tokens": stats["prompt"] or 0, "longest_prompt": stats["longest"] or 0,
                  "max_tokens_sum": stats["budget"] or 0, "model": self.cfg.requests.model,
                  "tokenizer": self.cfg.requests.tokenizer or "estimate: UTF-8 bytes / 3",
                  "dropped_by_rule": self.drops("requests"),
                  "files": [f"requests/{name}" for name in self.store.listdir(self.paths.requests)]}
        self.write_json("requests.json", report)
        return report


def request_files(requests_dir: str, s3: S3Config | None = None, copy_to: Path | None = None) -> list[Path]:
    """The JSONL request files of a requests directory, in order. `generate` reads them on this machine:
    those of an s3:// directory are downloaded to the local folder ``copy_to`` first (boto3, ``s3``)."""
    if is_s3(requests_dir):
        if copy_to is None:
            raise ValueError(f"request files on {requests_dir} are read from a local copy: give a folder for it")
        cfg = s3 or S3Config()
        for name in objects.listdir(requests_dir, cfg):
            if name.endswith(".jsonl"):
                objects.download(f"{requests_dir.rstrip('/')}/{name}", copy_to / name, cfg)
        requests_dir = str(copy_to)
    folder = Path(requests_dir.removeprefix("file:"))
    files = sorted(folder.glob("*.jsonl"))
    if not files:
        raise FileNotFoundError(f"no request files (*.jsonl) in {requests_dir}: run `codecorpus instruct requests CONFIG` first")
    return files


def generate_dir(out: str) -> Path:
    """The folder `generate` writes to, which must be local: it appends each reply to responses.jsonl
    as it arrives, so that a killed run resumes, and S3 objects cannot be appended to."""
    if "://" in out and not out.startswith("file:"):
        raise ValueError(f"instruct generate cannot write to {out}: it appends each reply to responses.jsonl as it "
                         "arrives (so a killed run resumes), which S3 and other remote stores cannot do. Pass --out "
                         "with a local folder, then `codecorpus instruct build CONFIG --responses FOLDER/responses.jsonl`")
    return Path(out.removeprefix("file:"))


def build_dataset(wf: Workflow, responses: list[str]) -> dict:
    """`instruct build`: replies (batch output JSONL files) to the dataset, its ledger and the report."""
    from codecorpus.instruct import build as b
    from codecorpus.instruct.report import build_report, markdown
    from codecorpus.instruct.sandbox import Sandbox
    from codecorpus.instruct.similarity import max_similarity
    from codecorpus.ledger import union_all

    cfg, spark, paths, store = wf.cfg.build, wf.spark, wf.paths, wf.store
    remote = [path for path in responses if store.native(path) is None]
    if remote:
        raise ValueError(f"instruct build reads replies with Spark's text reader, which cannot read {remote[0]} "
                         "without hadoop-aws: copy the file to a local or hdfs:// folder and pass it with --responses")
    sandbox = Sandbox(cfg.execution.sandbox) if cfg.execution.enabled else None   # fails fast when unisolated
    if sandbox:
        wf.progress(f"[instruct build] sandbox: {sandbox.description}")
    seeds = wf.seeds()
    excluded = (store.read_table(paths.ledger("requests")).select(F.col("id").alias("seed_id"))
                if store.exists(paths.ledger("requests")) else spark.createDataFrame([], "seed_id string"))
    work = store.scratch(paths.work + "/build")     # Spark's own checkpoints: local or Hadoop paths only

    def materialize(df: DataFrame, name: str) -> DataFrame:
        df.write.mode("overwrite").parquet(f"{work}/{name}")
        return spark.read.parquet(f"{work}/{name}")

    samples, ledger = b.parse_replies(spark, responses, seeds, excluded)
    samples, dups = b.exact_dedup(samples, cfg.shuffle_seed)
    samples, contaminated, contamination = b.decontaminate_samples(samples, cfg)
    samples = materialize(samples, "clean")
    ledger += dups + [contaminated]
    text = F.concat_ws("\n", "problem", "solution")
    scores = materialize(max_similarity(spark, {
        "samples": samples.select(F.col("seed_id").alias("id"), text.alias("text")),
        "seeds": seeds.select(F.col("seed_id").alias("id"), F.col("seed").alias("text"))}), "similarity")
    samples = samples.join(scores.where(F.col("corpus") == "samples").select(
        F.col("id").alias("seed_id"), F.col("max_cosine").alias("similarity"),
        F.col("nearest").alias("nearest_humaneval")), "seed_id", "left")
    if cfg.similarity_threshold is not None:
        near = samples.where(F.col("similarity") >= cfg.similarity_threshold)
        ledger.append(rejects(near, "benchmark_similarity", F.format_string("%.3f", "similarity"),
                              F.col("nearest_humaneval"), id_col="seed_id", id_kind="seed"))
        samples = samples.where(F.col("similarity") < cfg.similarity_threshold)
    if sandbox:
        executed = materialize(b.execute(samples, cfg), "execution")
        samples = samples.join(executed.withColumnRenamed("sample_id", "seed_id"), "seed_id", "left")
        bad = ~F.col("execution").isin("passed", "not_run")
        rule = F.when(F.col("execution") == "no_tests", "no_tests").otherwise(F.concat(F.lit("execution_"), "execution"))
        ledger.append(rejects(samples.where(bad), rule, F.col("execution_detail"), id_col="seed_id", id_kind="seed"))
        samples = samples.where(~bad)
    else:
        samples = samples.withColumn("execution", F.lit(None).cast("string"))
    dataset = b.dataset_columns(samples, cfg)
    store.write_table(dataset, paths.dataset, cfg.files, ["sample_id"])
    written = store.read_table(paths.dataset)
    store.write_lines(written.select("sample_id", F.to_json(F.struct(*written.columns)).alias("line")),
                      paths.dataset_jsonl, cfg.files, ["sample_id"], "line")
    wf.write_ledger("build", union_all(ledger))
    requested = seeds.join(excluded, "seed_id", "left_anti").count()
    report = build_report(seeds, requested, store.read_table(paths.ledger("build")), written, scores,
                          contamination, sandbox.description if sandbox else None)
    wf.write_json("report.json", report)
    store.write_text(paths.report("report.md"), markdown(report))
    store.delete(work)
    return report

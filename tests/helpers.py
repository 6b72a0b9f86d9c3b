"""Running the pipeline in tests, on the shared SparkSession."""
from __future__ import annotations

from codecorpus.config import parse_config
from codecorpus.pipeline import STAGES
from codecorpus.runner import Runner


def run_pipeline(spark, run_dir, sources: list[str], stages: list[str], **overrides) -> Runner:
    config = parse_config({"run_dir": str(run_dir), "stages": stages, "files_per_table": 2,
                           "sources": {"local": sources}, **overrides})
    runner = Runner(config, spark, STAGES, progress=lambda message: None)
    runner.run()
    return runner


def table(runner: Runner, stage: str, name: str):
    return runner.store.read_table(runner.table_path(stage, name))


def ledger(runner: Runner, stage: str):
    return runner.store.read_table(runner.ledger_path(stage))

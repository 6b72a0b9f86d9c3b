"""Opt-out reuse: a run of the small sample, an opt-out file that grows, re-runs. Exactly the new
matches leave every derived table (with opt_out ledger rows in filter), the file-wise stages reuse their
previous outputs instead of recomputing (their manifests say so), and dedup runs again in full when an
entry removes a survivor whose cluster must elect another."""
from __future__ import annotations

import json
import shutil

from pyspark.sql import functions as F

from codecorpus import tables
from codecorpus.config import parse_config
from codecorpus.pipeline import STAGES
from codecorpus.runner import Runner

STAGES_RUN = ["ingest", "annotate", "filter", "dedup", "pii"]


def _table(runner, stage, table):
    return runner.spark.read.parquet(runner.table_path(stage, table))


def _rerun(sample_run, run_dir, opt_out_file, stages=STAGES_RUN):
    data = sample_run.config.model_dump(mode="json")
    data.update(run_dir=str(run_dir), stages=stages)
    data["filter"]["opt_out"] = {"file": str(opt_out_file)}
    runner = Runner(parse_config(data), sample_run.spark, STAGES, progress=lambda m: None)
    return runner, {r.stage: r for r in runner.run()}


def test_a_growing_opt_out_list_removes_exactly_the_new_matches_and_reuses_the_rest(sample_run, tmp_path):
    spark = sample_run.spark
    run_dir = tmp_path / "run"
    shutil.copytree(sample_run.config.run_dir, run_dir)
    first = Runner(sample_run.config.model_copy(update={"run_dir": str(run_dir)}), spark, STAGES)
    dedup_ledger = spark.read.parquet(first.ledger_path("dedup"))
    involved = (dedup_ledger.select(F.col("id").alias("file_id"))
                .unionByName(dedup_ledger.select(F.col("value").alias("file_id"))))
    kept = _table(first, "pii", "files")
    # two kept files no dedup cluster involves (one by path, one by blob), then a survivor of an exact
    # duplicate group whose copy is in another repository
    free = (kept.join(involved, "file_id", "left_anti").where(F.col("repo_name").startswith("pypi/"))
            .orderBy("file_id").select("file_id", "repo_name", "path", "blob_id").limit(2).collect())
    copies = (dedup_ledger.where(F.col("rule") == "exact_dup")
              .select(F.col("id").alias("copy_id"), F.col("value").alias("file_id"))
              .join(kept, "file_id").orderBy("file_id")
              .select("file_id", "repo_name", "path", "blob_id", "copy_id").limit(1).collect())
    assert len(free) == 2 and len(copies) == 1, "the small sample has unclustered files and exact duplicates"
    by_path, by_blob, survivor = free[0], free[1], copies[0]
    # every annotated file the two entries match (the blob may also be in files filter had dropped)
    removed_first = {r.file_id for r in _table(first, "annotate", "files").where(
        (F.col("file_id") == by_path.file_id) | (F.col("blob_id") == by_blob.blob_id)).select("file_id").collect()}

    before = {s: json.loads((run_dir / "manifests" / f"{s}.json").read_text()) for s in STAGES_RUN}
    gone = F.col("file_id").isin(list(removed_first))
    expected = {s: tables.digest(_table(first, s, "files").where(~gone)) for s in ("filter", "dedup", "pii")}
    opt_out = tmp_path / "opt_out.txt"
    opt_out.write_text(f"# owners asked to be left out\n{by_path.repo_name}/{by_path.path}\nblob:{by_blob.blob_id}\n")
    runner, reports = _rerun(sample_run, run_dir, opt_out)

    assert reports["ingest"].skipped and reports["annotate"].skipped
    for stage in ("filter", "dedup", "pii"):
        manifest = reports[stage].manifest
        assert manifest["opt_out_reuse"]["entries_added"] == 2, stage   # reused, not recomputed
        assert manifest["fingerprint"] == before[stage]["fingerprint"]
        # exactly the previous rows less the removed files
        assert manifest["outputs"]["files"]["digest"] == expected[stage], stage
        assert manifest["outputs"]["files"]["rows"] < before[stage]["outputs"]["files"]["rows"]
    ledger = spark.read.parquet(runner.ledger_path("filter")).where(F.col("rule") == "opt_out")
    assert {(r.id, r.value) for r in ledger.collect()} >= {
        (by_path.file_id, f"path:{by_path.repo_name}/{by_path.path}".lower())} | {
        (i, f"blob:{by_blob.blob_id}") for i in removed_first - {by_path.file_id}}
    assert ledger.count() == len(removed_first)
    for stage in ("dedup", "pii"):   # a fresh run never shows them these files: no rows of theirs
        stage_ledger = spark.read.parquet(runner.ledger_path(stage))
        assert stage_ledger.where(F.col("id").isin(list(removed_first))).count() == 0
    assert _table(runner, "pii", "pii").where(F.col("file_id").isin(list(removed_first))).count() == 0

    # the list grows again: a survivor whose duplicate must now be elected, so dedup runs in full
    with opt_out.open("a") as fh:
        fh.write(f"{survivor.repo_name}/{survivor.path}\n")
    runner, reports = _rerun(sample_run, run_dir, opt_out, STAGES_RUN[:-1])
    assert reports["filter"].manifest["opt_out_reuse"]["entries_added"] == 1
    assert "opt_out_reuse" not in reports["dedup"].manifest and not reports["dedup"].skipped
    dedup_files = _table(runner, "dedup", "files")
    assert dedup_files.where(F.col("file_id") == survivor.file_id).count() == 0
    assert dedup_files.where(F.col("blob_id") == survivor.blob_id).count() == 1   # a copy took its place

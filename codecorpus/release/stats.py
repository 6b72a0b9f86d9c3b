"""The numbers of a release, computed with Spark aggregations over the run's tables (only aggregated rows
come back to the driver; `content` is never read). The result is a plain, sorted dict: stats.json is
this dict, and the card and figures are rendered from it alone, so they always agree."""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from codecorpus.mix.planner import by_source as by_source_of_plan
from codecorpus.release.run_view import RunView

UNKNOWN = "(unknown)"
NO_LICENSE = "(none detected)"


def _rows(df: DataFrame) -> list[dict]:
    """Collect a small aggregated frame as sorted dicts (sorted so output never depends on partitioning)."""
    rows = [r.asDict() for r in df.collect()]
    return sorted(rows, key=lambda r: tuple("" if v is None else str(v) for v in r.values()))


def _by_size(rows: list[dict], key: str) -> list[dict]:
    return sorted(rows, key=lambda r: (-(r.get("bytes") or 0), -r.get("files", 0), str(r[key])))


def run_stats(view: RunView) -> dict:
    stages = []
    for name, m in view.manifests.items():
        stages.append({
            "stage": name,
            "code_version": m.get("code_version"),
            "config_hash": m.get("config_hash"),
            "fingerprint": m.get("fingerprint"),
            "inputs": {t: {"stage": i.get("stage"), "digest": i.get("digest")} for t, i in m.get("inputs", {}).items()},
            "input_fingerprints": m.get("input_fingerprints", {}),
            "rows_in": m.get("rows_in", {}),
            "rows_out": {t: o["rows"] for t, o in m["outputs"].items()},
            "ledger_rows": m.get("ledger", {}).get("rows"),
            "seconds": m.get("seconds"),
            "finished_at": m.get("finished_at"),
        })
    dates = sorted(s["finished_at"] for s in stages if s["finished_at"])
    return {"stages": stages, "absent": dict(view.absent),
            "code_versions": sorted({s["code_version"] for s in stages if s["code_version"]}),
            "first_finished_at": dates[0] if dates else None, "last_finished_at": dates[-1] if dates else None}


def file_stats(files: DataFrame, repos: DataFrame | None) -> dict:
    lang = F.coalesce("language", F.lit(UNKNOWN)).alias("language")
    totals = files.agg(F.count(F.lit(1)).alias("files"), F.sum("length_bytes").alias("bytes"),
                       F.countDistinct("repo_name").alias("repos")).first().asDict()
    totals["bytes"] = totals["bytes"] or 0
    by_language = files.groupBy(lang).agg(F.count(F.lit(1)).alias("files"), F.sum("length_bytes").alias("bytes"),
                                          F.countDistinct("repo_name").alias("repos"))
    out = {"total": totals, "by_language": _by_size(_rows(by_language), "language"), "by_source_kind": []}
    if repos is not None:
        kinds = repos.select("repo_name", F.coalesce("source_kind", F.lit(UNKNOWN)).alias("source_kind"))
        by_kind = (files.select("repo_name", "length_bytes").join(kinds, "repo_name", "left")
                   .fillna(UNKNOWN, ["source_kind"]).groupBy("source_kind")
                   .agg(F.count(F.lit(1)).alias("files"), F.sum("length_bytes").alias("bytes"),
                        F.countDistinct("repo_name").alias("repos")))
        out["by_source_kind"] = _by_size(_rows(by_kind), "source_kind")
    return out


def license_stats(files: DataFrame) -> dict:
    by_type = files.groupBy(F.coalesce("license_type", F.lit(UNKNOWN)).alias("license_type")).agg(
        F.count(F.lit(1)).alias("files"), F.sum("length_bytes").alias("bytes"))
    # a file under two licenses counts once under each id
    ids = F.explode(F.when(F.size("detected_licenses") > 0, F.col("detected_licenses"))
                    .otherwise(F.array(F.lit(NO_LICENSE)))).alias("license")
    by_id = files.select(ids, "length_bytes").groupBy("license").agg(
        F.count(F.lit(1)).alias("files"), F.sum("length_bytes").alias("bytes"))
    return {"by_type": _by_size(_rows(by_type), "license_type"), "by_id": _by_size(_rows(by_id), "license")}


def length_histogram(files: DataFrame) -> list[dict]:
    """Files per (language, power-of-two size bucket): bucket b holds files of 2^b to 2^(b+1)-1 bytes."""
    bucket = F.when(F.col("length_bytes") > 0, F.floor(F.log2("length_bytes"))).otherwise(F.lit(-1)).cast("int")
    df = files.groupBy(F.coalesce("language", F.lit(UNKNOWN)).alias("language"), bucket.alias("bucket")).agg(
        F.count(F.lit(1)).alias("files"))
    return sorted(_rows(df), key=lambda r: (r["language"], r["bucket"]))


def removal_stats(view: RunView) -> list[dict]:
    """Ledger rows and bytes by stage and rule. Bytes come from the stage's input files table; rows that
    never became a file row (ingest rejects, non-file ids) have no byte count."""
    out = []
    for stage in view.manifests:
        ledger = view.read(view.ledger_path(stage))
        source = view.input_stage(stage, "files")
        if source:
            sizes = view.read(view.table_path(source, "files")).select(
                F.col("file_id").alias("id"), F.lit("file").alias("id_kind"), "length_bytes")
            ledger = ledger.join(sizes, ["id", "id_kind"], "left")
        else:
            ledger = ledger.withColumn("length_bytes", F.lit(None).cast("bigint"))
        agg = ledger.groupBy("rule", "id_kind").agg(F.count(F.lit(1)).alias("rows"),
                                                    F.sum("length_bytes").alias("bytes"),
                                                    F.count("length_bytes").alias("rows_with_bytes"))
        for row in _rows(agg):
            if row["rows_with_bytes"] < row["rows"]:
                row["bytes"] = None   # a partial sum would understate what was removed
            del row["rows_with_bytes"]
            out.append({"stage": stage, **row})
    order = {s: i for i, s in enumerate(view.manifests)}
    return sorted(out, key=lambda r: (order[r["stage"]], -r["rows"], r["rule"], r["id_kind"]))


def flow_stats(view: RunView, removals: list[dict]) -> list[dict]:
    """Files in, kept and dropped at each stage that handles files (kept vs dropped by stage)."""
    out = []
    for stage, m in view.manifests.items():
        dropped = sum(r["rows"] for r in removals if r["stage"] == stage and r["id_kind"] == "file")
        if "files" in m["outputs"]:
            kept = m["outputs"]["files"]["rows"]
        elif "files" in m.get("rows_in", {}):
            kept = m["rows_in"]["files"] - dropped   # files merged into documents
        else:
            continue
        out.append({"stage": stage, "files_in": kept + dropped, "kept": kept, "dropped": dropped})
    return out


def dedup_stats(view: RunView, removals: list[dict]) -> dict | None:
    m = view.manifests.get("dedup")
    if m is None:
        return None
    files_in = m["rows_in"].get("files", 0)
    out = {"files_in": files_in}
    for rule in ("exact_dup", "near_dup"):
        n = sum(r["rows"] for r in removals if r["stage"] == "dedup" and r["rule"] == rule)
        out[rule] = n
        out[f"{rule}_rate"] = round(n / files_in, 6) if files_in else 0.0
    out["files_out"] = m["outputs"]["files"]["rows"]
    if "clusters" in m["outputs"]:
        clusters = view.read(view.table_path("dedup", "clusters"))
        agg = clusters.agg(F.countDistinct("cluster_id").alias("clusters"),
                           F.count(F.lit(1)).alias("clustered_files")).first()
        out.update(clusters=agg["clusters"], clustered_files=agg["clustered_files"])
    return out


def pii_stats(view: RunView) -> dict | None:
    pii = view.table("pii")
    if pii is None:
        return None
    by_kind = pii.groupBy("kind").agg(F.count(F.lit(1)).alias("redactions"), F.countDistinct("file_id").alias("files"))
    by_detector = pii.groupBy("kind", "detector").agg(F.count(F.lit(1)).alias("redactions"))
    total = pii.agg(F.count(F.lit(1)).alias("redactions"), F.countDistinct("file_id").alias("files")).first()
    return {"redactions": total["redactions"], "files": total["files"],
            "by_kind": sorted(_rows(by_kind), key=lambda r: (-r["redactions"], r["kind"])),
            "by_detector": sorted(_rows(by_detector), key=lambda r: (-r["redactions"], r["kind"], r["detector"]))}


def contamination_stats(view: RunView) -> dict:
    """Files removed by the `contamination` rule, per benchmark (the ledger detail starts with it)."""
    out = {"checked": "filter" in view.manifests, "files_removed": 0, "by_benchmark": []}
    if not out["checked"]:
        return out
    hits = view.read(view.ledger_path("filter")).where(F.col("rule") == "decontamination")
    by_bench = hits.groupBy(F.substring_index("detail", " ", 1).alias("benchmark")).agg(
        F.countDistinct("value").alias("tasks_hit"), F.count(F.lit(1)).alias("files_removed"))
    out["by_benchmark"] = _rows(by_bench)
    out["files_removed"] = sum(r["files_removed"] for r in out["by_benchmark"])
    return out


def document_stats(view: RunView) -> dict | None:
    """Documents, characters and tokens in total and per source, with each source's planned epochs."""
    docs = view.documents()
    if docs is None:
        return None
    aggs = [F.count(F.lit(1)).alias("documents"), F.sum("n_chars").alias("chars"),
            F.sum("n_tokens").alias("tokens"), F.count("n_tokens").alias("with_tokens")]
    total = docs.agg(*aggs).first().asDict()
    by_source = _rows(docs.groupBy("source").agg(*aggs))
    plan = view.table("plan")
    epochs = by_source_of_plan(plan.toPandas(), "epochs") if plan is not None else {}   # one row per language
    for row in [total, *by_source]:
        if row["with_tokens"] < row["documents"]:
            row["tokens"] = None   # tokens are reported only when every document was tokenized
        del row["with_tokens"]
        row["chars"] = row["chars"] or 0
    for row in by_source:
        row["epochs"] = epochs.get(row["source"])
    return {"total": total, "by_source": sorted(by_source, key=lambda r: (-r["chars"], r["source"]))}


def release_stats(view: RunView, release: dict) -> dict:
    """Every number of the release; ``release`` is the release's name and version."""
    files = view.table("files").select("file_id", "repo_name", "language", "license_type",
                                       "detected_licenses", "length_bytes")
    removals = removal_stats(view)
    return {
        "release": release,
        "run": run_stats(view),
        "files": file_stats(files, view.table("repos")),
        "licenses": license_stats(files),
        "length_histogram": length_histogram(files),
        "documents": document_stats(view),
        "removals": removals,
        "flow": flow_stats(view, removals),
        "dedup": dedup_stats(view, removals),
        "pii": pii_stats(view),
        "contamination": contamination_stats(view),
    }

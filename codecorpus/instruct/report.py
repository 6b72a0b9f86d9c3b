"""The build report: samples per step and language, rejections per rule, and the TF-IDF similarity to
HumanEval of the data compared with that of the seeds (Magicoder's contamination analysis)."""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

RULE_STEP = {"decontamination": "decontaminate", "benchmark_similarity": "similarity", "no_tests": "execute"}


def step_of(rule: str) -> str:
    if rule.startswith("exact_dup_"):
        return "dedup"
    if rule.startswith("execution_"):
        return "execute"
    return RULE_STEP.get(rule, "parse")


def build_report(seeds: DataFrame, requested: int, ledger: DataFrame, dataset: DataFrame, scores: DataFrame,
                 contamination: DataFrame, isolation: str | None) -> dict:
    """All figures come from small aggregates (a few rows per language and rule)."""
    language = seeds.select(F.col("seed_id").alias("id"), "language")
    drops = (ledger.join(language, "id", "left")
             .groupBy("rule", "id_kind", F.coalesce("language", F.lit("(no seed)")).alias("language"))
             .agg(F.count(F.lit(1)).alias("n")).collect())
    by_rule: dict[str, dict[str, int]] = {}
    seed_drops: dict[str, int] = {}      # per step; reply lines without a seed are not counted here
    for row in drops:
        by_rule.setdefault(row["rule"], {})[row["language"]] = row["n"]
        if row["id_kind"] == "seed":
            seed_drops[step_of(row["rule"])] = seed_drops.get(step_of(row["rule"]), 0) + row["n"]
    kept = {r["language"] or "(unknown)": r["n"] for r in dataset.groupBy("language").agg(F.count(F.lit(1)).alias("n")).collect()}
    seeded = {r["language"]: r["n"] for r in seeds.groupBy("language").agg(F.count(F.lit(1)).alias("n")).collect()}
    steps, remaining = [], requested
    for step in ("parse", "dedup", "decontaminate", "similarity", "execute"):
        dropped = seed_drops.get(step, 0)
        remaining -= dropped
        steps.append({"step": step, "dropped": dropped, "remaining": remaining})
    means = {r["corpus"]: round(r["mean"], 4) for r in scores.groupBy("corpus").agg(F.mean("max_cosine").alias("mean")).collect()}
    dataset_mean = dataset.agg(F.mean("similarity").alias("m")).first()["m"]
    execution = {r["execution"] or "not_run": r["n"] for r in dataset.groupBy("execution").agg(F.count(F.lit(1)).alias("n")).collect()}
    return {
        "seeds_per_language": dict(sorted(seeded.items())),
        "requested": requested,
        "steps": steps,
        "dataset_per_language": dict(sorted(kept.items())),
        "samples": sum(kept.values()),
        "rejected_by_rule": {rule: dict(sorted(v.items())) for rule, v in sorted(by_rule.items())},
        "humaneval_tfidf": {"dataset": round(dataset_mean, 4) if dataset_mean is not None else None,
                            "samples_before_similarity_filter": means.get("samples"), "seeds": means.get("seeds")},
        "decontamination": [r.asDict() for r in contamination.collect()],
        "execution": execution,
        "sandbox": isolation,
    }


def markdown(report: dict) -> str:
    lines = ["# OSS-Instruct build report", "", f"Seeds with a request: {report['requested']}; samples kept: "
             f"{report['samples']}.", "", "| step | dropped | remaining |", "|---|---:|---:|"]
    lines += [f"| {s['step']} | {s['dropped']} | {s['remaining']} |" for s in report["steps"]]
    lines += ["", "| language | seeds | samples |", "|---|---:|---:|"]
    for lang in sorted(set(report["seeds_per_language"]) | set(report["dataset_per_language"])):
        lines.append(f"| {lang} | {report['seeds_per_language'].get(lang, 0)} | {report['dataset_per_language'].get(lang, 0)} |")
    lines += ["", "| rejected by rule | count | per seed language |", "|---|---:|---|"]
    for rule, per in report["rejected_by_rule"].items():
        lines.append(f"| {rule} | {sum(per.values())} | " + ", ".join(f"{k} {v}" for k, v in per.items()) + " |")
    sim = report["humaneval_tfidf"]
    lines += ["", "TF-IDF similarity to HumanEval (mean over samples of the maximum cosine; Magicoder reports "
              "0.105 for OSS-Instruct):", "", f"- dataset: {sim['dataset']}", f"- seeds: {sim['seeds']}",
              f"- samples before the similarity filter: {sim['samples_before_similarity_filter']}", "",
              f"Execution: {report['execution']} (sandbox: {report['sandbox'] or 'not used'})", ""]
    return "\n".join(lines)

"""Reading a finished (or partial) run: the end-of-run summary, per-stage stats, and `why`."""
from __future__ import annotations

from pyspark.sql import functions as F

from codecorpus.config import STAGE_ORDER
from codecorpus.sources.local import file_id


def _manifests(runner) -> list[dict]:
    return [m for m in (runner.manifest(s) for s in STAGE_ORDER) if m]


def _latest_outputs(runner, manifests: list[dict]) -> dict[str, str]:
    latest = {}
    for manifest in manifests:
        for table in manifest["outputs"]:
            latest[table] = runner.table_path(manifest["stage"], table)
    return latest


def run_summary(runner) -> str:
    manifests = _manifests(runner)
    if not manifests:
        return f"run {runner.root}: no stage has finished yet"
    drops: dict[tuple[str, str], int] = {}
    for m in manifests:
        for rule, n in m["drops_by_rule"].items():
            drops[(m["stage"], rule)] = n
    ingest = runner.manifest("ingest")
    files_kept = next((m["outputs"]["files"]["rows"] for m in reversed(manifests) if "files" in m["outputs"]), None)
    lines = [f"run directory: {runner.root}"]
    if ingest:
        ingest_file_drops = runner.store.read_table(runner.ledger_path("ingest")).where(
            F.col("id_kind") == "file").count()
        lines.append(f"repositories: {ingest['rows_in'].get('units', 0)}, "
                     f"files in: {ingest['outputs']['files']['rows'] + ingest_file_drops}")
    if files_kept is not None:
        lines.append(f"files kept: {files_kept}")
    if "documents" in _latest_outputs(runner, manifests):
        docs = next(m["outputs"]["documents"]["rows"] for m in reversed(manifests) if "documents" in m["outputs"])
        lines.append(f"documents: {docs}")
    other = (runner.manifest("mix") or {}).get("outputs", {}).get("source_documents", {}).get("rows")
    if other:
        lines.append(f"documents of other sources (PRs, issues, notebooks, ...): {other}")
    conversations = runner.manifest("conversations")
    if conversations:
        out = conversations["outputs"]
        lines.append(f"pull requests: {out['pull_requests']['rows']}, issues: {out['issues']['rows']} "
                     f"(documents: {runner.table_path('conversations', 'conversation_documents')})")
    lines.append("dropped by rule:" if drops else "dropped: nothing")
    for (stage, rule), n in sorted(drops.items(), key=lambda kv: (STAGE_ORDER.index(kv[0][0]), -kv[1])):
        lines.append(f"  {stage:<9} {rule:<24} {n:>9}")   # (conversations overflows the column)
    lines.append("outputs:")
    for table, path in sorted(_latest_outputs(runner, manifests).items()):
        lines.append(f"  {table:<10} {path}")
    lines.append(f"  {'ledger':<10} {runner.root}/ledger")
    lines.append(f"  {'manifests':<10} {runner.root}/manifests")
    return "\n".join(lines)


def stage_stats(runner) -> str:
    manifests = _manifests(runner)
    if not manifests:
        return f"run {runner.root}: no stage has finished yet"
    lines = [f"{'stage':<9} {'rows in':>12} {'rows out':>12} {'dropped':>9} {'seconds':>8}"]
    for m in manifests:
        rows_in = sum(v for k, v in m["rows_in"].items() if k != "units") or m["rows_in"].get("units", 0)
        rows_out = ", ".join(f"{t}={o['rows']}" for t, o in m["outputs"].items())
        lines.append(f"{m['stage']:<9} {rows_in:>12} {rows_out:>12} {m['ledger']['rows']:>9} {m['seconds']:>8}")
        for rule, n in m["drops_by_rule"].items():
            lines.append(f"    {rule:<30} {n:>9}")
    if runner.manifest("pii"):
        counts = (runner.store.read_table(runner.table_path("pii", "pii")).groupBy("kind").count()
                  .orderBy("kind").collect())
        lines.append("pii redactions by kind:")
        lines += [f"    {r['kind']:<30} {r['count']:>9}" for r in counts]
    if runner.manifest("annotate"):
        lines += syntax_stats(runner.store.read_table(runner.table_path("annotate", "files")))
    return "\n".join(lines)


def syntax_stats(files) -> list[str]:
    """tree-sitter signals per language (annotate): parsed share and the quartiles of the parse-error
    rate, comment fraction and functions per file. One small row per language reaches the driver."""
    def quartiles(column: str):
        return F.percentile_approx(column, [0.25, 0.5, 0.75], 1000).alias(column)

    rows = (files.where(F.col("parse_status").isin("ok", "timeout", "failed", "too_large"))
            .groupBy("language")
            .agg(F.count("*").alias("files"), F.avg((F.col("parse_status") == "ok").cast("int")).alias("parsed"),
                 quartiles("parse_error_rate"), quartiles("comment_fraction"), quartiles("function_count"))
            .orderBy(F.desc("files"), "language").collect())
    if not rows:
        return []

    def show(values, fmt):
        return "/".join(format(v, fmt) for v in values) if values else "-"

    lines = ["tree-sitter signals per language (quartiles 25/50/75 of parsed files):",
             f"    {'language':<16} {'files':>6} {'parsed':>7}  {'parse errors':<20} {'comment fraction':<20} "
             "functions/file"]
    for r in rows:
        lines.append(f"    {r['language'] or '(unknown)':<16} {r['files']:>6} {r['parsed']:>7.1%}  "
                     f"{show(r['parse_error_rate'], '.3f'):<20} {show(r['comment_fraction'], '.2f'):<20} "
                     f"{show(r['function_count'], '.0f')}")
    return lines


def why(runner, repo_path: str) -> str:
    """Follow REPO/PATH through the run. REPO may itself contain '/', so every split is tried."""
    parts = repo_path.strip("/").split("/")
    candidates = {file_id("/".join(parts[:i]), "/".join(parts[i:])): ("/".join(parts[:i]), "/".join(parts[i:]))
                  for i in range(1, len(parts))}
    ids = list(candidates)
    lines = [f"{repo_path}:"]
    for manifest in _manifests(runner):
        stage = manifest["stage"]
        hits = runner.store.read_table(runner.ledger_path(stage)).where(F.col("id").isin(ids)).collect()
        for hit in hits:
            lines.append(f"  {stage}: DROPPED by rule {hit['rule']} (value: {hit['value']}; {hit['detail']})")
        for table in manifest["outputs"]:
            df = runner.store.read_table(runner.table_path(stage, table))
            if "file_id" in df.columns:
                row = df.where(F.col("file_id").isin(ids)).select(
                    *[c for c in ("file_id", "language", "license_type") if c in df.columns]).first()
                if row:
                    extra = ", ".join(f"{k}={row[k]}" for k in row.asDict() if k != "file_id")
                    lines.append(f"  {stage}: kept in {table}" + (f" ({extra})" if extra else ""))
            elif "source_ids" in df.columns:
                row = df.where(F.arrays_overlap("source_ids", F.array(*[F.lit(i) for i in ids]))).select(
                    "doc_id").first()
                if row:
                    lines.append(f"  {stage}: part of {table} row {row['doc_id']}")
        if stage == "ingest" and not hits and not any("ingest:" in line for line in lines):
            lines.append("  ingest: not found among the run's repositories (check REPO/PATH)")
            break
    return "\n".join(lines)

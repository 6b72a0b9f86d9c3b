"""The whole pipeline on the small built-in sample corpus (real repositories from PyPI, npm, Debian)."""
from pyspark.sql import functions as F

from codecorpus import tokens
from codecorpus.cli import main
from codecorpus.config import REPO_STAGES
from codecorpus.inspect import run_summary
from tests.helpers import ledger, table


def all_ledger(runner):
    return runner.spark.read.parquet(f"{runner.root}/ledger/*")


def test_every_ingested_file_is_kept_or_in_the_ledger(sample_run):
    ingested = table(sample_run, "ingest", "files").select("file_id")
    kept = table(sample_run, "pii", "files").select("file_id")
    dropped = all_ledger(sample_run).where("id_kind = 'file'").select(F.col("id").alias("file_id"))
    assert ingested.join(kept.unionByName(dropped), "file_id", "left_anti").count() == 0
    assert kept.join(dropped, "file_id").count() == 0, "a file is both kept and dropped"


def test_no_two_kept_files_sharing_an_lsh_bucket_are_near_duplicates(sample_run):
    """The small sample's real near-duplicates (several versions of a project, vendored copies) chain
    into components where members fail against the survivor yet match each other (A~B, A~C, B!~C... C~D):
    checking the failures against every kept member of their component leaves no such pair."""
    from codecorpus.dedup.lsh import exact_pair_jaccard, signature_table
    cfg = sample_run.config.dedup
    bands, rows = cfg.lsh_params()
    kept = table(sample_run, "dedup", "files")
    keys = F.array(*[F.substring("signature", i * rows * 4 + 1, rows * 4) for i in range(bands)])
    banded = signature_table(kept, cfg).select("file_id", F.posexplode(keys).alias("band", "key"))
    other = banded.select(F.col("file_id").alias("kept_id"), "band", "key")
    pairs = banded.join(other, ["band", "key"]).where("file_id < kept_id").select("file_id", "kept_id").distinct()
    assert pairs.count() > 0, "kept files share buckets: the check is exercised"
    similarity = exact_pair_jaccard(pairs, kept, cfg).agg(F.max("est_jaccard")).first()[0]
    assert similarity < cfg.threshold


def test_languages_and_licenses_are_labelled(sample_run):
    files = table(sample_run, "annotate", "files")
    languages = {r["language"] for r in files.select("language").distinct().collect()}
    assert {"Python", "JavaScript", "Rust", "Go", "Ruby", "PHP", "Lua", "C++", "Shell"} <= languages
    types = {r["license_type"] for r in files.select("license_type").distinct().collect()}
    assert {"permissive", "non_permissive"} <= types


def test_copyleft_code_does_not_reach_the_output(sample_run):
    kept = table(sample_run, "pii", "files")
    assert kept.where("license_type = 'non_permissive'").count() == 0
    paramiko = ledger(sample_run, "filter").where(F.col("detail").startswith("pypi/paramiko-3.4.0/"))
    assert paramiko.where("rule = 'license'").count() > 0


def test_two_versions_of_a_project_are_deduplicated(sample_run):
    dedup = ledger(sample_run, "dedup")
    rules = {r["rule"] for r in dedup.collect()}
    assert {"exact_dup", "near_dup"} <= rules
    requests = dedup.where(F.col("detail").startswith("pypi/requests-2.3"))
    assert requests.count() >= 20


def test_documents_cover_every_kept_file_once(sample_run):
    kept = table(sample_run, "pii", "files").select("file_id")
    docs = table(sample_run, "format", "documents")
    members = docs.select(F.explode("source_ids").alias("file_id"))
    assert members.count() == kept.count()
    assert members.join(kept, "file_id", "left_anti").count() == 0
    texts = docs.select("text").where(F.col("text").startswith(tokens.REPO_NAME)).limit(1).collect()
    assert texts and texts[0]["text"].endswith(tokens.ENDOFTEXT)


def test_summary_stats_and_why(sample_run, capsys):
    summary = run_summary(sample_run)
    assert "files in:" in summary and "files kept:" in summary and "documents" in summary
    dropped = ledger(sample_run, "filter").where("rule = 'license'").first()
    source = table(sample_run, "ingest", "files").where(F.col("file_id") == dropped["id"]).first()
    assert main(["why", f"{source['repo_name']}/{source['path']}", "--run", sample_run.root]) == 0
    out = capsys.readouterr().out
    assert "filter: DROPPED by rule license" in out and "ingest: kept in files" in out
    assert main(["stats", "--run", sample_run.root]) == 0
    out = capsys.readouterr().out
    for stage in REPO_STAGES:
        assert stage in out
    assert "pii redactions by kind:" in out and "email" in out
    syntax = out[out.index("tree-sitter signals per language"):]
    assert "Python" in syntax and "Rust" in syntax and "functions/file" in syntax


def test_redacted_files_still_parse(sample_run):
    """Redaction replaces spans inside strings and comments: code that parsed still parses."""
    from codecorpus.annotate.signals import SignalConfig, grammar_for, parse_signals
    redacted_ids = table(sample_run, "pii", "pii").select("file_id").distinct()
    before = table(sample_run, "dedup", "files").join(redacted_ids, "file_id").select(
        "file_id", "language", F.col("content").alias("original"))
    after = table(sample_run, "pii", "files").select("file_id", F.col("content").alias("redacted"))
    pairs = before.join(after, "file_id").where(F.length("original") < 200_000).orderBy("file_id").limit(40).collect()
    cfg = SignalConfig(parse_time_limit_s=5.0)
    checked = 0
    for row in pairs:
        if grammar_for(row["language"]) is None:
            continue
        status, original_rate, _, _ = parse_signals(row["original"], row["language"], cfg)
        if status != "ok":
            continue
        _, redacted_rate, _, _ = parse_signals(row["redacted"], row["language"], cfg)
        assert redacted_rate <= original_rate + 1e-9, (row["file_id"], row["language"])
        checked += 1
    assert checked >= 5

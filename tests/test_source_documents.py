"""Every source's documents reach the mix plan, the packed sequences and the card: one small real run
with repositories (six, from the sample corpus) and Jupyter notebooks (jupytext's Python and R test
notebooks, which are both repository files and notebook documents), and StarCoder2's 7B mix without
Jupyter scripts applied to its measurements, so one source is measured and left out."""
from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import replace

import pytest
from pyspark.sql import functions as F

from codecorpus import tables, tokens
from codecorpus.config import parse_config
from codecorpus.format.pack import pack_sequences, tokenize_documents
from codecorpus.format.tokenizer import tokenizer_from_json
from codecorpus.inspect import run_summary
from codecorpus.mix.planner import load_mix, plan_mix
from codecorpus.mix.stage import apply_source_plan, language_stats, saved_tokenizer, source_stats
from codecorpus.pipeline import STAGES
from codecorpus.release.card import document_sources
from codecorpus.release.run_view import open_run
from codecorpus.release.stats import document_stats
from codecorpus.runner import LedgerImbalance, Runner
from codecorpus.sources.sample import build_sample
from tests.helpers import ledger, table
from tests.notebook_fixtures import notebook_dir

EPOCHS = 2.5


@pytest.fixture(scope="module")
def mixed_run(spark, tmp_path_factory) -> Runner:
    """ingest, notebooks, mix, format and pack: every language and source kept, at 2.5 epochs."""
    root = tmp_path_factory.mktemp("sources")
    shutil.copytree(build_sample("small") / "repos" / "pypi" / "six-1.16.0", root / "repos" / "pypi" / "six-1.16.0")
    for kernel in ("ipynb_py", "ipynb_R"):
        shutil.copytree(notebook_dir() / kernel, root / "repos" / "jupytext" / kernel)
    config = parse_config({
        "run_dir": str(root / "run"), "files_per_table": 1, "ingest": {"shards": 1},
        "stages": ["ingest", "notebooks", "mix", "format", "pack"],
        "sources": {"local": [str(root / "repos")]}, "pack": {"seq_lengths": [4096]},
        "mix": {"target_tokens": "1T", "epoch_cap": EPOCHS},
        "tokenizer": {"vocab_size": 2000, "train_sample_chars": 1_000_000}})
    runner = Runner(config, spark, STAGES, progress=lambda _: None)
    runner.run()   # the runner checks that every document reached source_documents, sequences or the ledger
    return runner


def token_counts(runner: Runner, frame) -> dict[str, int]:
    """Tokens per source of ``frame``'s documents, counted here in Python with the run's tokenizer."""
    tokenizer = tokenizer_from_json(saved_tokenizer(runner.spark, runner.config))
    counts: Counter = Counter()
    for row in frame.select("source", "text").collect():   # a few dozen small documents
        counts[row["source"]] += len(tokenizer.encode(row["text"], add_special_tokens=False).ids)
    return dict(counts)


def copies_in_stream(runner: Runner, sequences, seq_len: int) -> Counter:
    """How often each document's token sequence occurs in the packed stream of ``seq_len``."""
    eot = tokenizer_from_json(saved_tokenizer(runner.spark, runner.config)).token_to_id(tokens.ENDOFTEXT)
    rows = sequences.where(F.col("seq_len") == seq_len).orderBy("seq_index").select("token_ids").collect()
    stream, found, start = [t for r in rows for t in r["token_ids"]], Counter(), 0
    for i, token in enumerate(stream):
        if token == eot:
            found[tuple(stream[start: i + 1])] += 1
            start = i + 1
    assert start == len(stream), "the stream ends with a whole document"
    return found


def test_the_mix_measures_and_plans_every_source(mixed_run):
    notebooks = table(mixed_run, "notebooks", "notebook_documents")
    measured = token_counts(mixed_run, notebooks)
    plan = table(mixed_run, "mix", "plan").where("kind = 'source'").toPandas().set_index("name")
    assert sorted(plan.index) == ["jupyter_scripts", "jupyter_structured"]   # no mix: the sources measured
    for source, row in (("jupyter_script", "jupyter_scripts"), ("jupyter_structured", "jupyter_structured")):
        assert plan.loc[row, "available_tokens"] == measured[source] > 0
        assert (plan.loc[row, "status"], plan.loc[row, "epochs"]) == ("upsampled", EPOCHS)
    kept = table(mixed_run, "mix", "source_documents")
    assert tables.digest(kept.drop("n_tokens")) == tables.digest(notebooks.drop("n_tokens"))
    assert kept.where(F.col("n_tokens").isNull()).count() == 0


def test_a_source_outside_the_mix_goes_to_the_ledger(mixed_run):
    """StarCoder2's 7B mix without Jupyter scripts, planned on the run's measurements and applied."""
    seven = load_mix("7b")
    mix = replace(seven, sources=tuple(s for s in seven.sources if s[0] != "jupyter_scripts"))
    notebooks = table(mixed_run, "notebooks", "notebook_documents")
    counted = table(mixed_run, "mix", "source_documents")
    plan = plan_mix(mix, language_stats(table(mixed_run, "mix", "files")), source_stats(counted), 1e12)
    rows = plan[plan["kind"] == "source"].set_index("name")
    assert (rows.loc["jupyter_scripts", "status"], rows.loc["jupyter_scripts", "epochs"]) == ("excluded", 0)
    assert rows.loc["jupyter_structured", "status"] == "upsampled" and rows.loc["arxiv", "status"] == "missing"
    kept, dropped = apply_source_plan(counted, plan, mixed_run.config.seed)
    scripts = {r["doc_id"] for r in notebooks.where("source = 'jupyter_script'").select("doc_id").collect()}
    left_out = dropped.select("id", "id_kind", "rule", "value").collect()
    assert {r["id"] for r in left_out} == scripts
    assert {(r["id_kind"], r["rule"], r["value"]) for r in left_out} == {("document", "mix_source", "jupyter_script")}
    assert {r["source"] for r in kept.select("source").distinct().collect()} == {"jupyter_structured"}
    # the mix stage's balance check accepts it, and catches a document lost
    frames, outputs = {"files": table(mixed_run, "mix", "files"), "notebook_documents": notebooks}, {
        "files": table(mixed_run, "mix", "files"), "source_documents": kept}
    led = dropped.withColumn("stage", F.lit("mix"))
    mixed_run._check_balances(STAGES["mix"], frames, [], outputs, led)
    with pytest.raises(LedgerImbalance, match="1 document ids of notebook_documents"):
        mixed_run._check_balances(STAGES["mix"], frames, [], outputs, led.where(F.col("id") != min(scripts)))


def test_optional_reads_follow_the_config(mixed_run):
    runner = mixed_run
    assert runner.optional_inputs(STAGES["mix"]) == ("notebook_documents",)
    assert runner.optional_inputs(STAGES["pack"]) == ()
    assert set(runner.manifest("mix")["inputs"]) == {"files", "notebook_documents"}
    stages = ["ingest", "annotate", "events", "conversations", "notebooks", "ir", "mix", "format", "pack"]
    every = Runner(parse_config({"run_dir": runner.root, "stages": stages}), runner.spark, STAGES)
    assert every.optional_inputs(STAGES["mix"]) == tables.SOURCE_DOCUMENT_TABLES[:3]   # the declared order
    plain = Runner(parse_config({"run_dir": runner.root}), runner.spark, STAGES)
    assert plain.optional_inputs(STAGES["mix"]) == ()   # opt-in stages off: their tables are not read


def test_pack_repeats_every_source_by_its_planned_epochs(mixed_run):
    documents = table(mixed_run, "format", "documents").unionByName(table(mixed_run, "mix", "source_documents"))
    tokenizer = tokenizer_from_json(saved_tokenizer(mixed_run.spark, mixed_run.config))
    expected: Counter = Counter()
    for row in documents.select("text").collect():   # a few dozen small documents
        expected[tuple(tokenizer.encode(row["text"], add_special_tokens=False).ids)] += 1
    assert {r["source"] for r in documents.select("source").distinct().collect()} == {
        "repo_context", "jupyter_script", "jupyter_structured"}
    found = copies_in_stream(mixed_run, table(mixed_run, "pack", "sequences"), 4096)
    assert set(found) == set(expected), "every kept document of every source is packed, nothing else"
    for ids, n in expected.items():   # 2.5 epochs: each document 2 or 3 times
        assert 2 * n <= found[ids] <= 3 * n
    assert 2 * sum(expected.values()) < sum(found.values()) < 3 * sum(expected.values())
    assert ledger(mixed_run, "pack").count() == 0


def test_per_source_epochs_whatever_the_partitioning(mixed_run):
    documents = table(mixed_run, "format", "documents").unionByName(table(mixed_run, "mix", "source_documents"))
    tokenizer_json = saved_tokenizer(mixed_run.spark, mixed_run.config)
    token_ids = tokenize_documents(documents, tokenizer_json).persist()
    epochs = {"repo_context": 1.0, "jupyter_script": 0.0, "jupyter_structured": 3.0}
    one = pack_sequences(token_ids.repartition(1), 4096, epochs, 7)
    assert tables.digest(one) == tables.digest(pack_sequences(token_ids.repartition(3, "doc_id"), 4096, epochs, 7))
    tokenizer, expected = tokenizer_from_json(tokenizer_json), Counter()
    for row in documents.select("source", "text").collect():
        expected[tuple(tokenizer.encode(row["text"], add_special_tokens=False).ids)] += epochs[row["source"]]
    assert copies_in_stream(mixed_run, one, 4096) == +expected   # (+ drops the scripts' zero counts)
    token_ids.unpersist()


def test_the_card_lists_documents_tokens_and_epochs_per_source(mixed_run):
    view = open_run(mixed_run.spark, mixed_run.root)
    documents = table(mixed_run, "format", "documents").unionByName(table(mixed_run, "mix", "source_documents"))
    assert tables.digest(view.documents()) == tables.digest(documents)   # what the release ships
    stats = document_stats(view)
    expected = {r["source"]: (r["documents"], r["tokens"]) for r in documents.groupBy("source").agg(
        F.count(F.lit(1)).alias("documents"), F.sum("n_tokens").alias("tokens")).collect()}
    by_source = {r["source"]: r for r in stats["by_source"]}
    assert {s: (r["documents"], r["tokens"]) for s, r in by_source.items()} == expected
    assert {r["epochs"] for r in by_source.values()} == {EPOCHS}
    other = sum(by_source[s]["documents"] for s in ("jupyter_script", "jupyter_structured"))
    assert f"documents of other sources (PRs, issues, notebooks, ...): {other}" in run_summary(mixed_run)
    card = "\n".join(document_sources(stats))
    structured = by_source["jupyter_structured"]
    assert (f"| jupyter_structured | {structured['documents']:,} | {structured['chars']:,} | "
            f"{structured['tokens']:,} | 2.50 |") in card

"""The mix, format and pack stages on the small sample run: token counts, the mix applied in Spark with
its ledger, documents within the size limit that parse back to their files, and packed sequences
that are the documents' tokens, the same whatever the partitioning."""
import json

import pandas as pd
import pytest
from pyspark.sql import functions as F

from codecorpus import tables, tokens
from codecorpus.cli import main
from codecorpus.config import FormatConfig
from codecorpus.format.megatron import read_indexed
from codecorpus.format.pack import pack_sequences, tokenize_documents, unsampled
from codecorpus.format.repo_context import parse_document, repo_documents
from codecorpus.format.tokenizer import tokenizer_from_json
from codecorpus.mix.planner import load_mix, plan_mix
from codecorpus.mix.stage import apply_plan, language_stats, saved_tokenizer
from tests.helpers import ledger, table


@pytest.fixture(scope="module")
def tokenizer_json(sample_run):
    return saved_tokenizer(sample_run.spark, sample_run.config)


def test_token_counts_and_the_plan_table(sample_run, tokenizer_json):
    files = table(sample_run, "mix", "files")
    assert files.where(F.col("n_tokens").isNull() | (F.col("n_tokens") <= 0)).count() == 0
    vocab = tokenizer_from_json(tokenizer_json).get_vocab()
    assert all(t in vocab for t in tokens.ALL_SPECIAL_TOKENS)
    plan = table(sample_run, "mix", "plan").toPandas().set_index("name")
    python = files.where("language = 'Python'").agg(F.sum("n_tokens")).first()[0]
    assert plan.loc["Python", "available_tokens"] == python and plan.loc["Python", "status"] == "kept"
    docs = table(sample_run, "format", "documents")
    assert docs.where(F.col("n_tokens").isNull()).count() == 0


def test_a_mix_is_applied_in_spark_with_every_drop_in_the_ledger(sample_run, tokenizer_json):
    files = table(sample_run, "mix", "files")
    plan = plan_mix(load_mix("7b"), language_stats(files), {}, None)
    kept, dropped = apply_plan(files, plan, seed=5)
    rules = {r["rule"]: r["count"] for r in dropped.groupBy("rule").count().collect()}
    assert rules.get("mix_language", 0) > 0, "languages outside the 7B mix (e.g. Cython, CSS) are dropped"
    assert kept.count() + dropped.count() == files.count()
    assert kept.where(~F.col("language").isin(list(load_mix("7b").languages))).count() == 0
    again, _ = apply_plan(files.repartition(7), plan, seed=5)
    assert tables.digest(again) == tables.digest(kept)


def test_repository_documents_stay_within_the_limit_and_parse_back(sample_run):
    files = table(sample_run, "mix", "files").where(F.col("repo_name").isin(
        "pypi/six-1.16.0", "pypi/requests-2.32.3", "npm/lodash"))
    cfg = FormatConfig(metadata_rate=1.0, max_doc_chars=20_000)
    docs = repo_documents(files, cfg, seed=3).toPandas()
    assert docs["n_chars"].max() <= 20_000 and (docs["text"].str.len() == docs["n_chars"]).all()
    assert docs.groupby("repo_name").size().max() > 1, "a repository larger than the limit is split"
    docs["chunk"] = [json.loads(m)["chunk"] for m in docs["metadata"]]
    rebuilt: dict[tuple[str, str], list[str]] = {}
    for repo, text in docs.sort_values(["repo_name", "chunk"])[["repo_name", "text"]].itertuples(index=False):
        for chunk in parse_document(text)[1]:
            path, content = chunk.split("\n", 1)
            rebuilt.setdefault((repo, path), []).append(content)
    originals = files.select("repo_name", "path", "content").toPandas()
    assert len(rebuilt) == len(originals)
    for repo, path, content in originals.itertuples(index=False):
        assert "".join(rebuilt[repo, path]) == content


def read_sequences(runner, seq_len):
    frame = pd.read_parquet(runner.table_path("pack", "sequences"))
    return frame[frame["seq_len"] == seq_len].sort_values("seq_index")


def test_sequences_are_the_documents_tokens_cut_at_the_length(sample_run, tokenizer_json):
    docs = pd.read_parquet(sample_run.table_path("format", "documents"))
    for seq_len in sample_run.config.pack.seq_lengths:
        seqs = read_sequences(sample_run, seq_len)
        assert (seqs["n_tokens"].iloc[:-1] == seq_len).all() and seqs["n_tokens"].iloc[-1] <= seq_len
        assert list(seqs["seq_index"]) == list(range(len(seqs)))
        assert seqs["n_tokens"].sum() == docs["n_tokens"].sum()   # one epoch: every token once
    stream = [t for ids in read_sequences(sample_run, 4096)["token_ids"] for t in ids]
    tokenizer = tokenizer_from_json(tokenizer_json)
    eot = tokenizer.token_to_id(tokens.ENDOFTEXT)
    assert stream.count(eot) == len(docs)
    first_doc = tokenizer.decode(stream[: stream.index(eot) + 1], skip_special_tokens=False)
    assert first_doc in set(docs["text"])


def test_packing_does_not_depend_on_partitioning(sample_run, tokenizer_json):
    docs = table(sample_run, "format", "documents").orderBy("doc_id").limit(8)
    token_ids = tokenize_documents(docs, tokenizer_json)
    one = pack_sequences(token_ids.repartition(1), 512, 2.5, seed=9)
    many = pack_sequences(token_ids.repartition(5), 512, 2.5, seed=9)
    assert tables.digest(one) == tables.digest(many)
    assert one.agg(F.sum("n_tokens")).first()[0] > 2 * token_ids.agg(F.sum(F.size("token_ids"))).first()[0]


def test_megatron_export_reads_back_as_the_sequences(sample_run, tmp_path, capsys):
    assert main(["megatron", "--run", sample_run.root, "--out", str(tmp_path), "--shard-sequences", "50"]) == 0
    assert "Megatron indexed datasets written" in capsys.readouterr().out
    expected = read_sequences(sample_run, 16384)
    shards = sorted((tmp_path / "16384").glob("shard-*.idx"))
    assert len(shards) == -(-len(expected) // 50)
    back = [list(s) for shard in shards for s in read_indexed(str(shard.with_suffix("")))]
    assert back == [list(s) for s in expected["token_ids"]]


def test_plan_command_says_what_a_real_run_needs(sample_run, capsys):
    assert main(["plan", "--model", "7b", "--tokens", "3.7T", "--run", sample_run.root]) == 0
    out = capsys.readouterr().out
    assert "SHORT OF DATA" in out and "740B unique tokens" in out and "excluded" in out
    assert ledger(sample_run, "mix").count() == 0   # the sample run keeps every language


def test_below_one_epoch_every_document_is_packed_or_left_out(sample_run, tokenizer_json):
    docs = table(sample_run, "format", "documents")
    left_out = {r["doc_id"] for r in unsampled(docs, 0.5, seed=4).select("doc_id").collect()}
    token_ids = tokenize_documents(docs, tokenizer_json)
    packed = pack_sequences(token_ids, 4096, 0.5, seed=4).select(F.explode("doc_ids").alias("doc_id")).distinct()
    packed = {r["doc_id"] for r in packed.collect()}
    every = {r["doc_id"] for r in docs.select("doc_id").collect()}
    assert left_out and packed and not (left_out & packed) and left_out | packed == every

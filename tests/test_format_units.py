"""Repo-context rendering, FIM, mixes, the planner and Megatron files, mostly without Spark: seeded draw rates
over many ids, the round trip of every template on real files, and the planner's arithmetic."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from codecorpus import tokens
from codecorpus.config import FormatConfig
from codecorpus.format.megatron import read_indexed, write_indexed
from codecorpus.format.repo_context import parse_document, render_repository, rng_for, split_lines
from codecorpus.mix.planner import load_mix, parse_tokens, plan_mix
from codecorpus.sources.sample import build_sample

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def real_files():
    """(path, content) of real Python and C files from the small sample corpus."""
    root = build_sample("small") / "repos"
    paths = sorted(p for p in root.rglob("*") if p.suffix in (".py", ".c") and p.is_file())[:40]
    return [(str(p.relative_to(root)), p.read_text(encoding="utf-8", errors="replace"),
             "Python" if p.suffix == ".py" else "C") for p in paths]


def test_seeded_draw_rates_over_ten_thousand_ids():
    cfg = FormatConfig()
    counts = {"metadata": 0, "fim_repo": 0, "fim_file": 0, "fim_files_seen": 0, "spm": 0}
    files = [("a.py", "x = 1\n" * 20, "Python")] * 2
    for i in range(10_000):
        text, meta = render_repository(f"repo/{i}", files, rng_for(7, f"repo/{i}"), rng_for(7, f"doc{i}"), cfg)
        counts["metadata"] += meta["with_metadata"]
        counts["fim_repo"] += meta["fim_candidate"]
        if meta["fim_candidate"]:
            counts["fim_files_seen"] += len(files)
            counts["fim_file"] += meta["fim_files"]
            counts["spm"] += text.count(tokens.FIM_PREFIX + tokens.FIM_SUFFIX)
    assert abs(counts["metadata"] / 10_000 - 0.5) <= 0.02
    assert abs(counts["fim_repo"] / 10_000 - 0.5) <= 0.02
    assert abs(counts["fim_file"] / counts["fim_files_seen"] - 0.5) <= 0.02
    # SPM share among transformed files (a PSM file with an empty prefix looks like SPM: rare).
    assert abs(counts["spm"] / counts["fim_file"] - 0.5) <= 0.02


@pytest.mark.parametrize("metadata,fim,spm", [(1, 0, 0), (0, 0, 0), (1, 1, 0), (1, 1, 1), (0, 1, 0), (0, 1, 1)])
def test_every_template_parses_back_to_the_files(real_files, metadata, fim, spm):
    cfg = FormatConfig(metadata_rate=metadata, fim_rate=fim, fragment_fim_rate=fim, fim_spm_rate=spm)
    text, meta = render_repository("pypi/example", real_files, rng_for(1, "r"), rng_for(1, "d"), cfg)
    repo, chunks = parse_document(text)
    assert meta["fim_files"] == (len(real_files) if fim else 0)
    if metadata:
        assert repo == "pypi/example"
        assert chunks == [f"{path}\n{content}" for path, content, _ in real_files]
    else:
        assert repo is None and chunks == [content for _, content, _ in real_files]
    if fim:
        marker = tokens.FIM_PREFIX + tokens.FIM_SUFFIX
        spm_chunks = sum(c.startswith(marker) for c in text.split(tokens.FILE_SEP)[1:])
        assert (spm_chunks == len(real_files)) if spm else (spm_chunks < len(real_files))


def named_spans(node):
    spans, stack = set(), [node]
    while stack:
        node = stack.pop()
        spans.add((node.start_byte, node.end_byte))
        stack.extend(node.named_children)
    return spans


def test_syntax_fim_middles_are_whole_syntax_nodes(real_files):
    import tree_sitter_language_pack as tslp
    cfg = FormatConfig(metadata_rate=0, fim_rate=1, fragment_fim_rate=1, fim_spm_rate=0, fim_mode="syntax")
    python = [f for f in real_files if f[2] == "Python" and f[1].strip()][:15]
    text, meta = render_repository("pypi/x", python, rng_for(2, "r"), rng_for(2, "d"), cfg)
    assert meta["fim_syntax_spans"] == meta["fim_files"] == len(python)
    parser = tslp.get_parser("python")
    for chunk, (_, content, _) in zip(text[: -len(tokens.ENDOFTEXT)].split(tokens.FILE_SEP)[1:], python):
        prefix, rest = chunk[len(tokens.FIM_PREFIX):].split(tokens.FIM_SUFFIX, 1)
        suffix, middle = rest.split(tokens.FIM_MIDDLE, 1)
        assert prefix + middle + suffix == content
        start = len(prefix.encode())
        end = start + len(middle.encode())
        assert middle.strip() and (start, end) in named_spans(parser.parse(content.encode()).root_node)


def test_the_repo_name_header_is_never_transformed(real_files):
    cfg = FormatConfig(metadata_rate=1, fim_rate=1, fragment_fim_rate=1)
    text, _ = render_repository("pypi/example", real_files, rng_for(3, "r"), rng_for(3, "d"), cfg)
    assert text.startswith(f"{tokens.REPO_NAME}pypi/example{tokens.FILE_SEP}{tokens.FIM_PREFIX}")


def test_split_lines_cuts_on_line_boundaries_and_joins_back(real_files):
    for _, content, _ in real_files:
        pieces = split_lines(content, 500)
        assert "".join(pieces) == content
        assert all(len(p) <= 500 for p in pieces)
        # every piece but a cut long line ends at a line end
        assert all(p.endswith("\n") or len(p) == 500 for p in pieces[:-1])
    assert split_lines("", 10) == [""]
    assert split_lines("a" * 25, 10) == ["a" * 10, "a" * 10, "a" * 5]


def test_shipped_mixes_match_their_generator():
    check = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_mixes.py"), "--check"])
    assert check.returncode == 0, "lang_configs/mixes is stale: run scripts/gen_mixes.py"


def test_mixes_have_starcoder2_languages_and_sources():
    small, big = load_mix("7b"), load_mix("15b")
    assert {"C", "C#", "R", "SQL", "Swift", "Markdown", "reStructuredText", "YAML"} <= set(small.languages)
    assert len(big.languages) > 600 and set(small.languages) <= set(big.languages)
    assert dict(small.sources)["pull_requests"] == 19.54
    assert "arxiv" not in dict(load_mix("3b").sources) and "arxiv" in dict(small.sources)
    assert small.caps_gb["Java"] == 200 and small.caps_gb["HTML"] == 100


def test_parse_tokens():
    assert parse_tokens("3.7T") == 3.7e12 and parse_tokens("500B") == 5e11 and parse_tokens(1000) == 1000
    with pytest.raises(ValueError, match="3.7T"):
        parse_tokens("lots")


def stats(**tokens_by_language):
    return pd.DataFrame([{"language": lang, "files": 10, "bytes": n * 4, "tokens": n}
                         for lang, n in tokens_by_language.items()])


def test_plan_caps_java_to_its_starcoder2_share_and_excludes_other_languages():
    mix = load_mix("7b")
    plan = plan_mix(mix, stats(Java=600_000, Python=400_000, Haskell=50_000), {}, None).set_index("name")
    # Java's cap is 200 GB at 4 bytes/token = 50B tokens of StarCoder2's 525.5B, scaled to 1M code tokens.
    expected_cap = 200e9 / 4 * (1_000_000 / 525.5e9)
    assert plan.loc["Java", "cap_tokens"] == pytest.approx(expected_cap)
    assert plan.loc["Java", "keep_rate"] == pytest.approx(expected_cap / 600_000)
    assert plan.loc["Java", "status"] == "capped"
    assert plan.loc["Python", "keep_rate"] == 1.0 and plan.loc["Python", "status"] == "kept"
    assert plan.loc["Haskell", "status"] == "excluded" and plan.loc["Haskell", "keep_rate"] == 0.0
    assert plan.loc["Swift", "status"] == "missing" and plan.loc["pull_requests", "status"] == "missing"


def test_plan_epochs_are_capped_and_weights_sum_to_one():
    mix = load_mix("7b")
    plan = plan_mix(mix, stats(Python=1_000_000, Go=1_000_000), {"issues": 500_000}, 1e7)
    kept = plan[plan["unique_tokens"] > 0]
    assert set(kept["epochs"]) == {4.0} and kept["weight"].sum() == pytest.approx(1.0)
    capped = plan_mix(mix, stats(Python=1_000_000), {}, 1e12)
    assert capped.loc[capped["name"] == "Python", "epochs"].item() == 5.0
    assert (capped.loc[capped["name"] == "Python", "status"] == "upsampled").all()


def test_megatron_files_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    sequences = [rng.integers(0, 49_152, n) for n in (4096, 4096, 17)]
    write_indexed(str(tmp_path / "shard"), sequences, 8)
    back = read_indexed(str(tmp_path / "shard"))
    assert [list(s) for s in back] == [list(s) for s in sequences]
    index = (tmp_path / "shard.idx").read_bytes()
    assert index.startswith(b"MMIDIDX\x00\x00") and (tmp_path / "shard.bin").stat().st_size == 2 * (4096 * 2 + 17)


def test_a_trained_tokenizer_reserves_every_special_token_and_round_trips(real_files):
    from codecorpus.format.tokenizer import new_bpe_trainer
    tokenizer, trainer = new_bpe_trainer(1000)
    tokenizer.train_from_iterator((c for _, c, _ in real_files), trainer)
    vocab = tokenizer.get_vocab()
    assert [vocab[t] for t in tokens.ALL_SPECIAL_TOKENS] == list(range(len(tokens.ALL_SPECIAL_TOKENS)))
    text, _ = render_repository("pypi/x", real_files[:3], rng_for(0, "r"), rng_for(0, "d"),
                                FormatConfig(metadata_rate=1, fim_rate=1, fragment_fim_rate=1))
    ids = tokenizer.encode(text, add_special_tokens=False).ids
    assert tokenizer.decode(ids, skip_special_tokens=False) == text
    assert ids[0] == vocab[tokens.REPO_NAME] and ids[-1] == vocab[tokens.ENDOFTEXT]


def test_a_tokenizer_sample_of_a_small_corpus_takes_every_file(spark):
    from codecorpus.format.tokenizer import TokenizerConfig, training_sample
    files = spark.createDataFrame([(f"id{i}", "x = 1\n" * i) for i in range(1, 30)], "file_id string, content string")
    assert training_sample(files, TokenizerConfig(train_sample_chars=10**9), 1).count() == 29
    some = training_sample(files, TokenizerConfig(train_sample_chars=1000), 1).count()
    assert 0 < some < 29

"""Releases from a real run (all stages over the small sample corpus): the card's numbers against
independent DuckDB queries, shards loadable by datasets/pandas/DuckDB, figures, attribution,
byte-identical regeneration, and runs with absent or no usable stages."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import matplotlib.image
import pandas as pd
import pytest
import yaml

from codecorpus.cli import main as cli_main
from codecorpus.config import REPO_STAGES
from codecorpus.release.build import build_release
from codecorpus.release.run_view import ReleaseError


@pytest.fixture(scope="module")
def run_dir(sample_run) -> Path:
    return Path(sample_run.root)


@pytest.fixture(scope="module")
def release(spark, run_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("release") / "v1"
    build_release(spark, str(run_dir), str(out))
    return out


def card_parts(release: Path) -> tuple[dict, str]:
    text = (release / "README.md").read_text()
    _, header, body = text.split("---\n", 2)
    return yaml.safe_load(header), body


def sql(query: str) -> list[tuple]:
    return duckdb.sql(query).fetchall()


def row(*cells) -> str:
    return "| " + " | ".join(f"{c:,}" if isinstance(c, int) else str(c) for c in cells) + " |"


def test_composition_matches_duckdb_over_shards(release):
    header, body = card_parts(release)
    shards = f"{release}/data/files/*/*.parquet"
    by_language = sql(f"select coalesce(language, '(unknown)'), count(*), sum(length_bytes)::bigint, "
                      f"count(distinct repo_name) from '{shards}' group by 1 order by 1")
    assert by_language, "the release has no files"
    total_files, total_bytes, repos = sql(f"select count(*), sum(length_bytes)::bigint, count(distinct repo_name) "
                                          f"from '{shards}'")[0]
    for language, files, size, language_repos in by_language:
        assert row(language, files, size, f"{100 * size / total_bytes:.2f}%", language_repos) in body
    assert row("files", total_files) in body and row("repositories", repos) in body
    assert row("bytes (raw file sizes)", total_bytes) in body
    stats = json.loads((release / "stats.json").read_text())
    assert stats["files"]["total"] == {"files": total_files, "bytes": total_bytes, "repos": repos}
    # YAML header: every config's glob matches its rows
    info = {i["config_name"]: i for i in header["dataset_info"]}
    for config in header["configs"]:
        glob = config["data_files"][0]["path"]
        assert sql(f"select count(*) from '{release}/{glob}'")[0][0] == \
            info[config["config_name"]]["splits"][0]["num_examples"]
    size = next(label for bound, label in [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                                           (1_000_000, "100K<n<1M")] if total_files < bound)
    assert header["task_categories"] == ["text-generation"] and header["size_categories"] == [size]
    assert header["license"] and "python" in header["tags"]


def test_removals_match_duckdb_over_ledger(release, run_dir):
    _, body = card_parts(release)
    manifests = {s: json.loads((run_dir / "manifests" / f"{s}.json").read_text()) for s in REPO_STAGES}
    checked = 0
    for stage, manifest in manifests.items():
        ledger = f"{run_dir}/ledger/{stage}/*.parquet"
        source = manifest["inputs"].get("files", {}).get("stage")
        if source:
            rows = sql(f"select rule, count(*), sum(f.length_bytes)::bigint from '{ledger}' l "
                       f"left join '{run_dir}/stages/{source}/files/*.parquet' f on l.id = f.file_id "
                       f"group by rule")
        else:
            rows = sql(f"select rule, count(*), null from '{ledger}' group by rule")
        for rule, n, size in rows:
            assert row(stage, f"`{rule}`", "file", n, "n/a" if size is None else size).split(" | why")[0] in body
            checked += 1
    assert checked >= 2, "the real run should drop files in at least two stages (symlink, duplicates)"
    exact, files_in = sql(f"select count(*) from '{run_dir}/ledger/dedup/*.parquet' where rule = 'exact_dup'")[0][0], \
        manifests["dedup"]["rows_in"]["files"]
    assert exact > 0 and row("exact duplicates removed", exact, f"{100 * exact / files_in:.2f}%") in body


def test_pii_and_contamination_match_duckdb(release, run_dir):
    _, body = card_parts(release)
    kinds = sql(f"select kind, count(*), count(distinct file_id) from '{run_dir}/stages/pii/pii/*.parquet' group by 1")
    assert kinds, "the stdlib email package holds real addresses"
    for kind, n, files in kinds:
        assert row(kind, n, files) in body
    removed = sql(f"select count(*) from '{run_dir}/ledger/filter/*.parquet' where rule = 'decontamination'")[0][0]
    assert f"benchmark solutions or prompts: {removed:,}." in body


def test_shards_load_with_datasets_pandas_and_duckdb(release, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    import datasets
    header, _ = card_parts(release)
    info = {i["config_name"]: i for i in header["dataset_info"]}
    for config in header["configs"]:
        name, glob = config["config_name"], config["data_files"][0]["path"]
        ds = datasets.load_dataset("parquet", data_files=str(release / glob), split="train",
                                   cache_dir=str(tmp_path / "cache"))
        assert ds.num_rows == info[name]["splits"][0]["num_examples"]
        assert ds.features == datasets.Features._from_yaml_list(info[name]["features"])
    files = pd.read_parquet(release / "data" / "files")
    assert len(files) == info["all"]["splits"][0]["num_examples"]
    assert files["file_id"].is_unique and files["content"].str.len().gt(0).all()
    docs = pd.read_parquet(release / "data" / "documents")
    assert docs["text"].str.endswith("<|endoftext|>").all()
    assert sql(f"select count(*) from '{release}/data/documents/*.parquet'")[0][0] == len(docs)


def test_figures_render(release):
    names = sorted(p.name for p in (release / "figures").glob("*.png"))
    assert names == ["file_length_by_language.png", "kept_vs_dropped.png", "license_mix.png", "size_by_language.png"]
    for name in names:
        data = (release / "figures" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
        height, width, _ = matplotlib.image.imread(release / "figures" / name).shape
        assert height > 200 and width > 400
        assert f"(figures/{name})" in (release / "README.md").read_text()


def test_attribution_lists_every_repository(release):
    shards = f"{release}/data/files/*/*.parquet"
    expected = sql(f"select repo_name, count(*) from '{shards}' group by 1 order by 1")
    table = sql(f"select repo_name, files_kept from '{release}/attribution.parquet' order by 1")
    assert table == expected
    lines = (release / "ATTRIBUTION.md").read_text().splitlines()
    listed = [line.split(" | ")[0].lstrip("| ") for line in lines if line.startswith("| ") and "---" not in line][1:]
    assert listed == [repo for repo, _ in expected]
    assert not list(release.rglob("*.crc"))


def test_regenerating_gives_identical_bytes(release, run_dir, tmp_path):
    again = tmp_path / "again"
    assert cli_main(["card", "--run", str(run_dir), "--out", str(again)]) == 0
    first = sorted(p.relative_to(release) for p in release.rglob("*") if p.is_file())
    assert first == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for path in first:
        assert (release / path).read_bytes() == (again / path).read_bytes(), path


def test_absent_stages_are_named_not_invented(spark, run_dir, tmp_path):
    partial = tmp_path / "partial"
    shutil.copytree(run_dir, partial)
    (partial / "manifests" / "pii.json").unlink()                       # pii started, never finished
    text = (partial / "manifests" / "format.json").read_text()
    (partial / "manifests" / "format.json").write_text(text[: len(text) // 2])   # half-written manifest
    stats = build_release(spark, str(partial), str(tmp_path / "out"))
    body = (tmp_path / "out" / "README.md").read_text()
    assert "- `pii`: started but not finished (no manifest)" in body
    assert "- `format`: manifest unreadable (half-written?)" in body
    assert "The pii stage is absent from this run: **no PII was redacted**." in body
    assert stats["pii"] is None and stats["documents"] is None and not (tmp_path / "out" / "data" / "documents").exists()
    dedup_out = sql(f"select count(*) from '{run_dir}/stages/dedup/files/*.parquet'")[0][0]
    assert stats["files"]["total"]["files"] == dedup_out


def test_nothing_usable_is_a_clear_error(spark, tmp_path, capsys):
    (tmp_path / "empty" / "manifests").mkdir(parents=True)
    with pytest.raises(ReleaseError, match="no finished stage that wrote the files table.*codecorpus run"):
        build_release(spark, str(tmp_path / "empty"), str(tmp_path / "out"))
    assert cli_main(["card", "--run", str(tmp_path / "empty")]) == 1
    assert "ingest: did not run" in capsys.readouterr().err

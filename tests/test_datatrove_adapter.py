"""datatrove's document filters inside Spark partitions, on real docs shipped in installed packages:
repetitive data dumps labelled Text go to the ledger with the filter's reason, real READMEs stay, and
files of other languages pass untouched even when they would trip the filter."""
from __future__ import annotations

import pytest
from pyspark.sql import functions as F

from codecorpus.filters.config import DatatroveConfig, DatatroveFilter
from codecorpus.filters.datatrove_adapter import RegexWordTokenizer, apply_datatrove, build_filter, filter_documents
from tests.test_filters_helpers import file_row, files_frame, site_file

KEEP_DOCS = ["flask/sansio/README.md", "numpy/ma/README.rst", "boto3/examples/s3.rst",
             "matplotlib/mpl-data/sample_data/README.txt", "pyparsing/ai/best_practices.md"]
# Text files that are number dumps: more than 60 % of their lines repeat
DROP_DOCS = ["scipy/ndimage/tests/data/label_strels.txt", "scipy/ndimage/tests/data/label_inputs.txt"]
# Code and data that would trip the repetition rules if they were docs (checked below): never looked at
OTHER = ["boto3/s3/inject.py", "botocore/data/_retry.json"]


@pytest.fixture(scope="module")
def files(spark):
    rows = [file_row("real/docs", site_file(rel), rel) for rel in KEEP_DOCS + DROP_DOCS + OTHER]
    return files_frame(spark, rows).repartition(3, "file_id").cache()


def _by_path(frame, cols):
    return {r.path: tuple(r[c] for c in cols) for r in frame.select("path", *cols).collect()}


def test_languages_are_the_ones_the_adapter_selects(files):
    languages = _by_path(files, ["language"])
    assert {languages[p][0] for p in KEEP_DOCS + DROP_DOCS} <= set(DatatroveConfig().languages)
    assert {languages[p][0] for p in OTHER} == {"Python", "JSON"}


def test_repetitive_docs_go_to_the_ledger_and_the_rest_is_untouched(files):
    kept, ledger = apply_datatrove(files)
    kept_rows = _by_path(kept.withColumn("digest", F.sha1("content")), ["file_id", "digest", "language"])
    input_rows = _by_path(files.withColumn("digest", F.sha1("content")), ["file_id", "digest", "language"])
    dropped = {r.id: (r.rule, r.value, r.detail) for r in ledger.collect()}
    assert len(kept_rows) + len(dropped) == len(input_rows)
    assert set(kept_rows) == set(KEEP_DOCS + OTHER)
    assert all(kept_rows[p] == input_rows[p] for p in kept_rows)      # survivors come back unchanged
    for path in DROP_DOCS:
        rule, reason, detail = dropped[input_rows[path][0]]
        assert rule == "datatrove_GopherRepetitionFilter" and reason == "dup_line_frac"
        assert detail == f"real/docs/{path}"


def test_other_languages_would_trip_the_filter_if_they_were_docs(files):
    as_docs = files.where(F.col("path").isin(OTHER)).withColumn("language", F.lit("Text"))
    kept, ledger = apply_datatrove(as_docs)
    assert kept.count() == 0 and ledger.count() == len(OTHER)


def test_stock_gopher_quality_runs_offline_with_its_own_reasons(files):
    """datatrove's GopherQualityFilter, untouched defaults apart from the word tokenizer we inject (its
    English tokenizer is spaCy, not installed): Gopher's 50-word minimum drops the short README."""
    cfg = DatatroveConfig(filters=[DatatroveFilter(name="GopherQualityFilter")], languages=["Markdown"])
    kept, ledger = apply_datatrove(files.where(F.col("path").isin("flask/sansio/README.md")), cfg)
    assert [(r.rule, r.value) for r in ledger.collect()] == [("datatrove_GopherQualityFilter", "gopher_short_doc")]
    assert kept.count() == 0


def test_bad_filter_names_and_arguments_fail_clearly():
    with pytest.raises(ValueError, match="unknown datatrove filter 'NoSuchFilter'"):
        build_filter(DatatroveFilter(name="NoSuchFilter"))
    with pytest.raises(ValueError, match=r"GopherRepetitionFilter\]\.params: unknown arguments \['dup_lines'\]"):
        build_filter(DatatroveFilter(name="GopherRepetitionFilter", params={"dup_lines": 0.5}))
    assert isinstance(build_filter(DatatroveFilter(name="FineWebQualityFilter")).language, RegexWordTokenizer)


def test_a_filter_that_raises_drops_that_document_with_the_error_and_goes_on():
    """FineWebQualityFilter given a bad stop_chars raises TypeError on every real doc: each becomes a
    drop with reason error:TypeError (a ledger row), no partition fails."""
    from datatrove.data import Document
    docs = [Document(text=site_file(rel).read_text(encoding="utf-8"), id=rel, metadata={"path": rel})
            for rel in KEEP_DOCS[:2]]
    broken = build_filter(DatatroveFilter(name="FineWebQualityFilter", params={"stop_chars": [1]}))
    assert filter_documents(docs, [broken]) == {rel: ("datatrove_FineWebQualityFilter", "error:TypeError")
                                                for rel in KEEP_DOCS[:2]}


def test_disabled_returns_the_files_and_no_ledger(files):
    kept, ledger = apply_datatrove(files, DatatroveConfig(enabled=False))
    assert kept is files and ledger is None

"""Ingest: every kind of repository is read, every bad input ends in the ledger with its rule."""
import tarfile

import pytest
from pyspark.sql import functions as F

from codecorpus.annotate.license import is_license_file
from codecorpus.sources.local import file_id
from tests.corpora import CJK_ENCODINGS, EMAIL_PACKAGE, JSON_PACKAGE, bad_corpus, good_corpus
from tests.helpers import ledger, run_pipeline, table


@pytest.fixture(scope="module")
def good_run(spark, tmp_path_factory):
    src = good_corpus(tmp_path_factory.mktemp("good"))
    return run_pipeline(spark, tmp_path_factory.mktemp("run") / "r", [str(src)], ["ingest"], ingest={"shards": 2})


@pytest.fixture(scope="module")
def bad_run(spark, tmp_path_factory):
    src = bad_corpus(tmp_path_factory.mktemp("bad"))
    return run_pipeline(spark, tmp_path_factory.mktemp("run") / "r", [str(src)], ["ingest"],
                        ingest={"max_file_bytes": 200_000, "shards": 2})


def test_every_repository_kind_is_read(good_run):
    repos = {r["repo_name"]: r for r in table(good_run, "ingest", "repos").collect()}
    assert set(repos) == {"python/json-dir", "python/json-git", "python/email-tar", "python/json-zip"}
    assert repos["python/json-git"]["source_kind"] == "git"
    assert repos["python/json-git"]["revision_id"] and repos["python/json-git"]["revision_date"]
    assert repos["python/json-dir"]["license_files"] == ["LICENSE"]
    files = table(good_run, "ingest", "files")
    n_json = len(list(JSON_PACKAGE.glob("*.py")))
    counts = {r["repo_name"]: r["count"] for r in files.groupBy("repo_name").count().collect()}
    assert counts["python/json-zip"] == n_json
    assert counts["python/json-dir"] == n_json + 1          # + LICENSE
    assert counts["python/email-tar"] == len(list(EMAIL_PACKAGE.glob("*.py")))


def test_archive_top_folder_is_not_part_of_paths(good_run):
    paths = {r["path"] for r in table(good_run, "ingest", "files").where("repo_name = 'python/email-tar'").collect()}
    assert "parser.py" in paths


def test_ids_follow_the_stack_v2(good_run):
    import hashlib
    row = table(good_run, "ingest", "files").where("repo_name = 'python/json-dir' and path = 'decoder.py'").first()
    raw = (JSON_PACKAGE / "decoder.py").read_bytes()
    assert row["blob_id"] == hashlib.sha1(raw).hexdigest()
    assert row["content_id"] == hashlib.sha1(b"blob %d\0" % len(raw) + raw).hexdigest()
    assert row["file_id"] == file_id("python/json-dir", "decoder.py")
    assert row["content"] == raw.decode() and row["src_encoding"] == "UTF-8"
    assert row["extension"] == "py" and row["length_bytes"] == len(raw)


def test_git_symlink_goes_to_the_ledger(good_run):
    rows = ledger(good_run, "ingest").where(F.col("detail") == "python/json-git/alias.py").collect()
    assert [(r["rule"], r["value"] is not None) for r in rows] == [("symlink", True)]


def rules_by_detail(runner):
    return {r["detail"]: (r["rule"], r["value"]) for r in ledger(runner, "ingest").collect()}


def test_bad_inputs_are_in_the_ledger_with_their_rule(bad_run):
    rules = rules_by_detail(bad_run)
    assert rules["bad/mixed/logo.png"][0] == "binary"
    assert rules["bad/mixed/_pydecimal.py"] == ("too_large", str((JSON_PACKAGE.parent / "_pydecimal.py").stat().st_size))
    assert rules["bad/mixed/outside-link"][0] == "symlink_outside_repo"
    assert rules["bad/mixed/inside-link.py"][0] == "symlink"
    assert rules["bad/traversal/../../escape.py"][0] == "path_traversal"
    assert rules["bad/traversal//etc/absolute.py"][0] == "path_traversal"
    repo_rules = {r["id"]: r["rule"] for r in ledger(bad_run, "ingest").where("id_kind = 'repo'").collect()}
    assert repo_rules == {"bad/truncated": "corrupt_archive", "bad/corrupt": "corrupt_archive"}


def test_legacy_encoding_is_decoded_and_recorded(bad_run):
    row = table(bad_run, "ingest", "files").where("path = 'shift_jis.txt'").first()
    assert row["src_encoding"] == "SHIFT_JIS"
    assert row["content"] == (CJK_ENCODINGS / "shift_jis-utf8.txt").read_text()


def test_good_members_beside_bad_ones_are_kept(bad_run):
    files = table(bad_run, "ingest", "files")
    assert files.where("repo_name = 'bad/traversal'").count() == len(list(JSON_PACKAGE.glob("*.py")))
    assert files.where("repo_name = 'bad/mixed' and path = 'broken.json'").count() == 1


def test_nothing_is_lost(bad_run, tmp_path_factory):
    """Files read + file rows in the ledger = every entry the sources hold (counted independently)."""
    src = bad_corpus(tmp_path_factory.mktemp("count"))
    mixed = sum(1 for p in (src / "bad" / "mixed").iterdir())
    with tarfile.open(src / "bad" / "traversal.tar.gz") as archive:
        traversal = sum(1 for m in archive.getmembers() if not m.isdir())
    files = table(bad_run, "ingest", "files").count()
    dropped = ledger(bad_run, "ingest").where("id_kind = 'file'").count()
    assert files + dropped == mixed + traversal


def test_license_file_names():
    for name in ["LICENSE", "COPYING", "LICENSE-MIT", "license.txt", "NOTICE", "COPYING.LESSER", "README.md"]:
        assert is_license_file(name), name
    for name in ["setup.py", "licenser.py", "main.c"]:
        assert not is_license_file(name), name

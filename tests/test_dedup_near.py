"""Near-dedup on real near-duplicates: MIT license texts of the installed packages (a giant bucket of
similar, not identical, files) and modules vendored by pip next to their newer upstream versions."""
from __future__ import annotations

import re
import sys
from datetime import datetime
from pathlib import Path

import pytest
from pyspark.sql import functions as F

sys.path.insert(0, str(Path(__file__).parent))
from test_dedup_data import FILE_COLUMNS, file_row, mit_licenses, site_file  # noqa: E402

from codecorpus.dedup import DedupConfig, near_dedup  # noqa: E402
from codecorpus.dedup.components import connected_components  # noqa: E402
from codecorpus.dedup.lsh import band_edges, signature_table  # noqa: E402

# (vendored copy in pip, upstream file): true Jaccard of 5-gram shingles 0.76 to 0.99
VENDORED = ["packaging/version.py", "packaging/specifiers.py", "packaging/tags.py", "packaging/utils.py",
            "certifi/core.py", "requests/models.py", "pygments/lexer.py"]
# Unrelated real modules: must stay.
OTHERS = ["packaging/markers.py", "requests/api.py", "six.py", "pygments/token.py", "certifi/__init__.py"]


def shingles(text: str, n: int = 5) -> set[str]:
    tokens = re.split(r"\W", text.lower())
    return {" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}


def jaccard(a: str, b: str) -> float:
    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb)


def corpus_rows():
    rows = []
    when = datetime(2024, 1, 1)
    for i, (name, text) in enumerate(mit_licenses().items()):
        rows.append(file_row(f"{name}/{name}", "LICENSE", text, "permissive", stars=i, revision_date=when))
    for path in VENDORED:
        rows.append(file_row("pypa/pip", f"src/pip/_vendor/{path}", site_file(f"pip/_vendor/{path}"),
                             "permissive", stars=9000, forks=3000))
        rows.append(file_row(f"upstream/{path.split('/')[0]}", path, site_file(path), "permissive",
                             stars=500, forks=100))
    for path in OTHERS:
        rows.append(file_row("misc/others", path, site_file(path), None))
    # Too short to shingle (fewer than 5 tokens): never clustered, whatever their content.
    for i, text in enumerate(["", "pass\n", "__all__ = []\n", "# empty\n"]):
        rows.append(file_row("misc/short", f"pkg{i}/__init__.py", text, None))
    return rows


@pytest.fixture(scope="module")
def files(spark):
    return spark.createDataFrame(corpus_rows(), FILE_COLUMNS)


@pytest.fixture(scope="module")
def run(files, tmp_path_factory):
    cfg = DedupConfig(bucket_salts=4)
    kept, clusters, ledger = near_dedup(files.coalesce(1), cfg, str(tmp_path_factory.mktemp("near1")))
    return {"kept": {r.file_id for r in kept.select("file_id").collect()},
            "clusters": sorted(tuple(r) for r in clusters.collect()),
            "ledger": {r.id: r for r in ledger.collect()}}


def by_id(files):
    return {r.file_id: r for r in files.select("file_id", "repo_name", "path", "content").collect()}


def test_every_file_is_kept_or_in_the_ledger(files, run):
    ids = set(by_id(files))
    assert run["kept"] | set(run["ledger"]) == ids
    assert not run["kept"] & set(run["ledger"])
    assert {r.rule for r in run["ledger"].values()} == {"near_dup"}


def test_vendored_copies_collapse_to_the_better_ranked_copy(files, run):
    rows = by_id(files)
    for path in VENDORED:
        pip_id = next(i for i, r in rows.items() if r.path == f"src/pip/_vendor/{path}")
        upstream_id = next(i for i, r in rows.items() if r.path == path and r.repo_name.startswith("upstream/"))
        assert pip_id in run["kept"], path                 # more stars and forks
        assert run["ledger"][upstream_id].value == pip_id, path
        estimated = float(run["ledger"][upstream_id].detail.split("jaccard=")[1])
        assert abs(estimated - jaccard(rows[pip_id].content, rows[upstream_id].content)) < 0.1


def test_unrelated_and_too_short_files_stay(files, run):
    rows = by_id(files)
    for file_id, r in rows.items():
        if r.repo_name in ("misc/others", "misc/short"):
            assert file_id in run["kept"], r.path
    clustered = {c[0] for c in run["clusters"]}
    assert not clustered & {i for i, r in rows.items() if r.repo_name == "misc/short"}


def test_mit_licenses_form_a_giant_cluster_and_removals_match_their_survivor(files, run):
    rows = by_id(files)
    licenses = {i for i, r in rows.items() if r.path == "LICENSE"}
    removed = licenses & set(run["ledger"])
    assert len(removed) >= 15
    survivors = {run["ledger"][i].value for i in removed}
    for file_id in removed:        # checked against the survivor, not just chained to it
        assert jaccard(rows[file_id].content, rows[run["ledger"][file_id].value].content) >= 0.6
    # Survivor of the biggest cluster: the most-starred member among the removed ones' cluster.
    biggest = max(survivors, key=lambda s: sum(run["ledger"][i].value == s for i in removed))
    stars = {r.file_id: r.star_events_count for r in files.select("file_id", "star_events_count").collect()}
    members = [i for i in removed if run["ledger"][i].value == biggest]
    assert all(stars[biggest] >= stars[m] for m in members)


def test_clusters_table_names_the_survivor_and_smallest_id(run):
    by_kept = {}
    for file_id, cluster_id, kept_id in run["clusters"]:
        by_kept.setdefault(kept_id, set()).add(file_id)
        assert kept_id in run["kept"]
    for file_id, cluster_id, kept_id in run["clusters"]:
        assert cluster_id == min(by_kept[kept_id])
        assert (file_id == kept_id) or run["ledger"][file_id].value == kept_id


def test_same_result_whatever_the_partitioning(files, run, tmp_path_factory):
    cfg = DedupConfig(bucket_salts=4)
    kept, clusters, ledger = near_dedup(files.repartition(5, "path"), cfg,
                                        str(tmp_path_factory.mktemp("near5")))
    assert {r.file_id for r in kept.select("file_id").collect()} == run["kept"]
    assert sorted(tuple(r) for r in clusters.collect()) == run["clusters"]
    assert {r.id: r.value for r in ledger.collect()} == {i: r.value for i, r in run["ledger"].items()}


def union_find(edges):
    parent = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x
    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {x: find(x) for x in parent}


@pytest.fixture(scope="module")
def edges(files, tmp_path_factory):
    cfg = DedupConfig(bucket_salts=4)
    path = str(tmp_path_factory.mktemp("edges") / "edges")
    band_edges(signature_table(files, cfg), cfg).write.parquet(path)
    return files.sparkSession.read.parquet(path)


def test_components_match_union_find_on_the_same_edges(edges, tmp_path):
    comp, rounds = connected_components(edges, str(tmp_path), max_iterations=40)
    expected = union_find([(r.src, r.dst) for r in edges.collect()])
    got = {r.file_id: r.cluster_id for r in comp.collect()}
    assert got == expected
    assert len(set(got.values())) < len(got)           # real merging happened
    assert 1 <= rounds <= max(1, len(got)).bit_length() ** 2   # Kiveris et al.: O(log^2 n)


def test_giant_bucket_is_a_star_split_by_salt(files, edges):
    # A star per bucket: edges grow linearly with the files, never as a clique.
    bands, _ = DedupConfig().lsh_params()
    n_edges = edges.count()
    assert 0 < n_edges <= bands * files.count()
    licenses = files.where(F.col("path") == "LICENSE").count()
    in_degree = edges.groupBy("dst").count().agg(F.max("count")).first()[0]
    assert in_degree < licenses                       # the giant bucket was split into sub-stars


def package_repo(repo: str, package_dir: str, stars: int) -> list[tuple]:
    root = Path(site_file.__globals__["sysconfig"].get_paths()["purelib"]) / package_dir
    return [file_row(repo, str(p.relative_to(root)), p.read_text(encoding="utf-8"), "permissive", stars=stars)
            for p in sorted(root.rglob("*.py"))]


def test_repo_scope_removes_a_vendored_copy_of_a_repository_whole(spark, tmp_path):
    # Real near-copies of whole repositories: packaging and certifi as installed, and the older copies
    # vendored inside pip; requests' own package is unrelated to both and stays.
    rows = (package_repo("pypa/packaging", "packaging", 900) + package_repo("pip/vendored-packaging",
            "pip/_vendor/packaging", 10) + package_repo("certifi/python-certifi", "certifi", 300)
            + package_repo("pip/vendored-certifi", "pip/_vendor/certifi", 10)
            + package_repo("psf/requests", "requests", 5000))
    files = spark.createDataFrame(rows, FILE_COLUMNS).repartition(3)
    kept, clusters, ledger = near_dedup(files, DedupConfig(scope="repo", bucket_salts=4), str(tmp_path))
    dropped = {r.id: r for r in ledger.collect()}
    gone = {r.repo_name for r in files.join(ledger.select(F.col("id").alias("file_id")), "file_id").collect()}
    assert gone == {"pip/vendored-packaging", "pip/vendored-certifi"}
    by_repo = {}
    for r in files.select("file_id", "repo_name").collect():
        by_repo.setdefault(r.repo_name, set()).add(r.file_id)
    # Whole repositories: every file of a removed one is in the ledger, every file of the others kept.
    assert set(dropped) == by_repo["pip/vendored-packaging"] | by_repo["pip/vendored-certifi"]
    assert {r.value for r in dropped.values()} == {"pypa/packaging", "certifi/python-certifi"}
    assert {r.rule for r in dropped.values()} == {"near_dup_repo"}
    assert kept.count() + len(dropped) == len(rows)
    assert {r.kept_id for r in clusters.collect()} == {"pypa/packaging", "certifi/python-certifi"}


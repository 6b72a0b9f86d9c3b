"""The built-in sample corpus: the small size meets its bars, its manifest tells the truth about the tree,
and a rebuild from the cache is offline and identical. The small sample is built once per machine (in CI
too) and cached under $CODECORPUS_CACHE or ~/.cache/codecorpus."""
import hashlib
import json
import re
from pathlib import Path

import pytest

from codecorpus.sources import sample
from codecorpus.sources.sample import SIZES, build_sample, load_sources

SMALL_MODEL_LANGUAGES = {"C", "C#", "C++", "Go", "Java", "JavaScript", "Kotlin", "Lua", "PHP", "Python", "R",
                         "Ruby", "Rust", "SQL", "Shell", "Swift", "TypeScript"}


@pytest.fixture(scope="module")
def small() -> Path:
    return build_sample("small", progress=lambda msg: None)


@pytest.fixture(scope="module")
def manifest(small) -> dict:
    return json.loads((small / "manifest.json").read_text())


def tree_digest(root: Path) -> str:
    """One digest of every path and its bytes under ``root``."""
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def test_sizes_nest_and_every_source_is_pinned():
    tiers = {size: {e.repo_name for e in load_sources(size)} for size in SIZES}
    assert tiers["small"] < tiers["default"] < tiers["large"]
    for e in load_sources("large"):
        assert e.registry in ("pypi", "npm", "debian")
        exact = r"^[0-9][0-9A-Za-z.+~:-]*$" if e.registry == "debian" else r"^[0-9][0-9A-Za-z.+-]*$"
        assert re.match(exact, e.version), f"{e.repo_name}: {e.version!r} is not an exact version"


def test_small_sample_meets_its_bars(manifest):
    totals = manifest["totals"]
    assert 35 <= totals["repos"] <= 45
    assert totals["bytes"] <= 26_000_000
    covered = SMALL_MODEL_LANGUAGES & set(totals["languages"])
    assert len(covered) >= 8, covered
    kinds = totals["by_license_kind"]
    assert kinds.get("permissive", 0) > 0 and kinds.get("copyleft", 0) > 0
    assert any(not r["license_files"] for r in manifest["repos"]), "no repository without a license file"


def test_small_sample_has_real_near_duplicates(small, manifest):
    pairs = {(d["repo_name"], d["of"]): d["identical_files"] for d in manifest["near_duplicates"]}
    assert pairs[("pypi/requests-2.32.3", "pypi/requests-2.31.0")] >= 5  # two releases of one project
    assert ("pypi/urllib3-1.26.18", "pypi/six-1.16.0") in pairs
    # urllib3 vendors six 1.16.0 reformatted by black: a near-duplicate, not an exact copy (0.7 is the
    # Jaccard threshold of StarCoder2's near-deduplication)
    vendored = (small / "repos/pypi/urllib3-1.26.18/src/urllib3/packages/six.py").read_text().splitlines()
    original = (small / "repos/pypi/six-1.16.0/six.py").read_text().splitlines()
    assert vendored != original
    assert len(set(vendored) & set(original)) / len(set(vendored) | set(original)) > 0.7


def test_manifest_matches_the_tree(small, manifest):
    repos = small / "repos"
    on_disk = {f"{o.name}/{r.name}" for o in repos.iterdir() for r in o.iterdir()}
    assert on_disk == {r["repo_name"] for r in manifest["repos"]}
    for r in manifest["repos"]:
        files = [p for p in (repos / r["repo_name"]).rglob("*") if p.is_file()]
        assert len(files) == r["files"] and sum(p.stat().st_size for p in files) == r["bytes"], r["repo_name"]
        assert r["source"].get("url", "").startswith(("https://", "http://")) and r["source"].get("sha256")
        for lic in r["license_files"]:
            assert (repos / r["repo_name"] / lic).is_file()
        if r["registry"] == "debian":
            assert r["source"]["apt"] == f"{r['package']}={r['version']}"
            assert "debian/copyright" in r["license_files"]
    assert "## Languages" in (small / "MANIFEST.md").read_text()


def test_declared_licenses_come_from_package_metadata(manifest):
    by_name = {r["repo_name"]: r for r in manifest["repos"]}
    assert by_name["pypi/paramiko-3.4.0"]["license_kind"] == "copyleft"          # LGPL, from PKG-INFO
    assert by_name["debian/librust-serde-dev"]["declared_license"] == "MIT or Apache-2.0"  # DEP-5 copyright
    assert by_name["npm/lodash"]["declared_license"] == "MIT"                    # package.json


def test_rebuild_from_cache_is_offline_and_identical(small, manifest, monkeypatch):
    before_tree = tree_digest(small / "repos")
    before_md = (small / "MANIFEST.md").read_bytes()
    (small.parent / ".build-sample-small-killed").mkdir(exist_ok=True)  # what a killed build leaves

    def no_network(registry, entries, downloads):
        raise AssertionError(f"downloaded {registry} {[e.name for e in entries]} although cached")

    monkeypatch.setattr(sample, "download", no_network)
    again = build_sample("small", refresh=True, progress=lambda msg: None)
    assert again == small
    assert json.loads((again / "manifest.json").read_text()) == manifest
    assert (again / "MANIFEST.md").read_bytes() == before_md
    assert tree_digest(again / "repos") == before_tree
    assert not list(small.parent.glob(".build-sample-small-*"))

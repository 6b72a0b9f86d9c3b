"""Real files for the filter and license tests: files shipped in installed packages (the venv's
site-packages, the base Python's stdlib, Debian packages), never text written for a test."""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import sysconfig
from pathlib import Path

import enry
import pytest

SITE = Path(sysconfig.get_paths()["purelib"])

FILE_COLUMNS = ("file_id string, blob_id string, repo_name string, path string, language string, "
                "content string, length_bytes bigint, is_generated boolean, gha_license_id string")


def site_file(rel: str) -> Path:
    path = SITE / rel
    if not path.is_file():
        pytest.skip(f"{rel} is not installed in this environment")
    return path


def debian_file(package: str, name: str) -> Path:
    """A file a Debian package installed, found through dpkg (skip when absent)."""
    if shutil.which("dpkg") is None:
        pytest.skip("dpkg not available")
    listing = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True)
    for line in listing.stdout.splitlines():
        if line.endswith("/" + name) and Path(line).is_file():
            return Path(line)
    pytest.skip(f"Debian package {package} has no {name} here")


def file_row(repo: str, path: Path, rel: str, language: str | None = "detect", gha: str | None = None) -> tuple:
    """One files-table row for a real file; language from enry unless given (a test may need a
    Linguist label enry-python's old rules would not produce)."""
    data = path.read_bytes()
    name = rel.rsplit("/", 1)[-1]
    if language == "detect":
        language = enry.get_language(name, data) or None
    return (hashlib.sha1(f"{repo}\0{rel}".encode()).hexdigest(), hashlib.sha1(data).hexdigest(), repo, rel,
            language, data.decode("utf-8", errors="replace"), len(data), bool(enry.is_generated(name, data)), gha)


def files_frame(spark, rows):
    return spark.createDataFrame(rows, FILE_COLUMNS)

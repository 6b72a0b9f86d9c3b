"""Real near-duplicate test data for the dedup tests: license texts and vendored modules shipped in the
installed packages, turned into ``files`` rows (only the columns dedup reads)."""
from __future__ import annotations

import hashlib
import importlib.metadata
import sysconfig
from datetime import datetime
from pathlib import Path

from pyspark.sql import types as T

FILE_COLUMNS = T.StructType([
    T.StructField("file_id", T.StringType(), False),
    T.StructField("blob_id", T.StringType(), False),
    T.StructField("repo_name", T.StringType(), False),
    T.StructField("path", T.StringType(), False),
    T.StructField("content", T.StringType(), False),
    T.StructField("license_type", T.StringType(), True),
    T.StructField("star_events_count", T.LongType(), False),
    T.StructField("fork_events_count", T.LongType(), False),
    T.StructField("revision_date", T.TimestampType(), True),
    T.StructField("visit_date", T.TimestampType(), True),
])
MIT_MARK = "Permission is hereby granted, free of charge"


def file_row(repo: str, path: str, content: str, license_type: str | None = None, stars: int = 0,
             forks: int = 0, revision_date: datetime | None = None, visit_date: datetime | None = None):
    file_id = hashlib.sha1(f"{repo}\0{path}".encode()).hexdigest()
    blob_id = hashlib.sha1(content.encode()).hexdigest()
    return (file_id, blob_id, repo, path, content, license_type, stars, forks, revision_date, visit_date)


def license_texts() -> dict[str, str]:
    """{distribution name: license text} for every installed distribution shipping a license file."""
    texts = {}
    for dist in importlib.metadata.distributions():
        for f in dist.files or []:
            name = f.name.lower()
            if ("licen" in name or "copying" in name) and "dist-info" in str(f):
                try:
                    text = f.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError):
                    continue
                if text and dist.metadata["Name"] not in texts:
                    texts[dist.metadata["Name"]] = text
    return dict(sorted(texts.items()))


def mit_licenses() -> dict[str, str]:
    return {name: text for name, text in license_texts().items() if MIT_MARK in text}


def site_file(relpath: str) -> str:
    """Text of a file of the installed packages (``relpath`` under site-packages)."""
    return (Path(sysconfig.get_paths()["purelib"]) / relpath).read_text(encoding="utf-8")


def test_real_license_data_is_a_giant_near_duplicate_group():
    mit = mit_licenses()
    assert len(mit) >= 20
    assert len(set(mit.values())) >= 10      # different holders and years, not one text

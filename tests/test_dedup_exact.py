"""Exact dedup by blob_id: pip vendors requests and idna byte for byte; the copy kept is chosen by The
Stack v2 ranking (license type first, then stars, forks, dates, then file_id)."""
from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from test_dedup_data import FILE_COLUMNS, file_row, site_file  # noqa: E402

from codecorpus.dedup import exact_dedup  # noqa: E402

SESSIONS = "requests/sessions.py"       # identical in pip/_vendor/requests/ and requests/
CORE = "idna/core.py"                   # identical in pip/_vendor/idna/ and idna/


def run(spark, rows, partitions=1):
    files = spark.createDataFrame(rows, FILE_COLUMNS).repartition(partitions, "path")
    kept, ledger = exact_dedup(files)
    return ({r.file_id for r in kept.select("file_id").collect()},
            {r.id: (r.rule, r.value, r.detail) for r in ledger.collect()})


def test_identical_vendored_copy_is_dropped_for_the_more_starred_one(spark):
    text = site_file(SESSIONS)
    assert text == site_file(f"pip/_vendor/{SESSIONS}")
    pip = file_row("pypa/pip", f"src/pip/_vendor/{SESSIONS}", text, "permissive", stars=9000)
    upstream = file_row("psf/requests", SESSIONS, text, "permissive", stars=500)
    other = file_row("psf/requests", "requests/api.py", site_file("requests/api.py"), "permissive")
    kept, ledger = run(spark, [pip, upstream, other])
    assert kept == {pip[0], other[0]}
    assert ledger == {upstream[0]: ("exact_dup", pip[0], f"psf/requests/{SESSIONS}")}


def test_permissive_copy_survives_a_non_permissive_one_whatever_the_stars(spark):
    text = site_file(CORE)
    gpl = file_row("big/gpl-fork", "idna/core.py", text, "non_permissive", stars=100000, forks=5000)
    unlicensed = file_row("mid/nolicense", "idna/core.py", text, None, stars=1000)   # null = no_license
    mit = file_row("small/mit", "vendor/idna/core.py", text, "permissive", stars=1)
    kept, ledger = run(spark, [gpl, unlicensed, mit])
    assert kept == {mit[0]}
    assert {i: v[1] for i, v in ledger.items()} == {gpl[0]: mit[0], unlicensed[0]: mit[0]}


def test_no_license_beats_non_permissive_and_ties_break_on_dates_then_file_id(spark):
    text = site_file(CORE)
    old = datetime(2020, 1, 1)
    new = datetime(2023, 6, 1)
    rows = [file_row("a/gpl", "core.py", text, "non_permissive", stars=50),
            file_row("b/none", "core.py", text, "no_license", stars=5, revision_date=old),
            file_row("c/none", "core.py", text, "no_license", stars=5, revision_date=new),
            file_row("d/none", "core.py", text, "no_license", stars=5, revision_date=None)]
    kept, ledger = run(spark, rows)
    assert kept == {rows[2][0]}                       # latest revision; a missing date ranks last
    same = [file_row(f"{o}/x", "core.py", text, "permissive", stars=3) for o in "pqrs"]
    kept, _ = run(spark, same)
    assert kept == {min(r[0] for r in same)}          # full tie: smallest file_id


def test_same_survivors_whatever_the_partitioning(spark):
    rows = []
    for rel in (SESSIONS, CORE, "requests/models.py", "packaging/version.py"):
        for i, prefix in enumerate(("", "pip/_vendor/")):
            rows.append(file_row(f"org{i}/{rel.split('/')[0]}", rel, site_file(prefix + rel), "permissive",
                                 stars=7, forks=i))
    one = run(spark, rows, 1)
    assert run(spark, rows, 4) == one
    assert len(one[1]) == 2          # sessions.py and core.py are byte-identical; the others differ

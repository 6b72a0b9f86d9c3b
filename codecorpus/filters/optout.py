"""Opt-out: files of users/orgs, repositories, paths or blobs whose owners asked to be left out
(StarCoder2 §2.5) are dropped with ledger rule ``opt_out``.

Entries, one a line in a user-maintained file or in the config: ``owner``, ``owner/repo``,
``owner/repo/path/to/file`` or ``blob:<40-hex sha1>``; ``#`` starts a comment. A malformed line is
reported (line number and text) and skipped; the run goes on.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from codecorpus.filters.config import OptOutConfig
from codecorpus.ledger import rejects

log = logging.getLogger(__name__)
_NAME = r"[A-Za-z0-9_.\-]+"
KINDS = {  # kind -> (pattern of a valid entry, the files column it matches)
    "blob": re.compile(r"^blob:[0-9a-f]{40}$"),
    "path": re.compile(rf"^{_NAME}/{_NAME}/.+$"),
    "repo": re.compile(rf"^{_NAME}/{_NAME}$"),
    "owner": re.compile(rf"^{_NAME}$"),
}


def parse_entries(lines: list[str], source: str = "opt_out.entries") -> tuple[list[tuple[str, str]], list[str]]:
    """((kind, key) pairs, problems) from raw lines; problems name the source, line and text."""
    entries, problems = [], []
    for number, raw in enumerate(lines, 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        kind = next((k for k, pattern in KINDS.items() if pattern.match(line)), None)
        if kind is None:
            problems.append(f"{source}:{number}: not an owner, owner/repo, owner/repo/path or blob:<sha1>: {raw!r}")
            continue
        # GitHub names are case-insensitive; paths are compared lowercased too (documented)
        entries.append((kind, line.removeprefix("blob:").lower()))
    return entries, problems


def load_opt_out(cfg: OptOutConfig) -> list[tuple[str, str]]:
    """Entries from the config list and the opt-out file; malformed lines are logged and skipped."""
    entries, problems = parse_entries(cfg.entries)
    if cfg.file:
        path = Path(cfg.file)
        if not path.is_file():
            raise FileNotFoundError(f"filters.opt_out.file: {cfg.file} does not exist; create it or remove the key")
        more, file_problems = parse_entries(path.read_text(errors="replace").splitlines(), cfg.file)
        entries += more
        problems += file_problems
    for problem in problems:
        log.warning("opt-out entry skipped: %s", problem)
    return sorted(set(entries))


def apply_opt_out(files: DataFrame, cfg: OptOutConfig | None = None,
                  spark: SparkSession | None = None) -> tuple[DataFrame, DataFrame]:
    """(kept, ledger rows with rule opt_out and the matching entry as value)."""
    cfg = cfg or OptOutConfig()
    entries = load_opt_out(cfg)
    spark = spark or files.sparkSession
    keys = {
        "owner": F.lower(F.split("repo_name", "/").getItem(0)),
        "repo": F.lower(F.col("repo_name")),
        "path": F.lower(F.concat_ws("/", "repo_name", "path")),
        "blob": F.col("blob_id"),
    }
    table = spark.createDataFrame([(k, v.lower()) for k, v in entries] or [("none", "")], "kind string, key string")
    marked = files
    matches = []
    # one broadcast hash join per entry kind: the list is small, the files table is not shuffled
    for kind, key in keys.items():
        side = F.broadcast(table.where(F.col("kind") == kind).select(F.col("key").alias(f"_opt_{kind}")))
        marked = marked.join(side, key == F.col(f"_opt_{kind}"), "left")
        matches.append(F.when(F.col(f"_opt_{kind}").isNotNull(), F.concat(F.lit(f"{kind}:"), F.col(f"_opt_{kind}"))))
    marked = marked.withColumn("_opt_hit", F.coalesce(*matches)).drop(*[f"_opt_{k}" for k in keys])
    kept = marked.where(F.col("_opt_hit").isNull()).drop("_opt_hit")
    dropped = marked.where(F.col("_opt_hit").isNotNull())
    return kept, rejects(dropped, rule="opt_out", value=F.col("_opt_hit"))

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
    return remove_entries(files, load_opt_out(cfg or OptOutConfig()), spark)


def remove_entries(files: DataFrame, entries: list[tuple[str, str]],
                   spark: SparkSession | None = None) -> tuple[DataFrame, DataFrame]:
    """``files`` without the rows matching ``entries`` ((kind, key) pairs), and their ledger rows."""
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


# ---------- reuse when the list grows (Runner's opt-out reuse, docs/filters.md) ----------
# Each returns (outputs, the stage's whole new ledger) equal to a fresh run's, or None to run in full.

def reuse_file_stage(previous: dict[str, DataFrame], previous_ledger: DataFrame, inputs: dict[str, DataFrame],
                     added: list[tuple[str, str]]) -> tuple[dict[str, DataFrame], DataFrame]:
    """A stage after filter whose rows each come from one file (malware, pii, dedup when no cluster is
    touched): its input lost the opted-out files upstream, so every table with a file_id, and the
    ledger, keeps the rows of files still in its input; other tables are kept whole."""
    present = inputs["files"].select("file_id")
    outputs = {name: df.join(present, "file_id", "left_semi") if "file_id" in df.columns else df
               for name, df in previous.items()}
    files_rows = F.col("id_kind") == "file"
    ledger = (previous_ledger.where(files_rows).join(present.withColumnRenamed("file_id", "id"), "id", "left_semi")
              .unionByName(previous_ledger.where(~files_rows)))
    return outputs, ledger


def reuse_filter(previous: dict[str, DataFrame], previous_ledger: DataFrame, inputs: dict[str, DataFrame],
                 added: list[tuple[str, str]]) -> tuple[dict[str, DataFrame], DataFrame] | None:
    """The filter stage applies opt-out first, so each input file the added entries match gets an
    opt_out row in place of any other row it had, and leaves the kept files. A match that decontamination
    had dropped would change the contamination report (an aggregate): then filter runs in full."""
    _, opted = remove_entries(inputs["files"], added)
    # a file an older entry already removed keeps its row (its value names that entry)
    opted = opted.join(previous_ledger.where(F.col("rule") == "opt_out").select("id"), "id", "left_anti")
    hit = opted.select("id")
    if previous_ledger.join(hit, "id", "left_semi").where(F.col("rule") == "decontamination").limit(1).count():
        return None
    outputs = dict(previous, files=previous["files"].join(hit.withColumnRenamed("id", "file_id"), "file_id",
                                                          "left_anti"))
    return outputs, previous_ledger.join(hit, "id", "left_anti").unionByName(opted)

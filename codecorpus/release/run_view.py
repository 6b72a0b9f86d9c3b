"""A run as a release sees it: the stages that finished (their manifests), the ones that are absent or
half-written, and where the latest version of each table is. Paths are rebuilt from the run directory
(not taken from manifests), so a run that was moved or copied still reads."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property

from py4j.protocol import Py4JJavaError
from pyspark.sql import DataFrame, SparkSession

from codecorpus import tables
from codecorpus.config import REPO_STAGES, STAGE_ORDER
from codecorpus.ledger import union_all
from codecorpus.storage import Storage


class ReleaseError(ValueError):
    """A run that cannot be released; the message names the run and what to do."""


@dataclass
class RunView:
    spark: SparkSession
    root: str
    manifests: dict[str, dict] = field(default_factory=dict)   # stage -> manifest, pipeline order
    absent: dict[str, str] = field(default_factory=dict)       # stage -> why it is not usable

    def table_path(self, stage: str, table: str) -> str:
        return f"{self.root}/stages/{stage}/{table}"

    def ledger_path(self, stage: str) -> str:
        return f"{self.root}/ledger/{stage}"

    def producer(self, table: str) -> str | None:
        """The last finished stage that wrote ``table``."""
        for stage in reversed(list(self.manifests)):
            if table in self.manifests[stage]["outputs"]:
                return stage
        return None

    @cached_property
    def store(self) -> Storage:
        return Storage(self.spark)

    def read(self, path: str) -> DataFrame:
        """A table of the run (any run directory: local, hdfs://, s3://)."""
        return self.store.read_table(path)

    def table(self, table: str) -> DataFrame | None:
        stage = self.producer(table)
        return self.read(self.table_path(stage, table)) if stage else None

    def documents(self) -> DataFrame | None:
        """Every training document of the run: format's repository documents, then the non-code sources'
        as the mix stage kept them (or, without a mix stage, as their own stages wrote them)."""
        names = ("documents", "source_documents") if self.producer("source_documents") \
            else ("documents", *tables.SOURCE_DOCUMENT_TABLES)
        return union_all([tables.conform(self.table(name), "documents") for name in names
                          if self.producer(name) and self.manifests[self.producer(name)]["outputs"][name]["rows"]])

    def input_stage(self, stage: str, table: str) -> str | None:
        """The stage whose ``table`` the given stage read (from its manifest)."""
        return self.manifests[stage].get("inputs", {}).get(table, {}).get("stage")


def open_run(spark: SparkSession, run_dir: str) -> RunView:
    """Read the manifests of ``run_dir``. A stage without a manifest, with an unreadable one, or whose
    outputs are gone is recorded as absent; a run without any usable `files` table is an error."""
    view = RunView(spark, run_dir.rstrip("/"))
    store = view.store
    for stage in STAGE_ORDER:
        started = store.exists(f"{view.root}/stages/{stage}") or store.exists(view.ledger_path(stage))
        try:
            text = store.read_text(f"{view.root}/manifests/{stage}.json")
        except Py4JJavaError:   # e.g. a checksum error: the file was cut short after it was written
            view.absent[stage] = "manifest unreadable (half-written?)"
            continue
        if text is None:
            if started or stage in REPO_STAGES:   # an event stage a repository run never asked for is not "absent"
                view.absent[stage] = "started but not finished (no manifest)" if started else "did not run"
            continue
        try:
            manifest = json.loads(text)
            outputs = manifest["outputs"]
        except (ValueError, KeyError, TypeError):
            view.absent[stage] = "manifest unreadable (half-written?)"
            continue
        missing = [t for t in outputs if not store.exists(view.table_path(stage, t))]
        if missing or not store.exists(view.ledger_path(stage)):
            view.absent[stage] = f"manifest present but tables missing: {', '.join(missing) or 'ledger'}"
            continue
        view.manifests[stage] = manifest
    if view.producer("files") is None:
        found = ", ".join(f"{s}: {why}" for s, why in view.absent.items())
        raise ReleaseError(f"run {view.root} has no finished stage that wrote the files table ({found}); "
                           "run the pipeline first (`codecorpus run CONFIG`) or check --run")
    return view

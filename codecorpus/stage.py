"""What a stage is: a pure function from named DataFrames to named DataFrames plus ledger rows.

A stage never reads or writes paths; the runner owns persistence, manifests, resume and the ledger.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from pyspark.sql import DataFrame, SparkSession


@dataclass(frozen=True)
class Unit:
    """One input unit of a source stage (a repository): small metadata listed on the driver."""
    unit_id: str      # e.g. the repo_name
    location: str     # where to read it from
    kind: str         # directory, git, tar, zip, ...
    signature: str    # changes when the unit's contents change (sizes, mtimes, git HEAD)


@dataclass
class StageContext:
    spark: SparkSession
    config: Any                      # codecorpus.config.RunConfig
    inputs: dict[str, DataFrame]     # tables this stage reads, by name
    seed: int
    units: list[Unit] = field(default_factory=list)   # source stages: this shard's units
    scratch_dir: str = ""            # a run-private directory for checkpoints
    # Source stages: a table as earlier runs of this stage committed it (None if never), read on demand.
    previous: Callable[[str], DataFrame | None] = lambda table: None


@dataclass
class StageResult:
    outputs: dict[str, DataFrame]
    rejects: DataFrame | None = None  # ledger rows (codecorpus.ledger.rejects), stage filled by the runner


@dataclass(frozen=True)
class Balance:
    """Every id of ``source`` (a table read, or "units") must reach ``target`` or a ledger row of this
    stage. ``merged`` names an array column of ``target`` holding merged ids (documents' source_ids);
    ``where`` (SQL) restricts ``source`` to the rows the stage consumes (e.g. only notebooks)."""
    source: str
    target: str
    id_col: str = "file_id"
    id_kind: str = "file"
    merged: str | None = None
    where: str | None = None


@dataclass(frozen=True)
class Stage:
    name: str
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    run: Callable[[StageContext], StageResult]
    config_sections: tuple[str, ...] = ()   # config keys whose values decide this stage's output
    balances: tuple[Balance, ...] = ()      # a balance whose source is an absent optional read is not checked
    # Tables read when a stage of the run's config before this one writes them, absent otherwise (the
    # documents of opt-in sources): the runner passes the ones present, in this order.
    optional_reads: tuple[str, ...] = ()
    list_units: Callable[[Any], list[Unit]] | None = None   # set for source stages, which commit per shard
    doc: str = ""
    # When only the opt-out list grew: (previous outputs, previous ledger, inputs, added entries) ->
    # (outputs, ledger) as a fresh run would give them, or None to run in full (codecorpus/runner.py).
    opt_out_reuse: Callable[..., tuple[dict[str, DataFrame], DataFrame] | None] | None = None

"""The runner: stage order, atomic table commits, per-shard commits for source stages, manifests,
resume, and the ledger balance check.

Run directory layout (any Hadoop path, or s3:// through boto3 where Spark has no hadoop-aws: all I/O
goes through codecorpus.storage, whose S3 tables are folders committed by a `_manifest.json`):
    stages/<stage>/<table>/part-00000.parquet ...   each table as written by each stage
    ledger/<stage>/part-*.parquet                   rows that stage dropped
    manifests/<stage>.json                          written last: a stage is done when its manifest is
    work/<stage>-<fingerprint>/shard-<k>/...        shard commits of a source stage in progress
    opt_out/<digest>.json                           each opt-out list a stage was built with

Skip if unchanged: a stage's fingerprint hashes its config sections, the code version and the
*lineage* of each input table (its digest when its stage last ran in full). The opt-out list
(``filter.opt_out``) is left out of the fingerprint and tracked apart: each manifest of a stage that
depends on it (its config has ``filter``, or an input does) records the list's digest. When only the
list changed and the old list is a subset of the new one, a stage with ``opt_out_reuse`` removes the
added entries' files from its previous outputs (ledger rule ``opt_out``) instead of recomputing; the
lineage of its tables stays the same, so the stages after it do the same. A stage without
``opt_out_reuse``, or one whose reuse declines (dedup when a cluster lost a survivor), runs in full, and
the stages after it then see a new lineage and run in full too (docs/filters.md).
"""
from __future__ import annotations

import hashlib
import json
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

import codecorpus
from codecorpus import tables
from codecorpus.config import STAGE_ORDER, RunConfig
from codecorpus.filters.optout import load_opt_out
from codecorpus.stage import Stage, StageContext, StageResult, Unit
from codecorpus.storage import Storage


class LedgerImbalance(RuntimeError):
    """Ids a stage read that reached neither an output table nor the ledger."""


class MissingInput(RuntimeError):
    """A stage needs a table no earlier stage of this run has written."""


def code_version() -> str:
    """Package version plus a hash of its source files: a code change invalidates manifests."""
    root = Path(codecorpus.__file__).parent
    digest = hashlib.sha1()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return f"{codecorpus.__version__}+{digest.hexdigest()[:12]}"


def shard_of(unit_id: str, shards: int) -> int:
    return zlib.crc32(unit_id.encode()) % shards


@dataclass
class StageReport:
    stage: str
    skipped: bool
    manifest: dict


class Runner:
    def __init__(self, config: RunConfig, spark: SparkSession, stages: dict[str, Stage],
                 progress: Callable[[str], None] = print):
        self.config = config
        self.spark = spark
        self.stages = stages
        self.progress = progress
        self.store = Storage(spark, config.s3)
        self.root = config.run_dir.rstrip("/")
        self.code_version = code_version()
        self._opt_out: str | None = None

    # -- paths ---------------------------------------------------------------------------------
    def table_path(self, stage: str, table: str) -> str:
        return f"{self.root}/stages/{stage}/{table}"

    def ledger_path(self, stage: str) -> str:
        return f"{self.root}/ledger/{stage}"

    def manifest_path(self, stage: str) -> str:
        return f"{self.root}/manifests/{stage}.json"

    def scratch_path(self, stage: str) -> str:
        # Spark writes checkpoints there itself: an s3:// run without hadoop-aws puts them in staging.
        return self.store.scratch(f"{self.root}/work/{stage}-scratch")

    def manifest(self, stage: str) -> dict | None:
        text = self.store.read_text(self.manifest_path(stage))
        return json.loads(text) if text else None

    def producer(self, table: str, before: str) -> str:
        """The latest stage before ``before`` (in pipeline order) whose committed manifest wrote ``table``."""
        earlier = STAGE_ORDER[: STAGE_ORDER.index(before)]
        for name in reversed(earlier):
            manifest = self.manifest(name)
            if manifest and table in manifest["outputs"]:
                return name
        writers = [s.name for s in self.stages.values() if table in s.writes]
        raise MissingInput(f"stage {before} reads table {table!r}, which no earlier stage of run {self.root} "
                           f"has written; run one of {writers} first (e.g. `codecorpus run CONFIG`)")

    def optional_inputs(self, stage: Stage) -> tuple[str, ...]:
        """The optional reads of ``stage`` that a stage of this run's config before it writes (in the
        order declared); a stage the config does not run (an opt-in source left off) is simply absent."""
        earlier = [s for s in self.config.stages if STAGE_ORDER.index(s) < STAGE_ORDER.index(stage.name)]
        return tuple(t for t in stage.optional_reads if any(t in self.stages[s].writes for s in earlier))

    # -- running ---------------------------------------------------------------------------------
    def run(self, only: list[str] | None = None) -> list[StageReport]:
        names = only or self.config.stages
        self._opt_out = None   # the opt-out list is read once per run, when a stage first needs it
        reports = []
        for name in names:
            reports.append(self.run_stage(self.stages[name]))
        return reports

    def run_stage(self, stage: Stage) -> StageReport:
        started = time.time()
        units = stage.list_units(self.config) if stage.list_units else []
        inputs = {t: self.producer(t, stage.name) for t in stage.reads + self.optional_inputs(stage)}
        fingerprints = {t: _lineage(self.manifest(p)["outputs"][t]) for t, p in inputs.items()}
        if stage.list_units:
            fingerprints["units"] = hashlib.sha1(
                json.dumps([[u.unit_id, u.location, u.kind, u.signature] for u in units]).encode()).hexdigest()
        config_hash = self.config.section_hash(*stage.config_sections)
        fingerprint = hashlib.sha1(json.dumps(
            [stage.name, config_hash, fingerprints, self.code_version, self.config.files_per_table],
            sort_keys=True).encode()).hexdigest()
        opt_out = self._opt_out_digest() if self._depends_on_opt_out(stage, inputs) else None
        previous = self.manifest(stage.name)
        if previous and previous["fingerprint"] == fingerprint and all(
                self.store.exists(self.table_path(stage.name, t)) for t in previous["outputs"]):
            if previous.get("opt_out") == opt_out:
                self.progress(f"[{stage.name}] up to date, skipped")
                return StageReport(stage.name, True, previous)
            reused = self._reuse_opt_out(stage, previous, inputs, fingerprints, config_hash, opt_out, started)
            if reused:
                return reused

        self.store.delete(self.manifest_path(stage.name))
        self.progress(f"[{stage.name}] running")
        frames = {t: self.store.read_table(self.table_path(p, t)) for t, p in inputs.items()}
        if stage.list_units:
            result = self._run_sharded(stage, units, fingerprint)
        else:
            result = stage.run(self._context(stage, frames, units))
        outputs = self._commit(stage, result)
        ledger = self.store.read_table(self.ledger_path(stage.name))
        self._check_balances(stage, frames, units, outputs, ledger)
        manifest = self._manifest(stage, fingerprint, config_hash, inputs, fingerprints, units,
                                  outputs, ledger, time.time() - started, opt_out)
        self.store.write_text(self.manifest_path(stage.name), json.dumps(manifest, indent=1, sort_keys=True))
        self.store.delete(f"{self.root}/work/{stage.name}-{fingerprint[:12]}")
        self.store.delete(self.scratch_path(stage.name))
        self.spark.catalog.clearCache()
        drops = sum(manifest["drops_by_rule"].values())
        self.progress(f"[{stage.name}] done in {manifest['seconds']:.1f}s: "
                      + ", ".join(f"{t} {o['rows']}" for t, o in manifest["outputs"].items())
                      + f", dropped {drops}")
        return StageReport(stage.name, False, manifest)

    # -- opt-out reuse ---------------------------------------------------------------------------
    def _opt_out_digest(self) -> str:
        """The digest of the current opt-out list, which is saved once under opt_out/ in the run."""
        if self._opt_out is None:
            entries = [list(e) for e in load_opt_out(self.config.filter.opt_out)]
            digest = hashlib.sha1(json.dumps(entries).encode()).hexdigest()[:16]
            path = f"{self.root}/opt_out/{digest}.json"
            if not self.store.exists(path):
                self.store.write_text(path, json.dumps(entries))
            self._opt_out = digest
        return self._opt_out

    def _opt_out_entries(self, digest: str | None) -> set[tuple[str, str]] | None:
        text = self.store.read_text(f"{self.root}/opt_out/{digest}.json") if digest else None
        return {tuple(e) for e in json.loads(text)} if text else None

    def _depends_on_opt_out(self, stage: Stage, inputs: dict[str, str]) -> bool:
        return "filter" in stage.config_sections or any(self.manifest(p).get("opt_out") for p in inputs.values())

    def _reuse_opt_out(self, stage: Stage, previous: dict, inputs: dict[str, str], fingerprints: dict[str, str],
                       config_hash: str, opt_out: str | None, started: float) -> StageReport | None:
        """Only the opt-out list grew: the previous outputs less the added entries' files, or None
        (run in full) when the stage cannot reuse them."""
        old, new = self._opt_out_entries(previous.get("opt_out")), self._opt_out_entries(opt_out)
        if stage.opt_out_reuse is None or old is None or new is None or not old <= new:
            return None
        frames = {t: self.store.read_table(self.table_path(p, t)) for t, p in inputs.items()}
        before = {t: self.store.read_table(self.table_path(stage.name, t)) for t in stage.writes}
        before_ledger = self.store.read_table(self.ledger_path(stage.name))
        reused = stage.opt_out_reuse(before, before_ledger, frames, sorted(new - old))
        if reused is None:
            self.progress(f"[{stage.name}] the new opt-out entries change its result beyond removal: running in full")
            return None
        self.store.delete(self.manifest_path(stage.name))
        outputs = self._commit(stage, StageResult(*reused))
        ledger = self.store.read_table(self.ledger_path(stage.name))
        self._check_balances(stage, frames, [], outputs, ledger)
        manifest = self._manifest(stage, previous["fingerprint"], config_hash, inputs, fingerprints, [], outputs,
                                  ledger, time.time() - started, opt_out,
                                  lineage={t: _lineage(o) for t, o in previous["outputs"].items()})
        manifest["opt_out_reuse"] = {"from": previous["opt_out"], "entries_added": len(new - old),
                                     "full_run_seconds": previous.get("opt_out_reuse", {}).get(
                                         "full_run_seconds", previous["seconds"])}
        self.store.write_text(self.manifest_path(stage.name), json.dumps(manifest, indent=1, sort_keys=True))
        self.spark.catalog.clearCache()
        self.progress(f"[{stage.name}] opt-out list grew by {len(new - old)}: previous outputs reused less "
                      "the opted-out files")
        return StageReport(stage.name, False, manifest)

    def _context(self, stage: Stage, frames: dict[str, DataFrame], units: list[Unit]) -> StageContext:
        return StageContext(self.spark, self.config, frames, self.config.seed, units,
                            scratch_dir=self.scratch_path(stage.name),
                            previous=lambda table: self._previous(stage, table))

    def _previous(self, stage: Stage, table: str) -> DataFrame | None:
        """``table`` as earlier runs of a source stage committed it: its last output and the finished
        shards of any attempt, so a re-run can reuse work (e.g. blobs already fetched from S3)."""
        work = f"{self.root}/work"
        attempts = [f"{work}/{a}" for a in self.store.listdir(work)
                    if a.startswith(f"{stage.name}-") and a != f"{stage.name}-scratch"]
        shards = [f"{a}/{s}" for a in attempts for s in self.store.listdir(a)
                  if not s.endswith(".tmp") and self.store.exists(f"{a}/{s}/_COMMITTED")]
        paths = [p for p in [self.table_path(stage.name, table), *(f"{s}/{table}" for s in shards)]
                 if self.store.exists(p)]
        return self.store.read_table(*paths) if paths else None

    def _run_sharded(self, stage: Stage, units: list[Unit], fingerprint: str) -> StageResult:
        """Run a source stage shard by shard; each shard commits on its own, so a killed run resumes
        without redoing finished shards. Returns the union of all shards."""
        work = f"{self.root}/work/{stage.name}-{fingerprint[:12]}"
        shards = self.config.ingest.shards
        by_shard: dict[int, list[Unit]] = {}
        for unit in units:
            by_shard.setdefault(shard_of(unit.unit_id, shards), []).append(unit)
        for k in range(shards):
            done = f"{work}/shard-{k:05d}"
            if self.store.exists(f"{done}/_COMMITTED"):
                continue
            tmp = f"{done}.tmp"
            self.store.delete(tmp)
            if by_shard.get(k):
                result = stage.run(self._context(stage, {}, by_shard[k]))
                for table, df in result.outputs.items():
                    self.store.write_parquet(df, f"{tmp}/{table}")
                self.store.write_parquet(self._ledger_frame(stage, result.rejects), f"{tmp}/rejects")
            self.store.write_text(f"{tmp}/_COMMITTED", "")
            self.store.delete(done)
            self.store.rename(tmp, done)
            self.spark.catalog.clearCache()
            self.progress(f"[{stage.name}] shard {k + 1}/{shards} committed ({len(by_shard.get(k, []))} units)")
        return StageResult({t: self._read_shards(work, t, t) for t in stage.writes},
                           self._read_shards(work, "rejects", "ledger"))

    def _read_shards(self, work: str, name: str, table: str) -> DataFrame:
        paths = [f"{work}/{shard}/{name}" for shard in self.store.listdir(work)
                 if self.store.exists(f"{work}/{shard}/{name}")]
        if not paths:
            return self.spark.createDataFrame([], tables.spark_schema(table))
        return self.store.read_table(*paths)

    def _ledger_frame(self, stage: Stage, rejects: DataFrame | None) -> DataFrame:
        if rejects is None:
            return self.spark.createDataFrame([], tables.spark_schema("ledger"))
        return tables.conform(rejects.withColumn("stage", F.lit(stage.name)), "ledger")

    def _commit(self, stage: Stage, result: StageResult) -> dict[str, DataFrame]:
        missing = set(stage.writes) - set(result.outputs)
        if missing:
            raise RuntimeError(f"stage {stage.name} did not return tables {sorted(missing)}")
        written = {}
        for table in stage.writes:
            df = tables.conform(result.outputs[table], table) if table == "repos" else result.outputs[table]
            tables.check(df, table)
            path = self.table_path(stage.name, table)
            self.store.write_table(df, path, self.config.files_per_table, tables.SORT_KEYS[table])
            written[table] = self.store.read_table(path)
        ledger = self._ledger_frame(stage, result.rejects)
        self.store.write_table(ledger, self.ledger_path(stage.name), self.config.files_per_table,
                               tables.SORT_KEYS["ledger"])
        return written

    def _check_balances(self, stage: Stage, frames: dict[str, DataFrame], units: list[Unit],
                        outputs: dict[str, DataFrame], ledger: DataFrame) -> None:
        for balance in stage.balances:
            if balance.source in stage.optional_reads and balance.source not in frames:
                continue   # an optional input this run does not have
            if balance.source == "units":
                source = self.spark.createDataFrame([(u.unit_id,) for u in units] or [("",)], "id string")
                source = source.where(F.col("id") != "") if not units else source
            else:
                source = frames[balance.source]
                source = (source.where(balance.where) if balance.where else source).select(
                    F.col(balance.id_col).alias("id"))
            target = outputs[balance.target]
            reached = (target.select(F.explode(balance.merged).alias("id")) if balance.merged
                       else target.select(F.col(balance.id_col).alias("id")))
            dropped = ledger.where(F.col("id_kind") == balance.id_kind).select("id")
            lost = source.join(reached.unionByName(dropped).distinct(), "id", "left_anti")
            examples = [r["id"] for r in lost.limit(5).collect()]
            if examples:
                raise LedgerImbalance(
                    f"stage {stage.name}: {lost.count()} {balance.id_kind} ids of {balance.source} reached neither "
                    f"{balance.target} nor the ledger, e.g. {examples}. This is a bug in the stage: every "
                    "dropped row must be returned as ledger rows.")

    def _manifest(self, stage: Stage, fingerprint: str, config_hash: str, inputs: dict[str, str],
                  fingerprints: dict[str, str], units: list[Unit], outputs: dict[str, DataFrame],
                  ledger: DataFrame, seconds: float, opt_out: str | None = None,
                  lineage: dict[str, str] | None = None) -> dict:
        # Counts come from the producers' manifests and the digests (which count rows): no extra Spark jobs.
        rows_in = {t: self.manifest(p)["outputs"][t]["rows"] for t, p in inputs.items()}
        if stage.list_units:
            rows_in["units"] = len(units)
        drops = {r["rule"]: r["n"] for r in ledger.groupBy("rule").agg(F.count("*").alias("n")).collect()}
        digests = {t: tables.digest(df) for t, df in outputs.items()}
        return {
            "stage": stage.name,
            "fingerprint": fingerprint,
            "config_hash": config_hash,
            "code_version": self.code_version,
            "inputs": {t: {"stage": p, "digest": fingerprints[t]} for t, p in inputs.items()},
            "input_fingerprints": fingerprints,
            "rows_in": rows_in,
            # Paths are relative to the run directory, so a run can be moved or copied whole.
            # lineage: the digest when the stage last ran in full (opt-out reuse keeps it)
            "outputs": {t: {"path": f"stages/{stage.name}/{t}", "rows": int(d.split(":")[0]), "digest": d,
                            "lineage": (lineage or {}).get(t, d)} for t, d in digests.items()},
            "opt_out": opt_out,
            "ledger": {"path": f"ledger/{stage.name}", "rows": sum(drops.values())},
            "drops_by_rule": dict(sorted(drops.items())),
            "seconds": round(seconds, 2),
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }


def _lineage(output: dict) -> str:
    """What downstream fingerprints hash for a table: its lineage (older manifests: its digest)."""
    return output.get("lineage", output["digest"])

"""Spine benchmarks: each stage's throughput as a ratio to a passthrough floor, and 1x -> 4x scaling.

One run per sample size, each in its own Python process (so its JVM and Python workers are measured
alone): the runner executes the stages one by one on the sample corpus; right after ingest, Spark reads
the ingested `files` table and writes it back unchanged (the floor, plain and through an identity
mapInArrow), all in the same process. Every stage is timed by the runner (manifest `seconds`), its Spark jobs are counted
from the UI's REST API, and the RSS of the whole process tree (driver Python, driver JVM, Python workers)
is sampled from /proc every second.

    .venv/bin/python bench/pipeline_bench.py --cache DIR --sizes default large \
        --scaled-stages ingest,annotate,filter

`--scaled-stages` limits the runs after the first one (the full pipeline at 4x may not fit the time
you have); the scaling table then compares the stages both runs share. Results: one JSON per size in
--out (saved after every stage), and Markdown tables on stdout; `--one SIZE` runs a single size in this
process (its run directory is kept), `--report` prints the tables again from the saved JSONs.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")


# -- memory of the process tree -------------------------------------------------------------------
def _process_table() -> dict[int, tuple[int, str, int]]:
    """pid -> (parent pid, command name, RSS bytes) for every readable process."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
            rss_pages = int(Path(f"/proc/{entry.name}/statm").read_text().split()[1])
        except (OSError, ValueError, IndexError):
            continue   # the process ended while we read it
        name = stat[stat.index("(") + 1: stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        table[int(entry.name)] = (ppid, name, rss_pages * PAGE)
    return table


def tree_rss(root: int) -> dict[str, int]:
    """RSS of ``root`` and all its descendants, split into the JVM, the driver and the Python workers."""
    table = _process_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    split = {"jvm": 0, "driver_python": 0, "python_workers": 0}
    stack = [root]
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, []))
        if pid not in table:
            continue
        _, name, rss = table[pid]
        key = "driver_python" if pid == root else "jvm" if name == "java" else "python_workers"
        split[key] += rss
    split["total"] = sum(split.values())
    return split


class MemorySampler(threading.Thread):
    """Samples the process tree every ``interval`` seconds; keeps the overall and the per-label peaks."""

    def __init__(self, interval: float = 1.0):
        super().__init__(daemon=True)
        self.interval, self.label = interval, "startup"
        self.peak: dict[str, int] = {}
        self.peak_by_label: dict[str, int] = {}
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(self.interval):
            sample = tree_rss(os.getpid())
            for key, value in sample.items():
                self.peak[key] = max(self.peak.get(key, 0), value)
            self.peak_by_label[self.label] = max(self.peak_by_label.get(self.label, 0), sample["total"])

    def stop(self) -> None:
        self._done.set()
        self.join()


# -- Spark jobs of a stage -------------------------------------------------------------------------
def stage_jobs(spark, group: str) -> dict:
    """Count and total duration of the Spark jobs of one job group, from the UI's REST API."""
    sc = spark.sparkContext
    ids = set(sc.statusTracker().getJobIdsForGroup(group))
    summary = {"jobs": len(ids), "job_seconds": None, "slowest": []}
    if not sc.uiWebUrl:
        return summary
    try:
        url = f"{sc.uiWebUrl}/api/v1/applications/{sc.applicationId}/jobs"
        jobs = [j for j in json.load(urllib.request.urlopen(url, timeout=30)) if j["jobId"] in ids]
    except OSError:
        return summary
    def seconds(job):
        if "completionTime" not in job:
            return 0.0
        parse = lambda s: time.mktime(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S")) + float(s[19:23])
        return parse(job["completionTime"]) - parse(job["submissionTime"])
    timed = sorted(((seconds(j), j["name"][:60]) for j in jobs), reverse=True)
    summary["job_seconds"] = round(sum(s for s, _ in timed), 1)
    summary["slowest"] = [[round(s, 1), name] for s, name in timed[:3]]
    return summary


# -- one run ------------------------------------------------------------------------------------------
def table_size(spark, path: str) -> tuple[int, float]:
    """Rows and MB of content (sum of length_bytes) of a files table; an aggregate, nothing collected."""
    from pyspark.sql import functions as F
    row = spark.read.parquet(path).agg(F.count(F.lit(1)).alias("n"), F.sum("length_bytes").alias("b")).first()
    return row["n"], (row["b"] or 0) / 1e6


def floors(spark, files_path: str, scratch: str) -> dict[str, float]:
    """Seconds to read the ingested files and write them back unchanged: plain, and through Python."""
    files = spark.read.parquet(files_path)
    out = {}
    for name, df in (("parquet read+write", files),
                     ("parquet read+identity mapInArrow+write", files.mapInArrow(lambda it: it, files.schema))):
        spark.sparkContext.setJobGroup(f"floor:{name}", name)
        start = time.perf_counter()
        df.write.mode("overwrite").parquet(f"{scratch}/floor")
        out[name] = round(time.perf_counter() - start, 2)
    return out


def run_size(size: str, stages: list[str], work: Path, master: str, save) -> dict:
    from codecorpus.config import parse_config
    from codecorpus.pipeline import STAGES
    from codecorpus.runner import Runner
    from codecorpus.session import get_spark

    from codecorpus.sources.sample import build_sample

    # Build (or check) the sample first: a stale cache would otherwise be rebuilt inside ingest's time.
    build_sample(size, progress=lambda m: print(f"  {m}", file=sys.stderr, flush=True))
    sampler = MemorySampler()
    sampler.start()
    run_dir = work / f"run-{size}"
    shutil.rmtree(run_dir, ignore_errors=True)
    config = parse_config({"run_dir": str(run_dir), "sources": {"sample": size}, "stages": stages})
    spark = get_spark(master=master, conf={"spark.ui.showConsoleProgress": "false"})
    runner = Runner(config, spark, STAGES, progress=lambda m: print(f"  {m}", file=sys.stderr, flush=True))
    result = {"size": size, "master": master, "cores": spark.sparkContext.defaultParallelism,
              "load_before": os.getloadavg(), "stages": {}}
    for name in stages:
        sampler.label = name
        spark.sparkContext.setJobGroup(name, name)
        stage_started = time.perf_counter()
        manifest = runner.run_stage(STAGES[name]).manifest
        wall = time.perf_counter() - stage_started
        if name == "ingest":
            files_in, mb_in = table_size(spark, runner.table_path("ingest", "files"))
        else:
            files_in, mb_in = table_size(spark, runner.table_path(manifest["inputs"]["files"]["stage"], "files"))
        result["stages"][name] = {"seconds": manifest["seconds"], "wall": round(wall, 2), "files_in": files_in,
                                  "mb_in": round(mb_in, 2), "outputs": {t: o["rows"] for t, o in manifest["outputs"].items()},
                                  "ledger_rows": manifest["ledger"]["rows"], **stage_jobs(spark, name)}
        print(f"  {name}: {json.dumps(result['stages'][name])}", file=sys.stderr, flush=True)
        result["peak_rss_mb"] = {k: round(v / 2**20) for k, v in sampler.peak.items()}
        result["peak_rss_mb_by_stage"] = {k: round(v / 2**20) for k, v in sampler.peak_by_label.items()}
        save(result)   # after every stage, so a run stopped for time still leaves what it measured
        if name == "ingest":   # the floor right after ingest, so a later failure still leaves it measured
            sampler.label = "floor"
            result["floors"] = floors(spark, runner.table_path("ingest", "files"), str(work / f"scratch-{size}"))
            print(f"  floors: {result['floors']}", file=sys.stderr, flush=True)
            save(result)
    result["pipeline_seconds"] = round(sum(s["seconds"] for s in result["stages"].values()), 1)
    result["load_after"] = os.getloadavg()
    sampler.stop()
    result["peak_rss_mb"] = {k: round(v / 2**20) for k, v in sampler.peak.items()}
    result["peak_rss_mb_by_stage"] = {k: round(v / 2**20) for k, v in sampler.peak_by_label.items()}
    spark.stop()
    return result


# -- reports -----------------------------------------------------------------------------------------
def throughput_table(r: dict) -> str:
    cores = r["cores"]
    files_n = r["stages"]["ingest"]["files_in"]
    mb = r["stages"]["ingest"]["mb_in"]
    lines = [f"sample `{r['size']}`: {files_n} files, {mb:.1f} MB ingested, {r['master']} ({cores} cores); "
             f"load average before {r['load_before'][0]:.1f}, after {r.get('load_after', [float('nan')])[0]:.1f}",
             "", "| stage | files in | MB in | s | files/s/core | MB/s/core | x floor throughput | Spark jobs | job s (summed; jobs may overlap) |",
             "|---|---|---|---|---|---|---|---|---|"]
    floor_s = r["floors"]["parquet read+write"]
    floor_rate = mb / floor_s / cores
    for name, s in r["floors"].items():
        lines.append(f"| floor: {name} | {files_n} | {mb:.1f} | {s:.1f} | {files_n / s / cores:.0f} | "
                     f"{mb / s / cores:.2f} | {mb / s / cores / floor_rate:.2f} | | |")
    for name, st in r["stages"].items():
        rate = st["mb_in"] / st["seconds"] / cores
        lines.append(f"| {name} | {st['files_in']} | {st['mb_in']:.1f} | {st['seconds']:.1f} | "
                     f"{st['files_in'] / st['seconds'] / cores:.1f} | {rate:.3f} | {rate / floor_rate:.3f} | "
                     f"{st['jobs']} | {st['job_seconds']} |")
    return "\n".join(lines)


def scaling_table(base: dict, other: dict) -> str:
    shared = [s for s in base["stages"] if s in other["stages"]]
    lines = [f"| stage | {base['size']} s | {other['size']} s | MB ratio | time ratio |", "|---|---|---|---|---|"]
    for name in shared:
        a, b = base["stages"][name], other["stages"][name]
        lines.append(f"| {name} | {a['seconds']:.1f} | {b['seconds']:.1f} | {b['mb_in'] / a['mb_in']:.2f} | "
                     f"{b['seconds'] / a['seconds']:.2f} |")
    ta = sum(base["stages"][s]["seconds"] for s in shared)
    tb = sum(other["stages"][s]["seconds"] for s in shared)
    lines.append(f"| **{' + '.join(shared)}** | {ta:.1f} | {tb:.1f} | | **{tb / ta:.2f}** |")
    lines += ["", "| size | stages run | peak RSS total MB | driver JVM | driver Python | Python workers |",
              "|---|---|---|---|---|---|"]
    for r in (base, other):
        p = r.get("peak_rss_mb", {}) or dict.fromkeys(("total", "jvm", "driver_python", "python_workers"), "?")
        lines.append(f"| {r['size']} | {', '.join(r['stages'])} | {p['total']} | {p['jvm']} | "
                     f"{p['driver_python']} | {p['python_workers']} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache", help="sample corpus cache (default: $CODECORPUS_CACHE or ~/.cache/codecorpus)")
    ap.add_argument("--sizes", nargs="+", default=["default", "large"])
    ap.add_argument("--stages", default="ingest,annotate,filter,dedup,pii,format")
    ap.add_argument("--scaled-stages", help="stages for the sizes after the first (default: --stages)")
    ap.add_argument("--master", default="local[*]")
    ap.add_argument("--work", help="run directories (default: a temporary directory, removed at the end)")
    ap.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "codecorpus-bench"),
                    help="one JSON of results per size goes here")
    ap.add_argument("--one", metavar="SIZE", help="run only this size, in this process, and save its JSON")
    ap.add_argument("--report", action="store_true", help="print the tables from the saved JSONs of --sizes")
    args = ap.parse_args()
    if args.cache:
        os.environ["CODECORPUS_CACHE"] = str(Path(args.cache).resolve())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.one:
        def save(result):
            (out / f"pipeline-{args.one}.json").write_text(json.dumps(result, indent=1))
        work = Path(args.work or tempfile.mkdtemp(prefix="cc-bench-"))
        save(run_size(args.one, args.stages.split(","), work, args.master, save))
        return
    if args.report:
        results = [json.loads((out / f"pipeline-{size}.json").read_text()) for size in args.sizes]
        print("\n\n".join([throughput_table(r) for r in results] +
                           [scaling_table(results[0], r) for r in results[1:]]))
        return
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="cc-bench-"))
    results = []
    for i, size in enumerate(args.sizes):
        stages = args.stages if i == 0 or not args.scaled_stages else args.scaled_stages
        # Each size in its own process: a fresh JVM, so peak memory belongs to that size alone.
        subprocess.run([sys.executable, __file__, "--one", size, "--stages", stages, "--work", str(work),
                        "--master", args.master, "--out", str(out)], check=True)
        results.append(json.loads((out / f"pipeline-{size}.json").read_text()))
        print(throughput_table(results[-1]) + "\n", flush=True)
        if not args.work:
            shutil.rmtree(work / f"run-{size}", ignore_errors=True)
    for other in results[1:]:
        print(scaling_table(results[0], other) + "\n")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

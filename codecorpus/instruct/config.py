"""The `instruct` section of the run config: OSS-Instruct seeds, requests, generation and cleaning.

Defaults are Magicoder's published values (seed quotas, greedy decoding, max_tokens rule, dedup seed)
with SelfCodeAlign's improvements (function seeds, execution check) available as options.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from codecorpus import tokens
from codecorpus.filters.config import DecontaminationConfig

# Magicoder's 80K seed documents; keys are the corpus's (Linguist) language names.
MAGICODER_QUOTAS = {"Python": 40_000, "C++": 5_000, "Java": 5_000, "TypeScript": 5_000, "Shell": 5_000,
                    "C#": 5_000, "Rust": 5_000, "PHP": 5_000, "Swift": 5_000}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SeedConfig(_Section):
    mode: Literal["lines", "functions"] = Field("lines", description=(
        "lines: 1-15 consecutive lines from a uniform start (Magicoder); functions: one whole top-level "
        "function with a docstring or doc comment, found with tree-sitter (SelfCodeAlign)."))
    quotas: dict[str, int] = Field(default_factory=lambda: dict(MAGICODER_QUOTAS),
                                   description="Seeds per language (Linguist names); other languages are not seeded.")
    scale: float = Field(1.0, gt=0, description="Multiplies every quota (e.g. 0.001 for the sample corpus).")
    min_lines: int = Field(1, ge=1, description="Shortest snippet in lines mode.")
    max_lines: int = Field(15, ge=1, description="Longest snippet in lines mode.")
    metadata_prefixes: list[str] = Field(["<reponame>", "<filename>", "<gh_stars>", tokens.REPO_NAME, tokens.FILE_SEP],
                                         description="Lines starting with these are corpus metadata and never part of a seed.")
    min_function_lines: int = Field(3, ge=1, description="functions mode: shortest function kept.")
    max_function_lines: int = Field(60, ge=1, description="functions mode: longest function kept.")
    risky_modules: list[str] = Field(
        ["os", "sys", "subprocess", "shutil", "socket", "ctypes", "multiprocessing", "signal", "pickle",
         "requests", "urllib", "http", "ftplib", "smtplib", "telnetlib", "paramiko"],
        description="functions mode: a function that uses one of these is not a seed (its solution would need "
                    "a machine, a network or the file system to run).")
    parse_time_limit_s: float = Field(2.0, gt=0, description="functions mode: tree-sitter time per file.")
    max_parse_bytes: int = Field(1_000_000, gt=0, description="functions mode: larger files are not parsed.")


class RequestConfig(_Section):
    model: str = Field("gpt-3.5-turbo-1106", description="Model name sent in every request (Magicoder's).")
    temperature: float = Field(0.0, ge=0, le=2, description="0 is greedy, as Magicoder.")
    max_new_tokens: int = Field(2500, gt=0, description="max_tokens = min(this, context_tokens - prompt tokens - margin).")
    context_tokens: int = Field(8192, gt=0, description="The model's context window in tokens.")
    margin_tokens: int = Field(10, ge=0, description="Tokens kept free besides the prompt.")
    tokenizer: str | None = Field(None, description=(
        "Path to a Hugging Face tokenizer.json used to count prompt tokens (never downloaded). "
        "Unset: prompt tokens are estimated as UTF-8 bytes / 3, which over-counts for code."))
    ask_for_tests: bool = Field(False, description=(
        "Also ask for a [Tests] section of assert-based tests (needed by build.execution)."))
    url: str = Field("/v1/chat/completions", description="Endpoint path written in each batch line.")
    files: int = Field(1, ge=1, description="Requests are written as this many JSONL files (OpenAI Batch: <= 50,000 lines each).")


class GenerateConfig(_Section):
    base_url: str = Field("http://localhost:8000/v1", description="Any OpenAI-compatible server (vLLM, TGI, OpenAI).")
    api_key_env: str = Field("OPENAI_API_KEY", description="Environment variable holding the API key (may be unset for local servers).")
    concurrency: int = Field(64, ge=1, description="Requests in flight at once.")
    requests_per_minute: float | None = Field(None, gt=0, description="Rate limit; unset means no limit beyond concurrency.")
    max_retries: int = Field(6, ge=0, description="Retries of a request on 429, 5xx, timeouts and connection errors.")
    backoff_s: float = Field(1.0, gt=0, description="First retry delay; doubles each retry (with jitter), or the server's Retry-After.")
    max_backoff_s: float = Field(60.0, gt=0, description="Longest delay between retries.")
    timeout_s: float = Field(600.0, gt=0, description="Time limit of one HTTP request.")
    input_price_per_mtok: float = Field(0.0, ge=0, description="Price of 1M prompt tokens, for the cost estimate.")
    output_price_per_mtok: float = Field(0.0, ge=0, description="Price of 1M completion tokens, for the cost estimate.")


class SandboxConfig(_Section):
    time_limit_s: float = Field(10.0, gt=0, description="Wall-clock limit of one run; the process group is killed after it.")
    memory_mb: int = Field(1024, gt=0, description="Address-space limit (RLIMIT_AS) of the program.")
    max_output_bytes: int = Field(64 * 1024, gt=0, description="Largest file the program may write (RLIMIT_FSIZE); also the stdout/stderr kept.")
    require_isolation: bool = Field(True, description=(
        "Refuse to execute when the OS cannot isolate the program (no network namespace or read-only mounts). "
        "Set false only on a disposable machine: the program then runs with rlimits alone."))


class ExecutionConfig(_Section):
    enabled: bool = Field(False, description="Run each Python sample's solution with its tests in the sandbox; keep passing ones.")
    languages: list[str] = Field(["Python"], description="Languages executed (Python is the one supported).")
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)


class BuildConfig(_Section):
    shuffle_seed: int = Field(666, description="Order in which exact dedup keeps the first of duplicates (Magicoder's).")
    instruction_prefix: str = Field("Write a solution to the following coding problem:\n",
                                    description="Put before the problem to make the instruction (Magicoder's training format).")
    decontamination: DecontaminationConfig = Field(default_factory=DecontaminationConfig,
                                                   description="Exact benchmark match on problem + solution (the filter stage's).")
    similarity_threshold: float | None = Field(0.5, gt=0, le=1, description=(
        "Drop samples whose TF-IDF cosine to a HumanEval problem is at least this (catches reworded copies); unset disables."))
    execution: ExecutionConfig = Field(default_factory=ExecutionConfig)
    files: int = Field(1, ge=1, description="The dataset is written as this many Parquet (and JSONL) files.")


class InstructConfig(_Section):
    dir: str | None = Field(None, description="Where instruct outputs go (default: RUN_DIR/instruct).")
    seeds: SeedConfig = Field(default_factory=SeedConfig)
    requests: RequestConfig = Field(default_factory=RequestConfig)
    generate: GenerateConfig = Field(default_factory=GenerateConfig)
    build: BuildConfig = Field(default_factory=BuildConfig)

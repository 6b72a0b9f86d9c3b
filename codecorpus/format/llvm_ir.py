"""Source/LLVM IR pairs (reference §1.6): self-contained C, C++ and Rust files compiled to LLVM IR.

Which files: every file of the `files` table labelled C, C++ or Rust; a file is
self-contained when it compiles alone (with only the system headers or the standard library). Two cheap
checks skip the compiler for files that cannot: a C/C++ file with a quoted `#include "..."` and a Rust
file declaring an out-of-line `mod name;`. Anything else that does not compile gets a ledger row with the
compiler's first error line.

Each source draws, from an RNG seeded by (run seed, file_id), a size-optimised build (`size_rate`, 80%)
or a performance-optimised one, and a direction (`code_to_ir_rate`, 50%); only the drawn build runs:
    clang -S -emit-llvm -fno-discard-value-names -fstandalone-debug -Oz | -O3
    rustc --emit=llvm-ir -C strip=symbols -C debuginfo=0 -C codegen-units=1 -C inline-threshold=0
          -C opt-level=z | 3   (--crate-type bin with a `fn main`, else lib)
under a wall-clock and an address-space limit. The module header, target triple, datalayout, vendor
(`!llvm.ident`) and module-flag lines and CPU attributes are removed, then the pair is written as
    {code}<code_to_intermediate>{ir}<|endoftext|>   or   {ir}<intermediate_to_code>{code}<|endoftext|>
Exact dedup on the normalised IR keeps the smallest file_id of each IR; then, as IRCoder does, MinHash
near-dedup of the IR (the dedup stage's parameters; the smallest file_id of a cluster is kept).
"""
from __future__ import annotations

import hashlib
import re
import resource
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from pyspark import StorageLevel
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from codecorpus import tables, tokens
from codecorpus.dedup.config import DedupConfig
from codecorpus.ledger import Rejected, rejects
from codecorpus.stage import Balance, Stage, StageContext, StageResult

# Ledger rules of the ir stage.
COMPILER_MISSING = "compiler_missing"
NOT_SELF_CONTAINED = "not_self_contained"
COMPILE_ERROR = "compile_error"
COMPILE_TIMEOUT = "compile_timeout"
NO_CODE = "no_code_generated"
TOO_LARGE = "ir_source_too_large"
IR_EXACT_DUP = "ir_exact_dup"
IR_NEAR_DUP = "ir_near_dup"

COMPILERS = {"C": "clang", "C++": "clang", "Rust": "rustc"}
CLANG_FLAGS = ["-S", "-emit-llvm", "-fno-discard-value-names", "-fstandalone-debug"]
RUSTC_FLAGS = ["--emit=llvm-ir", "-C", "strip=symbols", "-C", "debuginfo=0", "-C", "codegen-units=1",
               "-C", "inline-threshold=0"]
LEVELS = {"size": {"clang": "-Oz", "rustc": "opt-level=z"}, "perf": {"clang": "-O3", "rustc": "opt-level=3"}}
LOCAL_INCLUDE = re.compile(r'^\s*#\s*include\s*"[^"]+"', re.M)
OUT_OF_LINE_MOD = re.compile(r"^\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*;", re.M)
RUST_MAIN = re.compile(r"^\s*(pub\s+)?fn\s+main\s*\(", re.M)
# Lines that name the machine or the toolchain rather than the program.
DROPPED_LINE = re.compile(r'^(; ModuleID|source_filename|target datalayout|target triple|!llvm\.ident|'
                          r'!llvm\.module\.flags|!\d+ = !\{!"[^"]*(clang|rustc) version|'
                          r'!\d+ = !\{i32 \d+, !"[^"]+", )')
CPU_ATTRIBUTE = re.compile(r' "(target-cpu|target-features|tune-cpu)"="[^"]*"')


class IrConfig(BaseModel):
    """The ir stage: compilers, rates and the limits of each compile."""
    model_config = ConfigDict(extra="forbid")

    clang: str = Field("clang", description="The clang executable (Debian package clang).")
    rustc: str = Field("rustc", description="The rustc executable (Debian package rustc; ~/.cargo/bin is searched too).")
    size_rate: float = Field(0.8, ge=0, le=1, description="Share of pairs with size-optimised IR (-Oz), else -O3.")
    code_to_ir_rate: float = Field(0.5, ge=0, le=1, description="Share of pairs written code first.")
    timeout_seconds: float = Field(30, gt=0, description="Wall-clock limit of one compile.")
    memory_mb: int = Field(2048, ge=64, description="Address-space limit of one compile.")
    max_source_bytes: int = Field(100_000, gt=0, description="Larger sources are not compiled.")
    near_dedup: bool = Field(True, description=(
        "After exact dedup, MinHash near-dedup of the normalised IR (the dedup section's parameters)."))


def draw_format(seed: int, source_id: str, cfg: IrConfig) -> tuple[str, str]:
    """(level, direction) of one source's pair: ("size" | "perf", "code_to_ir" | "ir_to_code")."""
    from codecorpus.format.repo_context import rng_for   # here: repo_context imports the config, which imports us
    rng = rng_for(seed, source_id)
    level = "size" if rng.random() < cfg.size_rate else "perf"
    return level, "code_to_ir" if rng.random() < cfg.code_to_ir_rate else "ir_to_code"


@lru_cache(maxsize=None)
def find_compiler(name: str) -> str | None:
    """The compiler's path, or None; rustup's ~/.cargo/bin is searched after PATH."""
    return shutil.which(name) or shutil.which(name, path=str(Path.home() / ".cargo" / "bin"))


def missing_compiler_message(tool: str, language: str) -> str:
    package = "rustc" if language == "Rust" else "clang"   # also the config key that names the executable
    return (f"{tool} is not installed, so {language} sources are not compiled to LLVM IR: install the Debian "
            f"package `{package}` (apt-get install -y {package}) or set ir.{package} to its path")


def _limits(memory_mb: int):
    def apply():
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return apply


def compile_ir(code: str, language: str, level: str, cfg: IrConfig) -> str:
    """The raw LLVM IR of one source at ``level``, or Rejected."""
    tool_name = cfg.rustc if language == "Rust" else cfg.clang
    tool = find_compiler(tool_name)
    if tool is None:
        raise Rejected(COMPILER_MISSING, tool_name, missing_compiler_message(tool_name, language))
    with tempfile.TemporaryDirectory(prefix="codecorpus-ir-") as work:
        if language == "Rust":
            source = Path(work, "source.rs")
            crate = "bin" if RUST_MAIN.search(code) else "lib"
            command = [tool, *RUSTC_FLAGS, "-C", LEVELS[level]["rustc"], "--edition=2021",
                       f"--crate-type={crate}", "-o", str(Path(work, "out.ll")), str(source)]
        else:
            source = Path(work, "source.c" if language == "C" else "source.cpp")
            command = [tool, *CLANG_FLAGS, LEVELS[level]["clang"], "-x", "c" if language == "C" else "c++",
                       "-o", str(Path(work, "out.ll")), str(source)]
        source.write_text(code, encoding="utf-8")
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=cfg.timeout_seconds,
                                  cwd=work, preexec_fn=_limits(cfg.memory_mb))
        except subprocess.TimeoutExpired:
            raise Rejected(COMPILE_TIMEOUT, f"{cfg.timeout_seconds:g}",
                           f"{tool_name} took longer than ir.timeout_seconds={cfg.timeout_seconds:g}") from None
        if done.returncode != 0:
            errors = [line for line in done.stderr.splitlines() if "error" in line] or done.stderr.splitlines()
            first = (errors[0] if errors else f"exit status {done.returncode}").replace(work + "/", "")
            raise Rejected(COMPILE_ERROR, str(done.returncode), f"{tool_name}: {first}"[:500])
        return Path(work, "out.ll").read_text(encoding="utf-8", errors="replace")


def normalise_ir(ir: str) -> str:
    """IR without the header, target, datalayout, vendor and module-flag lines or CPU attributes."""
    kept = [CPU_ATTRIBUTE.sub("", line) for line in ir.splitlines() if not DROPPED_LINE.match(line)]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip() + "\n"


def render_pair(code: str, ir: str, direction: str) -> str:
    if direction == "code_to_ir":
        return f"{code}{tokens.CODE_TO_INTERMEDIATE}{ir}{tokens.ENDOFTEXT}"
    return f"{ir}{tokens.INTERMEDIATE_TO_CODE}{code}{tokens.ENDOFTEXT}"


def compiled_pair(file_id: str, language: str, code: str, seed: int, cfg: IrConfig) -> tuple[str, str, str, str]:
    """(text, normalised IR, level, direction) of one source, or Rejected."""
    if len(code.encode("utf-8")) > cfg.max_source_bytes:
        raise Rejected(TOO_LARGE, str(len(code.encode("utf-8"))), f"over ir.max_source_bytes={cfg.max_source_bytes}")
    local = LOCAL_INCLUDE.search(code) if language != "Rust" else OUT_OF_LINE_MOD.search(code)
    if local:
        raise Rejected(NOT_SELF_CONTAINED, local.group(0).strip(), "needs another file of its repository")
    level, direction = draw_format(seed, file_id, cfg)
    ir = normalise_ir(compile_ir(code, language, level, cfg))
    if not re.search(r"^define ", ir, re.M):
        raise Rejected(NO_CODE, level, "the IR defines no function (declarations only)")
    return render_pair(code, ir, direction), ir, level, direction


def ir_pair(file_id: str, language: str, code: str, seed: int, cfg: IrConfig) -> tuple[str, str, str, str]:
    """(text, ir_hash, level, direction) of one source, or Rejected."""
    text, ir, level, direction = compiled_pair(file_id, language, code, seed, cfg)
    return text, hashlib.sha1(ir.encode()).hexdigest(), level, direction


RESULT_DDL = ("file_id string, repo_name string, path string, language string, text string, ir string, ir_hash string, "
              "level string, direction string, rule string, value string, detail string")
RESULT_COLUMNS = [c.split()[0] for c in RESULT_DDL.split(", ")]


def _compile_batches(batches: Iterator[pd.DataFrame], seed: int, cfg: IrConfig) -> Iterator[pd.DataFrame]:
    for batch in batches:
        rows = []
        for file_id, repo_name, path, language, code in zip(batch["file_id"], batch["repo_name"], batch["path"],
                                                            batch["language"], batch["content"]):
            row = dict.fromkeys(RESULT_COLUMNS) | {"file_id": file_id, "repo_name": repo_name, "path": path,
                                                   "language": language}
            try:
                text, ir, level, direction = compiled_pair(file_id, language, code, seed, cfg)
                row |= {"text": text, "ir": ir, "ir_hash": hashlib.sha1(ir.encode()).hexdigest(), "level": level,
                        "direction": direction}
            except Rejected as rejected:
                row |= {"rule": rejected.rule, "value": rejected.value[:200],
                        "detail": f"{repo_name}/{path}: {rejected}"[:1000]}
            rows.append(row)
        yield pd.DataFrame(rows, columns=RESULT_COLUMNS)


# The files the ir stage consumes.
SOURCES_WHERE = "language in (" + ", ".join(f"'{lang}'" for lang in COMPILERS) + ")"


def ir_documents(files: DataFrame, cfg: IrConfig, seed: int, dedup: DedupConfig | None = None,
                 scratch_dir: str | None = None) -> tuple[DataFrame, DataFrame]:
    """One pair document per compiled, IR-unique source, and ledger rows for every other source; with
    ``dedup`` and ``scratch_dir`` (and ir.near_dedup), IR near-duplicates are dropped too."""
    sources = files.where(SOURCES_WHERE).select("file_id", "repo_name", "path", "language", "content")
    results = (sources.mapInPandas(lambda it: _compile_batches(it, seed, cfg), RESULT_DDL)
               .persist(StorageLevel.DISK_ONLY))   # compiles are expensive; read for pairs and rejects
    compiled = results.where(F.col("rule").isNull()).withColumn(
        "kept_id", F.min("file_id").over(Window.partitionBy("ir_hash")))
    pairs = compiled.where(F.col("file_id") == F.col("kept_id"))
    near = None
    if cfg.near_dedup and dedup is not None and scratch_dir:
        from codecorpus.format.doc_dedup import near_duplicates
        near = near_duplicates(pairs, "file_id", "ir", dedup, f"{scratch_dir}/ir_near").persist(StorageLevel.DISK_ONLY)
        pairs = pairs.join(near.select(F.col("id").alias("file_id")), "file_id", "left_anti")
    documents = pairs.select(
        F.sha1(F.concat_ws("\0", "file_id", F.lit("llvm_ir"))).alias("doc_id"), F.lit("llvm_ir").alias("source"),
        "repo_name", F.array("language", F.lit("LLVM")).alias("languages"), "text",
        F.length("text").cast("bigint").alias("n_chars"), F.lit(None).cast("bigint").alias("n_tokens"),
        F.array("file_id").alias("source_ids"),
        F.to_json(F.struct("path", "level", "direction", F.lit(seed).alias("seed"))).alias("metadata"))
    failed = results.where(F.col("rule").isNotNull())
    dropped = rejects(failed, F.col("rule"), F.col("value"), F.col("detail")).unionByName(
        rejects(compiled.where(F.col("file_id") != F.col("kept_id")), IR_EXACT_DUP, F.col("kept_id")))
    if near is not None:
        dropped = dropped.unionByName(rejects(near, IR_NEAR_DUP, F.col("kept_id"),
                                              F.format_string("jaccard=%.3f", "est_jaccard"), id_col="id"))
    return tables.conform(documents, "documents"), dropped


def _run(ctx: StageContext) -> StageResult:
    cfg = ctx.config.ir
    for language in ("C", "Rust"):
        tool = cfg.rustc if language == "Rust" else cfg.clang
        if find_compiler(tool) is None:   # the driver says it once; each source gets its ledger row
            print(f"[ir] {missing_compiler_message(tool, language)}; those sources go to the ledger "
                  f"as {COMPILER_MISSING}")
    documents, dropped = ir_documents(ctx.inputs["files"], cfg, ctx.seed, ctx.config.dedup, ctx.scratch_dir)
    return StageResult({"ir_documents": documents}, dropped)


STAGE = Stage("ir", ("files",), ("ir_documents",), _run, ("ir", "dedup"),
              (Balance("files", "ir_documents", merged="source_ids", where=SOURCES_WHERE),),
              doc="Self-contained C, C++ and Rust files compiled to LLVM IR: code/IR pairs.")

"""Source/LLVM IR pairs (reference §1.6) on real files: Rust from the small sample corpus's Debian
librust-*-dev packages, C++ headers from its libfmt-dev, and C and C++ programs numpy ships."""
from pathlib import Path

import numpy
import pytest
from pyspark.sql import functions as F

from codecorpus import tokens
from codecorpus.dedup.config import DedupConfig
from codecorpus.format import llvm_ir as ir
from codecorpus.sources.sample import build_sample

CFG = ir.IrConfig()
needs_clang = pytest.mark.skipif(ir.find_compiler("clang") is None, reason=ir.missing_compiler_message("clang", "C"))
needs_rustc = pytest.mark.skipif(ir.find_compiler("rustc") is None, reason=ir.missing_compiler_message("rustc", "Rust"))


@pytest.fixture(scope="module")
def repos():
    root = build_sample("small", progress=lambda m: None) / "repos"
    return lambda path: (root / path).read_text(encoding="utf-8")


ANYHOW_BUILD = "debian/librust-anyhow-dev/build.rs"      # std only: compiles alone
LOG_KEY = "debian/librust-log-dev/src/kv/key.rs"        # std only, no main: a lib crate
ANYHOW_TEST = "debian/librust-anyhow-dev/tests/test_fmt.rs"   # needs the anyhow crate
FMT_ARGS = "debian/libfmt-dev/usr/include/fmt/args.h"  # includes "core.h" of its repository


NUMPY = Path(numpy.__file__).parent
NUMPY_C = NUMPY / "distutils/checks/cpu_sse.c"                      # SSE intrinsics, a main()
NUMPY_CPP = NUMPY / "_core/tests/data/generate_umath_validation_data.cpp"   # the C++ standard library


@needs_clang
def test_clang_ir_of_real_c_and_cpp_programs():
    for path, language in ((NUMPY_C, "C"), (NUMPY_CPP, "C++")):
        raw = ir.compile_ir(path.read_text(), language, "size", CFG)
        assert "clang version" in raw and "target triple" in raw and '"target-cpu"' in raw
        clean = ir.normalise_ir(raw)
        for gone in ("; ModuleID", "source_filename", "target triple", "target datalayout", "!llvm.ident",
                     "!llvm.module.flags", "clang version", '"target-cpu"', '"target-features"', "wchar_size"):
            assert gone not in clean, (path.name, gone)
        assert "define dso_local" in clean and "@main(" in clean   # -fno-discard-value-names keeps names
    c_ir = ir.normalise_ir(ir.compile_ir(NUMPY_C.read_text(), "C", "perf", CFG))
    assert "optsize" not in c_ir and "optsize" in ir.normalise_ir(ir.compile_ir(NUMPY_C.read_text(), "C", "size", CFG))


@needs_clang
def test_render_command_compiles_one_file(capsys):
    from codecorpus.cli import main
    assert main(["render", "ir", str(NUMPY_C)]) == 0
    out = capsys.readouterr().out
    level, direction = ir.draw_format(42, str(NUMPY_C), CFG)
    assert out.startswith(f"===== llvm_ir (C, {level}, {direction}), ")
    assert main(["render", "ir", str(NUMPY_C), "--config", "missing.yaml"]) == 2   # a clear config error


def test_format_rates_over_5000_ids():
    draws = [ir.draw_format(42, f"file-{i}", CFG) for i in range(5000)]
    size_share = sum(level == "size" for level, _ in draws) / len(draws)
    code_first = sum(direction == "code_to_ir" for _, direction in draws) / len(draws)
    assert abs(size_share - 0.8) <= 0.02 and abs(code_first - 0.5) <= 0.02
    assert draws == [ir.draw_format(42, f"file-{i}", CFG) for i in range(5000)]   # seeded, not global
    assert draws != [ir.draw_format(43, f"file-{i}", CFG) for i in range(5000)]
    flipped = ir.IrConfig(size_rate=0.2, code_to_ir_rate=0.9)
    assert abs(sum(ir.draw_format(7, f"f{i}", flipped)[0] == "size" for i in range(5000)) / 5000 - 0.2) <= 0.02


@needs_rustc
def test_normalised_ir_has_no_header_target_or_vendor_lines(repos):
    raw = ir.compile_ir(repos(LOG_KEY), "Rust", "size", CFG)
    assert raw.startswith("; ModuleID") and "target triple" in raw and "target datalayout" in raw
    clean = ir.normalise_ir(raw)
    for gone in ("; ModuleID", "source_filename", "target triple", "target datalayout", "!llvm.ident",
                 "!llvm.module.flags", "rustc version", '"target-cpu"'):
        assert gone not in clean
    assert "\ndefine " in clean and "attributes #0 = {" in clean
    perf = ir.normalise_ir(ir.compile_ir(repos(LOG_KEY), "Rust", "perf", CFG))
    assert perf != clean   # -O3 and opt-level=z give different code


@needs_rustc
def test_pair_golden_both_directions(repos):
    code = repos(LOG_KEY)
    ir_text = ir.normalise_ir(ir.compile_ir(code, "Rust", "size", CFG))
    assert ir.render_pair(code, ir_text, "code_to_ir") == code + "<code_to_intermediate>" + ir_text + "<|endoftext|>"
    assert ir.render_pair(code, ir_text, "ir_to_code") == ir_text + "<intermediate_to_code>" + code + "<|endoftext|>"
    assert (tokens.CODE_TO_INTERMEDIATE, tokens.INTERMEDIATE_TO_CODE) == ("<code_to_intermediate>",
                                                                          "<intermediate_to_code>")
    level, direction = ir.draw_format(42, "log-key", CFG)
    text, _, got_level, got_direction = ir.ir_pair("log-key", "Rust", code, 42, CFG)
    assert (got_level, got_direction) == (level, direction)
    assert text.startswith(code + "<code_to_intermediate>") if direction == "code_to_ir" else text.endswith(
        "<intermediate_to_code>" + code + "<|endoftext|>")


def rejection(path_code, language, cfg=CFG):
    with pytest.raises(ir.Rejected) as caught:
        ir.ir_pair("id", language, path_code, 42, cfg)
    return caught.value


@needs_rustc
def test_sources_that_do_not_compile_alone_get_rules(repos):
    local = rejection(repos(FMT_ARGS), "C++")
    assert local.rule == ir.NOT_SELF_CONTAINED and local.value == '#include "core.h"'
    failed = rejection(repos(ANYHOW_TEST), "Rust")
    assert failed.rule == ir.COMPILE_ERROR and "anyhow" in str(failed)
    slow = rejection(repos(ANYHOW_BUILD), "Rust", ir.IrConfig(timeout_seconds=0.001))
    assert slow.rule == ir.COMPILE_TIMEOUT
    big = rejection(repos(ANYHOW_BUILD), "Rust", ir.IrConfig(max_source_bytes=100))
    assert big.rule == ir.TOO_LARGE


def test_a_missing_compiler_names_the_debian_package(repos):
    missing = rejection(repos(ANYHOW_BUILD), "Rust", ir.IrConfig(rustc="rustc-not-installed"))
    assert missing.rule == ir.COMPILER_MISSING and "apt-get install -y rustc" in str(missing)
    missing = rejection("int main(void) { return 0; }\n", "C", ir.IrConfig(clang="clang-not-installed"))
    assert "Debian package `clang`" in str(missing)


@needs_rustc
@needs_clang
def test_ir_stage_pairs_dedups_and_accounts_for_every_source(spark, repos, tmp_path):
    paths = [ANYHOW_BUILD, LOG_KEY, ANYHOW_TEST, FMT_ARGS]
    rows = [(f"id-{i}", path.split("/")[1], path, "C++" if path.endswith(".h") else "Rust", repos(path))
            for i, path in enumerate(paths)]
    rows.append(("id-9", "debian/copy", "copy/key.rs", "Rust", repos(LOG_KEY)))   # the same source again
    rows.append(("id-py", "x", "x.py", "Python", "print(1)\n"))                   # not this stage's input
    checks = NUMPY / "distutils/checks"   # SSE and SSE2 probes: IR alike (exact Jaccard 0.71), not equal
    rows += [(f"id-sse{i}", "numpy", f"checks/{name}", "C", (checks / name).read_text())
             for i, name in enumerate(["cpu_sse.c", "cpu_sse2.c"])]
    files = spark.createDataFrame(rows, "file_id string, repo_name string, path string, language string, "
                                        "content string").repartition(2)
    documents, dropped = ir.ir_documents(files, CFG, seed=42, dedup=DedupConfig(), scratch_dir=str(tmp_path))
    docs = documents.select("source_ids", "source", "metadata", "text").toPandas()
    ledger = dropped.toPandas()
    assert sorted(i for ids in docs["source_ids"] for i in ids) == ["id-0", "id-1", "id-sse0"]
    assert dict(zip(ledger["id"], ledger["rule"])) == {
        "id-2": ir.COMPILE_ERROR, "id-3": ir.NOT_SELF_CONTAINED, "id-9": ir.IR_EXACT_DUP,
        "id-sse1": ir.IR_NEAR_DUP}
    assert ledger.set_index("id").loc["id-9", "value"] == "id-1"   # the kept copy
    assert ledger.set_index("id").loc["id-sse1", "value"] == "id-sse0"
    assert set(docs["source"]) == {"llvm_ir"}
    assert all(('"level"' in m and '"direction"' in m) for m in docs["metadata"])
    assert documents.where(F.col("n_chars") != F.length("text")).count() == 0

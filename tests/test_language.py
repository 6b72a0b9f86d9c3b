"""Language, vendor, generated and documentation annotation on real files shipped with the environment."""
from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
from pathlib import Path

import numpy
import pyarrow
import pyspark
import pytest

from codecorpus.annotate import language as lang

REPO = Path(__file__).resolve().parents[1]
PYSPARK = Path(pyspark.__file__).parent


def real(path: Path) -> bytes:
    assert path.is_file(), f"expected a real file at {path}"
    return path.read_bytes()


def test_c_header_from_numpy_is_c():
    header = Path(numpy.get_include()) / "numpy" / "npy_common.h"
    assert lang.detect_language("numpy/npy_common.h", real(header)) == "C"


def test_cpp_header_from_arrow_is_cpp():
    header = Path(pyarrow.get_include()) / "arrow" / "type_traits.h"
    assert lang.detect_language("arrow/type_traits.h", real(header)) == "C++"


def test_python_module_and_extensionless_script():
    module = Path(importlib.metadata.distribution("pyspark").locate_file("pyspark/sql/functions/builtin.py"))
    assert lang.detect_language("pyspark/sql/functions/builtin.py", real(module)) == "Python"
    # an entry-point script: no extension, the shebang names the interpreter
    script = Path(sys.executable).parent / "pytest"
    assert lang.detect_language("bin/pytest", real(script)) == "Python"


@pytest.mark.skipif(shutil.which("perl") is None, reason="needs the system perl for real Perl files")
def test_perl_module_and_script():
    privlib = Path(subprocess.run(["perl", "-MConfig", "-e", "print $Config{privlib}"],
                                  capture_output=True, text=True, check=True).stdout)
    assert lang.detect_language("lib/strict.pm", real(privlib / "strict.pm")) == "Perl"
    # .pl is shared with Prolog and Raku: the heuristics read the content
    assert lang.detect_language("lib/perl5db.pl", real(privlib / "perl5db.pl")) == "Perl"


def test_unknown_names_get_no_language():
    record = Path(importlib.metadata.distribution("pyspark")._path) / "RECORD"
    assert lang.detect_language("pyspark-4.3.0.dist-info/RECORD", real(record)) is None
    header = real(Path(numpy.get_include()) / "numpy" / "npy_common.h")
    assert lang.detect_language("src/npy_common.h.orig-copy", header) is None


@pytest.mark.parametrize("path, vendored", [
    ("node_modules/left-pad/index.js", True),
    ("web/vendor/jquery/jquery.js", True),
    ("third_party/zlib/inflate.c", True),
    ("src/main.c", False),
    ("lib/vendoring.py", False),
])
def test_vendor_paths(path, vendored):
    assert lang.is_vendor(path) is vendored


@pytest.mark.parametrize("path, documentation", [
    ("docs/index.md", True),
    ("README.md", True),
    ("pkg/README", True),
    ("CHANGELOG.md", True),
    ("src/doc_utils.py", False),
])
def test_documentation_paths(path, documentation):
    assert lang.is_documentation(path) is documentation


def test_generated_cython_output_and_its_handwritten_source():
    # fontTools ships the C that Cython generated from cu2qu.py next to the module itself
    package = Path(importlib.metadata.distribution("fonttools").locate_file("fontTools/cu2qu"))
    assert lang.is_generated("fontTools/cu2qu/cu2qu.c", real(package / "cu2qu.c"))
    assert not lang.is_generated("fontTools/cu2qu/cu2qu.py", real(package / "cu2qu.py"))


def test_generated_minified_javascript():
    npm = shutil.which("npm")
    minified = sorted(Path(npm).resolve().parents[1].rglob("*.min.js")) if npm else []
    if not minified:
        pytest.skip("no npm installation with minified files on this machine")
    source = minified[0]
    assert lang.is_generated("dist/" + source.name, real(source))


def test_generated_file_matches_linguist_data():
    shipped = (REPO / "lang_configs" / "languages.yaml").read_text()
    assert lang.load_rules_text() == shipped, "codecorpus/data copy is stale: re-run gen_languages.py"
    linguist = REPO.parent / "shared" / "linguist"
    if not linguist.exists():
        pytest.skip("Linguist data not present")
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import gen_languages
    finally:
        sys.path.pop(0)
    assert gen_languages.build(linguist) == shipped
    assert "Copyright (c) 2017 GitHub, Inc." in shipped


def test_annotate_files_on_spark_keeps_rows_and_columns(spark):
    import pandas as pd

    sources = {
        "numpy/npy_common.h": Path(numpy.get_include()) / "numpy" / "npy_common.h",
        "arrow/type_traits.h": Path(pyarrow.get_include()) / "arrow" / "type_traits.h",
        "pyspark/sql/session.py": PYSPARK / "sql" / "session.py",
        "node_modules/pyspark/sql/column.py": PYSPARK / "sql" / "column.py",
        "docs/RECORD": Path(importlib.metadata.distribution("pyspark")._path) / "RECORD",
    }
    pdf = pd.DataFrame({"file_id": [f"id{i}" for i in range(len(sources))],
                        "path": list(sources),
                        "content": [p.read_text() for p in sources.values()],
                        "length_bytes": [p.stat().st_size for p in sources.values()]})
    files = spark.createDataFrame(pdf).repartition(3)
    out = lang.annotate_files(files)
    assert out.columns == ["file_id", "path", "content", "length_bytes",
                           "language", "is_vendor", "is_generated", "is_documentation"]
    rows = {r["path"]: r for r in out.select("path", "file_id", "length_bytes", "language", "is_vendor",
                                             "is_documentation", "is_generated").collect()}
    assert len(rows) == len(sources)
    assert rows["numpy/npy_common.h"]["language"] == "C"
    assert rows["arrow/type_traits.h"]["language"] == "C++"
    assert rows["pyspark/sql/session.py"]["language"] == "Python"
    assert rows["node_modules/pyspark/sql/column.py"]["is_vendor"] is True
    assert rows["docs/RECORD"]["is_documentation"] is True and rows["docs/RECORD"]["language"] is None
    assert rows["pyspark/sql/session.py"]["length_bytes"] == sources["pyspark/sql/session.py"].stat().st_size


def test_annotate_files_overwrites_existing_annotation_columns_in_place(spark):
    from pyspark.sql import functions as F

    header = Path(numpy.get_include()) / "numpy" / "npy_common.h"
    files = spark.createDataFrame([("a", "include/npy_common.h", header.read_text())],
                                  "file_id string, path string, content string")
    files = files.withColumn("language", F.lit(None).cast("string")).withColumn("extension", F.lit("h"))
    out = lang.annotate_files(files)
    assert out.columns[:5] == ["file_id", "path", "content", "language", "extension"]
    assert out.select("language").first()["language"] == "C"

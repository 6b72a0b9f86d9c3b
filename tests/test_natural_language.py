"""fastText natural-language id on real documents: the stdlib's CJK test texts (Chinese, Japanese,
Korean), English READMEs and an HTML page shipped in installed packages; code files get nulls."""
from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest

from codecorpus.annotate.natural_language import (CONFIG_KEY, NaturalLanguageConfig, add_natural_language,
                                                  model_file)
from tests.test_filters_helpers import file_row, files_frame, site_file

CJK = Path(sysconfig.get_paths()["stdlib"]) / "test" / "cjkencodings"

# (where, path, Linguist language, expected natural language)
CASES = [
    ("stdlib", "big5-utf8.txt", "Text", "zh"),
    ("stdlib", "gb2312-utf8.txt", "Text", "zh"),
    ("stdlib", "euc_jp-utf8.txt", "Text", "ja"),
    ("stdlib", "euc_kr-utf8.txt", "Text", "ko"),
    ("site", "flask/sansio/README.md", "Markdown", "en"),
    ("site", "numpy/ma/README.rst", "reStructuredText", "en"),
    ("site", "pyspark/licenses/LICENSE-javassist.html", "HTML", "en"),
    ("site", "flask/sansio/app.py", "Python", None),
]


def _path(where: str, rel: str) -> Path:
    path = CJK / rel if where == "stdlib" else site_file(rel)
    if not path.is_file():
        pytest.skip(f"{path} is not in this environment")
    return path


@pytest.fixture(scope="module")
def identified(spark):
    rows = [file_row("real/docs", _path(where, rel), rel, language) for where, rel, language, _ in CASES]
    out = add_natural_language(files_frame(spark, rows).repartition(2, "file_id"))
    return {r.path: (r.natural_language, r.natural_language_score)
            for r in out.select("path", "natural_language", "natural_language_score").collect()}


@pytest.mark.parametrize("where,rel,language,expected", CASES, ids=[c[1] for c in CASES])
def test_documents_get_their_language_and_code_gets_null(identified, where, rel, language, expected):
    code, score = identified[rel]
    assert code == expected
    if expected is None:
        assert score is None
    else:
        assert 0.5 < score <= 1.0


def test_the_shipped_model_is_used_by_default():
    path = Path(model_file(NaturalLanguageConfig()))
    assert path.name == "lid.176.ftz" and path.stat().st_size > 500_000
    assert (path.parent / "NOTICE.md").read_text().count("CC BY-SA 3.0") >= 1


def test_a_missing_model_names_the_config_key(spark, tmp_path):
    cfg = NaturalLanguageConfig(model_path=str(tmp_path / "lid.176.bin"))
    frame = files_frame(spark, [file_row("real/docs", site_file("flask/sansio/README.md"), "README.md")])
    with pytest.raises(FileNotFoundError, match=CONFIG_KEY.replace(".", r"\.")):
        add_natural_language(frame, cfg)


def test_disabled_gives_null_columns(spark):
    frame = files_frame(spark, [file_row("real/docs", site_file("flask/sansio/README.md"), "README.md")])
    out = add_natural_language(frame, NaturalLanguageConfig(enabled=False))
    assert out.schema["natural_language"].dataType.simpleString() == "string"
    assert out.where("natural_language IS NOT NULL").count() == 0

"""Kaggle notebooks (reference §1.4) on real notebooks wrapped into the Meta Kaggle Code layout
(tests/kaggle_fixtures.py). Expected texts are written by hand from the reference's Kaggle template."""
import csv
import json

import pytest

from codecorpus import tables
from codecorpus.config import parse_config
from codecorpus.format import kaggle as kg
from codecorpus.format.notebooks import parse_notebook
from codecorpus.ledger import Rejected
from codecorpus.pipeline import STAGES
from tests.kaggle_fixtures import ISSUE_12_QUOTE, ITEM_SALES, kaggle_root
from tests.notebook_fixtures import notebook_dir

CFG = kg.KaggleConfig()


@pytest.fixture(scope="module")
def root():
    return kaggle_root()


def notebook(root, kernel_version):
    return (root / "code" / "0000" / "100" / f"{kernel_version}.ipynb").read_text(encoding="utf-8")


ITEM_SALES_META = {"title": "item_sales_daily", "description": ITEM_SALES, "owner": "alkaline-ml",
                   "slug": "pmdarima-item-sales"}


def test_kaggle_golden_with_dataset_header_and_no_csv(root):
    text, _ = kg.render_kaggle(notebook(root, 100002), ITEM_SALES_META, CFG, str(root / "input"))
    assert text == (
        "<jupyter_start><jupyter_text>item_sales_daily\n"
        "This dataset was submitted by a user in [Issue #12](https://github.com/alkaline-ml/pmdarima/issues/32) "
        "and showed a very slow performance on the `CHTest`.\n"
        "Kaggle dataset identifier: alkaline-ml/pmdarima-item-sales<jupyter_script>"
        "# # Benchmarking seasonality tests\n#\n"
        "# The `CHTest` for seasonality has shown itself to be... slow. This notebook demonstrates the speed (or "
        "lack-thereof) of the old-style `CHTest` in v1.1.0 vs. later iterations.\n"
        "# ### Setup\n#\n"
        "# This portion won't change between versions of `pmdarima`. This dataset was submitted by a user in "
        "[Issue #12](https://github.com/alkaline-ml/pmdarima/issues/32) and showed a very slow performance on the "
        "`CHTest`. Therefore, it's effective for use in benchmarking.\n"
        'import pandas as pd\n\nX = pd.read_csv("../input/pmdarima-item-sales/item_sales_daily.csv")\n'
        'y = X["sales"].values\nX.head()\n'
        "import pmdarima as pm\nimport time\nfrom functools import wraps\n\n\n"
        'def timed(func):\n    """A decorator to time a result"""\n\n    @wraps(func)\n'
        "    def wrapper(*args, **kwargs):\n        start = time.time()\n        res = func(*args, **kwargs)\n"
        '        print("Complete in %.3f seconds" % (time.time() - start))\n        return res\n\n'
        "    return wrapper\n\n\n"
        "@timed\ndef benchmark(x, test):\n"
        "    res = pm.arima.nsdiffs(x, m=365, max_D=5, test=test)  # 365 since daily\n"
        '    print("Version: %s" % pm.__version__)\n    return res\n\n\n'
        '# # Version 1.1.0\nbenchmark(y, "ch")\n# # Version 1.2.0\nbenchmark(y, "ch")\n'
        "# Version 1.2.0 added the `OCSBTest`, which is orders of magnitude faster than the `CHTest`.\n"
        'benchmark(y, "ocsb")<|endoftext|>')


def test_kaggle_read_csv_gets_df_info_and_four_rows_and_the_template_is_stripped(root):
    meta = {"title": "Issue 12", "description": ISSUE_12_QUOTE, "owner": "alkaline-ml", "slug": "pmdarima-issue-12"}
    text, code = kg.render_kaggle(notebook(root, 100001), meta, CFG, str(root / "input"))
    header, script = text.split("<jupyter_script>")
    assert header == (
        f"<jupyter_start><jupyter_text>Issue 12\n{ISSUE_12_QUOTE}\n"
        "Kaggle dataset identifier: alkaline-ml/pmdarima-issue-12<jupyter_code>import pandas as pd\n\n"
        'df = pd.read_csv("../input/pmdarima-issue-12/dummy_data.csv")\ndf.info()<jupyter_output>'
        "<class 'pandas.core.frame.DataFrame'>\nRangeIndex: 1610 entries, 0 to 1609\n"
        "Data columns (total 2 columns):\n"
        " #   Column     Non-Null Count  Dtype \n---  ------     --------------  ----- \n"
        " 0   time       1610 non-null   object\n 1   occupancy  1610 non-null   int64 \n"
        "dtypes: int64(1), object(1)\nmemory usage: 25.3+ KB<jupyter_text>Examples:\n"
        '{\n    "time": "2017-03-01 00:02:01",\n    "occupancy": 2\n}\n'
        '{\n    "time": "2017-03-01 00:04:01",\n    "occupancy": 3\n}\n'
        '{\n    "time": "2017-03-01 00:06:01",\n    "occupancy": 2\n}\n'
        '{\n    "time": "2017-03-01 00:08:01",\n    "occupancy": 1\n}')
    # the first cell was Kaggle's template: gone; the notebook's own cells follow, magics dropped
    assert script.startswith("# # [Issue 12](https://github.com/alkaline-ml/pyramid/issues/12)\n#\n")
    assert "kaggle/python Docker image" not in text and "%matplotlib" not in text and script == code + "<|endoftext|>"
    without_csv = kg.render_kaggle(notebook(root, 100001), meta, CFG, None)[0]
    assert without_csv.split("<jupyter_script>")[0] == header.split("<jupyter_code>")[0]


def test_no_dataset_gives_the_plain_script(root):
    text, code = kg.render_kaggle(notebook(root, 100003), {}, CFG, None)
    assert text == f"<jupyter_script>{code}<|endoftext|>" and code.startswith("# # `auto_arima`\n#\n")


def test_render_command_prints_the_script(root, capsys):
    from codecorpus.cli import main
    assert main(["render", "kaggle", str(root / "code/0000/100/100003.ipynb")]) == 0
    assert capsys.readouterr().out.startswith("===== kaggle_scripts, 7901 characters\n<jupyter_script># # `auto_arima`")
    assert main(["render", "kaggle", str(root / "code/0000/100/100005.ipynb")]) == 1
    assert "kaggle_syntax_error" in capsys.readouterr().err


def test_script_conversion_drops_magics_and_long_lines():
    path = notebook_dir() / "ipynb_py" / "Notebook with html and latex cells.ipynb"
    nb = parse_notebook(path.read_text(encoding="utf-8"), 1 << 20)
    script = kg.to_script(nb, 600)
    assert not any(line.startswith("%") for line in script.splitlines())   # %%html, %%latex, %load_ext, %%R...
    assert "library(ggplot2)" in script and "import pandas as pd" in script   # a magic cell's body stays
    assert all(len(line) <= 40 for line in kg.to_script(nb, 40).splitlines())
    assert "import pandas as pd" in kg.to_script(nb, 40) and "library(ggplot2)" in kg.to_script(nb, 40)


@pytest.mark.parametrize("kernel_version, rule", [(100005, kg.SYNTAX_ERROR), (100006, kg.TOO_SHORT),
                                                  (100007, kg.NOT_PYTHON), (100008, "invalid_json")])
def test_bad_notebooks_are_rejected(root, kernel_version, rule):
    with pytest.raises(Rejected) as rejected:
        kg.render_kaggle(notebook(root, kernel_version), {}, CFG, None)
    assert rejected.value.rule == rule


def test_strip_template_only_at_the_start():
    assert kg.strip_template(kg.TEMPLATE + "\n\nx = 1\n") == "x = 1"
    assert kg.strip_template(kg.SHORT_TEMPLATE + "import numpy as np\n") == "import numpy as np"
    assert kg.strip_template("x = 1\n" + kg.TEMPLATE) == ("x = 1\n" + kg.TEMPLATE).strip()


def test_kaggle_stage_documents_ledger_and_near_dedup(spark, root, tmp_path):
    with open(root / "DatasetVersions.csv", encoding="utf-8") as f:   # the fixture's descriptions round-trip
        assert [r["Description"] for r in csv.DictReader(f)] == [ISSUE_12_QUOTE, ITEM_SALES]
    config = parse_config({"stages": ["kaggle"], "kaggle": {"root": str(root)}})
    assert STAGES["kaggle"].writes == ("kaggle_documents",)
    documents, dropped = kg.kaggle_documents(spark, config.kaggle, config.dedup, str(tmp_path))
    tables.check(documents, "documents")
    rows = {r["source_ids"][0]: r for r in documents.collect()}
    assert sorted(rows) == ["100001", "100002", "100003"]
    assert {r["source"] for r in rows.values()} == {"kaggle_scripts"}
    assert [json.loads(rows[k]["metadata"])["has_dataset"] for k in sorted(rows)] == [True, True, False]
    assert rows["100002"]["text"] == kg.render_kaggle(notebook(root, 100002), ITEM_SALES_META, CFG, None)[0]
    assert "df.info()<jupyter_output>" in rows["100001"]["text"]
    ledger = {r["id"]: (r["rule"], r["value"], r["id_kind"]) for r in dropped.collect()}
    assert {k: v[0] for k, v in ledger.items()} == {"100004": kg.NEAR_DUP, "100005": kg.SYNTAX_ERROR,
                                                    "100006": kg.TOO_SHORT, "100007": kg.NOT_PYTHON,
                                                    "100008": "invalid_json"}
    assert ledger["100004"][1] == "100003" and {v[2] for v in ledger.values()} == {"kaggle_notebook"}

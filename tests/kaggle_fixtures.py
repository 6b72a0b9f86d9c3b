"""Real notebooks wrapped into the Meta Kaggle Code layout (codecorpus/format/kaggle.py) for the kaggle
stage's tests, built deterministically from pinned PyPI sdists (fetched and sha256-checked like the sample
corpus, cached under $CODECORPUS_CACHE):

    python -m tests.kaggle_fixtures      # build (once) and print the layout's root

Notebooks (``code/0000/100/<KernelVersionId>.ipynb``):
- 100001: pmdarima 2.1.1's ``examples/issue12/issue-12.ipynb`` (MIT), with Kaggle's template (StarCoder2's
  kaggle/ TEMPLATE) as a first code cell and ``read_csv('dummy_data.csv')`` pointed at
  ``../input/pmdarima-issue-12/dummy_data.csv``; its dataset's file is ``input/pmdarima-issue-12/dummy_data.csv``
  (the sdist's ``dummy_data.csv``).
- 100002: pmdarima's ``benchmarks/Benchmarking Seasonality.ipynb``, ``read_csv('item_sales_daily.csv.gz')``
  pointed at ``../input/pmdarima-item-sales/item_sales_daily.csv``; its dataset has metadata but no file.
- 100003: pmdarima's ``examples/quick_start_example.ipynb``, no dataset; 100004: the same notebook without its
  last two cells (a fork, as Kaggle has many: a near-duplicate).
- 100005: jupytext 1.16.4's ``jupyter_again.ipynb`` (MIT), whose ``?next`` help line does not compile;
  100006: jupytext's ``sample_rise_notebook_66.ipynb`` (too short); 100007: jupytext's R kernel
  ``ipynb_R/ir_notebook.ipynb``; 100008: issue-12.ipynb cut at half its bytes (not JSON).

Meta Kaggle tables: kernel versions 100001 and 100002 use dataset versions 5001 and 5002 of datasets 701
and 702, owned by user 9, ``alkaline-ml`` (pmdarima's GitHub organisation). Titles and descriptions are
the notebooks' own words about their data: "Issue 12" with the issue filer's quote, and
"item_sales_daily" with the benchmark notebook's sentence about where the data came from.
"""
from __future__ import annotations

import csv
import io
import json
import tarfile
from pathlib import Path

from codecorpus.format.kaggle import TEMPLATE
from codecorpus.sources.sample import SourceEntry, built_once, cache_root, fetch_all

PMDARIMA = SourceEntry("pypi", "pmdarima", "2.1.1")
JUPYTEXT = SourceEntry("pypi", "jupytext", "1.16.4")
FORMAT = 1   # bump when the output changes
ISSUE_12_QUOTE = ("I have a seasonal time-series data set which comprises of 2 months of data. Now if I mention "
                  "the frequency as \"2 min\" or \"365x24x30\" then it tries to divide the dataset with that "
                  "frequency. But my data set is just for 2 months and obviously, it has way lesser values than "
                  "the freq.")
ITEM_SALES = ("This dataset was submitted by a user in [Issue #12](https://github.com/alkaline-ml/pmdarima/issues/32) "
              "and showed a very slow performance on the `CHTest`.")


def _member(archive: Path, name: str) -> bytes:
    with tarfile.open(archive) as sdist:
        return sdist.extractfile(name).read()


def _notebook(data: bytes) -> dict:
    return json.loads(data.decode("utf-8"))


def _replace_in_cells(notebook: dict, old: str, new: str) -> dict:
    for cell in notebook["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        cell["source"] = source.replace(old, new)
    return notebook


def _csv(path: Path, header: list[str], rows: list[list]) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")


def build(out: Path) -> None:
    archives = fetch_all([PMDARIMA, JUPYTEXT], cache_root() / "downloads", progress=lambda message: None)
    pmd, jtx = archives[PMDARIMA.key], archives[JUPYTEXT.key]
    issue12_bytes = _member(pmd, "pmdarima-2.1.1/examples/issue12/issue-12.ipynb")
    issue12 = _replace_in_cells(_notebook(issue12_bytes), "read_csv('dummy_data.csv')",
                                "read_csv('../input/pmdarima-issue-12/dummy_data.csv')")
    issue12["cells"].insert(0, {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                                "source": TEMPLATE})
    bench = _replace_in_cells(_notebook(_member(pmd, "pmdarima-2.1.1/benchmarks/Benchmarking Seasonality.ipynb")),
                              "read_csv('item_sales_daily.csv.gz')",
                              "read_csv('../input/pmdarima-item-sales/item_sales_daily.csv')")
    quick = _notebook(_member(pmd, "pmdarima-2.1.1/examples/quick_start_example.ipynb"))
    fork = dict(quick, cells=quick["cells"][:-2])
    inside = "jupytext-1.16.4/tests/data/notebooks/inputs/"
    notebooks = {
        100001: json.dumps(issue12, indent=1), 100002: json.dumps(bench, indent=1),
        100003: json.dumps(quick, indent=1), 100004: json.dumps(fork, indent=1),
        100005: _member(jtx, inside + "ipynb_py/jupyter_again.ipynb").decode("utf-8"),
        100006: _member(jtx, inside + "ipynb_py/sample_rise_notebook_66.ipynb").decode("utf-8"),
        100007: _member(jtx, inside + "ipynb_R/ir_notebook.ipynb").decode("utf-8"),
        100008: issue12_bytes[: len(issue12_bytes) // 2].decode("utf-8", errors="ignore"),
    }
    code = out / "code" / "0000" / "100"
    code.mkdir(parents=True)
    for kernel_version, text in notebooks.items():
        (code / f"{kernel_version}.ipynb").write_text(text, encoding="utf-8")
    _csv(out / "KernelVersionDatasetSources.csv", ["Id", "KernelVersionId", "SourceDatasetVersionId"],
         [[1, 100001, 5001], [2, 100002, 5002]])
    _csv(out / "DatasetVersions.csv", ["Id", "DatasetId", "Slug", "Title", "Description"],
         [[5001, 701, "pmdarima-issue-12", "Issue 12", ISSUE_12_QUOTE],
          [5002, 702, "pmdarima-item-sales", "item_sales_daily", ITEM_SALES]])
    _csv(out / "Datasets.csv", ["Id", "OwnerUserId"], [[701, 9], [702, 9]])
    _csv(out / "Users.csv", ["Id", "UserName"], [[9, "alkaline-ml"]])
    data = out / "input" / "pmdarima-issue-12"
    data.mkdir(parents=True)
    (data / "dummy_data.csv").write_bytes(_member(pmd, "pmdarima-2.1.1/examples/issue12/dummy_data.csv"))


def kaggle_root() -> Path:
    """The layout's root, built on first use."""
    return built_once(cache_root() / f"kaggle-fixtures-{FORMAT}", build)


if __name__ == "__main__":
    print(kaggle_root())

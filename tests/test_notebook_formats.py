"""Jupyter notebooks in StarCoder2's script and structured formats (reference §1.4), on jupytext's real
test notebooks (tests/notebook_fixtures.py). Expected texts are written by hand from the reference's
templates, token by token."""
import json

import pytest

from codecorpus import tokens
from codecorpus.config import parse_config
from codecorpus.format import notebooks as nb
from codecorpus.pipeline import STAGES
from codecorpus.runner import LedgerImbalance, Runner
from codecorpus.tables import spark_schema
from tests.notebook_fixtures import nbformat_dir, notebook_dir

CFG = nb.NotebooksConfig()


@pytest.fixture(scope="module")
def real():
    root = notebook_dir()
    return lambda name: (root / name).read_text(encoding="utf-8")


def documents(content, cfg=CFG):
    docs, rejected = nb.render_notebook(content, cfg)
    assert rejected is None, rejected
    return {source: text for source, _, text in docs}


def test_reference_tokens_are_the_tokens_module():
    assert (tokens.JUPYTER_START, tokens.JUPYTER_TEXT, tokens.JUPYTER_CODE, tokens.JUPYTER_OUTPUT,
            tokens.JUPYTER_SCRIPT, tokens.EMPTY_OUTPUT) == (
        "<jupyter_start>", "<jupyter_text>", "<jupyter_code>", "<jupyter_output>", "<jupyter_script>",
        "<empty_output>")


def test_structured_merges_code_keeps_last_output_and_drops_trailing_markdown(real):
    # markdown, code -> 3, markdown, code -> (1, 2), code -> (1, 2, 3), markdown
    text = documents(real("ipynb_py/jupyter.ipynb"))["jupyter_structured"]
    assert text == (
        "<jupyter_start><jupyter_text># Jupyter notebook\n\nThis notebook is a simple jupyter notebook. It only "
        "has markdown and code cells. And it does not contain consecutive markdown cells. We start with an "
        "addition:<jupyter_code>a = 1\nb = 2\na + b<jupyter_output>3"
        "<jupyter_text>Now we return a few tuples<jupyter_code>a, b\na, b, a+b<jupyter_output>(1, 2, 3)"
        "<|endoftext|>")


def test_structured_drops_a_leading_code_cell(real):
    # code 1 + 1 -> 2 (dropped), markdown, code f, code f(5) -> 5, markdown, code 2 + 2 -> 4
    text = documents(real("ipynb_py/Notebook with function and cell metadata 164.ipynb"))["jupyter_structured"]
    assert text == (
        "<jupyter_start><jupyter_text>A markdown cell\nAnd below, the cell for function f has non trivial cell "
        "metadata. And the next cell as well.<jupyter_code>def f(x):\n    return x\nf(5)<jupyter_output>5"
        "<jupyter_text>More text<jupyter_code>2 + 2<jupyter_output>4<|endoftext|>")


def test_structured_empty_output(real):
    text = documents(real("ipynb_py/sample_rise_notebook_66.ipynb"))["jupyter_structured"]
    assert text == ("<jupyter_start><jupyter_text>A markdown cell<jupyter_code>1+1<jupyter_output><empty_output>"
                    "<|endoftext|>")


def test_structured_outputs_and_their_truncation(real):
    content = real("ipynb_py/text_outputs_and_images.ipynb")
    full = documents(content)["jupyter_structured"]
    # Two display_data outputs of the group's last cell (the first cell's execute_result is not kept),
    # images as their text/plain, an error as `name: value`.
    assert ("<jupyter_output>   0\n0  5\n   0\n0  6<jupyter_text># Images<jupyter_code>%matplotlib inline\n"
            "# First plot\n") in full
    assert ("<jupyter_output><Figure size 432x288 with 1 Axes>\n<Figure size 432x288 with 1 Axes>"
            "<jupyter_text># Errors<jupyter_code>undefined_variable<jupyter_output>NameError: name "
            "'undefined_variable' is not defined<|endoftext|>") in full
    assert "0  4" not in full and "iVBORw0KGgo" not in full
    cut = documents(content, nb.NotebooksConfig(output_max_chars=8))["jupyter_structured"]
    assert "<jupyter_output>   0\n0  [...]<jupyter_text># Images" in cut   # 8 characters kept
    assert "<jupyter_output>NameErro[...]<|endoftext|>" in cut


def test_nbformat_3_notebook_is_upgraded(real):
    """nbformat's own v3 test notebook: headings become Markdown headings, consecutive heading and markdown
    cells merge, the language comes from v3's per-cell `language`, pyout outputs are execute results."""
    text = documents((nbformat_dir() / "test3.ipynb").read_text())["jupyter_structured"]
    lorem = ("**Lorem ipsum** dolor sit amet, consectetur adipiscing elit. Nunc luctus bibendum felis dictum "
             "sodales. Ut suscipit, orci ut interdum imperdiet, purus ligula mollis *justo*, non malesuada nisl "
             "augue eget lorem. Donec bibendum, erat sit amet porttitor aliquam, urna lorem ornare libero, in "
             "vehicula diam diam ut ante. Nam non urna rhoncus, accumsan elit sit amet, mollis tellus. Vestibulum "
             "nec tellus metus. Vestibulum tempor, ligula et vehicula rhoncus, sapien turpis faucibus lorem, id "
             "dapibus turpis mauris ac orci. Sed volutpat vestibulum venenatis.")
    assert text == (
        f"<jupyter_start><jupyter_text># nbconvert latex test\n{lorem}\n## Printed Using Python"
        '<jupyter_code>print("hello")<jupyter_output>hello'
        "<jupyter_text>## Pyout<jupyter_code>from IPython.display import HTML\n"
        'HTML("""\n<script>\nconsole.log("hello");\n</script>\n<b>HTML</b>\n""")\n'
        '%%javascript\nconsole.log("hi");<jupyter_output><IPython.core.display.Javascript at 0x1112b4b50>'
        "<jupyter_text>### Image<jupyter_code>from IPython.display import Image\n"
        'Image("http://ipython.org/_static/IPy_header.png")<jupyter_output><IPython.core.display.Image at '
        "0x111275490><|endoftext|>")


def test_script_in_the_notebooks_language(real):
    script = documents(real("ipynb_py/jupyter.ipynb"))["jupyter_script"]
    assert script == (
        "<jupyter_script># # Jupyter notebook\n#\n# This notebook is a simple jupyter notebook. It only has "
        "markdown and code cells. And it does not contain consecutive markdown cells. We start with an "
        "addition:\n\na = 1\nb = 2\na + b\n\n# Now we return a few tuples\n\na, b\n\na, b, a+b\n\n"
        "# And this is already the end of the notebook\n<|endoftext|>")
    docs, rejected = nb.render_notebook(real("ipynb_R/ir_notebook.ipynb"), CFG)
    assert rejected is None and [(s, lang) for s, lang, _ in docs] == [("jupyter_script", "r")]  # not Python
    assert docs[0][2] == ("<jupyter_script># This is a jupyter notebook that uses the IR kernel.\n\n"
                          "sum(1:10)\n\nplot(cars)\n\n\n<|endoftext|>")
    rust = documents(real("ipynb_rust/evcxr_jupyter_tour.ipynb"))["jupyter_script"]
    assert rust.startswith("<jupyter_script>// # Tour of the EvCxR Jupyter Kernel\n")


def test_render_command_prints_both_formats(capsys):
    from codecorpus.cli import main
    assert main(["render", "notebook", str(notebook_dir() / "ipynb_py/sample_rise_notebook_66.ipynb")]) == 0
    out = capsys.readouterr().out
    assert "===== jupyter_structured, 104 characters\n<jupyter_start><jupyter_text>A markdown cell" in out
    assert "===== jupyter_script" in out


def bad_shapes(real) -> dict[str, tuple[str, str]]:
    """Real bad notebooks (nbformat's test suite) and real notebooks put in the bad shapes found in the
    wild, with the rule each must trip."""
    good = real("ipynb_py/jupyter.ipynb")
    nul = json.loads(good)
    nul["cells"][1]["source"] = ["a = 1\x00\x01\x02"]
    nbformat_test = lambda name: (nbformat_dir() / name).read_text()  # noqa: E731
    julia = json.loads(real("ipynb_julia/julia_functional_geometry.ipynb"))
    julia["metadata"] = {}
    return {
        "truncated.ipynb": (good[: len(good) // 2], nb.INVALID_JSON),
        "test2.ipynb": (nbformat_test("test2.ipynb"), nb.UNKNOWN_NBFORMAT),
        "test3_no_worksheets.ipynb": (nbformat_test("test3_no_worksheets.ipynb"), nb.INVALID_JSON),
        "julia_without_metadata.ipynb": (json.dumps(julia), nb.NO_LANGUAGE),   # not guessed: not Python
        "nul.ipynb": (json.dumps(nul), nb.BINARY_CELL),
        "images.ipynb": (real("ipynb_py/Notebook_with_R_magic.ipynb"), nb.HUGE_BASE64),   # 73 KB of PNG
        "raw_only.ipynb": (real("ipynb_py/The flavors of raw cells.ipynb"), nb.EMPTY_NOTEBOOK),
    }


def test_bad_notebooks_get_a_rule_and_a_message(real):
    cfg = nb.NotebooksConfig(max_base64_bytes=10_000)
    for name, (content, rule) in bad_shapes(real).items():
        docs, rejected = nb.render_notebook(content, cfg)
        assert docs == [] and rejected.rule == rule, (name, rejected and rejected.rule)
        assert str(rejected)
    assert "nbformat 2 is not supported" in str(nb.render_notebook(bad_shapes(real)["test2.ipynb"][0], cfg)[1])


def test_notebooks_stage_accounts_for_every_notebook(spark, tmp_path, real):
    """Every .ipynb file reaches a document or a ledger row, checked by the runner's own balance check."""
    root = notebook_dir()
    files = [(f"nb{i:03d}", "pypi/jupytext-1.16.4", str(p.relative_to(root)), p.read_text(encoding="utf-8"))
             for i, p in enumerate(sorted(root.rglob("*.ipynb")))]
    files += [(f"bad-{name}", "pypi/jupytext-1.16.4", f"bad/{name}", content)
              for name, (content, _) in bad_shapes(real).items()]
    files.append(("readme", "pypi/jupytext-1.16.4", "README.md", "not a notebook: not this stage's input"))
    frame = spark.createDataFrame(files, "file_id string, repo_name string, path string, content string")
    documents, rejected = nb.notebook_documents(frame.repartition(3), nb.NotebooksConfig(max_base64_bytes=10_000))
    documents, rejected = documents.toPandas(), rejected.toPandas()   # a few dozen small rows

    by_rule = rejected.set_index("detail")["rule"].to_dict()
    for name, (_, rule) in bad_shapes(real).items():
        assert by_rule[next(d for d in by_rule if d.startswith(f"pypi/jupytext-1.16.4/bad/{name}:"))] == rule
    assert "nbformat 2 is not supported" in next(d for d in by_rule if "bad/test2.ipynb" in d)
    counts = documents["source"].value_counts()
    assert counts["jupyter_script"] == len(files) - 1 - len(rejected)
    assert 0 < counts["jupyter_structured"] < counts["jupyter_script"]
    assert set(documents.columns) == {f.name for f in spark_schema("documents").fields}

    runner = Runner(parse_config({"run_dir": str(tmp_path / "run")}), spark, STAGES, progress=lambda m: None)
    as_frames = lambda pdf: spark.createDataFrame(pdf, spark_schema("documents") if pdf is documents else None)
    ledger = rejected.drop(columns="stage").assign(stage="notebooks")
    runner._check_balances(STAGES["notebooks"], {"files": frame}, [],
                           {"notebook_documents": as_frames(documents)},
                           spark.createDataFrame(ledger[["id", "id_kind", "rule"]]))
    with pytest.raises(LedgerImbalance, match="1 file ids of files"):   # one notebook lost is caught
        runner._check_balances(STAGES["notebooks"], {"files": frame}, [],
                               {"notebook_documents": as_frames(documents)},
                               spark.createDataFrame(ledger[["id", "id_kind", "rule"]].iloc[1:]))


def test_language_is_guessed_for_notebooks_without_kernel_metadata(real):
    """Every jupytext test notebook with its metadata removed: how often the guess names Python for the
    Python ones (recall) and for the others (false positives: R, Wolfram or SoS code that is valid Python)."""
    guesses = {}
    for path in sorted(notebook_dir().rglob("*.ipynb")):
        data = json.loads(path.read_text(encoding="utf-8"))
        data["metadata"] = {}
        try:
            notebook = nb.parse_notebook(json.dumps(data), 1 << 30)
        except nb.Rejected:
            continue
        guesses[path.relative_to(notebook_dir()).as_posix()] = nb.guess_language(notebook)
    python = [g for name, g in guesses.items() if name.startswith("ipynb_py/")]
    others = [g for name, g in guesses.items() if not name.startswith("ipynb_py/")]
    assert (sum(g == "python" for g in python), len(python)) == (15, 18)   # %%latex, `?next`: not Python
    assert (sum(g == "python" for g in others), len(others)) == (4, 35)
    assert set(others) == {None, "python"}
    invalid = nbformat_dir() / "v4_5_invalid_metadata.ipynb"   # kernelspec is a string: no language
    assert nb.render_notebook(invalid.read_text(), nb.NotebooksConfig(structured=False))[0][0][1] == "python"
    off = nb.NotebooksConfig(guess_language=False)
    assert nb.render_notebook(invalid.read_text(), off)[1].rule == nb.NO_LANGUAGE

"""The text stage (reference §1.7-1.8) on real rows (tests/text_fixtures.py): Wikipedia extracts, jupytext's
FAQ as Stack Exchange-style Q&A, docutils' LaTeX documents as arXiv sources and HumanEval's JSONL. Expected
texts are written by hand from the reference's templates."""
import gzip
import json
import tarfile
from collections import Counter

import pyarrow.parquet as pq
import pytest

from codecorpus import tables
from codecorpus.config import parse_config
from codecorpus.format import text_sources as ts
from codecorpus.format.repo_context import rng_for
from codecorpus.ledger import Rejected
from codecorpus.pipeline import STAGES
from codecorpus.sources.sample import SourceEntry, cache_root, fetch_all
from tests.text_fixtures import text_fixture_dir


@pytest.fixture(scope="module")
def fixtures():
    return text_fixture_dir()


def dataset(**fields):
    return ts.TextDataset(**{"name": "d", "source": "lhq", "paths": ["unused"], **fields})


def latex(fixtures, name):
    return next(r["text"] for r in map(json.loads, (fixtures / "arxiv.jsonl").open()) if r["id"] == name)


def humaneval(fixtures):
    return [json.loads(line) for line in gzip.open(fixtures / "humaneval.jsonl.gz")]


def test_arxiv_golden_drops_preamble_comments_and_keeps_the_body(fixtures):
    text = ts.render_row({"text": latex(fixtures, "cyrillic.tex")}, dataset(template="arxiv", source="arxiv"), 42, "r")
    assert text == (
        "\\section{Заголовок\n  \\label{section-1}\n}\n\nпервый пример: «Здравствуй, мир!»\n\n"
        "\\section{Title\n  \\label{title}\n}\n\n\\foreignlanguage{english}{first example: “Hello world”.}\n\n"
        "\\section{Примечания\n  \\label{section-2}\n}\n\n"
        "Этот документ испытивает изображение LaTeXом кириллических букв.\n\n"
        "\\foreignlanguage{english}{This document tests the rendering of Latin and Cyrillic characters by the\n"
        "LaTeX and XeTeX writers. Check the compiled PDF for garbage characters in\ntext and bookmarks.}\n\n"
        "\\end{document}<|endoftext|>")


def test_arxiv_expands_argumentless_macros_and_skips_preamble_sections(fixtures):
    source = latex(fixtures, "latex_leavevmode.tex")
    assert "\\subsubsection*{\\emph{#1}}" in source   # a sectioning command inside a preamble macro
    text = ts.clean_latex(source)
    assert text.startswith("\\section{Elements needing \\texttt{\\textbackslash{}leavevmode}")
    assert "\\documentclass" not in text and "% " not in text
    macro = ts.clean_latex("\\newcommand{\\corpus}{The Stack v2}\n\\begin{document}\n\\section{A}\n"
                           "\\corpus{} and \\corpusx \\bibliography{refs}\n")
    assert macro == "\\section{A}\nThe Stack v2{} and \\corpusx"
    with pytest.raises(Rejected) as no_section:
        ts.clean_latex(latex(fixtures, "latex_babel.tex"))
    assert no_section.value.rule == ts.NO_SECTION


def test_stackexchange_golden_one_answer(fixtures):
    row = pq.read_table(fixtures / "faq.parquet").to_pylist()[1]
    text = ts.render_row(row, dataset(template="stackexchange", source="stackoverflow"), 42, "q1")
    assert text == (
        "<issue_start>username_0: Why would I want to convert my notebooks to text?<issue_comment>username_1: "
        "The text representation only contains the part of the notebook that you wrote (not the outputs). You get "
        "a cleaner diff history. Thanks to the _two-way_ conversion, you can also act on the text file and then "
        "propagate the changes to the original `.ipynb` file. Refactor your code or merge multiple contributions "
        "easily!\nUpvotes: 0 [selected answer]<|endoftext|>")


def test_stackexchange_answers_in_seeded_random_order(fixtures):
    row = pq.read_table(fixtures / "faq.parquet").to_pylist()[2]   # two answers, the first selected
    cfg = dataset(template="stackexchange", source="stackoverflow")
    first, second = row["answers"][0]["text"], row["answers"][1]["text"]
    in_order = (f"<issue_start>username_0: How do I use Jupytext?<issue_comment>username_1: {first}\nUpvotes: 1 "
                f"[selected answer]<issue_comment>username_2: {second}\nUpvotes: 0<|endoftext|>")
    swapped = (f"<issue_start>username_0: How do I use Jupytext?<issue_comment>username_1: {second}\nUpvotes: 0"
               f"<issue_comment>username_2: {first}\nUpvotes: 1 [selected answer]<|endoftext|>")
    texts = {row_id: ts.render_row(row, cfg, 7, row_id) for row_id in map(str, range(40))}
    assert set(texts.values()) == {in_order, swapped}
    for row_id, text in texts.items():   # the order is the RNG's of (seed, row id), the same on every call
        order = [0, 1]
        rng_for(7, row_id).shuffle(order)
        assert text == (in_order if order == [0, 1] else swapped) == ts.render_row(row, cfg, 7, row_id)


def test_lhq_templates_on_humaneval_rows(fixtures):
    problem = humaneval(fixtures)[0]
    prompt, solution = problem["prompt"], problem["canonical_solution"]
    qa = dataset(template="qa", columns={"question": "prompt", "answer": "canonical_solution"})
    assert ts.render_row(problem, qa, 0, "r") == f"{prompt}\n{solution}<|endoftext|>"
    apps = dataset(template="apps", columns={"question": "prompt", "solutions": "canonical_solution"})
    as_apps = dict(problem, canonical_solution=json.dumps([solution]))
    assert ts.render_row(as_apps, apps, 0, "r") == (
        f"\nQUESTION:\n{prompt}\nUse Standard Input format\nANSWER:\n{solution}<|endoftext|>")
    call_based = dict(as_apps, input_output=json.dumps({"fn_name": problem["entry_point"]}), starter_code="")
    assert "\nUse Call-Based format\nANSWER:\n" in ts.render_row(call_based, apps, 0, "r")
    contests = {"description": prompt, "solutions": {"language": [3, 2, 3], "solution": [solution, "int main", "x"]}}
    assert ts.render_row(contests, dataset(template="code_contests"), 0, "r") == (
        f"{prompt}\nSolution (Python 3):{solution}\nSolution (C++):int main\n<|endoftext|>")
    rosetta = {"task_name": problem["entry_point"], "description": prompt,
               "solutions": [{"language": "Python", "code": solution}, {"language": "Python", "code": prompt}]}
    assert ts.render_row(rosetta, dataset(template="rosetta_code"), 0, "r") == (
        f"has_close_elements\n{prompt}\n\nLanguage: Python\n{solution}\n\nLanguage: Python\n{prompt}<|endoftext|>")


def test_pii_redaction_on_request():
    pypdf = SourceEntry("pypi", "pypdf", "7.1.0")   # BSD-3-Clause; its LICENSE names contributors with emails
    archive = fetch_all([pypdf], cache_root() / "downloads", progress=lambda message: None)[pypdf.key]
    with tarfile.open(archive) as sdist:
        license_text = sdist.extractfile("pypdf-7.1.0/LICENSE").read().decode("utf-8")
    assert "copyright (c) 2007, Ashish Kulkarni <kulkarni.ashish@gmail.com>" in license_text
    redacted = ts.render_row({"text": license_text}, dataset(pii=["email"]), 42, "r")
    assert "copyright (c) 2007, Ashish Kulkarni <<EMAIL>>" in redacted and "@gmail.com" not in redacted
    assert ts.render_row({"text": license_text}, dataset(), 42, "r") == license_text + "<|endoftext|>"


def test_bad_rows_are_rejected_with_their_rule():
    plain = dataset()
    cases = [({"title": "Celtuce"}, ts.MISSING_COLUMN), ({"text": ""}, ts.EMPTY_TEXT), ({"text": 3}, ts.BAD_VALUE),
             (["not", "an", "object"], ts.NOT_JSON)]
    for record, rule in cases:
        with pytest.raises(Rejected) as rejected:
            ts.render_row(record, plain, 0, "r")
        assert rejected.value.rule == rule, record
    with pytest.raises(Rejected) as no_answers:
        ts.render_row({"question": "Why?", "answers": []}, dataset(template="stackexchange"), 0, "r")
    assert no_answers.value.rule == ts.EMPTY_TEXT


def test_config_rejects_unknown_columns_and_duplicate_names():
    with pytest.raises(ValueError, match="not read by this template"):
        dataset(template="plain", columns={"question": "q"})
    with pytest.raises(ValueError, match="unique"):
        ts.TextConfig(datasets=[dataset(), dataset()])


def test_text_stage_every_row_reaches_a_document_or_the_ledger(spark, fixtures):
    config = parse_config({"stages": ["text"], "text": {"datasets": [
        {"name": "wiki", "source": "wikipedia", "paths": [str(fixtures / "wikipedia.jsonl")], "languages": ["English"]},
        {"name": "faq", "source": "stackoverflow", "paths": [str(fixtures / "faq.parquet")], "template": "stackexchange"},
        {"name": "tex", "source": "arxiv", "paths": [str(fixtures / "arxiv.jsonl")], "template": "arxiv"},
        {"name": "he", "source": "lhq", "paths": [str(fixtures / "humaneval*.jsonl.gz")], "template": "qa",
         "columns": {"question": "prompt", "answer": "canonical_solution"}}]}})
    assert STAGES["text"].list_units is ts.list_text_units and STAGES["text"].writes == ("text_documents",)
    units = ts.list_text_units(config)
    assert [u.unit_id.split(":")[0] for u in units] == ["faq", "he", "he", "tex", "wiki"]
    documents, dropped = ts.text_documents(spark, config.text, units, 42)
    tables.check(documents, "documents")
    docs, ledger = documents.collect(), dropped.collect()
    # humaneval-cut.jsonl.gz gives the 2 lines before its gzip stream breaks
    assert Counter(d["source"] for d in docs) == {"wikipedia": 4, "stackoverflow": 17, "arxiv": 2, "lhq": 5 + 2}
    assert Counter(r["rule"] for r in ledger) == {ts.NOT_JSON: 1, ts.MISSING_COLUMN: 1, ts.EMPTY_TEXT: 1,
                                                  ts.NO_SECTION: 1, ts.UNREADABLE_FILE: 1}
    ids = {r["id"] for r in ledger} | {i for d in docs for i in d["source_ids"]}
    wiki = next(u.location for u in units if u.unit_id.startswith("wiki:"))
    assert {f"wiki:{wiki}:{n}" for n in range(1, 8)} <= ids   # all 7 lines of the file
    first = next(d for d in docs if d["source_ids"] == [f"wiki:{wiki}:1"])
    assert first["languages"] == ["English"] and first["text"].startswith("Celtuce (Lactuca sativa")
    assert json.loads(first["metadata"])["template"] == "plain"
    # the same rows whatever the sharding
    split = ts.text_documents(spark, config.text, units[::2], 42)[0].unionByName(
        ts.text_documents(spark, config.text, units[1::2], 42)[0])
    assert tables.digest(split) == tables.digest(documents)

"""PDF documentation through poppler's pdftotext (reference §1.5) on real PDFs: pypdf 7.1.0's test
resources (BSD-3-Clause): a text PDF, one without a text layer, an encrypted one, and the text PDF cut
in half (a broken download)."""
import tarfile

import pytest

from codecorpus.format import pdf_docs
from codecorpus.sources.sample import SourceEntry, cache_root, fetch_all

PYPDF = SourceEntry("pypi", "pypdf", "7.1.0")
needs_pdftotext = pytest.mark.skipif(pdf_docs.shutil.which("pdftotext") is None,
                                     reason=pdf_docs.missing_tool_message("pdftotext"))
CRAZY_ONES = (
    "The Crazy Ones\nOctober 14, 1998\nHeres to the crazy ones. The misfits. The rebels. The troublemakers.\n"
    "The round pegs in the square holes.\nThe ones who see things diﬀerently. Theyre not fond of rules. And\n"
    "they have no respect for the status quo. You can quote them,\ndisagree with them, glorify or vilify them.\n"
    "About the only thing you cant do is ignore them. Because they change\nthings. They invent. They imagine. "
    "They heal. They explore. They\ncreate. They inspire. They push the human race forward.\n"
    "Maybe they have to be crazy.\nHow else can you stare at an empty canvas and see a work of art? Or\n"
    "sit in silence and hear a song thats never been written? Or gaze at\na red planet and see a laboratory on "
    "wheels?\nWe make tools for these kinds of people.\nWhile some see them as the crazy ones, we see genius. "
    "Because the\npeople who are crazy enough to think they can change the world,\nare the ones who do.")


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory):
    archive = fetch_all([PYPDF], cache_root() / "downloads", progress=lambda message: None)[PYPDF.key]
    out = tmp_path_factory.mktemp("pdfs")
    with tarfile.open(archive) as sdist:
        for name in ("crazyones.pdf", "box.pdf", "encryption/r2-user-password.pdf"):
            (out / name.split("/")[-1]).write_bytes(sdist.extractfile(f"pypdf-7.1.0/resources/{name}").read())
    data = (out / "crazyones.pdf").read_bytes()
    (out / "cut.PDF").write_bytes(data[: len(data) // 2])
    return out


@needs_pdftotext
def test_pdf_text_golden(pdfs):
    assert pdf_docs.pdf_text((pdfs / "crazyones.pdf").read_bytes(), "pdftotext", 10) == CRAZY_ONES


@needs_pdftotext
def test_docs_pdfs_become_documents_or_ledger_rows(spark, pdfs):
    documents, dropped = pdf_docs.pdf_documents(spark, [str(pdfs)], "pdftotext", 10, 1)
    docs = {r["source_ids"][0].rsplit("/", 1)[-1]: r for r in documents.collect()}
    assert list(docs) == ["crazyones.pdf"] and docs["crazyones.pdf"]["text"] == CRAZY_ONES + "<|endoftext|>"
    assert docs["crazyones.pdf"]["source"] == "documentation"
    rules = {r["id"].rsplit("/", 1)[-1]: r["rule"] for r in dropped.collect()}
    assert rules == {"box.pdf": pdf_docs.NO_TEXT, "r2-user-password.pdf": pdf_docs.EXTRACTION_FAILED,
                     "cut.PDF": pdf_docs.EXTRACTION_FAILED}
    missing, missing_dropped = pdf_docs.pdf_documents(spark, [str(pdfs / "crazyones.pdf")], "no-pdftotext", 10, 1)
    row = missing_dropped.first()
    assert missing.count() == 0 and row["rule"] == pdf_docs.TOOL_MISSING and "poppler-utils" in row["detail"]

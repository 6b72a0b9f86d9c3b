"""Documentation sites (reference §1.5) on real pages of the small sample corpus: paramiko 3.4.0's built
Sphinx HTML docs and the log crate's Markdown README (Debian librust-log-dev)."""
import pytest

from codecorpus.format import docs_sites as ds
from codecorpus.sources.sample import build_sample

PARAMIKO = "pypi/paramiko-3.4.0"
PAGES = ["docs/api/pipe.html", "docs/index.html", "docs/api/proxy.html", "docs/search.html"]


@pytest.fixture(scope="module")
def repos():
    root = build_sample("small", progress=lambda m: None) / "repos"
    return lambda repo, path: (root / repo / path).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def extracted(repos):
    pages = [(path, path, repos(PARAMIKO, path)) for path in PAGES]
    pages.append(("README.md", "README.md", repos("debian/librust-log-dev", "README.md")))
    return ds.extract_pages(pages, ds.DocsConfig())


def test_html_becomes_markdown_and_markdown_stays(extracted, repos):
    proxy = extracted["docs/api/proxy.html"]
    # The page's <h1><code>ProxyCommand</code> support</h1>, then the class's autodoc entry; no markup left.
    assert proxy.startswith("`ProxyCommand`\nsupport") and "<div" not in proxy and "_static" not in proxy
    assert "*class*paramiko.proxy.ProxyCommand(*command_line*)" in proxy
    assert extracted["README.md"] == repos("debian/librust-log-dev", "README.md")


def test_site_document_is_pages_in_breadth_first_order(extracted):
    pages = [{"file_id": p, "path": p, "depth": p.count("/"), "text": extracted[p]} for p in PAGES]
    doc, near = ds.render_site(PARAMIKO, pages, ds.DocsConfig())
    assert near == []
    # depth 1 (docs/index.html, docs/search.html) before depth 2, by path within a depth
    order = ["docs/index.html", "docs/search.html", "docs/api/pipe.html", "docs/api/proxy.html"]
    assert doc["text"] == "\n\n".join(extracted[p] for p in order) + "<|endoftext|>"
    assert doc["source_ids"] == order and doc["source"] == "documentation" and doc["n_chars"] == len(doc["text"])


def test_docs_stage_one_document_per_site_and_a_ledger_row_per_left_out_page(spark, repos):
    rows = [(f"p{i}", PARAMIKO, path, repos(PARAMIKO, path)) for i, path in enumerate(PAGES)]
    rows.append(("p9", PARAMIKO, "mirror/pipe.html", repos(PARAMIKO, "docs/api/pipe.html")))   # crawled twice
    rows.append(("log", "debian/librust-log-dev", "README.md", repos("debian/librust-log-dev", "README.md")))
    rows.append(("code", PARAMIKO, "paramiko/pipe.py", "not a page"))
    files = spark.createDataFrame(rows, "file_id string, repo_name string, path string, content string")
    documents, dropped = ds.site_documents(files.repartition(2), ds.DocsConfig(min_chars=300))
    docs = {r["repo_name"]: r for r in documents.collect()}   # two small documents
    ledger = {r["id"]: (r["rule"], r["value"]) for r in dropped.collect()}
    assert ledger == {"p3": (ds.EMPTY_PAGE, None),              # search.html: 279 characters of text
                      "p9": (ds.DUPLICATE_PAGE, "p0")}
    assert docs[PARAMIKO]["source_ids"] == ["p1", "p0", "p2"]  # index, api/pipe, api/proxy
    assert docs["debian/librust-log-dev"]["source_ids"] == ["log"]
    assert docs[PARAMIKO]["text"].endswith("<|endoftext|>") and "paramiko.proxy.ProxyCommand" in docs[PARAMIKO]["text"]


def test_near_duplicate_pages_of_a_site_are_dropped(extracted):
    """A crawl that fetched a page twice, once cut short (the first 90% of it), keeps the first copy."""
    proxy = extracted["docs/api/proxy.html"]
    pages = [{"file_id": "full", "path": "docs/api/proxy.html", "depth": 2, "text": proxy},
             {"file_id": "cut", "path": "docs/old/proxy.html", "depth": 2, "text": proxy[: len(proxy) * 9 // 10]},
             {"file_id": "other", "path": "docs/api/pipe.html", "depth": 2, "text": extracted["docs/api/pipe.html"]}]
    doc, dropped = ds.render_site(PARAMIKO, pages, ds.DocsConfig())
    assert doc["source_ids"] == ["other", "full"]   # crawl order: api/pipe, api/proxy
    assert [(d["id"], d["rule"], d["value"]) for d in dropped] == [("cut", ds.NEAR_DUPLICATE_PAGE, "full")]
    assert ds.render_site(PARAMIKO, pages, ds.DocsConfig(near_threshold=None))[1] == []

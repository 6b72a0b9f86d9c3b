"""Documentation sites as training text (reference §1.5): one document per site, pages in crawl order.

A site is a repository of the `files` table (point `sources.local` at a folder of sites, one folder per
site, e.g. a mirror of a BFS crawl or a built Sphinx tree). Its pages are its HTML and Markdown files:
HTML becomes Markdown through datatrove's Trafilatura extractor (trafilatura's `markdown` output, run by
datatrove in its sandbox process with a per-page timeout) inside Spark partitions; Markdown pages are
kept as they are. Pages are concatenated in crawl order, which for a folder is breadth-first: by depth,
then path, separated by a blank line, and the document ends with <|endoftext|>. A page that gives no
text, repeats a page of its site exactly, or is a near-duplicate of an earlier page of its site (MinHash
estimate of 5-gram Jaccard >= `near_threshold`, 0.7, with codecorpus's dedup hasher) is a ledger row.

PDFs never reach `files` (ingest drops binary files): the PDFs named by ``docs.pdfs`` are read
directly and converted by poppler's ``pdftotext`` (codecorpus/format/pdf_docs.py), one document each.
"""
from __future__ import annotations

import hashlib
import importlib.metadata  # noqa: F401  (datatrove's dependency check needs it imported)
import json
from functools import lru_cache
from typing import Iterator

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from pyspark import StorageLevel
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from codecorpus import tables, tokens
from codecorpus.ledger import rejects, union_all
from codecorpus.stage import Balance, Stage, StageContext, StageResult

EXTRACTION_FAILED = "docs_extraction_failed"   # trafilatura timed out or raised
EMPTY_PAGE = "docs_empty_page"                 # no main text in the page
DUPLICATE_PAGE = "docs_duplicate_page"         # the same text as an earlier page of the site
NEAR_DUPLICATE_PAGE = "docs_near_duplicate_page"  # MinHash-alike to an earlier page of the site
HTML = (".html", ".htm", ".xhtml")
MARKDOWN = (".md", ".markdown")
PAGES_WHERE = " or ".join(f"lower(path) like '%{ext}'" for ext in HTML + MARKDOWN)


class DocsConfig(BaseModel):
    """The docs stage: extraction limits."""
    model_config = ConfigDict(extra="forbid")

    timeout_seconds: float = Field(5, gt=0, description="Per-page limit of trafilatura's extraction.")
    min_chars: int = Field(1, ge=1, description="A page with less extracted text is dropped (docs_empty_page).")
    near_threshold: float | None = Field(0.7, gt=0, le=1, description=(
        "Pages of one site this alike (MinHash Jaccard estimate) to an earlier page are dropped; null: off."))
    num_perm: int = Field(250, ge=2, description="MinHash permutations of the per-site near-dedup.")
    pdfs: list[str] = Field(default_factory=list, description=(
        "PDF documentation: files, folders or globs (any Hadoop path); one document per PDF via pdftotext."))
    pdftotext: str = Field("pdftotext", description="poppler's pdftotext (Debian package poppler-utils).")


@lru_cache(maxsize=4)
def _extractor(timeout: float):
    """datatrove's Trafilatura step, built once per Python worker (its per-page process logs muted)."""
    from datatrove.pipeline.extractors import Trafilatura
    from loguru import logger
    logger.disable("datatrove")
    return Trafilatura(timeout=timeout, output_format="markdown", include_formatting=True)


def extract_pages(pages: list[tuple[str, str, str]], cfg: DocsConfig, rank: int = 0) -> dict[str, str | None]:
    """{page id: Markdown} for [(id, path, content)]; None for a page whose extraction failed."""
    from datatrove.data import Document
    out: dict[str, str | None] = {pid: content for pid, path, content in pages if path.lower().endswith(MARKDOWN)}
    html = [Document(text=content, id=pid) for pid, path, content in pages if pid not in out]
    out.update(dict.fromkeys((d.id for d in html), None))
    for doc in _extractor(cfg.timeout_seconds).run(iter(html), rank=rank):
        out[doc.id] = doc.text or ""
    return out


PAGE_DDL = "file_id string, repo_name string, path string, depth int, text string, rule string, detail string"


def _extract_batches(batches: Iterator[pd.DataFrame], cfg: DocsConfig) -> Iterator[pd.DataFrame]:
    from pyspark import TaskContext
    rank = TaskContext.get().partitionId() if TaskContext.get() else 0
    for batch in batches:
        texts = extract_pages(list(zip(batch["file_id"], batch["path"], batch["content"])), cfg, rank)
        rows = []
        for file_id, repo_name, path in zip(batch["file_id"], batch["repo_name"], batch["path"]):
            text = texts[file_id]
            rule = (EXTRACTION_FAILED if text is None else EMPTY_PAGE if len(text.strip()) < cfg.min_chars else None)
            detail = None if rule is None else f"{repo_name}/{path}: " + (
                "trafilatura timed out or failed" if text is None else "no main text")
            rows.append({"file_id": file_id, "repo_name": repo_name, "path": path, "depth": path.count("/"),
                         "text": None if rule else text.strip(), "rule": rule, "detail": detail})
        yield pd.DataFrame(rows, columns=[c.split()[0] for c in PAGE_DDL.split(", ")])


def near_duplicates(pages: list[dict], threshold: float, num_perm: int) -> dict[int, tuple[int, float]]:
    """{index: (index of the earlier kept page, estimated Jaccard)} for pages, already in crawl order,
    that are near-duplicates of an earlier kept page (greedy, first page wins)."""
    from codecorpus.dedup.minhash import permutations, signatures
    a, b = permutations(num_perm, 42)
    sig, has = signatures([p["text"] for p in pages], a, b)
    kept: list[int] = []
    dups = {}
    for i in range(len(pages)):
        if has[i] and kept:
            alike = (sig[kept] == sig[i]).mean(axis=1)
            best = int(alike.argmax())
            if alike[best] >= threshold:
                dups[i] = (kept[best], float(alike[best]))
                continue
        if has[i]:
            kept.append(i)
    return dups


def render_site(repo_name: str, pages: list[dict], cfg: DocsConfig) -> tuple[dict, list[dict]]:
    """The site's document from its pages in crawl (breadth-first) order, and ledger rows for the
    near-duplicate pages left out."""
    pages = sorted(pages, key=lambda p: (p["depth"], p["path"]))
    dups = near_duplicates(pages, cfg.near_threshold, cfg.num_perm) if cfg.near_threshold else {}
    dropped = [{"id": pages[i]["file_id"], "rule": NEAR_DUPLICATE_PAGE, "value": pages[j]["file_id"],
                "detail": f"{repo_name}/{pages[i]['path']}: ~{jaccard:.2f} alike to {pages[j]['path']}"}
               for i, (j, jaccard) in sorted(dups.items())]
    pages = [p for i, p in enumerate(pages) if i not in dups]
    text = "\n\n".join(p["text"] for p in pages) + tokens.ENDOFTEXT
    return {"doc_id": hashlib.sha1(f"{repo_name}\0docs".encode()).hexdigest(), "source": "documentation",
            "repo_name": repo_name, "languages": ["Markdown"], "text": text, "n_chars": len(text),
            "n_tokens": None, "source_ids": [p["file_id"] for p in pages],
            "metadata": json.dumps({"pages": [p["path"] for p in pages]}, sort_keys=True)}, dropped


DOC_SCHEMA = tables.batch_schema("documents", "id", "rule", "value", "detail")   # site documents and pages left out
DOC_COLUMNS = DOC_SCHEMA.fieldNames()


def _render_batches(batches: Iterator[pd.DataFrame], cfg: DocsConfig) -> Iterator[pd.DataFrame]:
    for batch in batches:
        rows = []
        for repo_name, pages in zip(batch["repo_name"], batch["pages"]):
            document, dropped = render_site(repo_name, list(pages), cfg)
            rows += [dict.fromkeys(DOC_COLUMNS) | document] + [dict.fromkeys(DOC_COLUMNS) | d for d in dropped]
        yield pd.DataFrame(rows, columns=DOC_COLUMNS)


def site_documents(files: DataFrame, cfg: DocsConfig) -> tuple[DataFrame, DataFrame]:
    """One document per site (repo_name) and ledger rows for the pages left out."""
    pages = (files.where(PAGES_WHERE).select("file_id", "repo_name", "path", "content")
             .mapInPandas(lambda it: _extract_batches(it, cfg), PAGE_DDL)
             .persist(StorageLevel.DISK_ONLY))
    extracted = pages.where(F.col("rule").isNull()).withColumn(
        "first_id", F.min("file_id").over(Window.partitionBy("repo_name", F.sha1("text"))))
    kept = extracted.where(F.col("file_id") == F.col("first_id"))
    sites = kept.groupBy("repo_name").agg(F.collect_list(F.struct("file_id", "path", "depth", "text")).alias("pages"))
    rendered = sites.mapInPandas(lambda it: _render_batches(it, cfg), DOC_SCHEMA).persist(StorageLevel.DISK_ONLY)
    documents = rendered.where(F.col("doc_id").isNotNull())
    dropped = union_all([
        rejects(pages.where(F.col("rule").isNotNull()), F.col("rule"), F.lit(None), F.col("detail")),
        rejects(extracted.where(F.col("file_id") != F.col("first_id")), DUPLICATE_PAGE, F.col("first_id")),
        rejects(rendered.where(F.col("doc_id").isNull()), F.col("rule"), F.col("value"), F.col("detail"), id_col="id")])
    return tables.conform(documents, "documents"), dropped


def _run(ctx: StageContext) -> StageResult:
    cfg = ctx.config.docs
    documents, dropped = site_documents(ctx.inputs["files"], cfg)
    if cfg.pdfs:
        from codecorpus.format.pdf_docs import pdf_documents
        pdfs, pdf_dropped = pdf_documents(ctx.spark, cfg.pdfs, cfg.pdftotext, cfg.timeout_seconds, cfg.min_chars)
        documents, dropped = documents.unionByName(pdfs), union_all([dropped, pdf_dropped])
    return StageResult({"docs_documents": documents}, dropped)


STAGE = Stage("docs", ("files",), ("docs_documents",), _run, ("docs",),
              (Balance("files", "docs_documents", merged="source_ids", where=PAGES_WHERE),),
              doc="HTML and Markdown documentation pages as one Markdown document per site, in crawl order; "
                  "PDFs (docs.pdfs) through pdftotext.")

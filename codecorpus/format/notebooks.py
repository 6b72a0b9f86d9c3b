"""Jupyter notebooks as StarCoder2 training text (reference §1.4), in both of its formats.

Script (any kernel language), converted by jupytext in the notebook's language, markdown as comments:
    <jupyter_script>{script}<|endoftext|>
Structured (Python notebooks only): consecutive markdown cells and consecutive code cells are merged
(sources joined by a newline); the first group is dropped if it is code and the last if it is markdown;
a code group keeps only the outputs of its last cell, `<empty_output>` when there are none, and outputs
longer than ``output_max_chars`` are cut to that many characters plus ``[...]`` (StarCoder1's rule):
    <jupyter_start><jupyter_text>{md}<jupyter_code>{code}<jupyter_output>{out}...<|endoftext|>

Raw cells are not text a model should learn and are left out of both formats. A notebook that cannot be
used becomes one ledger row (rules below) with the reason; nothing is dropped silently.
"""
from __future__ import annotations

import hashlib
import json
import re
from typing import Iterator

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from codecorpus import tables, tokens
from codecorpus.ledger import Rejected
from codecorpus.stage import Balance, Stage, StageContext, StageResult

# Ledger rules of the notebooks stage.
INVALID_JSON = "invalid_json"            # not JSON, or JSON that is not a notebook object
UNKNOWN_NBFORMAT = "unknown_nbformat"    # nbformat other than 3 or 4 (3 is upgraded to 4)
BINARY_CELL = "binary_cell"              # a cell source that is not text (NUL bytes, non-strings)
HUGE_BASE64 = "huge_base64_output"       # embedded base64 outputs above max_base64_bytes
NO_LANGUAGE = "no_language"              # no kernel language in the metadata to convert the script in
EMPTY_NOTEBOOK = "empty_notebook"        # no markdown or code with content
SCRIPT_ERROR = "script_conversion_error"  # jupytext could not convert it

NOTEBOOK_PATHS = "lower(path) like '%.ipynb'"


class NotebooksConfig(BaseModel):
    """The notebooks stage: which formats to write and the limits that reject a notebook."""
    model_config = ConfigDict(extra="forbid")

    script: bool = Field(True, description=f"Write the {tokens.JUPYTER_SCRIPT} format (every kernel language).")
    structured: bool = Field(True, description=f"Write the {tokens.JUPYTER_START} structured format (Python notebooks).")
    output_max_chars: int | None = Field(1000, ge=1, description=(
        "Structured outputs longer than this are cut to it plus '[...]' (StarCoder1's rule; null keeps all)."))
    max_base64_bytes: int = Field(1 << 20, ge=0, description=(
        "A notebook whose embedded base64 outputs (images, widgets) exceed this many bytes is dropped."))
    guess_language: bool = Field(True, description=(
        "Guess the language of a notebook without kernel metadata from its code (see guess_language)."))


def _text(value, where: str) -> str:
    """A notebook multiline string (a string or a list of strings) as one string."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        value = "".join(value)
    if not isinstance(value, str) or "\x00" in value:
        raise Rejected(BINARY_CELL, where, f"{where} is not text (a string or list of strings without NUL bytes)")
    return value


def parse_notebook(content: str, max_base64_bytes: int):
    """The notebook as an nbformat v4 NotebookNode, or Rejected with the rule that stops it."""
    import nbformat
    try:
        data = json.loads(content)
    except ValueError as exc:
        raise Rejected(INVALID_JSON, type(exc).__name__, f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise Rejected(INVALID_JSON, type(data).__name__, "the JSON is not an object, so not a notebook")
    version = data.get("nbformat")
    if version not in (3, 4):
        raise Rejected(UNKNOWN_NBFORMAT, str(version), f"nbformat {version!r} is not supported (3 and 4 are)")
    if version == 4 and not isinstance(data.get("cells"), list):
        raise Rejected(INVALID_JSON, "cells", "an nbformat 4 notebook without a list of cells")
    try:  # nbformat joins multiline strings and upgrades v3; a schema problem is kept, not logged
        notebook = nbformat.reads(content, as_version=4, capture_validation_error={})
    except Exception as exc:  # e.g. a v3 notebook too malformed to upgrade
        raise Rejected(INVALID_JSON, type(exc).__name__, f"nbformat could not read it: {exc}") from None
    if version == 3 and kernel_language(notebook) is None:   # v3 kept the language on each code cell
        languages = [c.get("language") for ws in data.get("worksheets") or [] if isinstance(ws, dict)
                     for c in ws.get("cells") or [] if isinstance(c, dict) and c.get("cell_type") == "code"]
        first = next((lang for lang in languages if isinstance(lang, str) and lang.strip()), None)
        if first:
            notebook.metadata["language_info"] = {"name": first}
    base64_bytes = 0
    for i, cell in enumerate(notebook.get("cells", [])):
        cell["source"] = _text(cell.get("source", ""), f"cell {i} source")
        for output in cell.get("outputs", []) or []:
            for mime, payload in (output.get("data") or {}).items():
                if not (mime.startswith("text/") or mime.endswith("json")):
                    base64_bytes += len(payload) if isinstance(payload, str) else sum(map(len, payload))
    if base64_bytes > max_base64_bytes:
        raise Rejected(HUGE_BASE64, str(base64_bytes),
                       f"{base64_bytes} bytes of base64 outputs, over max_base64_bytes={max_base64_bytes}")
    if not any(c.get("cell_type") in ("markdown", "code") and c["source"].strip() for c in notebook.cells):
        raise Rejected(EMPTY_NOTEBOOK, str(len(notebook.cells)), "no markdown or code cell has content")
    return notebook


def kernel_language(notebook) -> str | None:
    """The notebook's language from its metadata (language_info, then kernelspec), lower-case."""
    meta = notebook.get("metadata") or {}
    info, kernel = meta.get("language_info"), meta.get("kernelspec")
    name = ((info.get("name") if isinstance(info, dict) else None)
            or (kernel.get("language") if isinstance(kernel, dict) else None))
    return name.lower() if isinstance(name, str) and name.strip() else None


MAGIC_OR_SHELL = re.compile(r"^\s*[%!]")


def guess_language(notebook) -> str | None:
    """The language of a notebook's code cells when its metadata names none: Linguist's content rules
    (codecorpus/annotate/language.py: modeline, shebang) on the joined code, else Python when the code,
    magics and shell lines left out, compiles as Python; else None. StarCoder2 used guesslang
    (p >= 0.5), which codecorpus does not ship; code of another language that happens to be valid Python
    (short R calls, say) is labelled Python."""
    from codecorpus.annotate.language import detect_language
    code = "\n".join(c["source"] for c in notebook.cells if c.get("cell_type") == "code")
    if not code.strip():
        return None
    found = detect_language("", code)
    if found:
        return found.lower()
    try:
        compile("\n".join(line for line in code.splitlines() if not MAGIC_OR_SHELL.match(line)), "<nb>", "exec")
    except (SyntaxError, ValueError):
        return None
    return "python"


def to_script(notebook, language: str) -> str:
    """jupytext's light-format script in ``language``, without notebook or cell metadata."""
    import copy

    import jupytext
    notebook = copy.deepcopy(notebook)
    for key in ("language_info", "kernelspec"):   # jupytext reads them as mappings
        if not isinstance(notebook.metadata.get(key, {}), dict):
            del notebook.metadata[key]
    notebook.metadata["jupytext"] = {"notebook_metadata_filter": "-all", "cell_metadata_filter": "-all",
                                     "main_language": language}
    return jupytext.writes(notebook, fmt="auto:light")


def output_text(outputs: list, max_chars: int | None) -> str:
    """The text a code cell printed: streams, text/plain results, and errors as `name: value`."""
    parts = []
    for out in outputs or []:
        kind = out.get("output_type")
        if kind == "stream":
            parts.append(_text(out.get("text", ""), "stream output"))
        elif kind in ("execute_result", "display_data") and "text/plain" in (out.get("data") or {}):
            parts.append(_text(out["data"]["text/plain"], "text/plain output"))
        elif kind == "error":
            parts.append(f"{out.get('ename', '')}: {out.get('evalue', '')}")
    text = "\n".join(p.rstrip("\n") for p in parts if p.strip())
    if max_chars is not None and len(text) > max_chars:
        text = text[:max_chars] + "[...]"
    return text


def structured_groups(notebook) -> list[tuple[str, str, list]]:
    """(kind, source, outputs) per merged group, with a leading code and a trailing markdown group dropped."""
    groups: list[tuple[str, str, list]] = []
    for cell in notebook.cells:
        kind = {"markdown": "text", "code": "code"}.get(cell.get("cell_type"))
        if kind is None or not cell["source"].strip():
            continue
        outputs = cell.get("outputs", []) if kind == "code" else []
        if groups and groups[-1][0] == kind:
            groups[-1] = (kind, f"{groups[-1][1]}\n{cell['source']}", outputs)  # the last cell's outputs
        else:
            groups.append((kind, cell["source"], outputs))
    if groups and groups[0][0] == "code":
        groups = groups[1:]
    if groups and groups[-1][0] == "text":
        groups = groups[:-1]
    return groups


def render_structured(notebook, max_chars: int | None) -> str | None:
    """The structured document, or None when nothing is left after the drops."""
    groups = structured_groups(notebook)
    if not groups:
        return None
    parts = [tokens.JUPYTER_START]
    for kind, source, outputs in groups:
        if kind == "text":
            parts.append(f"{tokens.JUPYTER_TEXT}{source}")
        else:
            out = output_text(outputs, max_chars)
            parts.append(f"{tokens.JUPYTER_CODE}{source}{tokens.JUPYTER_OUTPUT}{out or tokens.EMPTY_OUTPUT}")
    return "".join(parts) + tokens.ENDOFTEXT


def render_notebook(content: str, cfg: NotebooksConfig) -> tuple[list[tuple[str, str, str]], Rejected | None]:
    """[(source, language, text)] documents of one notebook, or the reason it yields none."""
    try:
        notebook = parse_notebook(content, cfg.max_base64_bytes)
        language = kernel_language(notebook)
        guessed = language is None and cfg.guess_language
        if guessed:
            language = guess_language(notebook)
        docs = []
        if cfg.script:
            if language is None:
                raise Rejected(NO_LANGUAGE, "", "no language in language_info or kernelspec metadata"
                               + (" and none guessed from the code" if cfg.guess_language else ""))
            try:
                script = to_script(notebook, language)
            except Exception as exc:
                raise Rejected(SCRIPT_ERROR, type(exc).__name__, f"jupytext: {exc}") from None
            docs.append(("jupyter_script", language, f"{tokens.JUPYTER_SCRIPT}{script}{tokens.ENDOFTEXT}"))
        if cfg.structured and language == "python":
            text = render_structured(notebook, cfg.output_max_chars)
            if text is not None:
                docs.append(("jupyter_structured", language, text))
        if not docs:
            raise Rejected(EMPTY_NOTEBOOK, language or "", "no document left: not Python and scripts are off, "
                           "or no markdown followed by code")
        return docs, None
    except Rejected as rejected:
        return [], rejected


RESULT_SCHEMA = tables.batch_schema("documents", "rule", "value", "detail")   # documents and rejected notebooks
RESULT_COLUMNS = RESULT_SCHEMA.fieldNames()


def _render_batches(batches: Iterator[pd.DataFrame], cfg: NotebooksConfig) -> Iterator[pd.DataFrame]:
    for batch in batches:
        rows = []
        for file_id, repo_name, path, content in zip(batch["file_id"], batch["repo_name"], batch["path"],
                                                     batch["content"]):
            docs, rejected = render_notebook(content, cfg)
            if rejected is not None:
                rows.append(dict.fromkeys(RESULT_COLUMNS) | {
                    "doc_id": file_id, "rule": rejected.rule, "value": rejected.value[:200],
                    "detail": f"{repo_name}/{path}: {rejected}"[:1000]})
            for source, language, text in docs:
                rows.append({"doc_id": hashlib.sha1(f"{file_id}\0{source}".encode()).hexdigest(),
                             "source": source, "repo_name": repo_name, "languages": [language], "text": text,
                             "n_chars": len(text), "n_tokens": None, "source_ids": [file_id],
                             "metadata": json.dumps({"path": path, "kernel_language": language}, sort_keys=True),
                             "rule": None, "value": None, "detail": None})
        yield pd.DataFrame(rows, columns=RESULT_COLUMNS)


def notebook_documents(files: DataFrame, cfg: NotebooksConfig) -> tuple[DataFrame, DataFrame]:
    """Documents of every `.ipynb` file of ``files`` and ledger rows (by file_id) for the rejected ones."""
    notebooks = files.where(NOTEBOOK_PATHS).select("file_id", "repo_name", "path", "content")
    results = (notebooks.mapInPandas(lambda it: _render_batches(it, cfg), RESULT_SCHEMA)
               .persist(StorageLevel.DISK_ONLY))   # read twice: documents and rejects
    documents = tables.conform(results.where(F.col("rule").isNull()), "documents")
    rejected = results.where(F.col("rule").isNotNull()).select(
        F.col("doc_id").alias("id"), F.lit("file").alias("id_kind"), F.lit(None).cast("string").alias("stage"),
        "rule", "value", "detail")
    return documents, rejected


def _run(ctx: StageContext) -> StageResult:
    documents, rejected = notebook_documents(ctx.inputs["files"], ctx.config.notebooks)
    return StageResult({"notebook_documents": documents}, rejected)


STAGE = Stage("notebooks", ("files",), ("notebook_documents",), _run, ("notebooks",),
              (Balance("files", "notebook_documents", merged="source_ids", where=NOTEBOOK_PATHS),),
              doc="Jupyter notebooks (.ipynb files) as jupyter_script and jupyter_structured documents.")

"""Natural-language identification of documentation files with fastText: which human language a
Markdown, reStructuredText, Text or HTML file is written in, and how sure the model is.

`add_natural_language(files, cfg)` appends ``natural_language`` (an ISO 639 code such as ``en``, ``zh``)
and ``natural_language_score`` (the model's probability) over Arrow batches (`mapInArrow`); other
languages get nulls. The model is fastText's lid.176.ftz (CC BY-SA 3.0, shipped in
``codecorpus/data/fasttext/`` with its attribution) unless ``model_path`` names another fastText model;
nothing is downloaded at run time. It is loaded once per Python worker.
"""
from __future__ import annotations

import os
import re
import tempfile
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Iterator

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field
from pyspark.sql import DataFrame
from pyspark.sql.types import FloatType, StringType, StructField, StructType

CONFIG_KEY = "annotate.natural_language.model_path"
SHIPPED_MODEL = "data/fasttext/lid.176.ftz"
_LABEL_PREFIX = "__label__"
_WHITESPACE = re.compile(r"\s+")

NATURAL_LANGUAGE_FIELDS = [
    ("natural_language", "string", "fastText language id of documentation files (ISO 639 code, e.g. en); "
                                   "null for other files."),
    ("natural_language_score", "float", "fastText's probability for natural_language."),
]


class NaturalLanguageConfig(BaseModel):
    """Which files get a natural-language id and which fastText model gives it."""
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    model_path: str | None = Field(None, description="a fastText language-id model (.bin/.ftz, labels "
                                   "__label__<code>); None = the shipped lid.176.ftz")
    languages: list[str] = Field(["Markdown", "reStructuredText", "Text", "HTML"],
                                 description="file languages identified; others get nulls")
    html_languages: list[str] = Field(["HTML"], description="markup removed (lxml) before prediction")
    max_chars: int = Field(20_000, description="predict on this many leading characters: the language "
                           "of a document shows early, and fastText's cost grows with the text")


def model_file(cfg: NaturalLanguageConfig) -> str:
    """The model's path on this machine; a clear error naming the config key when it is missing."""
    if cfg.model_path is None:
        shipped = resources.files("codecorpus") / SHIPPED_MODEL
        if not shipped.is_file():
            raise FileNotFoundError(f"the shipped fastText model {SHIPPED_MODEL} is missing from the codecorpus "
                                    f"package; reinstall it or set {CONFIG_KEY} to a fastText lid model")
        if isinstance(shipped, Path):
            return str(shipped)
        # the package is a zip (Spark py-files): fastText needs a real file, so copy it out once
        local = Path(tempfile.gettempdir()) / f"codecorpus-{Path(SHIPPED_MODEL).name}"
        if not local.is_file():
            partial = local.with_suffix(f".{os.getpid()}.part")
            partial.write_bytes(shipped.read_bytes())
            partial.replace(local)
        return str(local)
    if not Path(cfg.model_path).is_file():
        raise FileNotFoundError(f"{CONFIG_KEY}: fastText model {cfg.model_path!r} does not exist; point it at "
                                f"a local lid.176.ftz/.bin or leave it unset to use the shipped model")
    return cfg.model_path


@lru_cache(maxsize=2)
def _model(path: str):
    import fasttext
    return fasttext.load_model(path)


def _visible_text(html: str) -> str:
    """Text of an HTML page without tags, scripts and styles (tags would read as English)."""
    import lxml.html
    from lxml import etree
    try:
        root = lxml.html.fromstring(html.encode("utf-8"))
    except (etree.ParserError, ValueError):
        return ""
    for bad in root.xpath("//script|//style"):
        if bad.getparent() is not None:
            bad.drop_tree()
    return "" if root.tag in ("script", "style") else root.text_content()


def identify(texts: list[str], model) -> tuple[list[str | None], list[float | None]]:
    """(language code, probability) per text; None for texts with nothing to read."""
    lines = [_WHITESPACE.sub(" ", t).strip() for t in texts]   # fastText predicts one line at a time
    todo = [i for i, line in enumerate(lines) if line]
    codes: list[str | None] = [None] * len(texts)
    scores: list[float | None] = [None] * len(texts)
    if todo:
        labels, probs = model.predict([lines[i] for i in todo], k=1)
        for i, label, prob in zip(todo, labels, probs):
            codes[i] = label[0][len(_LABEL_PREFIX):] if label else None
            scores[i] = min(float(prob[0]), 1.0) if label else None   # fastText can return 1.00001
    return codes, scores


def natural_language_batch(batch: pa.RecordBatch, cfg: NaturalLanguageConfig, path: str) -> pa.RecordBatch:
    languages = batch.column("language").to_pylist()
    wanted, html = set(cfg.languages), set(cfg.html_languages)
    rows = [i for i, language in enumerate(languages) if language in wanted]
    codes: list[str | None] = [None] * batch.num_rows
    scores: list[float | None] = [None] * batch.num_rows
    if rows:
        contents = batch.column("content").to_pylist()
        texts = []
        for i in rows:
            text = contents[i] or ""
            text = _visible_text(text) if languages[i] in html else text
            texts.append(text[:cfg.max_chars])
        found, probs = identify(texts, _model(path))
        for i, code, prob in zip(rows, found, probs):
            codes[i], scores[i] = code, prob
    return pa.RecordBatch.from_arrays(
        list(batch.columns) + [pa.array(codes, pa.string()), pa.array(scores, pa.float32())],
        names=list(batch.schema.names) + [name for name, _, _ in NATURAL_LANGUAGE_FIELDS])


def add_natural_language(files: DataFrame, cfg: NaturalLanguageConfig | None = None) -> DataFrame:
    """``files`` with ``natural_language`` and ``natural_language_score`` (existing ones replaced).
    Needs ``content`` and ``language``. Disabled: the columns are there, all null."""
    cfg = cfg or NaturalLanguageConfig()
    names = [name for name, _, _ in NATURAL_LANGUAGE_FIELDS]
    base = files.drop(*[c for c in files.columns if c in names])
    if not cfg.enabled:
        return base.selectExpr("*", "CAST(NULL AS STRING) AS natural_language",
                               "CAST(NULL AS FLOAT) AS natural_language_score")
    path = model_file(cfg)    # on the driver: a missing model fails before any job starts
    schema = StructType(list(base.schema.fields) + [StructField("natural_language", StringType()),
                                                    StructField("natural_language_score", FloatType())])

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        # executors resolve the model themselves: the shipped one lives inside their own codecorpus
        local = path if cfg.model_path else model_file(cfg)
        for batch in batches:
            yield natural_language_batch(batch, cfg, local)

    return base.mapInArrow(run, schema)

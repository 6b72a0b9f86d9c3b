"""Text datasets the user already has (reference §1.7-1.8): Parquet or JSONL rows rendered with StarCoder2's
templates into documents whose ``source`` is the mix row they fill (stackoverflow, arxiv, wikipedia,
openwebmath, lhq).

Each configured dataset names its files (local, hdfs://, s3a://: files, folders or globs), a template and
the columns the template reads. Every file is a unit of this source stage, so a large dataset is read shard
by shard and a killed run resumes. Templates (one row gives one document, ``<|endoftext|>`` appended):

    plain          {text}                                   Wikipedia, OpenWebMath, MultiPL-T, Proofsteps
    arxiv          {text} cleaned like RedPajama's arXiv: preamble, comments, bibliography removed and
                   argument-less \\newcommand/\\def macros expanded
    stackexchange  <issue_start>username_0: {question}<issue_comment>username_1: {answer}\\nUpvotes: {score}
                   [ [selected answer]]... with the answers in an order seeded by (run seed, row id), no title
    apps           \\nQUESTION:\\n{question}{starter_code}\\nUse Call-Based format|\\nUse Standard Input format
                   \\nANSWER:\\n{solutions[0]}
    code_contests  {description}\\n then Solution ({language}):{solution}\\n, the first solution of each language
    qa             {question}\\n{answer}                      GSM8K, GSM8K-SciRel, DeepMind Mathematics
    rosetta_code   {task_name}\\n{description}\\n\\n then Language: {language}\\n{code} joined by \\n\\n

Row ids are positional and stable: ``<dataset>:<file>:<line>`` (JSONL, 1-based) or ``<dataset>:<file>#<row>``
(Parquet, 0-based); every row becomes a document or a ledger row (rules below).
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import zlib
from typing import Any, Iterator, Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from codecorpus import tables, tokens
from codecorpus.ledger import Rejected, union_all
from codecorpus.stage import Stage, StageContext, StageResult, Unit

# Ledger rules of the text stage (id_kind text_row: a row id; text_file: <dataset>:<file>).
NOT_JSON = "text_not_json"              # a JSONL line that is not a JSON object
MISSING_COLUMN = "text_missing_column"  # the row lacks a column its template reads (value: the column)
BAD_VALUE = "text_bad_value"            # a column of the wrong kind (e.g. answers that are not a list)
EMPTY_TEXT = "text_empty"               # nothing left to train on (value: the column, or the template)
NO_SECTION = "arxiv_no_section"         # LaTeX without a sectioning command: RedPajama drops these
UNREADABLE_FILE = "text_unreadable_file"  # a cut or corrupt gzip stream (the rows before it are kept)
PII_TIMEOUT = "pii_timeout"             # the PII scan of a row ran over pii.max_seconds_per_file

TEMPLATE_COLUMNS = {   # the columns each template reads, by their default names
    "plain": ("text",), "arxiv": ("text",), "stackexchange": ("question", "answers"),
    "apps": ("question", "starter_code", "solutions", "input_output"), "code_contests": ("description", "solutions"),
    "qa": ("question", "answer"), "rosetta_code": ("task_name", "description", "solutions"),
}
OPTIONAL = {"starter_code", "input_output"}
# CodeContests' solution language enum (deepmind/code_contests, contest_problem.proto).
CONTEST_LANGUAGES = {0: "Unknown", 1: "Python 2", 2: "C++", 3: "Python 3", 4: "Java"}
JSONL = (".jsonl", ".jsonl.gz", ".json", ".json.gz", ".ndjson", ".ndjson.gz")
PARQUET = (".parquet",)


class TextDataset(BaseModel):
    """One dataset: its files, the mix source its documents fill, and how a row becomes text."""
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", description="Unique name; prefixes the row ids.")
    source: str = Field(pattern=r"^[a-z0-9_]+$", description=(
        "documents.source: the mix row it fills (stackoverflow, arxiv, wikipedia, openwebmath, lhq)."))
    paths: list[str] = Field(min_length=1, description="Files, folders or globs (any Hadoop path).")
    format: Literal["auto", "jsonl", "parquet"] = Field("auto", description=(
        "auto: by extension (.jsonl/.json/.ndjson, optionally .gz; .parquet)."))
    template: Literal[tuple(TEMPLATE_COLUMNS)] = Field("plain", description="How a row becomes text (module doc).")
    columns: dict[str, str] = Field(default_factory=dict, description=(
        "Template column -> the dataset's column name, e.g. {text: content}."))
    languages: list[str] = Field(default_factory=list, description="documents.languages of every document.")
    pii: list[Literal["email", "key", "password", "ip_address"]] = Field(default_factory=list, description=(
        "PII kinds to redact in the rendered text (codecorpus.pii; reference §2.9: arxiv [email], "
        "openwebmath [email, key], stackoverflow [email, key, password, ip_address])."))

    @field_validator("columns")
    @classmethod
    def _known_columns(cls, columns: dict[str, str], info) -> dict[str, str]:
        known = TEMPLATE_COLUMNS[info.data.get("template", "plain")]
        unknown = sorted(set(columns) - set(known))
        if unknown:
            raise ValueError(f"columns {unknown} are not read by this template; it reads {list(known)}")
        return columns

    def column(self, field: str) -> str:
        return self.columns.get(field, field)


class TextConfig(BaseModel):
    """The text stage: the user's text datasets."""
    model_config = ConfigDict(extra="forbid")

    datasets: list[TextDataset] = Field(default_factory=list, description="Datasets to render (docs/other-sources.md).")

    @field_validator("datasets")
    @classmethod
    def _unique_names(cls, datasets: list[TextDataset]) -> list[TextDataset]:
        names = [d.name for d in datasets]
        if len(set(names)) != len(names):
            raise ValueError(f"dataset names must be unique, got {names}")
        return datasets


# ---------------------------------------------------------------- templates

def _string(record: dict, cfg: TextDataset, field: str, required: bool = True) -> str:
    column = cfg.column(field)
    value = record.get(column)
    if value is None:
        if required:
            raise Rejected(MISSING_COLUMN, column, f"no {column!r} column (the {cfg.template} template's {field})")
        return ""
    if not isinstance(value, str):
        raise Rejected(BAD_VALUE, column, f"{column!r} is {type(value).__name__}, not text")
    return value


def _list(record: dict, cfg: TextDataset, field: str) -> list:
    column = cfg.column(field)
    value = record.get(column)
    if value is None:
        raise Rejected(MISSING_COLUMN, column, f"no {column!r} column (the {cfg.template} template's {field})")
    if isinstance(value, str):   # APPS keeps its lists as JSON strings
        try:
            value = json.loads(value)
        except ValueError:
            raise Rejected(BAD_VALUE, column, f"{column!r} is text that is not a JSON list") from None
    if not isinstance(value, (list, dict)):
        raise Rejected(BAD_VALUE, column, f"{column!r} is {type(value).__name__}, not a list")
    return value


SECTION = re.compile(r"\\(part|chapter|section|subsection|subsubsection|paragraph|subparagraph)\*?[\[{]")
COMMENT = re.compile(r"(?<!\\)%.*")
BIBLIOGRAPHY = re.compile(r"\\begin\{(thebibliography|references)\}.*?\\end\{\1\}|\\bibliography\{[^}]*\}", re.S)
NEWCOMMAND = re.compile(r"\\newcommand\*?\{?(\\[A-Za-z]+)\}?\s*\{(.*?)\}\s*$", re.M)
DEF = re.compile(r"\\def\s*(\\[A-Za-z]+)\s*\{(.*?)\}\s*$", re.M)


def clean_latex(text: str) -> str:
    """RedPajama's arXiv cleaning: argument-less macros expanded, comments, the preamble (everything
    before the first sectioning command of the document body) and the bibliography removed."""
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("%"))
    text = COMMENT.sub("", text)
    macros = {}

    def definition(match: re.Match) -> str:   # argument-less definitions are expanded, then dropped
        if "#" in match.group(2):
            return match.group(0)
        macros[match.group(1)] = match.group(2)
        return ""
    text = DEF.sub(definition, NEWCOMMAND.sub(definition, text))
    body = text.find("\\begin{document}")   # sectioning commands of the preamble's macros do not count
    first = SECTION.search(text, max(body, 0))
    if first is None:
        raise Rejected(NO_SECTION, "", "no \\section (or other sectioning command): RedPajama drops such sources")
    text = BIBLIOGRAPHY.sub("", text[first.start():])
    for name in sorted(macros, key=len, reverse=True):   # \foobar before \foo
        text = re.sub(re.escape(name) + r"(?![A-Za-z])", lambda _, v=macros[name]: v, text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _stackexchange(record: dict, cfg: TextDataset, rng) -> str:
    question = _string(record, cfg, "question")
    answers = _list(record, cfg, "answers")
    kept = []
    for answer in answers:
        if not isinstance(answer, dict):
            raise Rejected(BAD_VALUE, cfg.column("answers"), "an answer is not an object with text and score")
        text = answer.get("text", answer.get("body"))
        if isinstance(text, str) and text.strip():
            selected = answer.get("selected", answer.get("is_accepted", answer.get("accepted")))
            kept.append((text, answer.get("score", 0), bool(selected)))
    if not kept:
        raise Rejected(EMPTY_TEXT, cfg.column("answers"), "a question without an answer with text")
    rng.shuffle(kept)
    parts = [f"{tokens.ISSUE_START}username_0: {question}"]
    for i, (text, score, selected) in enumerate(kept, 1):
        parts.append(f"{tokens.ISSUE_COMMENT}username_{i}: {text}\nUpvotes: {score}"
                     + (" [selected answer]" if selected else ""))
    return "".join(parts)


def _apps(record: dict, cfg: TextDataset) -> str:
    solutions = _list(record, cfg, "solutions")
    if not solutions or not isinstance(solutions[0], str):
        raise Rejected(EMPTY_TEXT, cfg.column("solutions"), "an APPS problem without a solution")
    io_spec = record.get(cfg.column("input_output"))
    if isinstance(io_spec, str):
        try:
            io_spec = json.loads(io_spec) if io_spec.strip() else {}
        except ValueError:
            io_spec = {}
    call_based = isinstance(io_spec, dict) and bool(io_spec.get("fn_name"))
    return (f"\nQUESTION:\n{_string(record, cfg, 'question')}{_string(record, cfg, 'starter_code', False)}"
            f"\nUse {'Call-Based' if call_based else 'Standard Input'} format\nANSWER:\n{solutions[0]}")


def _code_contests(record: dict, cfg: TextDataset) -> str:
    solutions = _list(record, cfg, "solutions")
    if not isinstance(solutions, dict) or not isinstance(solutions.get("solution"), list):
        raise Rejected(BAD_VALUE, cfg.column("solutions"), "solutions is not {language: [...], solution: [...]}")
    first: dict[str, str] = {}
    for language, code in zip(solutions.get("language") or [], solutions["solution"]):
        name = CONTEST_LANGUAGES.get(language, str(language))
        if isinstance(code, str) and code.strip():
            first.setdefault(name, code)
    if not first:
        raise Rejected(EMPTY_TEXT, cfg.column("solutions"), "a problem without a solution")
    return f"{_string(record, cfg, 'description')}\n" + "".join(f"Solution ({k}):{v}\n" for k, v in first.items())


def _rosetta(record: dict, cfg: TextDataset) -> str:
    solutions = _list(record, cfg, "solutions")
    codes = [f"Language: {s.get('language')}\n{s['code']}" for s in solutions
             if isinstance(s, dict) and isinstance(s.get("code"), str) and s["code"].strip()]
    if not codes:
        raise Rejected(EMPTY_TEXT, cfg.column("solutions"), "a task without a solution")
    return f"{_string(record, cfg, 'task_name')}\n{_string(record, cfg, 'description')}\n\n" + "\n\n".join(codes)


def render_row(record: Any, cfg: TextDataset, seed: int, row_id: str) -> str:
    """The training text of one row (``<|endoftext|>`` included), or Rejected."""
    from codecorpus.format.repo_context import rng_for
    if not isinstance(record, dict):
        raise Rejected(NOT_JSON, type(record).__name__, "the row is not a JSON object")
    template = cfg.template
    if template in ("plain", "arxiv"):
        text = _string(record, cfg, "text")
        text = clean_latex(text) if template == "arxiv" and text.strip() else text
    elif template == "stackexchange":
        text = _stackexchange(record, cfg, rng_for(seed, row_id))
    elif template == "apps":
        text = _apps(record, cfg)
    elif template == "code_contests":
        text = _code_contests(record, cfg)
    elif template == "qa":
        text = f"{_string(record, cfg, 'question')}\n{_string(record, cfg, 'answer')}"
    else:
        text = _rosetta(record, cfg)
    if not text.strip():
        raise Rejected(EMPTY_TEXT, cfg.column("text") if template in ("plain", "arxiv") else template,
                       "no text to train on")
    if cfg.pii:
        text = _redact(text, cfg, seed, row_id)
    return text + tokens.ENDOFTEXT


def _redact(text: str, cfg: TextDataset, seed: int, row_id: str) -> str:
    from codecorpus.pii.config import PiiConfig
    from codecorpus.pii.detect import ScanTimeout, find_pii
    from codecorpus.pii.redact import redact_text
    pii = PiiConfig(kinds=tuple(cfg.pii))
    try:
        return redact_text(text, find_pii(text, pii), seed, row_id)
    except ScanTimeout as exc:   # kept unscanned would leak: dropped, as the pii stage drops such files
        raise Rejected(PII_TIMEOUT, f"{exc.seconds:.2f}", str(exc)) from None


# ---------------------------------------------------------------- reading

RESULT_SCHEMA = pa.schema([
    ("doc_id", pa.string()), ("source", pa.string()), ("languages", pa.list_(pa.string())), ("text", pa.string()),
    ("n_chars", pa.int64()), ("source_ids", pa.list_(pa.string())), ("metadata", pa.string()),
    ("id", pa.string()), ("id_kind", pa.string()), ("rule", pa.string()), ("value", pa.string()),
    ("detail", pa.string()),
])
RESULT_DDL = ("doc_id string, source string, languages array<string>, text string, n_chars bigint, "
              "source_ids array<string>, metadata string, id string, id_kind string, rule string, value string, "
              "detail string")


def result_row(record: Any, row_id: str, cfg: TextDataset, seed: int) -> dict:
    """One output row: a document, or a ledger row saying why the input row gave none."""
    try:
        text = render_row(record, cfg, seed, row_id)
    except Rejected as rejected:
        return {"id": row_id, "id_kind": "text_row", "rule": rejected.rule, "value": rejected.value[:200],
                "detail": f"{row_id}: {rejected}"[:1000]}
    return {"doc_id": hashlib.sha1(row_id.encode()).hexdigest(), "source": cfg.source, "languages": cfg.languages,
            "text": text, "n_chars": len(text), "source_ids": [row_id],
            "metadata": json.dumps({"dataset": cfg.name, "template": cfg.template, "row": row_id, "seed": seed},
                                   sort_keys=True)}


def jsonl_rows(path: str, content: bytes, cfg: TextDataset, seed: int) -> Iterator[dict]:
    """Every non-blank line of one JSONL file (gzip when it ends in .gz) as a result row; a corrupt or cut
    gzip stream ends the file with a text_file ledger row (the lines before it are kept)."""
    line_no = 0
    stream = gzip.GzipFile(fileobj=io.BytesIO(content)) if path.endswith(".gz") else io.BytesIO(content)
    try:
        for line_no, line in enumerate(stream, 1):
            if not line.strip():
                continue
            row_id = f"{cfg.name}:{path}:{line_no}"
            try:
                record = json.loads(line)
            except ValueError as exc:
                yield {"id": row_id, "id_kind": "text_row", "rule": NOT_JSON, "value": str(exc)[:200],
                       "detail": f"{row_id}: not JSON: {exc}"[:1000]}
                continue
            yield result_row(record, row_id, cfg, seed)
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
        yield {"id": f"{cfg.name}:{path}", "id_kind": "text_file", "rule": UNREADABLE_FILE,
               "value": f"after line {line_no}", "detail": f"{type(exc).__name__}: {exc}"[:1000]}


def _jsonl_batches(batches: Iterator[pa.RecordBatch], cfg: TextDataset, seed: int,
                   batch_rows: int = 2000) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        for path, content in zip(batch.column("path").to_pylist(), batch.column("content").to_pylist()):
            yield from tables.arrow_batches(jsonl_rows(path, content, cfg, seed), RESULT_SCHEMA, batch_rows)


def _record_batches(batches: Iterator[pa.RecordBatch], cfg: TextDataset, seed: int) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        rows = [result_row(json.loads(record), row_id, cfg, seed)
                for row_id, record in zip(batch.column("row_id").to_pylist(), batch.column("record").to_pylist())]
        yield pa.RecordBatch.from_pylist(rows, schema=RESULT_SCHEMA)


def read_dataset(spark: SparkSession, cfg: TextDataset, jsonl: list[str], parquet: list[str],
                 seed: int) -> DataFrame:
    """Result rows (documents and ledger rows) of one dataset's files."""
    parts = []
    if jsonl:   # whole files, so lines keep their numbers; gzip is streamed
        raw = spark.read.format("binaryFile").load(jsonl).select("path", "content")
        parts.append(raw.mapInArrow(lambda it: _jsonl_batches(it, cfg, seed), RESULT_DDL))
    if parquet:
        frame = spark.read.parquet(*parquet)
        present = [c for c in (cfg.column(f) for f in TEMPLATE_COLUMNS[cfg.template]) if c in frame.columns]
        record = F.to_json(F.struct(*present)) if present else F.lit("{}")
        rows = frame.select(F.concat_ws("", F.lit(f"{cfg.name}:"), F.col("_metadata.file_path"), F.lit("#"),
                                        F.col("_metadata.row_index")).alias("row_id"), record.alias("record"))
        parts.append(rows.mapInArrow(lambda it: _record_batches(it, cfg, seed), RESULT_DDL))
    return union_all(parts)


def file_format(cfg: TextDataset, path: str) -> str | None:
    if cfg.format != "auto":
        return cfg.format
    lower = path.lower()
    return "jsonl" if lower.endswith(JSONL) else "parquet" if lower.endswith(PARQUET) else None


def list_text_units(config) -> list[Unit]:
    """Every file of every dataset, with its size and modification time as the signature; a folder
    contributes its files of the dataset's format (hidden and _-prefixed files, e.g. _SUCCESS, skipped)."""
    spark = SparkSession.getActiveSession()
    jvm, conf = spark.sparkContext._jvm, spark.sparkContext._jsc.hadoopConfiguration()
    units: dict[str, Unit] = {}
    for cfg in config.text.datasets:
        for location in cfg.paths:
            path = jvm.org.apache.hadoop.fs.Path(location)
            fs = path.getFileSystem(conf)
            statuses = list(fs.globStatus(path) or [])
            if not statuses:
                raise FileNotFoundError(f"text.datasets[{cfg.name}]: {location} matches no file")
            while any(s.isDirectory() for s in statuses):
                statuses = [c for s in statuses for c in (fs.listStatus(s.getPath()) if s.isDirectory() else [s])]
            for found in statuses:
                name = found.getPath().toString()
                base = found.getPath().getName()
                if base.startswith((".", "_")) or file_format(cfg, name) is None:
                    continue
                units[f"{cfg.name}:{name}"] = Unit(f"{cfg.name}:{name}", name, f"text-{file_format(cfg, name)}",
                                                   f"{found.getLen()}:{found.getModificationTime()}")
    return [units[key] for key in sorted(units)]


def text_documents(spark: SparkSession, config: TextConfig, units: list[Unit], seed: int) -> tuple[DataFrame, DataFrame]:
    """Documents of the units' rows and ledger rows for the rows (and files) that gave none."""
    datasets = {d.name: d for d in config.datasets}
    parts = []
    for name, cfg in datasets.items():
        mine = [u for u in units if u.unit_id.split(":", 1)[0] == name]
        jsonl = [u.location for u in mine if u.kind == "text-jsonl"]
        parquet = [u.location for u in mine if u.kind == "text-parquet"]
        if jsonl or parquet:
            parts.append(read_dataset(spark, cfg, jsonl, parquet, seed))
    if not parts:
        empty = spark.createDataFrame([], tables.spark_schema("documents"))
        return empty, None
    results = union_all(parts).persist(StorageLevel.DISK_ONLY)   # read for documents and ledger rows
    documents = tables.conform(results.where(F.col("rule").isNull()), "documents")
    dropped = results.where(F.col("rule").isNotNull()).select(
        "id", "id_kind", F.lit(None).cast("string").alias("stage"), "rule", "value", "detail")
    return documents, dropped


def _run(ctx: StageContext) -> StageResult:
    documents, dropped = text_documents(ctx.spark, ctx.config.text, ctx.units, ctx.seed)
    return StageResult({"text_documents": documents}, dropped)


STAGE = Stage("text", (), ("text_documents",), _run, ("text",), list_units=list_text_units,
              doc="The user's text datasets (Parquet, JSONL) in StarCoder2's templates: Q&A, arXiv, Wikipedia, "
                  "OpenWebMath, small math/code sets.")

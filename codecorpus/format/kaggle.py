"""Kaggle notebooks in the Meta Kaggle Code layout as StarCoder2's Kaggle scripts (reference §1.4).

Accepted layout (Meta Kaggle Code's notebooks beside Meta Kaggle's tables; any Hadoop path for ``root``):

    ROOT/code/**/<KernelVersionId>.ipynb        the notebooks, at any depth (Meta Kaggle Code: 0123/456/<id>.ipynb)
    ROOT/KernelVersionDatasetSources.csv        KernelVersionId, SourceDatasetVersionId
    ROOT/DatasetVersions.csv                    Id, DatasetId, Slug, Title, Description
    ROOT/Datasets.csv                           Id, OwnerUserId
    ROOT/Users.csv                              Id, UserName
    ROOT/input/<path>                           optional: dataset files as Kaggle mounts them at /kaggle/input/<path>

The four tables are optional together (without them no notebook gets the dataset header); other columns
are ignored, and a kernel version with several sources takes its smallest SourceDatasetVersionId. Scripts
(``.py``, ``.r``) of Meta Kaggle Code are not read: StarCoder2 used the notebooks.

Each notebook becomes a script as in StarCoder2's kaggle/ code: markdown cells as ``# `` comments, code
cells without magics (``%``), shell lines (``!``), ``pip``, ``cd`` and ``wget`` lines, and lines over
``max_line_chars``; dropped when under ``min_chars`` or when ``compile()`` fails; formatted with black; the
Kaggle template stripped. With its dataset's metadata (and, for a ``read_csv`` of ``../input/...csv`` or
``/kaggle/input/...csv`` whose file is under ROOT/input, that file's ``df.info()`` and 4 rows):

    <jupyter_start><jupyter_text>{title}\\n{description}\\nKaggle dataset identifier: {owner}/{slug}
    <jupyter_code>import pandas as pd\\n\\ndf = pd.read_csv("{path}")\\ndf.info()<jupyter_output>{info}
    <jupyter_text>Examples:\\n{row 1}\\n...\\n{row 4}<jupyter_script>{code}<|endoftext|>

(one line here; nothing between the parts), else ``<jupyter_script>{code}<|endoftext|>``. Scripts are then
near-deduplicated (MinHash on the code, the dedup stage's parameters; the smallest id survives).
"""
from __future__ import annotations

import ast
import io
import json
import re
from typing import Iterator

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from codecorpus import tables, tokens
from codecorpus.dedup.config import DedupConfig
from codecorpus.format.notebooks import INVALID_JSON, kernel_language, parse_notebook
from codecorpus.ledger import Rejected, rejects, union_all
from codecorpus.stage import Stage, StageContext, StageResult

# Ledger rules (id_kind kaggle_notebook, id = the KernelVersionId); the notebooks stage's parse rules too.
NOT_PYTHON = "kaggle_not_python"      # a kernel in another language (R): compile() cannot check it
TOO_SHORT = "kaggle_too_short"        # under min_chars once converted (value: the length)
SYNTAX_ERROR = "kaggle_syntax_error"  # compile() fails (value: the line)
TEMPLATE_ONLY = "kaggle_template_only"  # nothing left once the Kaggle template is stripped
NEAR_DUP = "kaggle_near_dup"          # value: the kept KernelVersionId

# The Kaggle template as black writes it, and its first line alone (StarCoder2's kaggle/ code).
TEMPLATE = (
    "# It is defined by the kaggle/python Docker image: https://github.com/kaggle/docker-python\n"
    "import numpy as np  # linear algebra\n"
    "import pandas as pd  # data processing, CSV file I/O (e.g. pd.read_csv)\n\n"
    '# Input data files are available in the read-only "../input/" directory\n'
    "# For example, running this (by clicking run or pressing Shift+Enter) will list all files under the input "
    "directory\nimport os\n\n"
    'for dirname, _, filenames in os.walk("/kaggle/input"):\n'
    "    for filename in filenames:\n"
    "        print(os.path.join(dirname, filename))\n"
    "# You can write up to 20GB to the current directory (/kaggle/working/) that gets preserved as output when "
    'you create a version using "Save & Run All"\n'
    "# You can also write temporary files to /kaggle/temp/, but they won't be saved outside of the current session")
SHORT_TEMPLATE = "# It is defined by the kaggle/python Docker image: https://github.com/kaggle/docker-python\n"
# Kaggle's header lines above the template, which the kaggle/ code's TEMPLATE does not start with.
TEMPLATE_HEADER = ("# This Python 3 environment comes with many helpful analytics libraries installed",
                   "# For example, here's several helpful packages to load")
DROPPED_LINE = re.compile(r"^\s*(%|!|pip\s|cd\s|wget\s)")
INPUT_CSV = [re.compile(p) for p in (r"\.\./input/((?:[^/]+/)+[^/]+\.csv)", r"/?kaggle/input/((?:[^/]+/)+[^/]+\.csv)")]
METADATA_TABLES = ("KernelVersionDatasetSources", "DatasetVersions", "Datasets", "Users")


class KaggleConfig(BaseModel):
    """The kaggle stage: where the layout is and StarCoder2's limits."""
    model_config = ConfigDict(extra="forbid")

    root: str | None = Field(None, description="The Meta Kaggle Code layout's root (docs/other-sources.md).")
    min_chars: int = Field(100, ge=0, description="Scripts shorter than this are dropped (StarCoder2: 100).")
    max_line_chars: int = Field(600, ge=1, description="Longer code lines are dropped (StarCoder2: 600).")
    max_csv_bytes: int = Field(100 << 20, ge=0, description="Larger dataset CSVs are not read for df.info().")
    max_base64_bytes: int = Field(1 << 20, ge=0, description="As notebooks.max_base64_bytes.")
    near_dedup: bool = Field(True, description="MinHash near-dedup of the scripts (dedup.* parameters).")


def to_script(notebook, max_line_chars: int) -> str:
    """Markdown as `# ` comments, code without magics, shell, pip/cd/wget or overlong lines."""
    parts = []
    for cell in notebook.cells:
        source = cell["source"]
        if cell.get("cell_type") == "markdown" and source.strip():
            parts.append("\n".join(f"# {line}".rstrip() for line in source.splitlines()))
        elif cell.get("cell_type") == "code":
            kept = [line for line in source.splitlines()
                    if not DROPPED_LINE.match(line) and len(line) <= max_line_chars]
            if any(line.strip() for line in kept):
                parts.append("\n".join(kept))
    return "\n".join(parts)


def strip_template(code: str) -> str:
    """The script without Kaggle's template (or its first line), once black formatted it."""
    lines = code.split("\n")
    start = 0
    while start < len(lines) and (lines[start] in TEMPLATE_HEADER or not lines[start].strip()):
        start += 1
    rest = "\n".join(lines[start:])
    for template in (TEMPLATE, SHORT_TEMPLATE):
        if rest.startswith(template):
            return rest[len(template):].strip()
    return code.strip()


def read_csv_paths(code: str) -> list[str]:
    """First arguments of read_csv(...) calls that name a file of /kaggle/input, relative to it."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return []
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "read_csv"
                and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            path = node.args[0].value.strip()
            match = next((m for m in (p.search(path) for p in INPUT_CSV) if m), None)
            if match:
                found.append((node.lineno, node.col_offset, path, match.group(1)))
    return [(path, relative) for *_, path, relative in sorted(found)]


def dataset_preview(code: str, input_root: str | None, max_bytes: int) -> str:
    """The df.info() cell and example rows of the first read_csv file found under input_root, or ""."""
    if not input_root:
        return ""
    import fsspec
    for path, relative in read_csv_paths(code):
        url = f"{input_root.rstrip('/')}/{relative}"
        try:
            fs, local = fsspec.core.url_to_fs(url)
            if not fs.isfile(local) or fs.size(local) > max_bytes:
                continue
            with fs.open(local, "rb") as handle:
                df = pd.read_csv(handle)
        except Exception:   # an unreadable or malformed CSV: the notebook keeps its header only
            continue
        info = io.StringIO()
        df.info(buf=info)
        rows = json.loads(df.head(4).to_json(orient="records", force_ascii=False))
        examples = "\n".join(json.dumps(row, indent=4, ensure_ascii=False) for row in rows)
        return (f"{tokens.JUPYTER_CODE}import pandas as pd\n\ndf = pd.read_csv({json.dumps(path)})\ndf.info()"
                f"{tokens.JUPYTER_OUTPUT}{info.getvalue().rstrip()}{tokens.JUPYTER_TEXT}Examples:\n{examples}")
    return ""


def render_kaggle(content: str, meta: dict, cfg: KaggleConfig, input_root: str | None) -> tuple[str, str]:
    """(document text, formatted code) of one notebook, or Rejected."""
    import black
    notebook = parse_notebook(content, cfg.max_base64_bytes)
    language = kernel_language(notebook)
    if language not in (None, "python"):
        raise Rejected(NOT_PYTHON, language, f"a {language} kernel; Kaggle scripts are Python")
    script = to_script(notebook, cfg.max_line_chars)
    if len(script) < cfg.min_chars:
        raise Rejected(TOO_SHORT, str(len(script)), f"{len(script)} characters, under kaggle.min_chars={cfg.min_chars}")
    try:
        compile(script, "<kaggle>", "exec")
    except (SyntaxError, ValueError) as exc:
        raise Rejected(SYNTAX_ERROR, str(getattr(exc, "lineno", "")), f"compile(): {exc}") from None
    try:
        script = black.format_str(script, mode=black.Mode())
    except Exception:   # black rejects some code compile() accepts: kept unformatted, as StarCoder2 did
        pass
    code = strip_template(script)
    if not code:
        raise Rejected(TEMPLATE_ONLY, "", "only Kaggle's template")
    header = ""
    if meta.get("slug"):
        header = (f"{tokens.JUPYTER_START}{tokens.JUPYTER_TEXT}{meta.get('title') or ''}\n"
                  f"{meta.get('description') or ''}\nKaggle dataset identifier: {meta.get('owner') or ''}/{meta['slug']}"
                  + dataset_preview(code, input_root, cfg.max_csv_bytes))
    return f"{header}{tokens.JUPYTER_SCRIPT}{code}{tokens.ENDOFTEXT}", code


RESULT_DDL = ("id string, text string, code string, has_dataset boolean, rule string, value string, detail string")
RESULT_COLUMNS = [c.split()[0] for c in RESULT_DDL.split(", ")]
META = ("title", "description", "owner", "slug")


def _render_batches(batches: Iterator[pd.DataFrame], cfg: KaggleConfig, input_root: str | None):
    for batch in batches:
        rows = []
        for record in batch.to_dict("records"):
            row = dict.fromkeys(RESULT_COLUMNS) | {"id": record["id"]}
            try:
                content = bytes(record["content"]).decode("utf-8")
                text, code = render_kaggle(content, {k: record[k] for k in META}, cfg, input_root)
                row |= {"text": text, "code": code, "has_dataset": text.startswith(tokens.JUPYTER_START)}
            except UnicodeDecodeError as exc:
                row |= {"rule": INVALID_JSON, "value": "utf-8", "detail": f"{record['path']}: not UTF-8: {exc}"[:1000]}
            except Rejected as rejected:
                row |= {"rule": rejected.rule, "value": rejected.value[:200], "detail": f"{record['path']}: {rejected}"[:1000]}
            rows.append(row)
        yield pd.DataFrame(rows, columns=RESULT_COLUMNS)


def _exists(spark: SparkSession, path: str) -> bool:
    jvm = spark.sparkContext._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    return hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).exists(hadoop_path)


def dataset_metadata(spark: SparkSession, root: str) -> DataFrame | None:
    """(id, title, description, owner, slug) per KernelVersionId with a dataset source, from Meta Kaggle's
    tables; None when they are not all there."""
    paths = {name: f"{root}/{name}.csv" for name in METADATA_TABLES}
    if not all(_exists(spark, p) for p in paths.values()):
        return None
    read = {name: spark.read.csv(p, header=True, multiLine=True, escape='"') for name, p in paths.items()}
    sources = read["KernelVersionDatasetSources"].groupBy("KernelVersionId").agg(
        F.min(F.col("SourceDatasetVersionId").cast("long")).alias("version_id"))
    versions = read["DatasetVersions"].select(F.col("Id").cast("long").alias("version_id"), "DatasetId",
                                              F.col("Title").alias("title"), F.col("Description").alias("description"),
                                              F.col("Slug").alias("slug"))
    datasets = read["Datasets"].select(F.col("Id").alias("DatasetId"), "OwnerUserId")
    users = read["Users"].select(F.col("Id").alias("OwnerUserId"), F.col("UserName").alias("owner"))
    return (sources.join(versions, "version_id").join(datasets, "DatasetId", "left").join(users, "OwnerUserId", "left")
            .select(F.col("KernelVersionId").cast("string").alias("id"), *META))


def kaggle_documents(spark: SparkSession, cfg: KaggleConfig, dedup: DedupConfig, scratch_dir: str
                     ) -> tuple[DataFrame, DataFrame]:
    """kaggle_scripts documents of every notebook under ROOT/code, and ledger rows for the others."""
    if not cfg.root:
        raise ValueError("the kaggle stage needs kaggle.root: a folder in the Meta Kaggle Code layout "
                         "(docs/other-sources.md)")
    root = cfg.root.rstrip("/")
    notebooks = (spark.read.format("binaryFile").option("recursiveFileLookup", "true")
                 .option("pathGlobFilter", "*.ipynb").load(f"{root}/code")
                 .select(F.regexp_extract("path", r"([^/]+)\.ipynb$", 1).alias("id"), "path", "content"))
    meta = dataset_metadata(spark, root)
    if meta is None:
        notebooks = notebooks.select("*", *[F.lit(None).cast("string").alias(k) for k in META])
    else:
        notebooks = notebooks.join(meta, "id", "left")
    input_root = f"{root}/input" if _exists(spark, f"{root}/input") else None
    results = (notebooks.mapInPandas(lambda it: _render_batches(it, cfg, input_root), RESULT_DDL)
               .persist(StorageLevel.DISK_ONLY))
    scripts = results.where(F.col("rule").isNull())
    dropped = [rejects(results.where(F.col("rule").isNotNull()), F.col("rule"), F.col("value"), F.col("detail"),
                       id_col="id", id_kind="kaggle_notebook")]
    if cfg.near_dedup:
        from codecorpus.format.doc_dedup import near_duplicates
        dups = near_duplicates(scripts, "id", "code", dedup, f"{scratch_dir}/kaggle_dedup").persist(StorageLevel.DISK_ONLY)
        scripts = scripts.join(dups.select("id"), "id", "left_anti")
        dropped.append(rejects(dups, NEAR_DUP, F.col("kept_id"), F.format_string("jaccard=%.3f", "est_jaccard"),
                               id_col="id", id_kind="kaggle_notebook"))
    documents = scripts.select(
        F.sha1(F.concat(F.lit("kaggle\0"), "id")).alias("doc_id"), F.lit("kaggle_scripts").alias("source"),
        F.array(F.lit("Python")).alias("languages"), "text", F.length("text").cast("bigint").alias("n_chars"),
        F.array("id").alias("source_ids"),
        F.to_json(F.struct(F.col("id").alias("kernel_version_id"), "has_dataset")).alias("metadata"))
    return tables.conform(documents, "documents"), union_all(dropped)


def _run(ctx: StageContext) -> StageResult:
    documents, dropped = kaggle_documents(ctx.spark, ctx.config.kaggle, ctx.config.dedup, ctx.scratch_dir)
    return StageResult({"kaggle_documents": documents}, dropped)


STAGE = Stage("kaggle", (), ("kaggle_documents",), _run, ("kaggle", "dedup"),
              doc="Kaggle notebooks (Meta Kaggle Code layout) as StarCoder2's Kaggle scripts.")

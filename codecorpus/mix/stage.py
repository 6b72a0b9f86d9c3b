"""The mix stage: count tokens per file and per non-code document with the run's tokenizer, plan the
target model's mix, and apply it in Spark. A file of a language outside the mix goes to the ledger (rule
``mix_language``); a file of a capped language is kept with the plan's keep rate by a draw seeded by (run
seed, file id), else ledgered (rule ``mix_cap``, value the keep rate); a document of a source outside the
mix is ledgered (rule ``mix_source``). Epochs are applied when sequences are packed.
"""
from __future__ import annotations

from collections import Counter

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from codecorpus.draws import uniform
from codecorpus.format.tokenizer import TokenizerConfig, check_special_tokens, train_tokenizer
from codecorpus.ledger import rejects, union_all
from codecorpus.mix.planner import Mix, by_source, mix_row, parse_tokens
from codecorpus.storage import Storage

UNKNOWN = "(unknown)"


class MixConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str | None = Field(None, description=(
        "Target model's mix: 3b, 7b, 15b (lang_configs/mixes) or a mix .yaml. Unset: keep every language."))
    target_tokens: str | None = Field(None, description="Training token budget, e.g. 3.7T; sets the epochs.")
    epoch_cap: float | None = Field(None, gt=0, description="Most passes over any data (default: the mix's, 5).")

    @field_validator("target_tokens")
    @classmethod
    def _readable(cls, value: str | None) -> str | None:
        if value is not None:
            parse_tokens(value)
        return value


def tokenizer_path(run_dir: str) -> str:
    return f"{run_dir.rstrip('/')}/tokenizer/tokenizer.json"


def run_tokenizer(spark: SparkSession, files: DataFrame, cfg: TokenizerConfig, run_dir: str, seed: int) -> str:
    """The run's tokenizer JSON: the user's file, else the one trained for this run (trained once)."""
    storage = Storage(spark)
    if cfg.path:
        text = storage.read_text(cfg.path)
        if text is None:
            raise ValueError(f"tokenizer.path {cfg.path} does not exist")
        check_special_tokens(text, cfg.path)
        return text
    path = tokenizer_path(run_dir)
    text = train_tokenizer(files, cfg, seed)
    storage.write_text(path, text)
    return text


def saved_tokenizer(spark: SparkSession, config) -> str | None:
    """The tokenizer a run uses from the mix stage on: the configured file, or the one it trained."""
    return Storage(spark).read_text(config.tokenizer.path or tokenizer_path(config.run_dir))


def language_stats(files: DataFrame):
    """Files, bytes and tokens per language: one small row per language, for the planner."""
    return (files.groupBy(F.coalesce("language", F.lit(UNKNOWN)).alias("language"))
            .agg(F.count("*").alias("files"), F.sum("length_bytes").alias("bytes"), F.sum("n_tokens").alias("tokens"))
            .toPandas())


def source_stats(documents: DataFrame) -> dict[str, float]:
    """Tokens per mix row of the non-code sources' documents (counted), from one small row per source."""
    out: Counter = Counter()
    for row in documents.groupBy("source").agg(F.sum("n_tokens").alias("tokens")).collect():
        out[mix_row(row["source"])] += row["tokens"] or 0
    return dict(out)


def keep_everything(languages, sources=()) -> Mix:
    """The plan of a run without a target model: every language and every source measured, kept."""
    return Mix("all", "this corpus", 1.0, 5.0, {}, tuple(languages), tuple((name, None) for name in sources))


def per_key(values: dict[str, float], key: Column) -> Column:
    """``values[key]`` as a column (null for a key not in ``values``)."""
    return F.element_at(F.create_map(*[F.lit(x) for kv in values.items() for x in kv]), key) \
        if values else F.lit(None).cast("double")


def keep_by_rate(frame: DataFrame, rate: Column, seed: int, id_col: str) -> tuple[DataFrame, DataFrame]:
    """Rows kept at ``rate`` (all at 1, none at 0) by a draw seeded by (run seed, row id); the rest carry
    their rate in ``_rate``."""
    marked = frame.withColumn("_rate", F.coalesce(rate, F.lit(0.0))).withColumn("_draw", uniform(seed, "mix", id_col))
    keep = (F.col("_rate") >= 1) | (F.col("_draw") < F.col("_rate"))
    return marked.where(keep).drop("_rate", "_draw"), marked.where(~keep).drop("_draw")


def apply_plan(files: DataFrame, plan, seed: int) -> tuple[DataFrame, DataFrame | None]:
    """Keep files by the plan's per-language keep rate; the rest become ledger rows."""
    rates = {row.name: float(row.keep_rate) for row in plan[plan["kind"] == "language"].itertuples()}
    language = F.coalesce("language", F.lit(UNKNOWN))
    kept, dropped = keep_by_rate(files, per_key(rates, language), seed, "file_id")
    out_of_mix = rejects(dropped.where(F.col("_rate") == 0), "mix_language", language)
    capped = rejects(dropped.where(F.col("_rate") > 0), "mix_cap", F.format_number("_rate", 6))
    return kept, union_all([out_of_mix, capped])


def apply_source_plan(documents: DataFrame, plan, seed: int) -> tuple[DataFrame, DataFrame]:
    """Keep the non-code sources' documents by their source row's keep rate; a source outside the mix
    sends its documents to the ledger (rule ``mix_source``, value the source)."""
    kept, dropped = keep_by_rate(documents, per_key(by_source(plan, "keep_rate"), F.col("source")), seed, "doc_id")
    return kept, rejects(dropped, "mix_source", F.col("source"), F.col("repo_name"), id_col="doc_id",
                         id_kind="document")

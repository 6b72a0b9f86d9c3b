"""The mix stage: count tokens per file with the run's tokenizer, plan the target model's mix, and
apply it in Spark. A file of a language outside the mix goes to the ledger (rule ``mix_language``); a
file of a capped language is kept with the plan's keep rate by a draw seeded by (run seed, file id),
else ledgered (rule ``mix_cap``, value the keep rate). Epochs are applied when sequences are packed.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from codecorpus.format.tokenizer import TokenizerConfig, check_special_tokens, train_tokenizer
from codecorpus.ledger import rejects, union_all
from codecorpus.mix.planner import Mix, parse_tokens
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


def keep_everything(languages) -> Mix:
    return Mix("all", "this corpus", 1.0, 5.0, {}, tuple(languages), ())


def apply_plan(files: DataFrame, plan, seed: int) -> tuple[DataFrame, DataFrame | None]:
    """Keep files by the plan's per-language keep rate; the rest become ledger rows."""
    rates = {row.name: float(row.keep_rate) for row in plan[plan["kind"] == "language"].itertuples()}
    language = F.coalesce("language", F.lit(UNKNOWN))
    rate = F.element_at(F.create_map(*[F.lit(x) for kv in rates.items() for x in kv]), language) \
        if rates else F.lit(None)
    draw = (F.xxhash64(F.lit(seed), F.lit("mix"), "file_id").cast("double") + 2.0 ** 63) / 2.0 ** 64
    marked = files.withColumn("_rate", F.coalesce(rate, F.lit(0.0))).withColumn("_draw", draw)
    keep = (F.col("_rate") >= 1) | (F.col("_draw") < F.col("_rate"))
    kept = marked.where(keep).drop("_rate", "_draw")
    dropped = marked.where(~keep)
    out_of_mix = rejects(dropped.where(F.col("_rate") == 0), "mix_language", language)
    capped = rejects(dropped.where(F.col("_rate") > 0), "mix_cap", F.format_number("_rate", 6))
    return kept, union_all([out_of_mix, capped])

"""The filter stage's work in one call: opt-out, license policy, quality rules, datatrove's document
filters (docs files only), decontamination, in that order (cheapest and most certain first;
decontamination last, as it reads every byte of what is left)."""
from __future__ import annotations

from pyspark.sql import DataFrame

from codecorpus.filters.config import FilterConfig
from codecorpus.filters.datatrove_adapter import apply_datatrove
from codecorpus.filters.decontaminate import decontaminate
from codecorpus.filters.license_policy import apply_license_policy
from codecorpus.filters.optout import apply_opt_out
from codecorpus.filters.quality import apply_filters
from codecorpus.ledger import union_all


def filter_files(files: DataFrame, cfg: FilterConfig | None = None) -> tuple[DataFrame, DataFrame, DataFrame]:
    """(kept files, ledger rows, contamination report). Needs annotate's signals and license columns."""
    cfg = cfg or FilterConfig()
    files, opted_out = apply_opt_out(files, cfg.opt_out)
    files, unlicensed = apply_license_policy(files, cfg.license)
    files, low_quality = apply_filters(files, cfg)
    files, repetitive_docs = apply_datatrove(files, cfg.datatrove)
    files, contaminated, report = decontaminate(files, cfg.decontamination)
    return files, union_all([opted_out, unlicensed, low_quality, repetitive_docs, contaminated]), report

"""Apply the quality rules (basic + language-specific) to the files table: kept files and ledger rows.

The first rule a file trips decides; its name and value go to the ledger, so every dropped file
comes back as exactly one ledger row.
"""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from codecorpus.filters import basic, language_specific
from codecorpus.filters.config import FilterConfig, RuleThresholds
from codecorpus.ledger import rejects

RULES = basic.RULES + language_specific.RULES
RULE_NAMES = [rule.__name__ for rule in RULES]


def first_rule_tripped(cfg: RuleThresholds):
    """A struct column (rule, value) naming the first rule tripped, null when the file passes."""
    unknown = sorted(set(cfg.disabled_rules) - set(RULE_NAMES))
    if unknown:
        raise ValueError(f"filters.rules.disabled_rules: unknown rules {unknown}; known: {RULE_NAMES}")
    decisions = []
    for rule in RULES:
        if rule.__name__ in cfg.disabled_rules:
            continue
        tripped, value = rule(cfg)
        decisions.append(F.when(F.coalesce(tripped, F.lit(False)),
                                F.struct(F.lit(rule.__name__).alias("rule"), value.alias("value"))))
    return F.coalesce(*decisions) if decisions else F.lit(None)


def apply_filters(files: DataFrame, cfg: FilterConfig | None = None) -> tuple[DataFrame, DataFrame]:
    """(kept files, ledger rows) after the quality rules; needs annotate's signal columns."""
    cfg = cfg or FilterConfig()
    decided = files.withColumn("_reject", first_rule_tripped(cfg.rules))
    kept = decided.where(F.col("_reject").isNull()).drop("_reject")
    dropped = decided.where(F.col("_reject").isNotNull())
    return kept, rejects(dropped, rule=F.col("_reject.rule"), value=F.col("_reject.value"))

"""StarCoder2's language-specific filters (reference §2.8) and the optional tree-sitter rules.

Same shape as `codecorpus.filters.basic`: ``rule(cfg) -> (tripped, value)`` over annotate's signals.
"""
from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from codecorpus.filters.config import RuleThresholds


def file_name() -> Column:
    return F.lower(F.element_at(F.split(F.col("path"), "/"), -1))


def file_stem() -> Column:
    """Lowercased name without its last extension ('.gitignore' keeps its name, as pathlib does)."""
    return F.regexp_replace(file_name(), r"(?<=.)\.[^.]*$", "")


def data_max_lines(cfg: RuleThresholds) -> tuple[Column, Column]:
    """Data formats (Text, JSON, YAML, OWL, DOT) over 512 lines are dumps, not code."""
    return F.col("language").isin(cfg.data_languages) & (F.col("num_lines") > cfg.data_max_lines), \
        F.col("num_lines").cast("string")


def html_visible_text(cfg: RuleThresholds) -> tuple[Column, Column]:
    """HTML stays only with enough visible text (>= 100 chars and >= 20% of the file)."""
    html = F.col("language") == "HTML"
    poor = (F.col("html_visible_chars") < cfg.html_min_visible_chars) | \
        (F.col("html_visible_fraction") < cfg.html_min_visible_fraction)
    value = F.concat(F.lit("chars="), F.col("html_visible_chars").cast("string"),
                     F.lit(",fraction="), F.round("html_visible_fraction", 4).cast("string"))
    return html & poor, value


def text_filename(cfg: RuleThresholds) -> tuple[Column, Column]:
    """Text files stay only when named like requirements, README, NOTES, TODO, DESCRIPTION, CMakeLists."""
    name = file_name()
    allowed = file_stem().isin(cfg.text_filename_stems)
    for part in cfg.text_filename_substrings:
        allowed = allowed | name.contains(part)
    return (F.col("language") == "Text") & ~allowed, name


def parse_error_rate(cfg: RuleThresholds) -> tuple[Column, Column]:
    """Optional (off by default): too many tree-sitter ERROR/MISSING nodes."""
    if cfg.max_parse_error_rate is None:
        return F.lit(False), F.lit(None).cast("string")
    return F.col("parse_error_rate") > cfg.max_parse_error_rate, F.round("parse_error_rate", 4).cast("string")


def parse_timeout(cfg: RuleThresholds) -> tuple[Column, Column]:
    """Optional (off by default): the parse hit its time limit."""
    return F.lit(cfg.drop_parse_timeout) & (F.col("parse_status") == "timeout"), F.col("parse_status")


RULES = [data_max_lines, html_visible_text, text_filename, parse_error_rate, parse_timeout]

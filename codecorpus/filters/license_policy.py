"""The license policy: keep the license types the config allows (permissive + no_license by default,
StarCoder2's choice); every other file goes to the ledger with rule ``license``. Also the per-repository
attribution table a release needs (license ids and files kept)."""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from codecorpus.filters.config import LicensePolicy
from codecorpus.ledger import rejects


def apply_license_policy(files: DataFrame, policy: LicensePolicy | None = None) -> tuple[DataFrame, DataFrame]:
    """(kept, ledger rows): value is the license_type, detail the detected SPDX ids."""
    policy = policy or LicensePolicy()
    allowed = F.coalesce(F.col("license_type").isin(policy.keep), F.lit(False))
    dropped = files.where(~allowed)
    detail = F.concat_ws(" ", F.concat_ws("/", "repo_name", "path"),
                         F.concat(F.lit("["), F.concat_ws(",", "detected_licenses"), F.lit("]")))
    return files.where(allowed), rejects(dropped, rule="license", value=F.col("license_type"), detail=detail)


def attribution(kept: DataFrame) -> DataFrame:
    """Per repository: the license ids of its kept files, their license types and how many files were kept."""
    return (kept.groupBy("repo_name")
            .agg(F.array_sort(F.array_distinct(F.flatten(F.collect_list("detected_licenses")))).alias("licenses"),
                 F.array_sort(F.collect_set("license_type")).alias("license_types"),
                 F.count(F.lit(1)).alias("files_kept")))

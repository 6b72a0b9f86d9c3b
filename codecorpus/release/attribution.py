"""Attribution, as The Stack publishes it: every repository in the release with the license ids that apply
to its kept files and the number of files kept. Written as attribution.parquet and ATTRIBUTION.md, both
through Spark (one row per repository; the driver only writes the header)."""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from codecorpus.release.shards import write_single_file

HEADER = ("# Attribution\n\n"
          "Every repository with files in this release, the licenses detected for its kept files "
          "(SPDX ids; a repository's license files decide its files' licenses) and how many files were kept. "
          "The files of each repository keep their original licenses: use them accordingly.\n\n"
          "| repository | licenses | license types | files kept | bytes |\n|---|---|---|---:|---:|")


def attribution_table(files: DataFrame) -> DataFrame:
    return (files.groupBy("repo_name").agg(
        F.array_sort(F.array_distinct(F.flatten(F.collect_list(F.coalesce("detected_licenses", F.array()))))).alias("licenses"),
        F.array_sort(F.collect_set("license_type")).alias("license_types"),
        F.count(F.lit(1)).alias("files_kept"),
        F.sum("length_bytes").alias("bytes")))


def _md_cell(col) -> F.Column:
    return F.regexp_replace(col, r"\|", r"\\|")


def write_attribution(files: DataFrame, out_dir: str) -> None:
    table = attribution_table(files)
    write_single_file(table, ["repo_name"], f"{out_dir}/attribution.parquet")
    none = F.lit("none detected")
    line = F.format_string("| %s | %s | %s | %d | %d |", _md_cell(F.col("repo_name")),
                           F.when(F.size("licenses") > 0, F.array_join("licenses", ", ")).otherwise(none),
                           F.when(F.size("license_types") > 0, F.array_join("license_types", ", ")).otherwise(none),
                           "files_kept", "bytes")
    # the header is a row with the smallest sort key, so the whole file comes out of one sorted write
    header = files.sparkSession.createDataFrame([(0, "", HEADER)], "part int, repo_name string, line string")
    lines = table.select(F.lit(1).alias("part"), "repo_name", line.alias("line")).unionByName(header)
    write_single_file(lines, ["part", "repo_name"], f"{out_dir}/ATTRIBUTION.md", fmt="text")

"""Build a release folder from a run:

    README.md            the dataset card
    stats.json           every number the card shows
    figures/*.png        size per language, kept vs dropped, file lengths, license mix
    data/files/<config>/part-*.parquet, data/documents/part-*.parquet
    attribution.parquet, ATTRIBUTION.md
"""
from __future__ import annotations

import json

from pyspark.sql import SparkSession

from codecorpus import tables
from codecorpus.release.attribution import write_attribution
from codecorpus.release.card import render_card
from codecorpus.release.config import ReleaseConfig
from codecorpus.release.figures import render_figures
from codecorpus.release.run_view import open_run
from codecorpus.release.shards import language_configs, remove_checksums, write_document_shards, write_file_shards
from codecorpus.release.stats import release_stats
from codecorpus.s3.config import S3Config
from codecorpus.storage import Storage


def build_release(spark: SparkSession, run_dir: str, out_dir: str, cfg: ReleaseConfig | None = None,
                  s3: S3Config | None = None) -> dict:
    """Write the release of ``run_dir`` to ``out_dir`` (either may be s3://); returns its stats (as in
    stats.json). ``s3``: how boto3 reaches S3 (default: the session's, as the runner set it).
    Raises ReleaseError when the run has no files table to release."""
    cfg = cfg or ReleaseConfig()
    out_dir = out_dir.rstrip("/")
    store = Storage(spark, s3)
    view = open_run(spark, run_dir)
    stats = release_stats(view, {"name": cfg.name, "version": cfg.version})

    files = tables.conform(view.table("files"), "files")
    configs = language_configs(stats["files"]["by_language"], cfg.shard_bytes)
    shards = {"files": write_file_shards(files, configs, out_dir), "documents": None}
    documents = view.documents()
    if documents is not None:
        shards["documents"] = write_document_shards(documents,
                                                    stats["documents"]["total"]["chars"], cfg.shard_bytes, out_dir)
    stats["shards"] = shards
    write_attribution(files, out_dir)

    for name, png in render_figures(stats, cfg.top_languages).items():
        store.write_bytes(f"{out_dir}/figures/{name}.png", png)
    store.write_text(f"{out_dir}/stats.json", json.dumps(stats, indent=1, sort_keys=True) + "\n")
    store.write_text(f"{out_dir}/README.md", render_card(stats, cfg))
    remove_checksums(spark, out_dir)
    return stats

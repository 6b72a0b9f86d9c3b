"""Releases: turn a finished run into what people outside the team see: loadable Parquet shards, a
generated dataset card (README.md) with figures and stats.json, and the attribution of every repository.

Entry point: ``build_release(spark, run_dir, out_dir, ReleaseConfig())``."""

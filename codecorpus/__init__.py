"""codecorpus: StarCoder2-style pretraining corpora for code LLMs, built on Apache Spark."""

__version__ = "0.1.0"

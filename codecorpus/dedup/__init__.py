"""Dedup stage: exact dedup by blob_id and MinHash near-dedup, both keeping The Stack v2's survivor."""
from codecorpus.dedup.config import DedupConfig
from codecorpus.dedup.exact import exact_dedup
from codecorpus.dedup.near import near_dedup

__all__ = ["DedupConfig", "exact_dedup", "near_dedup"]

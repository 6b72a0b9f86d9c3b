"""annotate stage modules."""

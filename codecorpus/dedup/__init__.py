"""dedup stage modules."""

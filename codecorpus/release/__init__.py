"""release stage modules."""

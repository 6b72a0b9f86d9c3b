"""format stage modules."""

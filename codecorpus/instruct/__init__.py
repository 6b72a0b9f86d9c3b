"""instruct stage modules."""

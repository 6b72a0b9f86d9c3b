"""pii stage modules."""

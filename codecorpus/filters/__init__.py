"""filters stage modules."""

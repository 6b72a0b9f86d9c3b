"""mix stage modules."""

"""sources stage modules."""

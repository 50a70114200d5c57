"""Corpora far too large for Argilla: score shards here or on Ray, and slice what is worth human time."""

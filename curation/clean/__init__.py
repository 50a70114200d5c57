"""Cleaning: read candidates, mask PII, heuristic filters, dedup — what reaches annotators."""

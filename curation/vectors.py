"""Vectors for Argilla's "find similar": hashed character n-grams of both sides, offline and instant.

They find pairs worded alike (the same template, the same error repeated by an MT system). They are the only
vectors setup writes: nothing replaces them with sentence embeddings today.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

from curation.data import Pair, normalise


def hashed_ngrams(texts: Sequence[str], dimensions: int = 256, n: int = 3) -> np.ndarray:
    """L2-normalised counts of character n-grams hashed into `dimensions` buckets, one row per text."""
    out = np.zeros((len(texts), dimensions), dtype=np.float32)
    for row, text in enumerate(texts):
        padded = f" {text} "
        for i in range(max(1, len(padded) - n + 1)):
            out[row, zlib.crc32(padded[i : i + n].encode()) % dimensions] += 1.0
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms == 0, 1.0, norms)


def pair_vectors(pairs: Sequence[Pair], dimensions: int = 256) -> np.ndarray:
    """One vector per pair: source and target halves, each normalised, then the whole."""
    half = dimensions // 2
    source = hashed_ngrams([normalise(p.source) for p in pairs], half)
    target = hashed_ngrams([normalise(p.target) for p in pairs], dimensions - half)
    both = np.hstack([source, target])
    return both / np.maximum(np.linalg.norm(both, axis=1, keepdims=True), 1e-12)

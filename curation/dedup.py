"""Duplicates: exact (after normalisation) on the pair and on the target, and near-duplicates with MinHash LSH.

The first pair seen is the representative; later ones are dropped with a reason naming what they repeat.
State is compact (8-byte hashes, one MinHash signature per kept pair); see the memory benchmark.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from curation.data import Pair, normalise

_TOKEN = re.compile(r"\w+")


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


@dataclass
class Deduplicator:
    near_threshold: float | None = 0.8  # Jaccard similarity of word 3-gram shingles; None turns near-dedup off
    num_perm: int = 64
    pairs_seen: set[int] = field(default_factory=set)
    targets_seen: set[int] = field(default_factory=set)
    _lsh: object = None

    def __post_init__(self):
        if self.near_threshold is not None:
            from datasketch import MinHash, MinHashLSH

            self._lsh = MinHashLSH(threshold=self.near_threshold, num_perm=self.num_perm)
            first = MinHash(num_perm=self.num_perm, seed=1)
            self._permutations, self._scheme = first.permutations, first.scheme  # computed once

    def check(self, pair: Pair) -> str | None:
        """None if the pair is new (and remember it), else why it is a duplicate."""
        source, target = normalise(pair.source), normalise(pair.target)
        key = _hash(f"{source}\t{target}")
        if key in self.pairs_seen:
            return "duplicate pair"
        target_key = _hash(target)
        if target_key in self.targets_seen:
            return "duplicate target"
        if self._lsh is not None:
            signature = self._signature(source + " ||| " + target)
            if self._lsh.query(signature):
                return "near-duplicate pair"
            self._lsh.insert(str(key), signature)
        self.pairs_seen.add(key)
        self.targets_seen.add(target_key)
        return None

    def _signature(self, text: str):
        from datasketch import MinHash

        words = _TOKEN.findall(text)
        shingles = {" ".join(words[i : i + 3]) for i in range(max(1, len(words) - 2))}
        signature = MinHash(num_perm=self.num_perm, seed=1, permutations=self._permutations, scheme=self._scheme)
        signature.update_batch([s.encode() for s in shingles])
        return signature

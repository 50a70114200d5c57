"""Duplicates: exact (after normalisation) on the pair and on the target, and near-duplicates by MinHash LSH.

The first pair seen is the representative; later ones are dropped with a reason naming what they repeat.
MinHash signatures are computed for a batch at once with numpy (word 3-gram shingles of "source ||| target",
`num_perm` hash functions); LSH bands find candidates and the estimated Jaccard similarity of the two
signatures confirms them, so `near_threshold` means what it says.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from curation.data import Pair, normalise

PRIME = (1 << 31) - 1  # a*h + b stays below 2**63 for 32-bit shingle hashes


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def bands_for(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) with bands * rows == num_perm whose LSH threshold (1/b)^(1/r) is closest to `threshold`."""
    options = [(b, num_perm // b) for b in range(1, num_perm + 1) if num_perm % b == 0]
    return min(options, key=lambda br: abs((1 / br[0]) ** (1 / br[1]) - threshold))


@dataclass
class Prepared:
    keys: list[tuple[int, int]]  # (pair hash, target hash) of the normalised pair
    signatures: np.ndarray | None  # MinHash signatures, when near-dedup is on
    bands: np.ndarray | None  # their LSH band keys


@dataclass
class Deduplicator:
    near_threshold: float | None = 0.8  # estimated Jaccard similarity of shingles; None turns near-dedup off
    num_perm: int = 64
    seed: int = 1
    pairs_seen: set[int] = field(default_factory=set)
    targets_seen: set[int] = field(default_factory=set)

    def __post_init__(self):
        rng = np.random.default_rng(self.seed)
        self._a = rng.integers(1, PRIME, self.num_perm, dtype=np.uint64)
        self._b = rng.integers(0, PRIME, self.num_perm, dtype=np.uint64)
        if self.near_threshold is not None:
            self._bands, self._rows = bands_for(self.near_threshold, self.num_perm)
            self._mix = rng.integers(1, 2**63, self._rows, dtype=np.uint64) | np.uint64(1)
            self._buckets: list[dict[int, int]] = [{} for _ in range(self._bands)]
            self._signatures = np.zeros((1024, self.num_perm), dtype=np.uint32)
            self._kept = 0

    def check(self, pair: Pair) -> str | None:
        """None if the pair is new (and remember it), else why it is a duplicate."""
        return self.check_batch([pair])[0]

    def check_batch(self, pairs: Sequence[Pair]) -> list[str | None]:
        """`check` for many pairs at once, in order (a pair can duplicate an earlier one of the same batch)."""
        return self.decide(self.prepare(pairs))

    def prepare(self, pairs: Sequence[Pair]) -> Prepared:
        """What `decide` needs, from the pairs alone (no state): worker processes compute it in parallel."""
        normal = [(normalise(p.source), normalise(p.target)) for p in pairs]
        keys = [(_hash(f"{s}\t{t}"), _hash(t)) for s, t in normal]
        signatures = bands = None
        if self.near_threshold is not None and pairs:
            signatures = self.signatures([f"{s} ||| {t}" for s, t in normal])
            bands = self._band_keys(signatures)
        return Prepared(keys, signatures, bands)

    def decide(self, prepared: Prepared) -> list[str | None]:
        """None for each new pair (remembered), else why it is a duplicate; in order."""
        verdicts: list[str | None] = []
        signatures, bands = prepared.signatures, prepared.bands
        for i, (pair_key, target_key) in enumerate(prepared.keys):
            if pair_key in self.pairs_seen:
                verdicts.append("duplicate pair")
                continue
            if target_key in self.targets_seen:
                verdicts.append("duplicate target")
                continue
            if signatures is not None:
                if self._near(signatures[i], bands[i]):
                    verdicts.append("near-duplicate pair")
                    continue
                self._remember(signatures[i], bands[i])
            self.pairs_seen.add(pair_key)
            self.targets_seen.add(target_key)
            verdicts.append(None)
        return verdicts

    def signatures(self, texts: Sequence[str]) -> np.ndarray:
        """MinHash signatures (len(texts) x num_perm, uint32) of word 3-gram shingles."""
        hashes: list[int] = []
        starts: list[int] = []
        for text in texts:
            words = text.split()
            starts.append(len(hashes))
            if len(words) < 3:
                hashes.append(zlib.crc32(text.encode()))
            else:
                hashes.extend(zlib.crc32(" ".join(words[j : j + 3]).encode()) for j in range(len(words) - 2))
        h = np.asarray(hashes, dtype=np.uint64)
        permuted = (self._a[:, None] * h[None, :] + self._b[:, None]) % np.uint64(PRIME)
        return np.minimum.reduceat(permuted, np.asarray(starts), axis=1).T.astype(np.uint32)

    def _band_keys(self, signatures: np.ndarray) -> np.ndarray:
        bands = signatures.reshape(len(signatures), self._bands, self._rows).astype(np.uint64)
        return (bands * self._mix).sum(axis=2)  # wraps modulo 2**64: a hash of each band

    def _near(self, signature: np.ndarray, keys: np.ndarray) -> bool:
        for bucket, key in zip(self._buckets, keys.tolist(), strict=True):
            other = bucket.get(key)
            if other is not None and (self._signatures[other] == signature).mean() >= self.near_threshold:
                return True
        return False

    def _remember(self, signature: np.ndarray, keys: np.ndarray) -> None:
        if self._kept == len(self._signatures):
            self._signatures = np.concatenate([self._signatures, np.zeros_like(self._signatures)])
        self._signatures[self._kept] = signature
        for bucket, key in zip(self._buckets, keys.tolist(), strict=True):
            bucket.setdefault(key, self._kept)
        self._kept += 1

"""Duplicates: exact (after normalisation) on the pair and on the target, and near-duplicates by MinHash LSH.

The first pair seen is the representative; later ones are dropped with a reason naming what they repeat.
MinHash signatures are computed for a batch at once with numpy (word 3-gram shingles of "source ||| target",
`num_perm` hash functions); LSH bands find candidates and the estimated Jaccard similarity of the two
signatures confirms them, so `near_threshold` means what it says.

Memory is what dedup must remember of the pairs it kept: 8 bytes a key in sorted numpy runs (`KeySet`), 12
bytes a band entry, and 2 bytes per permutation of each kept signature (the low 16 bits: two different
values agree by chance once in 65,536, which moves an estimated Jaccard by about 0.00002).
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from curation.data import Pair, normalise

PRIME = (1 << 31) - 1  # a*h + b stays below 2**63 for 32-bit shingle hashes
SIGNATURE_BLOCK = 16_384  # kept signatures per storage block


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def bands_for(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) with bands * rows == num_perm whose LSH threshold (1/b)^(1/r) is closest to `threshold`."""
    options = [(b, num_perm // b) for b in range(1, num_perm + 1) if num_perm % b == 0]
    return min(options, key=lambda br: abs((1 / br[0]) ** (1 / br[1]) - threshold))


class KeySet:
    """A set of 64-bit keys kept as sorted numpy runs: 8 bytes a key (a Python set spends about 70), or, with
    `values`, a map to the index given when the key was first added (12 bytes an entry).

    Runs of similar size are merged, so adding is amortised O(log n) per key, and looking up a batch is one
    vectorised binary search per run (at most about log2(n / batch) runs).
    """

    def __init__(self):
        self.runs: list[tuple[np.ndarray, np.ndarray | None]] = []  # (sorted keys, their values or None)

    def __len__(self) -> int:
        return sum(len(k) for k, _ in self.runs)

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """The value of each key (0 for a plain set), -1 where absent."""
        found = np.full(len(keys), -1, dtype=np.int64)
        for run, values in self.runs:
            at = np.minimum(np.searchsorted(run, keys), len(run) - 1)
            hit = run[at] == keys
            found[hit] = 0 if values is None else values[at[hit]]
        return found

    def contains(self, keys: np.ndarray) -> np.ndarray:
        return self.lookup(keys) >= 0

    def add(self, keys: np.ndarray, values=None) -> None:
        """Add keys not present yet (the first value of a key is kept)."""
        keys, first = np.unique(keys, return_index=True)
        new = ~self.contains(keys)
        if not new.any():
            return
        values = None if values is None else np.asarray(values, dtype=np.uint32)[first][new]
        self.runs.append((keys[new], values))
        while len(self.runs) > 1 and len(self.runs[-2][0]) <= 2 * len(self.runs[-1][0]):
            (k2, v2), (k1, v1) = self.runs.pop(), self.runs.pop()
            if v1 is None:
                merged = np.concatenate([k1, k2])
                merged.sort()  # the runs are disjoint: sorting in place is the whole merge
                self.runs.append((merged, None))
                continue
            merged = np.concatenate([k1, k2])
            order = np.argsort(merged, kind="stable")
            self.runs.append((merged[order], np.concatenate([v1, v2])[order]))


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
    pairs_seen: KeySet = field(default_factory=KeySet)
    targets_seen: KeySet = field(default_factory=KeySet)

    def __post_init__(self):
        rng = np.random.default_rng(self.seed)
        self._a = rng.integers(1, PRIME, self.num_perm, dtype=np.uint64)
        self._b = rng.integers(0, PRIME, self.num_perm, dtype=np.uint64)
        if self.near_threshold is not None:
            self._bands, self._rows = bands_for(self.near_threshold, self.num_perm)
            self._mix = rng.integers(1, 2**63, self._rows, dtype=np.uint64) | np.uint64(1)
            self._buckets = [KeySet() for _ in range(self._bands)]  # band key -> first kept pair with it
            self._blocks: list[np.ndarray] = []  # kept signatures, low 16 bits, in fixed blocks (no copy to grow)
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
        """None for each new pair (remembered), else why it is a duplicate; in order.

        Keys of earlier batches are looked up at once; the batch's own keys go through small sets, so a pair can
        still duplicate an earlier pair of the same batch."""
        n = len(prepared.keys)
        verdicts: list[str | None] = []
        signatures, bands = prepared.signatures, prepared.bands
        pair_keys = np.fromiter((p for p, _ in prepared.keys), dtype=np.uint64, count=n)
        target_keys = np.fromiter((t for _, t in prepared.keys), dtype=np.uint64, count=n)
        old_pair, old_target = self.pairs_seen.contains(pair_keys), self.targets_seen.contains(target_keys)
        new_pairs: set[int] = set()
        new_targets: set[int] = set()
        if signatures is not None:
            earlier = np.stack([b.lookup(bands[:, j]) for j, b in enumerate(self._buckets)], axis=1) if n else None
            batch_buckets: list[dict[int, int]] = [{} for _ in self._buckets]
        for i, (pair_key, target_key) in enumerate(prepared.keys):
            if old_pair[i] or pair_key in new_pairs:
                verdicts.append("duplicate pair")
                continue
            if old_target[i] or target_key in new_targets:
                verdicts.append("duplicate target")
                continue
            if signatures is not None:
                keys = bands[i].tolist()
                if self._near(signatures[i], earlier[i], keys, batch_buckets):
                    verdicts.append("near-duplicate pair")
                    continue
                index = self._store(signatures[i])
                for j, key in enumerate(keys):
                    if earlier[i, j] < 0:
                        batch_buckets[j].setdefault(key, index)
            new_pairs.add(pair_key)
            new_targets.add(target_key)
            verdicts.append(None)
        self.pairs_seen.add(np.fromiter(new_pairs, dtype=np.uint64, count=len(new_pairs)))
        self.targets_seen.add(np.fromiter(new_targets, dtype=np.uint64, count=len(new_targets)))
        if signatures is not None:
            for bucket, added in zip(self._buckets, batch_buckets, strict=True):
                bucket.add(np.fromiter(added, dtype=np.uint64, count=len(added)), list(added.values()))
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

    def _near(self, signature: np.ndarray, earlier: np.ndarray, keys: list[int], batch: list[dict[int, int]]) -> bool:
        """Does a remembered pair sharing a band with this one have an estimated Jaccard >= the threshold?"""
        for j, key in enumerate(keys):
            other = int(earlier[j]) if earlier[j] >= 0 else batch[j].get(key)
            if other is None:
                continue
            kept = self._blocks[other // SIGNATURE_BLOCK][other % SIGNATURE_BLOCK]
            if (kept == signature.astype(np.uint16)).mean() >= self.near_threshold:
                return True
        return False

    def _store(self, signature: np.ndarray) -> int:
        block, row = divmod(self._kept, SIGNATURE_BLOCK)
        if block == len(self._blocks):
            self._blocks.append(np.zeros((SIGNATURE_BLOCK, self.num_perm), dtype=np.uint16))
        self._blocks[block][row] = signature  # the low 16 bits: equal by chance once in 65,536, 128 bytes a pair
        self._kept += 1
        return self._kept - 1

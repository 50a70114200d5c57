"""Duplicates: exact (after normalisation) on the pair and on the target, and near-duplicates by MinHash LSH.

The first pair seen is the representative; later ones are dropped with a reason naming what they repeat.
MinHash signatures are computed for a batch at once with numpy (word 3-gram shingles of "source ||| target",
`num_perm` hash functions); LSH bands find candidates and the estimated Jaccard similarity of the two
signatures confirms them, so `near_threshold` means what it says.

What dedup must remember of the pairs it kept (8 bytes a key in sorted numpy runs, `KeySet`; 12 bytes a band
entry; 2 bytes per permutation of each kept signature: the low 16 bits, which agree by chance once in 65,536
and move an estimated Jaccard by about 0.00002) goes to files past a few blocks, with Bloom filters of a fixed
size (`memory_mb`) in front: memory does not grow with the input.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from curation.clean.keysets import KeySet, Signatures, SpillFolder
from curation.pair import Pair, dedup_form

if TYPE_CHECKING:
    from curation.clean.settings import DedupConfig

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
    """Remembers what it kept and names what repeats it.

    `memory_mb` fixes the memory of that state (Bloom filters shared out between the key sets; each set also
    holds up to `KeySet.SPILL` recent keys, and near-dedup one block of signatures); the rest lives in files in
    a temporary folder under `spill_dir` (default: the system's), removed with the Deduplicator. None keeps
    everything in memory."""

    near_threshold: float | None = 0.8  # estimated Jaccard similarity of shingles; None turns near-dedup off
    num_perm: int = 64
    seed: int = 1
    memory_mb: float | None = 32
    spill_dir: str | None = None

    @classmethod
    def from_config(cls, dedup: DedupConfig) -> Deduplicator:
        """The dedup rule of the config's `dedup` section."""
        return cls(dedup.near_threshold, dedup.num_perm, memory_mb=dedup.memory_mb)

    def __post_init__(self):
        rng = np.random.default_rng(self.seed)
        self._a = rng.integers(1, PRIME, self.num_perm, dtype=np.uint64)
        self._b = rng.integers(0, PRIME, self.num_perm, dtype=np.uint64)
        self._spill = spill = None if self.memory_mb is None else SpillFolder(self.spill_dir)
        sets = 2
        if self.near_threshold is not None:
            self._bands, self._rows = bands_for(self.near_threshold, self.num_perm)
            self._mix = rng.integers(1, 2**63, self._rows, dtype=np.uint64) | np.uint64(1)
            sets += self._bands
        share = None if self.memory_mb is None else int(self.memory_mb * 2**20 / sets)
        self.pairs_seen = KeySet(share, spill)
        self.targets_seen = KeySet(share, spill)
        if self.near_threshold is not None:
            self._buckets = [KeySet(share, spill) for _ in range(self._bands)]  # band key -> first kept pair with it
            self._kept = Signatures(self.num_perm, spill)

    def check(self, pair: Pair) -> str | None:
        """None if the pair is new (and remember it), else why it is a duplicate."""
        return self.check_batch([pair])[0]

    def check_batch(self, pairs: Sequence[Pair]) -> list[str | None]:
        """`check` for many pairs at once, in order (a pair can duplicate an earlier one of the same batch)."""
        return self.decide(self.prepare(pairs))

    def prepare(self, pairs: Sequence[Pair]) -> Prepared:
        """What `decide` needs, from the pairs alone (no state): worker processes compute it in parallel."""
        normal = [(dedup_form(p.source), dedup_form(p.target)) for p in pairs]
        keys = [(_hash(f"{s}\t{t}"), _hash(t)) for s, t in normal]
        signatures = bands = None
        if self.near_threshold is not None and pairs:
            signatures = self.signatures([f"{s} ||| {t}" for s, t in normal])
            bands = self._band_keys(signatures)
        return Prepared(keys, signatures, bands)

    def decide(self, prepared: Prepared) -> list[str | None]:
        """None for each new pair (remembered), else why it is a duplicate; in order.

        Exact dedup first: a pair repeats the first pair (else target) like it that passed the filters. Then
        near-dedup among the pairs left: a pair is near-duplicate of an earlier *kept* pair. (So the exact part
        depends only on first occurrences, which is what hash partitioning computes on a cluster.)"""
        verdicts = self.decide_exact(prepared.keys)
        if prepared.signatures is not None:
            rest = [i for i, v in enumerate(verdicts) if v is None]
            near = self.decide_near(prepared.signatures[rest], prepared.bands[rest])
            for i, verdict in zip(rest, near, strict=True):
                verdicts[i] = verdict
        return verdicts

    def decide_exact(self, keys: Sequence[tuple[int, int]]) -> list[str | None]:
        """ "duplicate pair" / "duplicate target" for keys seen before (in earlier batches or earlier in this one)."""
        n = len(keys)
        pair_keys = np.fromiter((p for p, _ in keys), dtype=np.uint64, count=n)
        target_keys = np.fromiter((t for _, t in keys), dtype=np.uint64, count=n)
        old_pair, old_target = self.pairs_seen.contains(pair_keys), self.targets_seen.contains(target_keys)
        verdicts: list[str | None] = []
        new_pairs: set[int] = set()
        new_targets: set[int] = set()
        for i, (pair_key, target_key) in enumerate(keys):
            if old_pair[i] or pair_key in new_pairs:
                verdicts.append("duplicate pair")
            elif old_target[i] or target_key in new_targets:
                verdicts.append("duplicate target")
                new_pairs.add(pair_key)  # a later copy of this pair repeats it: first occurrences decide
            else:
                new_pairs.add(pair_key)
                new_targets.add(target_key)
                verdicts.append(None)
        self.pairs_seen.add(np.fromiter(new_pairs, dtype=np.uint64, count=len(new_pairs)))
        self.targets_seen.add(np.fromiter(new_targets, dtype=np.uint64, count=len(new_targets)))
        return verdicts

    def decide_near(self, signatures: np.ndarray, bands: np.ndarray) -> list[str | None]:
        """ "near-duplicate pair" for pairs whose signature matches an earlier kept one; the others are kept."""
        n = len(signatures)
        verdicts: list[str | None] = []
        earlier = np.stack([b.lookup(bands[:, j]) for j, b in enumerate(self._buckets)], axis=1) if n else None
        batch_buckets: list[dict[int, int]] = [{} for _ in self._buckets]
        for i in range(n):
            keys = bands[i].tolist()
            if self._near(signatures[i], earlier[i], keys, batch_buckets):
                verdicts.append("near-duplicate pair")
                continue
            index = self._kept.append(signatures[i])
            for j, key in enumerate(keys):
                if earlier[i, j] < 0:
                    batch_buckets[j].setdefault(key, index)
            verdicts.append(None)
        for bucket, added in zip(self._buckets, batch_buckets, strict=True):
            bucket.add(np.fromiter(added, dtype=np.uint64, count=len(added)), list(added.values()))
        self._kept.release()
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
            if (self._kept[other] == signature.astype(np.uint16)).mean() >= self.near_threshold:
                return True
        return False

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
import os
import shutil
import tempfile
import weakref
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

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


class Bloom:
    """A fixed-size Bloom filter of 64-bit keys: `maybe` is False only for keys never added.

    The keys are already hashes: position i is the key times an odd constant, scaled onto the bit array."""

    HASHES = 7

    def __init__(self, nbytes: int):
        self.bits = np.zeros(max(1024, min(nbytes, 1 << 29)), dtype=np.uint8)  # at most 2**32 bits
        self._size = np.uint64(len(self.bits) * 8)
        self._mult = np.random.default_rng(7).integers(1, 2**63, self.HASHES, dtype=np.uint64) | np.uint64(1)

    def _positions(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        high = (keys[:, None] * self._mult[None, :]) >> np.uint64(32)  # wraps modulo 2**64, then 32 bits
        positions = (high * self._size) >> np.uint64(32)
        return positions >> np.uint64(3), (positions & np.uint64(7)).astype(np.uint8)

    def add(self, keys: np.ndarray) -> None:
        for start in range(0, len(keys), 4096):  # bounded temporaries
            byte, bit = self._positions(keys[start : start + 4096])
            np.bitwise_or.at(self.bits, byte.ravel(), np.left_shift(np.uint8(1), bit.ravel()))

    def maybe(self, keys: np.ndarray) -> np.ndarray:
        found = np.empty(len(keys), dtype=bool)
        for start in range(0, len(keys), 4096):
            byte, bit = self._positions(keys[start : start + 4096])
            found[start : start + 4096] = ((self.bits[byte] >> bit) & 1).all(axis=1)
        return found


@dataclass
class DiskRun:
    """Sorted keys (and their values) in raw files, with every `FENCE`-th key in memory (1 byte per 64 keys): a
    lookup reads only the 4 KB blocks its keys fall in, so reads never stay in this process's memory."""

    path: Path
    has_values: bool
    size: int = 0
    fences: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.uint64))

    FENCE = 512

    @classmethod
    def write(cls, path: Path, chunks: Iterable[tuple[np.ndarray, np.ndarray | None]], has_values: bool) -> DiskRun:
        """A run from sorted chunks, written as they come."""
        run, fences = cls(path, has_values), []
        with open(path.with_suffix(".keys"), "wb") as k, ExitStack() as stack:
            v = stack.enter_context(open(path.with_suffix(".values"), "wb")) if has_values else None
            for keys, values in chunks:
                fences.append(keys[(-run.size) % cls.FENCE :: cls.FENCE].copy())  # a copy: the chunk can go
                keys.tofile(k)
                if v is not None:
                    values.tofile(v)
                run.size += len(keys)
        run.fences = np.concatenate(fences) if fences else run.fences
        return run

    def lookup(self, queries: np.ndarray) -> np.ndarray:
        """The value of each query key (0 without values), -1 where absent."""
        found = np.full(len(queries), -1, dtype=np.int64)
        order = np.argsort(queries)
        block = np.searchsorted(self.fences, queries[order], "right") - 1  # -1: below the first key
        starts = np.flatnonzero(np.diff(block, prepend=-2))  # queries are grouped by block
        with open(self.path.with_suffix(".keys"), "rb") as k, ExitStack() as stack:
            v = stack.enter_context(open(self.path.with_suffix(".values"), "rb")) if self.has_values else None
            for start, stop in zip(starts.tolist(), [*starts[1:].tolist(), len(order)], strict=True):
                b = int(block[start])
                if b < 0:
                    continue
                mine = order[start:stop]
                keys = np.frombuffer(os.pread(k.fileno(), self.FENCE * 8, b * self.FENCE * 8), dtype=np.uint64)
                at = np.minimum(np.searchsorted(keys, queries[mine]), len(keys) - 1)
                hit = keys[at] == queries[mine]
                if not hit.any():
                    continue
                if v is None:
                    found[mine[hit]] = 0
                    continue
                values = np.frombuffer(os.pread(v.fileno(), self.FENCE * 4, b * self.FENCE * 4), dtype=np.uint32)
                found[mine[hit]] = values[at[hit]]
        return found

    def chunks(self, size: int = 1 << 15) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        """The run in order, `size` entries at a time."""
        with open(self.path.with_suffix(".keys"), "rb") as k, ExitStack() as stack:
            v = stack.enter_context(open(self.path.with_suffix(".values"), "rb")) if self.has_values else None
            while len(keys := np.fromfile(k, dtype=np.uint64, count=size)):
                yield keys, None if v is None else np.fromfile(v, dtype=np.uint32, count=len(keys))

    def delete(self) -> None:
        self.path.with_suffix(".keys").unlink()
        if self.has_values:
            self.path.with_suffix(".values").unlink()


class KeySet:
    """A set of 64-bit keys kept as sorted numpy runs: 8 bytes a key (a Python set spends about 70), or, with
    `values`, a map to the value given when the key was first added (12 bytes an entry).

    Runs of similar size are merged, so adding is amortised O(log n) per key, and looking up a batch is one
    vectorised binary search per run. With a `memory` budget (bytes of Bloom filter) the set's memory is fixed:
    past `SPILL` entries the runs in memory are written as one sorted file in `directory()`, files of similar
    size are merged by streaming, and the Bloom filter sends to the files only the keys that may be there (the
    duplicates, plus false positives: 1% while the filter holds fewer than about `memory / 1.2` keys, more past
    that, so lookups get slower, never wrong).
    """

    SPILL = 16_384  # entries held in memory before they go to a file

    def __init__(self, memory: int | None = None, directory: Callable[[], Path] | None = None):
        if memory is not None and directory is None:
            raise ValueError("a KeySet with a memory budget needs a directory to spill to")
        self.runs: list[tuple[np.ndarray, np.ndarray | None]] = []  # in memory: (sorted keys, values or None)
        self.disk: list[DiskRun] = []
        self._memory, self._directory = memory, directory
        self._bloom: Bloom | None = None
        self._spilled = 0

    def __len__(self) -> int:
        return sum(len(k) for k, _ in self.runs) + sum(run.size for run in self.disk)

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """The value of each key (0 for a plain set), -1 where absent."""
        found = np.full(len(keys), -1, dtype=np.int64)
        for run, values in self.runs:
            at = np.minimum(np.searchsorted(run, keys), len(run) - 1)
            hit = run[at] == keys
            found[hit] = 0 if values is None else values[at[hit]]
        if self.disk and len(keys):
            ask = np.flatnonzero(found < 0)
            ask = ask[self._bloom.maybe(keys[ask])]
            for run in self.disk:
                if not len(ask):
                    break
                values = run.lookup(keys[ask])
                hit = values >= 0
                found[ask[hit]] = values[hit]
                ask = ask[~hit]
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
            self.runs.append(_merge_runs(self.runs.pop(), self.runs.pop()))
        if self._memory is not None and sum(len(k) for k, _ in self.runs) > self.SPILL:
            self._spill()

    def _spill(self) -> None:
        while len(self.runs) > 1:
            self.runs.append(_merge_runs(self.runs.pop(), self.runs.pop()))
        keys, values = self.runs.pop()
        if self._bloom is None:
            self._bloom = Bloom(self._memory)
        self._bloom.add(keys)
        has_values = values is not None
        self.disk.append(DiskRun.write(self._next_path(), [(keys, values)], has_values))
        while len(self.disk) > 1 and self.disk[-2].size <= 2 * self.disk[-1].size:
            newer, older = self.disk.pop(), self.disk.pop()
            merged = _merge_streams(older.chunks(), newer.chunks())
            self.disk.append(DiskRun.write(self._next_path(), merged, has_values))
            older.delete()
            newer.delete()

    def _next_path(self) -> Path:
        self._spilled += 1
        return self._directory() / f"{id(self):x}-{self._spilled}"


def _merge_runs(a: tuple, b: tuple) -> tuple[np.ndarray, np.ndarray | None]:
    """Two disjoint sorted runs as one."""
    keys = np.concatenate([a[0], b[0]])
    if a[1] is None:
        keys.sort()  # disjoint runs: sorting in place is the whole merge
        return keys, None
    order = np.argsort(keys, kind="stable")
    return keys[order], np.concatenate([a[1], b[1]])[order]


def _merge_streams(a: Iterator, b: Iterator) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """Merge two disjoint sorted runs given as streams of chunks, a bounded piece at a time."""
    ca, cb = next(a, None), next(b, None)
    while ca is not None and cb is not None:
        cut = min(ca[0][-1], cb[0][-1])  # later chunks of both runs only hold larger keys
        na, nb = np.searchsorted(ca[0], cut, "right"), np.searchsorted(cb[0], cut, "right")
        yield _merge_runs(_slice(ca, None, na), _slice(cb, None, nb))
        ca = _slice(ca, na, None) if na < len(ca[0]) else next(a, None)
        cb = _slice(cb, nb, None) if nb < len(cb[0]) else next(b, None)
    for chunk, rest in ((ca, a), (cb, b)):
        if chunk is not None:
            yield chunk
            yield from rest


def _slice(chunk: tuple, start, stop) -> tuple:
    keys, values = chunk
    return keys[start:stop], None if values is None else values[start:stop]


@dataclass
class Prepared:
    keys: list[tuple[int, int]]  # (pair hash, target hash) of the normalised pair
    signatures: np.ndarray | None  # MinHash signatures, when near-dedup is on
    bands: np.ndarray | None  # their LSH band keys


class Signatures:
    """Kept signatures by index, low 16 bits (equal by chance once in 65,536): the newest block in memory, full
    blocks appended to a file (`directory`) or, without one, kept in memory."""

    def __init__(self, num_perm: int, directory: Callable[[], Path] | None):
        self._directory, self._num_perm = directory, num_perm
        self._blocks: list[np.ndarray] = [np.zeros((SIGNATURE_BLOCK, num_perm), dtype=np.uint16)]
        self._on_disk = 0  # rows in the file
        self._path: Path | None = None
        self._file = None
        self.count = 0

    def append(self, signature: np.ndarray) -> int:
        row = self.count - self._on_disk - (len(self._blocks) - 1) * SIGNATURE_BLOCK
        if row == SIGNATURE_BLOCK:
            if self._directory is None:
                self._blocks.append(np.zeros_like(self._blocks[0]))
            else:
                self._path = self._path or self._directory() / "signatures.u16"
                with open(self._path, "ab") as f:
                    self._blocks[0].tofile(f)
                self._on_disk += SIGNATURE_BLOCK
            row = 0
        self._blocks[-1][row] = signature
        self.count += 1
        return self.count - 1

    def __getitem__(self, index: int) -> np.ndarray:
        if index < self._on_disk:
            self._file = self._file or open(self._path, "rb")  # noqa: SIM115 (closed by release)
            row = 2 * self._num_perm
            return np.frombuffer(os.pread(self._file.fileno(), row, index * row), dtype=np.uint16)
        block, row = divmod(index - self._on_disk, SIGNATURE_BLOCK)
        return self._blocks[block][row]

    def release(self) -> None:
        """Close the file until the next read."""
        if self._file is not None:
            self._file.close()
            self._file = None


class SpillFolder:
    """A temporary folder made on first use and removed when the last holder lets go of this object."""

    def __init__(self, parent: str | None = None):
        self.parent, self.path = parent, None

    def __call__(self) -> Path:
        if self.path is None:
            self.path = Path(tempfile.mkdtemp(prefix="curation-dedup-", dir=self.parent))
            weakref.finalize(self, shutil.rmtree, self.path, True)
        return self.path


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
        normal = [(normalise(p.source), normalise(p.target)) for p in pairs]
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

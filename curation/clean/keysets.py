"""Sets of 64-bit keys larger than memory: a Bloom filter in front of sorted runs on disk (the storage
under dedup), and MinHash signatures kept in blocks on disk.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SIGNATURE_BLOCK = 16_384  # kept signatures per storage block


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

"""The pair embeddings clusters are made of: the learned filter's own (`PairEncoder.embeddings`: cached whenever the
filter encodes a pair, so pairs it has scored cost no second pass), or a file of them (`.npy`, one row per pair)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from curation.errors import InputError, ModelError
from curation.model.encoder import build_encoder

NO_MODEL = "no embeddings for these pairs and no model to make them ({cause}): {what}"
FOR_FILE = (
    "pass --embeddings FILE.npy (one row per pair, in input order), or a sentence-transformers folder as "
    "--base-model (train.base_model)"
)
FOR_SETUP = "set train.base_model to a sentence-transformers folder, or turn clusters off (clusters.enabled: false)"


SPAN = 8192  # rows read at once


class RowsOnDisk:
    """A 2-D array in a file, read a block of rows at a time with plain reads: memory holds the block asked for,
    never the file (a memory map would count every page it touched, 768 MB for a million rows of 384 float16)."""

    def __init__(self, path: Path, rows: int, width: int, dtype, offset: int = 0):
        self.path, self.shape, self.dtype, self.offset = Path(path), (rows, width), np.dtype(dtype), offset
        self.ndim = 2

    def __len__(self) -> int:
        return self.shape[0]

    def _read(self, start: int, stop: int) -> np.ndarray:
        width = self.shape[1]
        with self.path.open("rb") as f:
            f.seek(self.offset + start * width * self.dtype.itemsize)
            block = np.fromfile(f, dtype=self.dtype, count=(stop - start) * width)
        return block.reshape(stop - start, width).astype(np.float32)

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, slice):
            start, stop, _ = key.indices(len(self))
            return self._read(start, max(start, stop))
        rows = np.asarray(key)
        out = np.empty((len(rows), self.shape[1]), dtype=np.float32)
        order = np.argsort(rows, kind="stable")
        ordered = rows[order]
        blocks = ordered // SPAN
        for block in np.unique(blocks):  # one span of the file at a time, whatever the rows asked for
            mine = np.flatnonzero(blocks == block)
            start = int(block) * SPAN
            data = self._read(start, min(start + SPAN, len(self)))
            out[order[mine]] = data[ordered[mine] - start]
        return out


def from_file(path: str | Path, n: int) -> RowsOnDisk:
    """A `.npy` of `n` rows of floats, read block by block (never whole)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"embeddings file {path} does not exist: write one row per pair, in input order (numpy .npy)")
    try:
        with path.open("rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = (
                np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            )
            shape, fortran, dtype = read_header(f)
            offset = f.tell()
    except (ValueError, OSError) as e:
        raise InputError(f"embeddings file {path} is not a numpy .npy array ({e}): save it with numpy.save") from None
    if len(shape) != 2 or shape[0] != n or not np.issubdtype(dtype, np.floating) or fortran:
        raise InputError(
            f"embeddings file {path} holds a {dtype} array of shape {shape}, not {n:,} rows of floats (one row per "
            "pair of the input, in order): make it from the same file"
        )
    return RowsOnDisk(path, shape[0], shape[1], dtype, offset)


def encoder_for(train, what: str = FOR_FILE):
    """The learned filter's encoder (`train`: its settings, with the feature cache under `train.models_dir`), or the
    one-line error that there is none, ending with `what` to do."""
    try:
        return build_encoder(train)
    except ModelError as e:
        raise ModelError(NO_MODEL.format(cause=str(e).split(":")[0], what=what)) from None


def from_encoder(
    encoder, chunks: Iterable[Sequence[tuple[str, str]]], folder: str | Path, bar: Callable[[int], None] | None = None
) -> np.ndarray:
    """Embeddings of every pair `chunks` yields, written to `folder/embeddings.f16` as they come and read back block
    by block: memory stays flat whatever the pool's size."""
    path = Path(folder) / "embeddings.f16"
    width = rows = 0
    with path.open("wb") as f:
        for chunk in chunks:
            vectors = encoder.embeddings(list(chunk)).astype(np.float16)
            width = vectors.shape[1]
            f.write(vectors.tobytes())
            rows += len(vectors)
            if bar:
                bar(len(vectors))
    if rows == 0:
        return np.zeros((0, 1), dtype=np.float32)
    return RowsOnDisk(path, rows, width, np.float16)

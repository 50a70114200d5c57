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


def from_file(path: str | Path, n: int) -> np.ndarray:
    """A `.npy` of `n` rows, memory-mapped (read block by block, never whole)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"embeddings file {path} does not exist: write one row per pair, in input order (numpy .npy)")
    try:
        x = np.load(path, mmap_mode="r")
    except (ValueError, OSError) as e:
        raise InputError(f"embeddings file {path} is not a numpy .npy array ({e}): save it with numpy.save") from None
    if x.ndim != 2 or x.shape[0] != n or not np.issubdtype(x.dtype, np.floating):
        raise InputError(
            f"embeddings file {path} holds a {x.dtype} array of shape {x.shape}, not {n:,} rows of floats (one row per "
            "pair of the input, in order): make it from the same file"
        )
    return x


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
    """Embeddings of every pair `chunks` yields, written to `folder/embeddings.f16` as they come and memory-mapped
    back: memory stays flat whatever the pool's size."""
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
    return np.memmap(path, dtype=np.float16, mode="r", shape=(rows, width))

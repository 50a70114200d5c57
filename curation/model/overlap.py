"""The encoder-free features of the next chunks (Apertium, wordfreq, language ID, surface) computed in worker
processes while this process encodes the current chunk, so the two kinds of work run side by side.

On 2 CPU cores one worker hides most of the Apertium work behind the encoder (and behind the model's loading, for
the first chunk); beside a GPU, whose encoder outruns one worker, give it more (`workers`). Where no process can be
started (inside a daemon process), the features are computed here, at once: the same numbers, later.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor

from curation.model.features import without_encoder


def default_workers(device: str) -> int:
    """One beside a CPU encoder; beside a GPU, every core but the one that feeds the GPU."""
    if device.startswith("cpu"):
        return 1
    return max(1, (os.cpu_count() or 2) - 1)


class Overlap:
    """`submit(pairs)` returns a future of `without_encoder(pairs)`; at most `workers` chunks run at once."""

    def __init__(self, workers: int = 1):
        self._pool: ProcessPoolExecutor | None = None
        if workers > 0 and not multiprocessing.current_process().daemon:
            try:  # spawn, not fork: this process may hold torch's threads
                context = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(workers, mp_context=context)
            except (OSError, ValueError, AssertionError):
                self._pool = None

    def submit(self, pairs: Sequence[tuple[str, str]]) -> Future:
        pairs = [(s, t) for s, t in pairs]
        if self._pool is not None and pairs:
            return self._pool.submit(without_encoder, pairs)
        done: Future = Future()
        done.set_result(without_encoder(pairs))
        return done

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> Overlap:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

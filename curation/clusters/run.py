"""Cluster a pool: centres fitted on a sample of its embeddings, every pair assigned, each cluster titled.

`cluster` is the one entry point (setup and `curation cluster` use it). Memory: the embeddings are read from an
array or a memory-mapped file block by block; besides them, 8 bytes per pair (its cluster and distance) and the
word tables of the titles, which are bounded per cluster.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from curation.clusters.decide import ClusterInfo, near_duplicates, resolve
from curation.clusters.fit import ClusterModel, fit
from curation.clusters.settings import ClusterConfig
from curation.clusters.titles import Keywords, title


@dataclass
class Clustering:
    """Every pair's cluster and distance to its centre (by row), the clusters described, and the decisions taken."""

    model: ClusterModel
    labels: np.ndarray  # (n,) int32
    distances: np.ndarray  # (n,) float32
    clusters: list[ClusterInfo]
    dropped: dict[int, str] = field(default_factory=dict)  # cluster id -> the clusters.drop entry that named it
    kept: dict[int, str] = field(default_factory=dict)  # cluster id -> the clusters.keep entry that named it
    duplicates: dict[int, int] = field(default_factory=dict)  # SemDeDup: row -> the kept row it repeats
    seconds: dict[str, float] = field(default_factory=dict)

    def term(self, row: int) -> str:
        return self.clusters[int(self.labels[row])].term

    def drop_reason(self, row: int) -> str | None:
        """Why a row is dropped by a cluster decision (None: it is not)."""
        c = int(self.labels[row])
        if c in self.dropped:
            return f"clusters: cluster {c} ({self.clusters[c].title}) dropped by the curator (clusters.drop)"
        if row in self.duplicates:
            return f"clusters: near-duplicate in cluster {c} ({self.clusters[c].title}): cosine ≥ clusters.dedup_cosine"
        return None


def cluster(
    x,
    texts: Callable[[], Iterable[Sequence[tuple[str, str]]]],
    settings: ClusterConfig,
) -> Clustering:
    """Cluster `x` (n × d embeddings, an array or a memory map; row i is the i-th pair `texts()` yields, in chunks).
    Applies `settings.drop`/`keep` (ids or titles, checked against the clusters found) and SemDeDup
    (`settings.dedup_cosine`)."""
    started = time.perf_counter()
    n = len(x)
    rng = np.random.default_rng(settings.seed)
    sample = np.sort(rng.choice(n, settings.sample, replace=False)) if n > settings.sample else np.arange(n)
    model = fit(np.asarray(x[sample], dtype=np.float32), settings.k, settings.seed, total=n)
    fitted = time.perf_counter()
    labels, distances = model.assign(x)  # by blocks
    assigned = time.perf_counter()
    words = Keywords()
    row = 0
    for chunk in texts():
        rows = range(row, row + len(chunk))
        words.add(
            rows,
            [s for s, _ in chunk],
            [t for _, t in chunk],
            labels[rows.start : rows.stop],
            distances[rows.start : rows.stop],
        )
        row += len(chunk)
    if row != n:
        raise ValueError(f"{row} pairs for {n} embeddings")  # a bug: the callers check counts first
    clusters = describe(words, labels, distances, model.k)
    titled = time.perf_counter()
    result = Clustering(model, labels, distances, clusters)
    result.dropped = resolve(settings.drop, clusters, "clusters.drop")
    result.kept = resolve(settings.keep, clusters, "clusters.keep")
    if settings.dedup_cosine is not None:
        result.duplicates = near_duplicates(labels, x, settings.dedup_cosine)
    result.seconds = {
        "fit": round(fitted - started, 2),
        "assign": round(assigned - fitted, 2),
        "titles": round(titled - assigned, 2),
        "decisions": round(time.perf_counter() - titled, 2),
    }
    return result


def describe(words: Keywords, labels: np.ndarray, distances: np.ndarray, k: int) -> list[ClusterInfo]:
    sizes = np.bincount(labels, minlength=k)
    mean = np.bincount(labels, weights=distances, minlength=k) / np.maximum(sizes, 1)
    source, target = words.keywords("source"), words.keywords("target")
    return [
        ClusterInfo(
            c,
            title(source.get(c, []), target.get(c, [])),
            int(sizes[c]),
            source.get(c, []),
            target.get(c, []),
            words.examples_of(c),
            round(float(mean[c]), 4),
        )
        for c in range(k)
    ]

"""Centres from a sample of pair embeddings, then every pair to its nearest: k-means, over-split and merged back.

How many clusters (`clusters.k` unset): k-means first splits the sample finely, into k0 = ⌈5·√m⌉ clusters (m: the
pairs fitted on, at most `clusters.sample`; at most m/10), so that a family of boilerplate gets clusters of its own
rather than a share of a mixed one; then fine clusters merge while their centres lie closer (average linkage) than
`MERGE` times the median radius of a fine cluster (a member's mean distance to its centre). What is left is k: the
pool's size sets the first split, its structure the merging. Measured (README, "Clusters"): on a pool of 3,982 pairs
with six families of web boilerplate, a fixed k = 40 put 57-69% of the boilerplate in clusters of one family, this
rule 98-99%, with k ≈ 108. Tight families in a diffuse background come out one cluster each (tests); round groups
with nothing between them are split finer than they are, never mixed.

Every pair is then assigned to the nearest fine centre and takes the cluster that centre merged into; its distance
is to that cluster's centre (the mean of its fitted members): what label propagation's radius is measured in.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from curation.errors import InputError

MERGE = 1.0  # fine clusters merge while their centres lie closer (on average) than this times the median radius
SPLIT_PER_ROOT = 5  # k0 = ⌈5·√m⌉ fine clusters for m fitted pairs
MIN_MEMBERS = 10  # pairs per fine cluster on average, at least (small pools)
MAX_FINE = 2048  # fine clusters at most (a sample of 262k pairs reaches it)
BLOCK = 8192  # rows assigned at once: memory stays flat whatever the pool's size
N_INIT = 1  # k-means starts; the best (least inertia) is kept


@dataclass
class ClusterModel:
    """What assigning a pair needs: the fine centres, which cluster each merged into, and the clusters' centres."""

    fine: np.ndarray  # (k0, d) float32
    group: np.ndarray  # (k0,) int: fine centre -> cluster id (0 = the largest cluster)
    centres: np.ndarray  # (k, d) float32: mean of each cluster's fitted members
    auto: bool = True  # k chosen by the rule above (False: clusters.k)
    encoder: str = ""  # what made the embeddings (`encoder_key`): a scorer assigns with the same encoder only

    @property
    def k(self) -> int:
        return len(self.centres)

    def assign(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(cluster, distance to its centre) of each row of `x`, in blocks of `BLOCK` rows."""
        labels = np.empty(len(x), dtype=np.int32)
        distances = np.empty(len(x), dtype=np.float32)
        fine_sq = (self.fine**2).sum(1)
        for start in range(0, len(x), BLOCK):
            block = np.asarray(x[start : start + BLOCK], dtype=np.float32)
            nearest = np.argmin(fine_sq[None, :] - 2 * block @ self.fine.T, axis=1)
            label = self.group[nearest]
            labels[start : start + len(block)] = label
            distances[start : start + len(block)] = np.linalg.norm(block - self.centres[label], axis=1)
        return labels, distances

    def save(self, path: str | Path) -> None:
        with open(path, "wb") as f:
            np.savez(
                f,
                fine=self.fine,
                group=self.group,
                centres=self.centres,
                auto=np.array(self.auto),
                encoder=np.array(self.encoder),
            )

    @classmethod
    def load(cls, path: str | Path) -> ClusterModel:
        with np.load(path) as z:
            return cls(z["fine"], z["group"], z["centres"], bool(z["auto"]), str(z["encoder"]))


def encoder_key(base_model: str, depth: int | None) -> str:
    """The encoder a cluster model's embeddings come from: a learned filter scores with the same one when its base
    model and depth match and its body was not fine-tuned."""
    return f"{base_model} depth={depth}"


def check_k(k: int | None, pairs: int) -> None:
    """`clusters.k` fits a pool of `pairs`: one line otherwise (setup asks before its encoder loads)."""
    if k is not None and k > pairs:
        raise InputError(
            f"clusters.k is {k} but the pool has {pairs:,} pairs: lower it (or leave it out to have it chosen)"
        )


def fine_k(m: int) -> int:
    """The first, fine split of `m` fitted pairs: ⌈5·√m⌉, with at least `MIN_MEMBERS` pairs a fine cluster on
    average (a radius measured on two or three members says nothing)."""
    return max(1, min(math.ceil(SPLIT_PER_ROOT * math.sqrt(m)), MAX_FINE, m // MIN_MEMBERS))


def fit(x: np.ndarray, k: int | None = None, seed: int = 0, total: int | None = None) -> ClusterModel:
    """Centres for embeddings `x` (the sample; `total`: the pool's size, for the message). `k`: that many clusters
    (plain k-means); None: chosen by the rule in this module's docstring."""
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    n = len(x)
    if n == 0:
        raise InputError("nothing to cluster: the pool is empty")
    check_k(k, total or n)
    x = np.ascontiguousarray(x, dtype=np.float32)
    k0 = min(k, n) if k is not None else fine_k(n)
    if k0 <= 1:
        return ClusterModel(x.mean(0, keepdims=True), np.zeros(1, dtype=np.int32), x.mean(0, keepdims=True), k is None)
    with warnings.catch_warnings():  # fewer distinct pairs than clusters (copies): k-means says so, we merge anyway
        warnings.simplefilter("ignore", ConvergenceWarning)
        km = KMeans(k0, n_init=N_INIT, random_state=seed).fit(x)
    fine, labels = km.cluster_centers_.astype(np.float32), km.labels_
    group = np.arange(k0) if k is not None else _merged(x, fine, labels)
    sizes = np.bincount(group[labels], minlength=group.max() + 1)
    order = np.argsort(-sizes, kind="stable")  # cluster 0 is the largest
    renumber = np.empty_like(order)
    renumber[order] = np.arange(len(order))
    group = renumber[group].astype(np.int32)
    member = group[labels]
    centres = np.stack([x[member == c].mean(0) for c in range(len(order))]).astype(np.float32)
    return ClusterModel(fine, group, centres, auto=k is None)


def _merged(x: np.ndarray, fine: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Fine cluster -> merged group: average-linkage agglomeration of the fine centres, cut where groups lie
    farther apart on average than `MERGE` times the median radius of a fine cluster (a member's mean distance to
    its centre). Average linkage, not single: a chain of near neighbours does not glue the pool into one cluster."""
    from scipy.cluster.hierarchy import fcluster, linkage

    k0 = len(fine)
    dist = np.linalg.norm(x - fine[labels], axis=1)
    counts = np.bincount(labels, minlength=k0)
    radius = np.bincount(labels, weights=dist, minlength=k0) / np.maximum(counts, 1)
    tree = linkage(fine.astype(np.float64), "average")
    return fcluster(tree, MERGE * float(np.median(radius[counts > 0])), "distance") - 1

"""What `curation score` runs with: the trained filter that scores and, on a Ray cluster, how wide. Plain values,
cheap to import (the command line builds them from its options before any model loads)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ModelSpec:
    """Which trained filter scores the pairs and how it runs (as `InputSpec` says what is read and how)."""

    path: str | None = None  # a version folder or a models folder (its latest); None: no scoring
    device: str = "auto"
    batch_size: int | None = None  # encoder batch; None: the device's default
    trust_pickle: bool = False  # load a model folder that holds pickles (written before plain-number heads)
    clusters: str | None = None  # a `curation cluster` output folder: every scored pair gets its cluster


@dataclass
class RayOptions:
    """Where and how wide the Ray engine runs."""

    address: str | None = None  # ray://host:10001; None: RAY_ADDRESS, else a local Ray
    replicas: int | None = None  # model actors (None: one per GPU, else one per 4 CPUs)
    gpus_per_replica: float | None = None  # None: 1 when the cluster has GPUs
    cpus_per_replica: float = 1

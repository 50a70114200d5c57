"""The cleaning stage's settings: which heuristic filters run with what parameters, and dedup."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from curation.checks import WHOLE_1, check, number, or_null, whole_between
from curation.clean.filters import REGISTRY, build
from curation.clean.readers import InputSpec
from curation.errors import ConfigError

SAMPLE = "data/sample/candidates.tsv"  # the input when none is configured


@dataclass
class DedupConfig:
    near_threshold: float | None = 0.8
    num_perm: int = 64
    memory_mb: float | None = 32  # fixed memory of the dedup state, the rest in temporary files; null: all in memory
    template_cap: int | None = 5  # setup: at most this many pairs differing only in numbers reach annotators; null: all
    target_group: int = 2  # setup: pairs with different sources sharing one target that reach annotators (1: first)

    def __post_init__(self):
        near = ("a number in (0, 1]", lambda v: number(v) and 0 < v <= 1)
        megabytes = ("a positive number of megabytes", lambda v: number(v) and v > 0)
        rules = {"near_threshold": or_null(near), "num_perm": whole_between(2, 1024), "memory_mb": or_null(megabytes)}
        check("dedup", self, rules | {"template_cap": or_null(WHOLE_1), "target_group": WHOLE_1})


def filter_entries(filters: list | None) -> list[tuple[str, dict[str, Any]]]:
    """(name, params) of the configured filters (the config's `filters` list), in order; None: every filter with
    its defaults."""
    if filters is None:
        return [(name, {}) for name in REGISTRY]
    entries = []
    for entry in filters:
        if isinstance(entry, str):
            entries.append((entry, {}))
        elif isinstance(entry, dict) and len(entry) == 1:
            name, params = next(iter(entry.items()))
            entries.append((name, params or {}))
        else:
            raise ConfigError(f"each entry of 'filters' is a name or {{name: {{param: value}}}}, not {entry!r}")
    return entries


def check_filters(filters: list | None) -> None:
    """Build each configured filter once, so a bad name or parameter is an error before any work."""
    for name, params in filter_entries(filters):
        build(name, params)


@dataclass
class Cleaning:
    """All the cleaning stage reads: where the pairs come from (`input`), the filters with their parameters, PII
    masking, the worker processes and dedup. The config's `input`, `filters`, `pii`, `workers` and `dedup` keys."""

    input: InputSpec = field(default_factory=lambda: InputSpec(path=SAMPLE))
    filters: list[dict[str, dict[str, Any]]] | None = None  # None: every filter with its defaults
    pii: bool = True
    workers: int | None = None  # processes for masking/filters/fingerprints; None: one per core, 1: no pool
    dedup: DedupConfig = field(default_factory=DedupConfig)


@dataclass(frozen=True)
class CleanSettings:
    """What screening a chunk needs (filters, PII masking, the dedup fingerprints), as plain values: cheap to send to
    a worker process, and the key of its screener there."""

    filters: tuple[tuple[str, dict[str, Any]], ...]  # (name, params), in order
    pii: bool = True
    near_threshold: float | None = 0.8
    num_perm: int = 64

    @classmethod
    def of(cls, cleaning: Cleaning) -> CleanSettings:
        d = cleaning.dedup
        return cls(tuple(filter_entries(cleaning.filters)), cleaning.pii, d.near_threshold, d.num_perm)

    @property
    def key(self) -> str:
        return json.dumps([[list(f) for f in self.filters], self.pii, self.near_threshold, self.num_perm])

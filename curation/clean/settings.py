"""The cleaning stage's settings: which heuristic filters run with what parameters, and dedup."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from curation.checks import number
from curation.clean.filters import REGISTRY, build
from curation.errors import ConfigError


@dataclass
class DedupConfig:
    near_threshold: float | None = 0.8
    num_perm: int = 64
    memory_mb: float | None = 32  # fixed memory of the dedup state, the rest in temporary files; null: all in memory
    template_cap: int | None = 5  # setup: at most this many pairs differing only in numbers reach annotators; null: all

    def __post_init__(self):
        if self.near_threshold is not None and not (number(self.near_threshold) and 0 < self.near_threshold <= 1):
            raise ConfigError(f"dedup.near_threshold must be a number in (0, 1] or null, not {self.near_threshold!r}")
        if not (isinstance(self.num_perm, int) and self.num_perm >= 2):
            raise ConfigError(f"dedup.num_perm must be a whole number of at least 2, not {self.num_perm!r}")
        if self.template_cap is not None and not (
            isinstance(self.template_cap, int) and not isinstance(self.template_cap, bool) and self.template_cap >= 1
        ):
            raise ConfigError(
                f"dedup.template_cap must be a whole number of at least 1 or null, not {self.template_cap!r}"
            )
        if self.memory_mb is not None and not (number(self.memory_mb) and self.memory_mb > 0):
            raise ConfigError(f"dedup.memory_mb must be a positive number of megabytes or null, not {self.memory_mb!r}")


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

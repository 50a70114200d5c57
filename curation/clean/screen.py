"""The screen step, per chunk and per process: mask PII, run the heuristic filters, fingerprint for dedup."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from curation.clean import filters as filters_module
from curation.clean import pii
from curation.clean.dedup import Deduplicator
from curation.clean.filters import FilterCounts
from curation.clean.settings import CleanSettings
from curation.pair import Pair


@dataclass(frozen=True)
class Screener:
    """The screen step's tools in one process: the filter chain, PII masking on or off, and the dedup rule's
    fingerprinting (it only fingerprints; deciding what is a duplicate stays with the main process)."""

    chain: list[filters_module.PairFilter]
    pii: bool
    fingerprints: Deduplicator

    @classmethod
    def build(cls, settings: CleanSettings) -> Screener:
        chain = [filters_module.build(name, params) for name, params in settings.filters]
        return cls(chain, settings.pii, Deduplicator(settings.near_threshold, settings.num_perm, memory_mb=None))

    def screen(self, pairs: list[Pair], counts: dict[str, FilterCounts]) -> tuple[int, list[str | None]]:
        """Mask each pair (in place) and run the filters: the values masked, and each pair's drop reason or None."""
        masked, reasons = 0, []
        for pair in pairs:
            if self.pii:
                masked += pii.mask(pair)
            reasons.append(filters_module.apply(self.chain, pair, counts))
        return masked, reasons


_SCREENERS: dict[str, Screener] = {}  # this process's, by settings


def screener(settings: CleanSettings) -> Screener:
    """This process's screener for `settings`, built at its first use (a bad filter config fails there)."""
    key = settings.key
    if key not in _SCREENERS:
        _SCREENERS[key] = Screener.build(settings)
    return _SCREENERS[key]


def screen_rows(rows: list[tuple[str, str, str]], settings: CleanSettings):
    return screen_chunk([Pair(s, t, origin=o) for s, t, o in rows], settings)


@dataclass
class Screened:
    """One chunk screened: how many pairs PII masking changed, each filter's counts, the pairs kept with their dedup
    fingerprints (`prepared`, in the same order), and the pairs dropped with their reasons."""

    masked: int
    counts: dict[str, FilterCounts]
    kept: list[Pair]
    prepared: Any
    dropped: list[tuple[Pair, str]]


def screen_chunk(pairs: list[Pair], settings: CleanSettings) -> Screened:
    """Mask, filter and fingerprint one chunk."""
    counts: dict[str, FilterCounts] = {}
    tools = screener(settings)
    masked, reasons = tools.screen(pairs, counts)
    kept = [pair for pair, reason in zip(pairs, reasons, strict=True) if reason is None]
    dropped = [(pair, reason) for pair, reason in zip(pairs, reasons, strict=True) if reason is not None]
    return Screened(masked, counts, kept, tools.fingerprints.prepare(kept), dropped)

"""The screen step, per chunk and per process: mask PII, run the heuristic filters, fingerprint for dedup."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from curation.clean import filters as filters_module
from curation.clean import pii
from curation.clean.dedup import Deduplicator
from curation.clean.filters import FilterCounts
from curation.pair import Pair

if TYPE_CHECKING:
    from curation.config import Config


def screening(config: Config) -> tuple:
    """What screening chunks needs, as plain values: (filter entries, PII on, near threshold, permutations)."""
    return config.filter_entries(), config.pii, config.dedup.near_threshold, config.dedup.num_perm


@dataclass(frozen=True)
class Screener:
    """The screen step's tools in one process: the filter chain, PII masking on or off, and the dedup rule's
    fingerprinting (it only fingerprints; deciding what is a duplicate stays with the main process)."""

    chain: list[filters_module.PairFilter]
    pii: bool
    fingerprints: Deduplicator

    @classmethod
    def build(cls, entries, pii_on: bool, near_threshold, num_perm: int) -> Screener:
        """From `screening`'s plain values: built once per process."""
        chain = [filters_module.build(name, params) for name, params in entries]
        return cls(chain, pii_on, Deduplicator(near_threshold, num_perm, memory_mb=None))

    def screen(self, pairs: list[Pair], counts: dict[str, FilterCounts]) -> tuple[int, list[str | None]]:
        """Mask each pair (in place) and run the filters: the values masked, and each pair's drop reason or None."""
        masked, reasons = 0, []
        for pair in pairs:
            if self.pii:
                masked += pii.mask(pair)
            reasons.append(filters_module.apply(self.chain, pair, counts))
        return masked, reasons


_SCREENER: Screener | None = None


def start_screener(*state) -> None:
    """Each worker (or this process) builds its own filters and fingerprinting once."""
    global _SCREENER
    _SCREENER = Screener.build(*state)


def screen_rows(rows: list[tuple[str, str, str]]):
    return screen_chunk([Pair(s, t, origin=o) for s, t, o in rows])


def screen_chunk(pairs: list[Pair]):
    """Mask, filter and fingerprint one chunk: (masked count, filter counts, kept, prepared dedup, dropped)."""
    counts: dict[str, FilterCounts] = {}
    masked, reasons = _SCREENER.screen(pairs, counts)
    kept = [pair for pair, reason in zip(pairs, reasons, strict=True) if reason is None]
    dropped = [(pair, reason) for pair, reason in zip(pairs, reasons, strict=True) if reason is not None]
    return masked, counts, kept, _SCREENER.fingerprints.prepare(kept), dropped

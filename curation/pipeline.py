"""Load → mask PII → heuristic filters → dedup, streamed; every decision counted, every drop kept with its reason."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from curation import filters as filters_module
from curation import pii
from curation.config import Config
from curation.data import Pair
from curation.dedup import Deduplicator
from curation.filters import FilterCounts
from curation.loaders import LoadStats, load


@dataclass
class Report:
    load: LoadStats = field(default_factory=LoadStats)
    pii_masked: int = 0
    filters: dict[str, FilterCounts] = field(default_factory=dict)
    dedup: dict[str, int] = field(default_factory=dict)
    kept: int = 0

    def table(self) -> str:
        """The filter table a curator reads: one row per stage, with its top reasons."""
        lines = [f"{'stage':16} {'seen':>9} {'kept':>9} {'dropped':>9}  reasons"]
        lines.append(
            f"{'load':16} {self.load.read + self.load.malformed:9,} {self.load.read:9,} "
            f"{self.load.malformed:9,}  {'malformed rows' if self.load.malformed else ''}"
        )
        for name, c in self.filters.items():
            reasons = ", ".join(f"{r} ({n:,})" for r, n in sorted(c.reasons.items(), key=lambda x: -x[1])[:3])
            lines.append(f"{name:16} {c.seen:9,} {c.kept:9,} {c.dropped:9,}  {reasons}")
        seen = sum(self.dedup.values()) + self.kept
        reasons = ", ".join(f"{r} ({n:,})" for r, n in self.dedup.items())
        lines.append(f"{'dedup':16} {seen:9,} {self.kept:9,} {sum(self.dedup.values()):9,}  {reasons}")
        lines.append(f"PII values masked: {self.pii_masked:,}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "read": self.load.read,
            "malformed": self.load.malformed,
            "malformed_examples": self.load.examples,
            "pii_masked": self.pii_masked,
            "filters": {
                n: {"seen": c.seen, "kept": c.kept, "dropped": c.dropped, "reasons": c.reasons}
                for n, c in self.filters.items()
            },
            "dedup": self.dedup,
            "kept": self.kept,
        }


DEDUP_BATCH = 1024  # pairs that passed the filters, deduplicated together (signatures computed at once)


def clean(config: Config, report: Report, rejected: list | None = None) -> Iterator[Pair]:
    """The pairs worth a human's time, in input order. Dropped pairs go to `rejected` as (pair, reason)."""
    chain = [filters_module.build(name, params) for name, params in config.filter_entries()]
    dedup = Deduplicator(config.dedup.near_threshold, config.dedup.num_perm)

    def deduplicated(batch: list[Pair]) -> Iterator[Pair]:
        for pair, duplicate in zip(batch, dedup.check_batch(batch), strict=True):
            if duplicate is None:
                report.kept += 1
                yield pair
                continue
            report.dedup[duplicate] = report.dedup.get(duplicate, 0) + 1
            if rejected is not None:
                rejected.append((pair, f"dedup: {duplicate}"))

    batch: list[Pair] = []
    for pair in load(config.input, report.load):
        if config.pii:
            report.pii_masked += pii.mask(pair)
        reason = filters_module.apply(chain, pair, report.filters)
        if reason is not None:
            if rejected is not None:
                rejected.append((pair, reason))
            continue
        batch.append(pair)
        if len(batch) >= DEDUP_BATCH:
            yield from deduplicated(batch)
            batch = []
    yield from deduplicated(batch)


def write_outputs(out_dir: str | Path, report: Report, rejected: list) -> dict[str, Path]:
    """The filter report (JSON and text table) and the dropped pairs with reasons, for audits."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"report": out / "filter_report.json", "table": out / "filter_report.txt", "dropped": out / "dropped.jsonl"}
    paths["report"].write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n")
    paths["table"].write_text(report.table() + "\n")
    with open(paths["dropped"], "w", encoding="utf-8") as f:
        for pair, reason in rejected:
            row = {"source": pair.source, "target": pair.target, "reason": reason, "origin": pair.origin}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return paths

"""Load → mask PII → heuristic filters → dedup, streamed; every decision counted, every drop kept with its reason."""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import multiprocessing
import os
import re
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from curation.clean.dedup import Deduplicator
from curation.clean.filters import FilterCounts
from curation.clean.readers import LoadStats, load
from curation.clean.screen import screen_chunk, screen_rows, screener
from curation.clean.settings import Cleaning, CleanSettings
from curation.files import staged_file, write_jsonl
from curation.pair import Pair, batched, dedup_form


@dataclass
class Tally:
    load: LoadStats = field(default_factory=LoadStats)
    pii_masked: int = 0
    filters: dict[str, FilterCounts] = field(default_factory=dict)
    dedup: dict[str, int] = field(default_factory=dict)
    deduplicated: int = 0  # pairs past the filters and dedup
    template_cap: int | None = None  # at most this many pairs of one template reach annotators (None: no cap)
    templates_dropped: int = 0
    workers: tuple[int, int] | None = None  # (asked, used) when cleaning.workers asked for more than the cores
    twins_kept: int = 0  # setup: pairs sharing a target with a kept pair, sent to annotators with it (regroup_twins)
    clusters: dict[str, int | str] = field(default_factory=dict)  # setup's cluster step: clusters, k, dropped, ...

    @property
    def kept(self) -> int:
        """The pairs that reach annotators: past dedup, target twins back in, the template cap's drops out."""
        return self.deduplicated + self.twins_kept - self.templates_dropped - self.cluster_drops

    @property
    def cluster_drops(self) -> int:
        return self.clusters.get("dropped", 0) + self.clusters.get("near_duplicates", 0)

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
            flagged = {k: n - c.dropped_classes.get(k, 0) for k, n in c.classes.items() if k != "none"}
            flagged = {k: n for k, n in flagged.items() if n}
            if flagged:
                listed = ", ".join(f"{k} ({n:,})" for k, n in sorted(flagged.items(), key=lambda x: -x[1]))
                lines.append(f"{'':16} {'':9} {'':9} {'':9}  flagged for annotators: {listed}")
        reasons = ", ".join(f"{r} ({n:,})" for r, n in self.dedup.items())
        after_dedup = self.kept + self.templates_dropped + self.cluster_drops  # the template cap comes after dedup
        dropped = sum(self.dedup.values())
        lines.append(f"{'dedup':16} {dropped + after_dedup:9,} {after_dedup:9,} {dropped:9,}  {reasons}")
        if self.twins_kept:
            lines.append(
                f"{'target twins':16} {'':9} {self.twins_kept:9,} {'':9}  sharing a target with a kept pair, "
                "different source: sent to annotators with it"
            )
        if self.template_cap is not None:
            why = f"more than {self.template_cap} differing only in numbers ({self.templates_dropped:,})"
            past = self.kept + self.cluster_drops  # the cluster step comes after the template cap
            lines.append(f"{'templates':16} {after_dedup:9,} {past:9,} {self.templates_dropped:9,}  {why}")
        if self.clusters:
            before = self.kept + self.cluster_drops
            c = self.clusters
            why = (
                f"in {c['clusters']} clusters ({c.get('k', 'k chosen')}): dropped with their cluster "
                f"({c['dropped']:,}), near-duplicates in a cluster ({c['near_duplicates']:,})"
            )
            lines.append(f"{'clusters':16} {before:9,} {self.kept:9,} {self.cluster_drops:9,}  {why}")
        lines.append(f"PII values masked: {self.pii_masked:,}")
        if self.workers:
            lines.append(f"workers: {self.workers[0]:,} asked, {self.workers[1]} used (the cores of this machine)")
        if self.load.control_stripped:
            lines.append(f"Pairs with control characters (NUL and the like) removed: {self.load.control_stripped:,}")
        lines += self.load.warnings()
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "read": self.load.read,
            "malformed": self.load.malformed,
            "malformed_examples": self.load.examples,
            "control_stripped": self.load.control_stripped,
            "pii_masked": self.pii_masked,
            "filters": {
                n: {"seen": c.seen, "kept": c.kept, "dropped": c.dropped, "reasons": c.reasons}
                | ({"classes": c.classes, "dropped_classes": c.dropped_classes} if c.classes else {})
                for n, c in self.filters.items()
            },
            "dedup": self.dedup,
            "templates": {"cap": self.template_cap, "dropped": self.templates_dropped},
            "target_twins": self.twins_kept,
            "clusters": self.clusters,
            "kept": self.kept,
        }


CHUNK = 2048  # pairs per unit of work: filtered (in a worker process when there are several), then deduplicated


PARALLEL_AFTER = 4 * CHUNK  # inputs smaller than this never start worker processes


def clean(cleaning: Cleaning, tally: Tally, rejected: list | None = None) -> Iterator[Pair]:
    """The pairs worth a human's time, in input order. Dropped pairs go to `rejected` as (pair, reason).

    PII masking, the filters and the dedup fingerprints run in `cleaning.workers` processes (default: one per
    core) once the input is larger than a few chunks; the dedup decisions stay in this process, in input order,
    so the result is the same whatever the number of workers.
    """
    settings = CleanSettings.of(cleaning)
    screener(settings)  # a bad filter config fails here, before anything is read
    dedup = Deduplicator.from_config(cleaning.dedup)
    chunks = batched(load(cleaning.input, tally.load), CHUNK)
    head: list[list[Pair]] = []
    for chunk in chunks:  # small inputs are done before a pool would have started
        head.append(chunk)
        if len(head) * CHUNK >= PARALLEL_AFTER:
            break
    cores = os.cpu_count() or 1
    workers = min(cleaning.workers or cores, cores)  # one process per core at the most
    if cleaning.workers and cleaning.workers > cores:
        tally.workers = (cleaning.workers, cores)
    if workers <= 1 or len(head) * CHUNK < PARALLEL_AFTER:
        results = map(functools.partial(screen_chunk, settings=settings), itertools.chain(head, chunks))
        yield from _merge(results, dedup, tally, rejected)
        return
    context = multiprocessing.get_context("spawn")  # no fork: the caller may hold threads (HTTP clients)
    with context.Pool(workers, initializer=screener, initargs=(settings,)) as pool:
        work = (([(p.source, p.target, p.origin) for p in chunk]) for chunk in itertools.chain(head, chunks))
        screen = functools.partial(screen_rows, settings=settings)
        yield from _merge(_ordered(pool, screen, work, window=2 * workers), dedup, tally, rejected)


def _ordered(pool, fn, items, window: int) -> Iterator:
    """`pool.imap` with at most `window` chunks in flight: results never pile up while this process catches up
    (`imap` itself reads its whole input ahead and buffers every result)."""
    pending: deque = deque()
    for item in items:
        pending.append(pool.apply_async(fn, (item,)))
        if len(pending) >= window:
            yield pending.popleft().get()
    while pending:
        yield pending.popleft().get()


def _merge(results, dedup: Deduplicator, tally: Tally, rejected: list | None) -> Iterator[Pair]:
    for chunk in results:
        tally.pii_masked += chunk.masked
        for name, c in chunk.counts.items():
            tally.filters.setdefault(name, FilterCounts()).add(c)
        if rejected is not None:
            rejected.extend(chunk.dropped)
        for pair, duplicate in zip(chunk.kept, dedup.decide(chunk.prepared), strict=True):
            if duplicate is None:
                tally.deduplicated += 1
                yield pair
                continue
            tally.dedup[duplicate] = tally.dedup.get(duplicate, 0) + 1
            if rejected is not None:
                rejected.append((pair, f"dedup: {duplicate}"))


_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")


def template_key(pair: Pair) -> int:
    """The pair with every number blanked, case and spacing ignored, as a 64-bit hash: "Room 12 is ready." and
    "Room 7 is ready." share one."""
    text = " ".join(_NUMBER.sub("#", f"{pair.source}\t{pair.target}".lower()).split())
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def cap_templates(pairs: Iterable[Pair], cap: int | None, tally: Tally, rejected: list | None) -> Iterator[Pair]:
    """At most `cap` pairs of one template go on to annotators (the first ones, in input order); the rest are
    counted in the tally and kept in `rejected` with their reason. Memory: 8 bytes and a count per template."""
    tally.template_cap = cap
    if cap is None:
        yield from pairs
        return
    seen: Counter[int] = Counter()
    for pair in pairs:
        key = template_key(pair)
        seen[key] += 1
        if seen[key] <= cap:
            yield pair
            continue
        tally.templates_dropped += 1
        if rejected is not None:
            rejected.append((pair, f"templates: more than {cap} pairs differ only in numbers"))


def regroup_twins(kept: list[Pair], rejected: list, group: int, tally: Tally) -> list[Pair]:
    """Pairs sharing a target go to annotators as a group: dedup keeps the first in input order, which is often
    the misaligned one (another sentence's source with this target) while the good twin was dropped. Up to
    `group` pairs with different sources per target are kept, in input order; every pair dedup dropped names
    in `dropped.jsonl` the pairs of its group that were kept (`kept`). Setup only: it holds the pairs in memory."""
    groups: dict[str, list[Pair]] = {}
    for pair in kept:
        groups.setdefault(dedup_form(pair.target), []).append(pair)
    after: dict[int, list[Pair]] = {}  # id of a group's first kept pair -> the twins sent on right after it
    still = []
    for pair, reason in rejected:
        if reason.startswith("dedup: duplicate"):
            twins = groups.setdefault(dedup_form(pair.target), [])
            sources = {dedup_form(t.source) for t in twins}
            if (
                reason == "dedup: duplicate target"
                and 0 < len(twins) < group
                and dedup_form(pair.source) not in sources
            ):
                after.setdefault(id(twins[0]), []).append(pair)
                twins.append(pair)
                continue
            pair.extra["kept"] = [t.origin for t in twins]
        still.append((pair, reason))
    back = len(rejected) - len(still)
    if back:
        rejected[:] = still
        tally.dedup["duplicate target"] -= back
        tally.dedup = {k: v for k, v in tally.dedup.items() if v}
        tally.twins_kept = back
        kept = [q for p in kept for q in (p, *after.get(id(p), ()))]
    return kept


def write_outputs(out_dir: str | Path, tally: Tally, rejected: list) -> dict[str, Path]:
    """The tally (filter_report.json, and filter_report.txt as a table) and the dropped pairs with reasons."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"report": out / "filter_report.json", "table": out / "filter_report.txt", "dropped": out / "dropped.jsonl"}
    for path, text in (
        (paths["report"], json.dumps(tally.to_dict(), indent=2, ensure_ascii=False)),
        (paths["table"], tally.table()),
    ):
        with staged_file(path) as partial:  # whole or not at all, on a full disk too
            partial.write_text(text + "\n", encoding="utf-8")
    write_jsonl(
        paths["dropped"],
        (
            {"source": p.source, "target": p.target, "reason": reason, "origin": p.origin}
            | ({"kept": p.extra["kept"]} if p.extra.get("kept") else {})
            | ({"toxicity": p.extra["toxicity"].to_dict()} if p.extra.get("toxicity") else {})
            for p, reason in rejected
        ),
    )
    return paths

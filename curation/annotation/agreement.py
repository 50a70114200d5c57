"""Human judgments: several annotators per pair become one label (majority), and how much they agree.

Agreement is Krippendorff's alpha (nominal), which takes any number of annotators per pair and missing
judgments; each annotator is also compared with the majority of the *other* annotators on the pairs they
share, so one annotator who misread the guidelines stands out.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from curation.errors import InputError

LABELS = ("bad", "good")


@dataclass(frozen=True)
class Judgment:
    record_id: str
    annotator: str
    label: str  # good | bad
    errors: frozenset[str] = frozenset()  # error types the annotator ticked (the `errors` question)


@dataclass
class Aggregated:
    labels: dict[str, str]  # record id -> majority label
    votes: dict[str, dict[str, str]]  # record id -> annotator -> label
    ties: list[str] = field(default_factory=list)  # record ids left out: no majority

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(self.labels.values()).items()))


def error_tags(judgments: Iterable[Judgment], agg: Aggregated) -> dict[str, frozenset[str]]:
    """Per record whose majority is bad: the error types that any annotator who voted bad ticked."""
    tags: dict[str, set[str]] = defaultdict(set)
    for j in judgments:
        if j.label == "bad" and agg.labels.get(j.record_id) == "bad":
            tags[j.record_id] |= j.errors
    return {rid: frozenset(t) for rid, t in tags.items() if t}


@dataclass
class TrainingSet:
    """What the filter trains on: the aggregate, the record ids with a majority (sorted), their labels (1 good,
    0 bad) and their error types (empty for good ones)."""

    agg: Aggregated
    ids: list[str]
    y: list[int]
    tags: list[frozenset[str]]


def training_set(judgments: list[Judgment]) -> TrainingSet:
    """The judged pairs with a majority label, as the filter trains on them."""
    agg = aggregate(judgments)
    ids = sorted(agg.labels)
    tagged = error_tags(judgments, agg)
    return TrainingSet(agg, ids, [int(agg.labels[i] == "good") for i in ids], [tagged.get(i, frozenset()) for i in ids])


def aggregate(judgments: Iterable[Judgment]) -> Aggregated:
    """Majority label per record; ties are left out and listed. An annotator's later judgment replaces an earlier."""
    votes: dict[str, dict[str, str]] = defaultdict(dict)
    for j in judgments:
        if j.label not in LABELS:
            raise InputError(f"label {j.label!r} of record {j.record_id} by {j.annotator}: expected good or bad")
        votes[j.record_id][j.annotator] = j.label
    labels, ties = {}, []
    for rid, by in votes.items():
        top = Counter(by.values()).most_common()
        if len(top) > 1 and top[0][1] == top[1][1]:
            ties.append(rid)
        else:
            labels[rid] = top[0][0]
    return Aggregated(labels, dict(votes), sorted(ties))


def krippendorff_alpha(votes: dict[str, dict[str, str]]) -> float | None:
    """Nominal Krippendorff's alpha over records judged by two or more annotators (None: nothing to compare)."""
    pairable = [list(by.values()) for by in votes.values() if len(by) >= 2]
    n = sum(len(v) for v in pairable)
    if n == 0:
        return None
    # coincidence matrix: within each record, every ordered pair of judgments by different annotators
    coincidence: Counter[tuple[str, str]] = Counter()
    for values in pairable:
        m = len(values)
        for i, a in enumerate(values):
            for j, b in enumerate(values):
                if i != j:
                    coincidence[a, b] += 1 / (m - 1)
    totals = Counter()
    for (a, _), c in coincidence.items():
        totals[a] += c
    observed = sum(c for (a, b), c in coincidence.items() if a != b) / n
    expected = sum(totals[a] * totals[b] for a in totals for b in totals if a != b) / (n * (n - 1))
    if expected == 0:
        return 1.0 if observed == 0 else None
    return 1 - observed / expected


@dataclass
class AnnotatorAgreement:
    annotator: str
    judged: int  # pairs judged
    compared: int  # of which others gave a clear majority
    agreement: float | None  # share of `compared` where this annotator matched the others' majority


def per_annotator(votes: dict[str, dict[str, str]]) -> list[AnnotatorAgreement]:
    judged: Counter[str] = Counter()
    compared: Counter[str] = Counter()
    agreed: Counter[str] = Counter()
    for by in votes.values():
        for annotator, label in by.items():
            judged[annotator] += 1
            others = Counter(v for a, v in by.items() if a != annotator).most_common()
            if not others or (len(others) > 1 and others[0][1] == others[1][1]):
                continue
            compared[annotator] += 1
            agreed[annotator] += others[0][0] == label
    return [
        AnnotatorAgreement(a, judged[a], compared[a], agreed[a] / compared[a] if compared[a] else None)
        for a in sorted(judged)
    ]


def agreement_summary(agg: Aggregated) -> dict:
    """Everything a curator needs to judge the labels: counts, ties, alpha, each annotator against the others."""
    multi = sum(1 for by in agg.votes.values() if len(by) >= 2)
    return {
        "records_judged": len(agg.votes),
        "labels": agg.counts(),
        "ties": agg.ties,
        "records_with_2plus_annotators": multi,
        "krippendorff_alpha": krippendorff_alpha(agg.votes),
        "annotators": [vars(a) for a in per_annotator(agg.votes)],
    }


def describe_agreement(report: dict) -> str:
    alpha = report["krippendorff_alpha"]
    lines = [
        f"judged pairs: {report['records_judged']}   labels: "
        + ", ".join(f"{k} {v}" for k, v in report["labels"].items())
        + f"   ties left out: {len(report['ties'])}",
        f"pairs with 2+ annotators: {report['records_with_2plus_annotators']}   Krippendorff's alpha: "
        + ("n/a (no pair has two annotators)" if alpha is None else f"{alpha:.3f}"),
        f"{'annotator':<20}{'judged':>8}{'compared':>10}{'agrees with others':>20}",
    ]
    for a in report["annotators"]:
        share = "n/a" if a["agreement"] is None else f"{a['agreement']:.0%}"
        lines.append(f"{a['annotator']:<20}{a['judged']:>8}{a['compared']:>10}{share:>20}")
    return "\n".join(lines)

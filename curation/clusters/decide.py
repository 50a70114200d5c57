"""Decisions per cluster: a curator's drops by id or title, near-duplicates inside a cluster (SemDeDup), and what
annotators' agreeing verdicts on enough members propose (and propagate, within the judged members' radius)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from curation.clusters.titles import title_words
from curation.errors import InputError


@dataclass
class ClusterInfo:
    """One cluster as reports and Argilla show it."""

    id: int
    title: str
    size: int
    keywords_source: list[str]
    keywords_target: list[str]
    examples: list[dict]
    mean_distance: float = 0.0

    @property
    def term(self) -> str:
        """The value of the `cluster` metadata in Argilla: id and title, what annotators filter by."""
        return f"{self.id} · {self.title}"[:120]


def cluster_of(term) -> int | None:
    """The cluster id of a record's `cluster` metadata ("12 · cookies · ..."), None when it has none."""
    if term is None:
        return None
    head = str(term).split(" · ", 1)[0].strip()
    return int(head) if head.isdigit() else None


def resolve(entries: Sequence, clusters: Sequence[ClusterInfo], key: str = "clusters.drop") -> dict[int, str]:
    """The clusters `entries` name (id -> the entry that named it): a number is an id, a text a title (whole) or one
    of a title's words. An entry that names no cluster is an error: a decision must not silently do nothing."""
    by_id = {c.id: c for c in clusters}
    out: dict[int, str] = {}
    for entry in entries:
        if isinstance(entry, int):
            if entry not in by_id:
                raise InputError(
                    f"{key} names cluster {entry}, which does not exist: the clusters are numbered 0 to "
                    f"{max(by_id, default=-1)} (see clusters.json or the cluster report)"
                )
            out[entry] = str(entry)
            continue
        wanted = str(entry).strip().lower()
        found = [
            c.id
            for c in clusters
            if c.title.lower() == wanted or c.term.lower() == wanted or wanted in title_words(c.title)
        ]
        if not found:
            raise InputError(
                f"{key} names {entry!r}, which is no cluster's title nor a word of one: use an id or a title from "
                "clusters.json (the cluster report)"
            )
        out |= dict.fromkeys(found, str(entry))
    return out


def near_duplicates(
    labels: np.ndarray, x: np.ndarray, threshold: float, order: Sequence[int] | None = None
) -> dict[int, int]:
    """SemDeDup: inside each cluster, a pair whose cosine with a pair kept before it (in `order`, default row order)
    is at least `threshold` is a near-duplicate of that pair. Returns duplicate row -> the kept row it repeats."""
    order = np.arange(len(labels)) if order is None else np.asarray(order)
    rank = np.empty(len(labels), dtype=np.int64)
    rank[order] = np.arange(len(order))
    out: dict[int, int] = {}
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        members = members[np.argsort(rank[members], kind="stable")]
        vectors = np.asarray(x[members], dtype=np.float32)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        kept: list[int] = []  # positions in `members`
        for i in range(len(members)):
            if kept:
                sims = vectors[kept] @ vectors[i]
                best = int(np.argmax(sims))
                if sims[best] >= threshold:
                    out[int(members[i])] = int(members[kept[best]])
                    continue
            kept.append(i)
    return out


@dataclass
class Verdict:
    """Annotators agree on enough members of a cluster: the label reaches the members within the judged members'
    distance of the centre (`radius`), never the outliers beyond it."""

    cluster: int
    title: str
    label: str  # "good" or "bad"
    judged: int  # judged members, all of them `label`
    radius: float  # the farthest judged member's distance to the centre
    within: list[str]  # unjudged members (record ids) the label reaches
    beyond: int  # unjudged members farther out: left to annotators

    def line(self) -> str:
        action = "propose dropping it" if self.label == "bad" else "its members follow the label"
        return (
            f"cluster {self.cluster} ({self.title}): {self.judged} of {self.judged} judged {self.label}; "
            f"{len(self.within)} unjudged members lie within the judged members' radius ({self.radius:.3f}) and take "
            f"the label, {self.beyond} farther out stay with annotators; {action}"
        )


@dataclass
class Member:
    """A record as the verdicts see it: its cluster, its distance to the centre, its majority label (None: unjudged;
    "tie": judged without a majority)."""

    id: str
    cluster: int
    distance: float
    label: str | None = None


def verdicts(
    members: Sequence[Member], titles: dict[int, str], minimum: int, keep: Sequence[int] = ()
) -> list[Verdict]:
    """Clusters whose judged members number at least `minimum` and all carry one label (a tie counts against).
    Clusters a curator keeps (`keep`) get no bad verdict."""
    by_cluster: dict[int, list[Member]] = {}
    for m in members:
        by_cluster.setdefault(m.cluster, []).append(m)
    out = []
    for c, group in sorted(by_cluster.items()):
        judged = [m for m in group if m.label is not None]
        labels = {m.label for m in judged}
        if len(judged) < minimum or len(labels) != 1 or labels & {"tie"}:
            continue
        label = next(iter(labels))
        if label == "bad" and c in keep:
            continue
        radius = max(m.distance for m in judged)
        unjudged = [m for m in group if m.label is None]
        within = [m.id for m in unjudged if m.distance <= radius]
        out.append(Verdict(c, titles.get(c, ""), label, len(judged), radius, within, len(unjudged) - len(within)))
    return out


def from_records(records, labels: dict[str, str], ties=()) -> tuple[list[ClusterInfo], list[Member]]:
    """The clusters setup tagged records with (their `cluster` and `cluster_distance` metadata) and each tagged
    record as a `Member`, with its majority label (`labels`: record id -> good/bad) or "tie"."""
    titles: dict[int, str] = {}
    sizes: dict[int, int] = {}
    members = []
    ties = set(ties)
    for r in records:
        term = r.metadata.get("cluster")
        c = cluster_of(term)
        if c is None:
            continue
        titles.setdefault(c, str(term).split(" · ", 1)[1] if " · " in str(term) else "")
        sizes[c] = sizes.get(c, 0) + 1
        label = labels.get(r.id) or ("tie" if r.id in ties else None)
        members.append(Member(r.id, c, float(r.metadata.get("cluster_distance") or 0.0), label))
    infos = [ClusterInfo(c, titles[c], sizes[c], [], [], []) for c in sorted(titles)]
    return infos, members


@dataclass
class Decisions:
    """What an export honours: clusters a curator dropped, and the pairs an all-bad verdict reaches."""

    dropped: dict[int, str]  # cluster id -> its title
    verdicts: list[Verdict]

    @property
    def propagated_bad(self) -> dict[str, Verdict]:
        return {rid: v for v in self.verdicts if v.label == "bad" for rid in v.within}


def decisions(records, labels: dict[str, str], ties, drop: Sequence, keep: Sequence, minimum: int) -> Decisions:
    """The decisions on the clusters of `records`: `drop`/`keep` (ids or titles, as in the config) resolved against
    the clusters the records carry, and the verdicts of annotators' agreeing labels."""
    infos, members = from_records(records, labels, ties)
    if (drop or keep) and not infos:
        raise InputError(
            "clusters.drop/keep name clusters, but no record of the dataset has one: run setup with "
            "clusters.enabled: true first (the cluster ids and titles are in its cluster report)"
        )
    return decide_on(infos, members, drop, keep, minimum)


def decide_on(
    infos: Sequence[ClusterInfo], members: Sequence[Member], drop: Sequence, keep: Sequence, minimum: int
) -> Decisions:
    """`drop`/`keep` resolved against `infos`, and the verdicts of `members` (what `from_records` read)."""
    titles = {c.id: c.title for c in infos}
    dropped = {c: titles[c] for c in resolve(drop, infos, "clusters.drop")}
    kept = resolve(keep, infos, "clusters.keep")
    return Decisions(dropped, verdicts(members, titles, minimum, keep=list(kept)))

"""The clusters section of the config: whether setup clusters the pool, how many clusters, what a curator decided."""

from __future__ import annotations

from dataclasses import dataclass, field

from curation.checks import FLAG, check, number, or_null, whole, whole_between
from curation.errors import ConfigError

MAX_K = 4096  # more clusters than this is a typo (and a centre table that no longer fits a report)


@dataclass
class ClusterConfig:
    """`clusters:`: setup groups the cleaned pool into clusters of similar pairs (README, "Clusters")."""

    enabled: bool = False  # setup clusters the pool (needs the learned filter's encoder: `train.base_model`)
    k: int | None = None  # clusters; None: chosen from the pool's size and structure (`fit.auto_k`)
    drop: list = field(default_factory=list)  # cluster ids (numbers) or titles/keywords (text) a curator drops
    keep: list = field(default_factory=list)  # clusters annotators' all-bad verdicts never propagate in
    dedup_cosine: float | None = None  # SemDeDup: pairs of one cluster at least this similar are duplicates
    propagate_min: int = 8  # judged members, all agreeing, before a cluster's verdict is proposed and propagated
    sample: int = 20_000  # pairs the centres are fitted on (every pair is then assigned to its nearest centre)
    seed: int = 0
    map: str = "pca"  # the 2D map's projection: pca, or umap (needs umap-learn)

    def __post_init__(self):
        cosine = ("a number in (0, 1]", lambda v: number(v) and 0 < v <= 1)
        entries = ("a list of cluster ids (numbers) or titles (text)", _entries)
        rules = {"enabled": FLAG, "k": or_null(whole_between(2, MAX_K)), "drop": entries, "keep": entries}
        rules |= {"dedup_cosine": or_null(cosine), "propagate_min": whole_between(1, 1_000_000)}
        rules |= {"sample": whole_between(100, 5_000_000), "seed": ("a whole number", whole)}
        rules |= {"map": ("pca or umap", lambda v: v in ("pca", "umap"))}
        check("clusters", self, rules)
        both = {str(x).strip().lower() for x in self.drop} & {str(x).strip().lower() for x in self.keep}
        if both:
            raise ConfigError(f"clusters.drop and clusters.keep both name {', '.join(sorted(both))}: choose one")


def _entries(value) -> bool:
    return isinstance(value, list) and all((whole(v) and v >= 0) or (isinstance(v, str) and v.strip()) for v in value)


def parse_ids(text: str) -> list:
    """`--drop 12,31,cookies`: numbers become ids, anything else a title or keyword."""
    out: list = []
    for part in text.split(","):
        part = part.strip()
        if part:
            out.append(int(part) if part.isdigit() else part)
    return out

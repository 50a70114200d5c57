"""Which pairs the curated set holds: the annotators' majority, plus unjudged pairs the filter trusts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from curation.annotation.agreement import aggregate, agreement_summary
from curation.annotation.records import DatasetRecord, judgments
from curation.annotation.schema import agent_for
from curation.clusters.decide import cluster_of, decisions
from curation.clusters.settings import ClusterConfig
from curation.errors import ExportError
from curation.model.info import ModelInfo
from curation.model.learned import LearnedFilter
from curation.pair import split_of


@dataclass
class Selection:
    rows: list[dict]
    rejected: list[dict]
    agreement: dict
    counts: dict[str, Counter] = field(default_factory=dict)
    as_of: str = ""


def score_unscored(
    records: list[DatasetRecord], model_dir, model: ModelInfo, log: Callable[[str], None] = print, trust_pickle=False
) -> None:
    """Unjudged records not yet scored by this model version get scored now, so the threshold means one thing."""

    agent = agent_for(model.version)
    todo = [r for r in records if not r.votes and r.filter_agent != agent]
    if not todo:
        return
    log(f"scoring {len(todo)} unjudged pairs with {model.version} (not scored by it in Argilla)")
    flt = LearnedFilter.load(model_dir, trust_pickle=trust_pickle)
    for r, s in zip(todo, flt.score([(r.source, r.target) for r in todo]), strict=True):
        r.filter_score, r.filter_agent = round(float(s), 6), agent


def select(
    records: list[DatasetRecord],
    threshold: float | None,
    model_version: str | None,
    validation: float,
    clusters: ClusterConfig | None = None,
) -> Selection:
    """Rows to export and rows rejected (with reasons). `threshold` None: human-approved pairs only. `clusters`: a
    curator's dropped clusters leave the set whole (judged pairs too), and the unjudged pairs an all-bad verdict
    reaches are never accepted on the filter's word."""
    agg = aggregate(judgments(records))
    made = None
    if clusters is not None:
        made = decisions(records, agg.labels, agg.ties, clusters.drop, clusters.keep, clusters.propagate_min)
    if not agg.votes:
        raise ExportError("no submitted labels yet: annotators must judge some pairs in Argilla before an export")
    rows, rejected = [], []
    agent = agent_for(model_version) if model_version else None
    dropped = made.dropped if made else {}
    propagated = made.propagated_bad if made else {}
    for r in sorted(records, key=lambda r: r.id):
        base = {"id": r.id, "source": r.source}
        c = cluster_of(r.metadata.get("cluster"))
        if c in dropped:
            reason = f"cluster {c} ({dropped[c]}) dropped by the curator (clusters.drop)"
            rejected.append({**base, "target": r.target, "category": "cluster dropped", "reason": reason})
            continue
        if r.votes:
            majority = agg.labels.get(r.id)
            n = len(r.votes)
            if majority is None:
                rejected.append({**base, "target": r.target, "category": "tie", "reason": f"tie ({n} annotators)"})
                continue
            agreeing = sum(v == majority for v in r.votes.values())
            if majority == "bad":
                rejected.append(
                    {**base, "target": r.target, "category": "judged bad", "reason": f"judged bad by {agreeing} of {n}"}
                )
                continue
            # a quick fix typed by any annotator of an approved pair (the guidelines ask for it with a bad vote)
            correction = next((r.corrections[a] for a in sorted(r.corrections)), None)
            rows.append(
                {
                    **base,
                    "target": correction or r.target,
                    "provenance": "human",
                    "score": r.filter_score,
                    "annotators": sorted(r.votes),
                    "agreement": round(agreeing / n, 4),
                    "original_target": r.target if correction else None,
                }
            )
        elif threshold is not None:
            if r.id in propagated:
                v = propagated[r.id]
                reason = (
                    f"cluster {v.cluster} ({v.title}): {v.judged} of {v.judged} judged members bad, within their radius"
                )
                rejected.append({**base, "target": r.target, "category": "cluster judged bad", "reason": reason})
            elif r.filter_score is None or (agent and r.filter_agent != agent):
                rejected.append(
                    {**base, "target": r.target, "category": "not scored", "reason": "not scored by this model version"}
                )
            elif r.filter_score >= threshold:
                rows.append(
                    {
                        **base,
                        "target": r.target,
                        "provenance": "model",
                        "score": r.filter_score,
                        "annotators": [],
                        "agreement": None,
                        "original_target": None,
                    }
                )
            else:
                rejected.append(
                    {
                        **base,
                        "target": r.target,
                        "category": "below threshold",
                        "reason": f"filter score {r.filter_score:.3f} < {threshold:.3f}",
                    }
                )
    counts: dict[str, Counter] = {"train": Counter(), "validation": Counter()}
    for row in rows:
        row["split"] = split_of(row["id"], validation)
        counts[row["split"]][row["provenance"]] += 1
    as_of = max((r.updated_at for r in records), default="")
    return Selection(rows, rejected, agreement_summary(agg), counts, as_of)


MIN_VALIDATION = 20  # fewer validation pairs than this measure nothing: said in the terminal and the card
TOO_FEW = "too few to measure a model on"


def validation_too_small(selection: Selection) -> bool:
    return 0 < sum(selection.counts["validation"].values()) < MIN_VALIDATION

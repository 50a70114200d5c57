"""The filter's opinions back in Argilla: suggestions, `filter_score` and `priority` metadata."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from curation.annotation import schema
from curation.annotation.records import DatasetRecord, send
from curation.annotation.schema import FILTER_MODEL, FILTER_SCORE, PRIORITY, agent_for
from curation.clean.pipeline import template_key
from curation.clusters.decide import cluster_of
from curation.pair import Pair, batched
from curation.progress import Bar


@dataclass
class Scored:
    """What a model version says about dataset rows: P(good) per row (`scores`), the suggested label for a score
    (`label`, None: not sure enough to pre-select anything), and P(type) per error type and row (`errors`)."""

    rows: list[DatasetRecord]
    scores: np.ndarray | list[float]
    version: str
    label: Callable[[float], str | None]
    errors: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Sending:
    """How suggestions go to the server: rows per request, the `pause` after each (times as long as the request
    took, leaving the server to annotators' submissions meanwhile) and a counter of rows sent."""

    batch_size: int = 256
    pause: float = 0.0
    progress: Bar | None = None


def ensure_properties(client, dataset) -> None:
    """Add the filter's metadata properties to a dataset created before the filter existed, and give those of an
    older version today's titles (the UI's sort menu finds a property by its title)."""
    import argilla as rg

    wanted = [
        rg.FloatMetadataProperty(name=FILTER_SCORE, title="filter score (P good)"),
        rg.FloatMetadataProperty(name=PRIORITY, title="priority: label next (1 = model unsure)"),
        rg.TermsMetadataProperty(name=FILTER_MODEL, title="filter model version"),
    ]
    add_properties(client, dataset, wanted)


def add_properties(client, dataset, wanted: list) -> None:
    """The metadata properties in `wanted` (argilla objects) that a dataset lacks are added (a dataset an older
    version created keeps its values); those it has get today's titles."""
    have = {m.name: m for m in dataset.settings.metadata}
    missing = [m for m in wanted if m.name not in have]
    for prop in missing:
        dataset.settings.metadata.add(prop)
    if missing:
        dataset.settings.update()
    update_titles(client, dataset, {prop.name: prop.title for prop in wanted}, have)


def update_titles(client, dataset, wanted: dict[str, str], have: dict | None = None) -> None:
    """Give a dataset's metadata properties today's titles (one an older version made keeps its values)."""
    have = have if have is not None else {m.name: m for m in dataset.settings.metadata}
    for name, title in wanted.items():
        old = have.get(name)
        if old is not None and old.title != title:
            url = f"/api/v1/metadata-properties/{old.id}"
            send(client.api.http_client, "PATCH", url, "while metadata titles were updated", json={"title": title})


def queue_link(api_url: str, dataset) -> str:
    """The Argilla web UI's pending queue of `dataset`, least certain pair first (metadata priority, highest first)."""
    return f"{api_url.rstrip('/')}/dataset/{dataset.id}/annotation-mode?sort=metadata.{PRIORITY}.desc"


def priority(score: float) -> float:
    """1 when the model cannot tell (0.5), 0 when it is certain either way."""
    return round(1 - 2 * abs(score - 0.5), 6)


CLUSTER_SHARE = 5  # a cluster's 5 most uncertain pairs keep most of their priority; the rest fall behind others'


def priorities(rows: list[DatasetRecord], scores) -> list[float]:
    """`priority` of each row, with the copies of a template spread out: pairs that differ only in their numbers
    ("Room 7 is ready." ×5) score alike and came back to back in the queue; within a template the k-th most
    uncertain copy gets 1/(k+1) of its priority, so one copy comes up with its peers and the rest further down.
    Likewise within a cluster (setup's `cluster` metadata), more gently: the r-th most uncertain pair gets
    1/(1 + r/5), so a large cluster of alike pairs does not fill the queue, yet annotators meet each cluster."""
    out = [priority(float(s)) for s in scores]
    templates = [template_key(Pair(row.source, row.target)) for row in rows]
    out = _spread(out, templates, share=1)
    return _spread(out, [cluster_of(row.metadata.get("cluster")) for row in rows], share=CLUSTER_SHARE)


def _spread(values: list[float], groups: list, share: float) -> list[float]:
    """Within each group (None: in none), the r-th highest value divided by 1 + r/share."""
    members: dict = {}
    for i, group in enumerate(groups):
        if group is not None:
            members.setdefault(group, []).append(i)
    out = list(values)
    for rows in members.values():
        for r, i in enumerate(sorted(rows, key=lambda i: -values[i])):
            out[i] = round(values[i] / (1 + r / share), 6)
    return out


def write_suggestions(client, dataset, scored: Scored, sending: Sending | None = None) -> int:
    """filter_score/priority/filter_model metadata for each row (`version`: the model's), and a `quality` suggestion
    (label, confidence, agent `curation-filter <version>`) where
    `label(score)` names one (None: the model is not sure enough to pre-select anything); with `errors` (P(type)
    per error type and row), an `errors` suggestion on the rows suggested bad: the types with P ≥ 0.5, likeliest
    first, each with its score. A suggestion an earlier model version left where this one suggests nothing is
    removed, so the form never shows a stale opinion.

    Sent as Argilla's bulk upsert keyed by record id with neither fields nor responses in it, so the record's
    text and every response stay exactly as they are. After each batch the writer waits `sending.pause` times as
    long as the batch took. Returns how many rows got a `quality` suggestion.
    """
    sending = sending or Sending()
    rows, scores, version, label, errors = scored.rows, scored.scores, scored.version, scored.label, scored.errors
    batch_size, pause, progress = sending.batch_size, sending.pause, sending.progress
    ensure_properties(client, dataset)
    question_ids = {q.name: str(q.id) for q in dataset.settings.questions}
    by = agent_for(version)
    http = client.api.http_client
    sent = suggested = 0
    spread = priorities(rows, scores)
    for batch in batched(enumerate(zip(rows, scores, strict=True)), batch_size):
        items, stale = [], []
        for i, (row, score) in batch:
            score = float(score)
            value = label(score)
            suggestions = []
            if value is not None:
                confidence = round(max(score, 1 - score), 6)
                suggestions.append(_suggestion(question_ids[schema.QUALITY], value, confidence, by))
            likely = sorted(((float(p[i]), name) for name, p in errors.items()), reverse=True) if value == "bad" else []
            likely = [(p, name) for p, name in likely if p >= 0.5]
            if likely:
                types, type_scores = [name for _, name in likely], [round(p, 6) for p, _ in likely]
                suggestions.append(_suggestion(question_ids[schema.ERRORS], types, type_scores, by))
            items.append(
                {
                    "external_id": row.id,
                    "metadata": {
                        **row.metadata,
                        FILTER_SCORE: round(score, 6),
                        PRIORITY: spread[i],
                        FILTER_MODEL: version,
                    },
                    "suggestions": suggestions,
                }
            )
            kept = {x["question_id"] for x in suggestions}
            old = [sid for qid, sid in row.ours.items() if qid not in kept]
            if old:
                stale.append((row.server_id, old))
            suggested += value is not None
        started = time.perf_counter()
        stage = f"while suggestions were written ({sent} of {len(rows)} done)"
        send(http, "PUT", f"/api/v1/datasets/{dataset.id}/records/bulk", stage, json={"items": items})
        for server_id, ids in stale:  # 404: already gone
            url = f"/api/v1/records/{server_id}/suggestions"
            send(http, "DELETE", url, stage, ok=(404,), params={"ids": ",".join(ids)})
        sent += len(items)
        if pause:
            time.sleep(pause * (time.perf_counter() - started))
        if progress:
            progress(len(items))
    return suggested


def _suggestion(question_id: str, value, score, by: str) -> dict:
    """One model suggestion (agent `by`) as Argilla's bulk upsert takes it."""
    return {"question_id": question_id, "value": value, "score": score, "agent": by, "type": "model"}

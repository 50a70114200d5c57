"""The loop with Argilla: submitted judgments out, the filter's opinions back in as suggestions.

Writing back never sends responses, so whatever annotators submit meanwhile is kept as it is; a suggestion
is stored once per record and question, so re-running replaces the previous model's suggestion.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from curation import schema
from curation.client import ArgillaUnavailable
from curation.data import batched
from curation.labels import Judgment

FILTER_SCORE = "filter_score"  # probability that the pair is good, from the latest model
PRIORITY = "priority"  # 1 = the model is least sure: label these next


@dataclass
class Row:
    id: str
    source: str
    target: str
    metadata: dict
    submitted: bool


def iter_records(client, dataset, include: str = "responses", page: int = 1000) -> Iterator[dict]:
    """Every record of the dataset as Argilla's REST listing returns it (with `include` relations), page by page.

    The REST listing rather than the SDK's record objects: the SDK 2.8 fails on a discarded response that carries
    no values, which the web UI can store.
    """
    http = client.api.http_client
    offset = 0
    while True:
        response = http.get(
            f"/api/v1/datasets/{dataset.id}/records", params={"include": include, "offset": offset, "limit": page}
        )
        response.raise_for_status()
        items = response.json()["items"]
        yield from items
        if len(items) < page:
            return
        offset += page


def usernames(client) -> dict[str, str]:
    return {str(u.id): u.username for u in client.users}


def record_id(item: dict) -> str:
    """Our id of a listed record (the external id set by setup), else Argilla's."""
    return str(item.get("external_id") or item["id"])


def submitted(item: dict, names: dict[str, str]) -> Iterator[tuple[str, dict, str]]:
    """(username, values, updated_at) of each submitted response of a listed record."""
    for r in item.get("responses") or []:
        if r["status"] == "submitted":
            yield names.get(str(r["user_id"]), str(r["user_id"])), r.get("values") or {}, r.get("updated_at") or ""


def read_dataset(client, dataset) -> tuple[list[Row], list[Judgment]]:
    """Every record (with whether anyone submitted it) and the submitted `quality` judgments by username, with
    the `errors` each annotator ticked."""
    names = usernames(client)
    rows, judgments = [], []
    for item in iter_records(client, dataset):
        rid = record_id(item)
        judged = False
        for who, values, _ in submitted(item, names):
            value = (values.get(schema.QUALITY) or {}).get("value")
            if value is not None:
                judged = True
                errors = frozenset((values.get(schema.ERRORS) or {}).get("value") or ())
                judgments.append(Judgment(rid, who, str(value), errors))
        fields = item["fields"]
        rows.append(
            Row(rid, fields.get("source", ""), fields.get("target", ""), dict(item.get("metadata") or {}), judged)
        )
    return rows, judgments


def ensure_properties(dataset) -> None:
    """Add the filter's metadata properties to a dataset created before the filter existed."""
    import argilla as rg

    have = {m.name for m in dataset.settings.metadata}
    added = False
    for name, title in ((FILTER_SCORE, "filter score (P good)"), (PRIORITY, "label next (1 = model unsure)")):
        if name not in have:
            dataset.settings.metadata.add(rg.FloatMetadataProperty(name=name, title=title))
            added = True
    if added:
        dataset.settings.update()


def agent(version: str) -> str:
    """The suggestions' agent: which model version wrote them."""
    return f"curation-filter {version}"


def priority(score: float) -> float:
    """1 when the model cannot tell (0.5), 0 when it is certain either way."""
    return round(1 - 2 * abs(score - 0.5), 6)


def write_suggestions(
    client,
    dataset,
    rows: list[Row],
    scores,
    agent: str,
    batch_size: int = 256,
    progress: Callable[[int], None] | None = None,
    errors: dict[str, np.ndarray] | None = None,
) -> int:
    """A `quality` suggestion (label, confidence, agent) and filter_score/priority metadata for each row; with
    `errors` (P(type) per error type and row), an `errors` suggestion on the rows suggested bad: the types with
    P ≥ 0.5, likeliest first, each with its score.

    Sent as Argilla's bulk upsert keyed by record id with neither fields nor responses in it, so the record's
    text and every response stay exactly as they are.
    """
    import httpx

    ensure_properties(dataset)
    question_ids = {q.name: str(q.id) for q in dataset.settings.questions}
    errors = errors or {}
    http = client.api.http_client
    sent = 0
    for batch in batched(enumerate(zip(rows, scores, strict=True)), batch_size):
        items = []
        for i, (row, score) in batch:
            score = float(score)
            suggestions = [
                {
                    "question_id": question_ids[schema.QUALITY],
                    "value": "good" if score >= 0.5 else "bad",
                    "score": round(max(score, 1 - score), 6),
                    "agent": agent,
                    "type": "model",
                }
            ]
            likely = sorted(((float(p[i]), name) for name, p in errors.items()), reverse=True)
            likely = [(p, name) for p, name in likely if p >= 0.5]
            if score < 0.5 and likely:
                suggestions.append(
                    {
                        "question_id": question_ids[schema.ERRORS],
                        "value": [name for _, name in likely],
                        "score": [round(p, 6) for p, _ in likely],
                        "agent": agent,
                        "type": "model",
                    }
                )
            items.append(
                {
                    "external_id": row.id,
                    "metadata": {**row.metadata, FILTER_SCORE: round(score, 6), PRIORITY: priority(score)},
                    "suggestions": suggestions,
                }
            )
        try:
            response = http.put(f"/api/v1/datasets/{dataset.id}/records/bulk", json={"items": items})
        except httpx.TransportError as e:
            raise ArgillaUnavailable(
                f"Argilla stopped answering while suggestions were written ({sent} of {len(rows)} done; "
                f"{e.__class__.__name__}): start it again and re-run train_filter.py; nothing will be duplicated"
            ) from None
        if response.status_code >= 500:
            raise ArgillaUnavailable(
                f"Argilla answered HTTP {response.status_code} while suggestions were written ({sent} of {len(rows)} "
                "done): see its logs, then re-run train_filter.py; nothing will be duplicated"
            )
        if response.status_code >= 400:
            raise ValueError(f"Argilla refused the suggestions (HTTP {response.status_code}): {response.text[:300]}")
        sent += len(items)
        if progress:
            progress(len(items))
    return sent

"""The loop with Argilla: submitted judgments out, the filter's opinions back in as suggestions.

Writing back never sends responses, so whatever annotators submit meanwhile is kept as it is; a suggestion
is stored once per record and question, so re-running replaces the previous model's suggestion.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from curation import schema
from curation.client import transient
from curation.data import batched
from curation.errors import WAITS, ArgillaRefused, ArgillaUnavailable, InputError, retried
from curation.labels import Judgment

FILTER_SCORE = "filter_score"  # probability that the pair is good, from the latest model
PRIORITY = "priority"  # 1 = the model is least sure: label these next
FILTER_MODEL = "filter_model"  # the model version behind filter_score (also where no label is suggested)


@dataclass
class Row:
    id: str
    source: str
    target: str
    metadata: dict
    submitted: bool
    server_id: str = ""  # Argilla's record id
    ours: dict[str, str] = field(default_factory=dict)  # question id -> id of the filter's suggestion there


def iter_records(client, dataset, include: str = "responses", page: int = 1000) -> Iterator[dict]:
    """Every record of the dataset as Argilla's REST listing returns it (with `include` relations), page by page.

    The REST listing rather than the SDK's record objects: the SDK 2.8 fails on a discarded response that carries
    no values, which the web UI can store.
    """
    http = client.api.http_client
    offset = 0
    while True:
        url, params = f"/api/v1/datasets/{dataset.id}/records", {"include": include, "offset": offset, "limit": page}
        response = send(
            http, "GET", url, f"while records were read ({offset} read)", rerun="the command", params=params
        )
        items = response.json()["items"]
        yield from items
        if len(items) < page:
            return
        offset += page


def find_dataset(client, workspace: str, name: str):
    """The curation dataset, or one clear error that says how to make it."""
    data = client.datasets(name, workspace=workspace)
    if data is None:
        raise InputError(
            f"dataset {name!r} not found in workspace {workspace!r}: run setup_workspace.py first, or pass "
            "--workspace/--dataset"
        )
    return data


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
    for item in iter_records(client, dataset, include="responses,suggestions"):
        rid = record_id(item)
        judged = False
        for who, values, _ in submitted(item, names):
            value = (values.get(schema.QUALITY) or {}).get("value")
            if value is not None:
                judged = True
                errors = frozenset((values.get(schema.ERRORS) or {}).get("value") or ())
                judgments.append(Judgment(rid, who, str(value), errors))
        fields = item["fields"]
        ours = {
            str(x["question_id"]): str(x["id"])
            for x in item.get("suggestions") or []
            if str(x.get("agent") or "").startswith(AGENT)
        }
        rows.append(
            Row(
                rid,
                fields.get("source", ""),
                fields.get("target", ""),
                dict(item.get("metadata") or {}),
                judged,
                str(item["id"]),
                ours,
            )
        )
    return rows, judgments


def ensure_properties(client, dataset) -> None:
    """Add the filter's metadata properties to a dataset created before the filter existed, and give those of an
    older version today's titles (the UI's sort menu finds a property by its title)."""
    import argilla as rg

    have = {m.name: m for m in dataset.settings.metadata}
    wanted = [
        rg.FloatMetadataProperty(name=FILTER_SCORE, title="filter score (P good)"),
        rg.FloatMetadataProperty(name=PRIORITY, title="priority: label next (1 = model unsure)"),
        rg.TermsMetadataProperty(name=FILTER_MODEL, title="filter model version"),
    ]
    missing = [m for m in wanted if m.name not in have]
    for prop in missing:
        dataset.settings.metadata.add(prop)
    if missing:
        dataset.settings.update()
    for prop in wanted:
        old = have.get(prop.name)
        if old is not None and old.title != prop.title:
            url = f"/api/v1/metadata-properties/{old.id}"
            send(client.api.http_client, "PATCH", url, "while metadata titles were updated", json={"title": prop.title})


AGENT = "curation-filter"


def queue_link(api_url: str, dataset) -> str:
    """The Argilla web UI's pending queue of `dataset`, least certain pair first (metadata priority, highest first)."""
    return f"{api_url.rstrip('/')}/dataset/{dataset.id}/annotation-mode?sort=metadata.{PRIORITY}.desc"


def agent(version: str) -> str:
    """The suggestions' agent: which model version wrote them."""
    return f"{AGENT} {version}"


def priority(score: float) -> float:
    """1 when the model cannot tell (0.5), 0 when it is certain either way."""
    return round(1 - 2 * abs(score - 0.5), 6)


def write_suggestions(
    client,
    dataset,
    rows: list[Row],
    scores,
    version: str,
    label: Callable[[float], str | None],
    batch_size: int = 256,
    progress: Callable[[int], None] | None = None,
    errors: dict[str, np.ndarray] | None = None,
    pause: float = 0.0,
) -> int:
    """filter_score/priority/filter_model metadata for each row (`version`: the model's), and a `quality` suggestion
    (label, confidence, agent `curation-filter <version>`) where
    `label(score)` names one (None: the model is not sure enough to pre-select anything); with `errors` (P(type)
    per error type and row), an `errors` suggestion on the rows suggested bad: the types with P ≥ 0.5, likeliest
    first, each with its score. A suggestion an earlier model version left where this one suggests nothing is
    removed, so the form never shows a stale opinion.

    Sent as Argilla's bulk upsert keyed by record id with neither fields nor responses in it, so the record's
    text and every response stay exactly as they are. After each batch the writer waits `pause` times as long as
    the batch took, leaving the server to annotators' submissions meanwhile. Returns how many rows got a `quality`
    suggestion.
    """

    ensure_properties(client, dataset)
    question_ids = {q.name: str(q.id) for q in dataset.settings.questions}
    errors = errors or {}
    by = agent(version)
    http = client.api.http_client
    sent = suggested = 0
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
                        PRIORITY: priority(score),
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


def send(http, method: str, url: str, stage: str, ok: tuple[int, ...] = (), rerun="train_filter.py", **kwargs):
    """One request that is safe to repeat (a read, an upsert keyed by record id, a delete), retried with backoff
    while Argilla is unreachable or answers 5xx; then one clear error (`stage`: when, how far) that says re-running
    (`rerun`) completes it. Another 4xx than `ok` is an `ArgillaRefused`."""
    import httpx

    def request():
        response = http.request(method, url, **kwargs)
        if response.status_code >= 500:
            raise _ServerError(response.status_code)
        return response

    tries = f"{len(WAITS) + 1} tries"
    try:
        response = retried(request, transient)
    except httpx.TransportError as e:
        raise ArgillaUnavailable(
            f"Argilla stopped answering {stage} ({e.__class__.__name__}, {tries}): start it again and re-run {rerun}; "
            "nothing will be duplicated"
        ) from None
    except _ServerError as e:
        raise ArgillaUnavailable(
            f"Argilla answered HTTP {e.status_code} {stage} ({tries}): see its logs, then re-run {rerun}; nothing "
            "will be duplicated"
        ) from None
    if response.status_code >= 400 and response.status_code not in ok:
        raise ArgillaRefused(f"Argilla refused a request {stage} (HTTP {response.status_code}): {response.text[:300]}")
    return response


class _ServerError(Exception):
    def __init__(self, status_code: int):
        super().__init__(status_code)
        self.status_code = status_code

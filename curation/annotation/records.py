"""Records in Argilla: pairs in (with vectors), submitted judgments out.

The loop with Argilla: submitted judgments out, the filter's opinions back in as suggestions.

Writing back never sends responses, so whatever annotators submit meanwhile is kept as it is; a suggestion
is stored once per record and question, so re-running replaces the previous model's suggestion.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from curation.annotation import schema
from curation.annotation.agreement import LABELS, Judgment
from curation.annotation.connect import transient
from curation.errors import SETUP, TRAIN, WAITS, ArgillaRefused, ArgillaUnavailable, InputError, retried
from curation.pair import Pair, batched


def merged_metadata(pair: Pair, stored: dict | None, refresh: bool = True) -> dict:
    """A record's metadata: what it holds in Argilla now (`stored`: the filter's score, priority and model among it)
    is kept, since an upsert replaces metadata whole; the pair's measurements are refreshed over it unless not
    `refresh` (a judged row adds responses to a record, its metadata stays). A new record gets the pair's."""
    if stored is None:
        return schema.metadata(pair)
    return {**stored, **schema.metadata(pair)} if refresh else dict(stored)


def to_record(pair: Pair, responses: list | None = None, vector=None, metadata: dict | None = None):
    """The record of a pair (`metadata`: default, the pair's measurements)."""
    import argilla as rg

    return rg.Record(
        id=pair.id,
        fields={"source": pair.source, "target": pair.target},
        metadata=schema.metadata(pair) if metadata is None else metadata,
        responses=responses or [],
        vectors={schema.VECTOR: [round(float(x), 5) for x in vector]} if vector is not None else {},
    )


def vectors_for(dataset, batch: list[Pair]):
    """Hashed n-gram vectors when the dataset has the vector field, else Nones."""
    field = next((v for v in dataset.settings.vectors if v.name == schema.VECTOR), None)
    if field is None:
        return [None] * len(batch)
    return list(schema.pair_vectors(batch, field.dimensions))


@dataclass
class Stored:
    """What a dataset holds before setup writes to it: each record's metadata and who answered it (any status)."""

    metadata: dict[str, dict] = field(default_factory=dict)  # record id -> metadata
    answered: dict[str, set[str]] = field(default_factory=dict)  # record id -> user ids with a response

    @classmethod
    def read(cls, client, dataset) -> Stored:
        stored = cls()
        for item in iter_records(client, dataset, include="responses"):
            rid = record_id(item)
            stored.metadata[rid] = dict(item.get("metadata") or {})
            stored.answered[rid] = {str(r["user_id"]) for r in item.get("responses") or []}
        return stored


def log_pairs(
    dataset,
    pairs: Iterable[Pair],
    batch_size: int,
    progress: Callable[[int], None] | None = None,
    stored: Stored | None = None,
) -> int:
    """Log pairs in batches (upserts by id: running twice adds nothing; the metadata in `stored`, the filter's
    among it, is kept). Returns how many were sent."""
    sent = 0
    stored = stored if stored is not None else Stored()
    for batch in batched(pairs, batch_size):
        records = []
        for p, v in zip(batch, vectors_for(dataset, batch), strict=True):
            stored.metadata[p.id] = merged_metadata(p, stored.metadata.get(p.id))  # what it holds once logged
            records.append(to_record(p, vector=v, metadata=stored.metadata[p.id]))
        log_records(dataset, records, batch_size, f"{sent} records sent by this run")
        sent += len(batch)
        if progress:
            progress(len(batch))
    return sent


def log_records(dataset, records: list, batch_size: int, done: str) -> None:
    """`records.log`, with Argilla going away or failing turned into one line that says a re-run completes it."""
    try:  # transient failures (a concurrent run's insert, a restart, a dropped connection) are retried
        retried(lambda: dataset.records.log(records, batch_size=batch_size), transient)
    except Exception as e:
        if not transient(e):
            raise
        held = count(dataset)
        raise ArgillaUnavailable(
            f"Argilla stopped answering or failed ({e.__class__.__name__}, {len(WAITS) + 1} tries) with {done}"
            f"{'' if held is None else f' ({held} records in the dataset now)'}: see its logs (disk full?), start it "
            f"again (curation server start) and run {SETUP} again; records are keyed by pair, so nothing is "
            "duplicated"
        ) from None


def count(dataset) -> int | None:
    """How many records the dataset holds, if Argilla still answers."""
    try:
        response = dataset._client.api.http_client.get(
            f"/api/v1/datasets/{dataset.id}/records", params={"limit": 1}, timeout=5
        )
        return int(response.json()["total"]) if response.status_code == 200 else None
    except Exception:
        return None


@dataclass
class DatasetRecord:
    """A record of the dataset as Argilla lists it: the pair, its metadata, what the annotators submitted and what
    the filter said (its latest score and version)."""

    id: str  # ours (the pair's), else Argilla's
    source: str
    target: str
    metadata: dict = field(default_factory=dict)
    votes: dict[str, str] = field(default_factory=dict)  # username -> good/bad, submitted responses only
    errors: dict[str, frozenset[str]] = field(default_factory=dict)  # username -> error types ticked with the vote
    corrections: dict[str, str] = field(default_factory=dict)  # username -> corrected target
    filter_score: float | None = None
    filter_agent: str | None = None  # "curation-filter <version>" of the filter's latest opinion
    updated_at: str = ""  # the last change: the record's or a submitted response's
    server_id: str = ""  # Argilla's record id
    ours: dict[str, str] = field(default_factory=dict)  # question id -> id of the filter's suggestion there

    @property
    def submitted(self) -> bool:
        """Someone submitted a quality judgment."""
        return bool(self.votes)


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
            f"dataset {name!r} not found in workspace {workspace!r}: run {SETUP} first, or pass --workspace/--dataset"
        )
    return data


def usernames(client) -> dict[str, str]:
    return {str(u.id): u.username for u in client.users}


def record_id(item: dict) -> str:
    """Our id of a listed record (the external id set by setup), else Argilla's."""
    return str(item.get("external_id") or item["id"])


def _submitted(item: dict, names: dict[str, str]) -> Iterator[tuple[str, dict, str]]:
    """(username, values, updated_at) of each submitted response of a listed record."""
    for r in item.get("responses") or []:
        if r["status"] == "submitted":
            yield names.get(str(r["user_id"]), str(r["user_id"])), r.get("values") or {}, r.get("updated_at") or ""


def read_records(client, dataset) -> list[DatasetRecord]:
    """Every record of the dataset with its submitted judgments (quality votes, error types, corrections) and the
    filter's latest suggestion, in Argilla's order."""
    names = usernames(client)
    quality_ids = {str(q.id) for q in dataset.settings.questions if q.name == schema.QUALITY}
    out = []
    for item in iter_records(client, dataset, include="responses,suggestions"):
        record = DatasetRecord(
            record_id(item),
            item["fields"].get("source", ""),
            item["fields"].get("target", ""),
            dict(item.get("metadata") or {}),
            server_id=str(item["id"]),
        )
        stamps = [item.get("updated_at") or ""]
        for who, values, updated_at in _submitted(item, names):
            quality = (values.get(schema.QUALITY) or {}).get("value")
            if quality in LABELS:
                record.votes[who] = quality
                record.errors[who] = frozenset((values.get(schema.ERRORS) or {}).get("value") or ())
            correction = ((values.get(schema.CORRECTION) or {}).get("value") or "").strip()
            if correction:
                record.corrections[who] = correction
            stamps.append(updated_at)
        record.updated_at = max(stamps)
        for s in item.get("suggestions") or []:
            if str(s.get("agent") or "").startswith(schema.AGENT):
                record.ours[str(s["question_id"])] = str(s["id"])
            if record.filter_agent is None and str(s["question_id"]) in quality_ids:
                record.filter_agent = s.get("agent")
        score = record.metadata.get(schema.FILTER_SCORE)
        record.filter_score = float(score) if score is not None else None
        if record.metadata.get(schema.FILTER_MODEL):  # the scorer, also where no label was suggested
            record.filter_agent = schema.agent_for(record.metadata[schema.FILTER_MODEL])
        out.append(record)
    return out


def judgments(records: list[DatasetRecord]) -> list[Judgment]:
    """The submitted quality votes, one per annotator and record, with the error types each ticked."""
    return [
        Judgment(r.id, who, label, r.errors.get(who, frozenset())) for r in records for who, label in r.votes.items()
    ]


def send(http, method: str, url: str, stage: str, ok: tuple[int, ...] = (), rerun=TRAIN, **kwargs):
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

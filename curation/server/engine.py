"""argilla-server's `SearchEngine` on the embedded SQLite index (`ARGILLA_SEARCH_ENGINE=sqlite`).

Importing this module registers the engine. Semantics follow argilla-server's Elasticsearch engine
(`search_engine/commons.py`): the same filters, sorts, progress figures, metrics and k-NN scores.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from argilla_server.enums import MetadataPropertyType, ResponseStatusFilter, SimilarityOrder, SortOrder
from argilla_server.models import Dataset, MetadataProperty, Record, Response, Suggestion, User, VectorSettings
from argilla_server.search_engine.base import (
    AndFilter,
    Filter,
    FloatMetadataMetrics,
    IntegerMetadataMetrics,
    MetadataFilterScope,
    MetadataMetrics,
    Order,
    RangeFilter,
    RecordFilterScope,
    ResponseFilterScope,
    SearchEngine,
    SearchResponseItem,
    SearchResponses,
    SuggestionFilterScope,
    TermsFilter,
    TermsMetrics,
    TextQuery,
)
from typing_extensions import override

from curation.server import columns, documents, store
from curation.server.documents import IndexDoc
from curation.server.store import IndexStore

ENGINE_NAME = "sqlite"
SEARCH_DB_ENV = "CURATION_SEARCH_DB"


def search_db_path() -> Path:
    """Where the index lives: $CURATION_SEARCH_DB, else `search.sqlite` in Argilla's home path."""
    if os.environ.get(SEARCH_DB_ENV):
        return Path(os.environ[SEARCH_DB_ENV])
    from argilla_server.settings import settings

    return Path(settings.home_path) / "search.sqlite"


def index_name(dataset: Dataset) -> str:
    return str(dataset.id)


def iso(value: datetime | str | float | None) -> str | None:
    """Dates as naive-UTC ISO strings with microseconds, so that text order is time order."""
    if value is None:
        return None
    if isinstance(value, int | float):  # Elasticsearch reads numbers in date ranges as epoch milliseconds
        value = datetime.fromtimestamp(value / 1000, tz=UTC)
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds")


def _field_text(field, value: Any) -> str | None:
    if value is None or field.is_image:
        return None
    if field.is_chat:
        return "\n".join(str(message.get("content", "")) for message in value if isinstance(message, dict))
    return str(value)


def to_index_doc(record: Record) -> IndexDoc:
    dataset = record.dataset
    metadata = record.metadata_ or {}
    known = {p.name for p in dataset.metadata_properties}
    return IndexDoc(
        rid=str(record.id),
        external_id=record.external_id,
        status=str(record.status),
        inserted_at=iso(record.inserted_at),
        updated_at=iso(record.updated_at),
        texts={f.name: _field_text(f, record.fields.get(f.name)) for f in dataset.fields if not f.is_image},
        metadata={k: v for k, v in metadata.items() if k in known and v is not None},
        suggestions=[to_suggestion(s) for s in record.suggestions],
        responses=[to_response(r) for r in record.responses],
        vectors={str(v.vector_settings_id): v.value for v in record.vectors},
    )


def to_suggestion(suggestion: Suggestion) -> documents.Suggestion:
    return documents.Suggestion(
        question=suggestion.question.name,
        value=suggestion.value,
        score=suggestion.score,
        agent=suggestion.agent,
        type=str(suggestion.type) if suggestion.type else None,
    )


def to_response(response: Response) -> documents.Response:
    return documents.Response(
        id=str(response.id),
        user_id=str(response.user_id),
        status=str(response.status),
        values={q: (v or {}).get("value") for q, v in (response.values or {}).items()},
    )


def _user_seed(user_id: Any) -> int:
    return int.from_bytes(hashlib.sha256(str(user_id).encode()).digest()[:4], "big") & 0x7FFFFFFF


class SQLiteSearchEngine(SearchEngine):
    """The embedded engine: every method of argilla-server's `SearchEngine`, on a local SQLite index."""

    def __init__(self, index: IndexStore):
        self.index = index

    @classmethod
    async def new_instance(cls) -> SQLiteSearchEngine:
        return cls(store.open_store(search_db_path()))

    async def close(self):
        pass  # the store is shared by every request of the process

    async def ping(self) -> bool:
        return True

    async def info(self) -> dict:
        import sqlite3

        # /api/v1/status answers without a login: where the index lives on disk is none of a visitor's business
        return {"distribution": "curation-embedded-sqlite", "number": sqlite3.sqlite_version}

    # -- indices and documents ------------------------------------------------------------------------------

    async def create_index(self, dataset: Dataset):
        self.index.create_index(index_name(dataset), [f.name for f in dataset.fields if not f.is_image])

    async def delete_index(self, dataset: Dataset):
        self.index.delete_index(index_name(dataset))

    async def configure_metadata_property(self, dataset: Dataset, metadata_property: MetadataProperty):
        pass  # the index is schemaless for metadata: values of any declared property are kept

    async def configure_index_vectors(self, vector_settings: VectorSettings):
        pass

    async def index_records(self, dataset: Dataset, records: Iterable[Record]):
        self.index.upsert(index_name(dataset), [to_index_doc(r) for r in records])

    async def partial_record_update(self, record: Record, **update):
        columns = {k: iso(v) if k in ("inserted_at", "updated_at") else v for k, v in update.items()}
        if "status" in columns:
            columns["status"] = str(columns["status"])
        self.index.update(index_name(record.dataset), str(record.id), **columns)

    async def delete_records(self, dataset: Dataset, records: Iterable[Record]):
        self.index.delete(index_name(dataset), [str(r.id) for r in records])

    async def update_record_response(self, response: Response):
        record = response.record
        self.index.put_response(index_name(record.dataset), str(record.id), to_response(response))

    async def delete_record_response(self, response: Response):
        self.index.delete_response(index_name(response.record.dataset), str(response.id))

    async def update_record_suggestion(self, suggestion: Suggestion):
        record = suggestion.record
        self.index.put_suggestion(index_name(record.dataset), str(record.id), to_suggestion(suggestion))

    async def delete_record_suggestion(self, suggestion: Suggestion):
        record = suggestion.record
        self.index.delete_suggestion(index_name(record.dataset), str(record.id), suggestion.question.name)

    # -- progress and metrics -------------------------------------------------------------------------------

    async def get_dataset_progress(self, dataset: Dataset) -> dict:
        if dataset.is_draft:
            return {}
        counts = self.index.count_by_status(index_name(dataset))
        return {"total": sum(counts.values()), **counts}

    async def get_dataset_user_progress(self, dataset: Dataset, user: User) -> dict:
        # Counts this user's own responses. (Elasticsearch's version counts every response of the records
        # the user answered, which over-counts when several annotators share a record.)
        if dataset.is_draft:
            return {}
        counts = self.index.user_response_counts(index_name(dataset), str(user.id))
        return {"total": sum(counts.values()), **counts}

    async def compute_metrics_for(self, metadata_property: MetadataProperty) -> MetadataMetrics:
        name = index_name(metadata_property.dataset)
        if metadata_property.type == MetadataPropertyType.terms:
            total, rows = self.index.term_counts(name, metadata_property.name)
            return TermsMetrics(total=total, values=[TermsMetrics.TermCount(term=t, count=c) for t, c in rows])
        low, high = self.index.num_range(name, metadata_property.name)
        if metadata_property.type == MetadataPropertyType.integer:
            return IntegerMetadataMetrics(
                min=None if low is None else int(low), max=None if high is None else int(high)
            )
        return FloatMetadataMetrics(min=low, max=high)

    # -- search ---------------------------------------------------------------------------------------------

    async def search(
        self,
        dataset: Dataset,
        query: TextQuery | str | None = None,
        filter: Filter | None = None,
        sort: list[Order] | None = None,
        offset: int = 0,
        limit: int = 100,
        user_id: str | None = None,
    ) -> SearchResponses:
        hits, total = self.index.search(
            index_name(dataset),
            filter=self._filter(filter) if filter else None,
            sorts=[self._order(o) for o in sort or []],
            text=self._text(dataset, query),
            offset=offset,
            limit=limit,
            shuffle_seed=_user_seed(user_id) if user_id else None,
        )
        return SearchResponses(items=[SearchResponseItem(record_id=h.rid, score=h.score) for h in hits], total=total)

    @override  # Argilla's SearchEngine signature
    async def similarity_search(
        self,
        dataset: Dataset,
        vector_settings: VectorSettings,
        value: list[float] | None = None,
        record: Record | None = None,
        query: TextQuery | str | None = None,
        filter: Filter | None = None,
        max_results: int = 100,
        order: SimilarityOrder = SimilarityOrder.most_similar,
        threshold: float | None = None,
    ) -> SearchResponses:
        if bool(value) == bool(record):
            raise ValueError("Must provide either vector value or record to compute the similarity search")
        exclude = None
        if not value:
            exclude = str(record.id)
            value = record.vector_value_by_vector_settings(vector_settings)
        if not value:
            raise ValueError("Cannot find a vector value to apply with provided info")
        if order == SimilarityOrder.least_similar:
            value = [-x for x in value]
        hits = self.index.nearest(
            index_name(dataset),
            str(vector_settings.id),
            value,
            k=max_results,
            filter=self._filter(filter) if filter else None,
            text=self._text(dataset, query),
            exclude=exclude,
        )
        total = len(hits)
        if threshold is not None:
            hits = [h for h in hits if h.score >= threshold]
        return SearchResponses(items=[SearchResponseItem(record_id=h.rid, score=h.score) for h in hits], total=total)

    # -- translation of Argilla's filters and sorts -----------------------------------------------------------

    @staticmethod
    def _text(dataset: Dataset, query: TextQuery | str | None) -> tuple[str, str | None] | None:
        if query is None:
            return None
        if isinstance(query, str):
            query = TextQuery(q=query)
        if query.field and dataset.field_by_name(query.field) is None:
            raise Exception(f"Field {query.field} not found in dataset {dataset.id}")
        return query.q, query.field

    @staticmethod
    def _target(scope) -> columns.Target:
        if isinstance(scope, RecordFilterScope):
            return columns.Target("record", {"id": "rid"}.get(scope.property, str(scope.property)))
        if isinstance(scope, MetadataFilterScope):
            return columns.Target("meta", scope.metadata_property)
        if isinstance(scope, SuggestionFilterScope):
            return columns.Target("sugg", scope.question, str(scope.property))
        if isinstance(scope, ResponseFilterScope) and scope.question:
            return columns.Target("resp", scope.question, user=str(scope.user.id) if scope.user else None)
        raise ValueError(f"Cannot process request for search scope {scope}")

    def _filter(self, filter: Filter) -> columns.Filter:
        if isinstance(filter, AndFilter):
            return columns.And([self._filter(f) for f in filter.filters])
        scope = filter.scope
        if isinstance(scope, ResponseFilterScope) and not scope.question:
            if scope.property != "status" or not isinstance(filter, TermsFilter):
                raise Exception(f"Cannot process filter scope {scope}")
            return columns.ResponseStatus(
                statuses=[str(v) for v in filter.values if v != ResponseStatusFilter.pending],
                pending=ResponseStatusFilter.pending in filter.values,
                user=str(scope.user.id) if scope.user else None,
            )
        target = self._target(scope)
        if isinstance(filter, TermsFilter):
            return columns.Terms(target, list(filter.values))
        if isinstance(filter, RangeFilter):
            ge, le = filter.ge, filter.le
            if target.kind == "record" and target.key in ("inserted_at", "updated_at"):
                ge, le = iso(ge), iso(le)
            else:
                ge, le = _bound(ge), _bound(le)
            return columns.Range(target, ge, le)
        raise ValueError(f"Cannot process request for filter {filter}")

    def _order(self, order: Order) -> columns.Sort:
        scope = order.scope
        if isinstance(scope, ResponseFilterScope) and not scope.question:
            target = columns.Target("resp_status", "status", user=str(scope.user.id) if scope.user else None)
        else:
            target = self._target(scope)
        return columns.Sort(target, descending=order.order == SortOrder.desc)


SearchEngine.register(ENGINE_NAME)(SQLiteSearchEngine)


def _bound(value):
    """A range bound of a number column as a finite number ("0.5" too); anything else ("NaN", "abc", inf) is the
    client's mistake, a 422 as Argilla's own validation answers, never a 500."""
    import math

    from argilla_server.errors.future import UnprocessableEntityError

    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number):
        raise UnprocessableEntityError(f"a range bound must be a finite number, not {value!r}")
    return number

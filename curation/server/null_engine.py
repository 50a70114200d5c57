"""A search engine that keeps nothing (`ARGILLA_SEARCH_ENGINE=null`): the baseline for what indexing costs.

Only for benchmarks: search finds nothing and progress is empty.
"""

from __future__ import annotations

from argilla_server.search_engine.base import SearchEngine, SearchResponses, TermsMetrics


@SearchEngine.register("null")
class NullSearchEngine(SearchEngine):
    @classmethod
    async def new_instance(cls) -> NullSearchEngine:
        return cls()

    async def close(self):
        pass

    async def ping(self) -> bool:
        return True

    async def info(self) -> dict:
        return {"distribution": "null"}

    async def create_index(self, dataset):
        pass

    async def delete_index(self, dataset):
        pass

    async def configure_metadata_property(self, dataset, metadata_property):
        pass

    async def index_records(self, dataset, records):
        pass

    async def partial_record_update(self, record, **update):
        pass

    async def delete_records(self, dataset, records):
        pass

    async def update_record_response(self, response):
        pass

    async def delete_record_response(self, response):
        pass

    async def update_record_suggestion(self, suggestion):
        pass

    async def delete_record_suggestion(self, suggestion):
        pass

    async def get_dataset_progress(self, dataset) -> dict:
        return {}

    async def get_dataset_user_progress(self, dataset, user) -> dict:
        return {}

    async def search(self, dataset, query=None, filter=None, sort=None, offset=0, limit=100, user_id=None):
        return SearchResponses(items=[], total=0)

    async def compute_metrics_for(self, metadata_property):
        return TermsMetrics(total=0)

    async def similarity_search(self, dataset, vector_settings, **kwargs):
        return SearchResponses(items=[], total=0)

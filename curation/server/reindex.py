"""Keep the embedded index in line with argilla-server's database, which is the source of truth.

argilla-server commits records to the database first and indexes them afterwards, so a crash between the two
leaves records the index does not know about. `reconcile` (run at every start) repairs that cheaply;
`reindex_all` (`curation server reindex`) rebuilds everything.
"""

from __future__ import annotations

from uuid import UUID

from argilla_server.database import AsyncSessionLocal
from argilla_server.enums import DatasetStatus
from argilla_server.models import Dataset, Record, Response, Suggestion
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from curation.server.engine import SQLiteSearchEngine, index_name

BATCH = 500


def _dataset_query():
    return select(Dataset).options(
        selectinload(Dataset.fields),
        selectinload(Dataset.questions),
        selectinload(Dataset.metadata_properties),
        selectinload(Dataset.vectors_settings),
    )


def _records_query(dataset: Dataset):
    return (
        select(Record)
        .filter_by(dataset_id=dataset.id)
        .order_by(Record.inserted_at.asc())
        .options(
            selectinload(Record.responses),
            selectinload(Record.suggestions).selectinload(Suggestion.question),
            selectinload(Record.vectors),
        )
    )


async def _index_records(db, engine: SQLiteSearchEngine, dataset: Dataset, query) -> int:
    count = 0
    stream = await db.stream(query.execution_options(yield_per=BATCH))
    async for partition in stream.partitions():
        records = [row[0] for row in partition]
        for record in records:
            record.dataset = dataset
        await engine.index_records(dataset, records)
        count += len(records)
    return count


async def _published(db) -> list[Dataset]:
    result = await db.execute(_dataset_query().where(Dataset.status == DatasetStatus.ready))
    return list(result.scalars())


async def reindex_all() -> dict[str, int]:
    """Drop and rebuild the index of every published dataset; returns records indexed per dataset name."""
    engine = await SQLiteSearchEngine.new_instance()
    done: dict[str, int] = {}
    async with AsyncSessionLocal() as db:
        datasets = await _published(db)
        _drop_orphans(engine, datasets)
        for dataset in datasets:
            done[dataset.name] = await _rebuild(db, engine, dataset)
    return done


async def reconcile() -> list[str]:
    """Index what the database has and the index lacks, drop what the index has and the database lacks.

    A dataset whose response or suggestion counts disagree is rebuilt whole. Returns one line per repair.
    """
    engine = await SQLiteSearchEngine.new_instance()
    index = engine.index
    report: list[str] = []
    async with AsyncSessionLocal() as db:
        datasets = await _published(db)
        report += [f"dropped the index of deleted dataset {name}" for name in _drop_orphans(engine, datasets)]
        for dataset in datasets:
            name = index_name(dataset)
            if not index.has_index(name):
                await engine.create_index(dataset)
            ids = set(map(str, (await db.execute(select(Record.id).filter_by(dataset_id=dataset.id))).scalars()))
            indexed = index.record_ids(name)
            if indexed - ids:
                index.delete(name, indexed - ids)
                report.append(f"dropped {len(indexed - ids)} stale records from dataset {dataset.name!r}")
            missing = sorted(ids - indexed)
            for start in range(0, len(missing), BATCH):
                chunk = [UUID(rid) for rid in missing[start : start + BATCH]]
                await _index_records(db, engine, dataset, _records_query(dataset).where(Record.id.in_(chunk)))
            if missing:
                report.append(f"indexed {len(missing)} missing records of dataset {dataset.name!r}")
            if await _child_counts(db, dataset) != index.child_counts(name):
                n = await _rebuild(db, engine, dataset)
                report.append(f"rebuilt the index of dataset {dataset.name!r} ({n} records)")
    return report


def _drop_orphans(engine: SQLiteSearchEngine, datasets: list[Dataset]) -> list[str]:
    """Drop the indices of datasets that are gone from the database; returns their names."""
    orphans = sorted(set(engine.index.index_names()) - {index_name(d) for d in datasets})
    for name in orphans:
        engine.index.delete_index(name)
    return orphans


async def _rebuild(db, engine: SQLiteSearchEngine, dataset: Dataset) -> int:
    """Recreate a dataset's index from the database; returns the number of records indexed."""
    await engine.delete_index(dataset)
    await engine.create_index(dataset)
    return await _index_records(db, engine, dataset, _records_query(dataset))


async def _child_counts(db, dataset: Dataset) -> tuple[int, int]:
    responses = await db.scalar(select(func.count(Response.id)).join(Record).where(Record.dataset_id == dataset.id))
    suggestions = await db.scalar(select(func.count(Suggestion.id)).join(Record).where(Record.dataset_id == dataset.id))
    return responses or 0, suggestions or 0

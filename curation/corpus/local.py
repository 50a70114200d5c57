"""Run a corpus job in this process (the steps of `curation.corpus.shards`, shard after shard)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq

from curation.clean.dedup import Deduplicator
from curation.clean.settings import CleanSettings
from curation.corpus.shards import (
    FAILED,
    OUTPUT,
    Job,
    Scorer,
    Summary,
    clean_batch,
    dedup_in_order,
    finish,
    prepare_output,
    read_shard,
    to_output,
)


def run_local(job: Job, *, overwrite: bool = False, progress: Callable[[int], None] | None = None) -> Summary:
    """The local engine: every shard in order, in this process."""
    started = time.perf_counter()
    model = job.model
    scorer = None
    if model.path:
        scorer = Scorer(
            model.path, model.device, model.batch_size, trust_pickle=model.trust_pickle, clusters=model.clusters
        )
    partial = prepare_output(job.output, overwrite)
    settings = CleanSettings.of(job.cleaning)
    dedup = Deduplicator.from_config(job.cleaning.dedup) if job.clean else None

    def frames():
        for index, path in enumerate(job.shards):
            path = str(Path(path).resolve())  # as the Ray engine names it
            for frame in read_shard(index, path, job.cleaning.input, str(partial / FAILED)):
                yield dedup_in_order(clean_batch(frame, settings), dedup) if job.clean else frame

    with pq.ParquetWriter(partial / "part-00000.parquet", OUTPUT) as writer:
        for frame in scorer.stream(frames()) if scorer else frames():
            writer.write_table(to_output(frame))
            if progress:
                progress(len(frame))
    return finish(partial, job, started)

"""Run a corpus job on a Ray cluster: the same steps as `curation.corpus.local`, spread over workers."""

from __future__ import annotations

import os
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pyarrow as pa

from curation.clean.dedup import Deduplicator
from curation.clean.readers import InputSpec
from curation.clean.settings import CleanSettings, DedupConfig
from curation.clusters.assign import Assigner
from curation.corpus.shards import (
    FAILED,
    ROWS,
    Job,
    Scorer,
    Summary,
    clean_batch,
    finish,
    near_arrays,
    prepare_output,
    read_shard,
    to_output,
)
from curation.errors import ScaleError
from curation.model import store

# --- the Ray engine -------------------------------------------------------------------------------------------


def connect(address: str | None, num_cpus: int | None = None) -> None:
    """Join the Ray cluster at `address` (ray://host:port or host:port), or start one on this machine when None.

    An address that cannot be reached fails within seconds with what to do (ray.init itself may wait minutes)."""
    import ray

    address = address or os.environ.get("RAY_ADDRESS") or None
    if address and address not in ("auto", "local"):
        parts = urlsplit(address if "://" in address else f"ray://{address}")
        host, port = parts.hostname, parts.port or (10001 if parts.scheme == "ray" else 6379)
        try:
            socket.create_connection((host, port), timeout=5).close()
        except OSError as e:
            raise ScaleError(
                f"cannot reach Ray at {address} ({e.strerror or e}): start the cluster (`ray start --head` on the "
                "head node) or fix --ray-address / RAY_ADDRESS"
            ) from None
    if ray.is_initialized():
        return
    ray.init(
        address=None if address == "local" else address,
        num_cpus=num_cpus if not address or address == "local" else None,
        include_dashboard=False,
        log_to_driver=False,
        ignore_reinit_error=True,
    )


def _read_batch(items: pd.DataFrame, spec: InputSpec, failed_dir: str) -> Iterator[pd.DataFrame]:
    for index, path in zip(items["index"], items["path"], strict=True):
        yield from read_shard(int(index), str(path), spec, failed_dir)


def _select(frame: pd.DataFrame, kept: bool) -> pd.DataFrame:
    mask = frame["reason"].isna()
    return frame[mask if kept else ~mask]


def _not_first(frame: pd.DataFrame, reason: str) -> pd.DataFrame:
    """Rows joined with the first ordinal of their key: all but the first occurrence repeat it."""
    reasons = np.array(frame["reason"].tolist(), dtype=object)
    reasons[frame["ordinal"].to_numpy() != frame["first"].to_numpy()] = reason
    frame = frame.drop(columns=["first"])
    frame["reason"] = pd.Series(reasons, dtype=object, index=frame.index)
    return frame


def _mark(frame: pd.DataFrame, ordinals: np.ndarray, reason: str) -> pd.DataFrame:
    frame = frame.copy()
    hit = np.isin(frame["ordinal"].to_numpy(), ordinals)
    reasons = np.array(frame["reason"].tolist(), dtype=object)
    reasons[hit] = reason
    frame["reason"] = pd.Series(reasons, dtype=object, index=frame.index)
    return frame


def _near_pass(exact, d: DedupConfig) -> np.ndarray:
    """Ordinals of the near-duplicates, decided in input order on the driver (memory fixed by dedup.memory_mb)."""
    dedup = Deduplicator.from_config(d)
    dropped: list[np.ndarray] = []
    ordered = exact.select_columns(["ordinal", "signature", "bands"]).sort("ordinal")
    for batch in ordered.iter_batches(batch_size=ROWS, batch_format="pandas"):
        signatures, bands = near_arrays(batch, d.num_perm)
        verdicts = np.array([v is not None for v in dedup.decide_near(signatures, bands)], dtype=bool)
        dropped.append(batch["ordinal"].to_numpy()[verdicts])
    return np.sort(np.concatenate(dropped)) if dropped else np.empty(0, dtype=np.int64)


def _table(frame: pd.DataFrame) -> pa.Table:
    return to_output(frame.sort_values("ordinal"))


def run_ray(
    job: Job,
    *,
    address: str | None = None,
    overwrite: bool = False,
    replicas: int | None = None,
    gpus_per_replica: float | None = None,
    cpus_per_replica: float = 1,
    num_cpus: int | None = None,
) -> Summary:
    """The Ray engine (see the module docstring). `replicas` model actors (default: one per GPU, else one per 4
    CPUs), each with `gpus_per_replica` GPUs (default 1 when the cluster has GPUs)."""
    import ray
    import ray.data
    from ray.data.aggregate import Min

    started = time.perf_counter()
    model = job.model
    if model.path:
        store.resolve(model.path)  # a model missing here fails before the cluster does any work
        if model.clusters:
            Assigner.load(model.clusters)  # so does a clusters folder that is not one
    connect(address, num_cpus)
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True  # the same input gives the same blocks
    partial = prepare_output(job.output, overwrite)
    failed_dir = str(partial.resolve() / FAILED)  # workers write here: on a cluster, shared storage
    items = [{"index": i, "path": str(Path(s).resolve())} for i, s in enumerate(job.shards)]
    rows = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
        _read_batch,
        batch_size=1,
        batch_format="pandas",
        fn_kwargs={"spec": job.cleaning.input, "failed_dir": failed_dir},
    )
    if job.clean:
        settings = CleanSettings.of(job.cleaning)
        rows = rows.map_batches(clean_batch, batch_format="pandas", fn_kwargs={"settings": settings}).materialize()
        parts = [rows.map_batches(_select, batch_format="pandas", fn_kwargs={"kept": False})]
        passed = rows.map_batches(_select, batch_format="pandas", fn_kwargs={"kept": True})
        partitions = max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))  # hash partitions of the keys
        for key, reason in (("pair_key", "dedup: duplicate pair"), ("target_key", "dedup: duplicate target")):
            # the first occurrence of each key (a hash aggregation), joined back to every row (a hash join)
            first = passed.groupby(key, num_partitions=partitions).aggregate(Min("ordinal", alias_name="first"))
            joined = passed.join(first, join_type="inner", num_partitions=partitions, on=(key,))
            marked = joined.map_batches(_not_first, batch_format="pandas", fn_kwargs={"reason": reason}).materialize()
            parts.append(marked.map_batches(_select, batch_format="pandas", fn_kwargs={"kept": False}))
            passed = marked.map_batches(_select, batch_format="pandas", fn_kwargs={"kept": True})
        if job.cleaning.dedup.near_threshold is not None:
            passed = passed.materialize()
            near = _near_pass(passed, job.cleaning.dedup)
            passed = passed.map_batches(
                _mark, batch_format="pandas", fn_kwargs={"ordinals": near, "reason": "dedup: near-duplicate pair"}
            )
    else:
        parts, passed = [], rows
    if model.path:
        gpus = ray.cluster_resources().get("GPU", 0)
        per = gpus_per_replica if gpus_per_replica is not None else (1 if gpus else 0)
        count = replicas or (max(1, int(gpus // per)) if per else max(1, int(ray.cluster_resources()["CPU"] // 4)))
        passed = passed.map_batches(
            Scorer,
            fn_constructor_kwargs={
                "model": str(Path(model.path).resolve()),
                "device": model.device if model.device != "auto" or per else "cpu",
                "batch_size": model.batch_size,
                "threads": max(1, int(cpus_per_replica)),
                "trust_pickle": model.trust_pickle,
                "clusters": str(Path(model.clusters).resolve()) if model.clusters else None,
            },
            batch_format="pandas",
            batch_size=model.batch_size * 8 if model.batch_size else (2048 if per else 256),
            concurrency=count,
            num_gpus=per,
            num_cpus=cpus_per_replica,
        )
    table = passed.union(*parts) if parts else passed
    try:
        table.sort("ordinal").map_batches(_table, batch_format="pandas").write_parquet(str(partial))
    except Exception as e:  # Ray wraps what failed on a worker; say it in one line
        raise ScaleError(_worker_error(e, job)) from None
    return finish(partial, job, started)


def _worker_error(error: Exception, job: Job) -> str:
    """One line from what Ray reports: the user code's own exception, not Ray's wrappers."""
    text = str(error)
    lines = [line.strip() for line in text.splitlines()]
    causes = [line for line in lines if re.match(r"^[\w.]*(Error|Exception): ", line) and "ray." not in line[:30]]
    cause = causes[0] if causes else (lines[0] if lines else type(error).__name__)
    if "ModelError" in text:
        cause = next((line for line in lines if re.search(r"ModelError: ", line)), cause)
        return (
            f"the model could not be loaded on a Ray worker ({cause}): every node needs {job.model.path} at the same "
            "path (shared storage, or copy it to each node)"
        )
    return f"the Ray run failed: {cause}"

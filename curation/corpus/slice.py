"""The slice of a scored corpus worth human time: what goes to Argilla when the corpus is far too large for it.

Two parts, from the kept, scored rows of `curation score` (Parquet, any number of shards; read in batches, so
memory holds only the slice):
- the uncertain band: the `uncertain` rows whose score is closest to 0.5 within [low, high] — where a label
  teaches the filter most;
- a stratified sample: `per_stratum` rows from each of `strata` equal score ranges over [0, 1] — so annotators
  also see confident pairs and the filter's precision can be measured at every score.

The sample is deterministic: within a stratum the rows with the smallest hash of their text are taken, whatever
the order or sharding of the input.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from curation.errors import InputError
from curation.files import write_jsonl

COLUMNS = ["shard", "row", "source", "target", "score"]


def _priority(sources, targets) -> np.ndarray:
    return np.fromiter(
        (
            int.from_bytes(hashlib.blake2b(f"{s}\t{t}".encode(), digest_size=8).digest(), "big") >> 1
            for s, t in zip(sources, targets, strict=True)
        ),
        dtype=np.int64,
        count=len(sources),
    )


def _smallest(best: pa.Table | None, batch: pa.Table, key: str, k: int) -> pa.Table:
    table = batch if best is None else pa.concat_tables([best, batch])
    if len(table) <= k:
        return table
    order = np.argsort(table.column(key).to_numpy(), kind="stable")[:k]
    return table.take(pa.array(order))


def select(
    scored: str | Path,
    uncertain: int = 1000,
    low: float = 0.3,
    high: float = 0.7,
    per_stratum: int = 100,
    strata: int = 10,
) -> pa.Table:
    """The slice (columns `COLUMNS` + `part`: "uncertain" or "stratum k/n"), uncertain rows first."""
    try:
        dataset = pads.dataset(str(scored), format="parquet")
    except (pa.ArrowInvalid, OSError) as e:
        first = str(e).split(". ")[0]
        raise InputError(
            f"{scored} is not a folder of Parquet shards ({first}): give the output of `curation score`"
        ) from None
    missing = {"reason", "score", "source", "target"} - set(dataset.schema.names)
    if missing:
        raise InputError(f"{scored} has no column {', '.join(sorted(missing))}: give the output of `curation score`")
    band: pa.Table | None = None
    sample: list[pa.Table | None] = [None] * strata
    kept = pads.field("reason").is_null() & pads.field("score").is_valid()
    for batch in dataset.to_batches(columns=COLUMNS, filter=kept):
        if not batch.num_rows:
            continue
        table = pa.Table.from_batches([batch])
        score = table.column("score").to_numpy()
        table = table.append_column(
            "priority", pa.array(_priority(table.column("source").to_pylist(), table.column("target").to_pylist()))
        )
        table = table.append_column("distance", pa.array(np.abs(score - 0.5)))
        inside = (score >= low) & (score <= high)
        if inside.any():
            band = _smallest(band, table.filter(pa.array(inside)), "distance", uncertain)
        stratum = np.minimum((score * strata).astype(int), strata - 1)
        for k in np.unique(stratum).tolist():
            sample[k] = _smallest(sample[k], table.filter(pa.array(stratum == k)), "priority", per_stratum)
    chosen = set()
    parts = []
    if band is not None:
        band = band.sort_by([("distance", "ascending"), ("priority", "ascending")])
        chosen.update(zip(band.column("shard").to_pylist(), band.column("row").to_pylist(), strict=True))
        parts.append(band.append_column("part", pa.array(["uncertain"] * len(band), type=pa.string())))
    for k, table in enumerate(sample):
        if table is None:
            continue
        keys = zip(table.column("shard").to_pylist(), table.column("row").to_pylist(), strict=True)
        fresh = pa.array([key not in chosen for key in keys], type=pa.bool_())  # a row in the band is not sampled twice
        table = table.filter(fresh).sort_by([("priority", "ascending")])
        if not len(table):  # every row of the stratum is in the band already
            continue
        part = pa.array([f"stratum {k + 1}/{strata}"] * len(table), type=pa.string())
        parts.append(table.append_column("part", part))
    if not parts:
        raise InputError(f"{scored} has no kept, scored rows: run `curation score --model ...` on it first")
    return pa.concat_tables(parts).drop_columns(["priority", "distance"])


def write(table: pa.Table, output: str | Path) -> Path:
    """Parquet (or JSONL by extension) that setup_workspace.py reads as its --input."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.suffix == ".jsonl":
        write_jsonl(output, table.to_pylist())
    else:
        pq.write_table(table, output)
    return output

"""Score a corpus of shards: read → heuristics → exact dedup → near-dedup → model, here or on a Ray cluster.

Both engines run the same functions on the same rows and write the same table: one row per input pair, with
`shard`, `row`, `source`, `target` (PII masked when cleaning), `reason` (why it was dropped; null when kept),
`toxicity` (the toxicity filter's class: none, balanced, added, removed; null where it did not run) and `score`
(P(good) from the filter; null when dropped or without a model).

- `local`: this process, shards in order, one Parquet file.
- `ray`: a Ray Data pipeline. Tasks read and clean the shards; exact duplicates are found by hash partitioning
  (the first occurrence of each pair key, then of each target key, by a hash aggregation joined back to the rows
  by a hash join: only the first occurrence stays); near-duplicates are decided in one
  ordered pass on the driver over the MinHash signatures of what is left (a pair is a near-duplicate of an
  earlier *kept* pair, a sequential rule); the model runs in an actor pool (one replica per GPU when the cluster
  has GPUs); the table is written as Parquet shards.

A shard that cannot be read is recorded (`_failed/NNNNNN.json` in the output: path, rows read, error) and the
run goes on; an empty shard just adds no rows.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curation.clean.dedup import Deduplicator, Prepared
from curation.clean.readers import InputError, InputSpec, LoadStats, load
from curation.clean.screen import screener
from curation.clean.settings import Cleaning, CleanSettings
from curation.clusters.assign import Assigner
from curation.corpus.settings import ModelSpec
from curation.files import check_output
from curation.model.learned import LearnedFilter
from curation.pair import Pair, batched

SHARD_ENDINGS = (".parquet", ".jsonl", ".json", ".tsv", ".csv", ".jsonl.gz", ".tsv.gz", ".csv.gz")


ROWS = 4096  # rows per batch


ROW_BITS = 40  # ordinal = shard index << ROW_BITS | row: the global input order, up to 2**40 rows a shard


FAILED = "_failed"
MALFORMED = "_malformed"  # one file per shard with rows that could not be read (counted, the shard goes on)


OUTPUT = pa.schema(
    [
        ("shard", pa.string()),
        ("row", pa.int64()),
        ("source", pa.string()),
        ("target", pa.string()),
        ("reason", pa.string()),
        ("toxicity", pa.string()),
        ("score", pa.float64()),
        ("cluster", pa.int32()),  # with --clusters: the pair's cluster (null: not scored, or no clusters)
        ("cluster_title", pa.string()),
    ]
)


@dataclass(kw_only=True)
class Job:
    shards: list[str]
    output: Path
    cleaning: Cleaning = field(default_factory=Cleaning)  # the input's columns and format, the filters, dedup
    model: ModelSpec = field(default_factory=ModelSpec)  # the trained filter and how it runs; no path: no scoring
    clean: bool = True  # heuristics and dedup before the model


@dataclass
class Summary:
    rows: int
    kept: int
    reasons: dict[str, int]
    failed: list[dict]
    seconds: float
    output: Path
    malformed: list[dict] = field(default_factory=list)  # per shard: rows skipped as malformed, a few examples
    shards: int = 0  # input shards read

    @property
    def malformed_rows(self) -> int:
        return sum(m["malformed"] for m in self.malformed)

    @property
    def pairs_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def find_shards(path: str) -> list[str]:
    """The shard files of an input, in order: a file, a folder (searched recursively) or a glob pattern."""
    p = Path(path)
    if p.is_dir():
        files = sorted(str(f) for f in p.rglob("*") if f.is_file() and f.name.lower().endswith(SHARD_ENDINGS))
    elif any(ch in path for ch in "*?["):
        files = sorted(f for f in glob.glob(path, recursive=True) if Path(f).is_file())
    elif p.exists():
        files = [path]
    else:
        raise InputError(f"input {path} does not exist: give a shard file, a folder of shards or a glob pattern")
    if not files:
        raise InputError(f"no shards in {path}: expected {', '.join(SHARD_ENDINGS[:4])} files")
    return files


def read_shard(index: int, path: str, spec: InputSpec, failed_dir: str) -> Iterator[pd.DataFrame]:
    """The rows of one shard, `ROWS` at a time. A shard that cannot be read ends there (rows before it stay) and
    is recorded in `failed_dir`."""
    row = 0
    stats = LoadStats()
    try:
        for chunk in batched(load(replace(spec, path=path), stats, allow_empty=True), ROWS):
            rows = np.arange(row, row + len(chunk), dtype=np.int64)
            yield pd.DataFrame(
                {
                    "ordinal": (index << ROW_BITS) | rows,
                    "shard": path,
                    "row": rows,
                    "source": [p.source for p in chunk],
                    "target": [p.target for p in chunk],
                }
            )
            row += len(chunk)
    except Exception as e:  # any parse failure of this shard: recorded, the others go on
        os.makedirs(failed_dir, exist_ok=True)
        record = {"shard": path, "index": index, "rows_read": row, "error": f"{type(e).__name__}: {e}"}
        Path(failed_dir, f"{index:06d}.json").write_text(json.dumps(record, ensure_ascii=False) + "\n")
    if stats.malformed:
        folder = Path(failed_dir).with_name(MALFORMED)
        folder.mkdir(parents=True, exist_ok=True)
        record = {"shard": path, "index": index, "malformed": stats.malformed, "examples": stats.examples}
        (folder / f"{index:06d}.json").write_text(json.dumps(record, ensure_ascii=False) + "\n")


def clean_batch(frame: pd.DataFrame, settings: CleanSettings) -> pd.DataFrame:
    """PII masked, filters applied (`reason`), and the dedup fingerprints of the rows kept: `pair_key`,
    `target_key` (int64), `signature` and `bands` (bytes; None without near-dedup)."""
    tools = screener(settings)  # built once per worker process
    pairs = [Pair(s, t) for s, t in zip(frame["source"], frame["target"], strict=True)]
    _, reasons = tools.screen(pairs, {})
    kept = [i for i, r in enumerate(reasons) if r is None]
    prepared = tools.fingerprints.prepare([pairs[i] for i in kept])
    n = len(pairs)
    pair_key, target_key = np.zeros(n, dtype=np.uint64), np.zeros(n, dtype=np.uint64)
    pair_key[kept] = [p for p, _ in prepared.keys]
    target_key[kept] = [t for _, t in prepared.keys]
    signature: list[bytes | None] = [None] * n
    bands: list[bytes | None] = [None] * n
    if prepared.signatures is not None:
        for j, i in enumerate(kept):
            signature[i] = prepared.signatures[j].tobytes()
            bands[i] = prepared.bands[j].tobytes()
    out = frame.copy()
    out["source"] = [p.source for p in pairs]
    out["target"] = [p.target for p in pairs]
    out["reason"] = pd.Series(reasons, dtype=object)
    out["toxicity"] = pd.Series([p.measures.get("toxicity") for p in pairs], dtype=object)
    out["pair_key"] = pair_key.view(np.int64)
    out["target_key"] = target_key.view(np.int64)
    out["signature"] = signature
    out["bands"] = bands
    return out


def near_arrays(frame: pd.DataFrame, num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    signatures = np.frombuffer(b"".join(frame["signature"]), dtype=np.uint32).reshape(len(frame), num_perm)
    bands = np.frombuffer(b"".join(frame["bands"]), dtype=np.uint64).reshape(len(frame), -1)
    return signatures, bands


def dedup_in_order(frame: pd.DataFrame, dedup: Deduplicator) -> pd.DataFrame:
    """The local engine's dedup (`Deduplicator.decide` on the rows the filters kept), with the state of all
    earlier batches."""
    reasons = frame["reason"].tolist()
    passed = [i for i, r in enumerate(reasons) if r is None]
    keys = list(
        zip(
            frame["pair_key"].to_numpy()[passed].view(np.uint64).tolist(),
            frame["target_key"].to_numpy()[passed].view(np.uint64).tolist(),
            strict=True,
        )
    )
    signatures = bands = None
    if dedup.near_threshold is not None:
        signatures, bands = near_arrays(frame.iloc[passed], dedup.num_perm)
    for i, verdict in zip(passed, dedup.decide(Prepared(keys, signatures, bands)), strict=True):
        reasons[i] = None if verdict is None else f"dedup: {verdict}"
    frame = frame.copy()
    frame["reason"] = pd.Series(reasons, dtype=object, index=frame.index)
    return frame


class Scorer:
    """The model stage: a trained filter, loaded once (per Ray actor), scoring the rows still kept."""

    def __init__(
        self,
        model: str,
        device: str = "auto",
        batch_size: int | None = None,
        threads: int | None = None,
        trust_pickle: bool = False,
        clusters: str | None = None,
    ):
        if threads:
            import torch

            torch.set_num_threads(threads)
        self.filter = LearnedFilter.load(model, device, batch_size, trust_pickle=trust_pickle)
        self.clusters = Assigner.load(clusters) if clusters else None
        if self.clusters:
            info = self.filter.info
            self.clusters.check(info.base_model, info.depth, info.finetuned)

    def __call__(self, frame: pd.DataFrame) -> pd.DataFrame:
        """One frame, scored in this process (a Ray actor's batch)."""
        pairs = _kept(frame)
        return self._tagged(_with_scores(frame, self.filter.score(pairs) if pairs else np.zeros(0)), pairs)

    def stream(self, frames: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        """Each frame with its `score` column, in order; the next frames' encoder-free features are computed beside
        this one's encoding (`LearnedFilter.score_stream`)."""
        for frame, scores in self.filter.score_stream(frames, _kept):
            yield self._tagged(_with_scores(frame, scores), _kept(frame))

    def _tagged(self, frame: pd.DataFrame, pairs: list[tuple[str, str]]) -> pd.DataFrame:
        """With --clusters: each scored pair's cluster, from the embeddings its scoring computed (no second pass)."""
        if self.clusters is None or not pairs:
            return frame
        labels, titles = self.clusters.tag(self.filter.encoder.embeddings(pairs))
        keep = _keep(frame)
        cluster = pd.array([None] * len(frame), dtype="Int32")
        cluster[keep] = labels
        title = np.full(len(frame), None, dtype=object)
        title[keep] = titles
        frame["cluster"], frame["cluster_title"] = cluster, title
        return frame


def _keep(frame: pd.DataFrame) -> np.ndarray:
    return frame["reason"].isna().to_numpy() if "reason" in frame else np.ones(len(frame), dtype=bool)


def _kept(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """The (source, target) of the rows no filter dropped, the rows a model scores."""
    keep = _keep(frame)
    return list(zip(frame["source"][keep], frame["target"][keep], strict=True))


def _with_scores(frame: pd.DataFrame, scores: np.ndarray) -> pd.DataFrame:
    """The frame with a `score` column: the kept rows' scores, NaN for dropped rows."""
    score = np.full(len(frame), np.nan)
    score[_keep(frame)] = scores
    frame = frame.copy()
    frame["score"] = score
    return frame


def to_output(frame: pd.DataFrame) -> pa.Table:
    """The written table: the output columns only, typed (NaN scores become nulls)."""
    columns = {}
    for name in OUTPUT.names:
        values = frame[name] if name in frame else pd.Series([None] * len(frame), dtype=object)
        columns[name] = pa.array(values, type=OUTPUT.field(name).type, from_pandas=True)
    return pa.table(columns, schema=OUTPUT)


def prepare_output(output: Path, overwrite: bool) -> Path:
    check_output(output, overwrite)
    partial = output.with_name(output.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    return partial


def finish(partial: Path, job: Job, started: float) -> Summary:
    """Rename the finished folder into place and count what it holds."""
    output = job.output
    failed = [json.loads(p.read_text()) for p in sorted((partial / FAILED).glob("*.json"))]
    if failed:
        (partial / "_failed_shards.json").write_text(json.dumps(failed, indent=2, ensure_ascii=False) + "\n")
    malformed = [json.loads(p.read_text()) for p in sorted((partial / MALFORMED).glob("*.json"))]
    if malformed:
        (partial / "_malformed_rows.json").write_text(json.dumps(malformed, indent=2, ensure_ascii=False) + "\n")
    reasons: Counter = Counter()
    rows = 0
    for file in sorted(partial.glob("*.parquet")):
        column = pq.read_table(file, columns=["reason"]).column("reason")
        rows += len(column)
        for item in pc.value_counts(column.drop_null()).to_pylist():
            reason = item["values"]
            reasons[reason if reason.startswith("dedup:") else reason.split(":")[0]] += item["counts"]  # by filter
    if output.exists():
        shutil.rmtree(output)
    partial.rename(output)
    kept = rows - sum(reasons.values())
    seconds = time.perf_counter() - started
    return Summary(rows, kept, dict(reasons.most_common()), failed, seconds, output, malformed, len(job.shards))

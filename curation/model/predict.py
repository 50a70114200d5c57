"""Use a trained filter: load a model folder, score pairs, score a file of any size (streamed, in input order)."""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from curation.clean.readers import InputSpec, LoadStats, load
from curation.errors import OutputError
from curation.files import jsonl_line, staged_file, tsv_field
from curation.model import store, train
from curation.model.encoder import ModelError, PairEncoder, default_batch_size, device, load_body
from curation.model.error_types import ErrorTypes
from curation.pair import batched

ERROR_TYPES_FILE = "error_types.joblib"


@dataclass
class Filter:
    encoder: PairEncoder
    head: object
    metadata: dict
    path: Path
    error_types: ErrorTypes = field(default_factory=ErrorTypes)

    @property
    def version(self) -> str:
        return self.metadata["version"]

    @property
    def threshold(self) -> float:
        return float(self.metadata["threshold"])

    def score(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        """Probability that each (source, target) is good."""
        return train.score(self.head, self.encoder, pairs)

    def predict(self, pairs: list[tuple[str, str]]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """P(good) of each pair, and P(type | bad) for each error type the model learnt (one features pass)."""
        if not pairs:
            return np.zeros(0), {name: np.zeros(0) for name in self.error_types.heads}
        x = self.encoder.features(pairs)
        return self.head.predict_proba(x)[:, 1], self.error_types.predict(x)


def load_filter(path: str | Path, device_preference: str = "auto", batch_size: int | None = None) -> Filter:
    """A trained filter from its folder (or a models folder's `latest`); clear errors when incomplete."""

    path = store.resolve(path)
    meta = store.read_metadata(path)
    if meta.get("features") != list(train.FEATURES):
        raise ModelError(
            f"model {path.name} reads {len(meta.get('features') or [])} features, this version of curation computes "
            f"{len(train.FEATURES)}: train it again with train_filter.py"
        )
    dev = device(device_preference)
    body_ref = str(path / "body") if meta.get("finetuned") else meta["base_model"]
    if meta.get("finetuned") and not (path / "body" / "modules.json").exists():
        raise ModelError(f"model directory {path} is incomplete (missing body/): train again")
    body = load_body(body_ref, dev)
    head = _read(path / "head.joblib")
    types = _read(path / ERROR_TYPES_FILE) if (path / ERROR_TYPES_FILE).exists() else ErrorTypes()
    encoder = PairEncoder(
        body,
        layer=meta["layer"],
        batch_size=batch_size or default_batch_size(dev),
        max_length=meta.get("max_length", 128),
    )
    return Filter(encoder, head, meta, path, types)


def _read(file: Path):
    import joblib

    try:
        return joblib.load(file)
    except Exception as e:  # a truncated or foreign file
        raise ModelError(f"{file} cannot be read ({e.__class__.__name__}): train again") from None


def output_format(path: str | Path) -> str:
    suffix = "".join(Path(path).suffixes).lower()
    for ending, fmt in ((".tsv", "tsv"), (".csv", "csv"), (".jsonl", "jsonl"), (".json", "jsonl")):
        if suffix.endswith(ending):
            return fmt
    raise OutputError(f"output {path}: name it .jsonl, .csv or .tsv so the format is clear")


def score_file(
    flt: Filter,
    spec: InputSpec,
    output: str | Path,
    chunk_size: int = 2048,
    progress: Callable[[int], None] | None = None,
) -> tuple[int, LoadStats]:
    """Score every pair of `spec` into `output` (source, target, score), one row per pair, in input order.

    Written to `output.partial` and renamed at the end, so a crash never leaves a file that looks complete.
    """
    fmt = output_format(output)
    output = Path(output)
    stats = LoadStats()
    with staged_file(output) as partial:  # an unreadable input or an interrupt: no half-written file is left behind
        written = _write_scores(flt, spec, partial, fmt, chunk_size, stats, progress)
    return written, stats


def _write_scores(flt, spec, partial: Path, fmt: str, chunk_size: int, stats: LoadStats, progress) -> int:
    written = 0
    with partial.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n") if fmt == "csv" else None
        if fmt == "tsv":
            f.write("source\ttarget\tscore\n")
        elif fmt == "csv":
            writer.writerow(["source", "target", "score"])
        for chunk in batched(load(spec, stats), chunk_size):
            scores = flt.score([(p.source, p.target) for p in chunk])
            for pair, value in zip(chunk, scores, strict=True):
                if fmt == "jsonl":
                    row = {"source": pair.source, "target": pair.target, "score": round(float(value), 6)}
                    f.write(jsonl_line(row))
                elif fmt == "tsv":  # no quoting, as the inputs in ../shared/data
                    f.write(f"{tsv_field(pair.source)}\t{tsv_field(pair.target)}\t{value:.6f}\n")
                else:
                    writer.writerow([pair.source, pair.target, f"{value:.6f}"])
            written += len(chunk)
            if progress:
                progress(len(chunk))
    return written

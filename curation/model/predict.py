"""`curation score`: a trained filter's P(good) for every pair of a file of any size (streamed, in input order)."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from curation.clean.readers import InputSpec, LoadStats, load
from curation.errors import OutputError
from curation.files import jsonl_line, staged_file, tsv_field
from curation.pair import batched

if TYPE_CHECKING:
    from curation.model.learned import LearnedFilter


def output_format(path: str | Path) -> str:
    suffix = "".join(Path(path).suffixes).lower()
    for ending, fmt in ((".tsv", "tsv"), (".csv", "csv"), (".jsonl", "jsonl"), (".json", "jsonl")):
        if suffix.endswith(ending):
            return fmt
    raise OutputError(f"output {path}: name it .jsonl, .csv or .tsv so the format is clear")


def score_file(
    flt: LearnedFilter,
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
        chunks = batched(load(spec, stats), chunk_size)
        for chunk, scores in flt.score_stream(chunks, _texts):  # the next chunks' Apertium work beside the encoder
            for pair, value in zip(chunk, scores, strict=True):
                if fmt == "jsonl":
                    row = {"source": pair.source, "target": pair.target, "score": round(float(value), 6)}
                    f.write(jsonl_line(row))
                elif fmt == "tsv":  # no quoting, as TSV input is read (tabs and newlines escaped)
                    f.write(f"{tsv_field(pair.source)}\t{tsv_field(pair.target)}\t{value:.6f}\n")
                else:
                    writer.writerow([pair.source, pair.target, f"{value:.6f}"])
            written += len(chunk)
            if progress:
                progress(len(chunk))
    return written


def _texts(chunk: list) -> list[tuple[str, str]]:
    return [(p.source, p.target) for p in chunk]

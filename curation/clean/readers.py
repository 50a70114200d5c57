"""Read candidate pairs from files or the Hub, one `Pair` at a time (a 10-million-row input never sits in memory).

Formats: CSV/TSV (quoting configurable), JSONL, Parquet, Moses-style parallel text (`corpus.en` + `corpus.es`,
given as `corpus.en,corpus.es`) and Hugging Face Hub datasets. Malformed rows are skipped and counted.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path

from curation.errors import InputError
from curation.pair import Pair

MAX_FIELD = 1_000_000  # characters; larger fields are still read, then dropped by the length filter


@dataclass
class LoadStats:
    read: int = 0
    malformed: int = 0
    examples: list[str] = field(default_factory=list)  # the first few malformed rows, for the report
    control_stripped: int = 0  # pairs whose text held control characters (NUL and the like), removed on reading
    quoted_looking: int = 0  # fields read with no quoting that start and end with '"' (a quoted file read wrong?)

    def warnings(self) -> list[str]:
        """What a curator should check about the input, one line each."""
        if not self.quoted_looking:
            return []
        return [
            f'warning: {self.quoted_looking:,} fields start and end with " but were read with no quoting: if the '
            "file uses CSV quoting, set input.quoting: minimal in the config (curation score: --quoting minimal)"
        ]

    def bad(self, where: str) -> None:
        self.malformed += 1
        if len(self.examples) < 5:
            self.examples.append(where)


@dataclass
class InputSpec:
    """What to read and how: `path` is a file, `a.en,b.es` for parallel text, or a Hub dataset id."""

    path: str
    format: str | None = None  # tsv, csv, jsonl, parquet, moses, hub; guessed from the path when None
    source_column: str = "source"
    target_column: str = "target"
    quoting: str | None = None  # csv/tsv: none (as in ../shared/data) or minimal (standard "quoted" fields);
    # None: minimal for .csv, none for .tsv
    split: str = "train"  # hub
    config_name: str | None = None  # hub


def guess_format(path: str) -> str:
    if "," in path and all(Path(p).suffix for p in path.split(",")):
        return "moses"
    suffixes = "".join(Path(path).suffixes).lower()
    for ending, name in (
        (".tsv", "tsv"),
        (".csv", "csv"),
        (".jsonl", "jsonl"),
        (".json", "jsonl"),
        (".parquet", "parquet"),
    ):
        if suffixes.endswith(ending) or suffixes.endswith(ending + ".gz"):
            return name
    if not Path(path).exists() and "/" in path and not path.startswith((".", "/")):
        return "hub"
    raise InputError(
        f"cannot tell the format of {path!r}: name a .tsv/.csv/.jsonl/.parquet file, a.en,a.es, or set input.format"
    )


CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # control characters, tab and newlines aside


def load(spec: InputSpec, stats: LoadStats | None = None, allow_empty: bool = False) -> Iterator[Pair]:
    """Stream the pairs of an input (an input with no pairs is an error unless `allow_empty`, as for a shard)."""
    stats = stats if stats is not None else LoadStats()
    fmt = spec.format or guess_format(spec.path)
    readers = {"tsv": _delimited, "csv": _delimited, "jsonl": _jsonl, "parquet": _parquet, "moses": _moses, "hub": _hub}
    if fmt not in readers:
        raise InputError(f"unknown input format {fmt!r}: use one of {', '.join(sorted(readers))}")
    if fmt != "hub":
        for part in spec.path.split(",") if fmt == "moses" else [spec.path]:
            if not Path(part).exists():
                raise InputError(f"input file {part} does not exist")
    empty = True
    for pair in readers[fmt](spec, fmt, stats):
        empty = False
        source, target = CONTROL.sub("", pair.source), CONTROL.sub("", pair.target)
        if (source, target) != (pair.source, pair.target):
            pair.source, pair.target = source, target
            stats.control_stripped += 1
        yield pair
    if empty and stats.malformed == 0 and not allow_empty:
        raise InputError(f"the input {spec.path} holds no pairs")


def _check_columns(spec: InputSpec, found: list[str], where: str) -> None:
    missing = [c for c in (spec.source_column, spec.target_column) if c not in found]
    if missing:
        raise InputError(
            f"{where} has no column {', '.join(map(repr, missing))} (found: {', '.join(map(repr, found))}): "
            "set input.source_column / input.target_column in the config"
        )


def _texts(row: tuple, where: str, stats: LoadStats) -> tuple[str, str] | None:
    """(source, target) of a row whose values are text (a missing one is empty text, dropped later by the empty
    filter); a list, object or number is a malformed row, counted, never turned into text."""
    kinds = [v for v in row if v is not None and not isinstance(v, str)]
    if kinds:
        kind = {bool: "true/false", list: "a list", dict: "an object"}.get(type(kinds[0]), "a number")
        stats.bad(f"{where}: {kind} where text was expected")
        return None
    return tuple("" if v is None else v for v in row)


def _open_text(path: str):
    """A text file as UTF-8, a byte order mark at its start dropped (what spreadsheet programs write)."""
    if path.endswith(".gz"):
        import gzip

        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def _decode_guard(path: str, reader):
    try:
        yield from reader
    except UnicodeDecodeError as e:
        raise InputError(
            f"{path} is not UTF-8 (byte {e.object[e.start : e.start + 1]!r} at offset {e.start} of a block): "
            "convert it with `iconv -f LATIN1 -t UTF-8` or similar"
        ) from None


def _delimited(spec: InputSpec, fmt: str, stats: LoadStats) -> Iterator[Pair]:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    chosen = spec.quoting or ("minimal" if fmt == "csv" else "none")  # standard CSV is quoted; our TSVs are not
    quoting = {"none": csv.QUOTE_NONE, "minimal": csv.QUOTE_MINIMAL}.get(chosen)
    if quoting is None:
        raise InputError(f"input.quoting must be 'none' or 'minimal', not {spec.quoting!r}")
    with _open_text(spec.path) as f:
        reader = csv.reader(f, delimiter="\t" if fmt == "tsv" else ",", quoting=quoting)
        rows = _decode_guard(spec.path, reader)
        header = next(rows, None)
        if header is None:
            raise InputError(f"the input {spec.path} is empty")
        _check_columns(spec, header, spec.path)
        s, t = header.index(spec.source_column), header.index(spec.target_column)
        name, width = Path(spec.path).name, len(header)
        for line, row in enumerate(rows, start=2):
            if len(row) != width:
                stats.bad(f"{spec.path}:{line}: {len(row)} fields, expected {width}")
                continue
            stats.read += 1
            if quoting == csv.QUOTE_NONE:
                stats.quoted_looking += sum(len(v) > 1 and v[0] == v[-1] == '"' for v in (row[s], row[t]))
            yield Pair(row[s], row[t], origin=f"{name}:{line}")


def _jsonl(spec: InputSpec, fmt: str, stats: LoadStats) -> Iterator[Pair]:
    with _open_text(spec.path) as f:
        for line, text in enumerate(_decode_guard(spec.path, f), start=1):
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except json.JSONDecodeError:
                stats.bad(f"{spec.path}:{line}: not JSON")
                continue
            if not isinstance(row, dict):
                stats.bad(f"{spec.path}:{line}: not an object")
                continue
            if stats.read == 0 and stats.malformed == 0:
                _check_columns(spec, list(row), f"{spec.path} (first row)")
            if spec.source_column not in row or spec.target_column not in row:
                stats.bad(f"{spec.path}:{line}: missing {spec.source_column!r} or {spec.target_column!r}")
                continue
            where = f"{Path(spec.path).name}:{line}"
            texts = _texts((row[spec.source_column], row[spec.target_column]), where, stats)
            if texts is not None:
                stats.read += 1
                yield Pair(*texts, origin=where)


def _parquet(spec: InputSpec, fmt: str, stats: LoadStats) -> Iterator[Pair]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(spec.path)
    except Exception as e:  # pyarrow raises several types for a file that is not Parquet
        raise InputError(f"{spec.path} is not a readable Parquet file ({e})") from None
    _check_columns(spec, parquet.schema_arrow.names, spec.path)
    import pyarrow as pa

    for column in (spec.source_column, spec.target_column):
        kind = parquet.schema_arrow.field(column).type
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind)):
            raise InputError(
                f"column {column!r} of {spec.path} holds {kind}, not text: point input.source_column / "
                "input.target_column at the text columns"
            )
    row = 0
    for batch in parquet.iter_batches(batch_size=10_000, columns=[spec.source_column, spec.target_column]):
        sources, targets = batch.column(0).to_pylist(), batch.column(1).to_pylist()
        for source, target in zip(sources, targets, strict=True):
            row += 1
            stats.read += 1
            where = f"{Path(spec.path).name}:{row}"
            yield Pair(source or "", target or "", origin=where)


def _moses(spec: InputSpec, fmt: str, stats: LoadStats) -> Iterator[Pair]:
    parts = spec.path.split(",")
    if len(parts) != 2:
        raise InputError(f"parallel text takes two files, source first: corpus.en,corpus.es (got {spec.path!r})")
    with _open_text(parts[0]) as src, _open_text(parts[1]) as tgt:
        sources, targets = _decode_guard(parts[0], src), _decode_guard(parts[1], tgt)
        for line, (source, target) in enumerate(zip_longest(sources, targets), start=1):
            if source is None or target is None:
                raise InputError(
                    f"{parts[0]} and {parts[1]} have different numbers of lines (one ends at line {line - 1})"
                )
            stats.read += 1
            yield Pair(source.rstrip("\r\n"), target.rstrip("\r\n"), origin=f"{Path(parts[0]).stem}:{line}")


def _field(row: dict, column: str):
    """`row[column]`, where `translation.en` reaches into nested records (the Hub's translation datasets)."""
    value = row
    for part in column.split("."):
        value = value[part]
    return value


def _has(row: dict, column: str) -> bool:
    try:
        _field(row, column)
    except (KeyError, TypeError):
        return False
    return True


def _hub(spec: InputSpec, fmt: str, stats: LoadStats) -> Iterator[Pair]:
    import datasets

    try:
        data = datasets.load_dataset(spec.path, spec.config_name, split=spec.split, streaming=True)
    except Exception as e:  # network, missing dataset, missing split: all surface as different types
        raise InputError(f"cannot load the Hub dataset {spec.path!r} (split {spec.split!r}): {e}") from None
    for row, example in enumerate(data, start=1):
        if row == 1 and not (_has(example, spec.source_column) and _has(example, spec.target_column)):
            _check_columns(spec, list(example), f"the Hub dataset {spec.path}")
        where = f"{spec.path}:{row}"
        texts = _texts((_field(example, spec.source_column), _field(example, spec.target_column)), where, stats)
        if texts is not None:
            stats.read += 1
            yield Pair(*texts, origin=where)

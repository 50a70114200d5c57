"""Judged files: pairs with good/bad labels (and error types, and who judged them) a curator brings from elsewhere."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from curation.annotation import schema
from curation.errors import InputError, SetupError
from curation.pair import Pair


def _json_rows(path: Path, text: str) -> Iterator[tuple[int, dict]]:
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as e:
            raise InputError(f"labels file {path}, line {line} is not valid JSON ({e.msg}): fix or remove it") from None
        if not isinstance(row, dict):
            raise InputError(
                f"labels file {path}, line {line}: expected a JSON object with source, target and label, found "
                f"a {type(row).__name__}"
            )
        yield line, row


class LabelRow(NamedTuple):
    """One row of a judged file."""

    pair: Pair
    label: str  # good | bad
    errors: frozenset[str]  # types of the `errors` question
    annotator: str | None  # who judged it (a roster username); None: the curator


def read_labels(path: str | Path) -> Iterator[LabelRow]:
    """Judged pairs (source, target, label: good/bad or 1/0) from TSV, CSV or JSONL, with the error types of an
    optional `errors` column (names of the `errors` question, comma-separated) and who judged each row in an
    optional `annotator` column (a pair may appear once per annotator)."""
    path = Path(path)
    if not path.exists():
        raise SetupError(f"labels file {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte order mark (spreadsheets write one) is dropped
    except UnicodeDecodeError as e:
        raise InputError(
            f"labels file {path} is not UTF-8 (byte {e.object[e.start : e.start + 1]!r} at offset {e.start}): save "
            "it as UTF-8, e.g. `iconv -f LATIN1 -t UTF-8`"
        ) from None
    if path.suffix.lower() in (".jsonl", ".json"):
        numbered = _json_rows(path, text)
    else:
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
        quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
        numbered = enumerate(csv.DictReader(text.splitlines(), delimiter=delimiter, quoting=quoting), start=2)
    for line, row in numbered:
        missing = [c for c in ("source", "target", "label") if c not in row]
        if missing:
            raise SetupError(f"labels file {path} has no column {', '.join(missing)} (found: {', '.join(row)})")
        label = {"1": "good", "0": "bad", "good": "good", "bad": "bad"}.get(str(row["label"]).strip().lower())
        if label is None:
            raise SetupError(f"labels file {path}, row {line}: label must be good/bad or 1/0, not {row['label']!r}")
        errors = frozenset(e.strip() for e in str(row.get("errors") or "").split(",") if e.strip())
        unknown = sorted(errors - set(schema.ERROR_LABELS))
        if unknown:
            raise SetupError(
                f"labels file {path}, row {line}: unknown error type {', '.join(unknown)}"
                f" (use {', '.join(schema.ERROR_LABELS)})"
            )
        annotator = str(row.get("annotator") or "").strip() or None
        if not isinstance(row["source"], str) or not isinstance(row["target"], str):
            raise InputError(f"labels file {path}, row {line}: source and target must be text")
        yield LabelRow(Pair(row["source"], row["target"], origin=f"{path.name}:{line}"), label, errors, annotator)


def one_per_annotator(rows: list[LabelRow]) -> tuple[list[LabelRow], list[list[LabelRow]]]:
    """One judgment per named annotator and pair: repeated rows with the same label count once (the last); an
    annotator who judged the same pair good on one row and bad on another said nothing clear, so those rows are
    set aside and returned (grouped) to be reported. Rows naming no annotator are each a vote of their own."""
    groups: dict[tuple[str, str], list[LabelRow]] = {}
    out: list[LabelRow | None] = []
    slot: dict[tuple[str, str], int] = {}
    for row in rows:
        if row.annotator is None:
            out.append(row)
            continue
        key = (row.annotator, row.pair.id)
        groups.setdefault(key, []).append(row)
        if key in slot:
            out[slot[key]] = row
        else:
            slot[key] = len(out)
            out.append(row)
    torn = [g for g in groups.values() if len({r.label for r in g}) > 1]
    for g in torn:
        out[slot[(g[0].annotator, g[0].pair.id)]] = None
    return [r for r in out if r is not None], torn


def describe_torn(torn: list[list[LabelRow]]) -> str:
    """The one line that reports an annotator's contradicting rows."""
    rows = ", ".join(r.pair.origin for g in torn[:3] for r in g)
    who = ", ".join(sorted({g[0].annotator for g in torn}))
    n = len(torn)
    return (
        f"{n} pair{'s' if n > 1 else ''} judged both good and bad by the same annotator ({who}) left out of that "
        f"annotator's votes (rows {rows}{', ...' if n > 3 else ''}): keep one row per annotator and pair"
    )

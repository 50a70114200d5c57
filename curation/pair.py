"""The one record type every stage passes along."""

from __future__ import annotations

import hashlib
import itertools
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


def normalise(text: str) -> str:
    """NFKC, case-folded, whitespace collapsed: the form used for record ids."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


_SPACE_BEFORE = re.compile(r"\s+([?!.,;:)\]»%])")
_SPACE_AFTER = re.compile(r"([¿¡(\[«])\s+")


def dedup_form(text: str) -> str:
    """`normalise`, with the spacing around punctuation folded ("station ?" is "station?", "¿ Dónde" is
    "¿Dónde"): the form dedup compares (record ids keep `normalise`, so existing records keep their ids)."""
    return _SPACE_AFTER.sub(r"\1", _SPACE_BEFORE.sub(r"\1", normalise(text)))


def digest(pairs: Iterable[tuple[str, str]]) -> str:
    """A fingerprint of a set of pairs (order ignored): what `curation compare` trained on, so that `curation export`
    adds a comparison to its card only while the export still holds the same pairs."""
    lines = sorted(f"{source}\t{target}" for source, target in pairs)
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


@dataclass
class Pair:
    """A candidate translation: an English source and a Spanish target, with what the pipeline learns of it."""

    source: str
    target: str
    origin: str = ""  # where it came from: file or Hub id, and row
    measures: dict[str, float | str] = field(default_factory=dict)  # heuristic filters' measurements (Argilla metadata)
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. a judged label

    @property
    def id(self) -> str:
        """Deterministic record id from the normalised pair: logging the same pair twice updates one record."""
        key = f"{normalise(self.source)}\t{normalise(self.target)}"
        return "pair-" + hashlib.sha1(key.encode()).hexdigest()[:20]


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of `size` items (the last one shorter), read lazily: what every stage streams in."""
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def split_of(record_id: str, validation: float) -> str:
    """Deterministic split: the record id's hash, so a pair keeps its split across exports."""
    bucket = int(hashlib.sha256(record_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "validation" if bucket < validation else "train"

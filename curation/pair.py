"""The one record type every stage passes along."""

from __future__ import annotations

import hashlib
import itertools
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


def normalise(text: str) -> str:
    """NFKC, case-folded, whitespace collapsed: the form used for record ids and exact dedup."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


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

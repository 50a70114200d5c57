"""What the embedded search index holds, as plain data: a record (`IndexDoc`) with its responses and suggestions, a
search hit, and how values become the index's terms, numbers, random keys and full-text queries."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

# the index file: a row of `docs` per record, narrow child tables for its metadata, suggestions, responses and
# vectors (indexed for the filters and sorts the Argilla UI sends), and a change log that snapshots are patched from
SCHEMA = """
CREATE TABLE IF NOT EXISTS indices (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, fields TEXT NOT NULL, vectors_gen INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS docs (
    id INTEGER PRIMARY KEY, ix INTEGER NOT NULL, rid TEXT NOT NULL, external_id TEXT, status TEXT,
    inserted_at TEXT, updated_at TEXT, rkey INTEGER NOT NULL, UNIQUE (ix, rid)
);
CREATE INDEX IF NOT EXISTS docs_status ON docs (ix, status);
CREATE INDEX IF NOT EXISTS docs_inserted ON docs (ix, inserted_at);
CREATE INDEX IF NOT EXISTS docs_updated ON docs (ix, updated_at);
CREATE TABLE IF NOT EXISTS meta (doc INTEGER NOT NULL, ix INTEGER NOT NULL, name TEXT NOT NULL, term TEXT, num REAL);
CREATE INDEX IF NOT EXISTS meta_doc ON meta (doc);
CREATE INDEX IF NOT EXISTS meta_key ON meta (ix, name, term, doc, num);
CREATE TABLE IF NOT EXISTS sugg (
    doc INTEGER NOT NULL, ix INTEGER NOT NULL, question TEXT NOT NULL, prop TEXT NOT NULL, term TEXT, num REAL
);
CREATE INDEX IF NOT EXISTS sugg_doc ON sugg (doc, question);
CREATE INDEX IF NOT EXISTS sugg_key ON sugg (ix, question, prop, term, doc, num);
CREATE TABLE IF NOT EXISTS resp (
    id TEXT PRIMARY KEY, doc INTEGER NOT NULL, ix INTEGER NOT NULL, user_id TEXT NOT NULL, status TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS resp_doc ON resp (doc, user_id);
CREATE INDEX IF NOT EXISTS resp_user ON resp (ix, user_id, status, doc);
CREATE TABLE IF NOT EXISTS resp_vals (
    resp TEXT NOT NULL, doc INTEGER NOT NULL, ix INTEGER NOT NULL, user_id TEXT NOT NULL, question TEXT NOT NULL,
    term TEXT, num REAL
);
CREATE INDEX IF NOT EXISTS resp_vals_resp ON resp_vals (resp);
CREATE INDEX IF NOT EXISTS resp_vals_doc ON resp_vals (doc);
CREATE INDEX IF NOT EXISTS resp_vals_key ON resp_vals (ix, question, term, user_id, doc, num);
CREATE TABLE IF NOT EXISTS vec (doc INTEGER NOT NULL, ix INTEGER NOT NULL, vs TEXT NOT NULL, v BLOB NOT NULL,
    PRIMARY KEY (doc, vs));
CREATE INDEX IF NOT EXISTS vec_ix ON vec (ix, vs);
CREATE TABLE IF NOT EXISTS changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, ix INTEGER NOT NULL, doc INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS changes_ix ON changes (ix, seq);
"""


@dataclass
class Response:
    id: str
    user_id: str
    status: str
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class Suggestion:
    question: str
    value: Any
    score: float | list[float] | None = None
    agent: str | None = None
    type: str | None = None


@dataclass
class IndexDoc:
    """One record as the index sees it."""

    rid: str
    status: str
    inserted_at: str
    updated_at: str
    external_id: str | None = None
    texts: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    suggestions: list[Suggestion] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)
    vectors: dict[str, Sequence[float]] = field(default_factory=dict)


@dataclass
class Hit:
    rid: str
    score: float | None


class IndexNotFound(LookupError):
    pass


def values_of(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def term_and_num(value: Any) -> tuple[str | None, float | None]:
    """How one scalar is stored: as a keyword, a number, or both (numbers keep their text for terms filters)."""
    if isinstance(value, bool):
        return str(value).lower(), float(value)
    if isinstance(value, int | float):
        text = str(int(value)) if float(value).is_integer() else str(value)
        return text, float(value)
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False), None
    return str(value), None


def random_key(rid: str) -> int:
    """A stable pseudo-random 31-bit key per record, mixed with a user seed for per-user shuffled queues."""
    return int.from_bytes(hashlib.blake2b(rid.encode(), digest_size=4).digest(), "big") & 0x7FFFFFFF


def fts_query(text: str, column: str | None = None) -> str | None:
    """Translate a simple_query_string-like query (words, "phrases", -not, prefix*, a | b) into FTS5.

    Terms are ANDed, as Argilla asks Elasticsearch to do. Returns None when the query has no positive term.
    """
    groups: list[list[str]] = []  # ANDed groups of ORed phrases
    negatives: list[str] = []
    pending_or = False
    for match in re.finditer(r'(-?)"([^"]*)"?|(-?)([^\s"]+)', text):
        if match.group(4) == "|":
            pending_or = True
            continue
        negated = bool(match.group(1) or match.group(3))
        raw = match.group(2) if match.group(2) is not None else match.group(4)
        prefix = match.group(4) is not None and raw.endswith("*")
        words = _words(raw)
        if not words:
            continue
        phrase = '"' + " ".join(words) + '"' + ("*" if prefix else "")
        if negated:
            negatives.append(phrase)
        elif pending_or and groups:
            groups[-1].append(phrase)
        else:
            groups.append([phrase])
        pending_or = False
    if not groups:
        return None
    query = " AND ".join("(" + " OR ".join(group) + ")" for group in groups)
    query = "(" + query + ")" + "".join(f" NOT {phrase}" for phrase in negatives)
    return f"{{{column}}} : ({query})" if column is not None else query


def _words(raw: str) -> list[str]:
    # unicode61 splits on anything that is not a letter or digit; quoting keeps each piece literal.
    word, words = [], []
    for ch in raw:
        if ch.isalnum():
            word.append(ch)
        elif word:
            words.append("".join(word))
            word = []
    if word:
        words.append("".join(word))
    return words

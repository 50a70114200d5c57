"""Filters and sorts evaluated on an in-memory, columnar copy of one index (numpy), kept fresh from SQLite.

SQLite pays a microsecond or more per row for every correlated lookup, so exact totals over several filters
and a sort over 100,000 records take seconds there; the same work on numpy arrays takes milliseconds.
The copy is reloaded from the index file when it changed in a way that adds or removes records, and patched
in place when only existing records changed (responses, suggestions, status), as while annotators work.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Kind = Literal["record", "meta", "sugg", "resp", "resp_status"]


@dataclass(frozen=True)
class Target:
    """What a filter or sort looks at: a record column, a metadata property, a suggestion property of a question,
    or a question's response values (of one user, when `user` is set)."""

    kind: Kind
    key: str
    prop: str | None = None
    user: str | None = None


@dataclass
class Terms:
    target: Target
    values: list[Any]


@dataclass
class Range:
    target: Target
    ge: Any = None
    le: Any = None


@dataclass
class ResponseStatus:
    """Records with a response (of `user`, when set) in one of `statuses`; `pending` adds those without one."""

    statuses: list[str]
    pending: bool = False
    user: str | None = None


@dataclass
class And:
    parts: list[Filter]


Filter = Terms | Range | ResponseStatus | And


@dataclass
class Sort:
    target: Target
    descending: bool = False


@dataclass
class Rows:
    """Rows of a child table that share a key, as parallel arrays."""

    pos: np.ndarray  # position of the record in the snapshot
    term: np.ndarray  # object array of str | None
    num: np.ndarray  # float64, NaN when not numeric
    user: np.ndarray | None = None  # object array of user ids (responses)
    status: np.ndarray | None = None

    def drop(self, positions: np.ndarray) -> Rows:
        keep = ~np.isin(self.pos, positions)
        arrays = (self.pos, self.term, self.num, self.user, self.status)
        return Rows(*(a[keep] if a is not None else None for a in arrays))

    @staticmethod
    def concat(parts: list[Rows]) -> Rows:
        def cat(name):
            arrays = [getattr(p, name) for p in parts]
            return None if arrays[0] is None else np.concatenate(arrays)

        return Rows(cat("pos"), cat("term"), cat("num"), cat("user"), cat("status"))


RECORD_COLUMNS = ("rid", "external_id", "status", "inserted_at", "updated_at")


@dataclass
class Snapshot:
    """The columnar copy of one index at change-log position `seq`."""

    seq: int
    ids: np.ndarray  # docs.id, ascending
    record: dict[str, np.ndarray]  # rid, external_id, status, inserted_at, updated_at (object arrays)
    rkey: np.ndarray
    meta: dict[str, Rows] = field(default_factory=dict)
    sugg: dict[tuple[str, str], Rows] = field(default_factory=dict)
    resp: Rows | None = None  # one row per response: user, status
    resp_vals: dict[str, Rows] = field(default_factory=dict)  # question -> values, with user
    loader: Callable[[str, Any], Rows] | None = None  # reads one child column on first use

    @property
    def size(self) -> int:
        return len(self.ids)

    def locate(self, doc_ids) -> tuple[np.ndarray, np.ndarray]:
        """Positions of the records among `doc_ids` that the snapshot holds, and which ones those were."""
        doc_ids = np.asarray(doc_ids, dtype=np.int64)
        if not self.size:
            return doc_ids[:0], np.zeros(len(doc_ids), dtype=bool)
        pos = np.minimum(np.searchsorted(self.ids, doc_ids), self.size - 1)
        found = self.ids[pos] == doc_ids
        return pos[found], found

    # -- filters --------------------------------------------------------------------------------------------

    def mask(self, filter: Filter | None) -> np.ndarray:
        if filter is None:
            return np.ones(self.size, dtype=bool)
        if isinstance(filter, And):
            mask = np.ones(self.size, dtype=bool)
            for part in filter.parts:
                mask &= self.mask(part)
            return mask
        if isinstance(filter, ResponseStatus):
            return self._response_status(filter)
        target = filter.target
        if target.kind == "record":
            return self._match(self.record[target.key], None, filter)
        rows = self._rows(target)
        mask = np.zeros(self.size, dtype=bool)
        if rows is None:
            return mask
        hit = self._match(rows.term, rows.num, filter)
        if target.user is not None and rows.user is not None:
            hit &= rows.user == target.user
        mask[rows.pos[hit]] = True
        return mask

    def _rows(self, target: Target) -> Rows | None:
        tables = {"meta": (self.meta, target.key), "sugg": (self.sugg, (target.key, target.prop))}
        tables["resp"] = (self.resp_vals, target.key)
        if target.kind in tables:
            table, key = tables[target.kind]
            if key not in table and self.loader is not None:
                table[key] = self.loader(target.kind, key)
            return table.get(key)
        if target.kind == "resp_status" and self.resp is not None:
            return Rows(self.resp.pos, self.resp.status, self.resp.num, self.resp.user)
        if target.kind == "resp_status":
            return None
        raise ValueError(f"unknown filter target {target}")

    @staticmethod
    def _match(terms: np.ndarray, nums: np.ndarray | None, filter: Terms | Range) -> np.ndarray:
        if isinstance(filter, Terms):
            hit = np.isin(terms, np.array([str(v) for v in filter.values], dtype=object))
            if nums is not None:  # numbers match by value too ("0.5" finds a score of 0.5)
                hit |= np.isin(nums, np.array(_numbers(filter.values), dtype=np.float64))
            return hit
        values = nums if nums is not None else terms
        ok = np.ones(len(values), dtype=bool)
        if nums is not None:
            ok &= ~np.isnan(nums)
        else:
            ok &= values != None  # noqa: E711  (elementwise over an object array)
        with np.errstate(invalid="ignore"):
            if filter.ge is not None:
                ok[ok] &= values[ok] >= filter.ge
            if filter.le is not None:
                ok[ok] &= values[ok] <= filter.le
        return ok

    def _response_status(self, filter: ResponseStatus) -> np.ndarray:
        mask = np.zeros(self.size, dtype=bool)
        resp = self.resp
        if resp is None:
            return ~mask if filter.pending else mask
        mine = np.ones(len(resp.pos), dtype=bool) if filter.user is None else resp.user == filter.user
        if filter.statuses:
            mask[resp.pos[mine & np.isin(resp.status, np.array(filter.statuses, dtype=object))]] = True
        if filter.pending:
            answered = np.zeros(self.size, dtype=bool)
            answered[resp.pos[mine]] = True
            mask |= ~answered
        return mask

    # -- order ----------------------------------------------------------------------------------------------

    def sort_key(self, sort: Sort) -> np.ndarray:
        """One float per record (NaN when it has no value); terms sort by their text order."""
        target = sort.target
        if target.kind == "record":
            values = self.record[target.key]
            present = values != None  # noqa: E711
            key = np.full(self.size, np.nan)
            if present.any():
                _, codes = np.unique(values[present].astype(str), return_inverse=True)
                key[present] = codes
            return key
        rows = self._rows(target)
        key = np.full(self.size, np.nan)
        if rows is None or not len(rows.pos):
            return key
        keep = np.ones(len(rows.pos), dtype=bool)
        if target.user is not None and rows.user is not None:
            keep = rows.user == target.user
        pos, num, term = rows.pos[keep], rows.num[keep], rows.term[keep]
        if target.kind == "resp" and np.isfinite(num).any():  # Elasticsearch's nested sort mode "avg"
            sums, counts = np.zeros(self.size), np.zeros(self.size)
            ok = ~np.isnan(num)
            np.add.at(sums, pos[ok], num[ok])
            np.add.at(counts, pos[ok], 1)
            with np.errstate(invalid="ignore"):
                return np.where(counts > 0, sums / counts, np.nan)
        values = num
        if np.isnan(num).all():  # a text-valued key: sort by text
            present = term != None  # noqa: E711
            values = np.full(len(term), np.nan)
            if present.any():
                _, codes = np.unique(term[present].astype(str), return_inverse=True)
                values[present] = codes
        ok = ~np.isnan(values)
        reduce = np.fmax if sort.descending else np.fmin
        reduce.at(key, pos[ok], values[ok])
        return key

    def order(self, candidates: np.ndarray, sorts: list[Sort]) -> np.ndarray:
        """Candidate positions ordered by the sorts; records without a value come last; ties by insertion."""
        keys: list[np.ndarray] = [self.ids[candidates]]
        for sort in reversed(sorts):
            key = self.sort_key(sort)[candidates]
            missing = np.isnan(key)
            keys.append(np.where(missing, 0.0, -key if sort.descending else key))
            keys.append(missing)
        return candidates[np.lexsort(keys)]


def _numbers(values: list[Any]) -> list[float]:
    numbers = []
    for value in values:
        try:
            numbers.append(float(value))
        except (TypeError, ValueError):
            continue
    return numbers


def shuffle(rkey: np.ndarray, seed: int) -> np.ndarray:
    """A per-user pseudo-random score in (0, 1], stable for a given seed."""
    mixed = (np.bitwise_xor(rkey, seed) * 48271) % 2147483647
    return (mixed + 1) / 2147483647.0


def rows_of(rows: list[tuple], snap: Snapshot, with_user: bool = False) -> Rows:
    """(doc, term, num[, user]) rows as one `Rows`, keeping those of records the snapshot holds."""
    if not rows:
        empty = np.array([], dtype=object)
        return Rows(np.array([], dtype=np.int64), empty, np.array([], dtype=np.float64), empty if with_user else None)
    columns = list(zip(*rows, strict=True))
    pos, found = snap.locate(columns[0])
    return Rows(
        pos=pos,
        term=np.array(columns[1], dtype=object)[found],
        num=np.array(columns[2], dtype=np.float64)[found],  # None becomes NaN
        user=np.array(columns[3], dtype=object)[found] if with_user else None,
    )

"""The embedded search index: one SQLite file (WAL, FTS5) that mirrors what Argilla keeps in Elasticsearch.

Plain data in, plain data out (`documents.py`): the Argilla adapter (`engine.py`) turns server models into
`IndexDoc`s and filters into `Clause`s. Every record becomes a row of `docs`; metadata, suggestions, responses and
vectors live in narrow child tables indexed for the filters and sorts the Argilla UI sends. Searches filter and sort
an in-memory columnar copy of an index (`snapshots.py`).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from curation.server.columns import Filter, Snapshot, Sort, shuffle
from curation.server.documents import (
    SCHEMA,
    Hit,
    IndexDoc,
    IndexNotFound,
    Response,
    Suggestion,
    fts_query,
    random_key,
    term_and_num,
    values_of,
)
from curation.server.snapshots import Snapshots

CHANGES_KEPT = 200_000  # change-log rows kept; a snapshot older than that reloads whole

CHILD_TABLES = ("meta", "sugg", "resp", "resp_vals", "vec")


class IndexStore:
    """A process-wide handle on the index file. Thread-safe; several processes may share the file (WAL)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA temp_store=MEMORY")
        self._conn.execute("PRAGMA cache_size=-65536")
        self._conn.executescript(SCHEMA)
        self._vector_cache: dict[tuple[int, str], tuple[int, np.ndarray, np.ndarray]] = {}
        self._snapshots = Snapshots(self._conn, self._lock)
        self._writes = 0

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- plumbing -------------------------------------------------------------------------------------------

    def _write(self, fn, *args):
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(*args)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            return result

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def index_id(self, name: str) -> int:
        rows = self._query("SELECT id FROM indices WHERE name = ?", (name,))
        if not rows:
            raise IndexNotFound(f"no search index for dataset {name}: run `curation server reindex`")
        return rows[0][0]

    def index_fields(self, ix: int) -> list[str]:
        return json.loads(self._query("SELECT fields FROM indices WHERE id = ?", (ix,))[0][0])

    def has_index(self, name: str) -> bool:
        return bool(self._query("SELECT 1 FROM indices WHERE name = ?", (name,)))

    # -- indices --------------------------------------------------------------------------------------------

    def create_index(self, name: str, text_fields: list[str]) -> None:
        def create():
            if self._conn.execute("SELECT 1 FROM indices WHERE name = ?", (name,)).fetchone():
                return
            cur = self._conn.execute(
                "INSERT INTO indices (name, fields) VALUES (?, ?)", (name, json.dumps(text_fields))
            )
            columns = ", ".join(f"f{i}" for i in range(len(text_fields))) or "f0"
            # remove_diacritics 0: like Elasticsearch's standard analyzer, "camion" does not find "camión".
            tokenizer = "tokenize='unicode61 remove_diacritics 0'"
            self._conn.execute(f"CREATE VIRTUAL TABLE fts_{cur.lastrowid} USING fts5({columns}, {tokenizer})")

        self._write(create)

    def delete_index(self, name: str) -> None:
        def delete():
            row = self._conn.execute("SELECT id FROM indices WHERE name = ?", (name,)).fetchone()
            if row is None:
                return
            ix = row[0]
            for table in (*CHILD_TABLES, "docs", "changes"):
                self._conn.execute(f"DELETE FROM {table} WHERE ix = ?", (ix,))
            self._conn.execute(f"DROP TABLE IF EXISTS fts_{ix}")
            self._conn.execute("DELETE FROM indices WHERE id = ?", (ix,))

        self._write(delete)

    def index_names(self) -> list[str]:
        return [r[0] for r in self._query("SELECT name FROM indices")]

    def record_ids(self, name: str) -> set[str]:
        return {r[0] for r in self._query("SELECT rid FROM docs WHERE ix = ?", (self.index_id(name),))}

    def child_counts(self, name: str) -> tuple[int, int]:
        """(responses, suggestions) held for an index, to compare with the database."""
        ix = self.index_id(name)
        responses = self._query("SELECT count(*) FROM resp WHERE ix = ?", (ix,))[0][0]
        suggestions = self._query("SELECT count(*) FROM (SELECT DISTINCT doc, question FROM sugg WHERE ix = ?)", (ix,))
        return responses, suggestions[0][0]

    # -- documents ------------------------------------------------------------------------------------------

    def upsert(self, name: str, docs: Iterable[IndexDoc]) -> None:
        docs = list(docs)
        if not docs:
            return
        ix = self.index_id(name)
        fields = self.index_fields(ix)
        self._write(self._upsert, ix, fields, docs)

    def _upsert(self, ix: int, fields: list[str], docs: list[IndexDoc]) -> None:
        c = self._conn
        c.executemany(
            "INSERT INTO docs (ix, rid, external_id, status, inserted_at, updated_at, rkey) VALUES (?,?,?,?,?,?,?) "
            "ON CONFLICT (ix, rid) DO UPDATE SET external_id = excluded.external_id, status = excluded.status, "
            "inserted_at = excluded.inserted_at, updated_at = excluded.updated_at",
            [(ix, d.rid, d.external_id, d.status, d.inserted_at, d.updated_at, random_key(d.rid)) for d in docs],
        )
        ids = self._doc_ids(ix, [d.rid for d in docs])
        doc_ids = [(ids[d.rid],) for d in docs]
        for table in CHILD_TABLES:
            c.executemany(f"DELETE FROM {table} WHERE doc = ?", doc_ids)
        c.executemany(f"DELETE FROM fts_{ix} WHERE rowid = ?", doc_ids)
        placeholders = ",".join("?" * (len(fields) or 1))
        c.executemany(
            f"INSERT INTO fts_{ix} (rowid, {', '.join(f'f{i}' for i in range(len(fields))) or 'f0'}) "
            f"VALUES (?, {placeholders})",
            [(ids[d.rid], *([d.texts.get(f) for f in fields] or [None])) for d in docs],
        )
        meta, sugg, resp, resp_vals, vec = [], [], [], [], []
        vectors_changed = False
        for d in docs:
            doc = ids[d.rid]
            for key, value in d.metadata.items():
                for v in values_of(value):
                    meta.append((doc, ix, key, *term_and_num(v)))
            for s in d.suggestions:
                sugg.extend(self._suggestion_rows(doc, ix, s))
            for r in d.responses:
                resp.append((r.id, doc, ix, r.user_id, r.status))
                resp_vals.extend(self._response_value_rows(doc, ix, r))
            for vs, value in d.vectors.items():
                vec.append((doc, ix, vs, np.asarray(value, dtype=np.float32).tobytes()))
                vectors_changed = True
        c.executemany("INSERT INTO meta VALUES (?,?,?,?,?)", meta)
        c.executemany("INSERT INTO sugg VALUES (?,?,?,?,?,?)", sugg)
        c.executemany("INSERT OR REPLACE INTO resp VALUES (?,?,?,?,?)", resp)
        c.executemany("INSERT INTO resp_vals VALUES (?,?,?,?,?,?,?)", resp_vals)
        c.executemany("INSERT OR REPLACE INTO vec VALUES (?,?,?,?)", vec)
        if vectors_changed:
            self._bump_vectors(ix)
        self._changed(ix, ids.values())

    def _doc_ids(self, ix: int, rids: list[str]) -> dict[str, int]:
        ids: dict[str, int] = {}
        for start in range(0, len(rids), 500):
            chunk = rids[start : start + 500]
            rows = self._conn.execute(
                f"SELECT rid, id FROM docs WHERE ix = ? AND rid IN ({','.join('?' * len(chunk))})", (ix, *chunk)
            )
            ids.update(rows.fetchall())
        return ids

    def _bump_vectors(self, ix: int) -> None:
        self._conn.execute("UPDATE indices SET vectors_gen = vectors_gen + 1 WHERE id = ?", (ix,))

    def _changed(self, ix: int, docs: Iterable[int]) -> None:
        """Log the records a write touched, so in-memory snapshots (in any process) can catch up."""
        self._conn.executemany("INSERT INTO changes (ix, doc) VALUES (?, ?)", [(ix, d) for d in docs])
        self._writes += 1
        if self._writes % 500 == 0:
            self._conn.execute("DELETE FROM changes WHERE seq <= (SELECT max(seq) FROM changes) - ?", (CHANGES_KEPT,))

    @staticmethod
    def _suggestion_rows(doc: int, ix: int, s: Suggestion) -> list[tuple]:
        rows = [(doc, ix, s.question, "value", *term_and_num(v)) for v in values_of(s.value)]
        rows += [(doc, ix, s.question, "score", None, float(v)) for v in values_of(s.score)]
        rows += [(doc, ix, s.question, prop, v, None) for prop, v in (("agent", s.agent), ("type", s.type)) if v]
        return rows

    @staticmethod
    def _response_value_rows(doc: int, ix: int, r: Response) -> list[tuple]:
        return [
            (r.id, doc, ix, r.user_id, question, *term_and_num(v))
            for question, value in (r.values or {}).items()
            for v in values_of(value)
        ]

    def _doc_id(self, ix: int, rid: str) -> int | None:
        row = self._conn.execute("SELECT id FROM docs WHERE ix = ? AND rid = ?", (ix, rid)).fetchone()
        return row[0] if row else None

    def update(self, name: str, rid: str, **columns: Any) -> None:
        """Partial update of a record's own columns (status, dates, external id) or its metadata."""
        ix = self.index_id(name)
        metadata = columns.pop("metadata", None)
        unknown = set(columns) - {"status", "inserted_at", "updated_at", "external_id"}
        if unknown:
            raise ValueError(f"cannot partially update {sorted(unknown)} in the embedded index")

        def update():
            doc = self._doc_id(ix, rid)
            if doc is None:
                return
            if columns:
                assignments = ", ".join(f"{key} = ?" for key in columns)
                self._conn.execute(f"UPDATE docs SET {assignments} WHERE id = ?", (*columns.values(), doc))
            self._changed(ix, [doc])
            if metadata is not None:
                self._conn.execute("DELETE FROM meta WHERE doc = ?", (doc,))
                self._conn.executemany(
                    "INSERT INTO meta VALUES (?,?,?,?,?)",
                    [(doc, ix, k, *term_and_num(v)) for k, value in metadata.items() for v in values_of(value)],
                )

        self._write(update)

    def delete(self, name: str, rids: Iterable[str]) -> None:
        ix = self.index_id(name)
        rids = list(rids)

        def delete():
            ids = list(self._doc_ids(ix, rids).values())
            params = [(i,) for i in ids]
            for table in CHILD_TABLES:
                self._conn.executemany(f"DELETE FROM {table} WHERE doc = ?", params)
            self._conn.executemany(f"DELETE FROM fts_{ix} WHERE rowid = ?", params)
            self._conn.executemany("DELETE FROM docs WHERE id = ?", params)
            self._bump_vectors(ix)
            self._changed(ix, ids)

        self._write(delete)

    def put_response(self, name: str, rid: str, response: Response) -> None:
        ix = self.index_id(name)

        def put():
            doc = self._doc_id(ix, rid)
            if doc is None:
                return
            self._conn.execute("DELETE FROM resp_vals WHERE resp = ?", (response.id,))
            self._conn.execute(
                "INSERT OR REPLACE INTO resp VALUES (?,?,?,?,?)",
                (response.id, doc, ix, response.user_id, response.status),
            )
            self._conn.executemany(
                "INSERT INTO resp_vals VALUES (?,?,?,?,?,?,?)", self._response_value_rows(doc, ix, response)
            )
            self._changed(ix, [doc])

        self._write(put)

    def delete_response(self, name: str, response_id: str) -> None:
        def delete():
            row = self._conn.execute("SELECT ix, doc FROM resp WHERE id = ?", (response_id,)).fetchone()
            self._conn.execute("DELETE FROM resp_vals WHERE resp = ?", (response_id,))
            self._conn.execute("DELETE FROM resp WHERE id = ?", (response_id,))
            if row:
                self._changed(row[0], [row[1]])

        self._write(delete)

    def put_suggestion(self, name: str, rid: str, suggestion: Suggestion) -> None:
        ix = self.index_id(name)

        def put():
            doc = self._doc_id(ix, rid)
            if doc is None:
                return
            self._conn.execute("DELETE FROM sugg WHERE doc = ? AND question = ?", (doc, suggestion.question))
            self._conn.executemany("INSERT INTO sugg VALUES (?,?,?,?,?,?)", self._suggestion_rows(doc, ix, suggestion))
            self._changed(ix, [doc])

        self._write(put)

    def delete_suggestion(self, name: str, rid: str, question: str) -> None:
        ix = self.index_id(name)

        def delete():
            doc = self._doc_id(ix, rid)
            if doc is not None:
                self._conn.execute("DELETE FROM sugg WHERE doc = ? AND question = ?", (doc, question))
                self._changed(ix, [doc])

        self._write(delete)

    # -- queries --------------------------------------------------------------------------------------------

    def search(
        self,
        name: str,
        filter: Filter | None = None,
        sorts: list[Sort] | None = None,
        text: tuple[str, str | None] | None = None,
        offset: int = 0,
        limit: int = 100,
        shuffle_seed: int | None = None,
    ) -> tuple[list[Hit], int]:
        """Matching records in order, with the exact total.

        With no sort, text matches come by relevance and a user's queue in a per-user shuffled but stable
        order, as in Argilla's Elasticsearch engine; with sorts, hits carry no score.
        """
        ix = self.index_id(name)
        snap = self.snapshot(ix)
        mask = snap.mask(filter)
        scores = None
        if text is not None:
            text_mask, scores = self._text_scores(ix, snap, *text, relevance=not sorts)
            mask &= text_mask
        candidates = np.flatnonzero(mask)
        total = len(candidates)
        if sorts:
            page = snap.order(candidates, sorts)[offset : offset + limit]
            return [Hit(snap.record["rid"][p], None) for p in page], total
        if shuffle_seed is not None:
            scores = (scores if scores is not None else 1.0) * shuffle(snap.rkey, shuffle_seed)
        if scores is None:
            page = candidates[offset : offset + limit]
            return [Hit(snap.record["rid"][p], 1.0) for p in page], total
        order = candidates[np.lexsort((snap.ids[candidates], -scores[candidates]))][offset : offset + limit]
        return [Hit(snap.record["rid"][p], float(scores[p])) for p in order], total

    def _text_scores(
        self, ix: int, snap: Snapshot, query: str, field_name: str | None, relevance: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Which records match a text query (FTS5), and their relevance (-bm25, or 1 when not asked for)."""
        column = None
        if field_name is not None:
            fields = self.index_fields(ix)
            if field_name not in fields:
                raise ValueError(f"field {field_name!r} is not a text field of this dataset")
            column = f"f{fields.index(field_name)}"
        mask, scores = np.zeros(snap.size, dtype=bool), np.zeros(snap.size)
        match = fts_query(query, column)
        if match is None:
            return mask, scores
        score = f"-bm25(fts_{ix})" if relevance else "1.0"
        rows = self._query(f"SELECT rowid, {score} FROM fts_{ix} WHERE fts_{ix} MATCH ?", (match,))
        if rows:
            pos, found = snap.locate(np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)))
            mask[pos] = True
            scores[pos] = np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows))[found]
        return mask, scores

    def snapshot(self, ix: int) -> Snapshot:
        """The columnar copy of an index, brought up to date with the change log."""
        return self._snapshots.get(ix)

    def count_by_status(self, name: str) -> dict[str, int]:
        """Records per status."""
        rows = self._query("SELECT status, count(*) FROM docs WHERE ix = ? GROUP BY status", (self.index_id(name),))
        return {value: count for value, count in rows if value is not None}

    def user_response_counts(self, name: str, user_id: str) -> dict[str, int]:
        ix = self.index_id(name)
        rows = self._query(
            "SELECT status, count(*) FROM resp WHERE ix = ? AND user_id = ? GROUP BY status", (ix, user_id)
        )
        return dict(rows)

    def term_counts(self, name: str, meta_name: str) -> tuple[int, list[tuple[str, int]]]:
        """(number of values, [(term, records with it)] by count desc then term) for a terms metadata property."""
        ix = self.index_id(name)
        total = self._query("SELECT count(*) FROM meta WHERE ix = ? AND name = ?", (ix, meta_name))[0][0]
        rows = self._query(
            "SELECT term, count(DISTINCT doc) AS n FROM meta WHERE ix = ? AND name = ? AND term IS NOT NULL "
            "GROUP BY term ORDER BY n DESC, term LIMIT 16384",
            (ix, meta_name),
        )
        return total, rows

    def num_range(self, name: str, meta_name: str) -> tuple[float | None, float | None]:
        ix = self.index_id(name)
        row = self._query("SELECT min(num), max(num) FROM meta WHERE ix = ? AND name = ?", (ix, meta_name))[0]
        return row[0], row[1]

    def nearest(
        self,
        name: str,
        vs: str,
        value: Sequence[float],
        k: int,
        filter: Filter | None = None,
        text: tuple[str, str | None] | None = None,
        exclude: str | None = None,
    ) -> list[Hit]:
        """Exact cosine k-NN among the records that pass `filter`; scores as Elasticsearch's: (1 + cos) / 2."""
        ix = self.index_id(name)
        doc_ids, matrix = self._vectors(ix, vs)
        if not len(doc_ids):
            return []
        snap = self.snapshot(ix)
        mask = snap.mask(filter)
        if text is not None:
            mask &= self._text_scores(ix, snap, *text, relevance=False)[0]
        if exclude is not None:
            mask &= snap.record["rid"] != exclude
        positions = np.flatnonzero(np.isin(doc_ids, snap.ids[mask]))
        if not len(positions):
            return []
        query = np.asarray(value, dtype=np.float32)
        query = query / (np.linalg.norm(query) or 1.0)
        scores = (1.0 + matrix[positions] @ query) / 2.0
        top = np.argsort(-scores, kind="stable")[:k]
        pos, _ = snap.locate(doc_ids[positions[top]])  # all found: they passed the snapshot's mask
        return [Hit(snap.record["rid"][p], float(scores[i])) for p, i in zip(pos, top, strict=True)]

    def _vectors(self, ix: int, vs: str) -> tuple[np.ndarray, np.ndarray]:
        gen = self._query("SELECT vectors_gen FROM indices WHERE id = ?", (ix,))[0][0]
        cached = self._vector_cache.get((ix, vs))
        if cached is not None and cached[0] == gen:
            return cached[1], cached[2]
        rows = self._query("SELECT doc, v FROM vec WHERE ix = ? AND vs = ? ORDER BY doc", (ix, vs))
        doc_ids = np.array([r[0] for r in rows], dtype=np.int64)
        if rows:
            matrix = np.vstack([np.frombuffer(r[1], dtype=np.float32) for r in rows])
            norms = np.linalg.norm(matrix, axis=1, keepdims=True)
            matrix = matrix / np.where(norms == 0, 1.0, norms)
        else:
            matrix = np.zeros((0, 0), dtype=np.float32)
        self._vector_cache[(ix, vs)] = (gen, doc_ids, matrix)
        return doc_ids, matrix


_STORES: dict[Path, IndexStore] = {}
_STORES_LOCK = threading.Lock()


def open_store(path: str | Path) -> IndexStore:
    """The shared store for `path` in this process (argilla-server asks for a new engine on every request)."""
    key = Path(path).resolve()
    with _STORES_LOCK:
        if key not in _STORES:
            _STORES[key] = IndexStore(key)
        return _STORES[key]

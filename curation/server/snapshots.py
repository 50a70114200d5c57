"""The columnar, in-memory copy of an index (`columns.Snapshot`) that searches filter and sort: loaded whole once,
then patched in place from the change log while only existing records change; a child column is read on first use."""

from __future__ import annotations

import sqlite3
import threading

import numpy as np

from curation.server.columns import RECORD_COLUMNS, Rows, Snapshot, rows_of

PATCH_LIMIT = 2_000  # more changed records than this since a snapshot: reload it whole


class Snapshots:
    """The snapshots of one index file, by index id; reads go through the store's connection and lock."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.RLock):
        self._conn = conn
        self._lock = lock
        self._held: dict[int, Snapshot] = {}

    def _latest_seq(self, ix: int) -> int:
        return self._conn.execute("SELECT coalesce(max(seq), 0) FROM changes WHERE ix = ?", (ix,)).fetchone()[0]

    def get(self, ix: int) -> Snapshot:
        """The columnar copy of an index, brought up to date with the change log."""
        with self._lock:
            seq = self._latest_seq(ix)
            snap = self._held.get(ix)
            if snap is not None and snap.seq == seq:
                return snap
            if snap is not None and self._patch(ix, snap, seq):
                return snap
            self._held[ix] = snap = self._load(ix)
            return snap

    def _load(self, ix: int) -> Snapshot:
        self._conn.execute("BEGIN")  # one consistent read of the whole index
        try:
            seq = self._latest_seq(ix)
            rows = self._conn.execute(
                f"SELECT id, {', '.join(RECORD_COLUMNS)}, rkey FROM docs WHERE ix = ? ORDER BY id", (ix,)
            ).fetchall()
            snap = Snapshot(
                seq=seq,
                ids=np.array([r[0] for r in rows], dtype=np.int64),
                record={c: np.array([r[i + 1] for r in rows], dtype=object) for i, c in enumerate(RECORD_COLUMNS)},
                rkey=np.array([r[-1] for r in rows], dtype=np.int64),
                loader=lambda kind, key: self._load_key(ix, snap, kind, key),
            )
            self._load_children(ix, snap, None)
        finally:
            self._conn.execute("COMMIT")
        return snap

    def _load_children(self, ix: int, snap: Snapshot, docs: list[int] | None) -> None:
        """(Re)read the responses and every child column already loaded, for all records or only `docs`."""
        where, params = ("ix = ?", [ix]) if docs is None else (f"doc IN ({','.join('?' * len(docs))})", docs)
        for kind, table in (("meta", snap.meta), ("sugg", snap.sugg), ("resp", snap.resp_vals)):
            for key in list(table):
                table[key] = Rows.concat([table[key], self._child_rows(snap, kind, key, where, params)])
        rows = self._conn.execute(f"SELECT doc, user_id, status FROM resp WHERE {where}", params).fetchall()
        pos, found = snap.locate([r[0] for r in rows])
        responses = Rows(
            pos=pos,
            term=np.full(len(pos), None, dtype=object),
            num=np.full(len(pos), np.nan),
            user=np.array([r[1] for r in rows], dtype=object)[found] if rows else np.array([], dtype=object),
            status=np.array([r[2] for r in rows], dtype=object)[found] if rows else np.array([], dtype=object),
        )
        snap.resp = responses if snap.resp is None else Rows.concat([snap.resp, responses])

    _KEYS = {"meta": ("meta", ("name",)), "sugg": ("sugg", ("question", "prop")), "resp": ("resp_vals", ("question",))}

    def _child_rows(self, snap: Snapshot, kind: str, key, where: str, params: list) -> Rows:
        table, key_columns = self._KEYS[kind]
        key = key if isinstance(key, tuple) else (key,)
        user = ", user_id" if table == "resp_vals" else ""
        match = "".join(f" AND {c} = ?" for c in key_columns)
        rows = self._conn.execute(
            f"SELECT doc, term, num{user} FROM {table} WHERE {where}{match}", [*params, *key]
        ).fetchall()
        return rows_of(rows, snap, with_user=bool(user))

    def _load_key(self, ix: int, snap: Snapshot, kind: str, key) -> Rows:
        """A child column read on first use (a query that filters or sorts on it)."""
        with self._lock:
            return self._child_rows(snap, kind, key, "ix = ?", [ix])

    def _patch(self, ix: int, snap: Snapshot, seq: int) -> bool:
        """Bring a snapshot up to date in place when only existing records changed. False: reload it whole."""
        oldest = self._conn.execute("SELECT min(seq) FROM changes WHERE ix = ?", (ix,)).fetchone()[0]
        if oldest is None or oldest > snap.seq + 1:
            return False
        self._conn.execute("BEGIN")
        try:
            seq = self._latest_seq(ix)
            docs = [
                r[0]
                for r in self._conn.execute(
                    "SELECT DISTINCT doc FROM changes WHERE ix = ? AND seq > ? LIMIT ?", (ix, snap.seq, PATCH_LIMIT + 1)
                )
            ]
            if len(docs) > PATCH_LIMIT:
                return False
            rows = self._conn.execute(
                f"SELECT id, {', '.join(RECORD_COLUMNS)}, rkey FROM docs WHERE id IN ({','.join('?' * len(docs))})",
                docs,
            ).fetchall()
            pos, found = snap.locate([r[0] for r in rows])
            if len(rows) != len(docs) or not found.all():
                return False  # records were added or deleted
            for i, column in enumerate(RECORD_COLUMNS):
                snap.record[column][pos] = [r[i + 1] for r in rows]
            for table in (snap.meta, snap.sugg, snap.resp_vals):
                for key in list(table):
                    table[key] = table[key].drop(pos)
            if snap.resp is not None:
                snap.resp = snap.resp.drop(pos)
            self._load_children(ix, snap, docs)
            snap.seq = seq
            return True
        finally:
            self._conn.execute("COMMIT")

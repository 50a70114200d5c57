"""Features of pairs already seen, kept on disk: with a frozen encoder a pair's features never change, so each
retrain cycle only encodes pairs it has not met before and the re-rank is the head alone.

One SQLite file per encoder fingerprint (model, layer, max length, feature names), keyed by the pair's text.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def fingerprint(*parts) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:16]


def pair_key(source: str, target: str) -> str:
    return hashlib.sha1(f"{source}\x1f{target}".encode()).hexdigest()


# the folder under models_dir and the table in each file keep the names they had when features were called
# signals, so that caches written before stay valid
FEATURE_CACHE = "signal-cache"


class FeatureCache:
    def __init__(self, path: str | Path, width: int):
        self.path, self.width = Path(path), width
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS signals (key TEXT PRIMARY KEY, value BLOB NOT NULL)")
        # pair embeddings (float16), written whenever the encoder runs on a pair: what clusters are made of
        self.db.execute("CREATE TABLE IF NOT EXISTS embeddings (key TEXT PRIMARY KEY, value BLOB NOT NULL)")

    def get(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        return self._read("signals", keys, np.float32, self.width)

    def put(self, keys: Sequence[str], values: np.ndarray) -> None:
        self._write("signals", keys, values, np.float32)

    def get_embeddings(self, keys: Sequence[str], width: int) -> dict[str, np.ndarray]:
        """The stored embeddings of `keys` (as float32, `width` wide) that exist."""
        return {k: v.astype(np.float32) for k, v in self._read("embeddings", keys, np.float16, width).items()}

    def put_embeddings(self, keys: Sequence[str], values: np.ndarray) -> None:
        self._write("embeddings", keys, values, np.float16)

    def _read(self, table: str, keys: Sequence[str], dtype, width: int) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), 500):
            chunk = list(keys[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for key, blob in self.db.execute(f"SELECT key, value FROM {table} WHERE key IN ({marks})", chunk):
                value = np.frombuffer(blob, dtype=dtype)
                if value.size == width:
                    found[key] = value
        return found

    def _write(self, table: str, keys: Sequence[str], values: np.ndarray, dtype) -> None:
        rows = [(k, np.asarray(v, dtype=dtype).tobytes()) for k, v in zip(keys, values, strict=True)]
        with self.db:
            self.db.executemany(f"INSERT OR REPLACE INTO {table} (key, value) VALUES (?, ?)", rows)

    def close(self) -> None:
        self.db.close()

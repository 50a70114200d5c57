"""A PostgreSQL cluster of the stack's own, inside its data directory: `curation server start --database postgresql`.

Made once with `initdb` into `postgresql/` (mode 0700, locale C, UTF-8), run by the stack like Redis: no TCP
port (`listen_addresses=''`), one Unix socket inside the cluster's own folder, so only the stack's user (and root)
can connect, which is why local connections need no password. PostgreSQL refuses to run as root: started by
root, the cluster belongs to and runs as Debian's `postgres` user (else `nobody`).

Needs Debian's `postgresql` package (15 or newer) and the `postgresql` extra (asyncpg for argilla-server, psycopg2
for its migrations); a user who never asks for PostgreSQL needs neither.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from curation.errors import StackError, last_line

ROLE = "argilla"
DATABASE = "argilla"
FOLDER = "postgresql"
INSTALL = "bash scripts/install.sh --postgresql (or: apt-get install postgresql; pip install 'curation[postgresql]')"
HBA = "# written by curation: the Unix socket only (its folder is private), no TCP\nlocal all all trust\n"


def require_drivers() -> None:
    """asyncpg (argilla-server's engine) and psycopg2 (its migrations), or one line saying how to install them."""
    missing = []
    for module, package in (("asyncpg", "asyncpg"), ("psycopg2", "psycopg2-binary")):
        try:
            __import__(module)
        except ImportError:
            missing.append(package)
    if missing:
        raise StackError(f"PostgreSQL support needs {' and '.join(missing)}, which are not installed: run {INSTALL}")


def bin_dir() -> Path:
    """Where PostgreSQL's programs are: $CURATION_PG_BIN, Debian's newest /usr/lib/postgresql/N/bin, else PATH."""
    if os.environ.get("CURATION_PG_BIN"):
        chosen = Path(os.environ["CURATION_PG_BIN"])
        if not (chosen / "postgres").exists():
            raise StackError(f"CURATION_PG_BIN={chosen} holds no postgres program: point it at PostgreSQL's bin folder")
        return chosen
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: _version(p.parent.parent.name))
    if versions:
        return versions[-1].parent
    found = shutil.which("postgres")
    if found:
        return Path(found).parent
    raise StackError(f"PostgreSQL is not installed (no initdb or postgres program found): run {INSTALL}")


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def as_user() -> dict:
    """subprocess options that run a PostgreSQL program as `run_as()`'s account (none: as ourselves)."""
    account = run_as()
    return {} if account is None else {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


def run_as() -> pwd.struct_passwd | None:
    """The unprivileged account the cluster runs as when we are root (None: as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in (os.environ.get("CURATION_PG_USER"), "postgres", "nobody"):
        if name:
            with contextlib.suppress(KeyError):
                return pwd.getpwnam(name)
    raise StackError("running as root, PostgreSQL needs an unprivileged account: set CURATION_PG_USER=NAME")


@dataclass
class Cluster:
    root: Path  # the cluster's folder (PGDATA), which also holds its socket

    @property
    def socket(self) -> Path:
        return self.root / ".s.PGSQL.5432"

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://{ROLE}@/{DATABASE}?host={self.root}"

    @property
    def made(self) -> bool:
        return (self.root / "PG_VERSION").exists()

    def command(self) -> list[str]:
        """The postmaster's command line (run by the stack with its output in logs/postgresql.log)."""
        settings = {
            "listen_addresses": "",
            "unix_socket_directories": str(self.root),
            "unix_socket_permissions": "0700",
            "max_connections": "200",  # each API worker pools up to 15 connections
            "logging_collector": "off",
        }
        argv = [str(bin_dir() / "postgres"), "-D", str(self.root)]
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        return argv

    def check(self) -> None:
        """What would stop PostgreSQL from using this folder, said before anything is made."""
        if len(str(self.socket)) > 107:
            raise StackError("the data directory path is too long for PostgreSQL's socket: pass a shorter --data-dir")
        account = run_as()
        if account is None:
            return
        for folder in reversed(self.root.parent.parents):  # the data directory itself is made enterable
            if folder.exists() and not _can_enter(folder, account):
                raise StackError(
                    f"PostgreSQL runs as user {account.pw_name} (it refuses root), who cannot enter {folder}: "
                    f"pass --data-dir DIR in a folder other users can enter (not under {folder}), or run as a "
                    "normal user"
                )

    def make(self, log) -> None:
        """initdb, once: into a staged folder renamed into place only when whole (a cut initdb is made again)."""
        if self.made:
            return
        bin_dir()  # the clear error before anything is written
        staged = self.root.with_name(f".{self.root.name}.partial")
        shutil.rmtree(staged, ignore_errors=True)
        staged.mkdir(mode=0o700)
        account = run_as()
        if account is not None:
            os.chown(staged, account.pw_uid, account.pw_gid)
        log("creating the PostgreSQL cluster (once)")
        argv = [str(bin_dir() / "initdb"), "-D", str(staged), "-U", ROLE, "-A", "trust", "-E", "UTF8"]
        argv += ["--locale=C", "--no-instructions"]
        done = subprocess.run(argv, capture_output=True, text=True, cwd="/", **as_user())
        if done.returncode != 0:
            shutil.rmtree(staged, ignore_errors=True)
            raise StackError(f"initdb failed: {last_line(done.stderr or done.stdout, 'nothing said')}")
        (staged / "pg_hba.conf").write_text(HBA)
        if account is not None:
            os.chown(staged / "pg_hba.conf", account.pw_uid, account.pw_gid)
        os.chmod(staged / "pg_hba.conf", 0o600)
        if self.root.exists():  # an empty or unfinished folder of our own from a cut start
            shutil.rmtree(self.root)
        os.rename(staged, self.root)

    def clear_stale_lock(self) -> None:
        """Remove the lock file a killed postmaster left, when no postgres process has its pid (PostgreSQL would
        refuse a lock whose pid was reused by another program); a live postmaster's lock stays, and PostgreSQL
        refuses to start twice on one folder."""
        lock = self.root / "postmaster.pid"
        try:
            pid = int(lock.read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return
        try:
            alive = b"postgres" in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            alive = False
        if not alive:
            lock.unlink(missing_ok=True)

    def ready(self) -> bool:
        if not self.socket.exists():
            return False
        done = subprocess.run(
            [str(bin_dir() / "pg_isready"), "-q", "-h", str(self.root), "-U", ROLE, "-d", "postgres"],
            capture_output=True,
        )
        return done.returncode == 0

    def ensure_database(self) -> None:
        """The `argilla` database, made the first time the cluster runs."""
        found = self.psql("SELECT 1 FROM pg_database WHERE datname = 'argilla'", database="postgres")
        if found.strip() != "1":
            self.psql(f'CREATE DATABASE "{DATABASE}"', database="postgres")

    def psql(self, sql: str, database: str = DATABASE) -> str:
        argv = [str(bin_dir() / "psql"), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1"]
        argv += ["-h", str(self.root), "-U", ROLE, "-d", database, "-c", sql]
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode != 0:
            said = last_line(done.stderr, "nothing said")
            raise StackError(f"PostgreSQL refused {sql.split()[0]} ({said}): see logs/postgresql.log")
        return done.stdout


def _can_enter(folder: Path, account: pwd.struct_passwd) -> bool:
    try:
        info = folder.stat()
    except OSError:
        return False
    if info.st_uid == account.pw_uid:
        return bool(info.st_mode & stat.S_IXUSR)
    if info.st_gid == account.pw_gid:
        return bool(info.st_mode & stat.S_IXGRP)
    return bool(info.st_mode & stat.S_IXOTH)

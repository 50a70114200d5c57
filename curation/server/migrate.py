"""`curation server migrate --to postgresql`: move an embedded SQLite stack's data into a PostgreSQL cluster of its own.

Every table argilla-server keeps (users, workspaces, datasets, fields, questions, metadata properties, vector
settings, records, responses, suggestions, vectors, webhooks) is copied row by row through argilla-server's own
table definitions, in foreign-key order, in one PostgreSQL transaction: the counts of every table are compared
before it commits, so the new database holds all of it or none of it. `argilla.db` is kept (as it is) until the
user deletes it; the search index is the same records' and is checked at the next start.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from curation.errors import StackError, last_line
from curation.server import postgres
from curation.server.login import Credentials
from curation.server.settings import POSTGRESQL, SQLITE
from curation.server.stack import Stack

CHUNK = 1000


@dataclass(frozen=True)
class Moved:
    table: str
    before: int  # rows in argilla.db
    after: int  # rows in PostgreSQL


def to_postgresql(data_dir: Path, log=print) -> list[Moved]:
    """Copy the stopped SQLite stack in `data_dir` into its own PostgreSQL cluster; the directory then runs on it."""
    import os

    source = Stack(data_dir)
    database = source.data_dir / "argilla.db"
    if source.kind != SQLITE:
        raise StackError(f"the stack in {source.data_dir} already runs on {source.kind}: nothing to migrate")
    if not database.exists() or not source.credentials_path.exists():
        raise StackError(
            f"no SQLite stack in {source.data_dir}: nothing to migrate (start a new one with "
            "`curation server start --database postgresql`)"
        )
    running = [c for c in ("api", "worker") if source.pid(c)]
    if running:
        raise StackError(
            f"the stack in {source.data_dir} is running ({', '.join(running)}): stop it first "
            "(curation server stop), then migrate"
        )
    target = Stack(source.data_dir, database=POSTGRESQL)
    postgres.require_drivers()
    target.cluster.check()
    old = os.umask(0o077)
    try:
        target._check_data_dir()
        target._make_private()
        target.start_postgresql(log)
        log(f"copying {database.name} into PostgreSQL")
        env = target.environment(Credentials.load(source.credentials_path))
        done = subprocess.run(
            [sys.executable, "-m", "curation.server.run", "copy", str(database)],
            env=env,
            capture_output=True,
            text=True,
            cwd=target.data_dir,
        )
        with open(target.log_path("migrate"), "a") as f:
            f.write(done.stdout + done.stderr)
        if done.returncode != 0:
            raise StackError(
                f"the copy failed and PostgreSQL kept nothing of it ({last_line(done.stderr, 'nothing said')}): "
                f"see {target.log_path('migrate')}; the SQLite stack is as it was"
            )
        moved = [Moved(**row) for row in json.loads(done.stdout.strip().splitlines()[-1])]
        target.remember_database()
    finally:
        target.stop()
        os.umask(old)
    return moved


def copy_tables(source: Path) -> list[Moved]:
    """In a process whose ARGILLA_DATABASE_URL is the PostgreSQL one: migrate it to the same schema revision as
    `source`, then copy every table into it in one transaction, counts compared before the commit."""
    import alembic.config
    import argilla_server.models  # noqa: F401  (every table registers on DatabaseModel.metadata)
    from alembic.script import ScriptDirectory
    from argilla_server.database import ALEMBIC_CONFIG_FILE, sync_engine
    from argilla_server.models.base import DatabaseModel
    from sqlalchemy import create_engine, func, select, text

    reader = create_engine(f"sqlite:///file:{source}?mode=ro&uri=true")
    with reader.connect() as src:
        revision = src.execute(text("SELECT version_num FROM alembic_version")).scalar()
    head = ScriptDirectory.from_config(alembic.config.Config(ALEMBIC_CONFIG_FILE)).get_current_head()
    if revision != head:
        raise StackError(
            f"argilla.db's schema is at {revision}, this argilla-server's at {head}: start the SQLite stack once "
            "(it migrates its schema), stop it, then migrate"
        )
    alembic.config.main(argv=["-c", ALEMBIC_CONFIG_FILE, "-x", "quiet", "upgrade", revision])
    tables = DatabaseModel.metadata.sorted_tables  # parents before children
    moved = []
    with reader.connect() as src, sync_engine.begin() as dst:
        there = dst.execute(text("SELECT version_num FROM alembic_version")).scalar()
        if there != revision:
            raise StackError(f"PostgreSQL's schema is at {there}, argilla.db's at {revision}")
        held = {t.name: dst.execute(select(func.count()).select_from(t)).scalar() for t in tables}
        had = {t.name: src.execute(select(func.count()).select_from(t)).scalar() for t in tables}
        if any(held.values()) and held == had:  # copied before, cut before stack.json said so
            return [Moved(name, had[name], held[name]) for name in had]
        if any(held.values()):
            raise StackError(
                f"the PostgreSQL database already holds data ({sum(held.values())} rows): remove "
                f"{postgres.FOLDER}/ from the data directory to migrate again"
            )
        for table in tables:
            rows = src.execute(select(table)).mappings()
            while chunk := rows.fetchmany(CHUNK):
                dst.execute(table.insert(), [dict(row) for row in chunk])
            after = dst.execute(select(func.count()).select_from(table)).scalar()
            moved.append(Moved(table.name, had[table.name], after))
        wrong = [m for m in moved if m.before != m.after]
        if wrong:
            raise StackError(
                "counts differ after the copy: " + ", ".join(f"{m.table} {m.before}->{m.after}" for m in wrong)
            )
    return moved

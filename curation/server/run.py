"""Entry points of the embedded stack's processes: `python -m curation.server.run bootstrap|api|worker|reindex`.

Each runs with the environment `stack.py` prepares (ARGILLA_* settings are read when argilla_server is first
imported), registers the embedded search engine, and tunes SQLite for a single-machine server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

from curation.server.migrate import copy_tables


def _tune_sqlite() -> None:
    """WAL and synchronous=NORMAL on argilla-server's own SQLite connections: durable at commit, far fewer fsyncs."""
    from argilla_server.settings import settings
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    if not settings.database_is_sqlite:
        return

    @event.listens_for(Engine, "connect")
    def _pragmas(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()


_prepared = False


def _prepare() -> None:
    global _prepared
    if _prepared:
        return
    # argilla-server's modules (+3.6 s) load here, in the server's processes only, once the environment is set;
    # the engine registers itself, the patches go over what is loaded
    import curation.server.engine  # noqa: F401  (registers the engine)

    if os.environ.get("ARGILLA_SEARCH_ENGINE") == "null":
        import curation.server.null_engine  # noqa: F401  (the benchmark baseline)

    _tune_sqlite()
    from curation.server import patches

    patches.apply()
    _prepared = True


def bootstrap() -> None:
    """Migrate the database, create or update the owner, and bring the search index in line with the database."""
    _prepare()
    import alembic.config
    from argilla_server.database import ALEMBIC_CONFIG_FILE

    alembic.config.main(argv=["-c", ALEMBIC_CONFIG_FILE, "-x", "quiet", "upgrade", "head"])
    for line in asyncio.run(_owner_and_index()):
        print(line, flush=True)


async def _owner_and_index() -> list[str]:
    """One event loop for both: argilla-server's engine is global, and its pooled connections (asyncpg's on
    PostgreSQL) belong to the loop that opened them."""
    from curation.server.reindex import reconcile  # argilla-server: after _prepare()

    await _ensure_owner()
    return await reconcile()


async def _ensure_owner() -> None:
    from argilla_server.contexts import accounts
    from argilla_server.database import AsyncSessionLocal
    from argilla_server.models import User, UserRole, Workspace

    username = os.environ["CURATION_OWNER_USERNAME"]
    password = os.environ["CURATION_OWNER_PASSWORD"]
    api_key = os.environ["CURATION_OWNER_API_KEY"]
    async with AsyncSessionLocal() as db:
        user = await accounts.get_user_by_username(db, username)
        if user is None:
            workspace = await Workspace.get_by(db, name=username) or await accounts.create_workspace(
                db, {"name": username}
            )
            await User.create(
                db,
                first_name=username,
                username=username,
                role=UserRole.owner,
                api_key=api_key,
                password_hash=accounts.hash_password(password),
                workspaces=[workspace],
            )
        elif user.api_key != api_key:
            user.api_key = api_key
            await db.commit()


def api(host: str, port: int, workers: int) -> None:
    _prepare()
    import uvicorn

    uvicorn.run(
        "curation.server.app:app",
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_level="info",
    )


def worker() -> None:
    _prepare()
    from argilla_server.jobs.queues import DEFAULT_QUEUE, HIGH_QUEUE, REDIS_CONNECTION
    from rq import Worker

    Worker([HIGH_QUEUE, DEFAULT_QUEUE], connection=REDIS_CONNECTION).work(with_scheduler=False)


def reindex() -> None:
    _prepare()
    from curation.server.reindex import reindex_all  # argilla-server: after _prepare()

    print(json.dumps(asyncio.run(reindex_all())), flush=True)


def copy(source: str) -> None:
    """`curation server migrate`: argilla.db's tables into the PostgreSQL database this process is set up for."""
    _prepare()
    from dataclasses import asdict

    print(json.dumps([asdict(moved) for moved in copy_tables(Path(source))]), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m curation.server.run")
    parser.add_argument("process", choices=["bootstrap", "api", "worker", "reindex", "copy"])
    parser.add_argument("source", nargs="?", help="copy: the SQLite database to copy from")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=6900)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    if args.process == "api":
        api(args.host, args.port, args.workers)
    elif args.process == "worker":
        worker()
    elif args.process == "reindex":
        reindex()
    elif args.process == "copy":
        copy(args.source)
    else:
        bootstrap()


if __name__ == "__main__":
    sys.exit(main())

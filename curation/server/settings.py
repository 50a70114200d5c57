"""The embedded stack's settings (the config's `server:` section): which database, how many API workers."""

from __future__ import annotations

from dataclasses import dataclass

from curation.checks import check, whole_between

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
URLS = ("postgresql+asyncpg://", "postgresql://", "postgres://")  # an existing PostgreSQL server
MAX_WORKERS = 4  # what the load benchmark measured on PostgreSQL; more only adds contention on a small machine


def database_kind(value: str) -> str:
    """`sqlite`, `postgresql` (a cluster inside the data directory) or `url` (an existing PostgreSQL server)."""
    if value in (SQLITE, POSTGRESQL):
        return value
    if isinstance(value, str) and value.startswith(URLS):
        return "url"
    raise ValueError(value)


def async_url(value: str) -> str:
    """A PostgreSQL URL in the form argilla-server's async engine takes (postgresql+asyncpg://...)."""
    for prefix in URLS:
        if value.startswith(prefix):
            return "postgresql+asyncpg://" + value[len(prefix) :]
    raise ValueError(value)


def _is_database(value) -> bool:
    if value is None:  # left out: what the data directory was made with
        return True
    try:
        database_kind(value)
    except ValueError:
        return False
    return True


DATABASE = ("sqlite, postgresql or a postgresql://user@host/db URL", _is_database)


@dataclass
class ServerConfig:
    # sqlite | postgresql | postgresql://... (an existing server); None: what the data directory was made with,
    # sqlite for a new one
    database: str | None = None
    workers: int = 1

    def __post_init__(self):
        check("server", self, {"database": DATABASE, "workers": whole_between(1, MAX_WORKERS)})

"""`curation server`: the embedded Argilla stack."""

from __future__ import annotations

from pathlib import Path

import click

from curation.cli.common import config_option, data_dir_option, friendly, load_config, port_option
from curation.server.login import Credentials
from curation.server.migrate import to_postgresql
from curation.server.stack import Stack


@click.group()
def server():
    """The embedded Argilla stack (argilla-server + SQLite + embedded search + Redis), no Docker needed.

    \b
    Example:
        curation server start            # http://127.0.0.1:6900
        curation server status
        curation server stop
    """


@server.command()
@data_dir_option
@port_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind (0.0.0.0 to share).")
@click.option(
    "--database",
    help="sqlite (a new stack's default), postgresql (a cluster of the stack's own, for teams) or a postgresql:// URL "
    "(config: server.database). A data directory keeps the database it was made with.",
)
@click.option("--workers", type=int, help="argilla-server worker processes, 1 to 4 (config: server.workers; 1).")
@config_option("server: database, workers")
@friendly
def start(data_dir: Path, port: int, host: str, database: str | None, workers: int | None, config_path):
    """Start the stack in the background and wait until Argilla answers. Starting twice is a no-op."""
    settings = load_config(config_path, **{"server.database": database, "server.workers": workers}).server
    stack = Stack(data_dir, port=port, host=host, workers=settings.workers, database=settings.database)
    if stack.pid("api") and stack.is_up():
        click.echo(f"Argilla is already running at {stack.url}")
    else:
        stack.start(log=lambda line: click.echo(f"  {line}", err=True))
        click.echo(f"Argilla is running at {stack.url} (database: {stack.kind})")
    click.echo(f"Owner login and API key: {stack.credentials_path}")
    click.echo(f"Logs: {data_dir / 'logs'}")


@server.command()
@data_dir_option
@friendly
def stop(data_dir: Path):
    """Stop the processes `curation server start` started (nothing else)."""
    stopped = Stack(data_dir).stop()
    click.echo(f"stopped {', '.join(stopped)}" if stopped else "nothing was running")


@server.command()
@data_dir_option
@port_option
@friendly
def status(data_dir: Path, port: int):
    """Show which processes run and whether Argilla answers."""
    stack = Stack(data_dir, port=port)
    if stack.credentials_path.exists():
        stack = Stack(data_dir, port=int(Credentials.load(stack.credentials_path).url.rsplit(":", 1)[1]))
    for component, pid in stack.status().items():
        click.echo(f"{component:7} {'running (pid ' + str(pid) + ')' if pid else 'stopped'}")
    up = stack.is_up()
    click.echo(f"api     {stack.url} {'answers' if up else 'does not answer'}")
    if not up:
        raise SystemExit(1)


@server.command()
@data_dir_option
@friendly
def reindex(data_dir: Path):
    """Rebuild the search index from Argilla's database (safe while the server runs)."""
    counts = Stack(data_dir).reindex()
    for name, n in counts.items():
        click.echo(f"{name}: {n} records indexed")
    if not counts:
        click.echo("no published datasets")


@server.command()
@data_dir_option
@click.option("--to", "to", type=click.Choice(["postgresql"]), required=True, help="The database to move to.")
@friendly
def migrate(data_dir: Path, to: str):
    """Move a stopped SQLite stack's data into a PostgreSQL cluster of its own (counts compared table by table).

    argilla.db is kept as it was until you delete it; `curation server start` then runs on PostgreSQL.
    """
    moved = to_postgresql(data_dir, log=lambda line: click.echo(f"  {line}", err=True))
    for row in moved:
        click.echo(f"{row.table:20} {row.before:>9,} rows in argilla.db  {row.after:>9,} in PostgreSQL")
    click.echo(f"{data_dir} now runs on PostgreSQL: start it with `curation server start --data-dir {data_dir}`")
    click.echo(f"argilla.db is kept as it was: delete {Path(data_dir) / 'argilla.db'} once you no longer need it")

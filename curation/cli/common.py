"""What every command shares: one `Error: ...` line for errors the user can act on, the shared options, the config
with the command's flags over it, and the progress bars a library step reports through."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import click

from curation.annotation.connect import transient
from curation.config import Config
from curation.errors import CurationError
from curation.progress import Progress
from curation.server.login import default_data_dir
from curation.server.stack import DEFAULT_PORT


def friendly(fn):
    """A command whose `CurationError`s (and faults of its surroundings: a path the system refuses, Argilla going
    away) print as one `Error: ...` line; anything else is a bug and keeps its traceback. Adds `--debug`, which
    (like CURATION_DEBUG=1) shows the traceback of every error."""

    @functools.wraps(fn)
    def wrapper(*args, debug: bool = False, **kwargs):
        debug = debug or os.environ.get("CURATION_DEBUG", "") not in ("", "0")
        try:
            return fn(*args, **kwargs)
        except Exception as e:
            message = None if debug else _one_line(e)
            if message is None:
                raise
            raise click.ClickException(message) from None

    return click.option("--debug", is_flag=True, help="Show the full traceback of any error.")(wrapper)


def _one_line(e: Exception) -> str | None:
    """The one line for an error the user can act on; None for a bug."""
    import httpx  # 60 ms: only when an error is shown

    if isinstance(e, CurationError):
        return str(e)
    if _disk_full(e):
        where = f" writing {e.filename}" if getattr(e, "filename", None) else ""
        return (
            f"the disk is full{where} ({e}): free some space (or write elsewhere: --output, output_dir, "
            "--models-dir, --data-dir) and run the command again; what is stored is kept, and every file is written "
            "whole or not at all"
        )
    if isinstance(e, OSError) and e.filename is not None:  # the system refused a path: not ours to trace
        return f"{e.strerror or e.__class__.__name__}: {e.filename}"
    if transient(e) and (isinstance(e, httpx.TransportError) or _from_argilla(e)):
        reason = getattr(e, "status_code", None) or e.__class__.__name__
        return (
            f"Argilla stopped answering or failed ({reason}): start it again (curation server start) and re-run the "
            "command; what is stored stays as it is"
        )
    if getattr(e, "status_code", None) == 401 and _from_argilla(e):
        return (
            "Argilla refused the API key: set ARGILLA_API_KEY to a valid key (or unset it to use the embedded stack's)"
        )
    return None


def _disk_full(e: BaseException) -> bool:
    """No space left: the system's ENOSPC or EDQUOT (with or without a file name), or SQLite's "database or disk is
    full", also when another error was raised while handling it."""
    import errno
    import sqlite3

    seen = 0
    while e is not None and seen < 5:
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if isinstance(e, sqlite3.OperationalError) and "database or disk is full" in str(e):
            return True
        e, seen = e.__cause__ or e.__context__, seen + 1
    return False


def _from_argilla(e: Exception) -> bool:
    return type(e).__module__.startswith("argilla.")


data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=default_data_dir,
    show_default="$CURATION_DATA_DIR or ~/.local/share/curation/argilla",
    help="Where the database, search index, credentials and logs live.",
)
port_option = click.option("--port", type=int, default=DEFAULT_PORT, show_default=True, help="HTTP port of Argilla.")


def config_option(section: str = "see README"):
    return click.option("--config", "config_path", type=click.Path(dir_okay=False), help=f"YAML config ({section}).")


def dataset_options(fn):
    """--workspace and --dataset: which Argilla dataset a command works on."""
    fn = click.option("--dataset", help="Argilla dataset (config: argilla.dataset).")(fn)
    return click.option("--workspace", help="Argilla workspace (config: argilla.workspace).")(fn)


trust_pickle_option = click.option(
    "--trust-pickle", is_flag=True, help="Load a model folder from before plain-number heads (pickles can run code)."
)


def load_config(config_path, workspace=None, dataset=None, **flags) -> Config:
    """The config file with the command's flags over it (dotted config keys; None keeps the file's value)."""
    return Config.load(config_path).with_overrides(
        **{"argilla.workspace": workspace, "argilla.dataset": dataset, **flags}
    )


def gather(name: str, factory, **fields: str):
    """Options that reach the command as one object: `name=factory(field=value of option, ...)` for each
    `field="option_name"`, so that a command's signature lists what it works with, not every flag (the options
    stay declared, and shown, where they are). Goes below `friendly`, so that a bad value is one line too."""

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            values = {field: kwargs.pop(option) for field, option in fields.items()}
            return fn(*args, **{name: factory(**values)}, **kwargs)

        return wrapper

    return decorate


class Bars:
    """The tqdm bars a library step asks for by name through its `Progress` (`progress()`), finished before each line
    the step says."""

    def __init__(self):
        self.bars: list = []

    def new(self, desc: str):
        from tqdm import tqdm

        bar = tqdm(desc=desc, unit=" pairs", disable=None)
        self.bars.append(bar)
        return bar.update

    def close(self) -> None:
        for bar in self.bars:
            bar.close()
        self.bars = []

    def echo(self, line: str) -> None:
        """A line of the command's report: the bars before it are finished, so it never lands inside one."""
        self.close()
        click.echo(line)

    def progress(self) -> Progress:
        """What a library function reports through: its lines echoed, its counters drawn as these bars."""
        return Progress(say=self.echo, bars=self.new)


def quiet_sdk() -> None:
    """The SDK's "not found" warnings (for what a command is about to create) would bury its report."""
    import logging
    import warnings

    warnings.filterwarnings("ignore", category=UserWarning, module="argilla")
    logging.getLogger("argilla.sdk").setLevel(logging.ERROR)

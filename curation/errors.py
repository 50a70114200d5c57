"""Every problem a user can fix is a `CurationError`: its message says what was expected and what to do, and the
CLI prints it as one `Error: ...` line. Anything else is a bug and keeps its traceback (`--debug` shows it always).

Each error also derives from the built-in it refines (`ValueError`, `RuntimeError`), so `except ValueError` around
library calls keeps working.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


# the commands messages tell a user to run (the wrapper scripts over `curation setup` and `curation train`)
SETUP = "setup_workspace.py"
TRAIN = "train_filter.py"


class CurationError(Exception):
    """A problem the user can fix; the message says what to do."""


class ConfigError(CurationError, ValueError):
    """The configuration is wrong; the message names the key, the value and what is allowed."""


class InputError(CurationError, ValueError):
    """An input (candidates, judged pairs, scored shards) cannot be read as configured."""


class OutputError(CurationError, ValueError):
    """An output cannot be written as asked (it exists, its folder is missing, it is not ours to replace)."""


class StackError(CurationError, RuntimeError):
    """The embedded Argilla stack cannot start, stop or be reached as asked."""


class ArgillaUnavailable(CurationError, RuntimeError):
    """Argilla cannot be reached, or stopped answering or failed (5xx) in the middle of a run."""


class ArgillaRefused(CurationError, ValueError):
    """Argilla answered a write with a 4xx that retrying cannot change."""


class SetupError(CurationError, ValueError):
    """Setting up the workspace, users or dataset cannot go on."""


class ModelError(CurationError, ValueError):
    """The encoder or a trained filter cannot be loaded."""


class TrainingError(CurationError, ValueError):
    """Training cannot start, or cannot give a usable model."""


class ExportError(CurationError, ValueError):
    """The export cannot run as asked."""


class ScaleError(CurationError, ValueError):
    """A sharded or Ray run cannot start or go on as asked."""


class ApertiumError(CurationError, RuntimeError):
    """Apertium (the Spanish dictionary and ES→EN rules) is missing or failed."""


WAITS = (0.5, 1.0, 2.0)


def last_line(text: str | None, empty: str = "nothing logged") -> str:
    """The last non-empty line of a program's output or log, the part an error message quotes."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else empty


# what a failed database connection says, in the words drivers use (asyncpg, psycopg, SQLAlchemy)
CAUSES = (
    "connection refused",
    "connect call failed",
    "password authentication failed",
    "does not exist",
    "could not translate host name",
    "name or service not known",
    "timeout expired",
    "no space left on device",
    "permission denied",
)
NOISE = ("(Background on this error at", "[SQL:", "[parameters:", "^")


def cause_line(text: str | None, empty: str = "nothing logged") -> str:
    """The line of a traceback that says why it failed: the last one naming a known cause (a refused connection,
    a wrong password, a missing database), else the last line that is not SQLAlchemy's footer."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    for line in reversed(lines):
        if any(cause in line.lower() for cause in CAUSES):
            return line[:300]
    lines = [line for line in lines if not line.startswith(NOISE)]
    return lines[-1][:300] if lines else empty


def retried(call: Callable[[], T], transient: Callable[[Exception], bool], waits: tuple[float, ...] = WAITS) -> T:
    """`call()`, tried again after each of `waits` seconds while it fails with an error `transient` accepts (a
    restart, a dropped connection, a concurrent run's write); the last error is raised as it is."""
    for wait in (*waits, None):
        try:
            return call()
        except Exception as e:
            if wait is None or not transient(e):
                raise
            time.sleep(wait)
    raise AssertionError("unreachable")

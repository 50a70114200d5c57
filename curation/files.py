"""The one way the tool writes files: whole or not at all (staged beside the target, renamed in at the end), JSONL
with one spelling, and files only their owner may read (credentials, generated passwords)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from curation.errors import OutputError

# what curation builds for this machine and keeps between commands (the offline model, the precision probe's answer)
USER_CACHE = Path(os.environ.get("CURATION_MODELS_DIR", Path.home() / ".cache" / "curation"))


def writable_folder(path: str | Path, what: str) -> Path:
    """A folder a command will write to, created now, so a bad path fails before the expensive work (`what`: how
    the user named it)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{what} {path} is a file, not a folder: choose a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"{what} {path} cannot be created ({e.strerror}): choose a folder you can write to") from None
    return path


def check_output(path: str | Path, overwrite: bool) -> None:
    """An output that exists is replaced only when the user said so (`--overwrite`)."""
    if Path(path).exists() and not overwrite:
        raise OutputError(f"{path} exists: pass --overwrite to replace it, or choose another --output")


@contextmanager
def held(lock: Path, timeout: float | None = None, on_wait=None) -> Iterator[None]:
    """An exclusive lock on the file `lock` for the block (two processes never in it at once). When another process
    holds it, `on_wait()` is called once and the lock waited for: `timeout` seconds at most (then TimeoutError), or
    as long as it takes (None)."""
    import fcntl

    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if not _took(fd):
            if on_wait:
                on_wait()
            if timeout is None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            else:
                deadline = time.monotonic() + timeout
                while not _took(fd):
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{lock} is held by another process")
                    time.sleep(0.5)
        yield
    finally:
        os.close(fd)  # releases the lock


def _took(fd: int) -> bool:
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def check_writable(output: Path) -> None:
    """A file can be made where `output` goes (tested on the user's path, before any work): a refusal names it."""
    parent = Path(output).resolve().parent
    try:
        fd, probe = tempfile.mkstemp(prefix=".curation-probe-", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise OutputError(
            f"--output {output} cannot be written ({e.strerror}): choose a folder you can write to"
        ) from None


def write_private_json(path: Path, data: Any) -> None:
    """Write JSON with mode 0600 from the first byte (never readable by others, even briefly), whole or not at all:
    written beside `path`, flushed to disk and renamed in, so a full disk leaves the old file (or none), never an
    empty or cut one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(partial, 0o600)  # an existing file keeps its old mode through os.open
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


@contextmanager
def staged_file(path: str | Path) -> Iterator[Path]:
    """`path.partial`, for the block to write; renamed to `path` when the block ends, removed if it fails: a crash
    never leaves a file that looks complete."""
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    try:
        yield partial
    except BaseException as e:
        partial.unlink(missing_ok=True)
        failure = _naming(e, partial, path)
        if failure is not e:
            raise failure from None
        raise
    partial.replace(path)


@contextmanager
def staged_folder(final: str | Path, replace: bool = False) -> Iterator[Path]:
    """A new folder beside `final` (mode 0755), for the block to fill; renamed to `final` when the block ends
    (an existing `final` is removed first when `replace`), removed if it fails: `final` appears whole or not at
    all. A failure to write names `final`, never the staging folder."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    except OSError as e:
        raise OutputError(f"{final} cannot be written ({e.strerror}): choose a folder you can write to") from None
    tmp.chmod(0o755)
    try:
        yield tmp
        if replace and final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        failure = _naming(e, tmp, final)
        if failure is not e:
            raise failure from None
        raise


def _naming(e: BaseException, staged: Path, final: Path) -> BaseException:
    """A failure to write what was staged, as the user sees it: an OSError (or a library's own error that says "No
    space left on device", as safetensors does) naming `final` where it named the staged path (a file in it: that
    file's place in `final`) or nothing. Anything else is returned as it is."""
    no_space = getattr(e, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or "No space left on device" in str(e)
    if not isinstance(e, OSError) and not no_space:
        return e
    code = errno.ENOSPC if no_space else e.errno
    strerror = "No space left on device" if no_space else e.strerror or str(e)
    name = str(getattr(e, "filename", None) or final)
    return OSError(code, strerror, name.replace(str(staged), str(final)))


def jsonl_line(row: dict, sort_keys: bool = False) -> str:
    """One JSON Lines row: UTF-8 text as it is (no \\u escapes), newline-terminated."""
    return json.dumps(row, ensure_ascii=False, sort_keys=sort_keys) + "\n"


def write_jsonl(path: str | Path, rows: Iterable[dict], sort_keys: bool = False) -> Path:
    """`rows` as JSON Lines, written whole or not at all."""
    path = Path(path)
    with staged_file(path) as partial, partial.open("w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write(jsonl_line(row, sort_keys))
    return path


def tsv_field(text: str) -> str:
    """A field of a TSV without quoting (how the tool reads TSV): tabs and line breaks become spaces, so every row
    stays one line and one field stays one field."""
    return text.replace("\t", " ").replace("\r\n", " ").replace("\n", " ").replace("\r", " ")


def write_tsv(path: str | Path, header: list[str], rows: Iterable[list]) -> Path:
    """A TSV without quoting, `header` first, written whole or not at all."""
    path = Path(path)
    with staged_file(path) as partial, partial.open("w", encoding="utf-8", newline="\n") as f:
        for row in [header, *rows]:
            f.write("\t".join(tsv_field(str(v)) for v in row) + "\n")
    return path


def only_a_path(name: str) -> bool:
    """A model name only a path can be: a Hub id is `name` or `owner/name`, never ./x, /x, ~/x or a/b/c."""
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name

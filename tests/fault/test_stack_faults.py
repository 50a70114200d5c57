"""The stack's own faults: a data directory others could read, a second start on another port."""

from __future__ import annotations

import stat
import time

import pytest

from curation.server.stack import Stack, StackError


def test_the_data_directory_and_everything_in_it_is_private(tmp_path, unused_port):
    """It holds every user's API key: 0700, files 0600, also what an older version left readable."""
    data = tmp_path / "argilla"
    (data / "logs").mkdir(parents=True)
    (data / "logs" / "api.log").write_text("from an older version\n")
    data.chmod(0o755)
    (data / "logs" / "api.log").chmod(0o644)
    stack = Stack(data, port=unused_port)
    try:
        stack.start(log=lambda line: None)
        found = [(p, stat.S_IMODE(p.lstat().st_mode)) for p in [data, *data.rglob("*")] if not p.is_socket()]
        assert any(p.name == "argilla.db" for p, _ in found) and any(p.suffix == ".pid" for p, _ in found)
        loose = [(str(p), oct(m)) for p, m in found if m != (0o700 if p.is_dir() else 0o600)]
        assert not loose, loose
    finally:
        stack.stop()


def test_starting_on_another_port_while_running_is_one_line_and_rewrites_nothing(argilla_stack, unused_port):
    creds = argilla_stack.stack.credentials_path
    before = creds.read_text()
    started = time.monotonic()
    with pytest.raises(StackError, match=f"already runs at {argilla_stack.url}: use it as it is, or stop it first"):
        Stack(argilla_stack.stack.data_dir, port=unused_port).start(log=lambda line: None)
    assert time.monotonic() - started < 10 and creds.read_text() == before  # at once, and clients keep their URL

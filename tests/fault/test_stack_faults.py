"""The stack's own faults: a data directory others could read, a second start on another port."""

from __future__ import annotations

import shutil
import stat
import time
from pathlib import Path

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


def test_asking_another_database_of_a_running_stack_says_so(argilla_stack):
    stack = argilla_stack.stack
    other = "sqlite" if stack.kind != "sqlite" else "postgresql"
    modes = {p: stat.S_IMODE(p.stat().st_mode) for p in [stack.data_dir, *stack.data_dir.iterdir()]}
    with pytest.raises(StackError, match="already runs on .*, not .*: use it as it is \\(leave out --database\\)"):
        Stack(stack.data_dir, port=stack.port, database=other).start(log=lambda line: None)
    assert stack.is_up()
    # nothing changed on the way to the refusal: PostgreSQL's user still enters a 0711 data directory
    assert {p: stat.S_IMODE(p.stat().st_mode) for p in modes} == modes


def test_a_database_server_that_refuses_is_named_in_the_one_line(tmp_path, unused_port):
    import socket

    from click.testing import CliRunner

    from curation.cli import main

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        nobody = s.getsockname()[1]
    url = f"postgresql://curation:secret@127.0.0.1:{nobody}/argilla"
    start = ["server", "start", "--data-dir", str(tmp_path / "d"), "--port", str(unused_port), "--database", url]
    result = CliRunner().invoke(main, start)
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert result.exit_code == 1 and len(errors) == 1, result.output
    assert "Connection refused" in errors[0] and "sqlalche.me" not in errors[0], errors[0]
    assert Stack(tmp_path / "d", port=unused_port).status() == {name: None for name in ("redis", "worker", "api")}


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_two_starts_at_once_on_a_new_data_directory_both_end_with_the_stack_running(stack_dir, unused_port, database):
    """Without the start lock both failed on PostgreSQL (one on `postgresql.conf: Permission denied`, one on a
    missing `.postgresql.partial`): each made the cluster the other was making."""
    import subprocess
    import sys

    if database == "postgresql" and shutil.which("pg_ctl") is None and not list(Path("/usr/lib/postgresql").glob("*")):
        pytest.skip("PostgreSQL is not installed (make test installs it)")
    data = stack_dir
    start = [sys.executable, "-m", "curation", "server", "start", "--data-dir", str(data), "--port", str(unused_port)]
    start += ["--database", database]
    both = [subprocess.Popen(start, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    try:
        outputs = [p.communicate(timeout=300)[0] for p in both]
        assert [p.returncode for p in both] == [0, 0], outputs
        assert not any("Error" in out or "Traceback" in out for out in outputs), outputs
        assert Stack(data, port=unused_port).is_up()
        assert sum("waiting for it" in out for out in outputs) == 1, outputs  # the second waited for the first
    finally:
        Stack(data, port=unused_port).stop()

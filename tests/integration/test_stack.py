"""The running stack as a user meets it through `curation server ...` and `curation.client`."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from curation.cli import main
from curation.client import ArgillaUnavailable, check, connect

pytestmark = pytest.mark.server


def test_starting_twice_does_not_start_a_second_server(argilla_stack):
    stack = argilla_stack.stack
    before = stack.status()
    result = CliRunner().invoke(main, ["server", "start", "--data-dir", str(stack.data_dir), "--port", str(stack.port)])
    assert result.exit_code == 0, result.output
    assert f"Argilla is already running at {stack.url}" in result.output
    assert stack.status() == before and all(before.values())


def test_status_reports_every_component(argilla_stack):
    result = CliRunner().invoke(main, ["server", "status", "--data-dir", str(argilla_stack.stack.data_dir)])
    assert result.exit_code == 0, result.output
    for component in ("redis", "worker", "api"):
        assert f"{component:7} running (pid " in result.output
    assert f"{argilla_stack.url} answers" in result.output


def test_owner_key_works_and_a_wrong_key_is_one_clear_error(argilla_stack):
    me = check(argilla_stack.url, argilla_stack.credentials.api_key)
    assert me["username"] == "owner" and me["role"] == "owner"
    with pytest.raises(ArgillaUnavailable, match=f"Argilla at {argilla_stack.url} rejected the API key"):
        check(argilla_stack.url, "not-the-key")


def test_connect_reads_the_embedded_credentials_file(argilla_stack, monkeypatch):
    monkeypatch.delenv("ARGILLA_API_URL", raising=False)
    monkeypatch.delenv("ARGILLA_API_KEY", raising=False)
    client = connect(data_dir=argilla_stack.stack.data_dir)
    assert client.me.username == "owner"


def test_the_status_endpoint_names_the_embedded_engine(argilla_stack):
    with argilla_stack.http() as http:
        status = http.get("/api/v1/status").json()
    assert status["search_engine"]["distribution"] == "curation-embedded-sqlite"


def test_the_data_directory_and_everything_in_it_is_private(tmp_path, unused_port):
    """It holds every user's API key: 0700, files 0600, also what an older version left readable."""
    import stat

    from curation.server.stack import Stack

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
    import time

    import pytest

    from curation.server.stack import Stack, StackError

    creds = argilla_stack.stack.credentials_path
    before = creds.read_text()
    started = time.monotonic()
    with pytest.raises(StackError, match=f"already runs at {argilla_stack.url}: use it as it is, or stop it first"):
        Stack(argilla_stack.stack.data_dir, port=unused_port).start(log=lambda line: None)
    assert time.monotonic() - started < 10 and creds.read_text() == before  # at once, and clients keep their URL

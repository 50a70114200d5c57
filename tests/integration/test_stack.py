"""The running stack as a user meets it through `curation server ...` and `curation.annotation.connect`."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from curation.annotation.connect import ArgillaUnavailable, check, connect
from curation.cli import main

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

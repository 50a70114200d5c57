"""Crashes and restarts of the embedded stack: nothing is lost, nothing is duplicated, search agrees with the DB."""

from __future__ import annotations

import sqlite3
import threading
import time

import httpx
import pytest
from click.testing import CliRunner
from conftest import DATABASES

from curation.cli import main
from curation.server.stack import Stack

pytestmark = pytest.mark.slow

N = 3000


def make_records():
    import argilla as rg

    return [
        rg.Record(
            id=f"pair-{i:05d}",
            fields={"source": f"Good morning number {i}", "target": f"Buenos días número {i}"},
            metadata={"batch": f"b{i % 3}"},
        )
        for i in range(N)
    ]


def db_ids(http: httpx.Client, dataset_id) -> list[str]:
    """External ids as the database lists them (GET /records reads the database, not the index)."""
    found, offset = [], 0
    while True:
        page = http.get(f"/api/v1/datasets/{dataset_id}/records", params={"offset": offset, "limit": 1000})
        page.raise_for_status()
        items = page.json()["items"]
        found += [item["external_id"] for item in items]
        if len(items) < 1000:
            return found
        offset += 1000


def index_ids(http: httpx.Client, dataset_id, body: dict | None = None) -> tuple[list[str], int]:
    found, offset, total = [], 0, None
    while True:
        page = http.post(
            f"/api/v1/datasets/{dataset_id}/records/search", json=body or {}, params={"offset": offset, "limit": 1000}
        )
        page.raise_for_status()
        payload = page.json()
        total = payload["total"]
        found += [item["record"]["external_id"] for item in payload["items"]]
        if len(payload["items"]) < 1000:
            return found, total
        offset += 1000


def assert_agrees(http: httpx.Client, dataset_id, expected: set[str]):
    listed = db_ids(http, dataset_id)
    searched, total = index_ids(http, dataset_id)
    assert len(listed) == len(set(listed)) == len(expected) and set(listed) == expected
    assert total == len(searched) == len(expected) and set(searched) == expected
    batch = {
        "filters": {
            "and": [{"type": "terms", "scope": {"entity": "metadata", "metadata_property": "batch"}, "values": ["b1"]}]
        }
    }
    found, total = index_ids(http, dataset_id, batch)
    assert set(found) == {rid for rid in expected if int(rid.split("-")[1]) % 3 == 1} and total == len(found)


@pytest.fixture(params=DATABASES)
def own_stack(request, stack_dir, unused_port):
    """A stack of the test's own, on each database: SIGKILL takes every process at once, PostgreSQL's too."""
    stack = Stack(stack_dir, port=unused_port, database=request.param)
    yield stack
    stack.stop()


def _client(stack: Stack, credentials):
    import argilla as rg

    return rg.Argilla(api_url=stack.url, api_key=credentials.api_key, timeout=120)


def _dataset(client):
    import argilla as rg

    settings = rg.Settings(
        fields=[rg.TextField(name="source"), rg.TextField(name="target")],
        questions=[rg.LabelQuestion(name="quality", labels=["good", "bad"])],
        metadata=[rg.TermsMetadataProperty(name="batch")],
    )
    return rg.Dataset(name="crash", settings=settings, client=client).create()


def test_sigkill_while_logging_then_relog_leaves_one_copy_each(own_stack):
    credentials = own_stack.start(log=lambda line: None)
    client = _client(own_stack, credentials)
    dataset = _dataset(client)
    records = make_records()
    failure: list[BaseException] = []

    def log():
        try:
            dataset.records.log(records, batch_size=100)
        except BaseException as e:  # the server dies under it
            failure.append(e)

    writer = threading.Thread(target=log)
    writer.start()
    http = httpx.Client(base_url=own_stack.url, headers={"X-Argilla-Api-Key": credentials.api_key}, timeout=30)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if dataset.progress()["total"] >= 300:
            break
        time.sleep(0.2)
    own_stack.kill()
    writer.join(timeout=120)
    assert failure, "the kill came too late: all records were logged before it"

    credentials = own_stack.start(log=lambda line: None)
    client = _client(own_stack, credentials)
    dataset = client.datasets("crash")
    http = httpx.Client(base_url=own_stack.url, headers={"X-Argilla-Api-Key": credentials.api_key}, timeout=30)
    survived = set(db_ids(http, dataset.id))
    assert 0 < len(survived) < N
    assert_agrees(http, dataset.id, survived)  # what the DB kept is searchable, nothing more

    dataset.records.log(make_records(), batch_size=100)
    assert_agrees(http, dataset.id, {f"pair-{i:05d}" for i in range(N)})


def test_records_missing_from_the_index_come_back_on_start_and_reindex(own_stack):
    credentials = own_stack.start(log=lambda line: None)
    client = _client(own_stack, credentials)
    dataset = _dataset(client)
    dataset.records.log(make_records()[:500])
    http = httpx.Client(base_url=own_stack.url, headers={"X-Argilla-Api-Key": credentials.api_key}, timeout=30)
    expected = {f"pair-{i:05d}" for i in range(500)}
    own_stack.stop()

    # a crash between argilla-server's commit and its index write: the index lacks records the DB has
    with sqlite3.connect(own_stack.data_dir / "search.sqlite") as index:
        index.execute("DELETE FROM docs WHERE id IN (SELECT id FROM docs ORDER BY id DESC LIMIT 120)")
    own_stack.start(log=lambda line: None)
    assert_agrees(http, dataset.id, expected)

    # reindex rebuilds from the database while the server runs
    with sqlite3.connect(own_stack.data_dir / "search.sqlite") as index:
        index.execute("DELETE FROM docs")
        assert index.execute("SELECT count(*) FROM docs").fetchone()[0] == 0
    result = CliRunner().invoke(main, ["server", "reindex", "--data-dir", str(own_stack.data_dir)])
    assert result.exit_code == 0, result.output
    assert "crash: 500 records indexed" in result.output
    assert_agrees(http, dataset.id, expected)


def test_argilla_killed_while_setup_logs_is_one_line_that_says_a_rerun_completes_it(own_stack, tmp_path):
    from curation.annotation.connect import ArgillaUnavailable
    from curation.annotation.records import log_pairs
    from curation.annotation.setup import ensure_dataset, ensure_workspace
    from curation.config import Config
    from curation.pair import Pair

    credentials = own_stack.start(log=lambda line: None)
    client = _client(own_stack, credentials)
    config = Config()
    space = ensure_workspace(client, config.argilla.workspace)
    dataset = ensure_dataset(client, config.argilla, config.annotators, space)
    pairs = [Pair(f"Good morning number {i}", f"Buenos días número {i}", origin=f"t:{i}") for i in range(N)]
    failure: list[BaseException] = []

    def log():
        try:
            log_pairs(dataset, pairs, 100)
        except BaseException as e:
            failure.append(e)

    writer = threading.Thread(target=log)
    writer.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and dataset.progress()["total"] < 300:
        time.sleep(0.2)
    own_stack.kill()
    writer.join(timeout=120)
    assert failure, "the kill came too late: all records were logged before it"
    assert isinstance(failure[0], ArgillaUnavailable), repr(failure[0])
    message = str(failure[0])
    assert (
        "\n" not in message
        and "records sent by this run" in message
        and "start it again" in message
        and "nothing is duplicated" in message
    )

    credentials = own_stack.start(log=lambda line: None)  # the re-run completes it, one record per pair
    client = _client(own_stack, credentials)
    dataset = client.datasets(config.argilla.dataset, workspace=config.argilla.workspace)
    log_pairs(dataset, pairs, 100)
    http = httpx.Client(base_url=own_stack.url, headers={"X-Argilla-Api-Key": credentials.api_key}, timeout=30)
    listed = db_ids(http, dataset.id)
    assert len(listed) == len(set(listed)) == N

"""The stack on a PostgreSQL cluster of its own: made once, kept apart from a SQLite stack, migrated into from one
with nothing lost, and started and stopped like the rest."""

from __future__ import annotations

import json
import sqlite3
import stat

import httpx
import numpy as np
import pytest
from click.testing import CliRunner

from curation.cli import main
from curation.server.stack import Stack

pytestmark = pytest.mark.slow

N = 400
TABLES = ("users", "workspaces", "datasets", "records", "responses", "suggestions", "vectors", "questions")


def _client(stack: Stack, credentials):
    import argilla as rg

    return rg.Argilla(api_url=stack.url, api_key=credentials.api_key, timeout=120)


def _fill(stack: Stack, credentials) -> dict:
    """A dataset with records, metadata, vectors, suggestions and an annotator's responses; what was stored."""
    import argilla as rg

    client = _client(stack, credentials)
    workspace = rg.Workspace(name="team", client=client).create()
    settings = rg.Settings(
        fields=[rg.TextField(name="source"), rg.TextField(name="target")],
        questions=[rg.LabelQuestion(name="quality", labels=["good", "bad"])],
        metadata=[rg.TermsMetadataProperty(name="batch")],
        vectors=[rg.VectorField(name="embedding", dimensions=4)],
    )
    dataset = rg.Dataset(name="moved", workspace="team", settings=settings, client=client).create()
    dataset.records.log(
        [
            rg.Record(
                id=f"pair-{i:04d}",
                fields={"source": f"Where is gate {i}?", "target": f"¿Dónde está la puerta {i}?"},
                metadata={"batch": f"b{i % 3}"},
                vectors={"embedding": np.random.default_rng(i).normal(size=4).round(3).tolist()},
                suggestions=[rg.Suggestion("quality", "good" if i % 2 else "bad", score=i / N, agent="filter-v1")],
            )
            for i in range(N)
        ]
    )
    user = rg.User(username="ana", password="annotate-me-123", role="annotator", client=client).create()
    user.add_to_workspace(workspace)
    token = httpx.post(f"{stack.url}/api/v1/token", data={"username": "ana", "password": "annotate-me-123"}).json()
    http = httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {token['access_token']}"})
    records = {r.id: r for r in dataset.records(with_vectors=True)}
    for i in range(0, N, 4):
        body = {"values": {"quality": {"value": "bad"}}, "status": "submitted"}
        response = http.post(f"/api/v1/records/{records[f'pair-{i:04d}']._server_id}/responses", json=body)
        assert response.status_code == 201, response.text
    return _read(stack, credentials)


def _read(stack: Stack, credentials) -> dict:
    """What the server answers about the dataset: records with their vectors, suggestions and responses, and
    searches served by the index."""
    client = _client(stack, credentials)
    dataset = client.datasets("moved", workspace="team")
    seen = {}
    for r in dataset.records(with_vectors=True, with_suggestions=True, with_responses=True):
        seen[r.id] = (
            r.fields["target"],
            r.metadata["batch"],
            [round(v, 3) for v in r.vectors["embedding"]],
            [(s.value, round(s.score, 4), s.agent) for s in r.suggestions],
            sorted((str(x.user_id), x.value) for x in r.responses),
        )
    http = httpx.Client(base_url=stack.url, headers={"X-Argilla-Api-Key": credentials.api_key}, timeout=60)
    body = {"query": {"text": {"q": "puerta"}}, "filters": {"and": [_batch("b1")]}}
    found = http.post(f"/api/v1/datasets/{dataset.id}/records/search", json=body, params={"limit": 1000}).json()
    users = sorted(u["username"] for u in http.get("/api/v1/users").json()["items"])
    return {"records": seen, "b1": found["total"], "users": users, "progress": dataset.progress()}


def _batch(value: str) -> dict:
    return {"type": "terms", "scope": {"entity": "metadata", "metadata_property": "batch"}, "values": [value]}


def test_migrate_moves_every_table_and_the_stack_then_runs_on_postgresql(stack_dir, unused_port):
    sqlite_stack = Stack(stack_dir, port=unused_port)
    credentials = sqlite_stack.start(log=lambda line: None)
    try:
        before = _fill(sqlite_stack, credentials)
    finally:
        sqlite_stack.stop()
    assert len(before["records"]) == N and before["b1"] == len(range(1, N, 3))
    with sqlite3.connect(stack_dir / "argilla.db") as db:
        counts = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    assert counts["responses"] == N // 4 and counts["vectors"] == counts["suggestions"] == N

    runner = CliRunner()
    result = runner.invoke(main, ["server", "migrate", "--to", "postgresql", "--data-dir", str(stack_dir)])
    assert result.exit_code == 0, result.output
    for table in TABLES:  # the counts the command compared, printed per table
        assert f"{counts[table]:>9,} rows in argilla.db  {counts[table]:>9,} in PostgreSQL" in result.output
    assert json.loads((stack_dir / "stack.json").read_text())["database"] == "postgresql"
    assert (stack_dir / "argilla.db").exists()  # kept until the user deletes it

    again = runner.invoke(main, ["server", "migrate", "--to", "postgresql", "--data-dir", str(stack_dir)])
    assert again.exit_code == 1 and "already runs on postgresql" in again.output

    pg_stack = Stack(stack_dir, port=unused_port)  # no flag: the directory runs on what it was moved to
    assert pg_stack.kind == "postgresql"
    credentials = pg_stack.start(log=lambda line: None)
    try:
        assert pg_stack.status()["postgresql"] is not None
        assert _read(pg_stack, credentials) == before  # same logins, records, vectors, suggestions, responses
        with sqlite3.connect(stack_dir / "argilla.db") as db:  # the old database is as it was
            assert {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES} == counts
    finally:
        pg_stack.stop()
    assert pg_stack.status() == {"postgresql": None, "redis": None, "worker": None, "api": None}

    wrong = runner.invoke(main, ["server", "start", "--database", "sqlite", "--data-dir", str(stack_dir)])
    assert wrong.exit_code == 1 and "runs on postgresql, not sqlite" in wrong.output


def test_a_postgresql_stack_is_private_and_keeps_a_sqlite_directory_apart(stack_dir, unused_port):
    stack = Stack(stack_dir, port=unused_port, database="postgresql")
    stack.start(log=lambda line: None)
    try:
        cluster = stack_dir / "postgresql"
        assert stat.S_IMODE(cluster.stat().st_mode) == 0o700
        assert stat.S_IMODE((stack_dir / "credentials.json").stat().st_mode) == 0o600
        assert stat.S_IMODE(stack_dir.stat().st_mode) in (0o700, 0o711)  # 0711: PostgreSQL's user enters it
        settings = (cluster / "pg_hba.conf").read_text()
        assert [line for line in settings.splitlines() if not line.startswith("#")] == ["local all all trust"]
        assert stack.cluster.psql("SHOW listen_addresses").strip() == ""  # no TCP port at all
        assert (stack_dir / "logs" / "postgresql.log").exists()
        status = CliRunner().invoke(main, ["server", "status", "--data-dir", str(stack_dir)])
        assert status.exit_code == 0 and "postgresql running (pid" in status.output, status.output
    finally:
        stack.stop()
    result = CliRunner().invoke(main, ["server", "status", "--data-dir", str(stack_dir)])
    assert "postgresql stopped" in result.output

    sqlite_dir = stack_dir.with_name("sqlite-data")
    sqlite_stack = Stack(sqlite_dir, port=unused_port)
    sqlite_stack.start(log=lambda line: None)
    sqlite_stack.stop()
    refused = CliRunner().invoke(main, ["server", "start", "--database", "postgresql", "--data-dir", str(sqlite_dir)])
    assert refused.exit_code == 1 and "curation server migrate --to postgresql" in refused.output
    assert not (sqlite_dir / "postgresql").exists()

"""train_filter.py against the real embedded Argilla server: judgments in, a model, suggestions back out."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid

import httpx
import pytest
from conftest import RunningArgilla
from tiny_model import GOOD as ALL_GOOD

from curation.annotation import schema
from curation.annotation.connect import ArgillaUnavailable
from curation.annotation.records import log_pairs
from curation.annotation.schema import FILTER_MODEL, FILTER_SCORE, PRIORITY
from curation.annotation.setup import ensure_dataset, ensure_workspace
from curation.config import Config
from curation.cycle import CycleSettings, from_argilla
from curation.model.card import quality_lines
from curation.pair import Pair
from curation.progress import Progress
from curation.server.stack import Stack

pytestmark = pytest.mark.server

GOOD = ALL_GOOD[:10]
BAD = [(s, s) for s, _ in GOOD]  # untranslated copies
POOL = [(f"Room {i} is on floor {i % 7}.", f"La habitación {i} está en la planta {i % 7}.") for i in range(30)] + [
    (f"Gate {i} closes soon.", f"Gate {i} closes soon.") for i in range(10)
]


def make_config(tiny_model, tmp_path, workspace, dataset) -> Config:
    config = Config()
    config.argilla.workspace, config.argilla.dataset, config.argilla.batch_size = workspace, dataset, 8
    config.train.base_model, config.train.layer, config.train.min_per_class = str(tiny_model), 1, 4
    config.train.models_dir = str(tmp_path / "models")
    # 20 labels: a 95% lower bound reaches 0.6 on 10 right of 10 (never 0.9), so the tiny model suggests labels
    config.train.target_precision, config.train.min_suggested = 0.6, 5
    config.output_dir = str(tmp_path / "outputs")
    return config


def _settings(config: Config) -> CycleSettings:
    return CycleSettings(config.train, config.argilla, config.output_dir)


def make_dataset(client, config):
    space = ensure_workspace(client, config.argilla.workspace)
    dataset = ensure_dataset(client, config.argilla, config.annotators, space)
    pairs = [Pair(s, t, origin=f"test:{i}") for i, (s, t) in enumerate(GOOD + BAD + POOL)]
    log_pairs(dataset, pairs, 50)
    server_ids = {r.id: str(r._server_id) for r in dataset.records}
    return dataset, space, {(p.source, p.target): server_ids[p.id] for p in pairs}


def annotators(client, space, login, names):
    import argilla as rg

    out = {}
    for name in names:
        username = f"{name}-{uuid.uuid4().hex[:6]}"
        user = rg.User(username=username, password="annotate-me-123", role="annotator", client=client).create()
        user.add_to_workspace(space)
        out[name] = (username, login(username, "annotate-me-123"))
    return out


def respond(http: httpx.Client, server_id: str, value: str | None, status: str = "submitted", errors=()):
    values = {schema.QUALITY: {"value": value}} if value else None
    if errors:
        values[schema.ERRORS] = {"value": list(errors)}
    r = http.post(f"/api/v1/records/{server_id}/responses", json={"values": values, "status": status})
    assert r.status_code == 201, r.text


def responses_of(http: httpx.Client, dataset) -> dict:
    """Every response of the dataset straight from the server: (record, user) -> (status, values, updated_at)."""
    found, offset = {}, 0
    while True:
        r = http.get(
            f"/api/v1/datasets/{dataset.id}/records", params={"include": "responses", "offset": offset, "limit": 500}
        )
        r.raise_for_status()
        items = r.json()["items"]
        for item in items:
            for resp in item["responses"]:
                found[item["id"], resp["user_id"]] = (resp["status"], resp["values"], resp["updated_at"])
        if len(items) < 500:
            return found
        offset += 500


def retrain_in_background(client, dataset, config) -> tuple[threading.Thread, list[BaseException]]:
    """train_filter's cycle in a thread; what it raised is collected in the list."""
    errors: list[BaseException] = []

    def run():
        try:
            from_argilla(client, dataset, _settings(config), progress=Progress.quiet())
        except BaseException as e:
            errors.append(e)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def suggestions_of(dataset) -> dict[str, object]:
    return {
        r.id: s
        for r in dataset.records(with_suggestions=True, with_responses=False)
        for s in r.suggestions
        if s.question_name == schema.QUALITY
    }


def test_labels_in_model_out_suggestions_on_every_unjudged_pair(argilla_stack, client, tiny_model, tmp_path):
    suffix = uuid.uuid4().hex[:6]
    config = make_config(tiny_model, tmp_path, f"ws-{suffix}", f"pairs-{suffix}")
    dataset, space, sid = make_dataset(client, config)
    people = annotators(client, space, argilla_stack.login, ["ana", "ben", "eva"])
    (_, ana), (_, ben), (_, eva) = people["ana"], people["ben"], people["eva"]
    for pair in GOOD:
        respond(ana, sid[pair], "good")
        respond(ben, sid[pair], "good")
    for pair in BAD:
        respond(ana, sid[pair], "bad")
        respond(ben, sid[pair], "bad")
    tie = POOL[0]
    respond(ana, sid[tie], "good")
    respond(ben, sid[tie], "bad")
    respond(eva, sid[POOL[1]], "good", status="draft")  # drafts and discarded are not labels
    respond(eva, sid[POOL[2]], None, status="discarded")
    http = argilla_stack.http()
    before = responses_of(http, dataset)
    import argilla as rg  # a dataset an older version prepared: its priority had a title the sort menu hid

    dataset.settings.metadata.add(rg.FloatMetadataProperty(name=PRIORITY, title="label next (1 = unsure)"))
    dataset.settings.update()

    result = from_argilla(client, dataset, _settings(config), progress=Progress.quiet())
    titles = {m.name: m.title for m in client.datasets(dataset.name, workspace=space.name).settings.metadata}
    assert titles[PRIORITY].startswith("priority")  # findable by that word

    assert result.counts == {"good": 10, "bad": 10}
    assert result.agreement["ties"] == [Pair(*tie).id]
    assert result.agreement["krippendorff_alpha"] is not None
    judged = {Pair(s, t).id for s, t in GOOD + BAD + [tie]}
    pending = {Pair(s, t).id for s, t in POOL} - judged
    assert result.scored == len(pending) == 39

    got = suggestions_of(client.datasets(dataset.name, workspace=space.name))
    assert set(got) <= pending and len(got) == result.suggested > 0  # unjudged pairs only, where the model is sure
    records = {r.id: r for r in client.datasets(dataset.name, workspace=space.name).records(with_responses=False)}
    ev = result.evaluation
    for rid in pending:  # every unjudged pair is scored; a label is pre-selected only outside the uncertain band
        meta = records[rid].metadata
        assert 0 <= meta[PRIORITY] <= 1 and 0 <= meta[FILTER_SCORE] <= 1
        assert meta[FILTER_MODEL] == result.model.version
        assert meta["batch"] == "test"  # the setup's metadata is kept
        expected = ev.label(meta[FILTER_SCORE])
        assert (got[rid].value if rid in got else None) == expected
        if rid in got:
            assert 0.5 <= got[rid].score <= 1 and got[rid].agent == f"curation-filter {result.model.version}"
    copies = {Pair(s, t).id for s, t in POOL if s == t} - judged  # known bad: left in English
    for rid in copies:  # no bad pair the model scores below the auto-accept threshold is pre-selected good
        assert got.get(rid) is None or got[rid].value != "good" or records[rid].metadata[FILTER_SCORE] >= ev.threshold
    assert responses_of(http, dataset) == before  # nothing submitted, drafted or discarded changed
    assert (tmp_path / "outputs" / "next_to_label.tsv").exists()
    written = (tmp_path / "outputs" / "train_report.md").read_text() + (result.model.path / "README.md").read_text()
    for line in quality_lines(ev.quality()):  # the report and the model card give the same figures
        assert written.count(f"- {line}\n") == 2
    assert f"| of which given a suggested label (pre-filled in the UI) | {result.suggested} |" in written

    config.train.suggest_min_auc = 1.01  # a model that "cannot rank": scores only, and the old labels are removed
    lines: list[str] = []
    again = from_argilla(client, dataset, _settings(config), progress=Progress(lines.append))
    assert any("the model cannot rank these pairs yet, so no label is suggested" in line for line in lines)
    assert again.suggested == 0 and suggestions_of(client.datasets(dataset.name, workspace=space.name)) == {}
    records = {r.id: r for r in client.datasets(dataset.name, workspace=space.name).records(with_responses=False)}
    assert {records[rid].metadata[FILTER_MODEL] for rid in pending} == {again.model.version}
    assert responses_of(http, dataset) == before


def test_error_types_annotators_tick_come_back_as_errors_suggestions_on_pairs_suggested_bad(
    argilla_stack, client, tiny_model, tmp_path
):
    suffix = uuid.uuid4().hex[:6]
    config = make_config(tiny_model, tmp_path, f"ws-{suffix}", f"pairs-{suffix}")
    truncated = [(s, t.split()[0]) for s, t in ALL_GOOD]
    space = ensure_workspace(client, config.argilla.workspace)
    dataset = ensure_dataset(client, config.argilla, config.annotators, space)
    pairs = [Pair(s, t, origin=f"test:{i}") for i, (s, t) in enumerate(GOOD + BAD + truncated + POOL)]
    log_pairs(dataset, pairs, 50)
    sid = {(r.fields["source"], r.fields["target"]): str(r._server_id) for r in dataset.records}
    ((_, ana),) = annotators(client, space, argilla_stack.login, ["ana"]).values()
    for pair in GOOD:
        respond(ana, sid[pair], "good")
    for pair in BAD:
        respond(ana, sid[pair], "bad", errors=["wrong_language"])
    for pair in truncated[:10]:
        respond(ana, sid[pair], "bad", errors=["omission_addition"])

    result = from_argilla(client, dataset, _settings(config), progress=Progress.quiet())

    meta = result.model.path / "metadata.json"
    assert '"wrong_language"' in meta.read_text() and '"omission_addition"' in meta.read_text()
    records = client.datasets(dataset.name, workspace=space.name).records(with_suggestions=True, with_responses=False)
    by_text = {(r.fields["source"], r.fields["target"]): {s.question_name: s for s in r.suggestions} for r in records}
    copies = [p for p in POOL if p[0] == p[1]]  # "Gate N closes soon." left in English
    suggested = [by_text[p] for p in copies + truncated[10:]]
    assert all(schema.QUALITY in s for s in suggested)
    for got in suggested:
        if got[schema.QUALITY].value == "good":
            assert schema.ERRORS not in got  # types only where the model says bad
        elif schema.ERRORS in got:
            errors = got[schema.ERRORS]
            assert set(errors.value) <= {"wrong_language", "omission_addition"}
            assert len(errors.score) == len(errors.value) and all(0.5 <= v <= 1 for v in errors.score)
            assert errors.agent == f"curation-filter {result.model.version}"
    english = [by_text[p].get(schema.ERRORS) for p in copies]
    assert sum(e is not None and e.value[0] == "wrong_language" for e in english) >= len(copies) // 2
    cut = [by_text[p].get(schema.ERRORS) for p in truncated[10:]]
    assert sum(e is not None and e.value[0] == "omission_addition" for e in cut) >= len(cut) // 2


@pytest.mark.fault  # of the fault suite; here beside the flow it breaks
def test_annotators_submitting_while_suggestions_are_written_lose_nothing(argilla_stack, client, tiny_model, tmp_path):
    suffix = uuid.uuid4().hex[:6]
    config = make_config(tiny_model, tmp_path, f"ws-{suffix}", f"pairs-{suffix}")
    config.argilla.batch_size = 2  # many small writes, so submissions land between them
    dataset, space, sid = make_dataset(client, config)
    people = annotators(client, space, argilla_stack.login, ["ana", "ben"])
    (_, ana), (_, ben) = people["ana"], people["ben"]
    for pair in GOOD:
        respond(ana, sid[pair], "good")
    for pair in BAD:
        respond(ana, sid[pair], "bad")
    writer, errors = retrain_in_background(client, dataset, config)
    submitted = []
    for i, pair in enumerate(POOL):  # ben works through the queue meanwhile
        respond(ben, sid[pair], "good" if i % 2 else "bad")
        submitted.append(sid[pair])
        time.sleep(0.05)
    writer.join(timeout=300)
    assert not writer.is_alive() and not errors, errors
    by_record = {rid: v for (rid, _), v in responses_of(argilla_stack.http(), dataset).items()}
    for i, rid in enumerate(submitted):
        status, values, _ = by_record[rid]
        assert status == "submitted" and values[schema.QUALITY]["value"] == ("good" if i % 2 else "bad")


@pytest.fixture
def own_stack(tmp_path, unused_port):
    stack = Stack(tmp_path / "argilla", port=unused_port)
    yield stack
    stack.stop()


@pytest.mark.fault  # of the fault suite; here beside the flow it breaks
def test_argilla_going_away_halfway_then_a_rerun_completes_without_duplicates(own_stack, tiny_model, tmp_path):

    import argilla as rg

    credentials = own_stack.start(log=lambda line: None)
    client = rg.Argilla(api_url=own_stack.url, api_key=credentials.api_key, timeout=30)
    config = make_config(tiny_model, tmp_path, "ws", "pairs")
    config.argilla.batch_size = 1
    dataset, space, sid = make_dataset(client, config)
    ((_, rater),) = annotators(client, space, RunningArgilla(own_stack, credentials).login, ["rater"]).values()
    for pair in GOOD:
        respond(rater, sid[pair], "good")
    for pair in BAD:
        respond(rater, sid[pair], "bad")

    writer, failure = retrain_in_background(client, dataset, config)
    db = own_stack.data_dir / "argilla.db"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with sqlite3.connect(db) as con:
            if con.execute("SELECT COUNT(*) FROM suggestions").fetchone()[0] >= 5:
                break
        time.sleep(0.05)
    own_stack.kill()
    writer.join(timeout=120)
    assert failure and isinstance(failure[0], ArgillaUnavailable), failure
    assert "re-run train_filter.py" in str(failure[0])
    with sqlite3.connect(db) as con:
        halfway = con.execute("SELECT COUNT(*) FROM suggestions").fetchone()[0]
    assert 5 <= halfway < len(POOL)

    credentials = own_stack.start(log=lambda line: None)
    client = rg.Argilla(api_url=own_stack.url, api_key=credentials.api_key, timeout=30)
    dataset = client.datasets("pairs", workspace="ws")
    result = from_argilla(client, dataset, _settings(config), progress=Progress.quiet())
    with sqlite3.connect(db) as con:
        per_record = con.execute("SELECT record_id, COUNT(*) FROM suggestions GROUP BY record_id").fetchall()
    assert len(per_record) == len(POOL) and {n for _, n in per_record} == {1}
    got = suggestions_of(dataset)
    assert {s.agent for s in got.values()} == {f"curation-filter {result.model.version}"}

"""curation export against the real embedded Argilla server; the Hub is tested at the huggingface_hub boundary."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hub_recorder import RecordingApi

from curation.annotation import schema
from curation.annotation.records import log_pairs, read_records
from curation.annotation.setup import ensure_dataset, ensure_workspace
from curation.annotation.suggestions import Scored, write_suggestions
from curation.cli import main
from curation.config import Config
from curation.cycle import Labelled, fit_and_save
from curation.pair import Pair
from curation.progress import Progress

pytestmark = pytest.mark.server

PAIRS = {
    "agreed": ("The museum opens at nine.", "El museo abre a las nueve."),
    "tie": ("Is breakfast included?", "¿Está incluido el desayuno?"),
    "corrected": ("My suitcase has not arrived.", "Mi maleta no llegó todavía ayer."),
    "bad": ("Please call a doctor.", "Please call a doctor."),
    "high": ("The beach is very close.", "La playa está muy cerca."),
    "low": ("Turn left at the corner.", "Gire corner left."),
}
TRAIN = [("Where is the station?", "¿Dónde está la estación?"), ("I lost my passport.", "Perdí mi pasaporte.")] * 4


@pytest.fixture
def exported_dataset(argilla_stack, client, tiny_model, tmp_path, monkeypatch):
    suffix = uuid.uuid4().hex[:6]
    config = Config()
    config.argilla.workspace, config.argilla.dataset = f"ws-{suffix}", f"pairs-{suffix}"
    config.train.base_model, config.train.layer, config.train.min_per_class = str(tiny_model), 1, 4
    config.train.models_dir, config.output_dir = str(tmp_path / "models"), str(tmp_path / "outputs")
    space = ensure_workspace(client, config.argilla.workspace)
    dataset = ensure_dataset(client, config.argilla, config.annotators, space)
    pairs = {k: Pair(s, t, origin="test:1") for k, (s, t) in PAIRS.items()}
    log_pairs(dataset, pairs.values(), 50)
    sid = {r.id: str(r._server_id) for r in dataset.records(with_responses=False)}
    people = {}
    for name in ("ana", "ben"):
        username = f"{name}-{suffix}"
        import argilla as rg

        rg.User(username=username, password="annotate-me-123", role="annotator", client=client).create()
        client.users(username).add_to_workspace(space)
        people[name] = argilla_stack.login(username, "annotate-me-123")

    def submit(who, key, value, correction=None):
        values = {schema.QUALITY: {"value": value}}
        if correction:
            values[schema.CORRECTION] = {"value": correction}
        r = people[who].post(
            f"/api/v1/records/{sid[pairs[key].id]}/responses", json={"values": values, "status": "submitted"}
        )
        assert r.status_code == 201, r.text

    submit("ana", "agreed", "good")
    submit("ben", "agreed", "good")
    submit("ana", "tie", "good")
    submit("ben", "tie", "bad")
    submit("ana", "corrected", "good", "Mi maleta todavía no ha llegado.")
    submit("ben", "corrected", "good")
    submit("ana", "bad", "bad")
    submit("ben", "bad", "bad")
    # a trained filter and its suggestions on the two unjudged pairs (scores fixed so the threshold is exact)
    y = [1, 0] * 4
    train_pairs = [(s, t if i % 2 == 0 else s) for i, (s, t) in enumerate(TRAIN)]
    _, stored = fit_and_save(Labelled(train_pairs, y, "test"), config.train, progress=Progress.quiet())
    rows = read_records(client, dataset)
    unjudged = {r.id: r for r in rows if r.id in (pairs["high"].id, pairs["low"].id)}
    write_suggestions(
        client,
        dataset,
        Scored(
            [unjudged[pairs["high"].id], unjudged[pairs["low"].id]],
            [0.93, 0.31],
            version=stored.version,
            label=lambda score: "good" if score >= 0.5 else "bad",
        ),
    )
    monkeypatch.setenv("ARGILLA_API_URL", argilla_stack.url)
    monkeypatch.setenv("ARGILLA_API_KEY", argilla_stack.credentials.api_key)
    monkeypatch.chdir(tmp_path)
    return config, pairs, stored


def run(config, *args):
    base = ["export", "--workspace", config.argilla.workspace, "--dataset", config.argilla.dataset]
    return CliRunner().invoke(main, [*base, *args])


def rows_of(folder: Path) -> list[dict]:
    return [
        r for split in ("train", "validation") for r in pq.read_table(folder / "data" / f"{split}.parquet").to_pylist()
    ]


def test_export_holds_exactly_the_right_rows_and_the_card_matches(exported_dataset, tmp_path):
    config, pairs, stored = exported_dataset
    out = tmp_path / "curated"
    result = run(
        config,
        "--output",
        str(out),
        "--model",
        str(stored.path),
        "--auto-accept",
        "--threshold",
        "0.6",
        "--include-rejected",
        "--chat",
    )
    assert result.exit_code == 0, result.output
    rows = {r["id"]: r for r in rows_of(out)}
    assert set(rows) == {pairs["agreed"].id, pairs["corrected"].id, pairs["high"].id}
    assert rows[pairs["agreed"].id]["provenance"] == "human" and rows[pairs["agreed"].id]["agreement"] == 1.0
    corrected = rows[pairs["corrected"].id]
    assert corrected["target"] == "Mi maleta todavía no ha llegado."
    assert corrected["original_target"] == PAIRS["corrected"][1]
    assert sorted(corrected["annotators"]) == sorted(rows[pairs["agreed"].id]["annotators"])
    high = rows[pairs["high"].id]
    assert high["provenance"] == "model" and high["score"] == pytest.approx(0.93) and high["annotators"] == []
    rejected = {json.loads(line)["id"]: json.loads(line)["reason"] for line in (out / "rejected.jsonl").open()}
    assert rejected == {
        pairs["tie"].id: "tie (2 annotators)",
        pairs["bad"].id: "judged bad by 2 of 2",
        pairs["low"].id: "filter score 0.310 < 0.600",
    }
    jsonl = [json.loads(line) for s in ("train", "validation") for line in (out / "data" / f"{s}.jsonl").open()]
    assert {r["id"] for r in jsonl} == set(rows)
    chat = [json.loads(line) for s in ("train", "validation") for line in (out / "data" / f"chat-{s}.jsonl").open()]
    assert {c["messages"][1]["content"] for c in chat} == {r["target"] for r in rows.values()}
    assert all(c["messages"][0]["role"] == "user" and c["messages"][1]["role"] == "assistant" for c in chat)

    card = (out / "README.md").read_text()
    by_split = {
        s: [r for r in rows_of(out) if r in pq.read_table(out / "data" / f"{s}.parquet").to_pylist()]
        for s in ("train", "validation")
    }
    for split, items in by_split.items():
        human = sum(r["provenance"] == "human" for r in items)
        model = sum(r["provenance"] == "model" for r in items)
        assert f"| {split} | {human} | {model} | {human + model} |" in card
    assert "| all | 2 | 1 | 3 |" in card and f"model `{stored.version}`" in card
    assert "auto-accept threshold used: 0.600" in card and "Corrected by annotators: 1." in card


def test_export_twice_is_byte_identical_and_refuses_to_overwrite_silently(exported_dataset, tmp_path):
    config, _, stored = exported_dataset
    out = tmp_path / "curated"
    args = ["--output", str(out), "--model", str(stored.path), "--auto-accept", "--include-rejected"]
    assert run(config, *args).exit_code == 0
    first = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    refused = run(config, *args)
    assert refused.exit_code == 1 and "exists: pass --overwrite" in refused.output
    assert run(config, *args, "--overwrite").exit_code == 0
    second = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert first == second and len(first) >= 6

    (out / "data" / "my-notes.txt").write_text("not the tool's")  # --overwrite never deletes what it did not write
    refused = run(config, *args, "--overwrite")
    assert refused.exit_code == 1 and "holds files an export did not write (data/my-notes.txt)" in refused.output
    assert (out / "data" / "my-notes.txt").read_text() == "not the tool's" and (out / "README.md").exists()


def test_errors_are_caught_before_any_work(exported_dataset, tmp_path, monkeypatch):
    config, _, stored = exported_dataset
    monkeypatch.delenv("HF_TOKEN", raising=False)
    r = run(config, "--to-hub", "me/curated")
    assert r.exit_code == 1 and "HF_TOKEN" in r.output
    r = run(config, "--to-hub", "not a repo!", "--output", str(tmp_path / "x"))
    assert r.exit_code == 1 and "not a valid repo id" in r.output
    r = run(config, "--output", str(tmp_path / "x"), "--auto-accept")
    assert r.exit_code == 1 and "pass --model DIR" in r.output
    r = run(config)
    assert r.exit_code == 1 and "--output DIR and/or --to-hub" in r.output
    assert not (tmp_path / "x").exists()


def test_push_to_the_hub_goes_through_huggingface_hub_with_the_right_files(exported_dataset, monkeypatch):
    import huggingface_hub

    config, _, stored = exported_dataset
    RecordingApi.calls = []
    calls = RecordingApi.calls
    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingApi)
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    r = run(config, "--to-hub", "me/en-es-curated", "--model", str(stored.path), "--auto-accept")
    assert r.exit_code == 0, r.output
    assert calls[0] == ("init", "hf_test_token")
    assert calls[1] == ("create_repo", "me/en-es-curated", "dataset", True, True)
    _, repo, kind, files, delete = calls[2]
    assert repo == "me/en-es-curated" and kind == "dataset"
    assert files == [
        "README.md",
        "data/train.jsonl",
        "data/train.parquet",
        "data/validation.jsonl",
        "data/validation.parquet",
    ]
    assert "data/*" in delete  # a second push replaces the data files instead of adding to them


def test_a_model_that_reached_no_threshold_accepts_nothing_and_says_so(exported_dataset, tmp_path):
    """8 labels cannot bound a precision of 0.9: no threshold, so the export never auto-accepts at "1.000" and
    lists no unjudged pair as rejected below it."""
    config, pairs, stored = exported_dataset
    assert json.loads((stored.path / "metadata.json").read_text())["metrics"]["threshold_precision"] is None
    out = tmp_path / "curated"
    result = run(config, "--output", str(out), "--model", str(stored.path), "--auto-accept", "--include-rejected")
    assert result.exit_code == 0, result.output
    assert "(human 2, model 0: the model reached no auto-accept threshold)" in result.output
    assert {r["id"] for r in rows_of(out)} == {pairs["agreed"].id, pairs["corrected"].id}
    rejected = {json.loads(line)["id"] for line in (out / "rejected.jsonl").open()}
    assert rejected == {pairs["tie"].id, pairs["bad"].id}
    card = (out / "README.md").read_text()
    assert "auto-accept threshold: none (the model reached none)" in card and "threshold used" not in card

"""The real Argilla behind a network that fails: 503 answers and connections dropped after Argilla did the write.
Setup and retrain ride them out (retries with backoff on requests that are safe to repeat) and leave exactly one
record per pair and one suggestion per record. And input that used to arrive damaged reaches Argilla as it was."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from curator_project import REPO, make_project
from faulty_proxy import FaultyProxy

SETUP = ("setup_workspace.py", "--config", "config.yaml", "--labels", "sample/judged.tsv")


@pytest.fixture
def project(tmp_path, argilla_stack, tiny_model):
    _, dataset = make_project(
        tmp_path,
        tiny_model,
        argilla="  batch_size: 40\n",
        train="  suggest_min_auc: 0\n  target_precision: 0.3\n  min_suggested: 3\n",  # the tiny model suggests too
    )
    return tmp_path, dataset


def run(root: Path, url: str, key: str, *args: str) -> str:
    env = {**os.environ, "ARGILLA_API_URL": url, "ARGILLA_API_KEY": key}
    script = [str(REPO / args[0]), *args[1:]] if args[0].endswith(".py") else list(args)
    done = subprocess.run([sys.executable, *script], cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def records(argilla_stack, name: str) -> list[dict]:
    http = argilla_stack.http()
    (dataset,) = [d for d in http.get("/api/v1/me/datasets").json()["items"] if d["name"] == name]
    response = http.get(
        f"/api/v1/datasets/{dataset['id']}/records", params={"include": "responses,suggestions", "limit": 1000}
    )
    return response.json()["items"]


def test_setup_and_retrain_ride_out_503s_and_dropped_connections(project, argilla_stack):
    root, name = project
    key = argilla_stack.credentials.api_key
    bulk = ("PUT", r"/api/v1/datasets/[^/]+/records/bulk$")
    with FaultyProxy(argilla_stack.url, {bulk: ["503", "pass", "drop", "503", "503", "pass", "drop"]}) as proxy:
        run(root, proxy.url, key, *SETUP)
    assert proxy.injected == {"503": 3, "drop": 2}, proxy.injected
    ids = [r["external_id"] for r in records(argilla_stack, name)]
    assert len(ids) == len(set(ids))  # nothing twice
    run(root, argilla_stack.url, key, *SETUP)  # nothing missing: a re-run on a healthy network adds nothing
    assert sorted(r["external_id"] for r in records(argilla_stack, name)) == sorted(ids)
    logged = len(ids)

    reads = ("GET", r"/api/v1/datasets/[^/]+/records$")
    faults = {bulk: ["503", "drop", "pass", "503", "drop", "503"], reads: ["503", "drop"]}
    with FaultyProxy(argilla_stack.url, faults) as proxy:
        out = run(root, proxy.url, key, "train_filter.py", "--config", "config.yaml")
    assert proxy.injected == {"503": 4, "drop": 3}, proxy.injected
    suggested = int(re.search(r"(\d+) of \d+ unjudged pairs got a quality suggestion", out).group(1))
    stored = records(argilla_stack, name)
    assert len(stored) == logged
    pending = [r for r in stored if not any(x["status"] == "submitted" for x in r.get("responses") or [])]
    assert pending and all("filter_score" in r["metadata"] for r in pending)
    for r in stored:  # one suggestion per question at most, whatever was retried
        questions = [s["question_id"] for s in r.get("suggestions") or []]
        assert len(questions) == len(set(questions))
    assert suggested > 0 and sum(bool(r.get("suggestions")) for r in pending) == suggested


def test_argilla_failing_for_good_is_one_line_with_how_far_it_got(project, argilla_stack):
    root, name = project
    key = argilla_stack.credentials.api_key
    run(root, argilla_stack.url, key, *SETUP)
    before = records(argilla_stack, name)
    bulk = ("PUT", r"/api/v1/datasets/[^/]+/records/bulk$")
    with FaultyProxy(argilla_stack.url, {bulk: ["pass"] + ["503"] * 20}) as proxy:
        env = {**os.environ, "ARGILLA_API_URL": proxy.url, "ARGILLA_API_KEY": key}
        done = subprocess.run(
            [sys.executable, str(REPO / "train_filter.py"), "--config", "config.yaml"],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    (line,) = [x for x in done.stderr.splitlines() if x.startswith("Error:")]
    assert "Argilla answered HTTP 503 while suggestions were written (32 of " in line and "4 tries" in line
    assert "re-run train_filter.py; nothing will be duplicated" in line
    after = records(argilla_stack, name)
    assert [r["external_id"] for r in after] == [r["external_id"] for r in before]
    assert [r.get("responses") for r in after] == [r.get("responses") for r in before]  # answers untouched
    # a re-run on a healthy network completes it
    run(root, argilla_stack.url, key, "train_filter.py", "--config", "config.yaml")
    pending = [r for r in records(argilla_stack, name) if not r.get("responses")]
    assert pending and all("filter_score" in r["metadata"] for r in pending)


def test_a_quoted_csv_and_control_characters_reach_argilla_as_the_pairs_they_are(project, argilla_stack):
    root, name = project
    (root / "in.csv").write_text(
        "source,target\n"
        '"Excuse me, where is the train station?","Perdone, ¿dónde está la estación de tren?"\n'
        '"Is breakfast included, or is it extra?","¿El desayuno está incluido, o se paga aparte?"\n'
        "Good night\x00 and sleep well.,Buenas noches\x00 y que descanses.\n",
        encoding="utf-8",
    )
    out = run(
        root, argilla_stack.url, argilla_stack.credentials.api_key, "setup_workspace.py", "--config", "config.yaml",
        "--input", "in.csv",
    )  # fmt: skip
    assert "control characters (NUL and the like) removed: 1" in out
    got = sorted((r["fields"]["source"], r["fields"]["target"]) for r in records(argilla_stack, name))
    assert got == [
        ("Excuse me, where is the train station?", "Perdone, ¿dónde está la estación de tren?"),
        ("Good night and sleep well.", "Buenas noches y que descanses."),
        ("Is breakfast included, or is it extra?", "¿El desayuno está incluido, o se paga aparte?"),
    ]


def test_setup_stopped_by_argilla_says_how_many_records_the_dataset_holds(project, argilla_stack):
    """A failure mid-setup (a full disk on the server answers 500s) said "0 records logged" when 256 were stored:
    the line now says what this run sent and what the dataset holds."""
    root, name = project
    key = argilla_stack.credentials.api_key
    bulk = ("PUT", r"/api/v1/datasets/[^/]+/records/bulk$")
    with FaultyProxy(argilla_stack.url, {bulk: ["pass", "pass"] + ["503"] * 20}) as proxy:
        env = {**os.environ, "ARGILLA_API_URL": proxy.url, "ARGILLA_API_KEY": key}
        done = subprocess.run(
            [sys.executable, str(REPO / SETUP[0]), *SETUP[1:]], cwd=root, env=env, capture_output=True, text=True
        )
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    (line,) = [x for x in done.stderr.splitlines() if x.startswith("Error:")]
    assert "with 80 records sent by this run (80 records in the dataset now)" in line, line
    assert len(records(argilla_stack, name)) == 80
    run(root, argilla_stack.url, key, *SETUP)  # a re-run completes it
    ids = [r["external_id"] for r in records(argilla_stack, name)]
    assert len(ids) == len(set(ids)) > 80

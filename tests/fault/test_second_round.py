"""The second hardening round (issue 21), through the real commands and the real stack: a re-run of setup keeps
what annotators answered since and what the filter wrote; one annotator's contradicting rows are reported; two
trainings at once get two versions; a full disk is one line with nothing half-written (a small tmpfs); a model
folder's pickle never runs; shards' malformed rows are reported; what the server answers without a login."""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from curator_project import REPO, make_project
from tiny_model import COPIES, GOOD

from curation.annotation import schema

TUNED = "  suggest_min_auc: 0\n  target_precision: 0.5\n"  # the tiny model suggests labels too
SETUP = ["setup_workspace.py", "--config", "config.yaml", "--labels", "sample/judged.tsv"]


def command(root: Path, env: dict, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    script = [str(REPO / args[0]), *args[1:]] if args[0].endswith(".py") else list(args)
    return subprocess.run([sys.executable, *script], cwd=root, env=env, capture_output=True, text=True, timeout=timeout)


def ok(root: Path, env: dict, *args: str) -> str:
    done = command(root, env, *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def one_error_line(done: subprocess.CompletedProcess) -> str:
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert done.returncode != 0 and "Traceback" not in done.stderr, lines
    assert len(lines) == 1 and lines[0].startswith("Error: "), lines
    return lines[0]


@pytest.fixture(scope="module")
def curated(argilla_stack, tiny_model, tmp_path_factory):
    """A project after setup with the sample's judgments and a retrain from Argilla (scores, priority,
    suggestions written back)."""
    root = tmp_path_factory.mktemp("second-round")
    workspace, dataset = make_project(root, tiny_model, train=TUNED)
    env = {**os.environ, "ARGILLA_API_URL": argilla_stack.url, "ARGILLA_API_KEY": argilla_stack.credentials.api_key}
    ok(root, env, *SETUP)
    ok(root, env, "train_filter.py", "--config", "config.yaml")
    return root, env, dataset


def listing(argilla_stack, name: str) -> tuple[str, list[dict]]:
    http = argilla_stack.http()
    (dataset,) = [d for d in http.get("/api/v1/me/datasets").json()["items"] if d["name"] == name]
    items = http.get(
        f"/api/v1/datasets/{dataset['id']}/records", params={"include": "responses,suggestions", "limit": 1000}
    ).json()["items"]
    return dataset["id"], items


def snapshot(items: list[dict]) -> dict:
    """Per record: every response (who, status, values), every suggestion and the metadata."""
    return {
        r["external_id"]: (
            sorted((x["user_id"], x["status"], json.dumps(x["values"], sort_keys=True)) for x in r["responses"] or []),
            sorted((x["question_id"], json.dumps(x["value"]), x["agent"]) for x in r["suggestions"] or []),
            json.dumps(r["metadata"], sort_keys=True),
        )
        for r in items
    }


def login(argilla_stack, root: Path, username: str):
    passwords = json.loads((root / "annotators" / "passwords.json").read_text())[argilla_stack.url]
    return argilla_stack.login(username, passwords[username])


def test_a_rerun_of_setup_keeps_annotators_later_answers_and_the_filters_ranking(curated, argilla_stack):
    root, env, name = curated
    _, items = listing(argilla_stack, name)
    users = {u["username"]: u["id"] for u in argilla_stack.http().get("/api/v1/users").json()["items"]}
    suffix = name.split("-")[1]  # this project's annotators (the session's server holds other tests' too)
    ana, ben = f"ana-{suffix}", f"ben-{suffix}"
    ranked = [r for r in items if "filter_score" in r["metadata"]]
    assert ranked and all("priority" in r["metadata"] and "filter_model" in r["metadata"] for r in ranked)

    # ana changes her mind in the UI on a pair the file has her judge: label, errors and a correction
    record = next(r for r in items if any(x["user_id"] == users[ana] for x in r["responses"] or []))
    mine = next(x for x in record["responses"] if x["user_id"] == users[ana])
    was = mine["values"][schema.QUALITY]["value"]
    changed = {
        schema.QUALITY: {"value": "bad" if was == "good" else "good"},
        schema.ERRORS: {"value": [next(iter(schema.ERROR_LABELS))]},
        schema.CORRECTION: {"value": record["fields"]["target"] + " (corregido)"},
    }
    with login(argilla_stack, root, ana) as http:
        put = http.put(f"/api/v1/responses/{mine['id']}", json={"values": changed, "status": "submitted"})
        assert put.status_code == 200, put.text
    # the file gains a row by ben on a pair only ana judged: imported, since ben has not answered it
    judged = (root / "sample" / "judged.tsv").read_text(encoding="utf-8").splitlines()
    header, rows = judged[0], [line.split("\t") for line in judged[1:]]
    by_pair: dict[tuple[str, str], set[str]] = {}
    for row in rows:
        by_pair.setdefault((row[0], row[1]), set()).add(row[4])
    only_ana = next(pair for pair, who in by_pair.items() if who == {ana})
    (root / "more.tsv").write_text(
        "\n".join([header, *judged[1:], "\t".join([*only_ana, "good", "", ben])]) + "\n", encoding="utf-8"
    )
    _, items = listing(argilla_stack, name)
    before = snapshot(items)

    out = ok(root, env, "setup_workspace.py", "--config", "config.yaml", "--labels", "more.tsv")
    _, items = listing(argilla_stack, name)
    after = snapshot(items)
    assert "1 responses imported" in out and "kept as they are in Argilla" in out, out
    added = {rid for rid in after if after[rid] != before[rid]}
    assert len(added) == 1 and set(after) == set(before)  # one record gained ben's response, nothing else moved
    (rid,) = added
    new = [x for x in after[rid][0] if x not in before[rid][0]]
    assert [(u, status) for u, status, _ in new] == [(users[ben], "submitted")]
    assert after[rid][1:] == before[rid][1:]  # its suggestions and metadata too
    again = next(r for r in items if r["id"] == record["id"])
    assert next(x for x in again["responses"] if x["user_id"] == users[ana])["values"] == changed
    assert sum("filter_score" in r["metadata"] for r in items) == len(ranked)


def test_an_annotators_contradicting_rows_are_reported_and_left_out(curated, tmp_path):
    root, env, _ = curated
    rows = [(s, t, "good", "ana") for s, t in GOOD] + [(s, t, "bad", "ana") for s, t in COPIES]
    rows += [(*GOOD[0], "bad", "ana"), (*GOOD[1], "good", "ana")]  # a contradiction, and a repeat
    (root / "torn.tsv").write_text(
        "source\ttarget\tlabel\tannotator\n" + "".join("\t".join(r) + "\n" for r in rows), encoding="utf-8"
    )
    out = ok(root, env, "train_filter.py", "--config", "config.yaml", "--labels", "torn.tsv", "--models-dir", "torn")
    assert "1 pair judged both good and bad by the same annotator (ana) left out of that annotator's votes" in out
    assert "(rows torn.tsv:2, torn.tsv:34)" in out
    meta = json.loads((root / "torn" / "latest" / "metadata.json").read_text())
    assert meta["label_counts"] == {"good": 15, "bad": 16}  # the good votes stay (all but the torn pair)


def test_two_trainings_at_once_get_two_versions(curated):
    root, env, _ = curated
    (root / "twice.tsv").write_text(
        "source\ttarget\tlabel\n" + "".join(f"{s}\t{t}\tgood\n" for s, t in GOOD)
        + "".join(f"{s}\t{t}\tbad\n" for s, t in COPIES),
        encoding="utf-8",
    )  # fmt: skip
    args = [sys.executable, str(REPO / "train_filter.py"), "--config", "config.yaml", "--labels", "twice.tsv"]
    runs = [
        subprocess.Popen([*args, "--models-dir", "twice"], cwd=root, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=600)[0] for p in runs]
    assert [p.returncode for p in runs] == [0, 0], outs
    versions = sorted(p.name for p in (root / "twice").glob("v*"))
    assert [v[:5] for v in versions] == ["v0001", "v0002"], versions
    assert all(any(v in out for out in outs) for v in versions)


def test_a_pickle_in_a_shared_model_folder_never_runs(curated):
    root, env, _ = curated
    shared = root / "shared-model"
    shutil.copytree((root / "models" / "latest").resolve(), shared)
    marker = root / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    (shared / "head.json").unlink()
    (shared / "head.joblib").write_bytes(pickle.dumps(Payload()))
    (root / "two.tsv").write_text("source\ttarget\n" + "".join(f"{s}\t{t}\n" for s, t in GOOD[:2]), encoding="utf-8")
    score = ["-m", "curation", "score", "--model", "shared-model", "--input", "two.tsv", "--output", "two.jsonl"]
    line = one_error_line(command(root, env, *score))
    assert "holds its head as a pickle (head.joblib), which can run any code" in line and "--trust-pickle" in line
    assert not marker.exists() and not (root / "two.jsonl").exists()


def test_malformed_rows_of_a_shard_are_counted_and_listed(curated):
    root, env, _ = curated
    shards = root / "shards"
    shards.mkdir()
    good = [json.dumps({"source": s, "target": t}, ensure_ascii=False) for s, t in GOOD[:3]]
    (shards / "a.jsonl").write_text("\n".join([good[0], '{"source": "Hi", "tar', good[1], "[1, 2]", good[2]]) + "\n")
    (shards / "b.tsv").write_text("source\ttarget\n" + "".join(f"{s}\t{t}\n" for s, t in GOOD[3:6]))
    out = ok(root, env, "-m", "curation", "score", "--input", "shards", "--output", "cleaned", "--clean")
    assert "6 pairs from 2 shards" in out
    assert "malformed rows skipped: 2 in 1 shards" in out and "a.jsonl:2: not JSON" in out, out
    (listed,) = json.loads((root / "cleaned" / "_malformed_rows.json").read_text())
    assert listed["malformed"] == 2 and listed["examples"][1].endswith("a.jsonl:4: not an object")


def test_workers_beyond_the_cores_are_capped_and_said(curated):
    root, env, _ = curated
    (root / "many.yaml").write_text("input:\n  path: sample/candidates.tsv\nworkers: 10000\n")
    out = ok(root, env, "setup_workspace.py", "--config", "many.yaml", "--dry-run")
    assert f"workers: 10,000 asked, {os.cpu_count()} used (the cores of this machine)" in out


def test_the_status_page_answers_without_a_login_and_without_paths(argilla_stack):
    import httpx

    response = httpx.get(f"{argilla_stack.url}/api/v1/status")
    assert response.status_code == 200
    assert "search.sqlite" not in response.text and str(argilla_stack.stack.data_dir) not in response.text
    assert response.json()["search_engine"]["distribution"] == "curation-embedded-sqlite"


def test_a_range_search_with_a_bound_that_is_not_a_number_is_a_422(curated, argilla_stack):
    root, _, name = curated
    dataset_id, _ = listing(argilla_stack, name)
    ana = f"ana-{name.split('-')[1]}"
    scope = {"entity": "metadata", "metadata_property": "filter_score"}
    with login(argilla_stack, root, ana) as http:
        url = f"/api/v1/me/datasets/{dataset_id}/records/search"
        for bound, status in (("NaN", 422), ("abc", 422), ("Infinity", 422), (0.5, 200), ("0.5", 200)):
            body = {"filters": {"and": [{"type": "range", "scope": scope, "ge": bound}]}}
            response = http.post(url, json=body)
            assert response.status_code == status, (bound, response.text)


# -- disk full ---------------------------------------------------------------------------------------------------


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.name != "filler")


def test_a_full_disk_under_every_output_is_one_line_and_leaves_nothing_half_written(curated, small_disk):
    root, env, _ = curated
    disk, fill = small_disk
    (disk / "models").mkdir()
    (root / "full.yaml").write_text((root / "config.yaml").read_text() + f"output_dir: {disk / 'out'}\n")
    fill(0)
    cases = [
        ("train_filter.py", "--config", "config.yaml", "--labels", "twice.tsv", "--models-dir", str(disk / "models")),
        ("-m", "curation", "score", "--model", "models", "--input", "twice.tsv", "--output", str(disk / "s.jsonl")),
        ("-m", "curation", "export", "--config", "config.yaml", "--output", str(disk / "curated")),
        ("setup_workspace.py", "--config", "full.yaml", "--dry-run"),
    ]
    if not (root / "twice.tsv").exists():
        (root / "twice.tsv").write_text(
            "source\ttarget\tlabel\n" + "".join(f"{s}\t{t}\tgood\n" for s, t in GOOD)
            + "".join(f"{s}\t{t}\tbad\n" for s, t in COPIES)
        )  # fmt: skip
    for args in cases:
        line = one_error_line(command(root, env, *args))
        assert "the disk is full" in line or "No space left on device" in line, (args, line)
        # what may stay: the output folders (made before any work), the models' lock, the feature cache (SQLite:
        # transactional); no file of an output
        made = ("models", "out")
        left = [f for f in files_under(disk) if f not in made and not f.startswith(("models/.lock", "models/signal-"))]
        assert not left, (args, left)


@pytest.mark.parametrize("left", [0, 64 * 1024, 256 * 1024, 1024 * 1024], ids=["0 B", "64 KiB", "256 KiB", "1 MiB"])
def test_a_server_start_on_a_full_disk_is_one_line_stops_what_it_started_and_the_next_start_works(
    small_disk, left, unused_port
):
    disk, fill = small_disk
    data = disk / "argilla"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARGILLA_", "CURATION_"))}
    start = ["-m", "curation", "server", "start", "--data-dir", str(data), "--port", str(unused_port)]
    filler = fill(left)
    done = command(disk.parent, env, *start, timeout=300)
    lines = [x for x in (done.stdout + done.stderr).splitlines() if x.startswith("Error: ")]
    assert done.returncode == 1 and "Traceback" not in done.stderr and len(lines) == 1, done.stdout + done.stderr
    assert not _running_from(data), "a failed start left processes running"
    for path in data.rglob("*.json"):  # whole or absent: never empty, never cut
        json.loads(path.read_text())
    filler.unlink()
    try:
        ok(disk.parent, env, *start)
    finally:
        command(disk.parent, env, "-m", "curation", "server", "stop", "--data-dir", str(data))
    assert not _running_from(data)


def _running_from(data: Path) -> list[int]:
    """Processes whose command line names the data directory (Redis's socket, the stack's children)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = (proc / "environ").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if str(data) in cmdline or f"ARGILLA_HOME_PATH={data}" in environ:
            found.append(int(proc.name))
    for pid in found:  # never leave them behind for the next test, whatever the assertion says
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return found


def test_what_a_curator_feeds_setup_reaches_argilla_as_meant(curated, argilla_stack):
    """A byte order mark (was: no column 'source' (found: '\\ufeffsource')), PII with the space after a card kept
    and an unspaced phone number masked, and the quoted-field advice naming the config key setup reads."""
    root, env, _ = curated
    (root / "bom.tsv").write_text(
        "\ufeffsource\ttarget\n"
        "My card is 4111 1111 1111 1111 and it works.\tMi tarjeta es 4111 1111 1111 1111 y funciona.\n"
        "Call 612345678.\tLlame al 612345678.\n"
        '"Quoted, as a CSV would be."\t"Entre comillas, como en un CSV."\n',
        encoding="utf-8",
    )
    out = ok(root, env, "setup_workspace.py", "--config", "config.yaml", "--input", "bom.tsv", "--dataset", "bom")
    assert "set input.quoting: minimal in the config" in out
    _, items = listing(argilla_stack, "bom")
    got = sorted((r["fields"]["source"], r["fields"]["target"]) for r in items)
    assert ("My card is [CARD] and it works.", "Mi tarjeta es [CARD] y funciona.") in got
    assert ("Call [PHONE].", "Llame al [PHONE].") in got


def test_a_slice_of_a_small_scored_folder(curated):
    root, env, _ = curated
    small = root / "small"
    small.mkdir()
    (small / "a.tsv").write_text("source\ttarget\n" + "".join(f"{s}\t{t}\n" for s, t in GOOD[:6]))
    ok(root, env, "-m", "curation", "score", "--model", "models", "--input", "small", "--output", "small-scored")
    out = ok(root, env, "-m", "curation", "slice", "--scored", "small-scored", "--output", "to_label.parquet")
    assert "6 pairs -> to_label.parquet" in out

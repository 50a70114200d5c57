"""Bad input against the real stack, through the commands as a user runs them (a new process each): one `Error:` line,
a non-zero exit, no traceback, and nothing stored changes (Argilla's workspaces, users, datasets, records,
responses and suggestions; every file of the project, with its mode)."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from curator_project import REPO, make_project
from tiny_model import GOOD

BAD = [(s, s) for s, _ in GOOD]


def judged_tsv(rows) -> str:
    return "source\ttarget\tlabel\n" + "".join(f"{s}\t{t}\t{label}\n" for s, t, label in rows)


@pytest.fixture(scope="module")
def project(argilla_stack, tiny_model, tmp_path_factory):
    """A curator's project after setup (sample candidates and judgments in Argilla) and one trained filter."""
    root = tmp_path_factory.mktemp("project")
    workspace, dataset = make_project(root, tiny_model)
    (root / "few.tsv").write_text(judged_tsv([(s, t, "good") for s, t in GOOD[:5]] + [(*BAD[0], "bad")]))
    (root / "judged.tsv").write_text(judged_tsv([(s, t, "good") for s, t in GOOD] + [(s, t, "bad") for s, t in BAD]))
    env = {**os.environ, "ARGILLA_API_URL": argilla_stack.url, "ARGILLA_API_KEY": argilla_stack.credentials.api_key}
    for args in (
        ["setup_workspace.py", "--config", "config.yaml", "--labels", "sample/judged.tsv"],
        ["train_filter.py", "--config", "config.yaml", "--labels", "judged.tsv"],
        ["-m", "curation", "score", "--model", "models", "--input", "judged.tsv", "--output", "scored.jsonl"],
        ["-m", "curation", "export", "--config", "config.yaml", "--output", "curated"],
    ):
        done = subprocess.run([sys.executable, *_script(args)], cwd=root, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    (root / "curated" / "my-notes.txt").write_text("not the tool's")
    return root, env, workspace, dataset


def _script(args: list[str]) -> list[str]:
    return [str(REPO / args[0]), *args[1:]] if args[0].endswith(".py") else args


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stored(argilla_stack, root: Path) -> dict:
    """Everything a failed command must leave as it was."""
    http = argilla_stack.http()
    datasets = http.get("/api/v1/me/datasets").json()["items"]
    state = {
        "workspaces": sorted(w["name"] for w in http.get("/api/v1/me/workspaces").json()["items"]),
        "users": sorted((u["username"], u["role"]) for u in http.get("/api/v1/users").json()["items"]),
        "datasets": sorted(d["name"] for d in datasets),
    }
    for d in datasets:
        listed = http.get(
            f"/api/v1/datasets/{d['id']}/records", params={"include": "responses,suggestions", "limit": 1000}
        ).json()["items"]
        state[d["name"]] = sorted(
            (
                r["external_id"],
                repr(sorted(r["fields"].items())),
                repr(sorted((x["user_id"], x["status"], repr(x["values"])) for x in r.get("responses") or [])),
                repr(sorted((x["question_id"], repr(x["value"]), x["agent"]) for x in r.get("suggestions") or [])),
            )
            for r in listed
        )
    for path in sorted(root.rglob("*")):
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        state[str(path.relative_to(root))] = (digest, path.stat().st_mode, path.is_symlink() and os.readlink(path))
    return state


BASE = "input:\n  path: sample/candidates.tsv\n"  # a config whose only fault is the one a case adds
# (what is wrong, command line, files to write first, what the one line says)
CASES = [
    (
        "batch_size 0 (uploaded nothing, exit 0)",
        ["setup_workspace.py", "--config", "c.yaml"],
        {"c.yaml": BASE + "argilla:\n  dataset: fresh\n  batch_size: 0\n"},
        "argilla.batch_size must be a whole number of at least 1, not 0",
    ),
    (
        "batch_size -3 (islice() message after users were created)",
        ["setup_workspace.py", "--config", "c.yaml"],
        {"c.yaml": BASE + "argilla:\n  dataset: fresh\n  batch_size: -3\n"},
        "argilla.batch_size must be a whole number of at least 1, not -3",
    ),
    (
        'batch_size "abc"',
        ["setup_workspace.py", "--config", "c.yaml"],
        {"c.yaml": BASE + "argilla:\n  dataset: fresh\n  batch_size: abc\n"},
        "argilla.batch_size must be a whole number of at least 1, not 'abc'",
    ),
    (
        "vector_dimensions -10 (pydantic dump, empty dataset left behind)",
        ["setup_workspace.py", "--config", "c.yaml"],
        {"c.yaml": BASE + "argilla:\n  dataset: fresh\n  vector_dimensions: -10\n"},
        "argilla.vector_dimensions must be a whole number from 2 to 4,096, not -10",
    ),
    (
        "min_submitted -1",
        ["setup_workspace.py", "--config", "c.yaml"],
        {"c.yaml": BASE + "argilla:\n  dataset: fresh\n  min_submitted: -1\n"},
        "argilla.min_submitted must be a whole number of at least 1, not -1",
    ),
    (
        "a filter's max_chars -1",
        ["setup_workspace.py", "--config", "c.yaml"],
        {"c.yaml": BASE + "argilla:\n  dataset: fresh\nfilters:\n  - length: {max_chars: -1}\n"},
        "max_chars",
    ),
    (
        "an unknown config key",
        ["setup_workspace.py", "--config", "c.yaml"],
        {"c.yaml": BASE + "argilla:\n  datset: fresh\n"},
        "unknown config key argilla.datset",
    ),
    (
        "a config that is not YAML",
        ["setup_workspace.py", "--config", "c.yaml"],
        {"c.yaml": BASE + "argilla: [unclosed\n  dataset: fresh\n"},
        "c.yaml is not valid YAML",
    ),
    (
        "input without a target column",
        ["setup_workspace.py", "--config", "c.yaml"],
        {"c.yaml": "input:\n  path: in.tsv\nargilla:\n  dataset: fresh\n", "in.tsv": "source\ttext\nHi\tHola\n"},
        "no column 'target'",
    ),
    (
        "input in another encoding than UTF-8",
        ["setup_workspace.py", "--config", "c.yaml"],
        {"c.yaml": "input:\n  path: in.tsv\nargilla:\n  dataset: fresh\n", "in.tsv": b"source\ttarget\nYes\tS\xed\n"},
        "UTF-8",
    ),
    (
        "input file missing",
        ["setup_workspace.py", "--config", "c.yaml", "--input", "nowhere.tsv"],
        {"c.yaml": BASE + "argilla:\n  dataset: fresh\n"},
        "nowhere.tsv",
    ),
    (
        "--labels file missing",
        ["setup_workspace.py", "--config", "config.yaml", "--labels", "nowhere.tsv"],
        {},
        "labels file nowhere.tsv does not exist",
    ),
    (
        "Argilla down",
        ["setup_workspace.py", "--config", "config.yaml"],
        {"env": {"ARGILLA_API_URL": "http://127.0.0.1:{free_port}"}},
        "Argilla is not reachable at http://127.0.0.1:",
    ),
    (
        "a wrong API key",
        ["setup_workspace.py", "--config", "config.yaml"],
        {"env": {"ARGILLA_API_KEY": "not-a-key"}},
        "rejected the API key",
    ),
    (
        "too few labels",
        ["train_filter.py", "--config", "config.yaml", "--labels", "few.tsv"],
        {},
        "too few labels: 5 good and 1 bad",
    ),
    (
        "judged file without a label column",
        ["train_filter.py", "--config", "config.yaml", "--labels", "in.tsv"],
        {"in.tsv": "source\ttarget\nHi\tHola\n"},
        "label",
    ),
    (
        "--models-dir is a file (raw errno after the model loaded)",
        ["train_filter.py", "--config", "config.yaml", "--labels", "judged.tsv", "--models-dir", "judged.tsv"],
        {},
        "judged.tsv is a file, not a folder: choose a folder",
    ),
    (
        "score onto an existing file (silently overwritten)",
        ["-m", "curation", "score", "--model", "models", "--input", "judged.tsv", "--output", "scored.jsonl"],
        {},
        "scored.jsonl exists: pass --overwrite to replace it",
    ),
    (
        "score into a folder that does not exist (raw errno after the model loaded)",
        ["-m", "curation", "score", "--model", "models", "--input", "judged.tsv", "--output", "no/such/s.jsonl"],
        {},
        "the folder of --output no/such/s.jsonl does not exist",
    ),
    (
        "score an empty input (left a .partial behind)",
        ["-m", "curation", "score", "--model", "models", "--input", "empty.tsv", "--output", "e.jsonl"],
        {"empty.tsv": ""},
        "empty.tsv",
    ),
    (
        "export --overwrite onto a folder holding a file it did not write (deleted it)",
        ["-m", "curation", "export", "--config", "config.yaml", "--output", "curated", "--overwrite"],
        {},
        "holds files an export did not write (my-notes.txt)",
    ),
    (
        "export to nowhere",
        ["-m", "curation", "export", "--config", "config.yaml"],
        {},
        "say where to: --output DIR and/or --to-hub",
    ),
    (
        "slice of a folder that is not scored output",
        ["-m", "curation", "slice", "--scored", "annotators", "--output", "s.parquet"],
        {},
        "annotators",
    ),
]


@pytest.mark.parametrize(("case", "args", "files", "says"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_a_non_zero_exit_and_nothing_stored_changes(
    project, argilla_stack, case, args, files, says
):
    root, env, _, _ = project
    files = dict(files)
    env = {**env, **{k: v.format(free_port=free_port()) for k, v in files.pop("env", {}).items()}}
    written = []
    for name, content in files.items():
        path = root / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        written.append(path)
    before = stored(argilla_stack, root)
    try:
        done = subprocess.run(
            [sys.executable, *_script(args)], cwd=root, env=env, capture_output=True, text=True, timeout=300
        )
    finally:
        after = stored(argilla_stack, root)
        for path in written:
            path.unlink()
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert done.returncode != 0, lines
    assert len(lines) == 1 and lines[0].startswith("Error: ") and says in lines[0], lines
    assert after == before


def test_labels_that_contradict_each_other_are_ties_and_a_backwards_model_never_becomes_latest(project):
    root, env, _, _ = project
    latest = (root / "models" / "latest").resolve()
    # near-twins with opposite labels (whatever a fold learns, it gets the other fold backwards), and one pair
    # judged both good and bad (trained anyway before)
    rows = [(s, t, "good") for s, t in GOOD] + [(s, t.rstrip("?.") + "!", "bad") for s, t in GOOD]
    (root / "twisted.tsv").write_text(judged_tsv([*rows, (*GOOD[0], "bad")]))
    done = subprocess.run(
        [sys.executable, str(REPO / "train_filter.py"), "--config", "config.yaml", "--labels", "twisted.tsv"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 1 and "Traceback" not in out, out
    assert "1 pair judged both good and bad in twisted.tsv left out (rows twisted.tsv:2, twisted.tsv:" in out
    assert out.strip().splitlines()[-1].startswith("Error: ") and "ranks pairs backwards" in out
    assert (root / "models" / "latest").resolve() == latest

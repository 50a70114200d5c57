"""Bad input against the real stack, through the commands as a user runs them (a new process each): one `Error:` line,
a non-zero exit, no traceback, and nothing stored changes (Argilla's workspaces, users, datasets, records,
responses and suggestions; every file of the project, with its mode)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
from curator_project import REPO, make_project, stored
from tiny_model import GOOD

BAD = [(s, s) for s, _ in GOOD]


def _npy(rows: int, width: int) -> bytes:
    import io

    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, np.zeros((rows, width), dtype=np.float32))
    return buffer.getvalue()


NPY_3x4, NPY_32x4 = _npy(3, 4), _npy(32, 4)  # judged.tsv has 32 rows


CONFIG = "<the project's config.yaml>\n"  # a file content that starts with it: that config, then the rest


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
        "a toxicity list that does not exist",
        ["setup_workspace.py", "--config", "c.yaml"],
        {"c.yaml": BASE + "argilla:\n  dataset: fresh\nfilters:\n  - toxicity: {lists: {es: twl.txt}}\n"},
        "toxicity list twl.txt does not exist",
    ),
    (
        "a toxicity list that is not UTF-8",
        ["setup_workspace.py", "--config", "c.yaml"],
        {
            "c.yaml": BASE + "argilla:\n  dataset: fresh\nfilters:\n  - toxicity: {lists: {es: twl.txt}}\n",
            "twl.txt": b"maldici\xf3n\n",
        },
        "toxicity list twl.txt is not UTF-8 text",
    ),
    (
        "a language with no toxicity list",
        ["setup_workspace.py", "--config", "c.yaml"],
        {"c.yaml": BASE + "argilla:\n  dataset: fresh\nfilters:\n  - toxicity: {target_lang: gl}\n"},
        "no toxicity list for language 'gl'",
    ),
    (
        "a negative toxicity max_difference",
        ["setup_workspace.py", "--config", "c.yaml"],
        {"c.yaml": BASE + "argilla:\n  dataset: fresh\nfilters:\n  - toxicity: {max_difference: -1}\n"},
        "max_difference must be a whole number of at least 0, not -1",
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


FRESH = BASE + "argilla:\n  workspace: never-made\n  dataset: fresh\n"  # what a failed setup must not create
HEADER = "source\ttarget\tlabel\tannotator\n"
TRAIN = ["train_filter.py", "--config", "config.yaml", "--labels"]
SCORE = ["-m", "curation", "score", "--model", "models", "--input", "judged.tsv", "--output", "s2.jsonl"]
EXPORT = ["-m", "curation", "export", "--config", "config.yaml", "--output", "curated2", "--model", "models"]


def _parquet_with_a_list_column() -> bytes:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(pa.table({"source": [["Hello", "there"]], "target": ["Hola"]}), buffer)
    return buffer.getvalue()


# the second hardening round (issue 21): each failed with a traceback, after writing, or not at all
CASES += [
    (
        "Parquet input whose source is a list (silently became the text \"['a', 'b']\")",
        ["setup_workspace.py", "--config", "c.yaml", "--input", "in.parquet"],
        {"c.yaml": FRESH, "in.parquet": _parquet_with_a_list_column()},
        "column 'source' of in.parquet holds list<",
    ),
    (
        "setup --labels with an invalid label (failed after workspace, users, dataset and records were made)",
        ["setup_workspace.py", "--config", "c.yaml", "--labels", "l.tsv"],
        {"c.yaml": FRESH, "l.tsv": HEADER + "Hello.\tHola.\tgood\t\nBye.\tAdiós.\tmaybe\t\n"},
        "labels file l.tsv, row 3: label must be good/bad or 1/0, not 'maybe'",
    ),
    (
        "setup --labels naming an annotator nobody knows (failed after every write)",
        ["setup_workspace.py", "--config", "c.yaml", "--labels", "l.tsv"],
        {"c.yaml": FRESH, "l.tsv": HEADER + "Hello.\tHola.\tgood\tzed-nobody\n"},
        "names annotator 'zed-nobody', who is neither in",
    ),
    *[
        (
            f"export --threshold {t} (accepted: -1 auto-accepts pairs the model rates bad)",
            [*EXPORT, "--auto-accept", "--threshold", t],
            {},
            "--threshold must be a filter score from 0 to 1",
        )
        for t in ("-1", "5", "nan")
    ],
    (
        "a judged JSONL with a broken line (traceback)",
        [*TRAIN, "l.jsonl"],
        {"l.jsonl": '{"source": "Hi.", "target": "Hola.", "label": "good"}\n{"source": "Bye.", "targ\n'},
        "labels file l.jsonl, line 2 is not valid JSON",
    ),
    (
        "a judged JSONL line that is a list (traceback)",
        [*TRAIN, "l.jsonl"],
        {"l.jsonl": "[1, 2]\n"},
        "labels file l.jsonl, line 1: expected a JSON object with source, target and label, found a list",
    ),
    (
        "a judged TSV in Latin-1 (traceback)",
        [*TRAIN, "l.tsv"],
        {"l.tsv": "source\ttarget\tlabel\nYes.\tS\xed.\tgood\n".encode("latin-1")},
        "labels file l.tsv is not UTF-8",
    ),
    (
        "a judged file with a header only ('every label is good (0 labels)')",
        [*TRAIN, "l.tsv"],
        {"l.tsv": "source\ttarget\tlabel\n"},
        "labels file l.tsv holds no judged rows",
    ),
    (
        "a judged file whose every pair is a tie ('every label is good (0 labels)')",
        [*TRAIN, "l.tsv"],
        {"l.tsv": "source\ttarget\tlabel\nHi.\tHola.\tgood\nHi.\tHola.\tbad\n"},
        "every pair in l.tsv is a tie (1 judged as often good as bad)",
    ),
    (
        "dedup.num_perm 100000000 (memory error)",
        ["setup_workspace.py", "--config", "c.yaml"],
        {"c.yaml": FRESH + "dedup:\n  num_perm: 100000000\n"},
        "dedup.num_perm must be a whole number from 2 to 1,024, not 100000000",
    ),
    (
        "argilla.vector_dimensions 500000000 (memory error, an empty dataset left in Argilla)",
        ["setup_workspace.py", "--config", "c.yaml"],
        {"c.yaml": FRESH.replace("dataset: fresh", "dataset: fresh\n  vector_dimensions: 500000000")},
        "argilla.vector_dimensions must be a whole number from 2 to 4,096, not 500000000",
    ),
    (
        "setup --workspace ../x (pydantic dump)",
        ["setup_workspace.py", "--config", "c.yaml", "--workspace", "../x"],
        {"c.yaml": FRESH},
        "argilla.workspace must be a name of letters, digits, - and _ (at most 100), not '../x'",
    ),
    (
        "a 300-character dataset name",
        ["setup_workspace.py", "--config", "c.yaml", "--dataset", "d" * 300],
        {"c.yaml": FRESH},
        "argilla.dataset must be a name of letters, digits, spaces, ., - and _ (at most 200), not 'ddd",
    ),
    (
        "length min_chars above max_chars (dropped everything)",
        ["setup_workspace.py", "--config", "c.yaml"],
        {"c.yaml": FRESH + "filters:\n  - length: {min_chars: 50, max_chars: 10}\n"},
        "filter 'length': min_chars (50) is above max_chars (10)",
    ),
    (
        "a model folder whose metadata.json holds [] (traceback)",
        ["-m", "curation", "score", "--model", "m", "--input", "judged.tsv", "--output", "s2.jsonl"],
        {"m/metadata.json": "[]", "m/head.json": "{}"},
        "metadata.json is not the metadata train_filter.py writes",
    ),
    (
        "score --batch-size 0 (ignored)",
        [*SCORE, "--batch-size", "0"],
        {},
        "--batch-size must be a whole number of at least 1, not 0",
    ),
    (
        "clusters.k larger than the cleaned pool",
        ["setup_workspace.py", "--config", "c.yaml"],
        {"c.yaml": FRESH + "clusters:\n  enabled: true\n  k: 4000\n"},
        "clusters.k is 4000 but the pool has",
    ),
    (
        "curation cluster --drop naming a cluster that does not exist",
        [
            "-m",
            "curation",
            "cluster",
            "--input",
            "judged.tsv",
            "--output",
            "cl",
            "--embeddings",
            "e.npy",
            "--drop",
            "999",
        ],
        {"e.npy": NPY_32x4},
        "clusters.drop names cluster 999, which does not exist",
    ),
    (
        "clusters on, and a base model that is not there (no embeddings, no model to make them)",
        ["setup_workspace.py", "--config", "c.yaml"],
        {"c.yaml": FRESH + "clusters:\n  enabled: true\ntrain:\n  base_model: ./no-such-model\n"},
        "no embeddings for these pairs and no model to make them",
    ),
    (
        "curation cluster --embeddings of another file's rows",
        ["-m", "curation", "cluster", "--input", "judged.tsv", "--output", "cl", "--embeddings", "e.npy"],
        {"e.npy": NPY_3x4},
        "holds a float32 array of shape (3, 4), not 32 rows",
    ),
    (
        "export with clusters.drop on a dataset setup never clustered",
        ["-m", "curation", "export", "--config", "c.yaml", "--output", "curated3"],
        {"c.yaml": CONFIG + "clusters:\n  drop: [2]\n"},
        "no record of the dataset has one: run setup with clusters.enabled: true first",
    ),
    (
        "export --dataset nosuch (SDK warnings before the Error line)",
        ["-m", "curation", "export", "--config", "config.yaml", "--output", "curated2", "--dataset", "nosuch"],
        {},
        "dataset 'nosuch' not found in workspace",
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
        for folder in reversed(path.relative_to(root).parents[:-1]):
            if not (root / folder).exists():
                (root / folder).mkdir()
                written.append(root / folder)
        if isinstance(content, str) and content.startswith(CONFIG):  # the project's config, with more after it
            content = (root / "config.yaml").read_text() + content[len(CONFIG) :]
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        written.append(path)
    before = stored(argilla_stack, root)
    try:
        done = subprocess.run(
            [sys.executable, *_script(args)], cwd=root, env=env, capture_output=True, text=True, timeout=300
        )
    finally:
        after = stored(argilla_stack, root)
        for path in reversed(written):
            path.rmdir() if path.is_dir() else path.unlink()
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

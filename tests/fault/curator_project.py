"""A curator's project folder as the fault tests start from: the roster, guidelines and sample data, fresh
account and dataset names (accounts are server-wide), and a config that trains with the tiny model."""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def make_project(root: Path, tiny_model: Path, argilla: str = "", train: str = "") -> tuple[str, str]:
    """Fills `root`; `argilla`/`train`: more lines for those config sections. Returns (workspace, dataset)."""
    shutil.copytree(REPO / "annotators", root / "annotators", ignore=shutil.ignore_patterns("passwords*"))
    shutil.copytree(REPO / "data" / "sample", root / "sample")
    suffix = uuid.uuid4().hex[:6]
    (root / "annotators" / "roster.yaml").write_text(
        "annotators:\n"
        + "".join(f"  - {{username: {n}-{suffix}, name: {n.title()}, role: annotator}}\n" for n in ("ana", "ben"))
    )
    judged = root / "sample" / "judged.tsv"  # the sample's annotators are this project's
    text = judged.read_text(encoding="utf-8").replace("ana-lopez", f"ana-{suffix}")
    judged.write_text(text.replace("ben-carter", f"ben-{suffix}"), encoding="utf-8")
    (root / "config.yaml").write_text(
        f"input:\n  path: sample/candidates.tsv\nargilla:\n  workspace: ws-{suffix}\n  dataset: pairs-{suffix}\n"
        f"{argilla}train:\n  base_model: {tiny_model}\n  layer: 1\n  min_per_class: 4\n{train}"
    )
    return f"ws-{suffix}", f"pairs-{suffix}"


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
                repr(sorted((r.get("metadata") or {}).items())),
            )
            for r in listed
        )
    for path in sorted(root.rglob("*")):
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        state[str(path.relative_to(root))] = (digest, path.stat().st_mode, path.is_symlink() and os.readlink(path))
    return state

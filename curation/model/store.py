"""Trained filters on disk: one folder per version, `latest` pointing at the newest.

    models/
      v0003-20261124T101500/   head.json, metadata.json, README.md (model card), plots, body/ if fine-tuned
      latest -> v0003-...

A version is written to a hidden temporary folder and renamed into place, so a crash never leaves a
half-written version that `latest` could point at.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path

from curation.errors import TRAIN, ModelError
from curation.files import held, staged_folder
from curation.model import apertium
from curation.model.info import HEAD, METADATA, PICKLED_HEAD

VERSION = re.compile(r"^v(\d{4,})-")


LIBRARIES = (
    "curation",
    "setfit",
    "sentence-transformers",
    "transformers",
    "torch",
    "scikit-learn",
    "argilla",
    "wordfreq",  # Spanish word frequencies (fluency features)
    "py3langid",  # language identification (adequacy features)
)


def labels_hash(rows: list[tuple[str, str, int]]) -> str:
    """sha256 over the sorted (source, target, label) rows the model was trained on."""
    h = hashlib.sha256()
    for source, target, label in sorted(rows):
        h.update(f"{source}\t{target}\t{label}\n".encode())
    return h.hexdigest()


def library_versions() -> dict[str, str | None]:
    """Versions of the Python packages and of the system data (Apertium) a model's features came from."""

    versions: dict[str, str | None] = {"apertium-eng-spa (Debian)": apertium.version()}
    for name in LIBRARIES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def next_version(models_dir: Path) -> str:
    numbers = [int(m.group(1)) for p in models_dir.glob("v*") if (m := VERSION.match(p.name))]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return f"v{max(numbers, default=0) + 1:04d}-{stamp}"


@dataclass
class Stored:
    path: Path
    version: str
    latest: bool = True  # whether `latest` points at it


def save(models_dir: str | Path, write, make_latest=lambda: True) -> Stored:
    """Create a new version: `write(tmp_dir, version)` fills it, then it is renamed in and `latest` updated
    (unless `make_latest()`, asked once the version is written, says no)."""
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    # two trainings at once: each picks its number and renames its folder in under the lock, so they never share
    # a number (the second waits the few seconds the first takes to write its files)
    with held(models_dir / ".lock"):
        version = next_version(models_dir)
        final = models_dir / version
        with staged_folder(final) as tmp:
            write(tmp, version)
        if not make_latest():
            return Stored(final, version, latest=False)
        link = models_dir / f".latest-{version}"
        link.unlink(missing_ok=True)
        link.symlink_to(version)
        os.replace(link, models_dir / "latest")
    return Stored(final, version)


def resolve(path: str | Path) -> Path:
    """A version folder, or the models folder itself (its `latest`); errors say what is missing."""
    path = Path(path)
    if not path.exists():
        raise ModelError(f"model directory {path} does not exist: train one with {TRAIN}")
    if not (path / METADATA).exists() and (path / "latest").exists():
        path = (path / "latest").resolve()
    missing = [name for name in (METADATA,) if not (path / name).exists()]
    if not (path / HEAD).exists() and not (path / PICKLED_HEAD).exists():
        missing.append(HEAD)
    if missing:
        raise ModelError(
            f"model directory {path} is incomplete (missing {', '.join(missing)}): "
            f"point --model at a version folder written by {TRAIN}, or train again"
        )
    return path

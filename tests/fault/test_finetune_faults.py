"""`curation finetune` and `curation compare` on a full disk (a small tmpfs, root only): one line that names the
user's path, before training where the room can be known, and nothing half-written."""

from __future__ import annotations

import errno
import subprocess
import sys
from pathlib import Path

import pytest
from finetune_data import _config, write_files

from curation.files import staged_folder

REPO = Path(__file__).resolve().parents[2]


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "curation", *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )


def _one_error(done: subprocess.CompletedProcess) -> str:
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.startswith("Error: ")]
    assert done.returncode == 1 and "Traceback" not in done.stderr and len(lines) == 1, done.stdout + done.stderr
    return lines[0]


def _left(disk: Path) -> list[str]:
    return sorted(str(p.relative_to(disk)) for p in disk.rglob("*") if p.name != "filler")


@pytest.mark.parametrize("command", ["finetune", "compare"])
def test_a_full_disk_is_one_line_before_training_and_nothing_is_written(tmp_path, tiny_model, small_disk, command):
    disk, fill = small_disk
    files = write_files(tmp_path)
    config = _config(tmp_path, tiny_model)
    fill(0)
    if command == "finetune":
        args = ["finetune", "--data", str(files / "train.tsv"), "--output", str(disk / "model")]
    else:
        args = ["compare", "--arm", f"a={files / 'train.tsv'}", "--arm", f"b={files / 'train.tsv'}"]
        args += ["--output", str(disk / "cmp"), "--seeds", "1"]
    done = _run(tmp_path, *args, "--test", str(files / "test.tsv"), "--config", config)
    line = _one_error(done)
    assert "disk is full" in line and str(disk) in line and f"{disk}/." not in line, line  # the user's path
    assert "training" not in done.stdout, done.stdout
    left = _left(disk)
    assert left in ([], ["cmp", "cmp/models"]), left  # compare's folders (made before any work), never a file


def test_a_folder_that_fills_the_disk_while_written_is_named_as_the_user_wrote_it_and_left_out(small_disk):
    disk, fill = small_disk
    fill(64 * 1024)
    with pytest.raises(OSError) as raised, staged_folder(disk / "model") as tmp:
        (tmp / "weights.safetensors").write_bytes(b"\0" * (1 << 20))
    assert raised.value.errno == errno.ENOSPC
    assert raised.value.filename in (str(disk / "model"), str(disk / "model" / "weights.safetensors"))
    assert _left(disk) == []


@pytest.mark.parametrize("command", ["finetune", "compare"])
def test_a_read_only_output_is_one_line_naming_it_before_any_work(tmp_path, tiny_model, small_disk, command):
    disk, _ = small_disk
    remounted = subprocess.run(["mount", "-o", "remount,ro", str(disk)], capture_output=True)
    if remounted.returncode != 0:
        pytest.skip(f"cannot remount the tmpfs read-only ({remounted.stderr.decode().strip()})")
    files = write_files(tmp_path)
    if command == "finetune":
        args = ["finetune", "--data", str(files / "train.tsv"), "--output", str(disk / "model")]
    else:
        args = ["compare", "--arm", f"a={files / 'train.tsv'}", "--arm", f"b={files / 'train.tsv'}"]
        args += ["--output", str(disk / "cmp")]
    done = _run(tmp_path, *args, "--test", str(files / "test.tsv"), "--config", _config(tmp_path, tiny_model))
    line = _one_error(done)
    assert "Read-only file system" in line and str(disk / ("model" if command == "finetune" else "cmp")) in line
    assert f"{disk}/." not in line and "training" not in done.stdout, line

"""Fixtures of the fault tier."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest


@pytest.fixture
def small_disk(tmp_path):
    """A 32 MiB tmpfs, mounted for the test (root only), and a way to fill it to `left` bytes free."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({mounted.stderr.decode().strip()}): needs root")

    def fill(left: int = 0) -> Path:
        filler = disk / "filler"
        with open(filler, "ab") as f:
            try:
                while os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize > left:
                    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
                    f.write(b"\0" * max(4096, min(1 << 20, free - left)))
                    f.flush()
            except OSError:
                pass
        return filler

    yield disk, fill
    subprocess.run(["umount", "-l", str(disk)], check=False)

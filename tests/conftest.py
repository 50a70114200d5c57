"""Shared fixtures. The `argilla_stack` fixture starts the real embedded Argilla stack once per test session."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from curation.server.login import Credentials
from curation.server.stack import Stack

warnings.filterwarnings("ignore", message=".*not found.*", category=UserWarning)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def unused_port() -> int:
    return free_port()


@dataclass
class RunningArgilla:
    stack: Stack
    credentials: Credentials

    @property
    def url(self) -> str:
        return self.stack.url

    def http(self) -> httpx.Client:
        """An HTTP client authenticated as the owner."""
        return httpx.Client(base_url=self.url, headers={"X-Argilla-Api-Key": self.credentials.api_key}, timeout=60)

    def login(self, username: str, password: str) -> httpx.Client:
        """An HTTP client signed in as a user, the way the web UI signs in."""
        response = httpx.post(f"{self.url}/api/v1/token", data={"username": username, "password": password})
        response.raise_for_status()
        token = response.json()["access_token"]
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=60)


# the databases the stack-backed tiers run on: every test of the `argilla_stack` fixture runs once on each
DATABASES = [d for d in os.environ.get("CURATION_TEST_DATABASES", "sqlite,postgresql").split(",") if d]


def enterable(folder: Path, base: Path, always: bool = False) -> Path:
    """`folder`, with it and its parents up to `base`'s parent enterable by other users: run as root, PostgreSQL
    runs as an unprivileged user, who must reach the data directory (pytest makes its folders 0700). `always`: also
    when not root (a test that plays another user)."""
    if always or os.geteuid() == 0:
        for path in [folder, *folder.parents]:
            path.chmod(path.stat().st_mode | stat.S_IXOTH)
            if path == base.parent:
                break
    return folder


@pytest.fixture
def stack_dir(tmp_path, tmp_path_factory) -> Path:
    """A data directory any of the stack's databases can live in."""
    return enterable(tmp_path, tmp_path_factory.getbasetemp()) / "data"


@pytest.fixture(scope="session", params=DATABASES)
def argilla_stack(request, tmp_path_factory) -> RunningArgilla:
    """The real argilla-server (SQLite or PostgreSQL, embedded search, Redis, worker) on a free port, for the whole
    session, once per database in DATABASES."""
    data_dir = enterable(Path(tmp_path_factory.mktemp(f"argilla-{request.param}")), tmp_path_factory.getbasetemp())
    stack = Stack(data_dir, port=free_port(), database=request.param)
    credentials = stack.start(log=lambda line: None)
    yield RunningArgilla(stack, credentials)
    stack.stop()


@pytest.fixture(scope="session")
def client(argilla_stack):
    import argilla as rg

    return rg.Argilla(api_url=argilla_stack.url, api_key=argilla_stack.credentials.api_key, timeout=120)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny sentence-transformers model built in code (no download): the encoder of every training test."""
    from tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture
def isolated_env(monkeypatch, tmp_path):
    """No Argilla settings from the user's environment leak into a test."""
    for name in ("ARGILLA_API_URL", "ARGILLA_API_KEY", "CURATION_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CURATION_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


# a test's folder is its tier; each tier's markers let a run pick tiers (`pytest -m "not scale"`, `pytest -m fault`)
TIERS = {
    "unit": ["unit"],
    "integration": ["server"],
    "browser": ["server", "browser"],
    "model": ["model"],
    "scale": ["scale"],
    "fault": ["fault", "server"],
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        for marker in TIERS.get(item.path.parent.name, []):
            item.add_marker(marker)


def pytest_sessionfinish(session, exitstatus):
    """A run in which no test passed is a failure, whatever pytest says (an empty or all-skipped run is exit 0)."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    passed = len(reporter.stats.get("passed", [])) if reporter else 0
    if passed == 0 and exitstatus in (0, 5):
        session.exitstatus = 1
        if reporter:
            reporter.write_line("Error: no test passed: refusing to report success", red=True)


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

"""Start, stop and inspect the embedded Argilla stack: Redis, the rq worker and argilla-server, on SQLite or on
PostgreSQL.

Everything lives under one data directory: `argilla.db` (Argilla's SQLite database) or `postgresql/` (a
PostgreSQL cluster of its own, `curation server start --database postgresql`), `search.sqlite` (the embedded
index), `credentials.json` (the owner's login, mode 0600), `stack.json` (which database the directory runs on),
`run/*.pid` and `logs/*.log`.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from curation.errors import StackError, cause_line, last_line
from curation.files import held, write_private_json
from curation.server import postgres
from curation.server.login import Credentials
from curation.server.processes import (
    find_redis_server,
    make_private,
    remove_database,
    rename_in,
    set_aside_unfinished,
    tail,
    terminate,
    wait_gone,
)
from curation.server.settings import POSTGRESQL, SQLITE, async_url, database_kind

DEFAULT_PORT = 6900
DEFAULT_HOST = "127.0.0.1"
OWNER_USERNAME = "owner"
COMPONENTS = ("redis", "worker", "api")  # in start order; PostgreSQL, when the stack has its own, comes first
WAITING = "another `curation server start` is starting this stack: waiting for it"


@dataclass
class Stack:
    data_dir: Path
    port: int = DEFAULT_PORT
    host: str = DEFAULT_HOST
    workers: int = 1
    search_engine: str = "sqlite"  # "null" keeps nothing: the baseline of the ingestion benchmark
    database: str | None = None  # sqlite | postgresql | a postgresql:// URL; None: what the data directory runs on

    def __post_init__(self):
        self.data_dir = Path(self.data_dir).expanduser().resolve()
        self._children: dict[str, subprocess.Popen] = {}
        self.asked = self.database  # what the user asked for (None: what the data directory runs on)
        self.database = self.database or self.remembered_database() or SQLITE
        try:
            self.kind = database_kind(self.database)
        except ValueError:
            raise StackError(
                f"--database must be sqlite, postgresql or a postgresql:// URL, not {self.database!r}"
            ) from None
        self.cluster = postgres.Cluster(self.data_dir / postgres.FOLDER) if self.kind == POSTGRESQL else None

    # -- paths ----------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def credentials_path(self) -> Path:
        return self.data_dir / "credentials.json"

    @property
    def redis_socket(self) -> Path:
        return self.data_dir / "run" / "redis.sock"

    def pid_path(self, component: str) -> Path:
        return self.data_dir / "run" / f"{component}.pid"

    def log_path(self, component: str) -> Path:
        return self.data_dir / "logs" / f"{component}.log"

    @property
    def components(self) -> tuple[str, ...]:
        return (postgres.FOLDER, *COMPONENTS) if self.cluster else COMPONENTS

    @property
    def database_url(self) -> str:
        """What argilla-server connects to."""
        if self.cluster:
            return self.cluster.url
        if self.kind == "url":
            return async_url(self.database)
        return self._database_url(self.data_dir / "argilla.db")

    @property
    def stack_path(self) -> Path:
        return self.data_dir / "stack.json"

    def remembered_database(self) -> str | None:
        """The database this data directory runs on, as its first start (or `migrate`) wrote it down."""
        try:
            value = json.loads(self.stack_path.read_text())["database"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return value if isinstance(value, str) else None

    def remember_database(self) -> None:
        write_private_json(self.stack_path, {"database": self.database})

    def environment(self, credentials: Credentials) -> dict[str, str]:
        """What every process of the stack (and a client of it) runs with."""
        env = dict(os.environ)
        env.update(
            ARGILLA_HOME_PATH=str(self.data_dir),
            ARGILLA_DATABASE_URL=self.database_url,
            ARGILLA_SEARCH_ENGINE=self.search_engine,
            CURATION_SEARCH_DB=str(self.data_dir / "search.sqlite"),
            ARGILLA_REDIS_URL=f"unix://{self.redis_socket}?db=0",
            ARGILLA_ENABLE_TELEMETRY="0",
            HF_HUB_DISABLE_TELEMETRY="1",
            ARGILLA_DATABASE_SQLITE_TIMEOUT="60",
            CURATION_OWNER_USERNAME=credentials.username,
            CURATION_OWNER_PASSWORD=credentials.password,
            CURATION_OWNER_API_KEY=credentials.api_key,
        )
        env.setdefault("ARGILLA_AUTH_SECRET_KEY", self.auth_secret())
        return env

    @staticmethod
    def _database_url(path: Path) -> str:
        return f"sqlite+aiosqlite:///{path}?check_same_thread=False"

    def auth_secret(self) -> str:
        """The key that signs web UI logins, one for every worker and kept across restarts (argilla-server draws a
        new one per process otherwise: with --workers 2 every other request of a signed-in user got 401, and a
        restart signed everyone out)."""
        path = self.data_dir / "auth_secret.json"
        try:
            secret = json.loads(path.read_text())["secret_key"]
            if isinstance(secret, str) and len(secret) >= 32:
                return secret
        except (OSError, ValueError, KeyError, TypeError):
            pass  # missing, or cut by a full disk before writes were atomic: a new key only signs everyone out
        secret = secrets.token_hex(32)
        write_private_json(path, {"secret_key": secret})
        return secret

    def reindex(self) -> dict[str, int]:
        """Rebuild the search index from Argilla's database (safe while the server runs): records indexed per
        published dataset."""
        if not self.credentials_path.exists():
            raise StackError(f"no Argilla data in {self.data_dir}: start it first with `curation server start`")
        env = self.environment(Credentials.load(self.credentials_path))
        result = subprocess.run(
            [sys.executable, "-m", "curation.server.run", "reindex"], env=env, capture_output=True, text=True
        )
        if result.returncode != 0:
            raise StackError(f"reindex failed: {result.stderr.strip().splitlines()[-1] if result.stderr else ''}")
        return json.loads(result.stdout.strip().splitlines()[-1])

    # -- state ----------------------------------------------------------------------------------------------

    def pid(self, component: str) -> int | None:
        """The pid of a component this stack started, if it still runs (a reused pid is not ours)."""
        try:
            pid = int(self.pid_path(component).read_text())
        except (OSError, ValueError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return None
        markers = {"redis": str(self.redis_socket), postgres.FOLDER: f"-D {self.data_dir / postgres.FOLDER}"}
        return pid if markers.get(component, f"curation.server.run {component}") in cmdline else None

    def is_up(self, timeout: float = 2.0) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/status", timeout=timeout) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def status(self) -> dict[str, int | None]:
        return {component: self.pid(component) for component in self.components}

    # -- start ----------------------------------------------------------------------------------------------

    def credentials(self) -> Credentials:
        """The owner's login: kept from the first start; ARGILLA_API_KEY, when set, becomes the owner's key."""
        if self.credentials_path.exists():
            creds = Credentials.load(self.credentials_path)
        else:
            creds = Credentials(
                url=self.url,
                username=OWNER_USERNAME,
                password=os.environ.get("CURATION_OWNER_PASSWORD") or secrets.token_urlsafe(12),
                api_key=secrets.token_urlsafe(24),
            )
        creds.url = self.url
        if os.environ.get("ARGILLA_API_KEY"):
            creds.api_key = os.environ["ARGILLA_API_KEY"]
        creds.save(self.credentials_path)
        return creds

    def start(self, timeout: float = 180.0, log=print) -> Credentials:
        """Start whatever is not running yet and wait until the API answers. Safe to call twice.

        The data directory holds every user's API key (in the database) and the owner's login: it is made 0700
        and every file in it 0600 (also what an older version left readable), and the stack runs with umask 077
        so what it writes later is private too."""
        old = os.umask(0o077)
        self._children = {}
        try:
            return self._start(timeout, log)
        except BaseException:
            self._stop_children()  # a failed start leaves nothing of its own running (Redis included)
            raise
        finally:
            os.umask(old)

    @contextlib.contextmanager
    def _one_start_at_a_time(self, log, timeout: float):
        """Two `start`s on one data directory: the second waits until the first is done (and then finds the stack
        running), instead of both making the same files."""
        with contextlib.ExitStack() as held_lock:
            try:  # only the taking of the lock: what fails inside the start keeps its own message
                (self.data_dir / "run").mkdir(parents=True, exist_ok=True)
                held_lock.enter_context(held(self.data_dir / "run" / "start.lock", timeout, lambda: log(WAITING)))
            except TimeoutError:
                raise StackError(
                    f"another `curation server start` has been starting the stack in {self.data_dir} for "
                    f"{timeout:.0f} s: wait for it, or stop it (curation server stop) and start again"
                ) from None
            except OSError as e:  # TimeoutError above is one too
                raise StackError(
                    f"the data directory {self.data_dir} is not writable ({e.strerror}): pass --data-dir DIR with a "
                    "folder you can write to"
                ) from None
            yield

    def _stop_children(self) -> None:
        """Stop what this `start` call spawned (not what ran before it), newest first."""
        for component, process in reversed(list(self._children.items())):
            if process.poll() is None:
                terminate(process.pid, 10)
                process.poll()  # reaped
            self.pid_path(component).unlink(missing_ok=True)
        self._children = {}

    def _start(self, timeout: float, log) -> Credentials:
        """The start in named steps, each of which starts what is not running yet; `start` stops what they spawned
        when one fails."""
        self._check_asked_database()  # first: a refused start changes nothing (the modes a running stack needs)
        if self.data_dir.exists():
            self._make_private()  # what an older version left readable, before anything is read from it
        running = self._running()
        if running is not None:
            return running
        self._check_database()  # a start refused here has made nothing
        with self._one_start_at_a_time(log, timeout):
            return self._running() or self._start_all(timeout, log)

    def _start_all(self, timeout: float, log) -> Credentials:
        """What a start does once it is the only one: a writable private directory, a free port, then each
        component that is not running yet."""
        self._check_data_dir()
        self._make_private()
        if self.pid("api") is None:
            self._check_port()
        redis_server = find_redis_server()
        creds = self.credentials()
        env = self.environment(creds)
        if self.cluster:
            self.start_postgresql(log)
        self._start_redis(redis_server, env, log)
        self._bootstrap(env, log)
        self._start_worker(env, log)
        self._start_api(env, log, timeout)
        return creds

    def _running(self) -> Credentials | None:
        """The owner's login when the stack already runs and answers at this URL (nothing to start)."""
        if self.pid("api") and self.credentials_path.exists():
            running = Credentials.load(self.credentials_path).url
            if running.rstrip("/") != self.url.rstrip("/"):  # nothing is rewritten: clients keep the right URL
                raise StackError(
                    f"the stack in {self.data_dir} already runs at {running}: use it as it is, or stop it first "
                    "(curation server stop) and start it again on the new port"
                )
        if self.pid("api") and self.is_up():
            return Credentials.load(self.credentials_path)
        return None

    def _start_redis(self, redis_server: str, env: dict[str, str], log) -> None:
        if self.pid("redis") is not None:
            return
        log("starting redis")
        socket_options = ["--port", "0", "--unixsocket", str(self.redis_socket), "--unixsocketperm", "700"]
        storage = ["--dir", str(self.data_dir / "run"), "--save", "", "--appendonly", "no"]
        self._spawn("redis", [redis_server, *socket_options, *storage], env)
        self._wait_for(lambda: self.redis_socket.exists(), "redis", 30)

    def _bootstrap(self, env: dict[str, str], log) -> None:
        """Migrations, the owner account and the search index check, in a process of their own. A new SQLite
        database is migrated under a staging name and renamed in only once it is whole."""
        log("migrating the database and checking the search index")
        database = self.data_dir / "argilla.db"
        if self.kind == SQLITE:
            set_aside_unfinished(database)
        fresh = self.kind == SQLITE and not database.exists()  # PostgreSQL's migrations are transactional
        staged = database.with_name(".argilla.db.partial")
        if fresh:
            remove_database(staged)
        boot_env = {**env, "ARGILLA_DATABASE_URL": self._database_url(staged)} if fresh else env
        bootstrap = subprocess.run(
            [sys.executable, "-m", "curation.server.run", "bootstrap"],
            env=boot_env,
            capture_output=True,
            text=True,
            cwd=self.data_dir,
        )
        with contextlib.suppress(OSError), open(self.log_path("bootstrap"), "a") as f:  # a full disk: the line below
            f.write(bootstrap.stdout + bootstrap.stderr)
        if bootstrap.returncode != 0:
            if fresh:
                remove_database(staged)
            raise StackError(
                f"the start-up step (migrations, owner account, search index check) failed: "
                f"{cause_line(bootstrap.stderr)} (the whole log: {self.log_path('bootstrap')})"
            )
        if fresh:
            rename_in(staged, database)
        if self.remembered_database() != self.database:
            self.remember_database()
        for line in bootstrap.stdout.splitlines():
            if not line.startswith(("INFO", "command:")) and line.strip():
                log(f"search index: {line}")

    def _start_worker(self, env: dict[str, str], log) -> None:
        if self.pid("worker") is None:
            log("starting the background worker")
            self._spawn("worker", [sys.executable, "-m", "curation.server.run", "worker"], env)

    def _start_api(self, env: dict[str, str], log, timeout: float) -> None:
        if self.pid("api") is None:
            log(f"starting argilla-server on {self.url}")
            serve = ["--host", self.host, "--port", str(self.port), "--workers", str(self.workers)]
            self._spawn("api", [sys.executable, "-m", "curation.server.run", "api", *serve], env)
        self._wait_for(self.is_up, "api", timeout)

    def _check_asked_database(self) -> None:
        """`--database` naming another database than the one a running stack uses: said, not ignored."""
        remembered = self.remembered_database()
        if self.asked is None or remembered is None or self.database == remembered or self.pid("api") is None:
            return
        raise StackError(
            f"the stack in {self.data_dir} already runs on {_shown(remembered)}, not {_shown(self.database)}: use it "
            f"as it is (leave out --database), or stop it first (curation server stop) and give "
            f"{_shown(self.database)} its own --data-dir"
        )

    def _check_database(self) -> None:
        """The database asked for is the one this data directory holds (nothing is started over another's data)."""
        remembered = self.remembered_database()
        if remembered is None and (self.data_dir / "argilla.db").exists():
            remembered = SQLITE  # made before stack.json was written
        if remembered is not None and self.database != remembered:
            hint = (
                "move its data with `curation server migrate --to postgresql`"
                if remembered == SQLITE and self.kind == POSTGRESQL
                else f"start it with --database {remembered if database_kind(remembered) != 'url' else 'URL'}"
            )
            raise StackError(
                f"the stack in {self.data_dir} runs on {_shown(remembered)}, not {_shown(self.database)}: {hint}, "
                "or pass another --data-dir"
            )
        if self.kind != SQLITE:
            postgres.require_drivers()
        if self.cluster:
            self.cluster.check()

    def start_postgresql(self, log) -> None:
        """The stack's own PostgreSQL cluster, made the first time, started unless it runs."""
        self.cluster.make(log)
        if self.pid(postgres.FOLDER) is None:
            log("starting postgresql")
            self.cluster.clear_stale_lock()
            self._spawn(
                postgres.FOLDER, self.cluster.command(), dict(os.environ), cwd=self.cluster.root, **postgres.as_user()
            )
        self._wait_for(self.cluster.ready, postgres.FOLDER, 60)
        self.cluster.ensure_database()

    def _make_private(self) -> None:
        """The data directory 0700 (0711 when PostgreSQL runs as another user, who must enter it), its files 0600;
        the cluster's folder is PostgreSQL's to keep (it refuses one others can read)."""
        keep_out = {self.cluster.root} if self.cluster else set()
        mode = 0o711 if self.cluster and postgres.run_as() else 0o700
        make_private(self.data_dir, mode, keep_out)

    def _check_data_dir(self) -> None:
        try:
            for sub in ("run", "logs"):
                (self.data_dir / sub).mkdir(parents=True, exist_ok=True)
            probe = self.data_dir / ".write-test"
            probe.write_text("ok")
            probe.unlink()
        except OSError as e:
            raise StackError(
                f"the data directory {self.data_dir} is not writable ({e.strerror}): pass --data-dir DIR with a "
                "folder you can write to"
            ) from None
        if len(str(self.redis_socket)) > 100:
            raise StackError("the data directory path is too long for a Redis socket: pass a shorter --data-dir")

    def _check_port(self) -> None:
        """The port is free. After a crash (this stack's API left its pid file) its dying processes get 10 s to let
        go of it."""
        deadline = time.monotonic() + (10 if self.pid_path("api").exists() else 0)
        while True:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is no conflict
                try:
                    s.bind((self.host, self.port))
                    return
                except OSError:
                    if time.monotonic() >= deadline:
                        raise StackError(
                            f"port {self.port} on {self.host} is already in use: stop what uses it or pass --port N"
                        ) from None
            time.sleep(0.25)

    def _spawn(self, component: str, argv: list[str], env: dict[str, str], **popen) -> None:
        """Start a component in its own session, output to its log; `popen` overrides (cwd, user, group)."""
        options = {"cwd": self.data_dir, "start_new_session": True} | popen
        with open(self.log_path(component), "ab") as log:
            process = subprocess.Popen(
                argv, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **options
            )
        self.pid_path(component).write_text(str(process.pid))
        self._children[component] = process

    def _wait_for(self, ready, component: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            child = self._children.get(component)
            exited = child.poll() is not None if child is not None else self.pid(component) is None
            if exited:
                raise StackError(
                    f"{component} exited during start: see {self.log_path(component)} "
                    f"(last line: {last_line(tail(self.log_path(component)))})"
                )
            time.sleep(0.3)
        raise StackError(f"{component} did not become ready in {timeout:.0f} s: see {self.log_path(component)}")

    # -- stop -----------------------------------------------------------------------------------------------

    def stop(self, timeout: float = 20.0) -> list[str]:
        """Stop the processes this stack started (and only those), API first. Returns the names stopped."""
        stopped = []
        for component in reversed(self.components):
            pid = self.pid(component)
            if pid is not None:
                if component == postgres.FOLDER:  # a fast shutdown: the postmaster checkpoints, then stops the rest
                    terminate(pid, max(timeout, 60), signal.SIGINT, group=False)
                else:
                    terminate(pid, timeout)
                stopped.append(component)
            self.pid_path(component).unlink(missing_ok=True)
        return stopped

    def kill(self) -> None:
        """SIGKILL every process of the stack at once, as a power cut would. For crash tests."""
        pids = [pid for pid in map(self.pid, self.components) if pid is not None]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        for pid in pids:
            wait_gone(pid, 10)


def _shown(database: str) -> str:
    if database_kind(database) != "url":
        return database
    head, _, tail = database.partition("@")
    return f"{head.split('://')[0]}://...@{tail}" if tail else database  # no password in a message

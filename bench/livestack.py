"""The real thing on loopback: a fresh database, ``alur serve`` (gunicorn) and ``alur worker --loop`` as
separate processes, for load, race and crash tests and for ``alur bench`` over HTTP.

Usage::

    with LocalStack("postgresql://postgres@127.0.0.1:5432/postgres", workdir) as stack:
        stack.add_users([StackUser("admin1", ["admin_medsos"])])
        stack.start_web(workers=2)
        stack.start_workers(1)
        api = stack.client("admin1")              # token from POST /api/v1/auth/token
        api.get("/tasks", params={"scope": "lane"})
        stack.kill9_web(); stack.restart_web()    # SIGKILL gunicorn's master and workers, start again
        stack.cli("audit", "verify")              # any `alur` command on the stack's database

* **Database.** A PostgreSQL URL names a server (the database in it is only used to connect as
  administrator): the stack creates its own database ``alur_live_<random>`` there and drops it in
  :meth:`stop`. Any other URL means SQLite: a new file in the work dir. ``alur init-db`` runs in
  :meth:`setup` (a subprocess, like a deployment).
* **Processes.** Each runs in its own session/process group with its output appended to
  ``<workdir>/<name>.log``; :meth:`log_tails` shows the ends of all logs (print it when a test fails).
  Killing a group with SIGKILL kills gunicorn's master and all of its workers at once. Each child also
  gets SIGKILL when the thread that started it ends (Linux), so nothing outlives a crashed test run:
  start and restart processes from one long-lived thread (the test's main thread).
* **Environment.** ``ALUR_*`` variables of the caller are not passed on; the stack sets the database,
  the instance dir, a random secret key and ``ALUR_RATELIMIT_ENABLED=0`` (many logins from 127.0.0.1),
  plus whatever ``env`` adds (e.g. the ``ALUR_SMTP_*`` settings).
* **Bounds.** Every wait has a timeout; :meth:`stop` (also on ``with`` exit) always ends every process
  it started and drops the database, whatever happened before.

The HTTP client (:class:`ApiClient`) uses ``requests`` (the ``dev`` extra); use one client per thread.
"""
from __future__ import annotations

import ctypes
import ipaddress
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from engine.clock import Clock
from engine.db import transaction
from process.config import Settings
from process.system import System, build_system

API_PREFIX = "/api/v1"
#: Password given to users created without one (at least 8 characters, as the service requires).
DEFAULT_PASSWORD = "rahasia-uji-beban"


class StackError(RuntimeError):
    """A process of the stack did not start, answer or stop in time (the message has the log tails)."""


@dataclass
class StackUser:
    username: str
    roles: list[str]
    team: str | None = None
    email: str | None = None
    password: str = DEFAULT_PASSWORD
    full_name: str = ""


@dataclass
class _Proc:
    name: str
    args: list[str]
    log: Path
    popen: subprocess.Popen | None = None

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None


@dataclass
class ApiResult:
    """What a request ended in: a status, or ``None`` with ``error`` when no answer came (refused, reset)."""

    status: int | None
    body: Any = None
    error: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def error_code(self) -> str | None:
        return (self.body or {}).get("error", {}).get("code") if isinstance(self.body, dict) else None

    @property
    def error_message(self) -> str | None:
        return (self.body or {}).get("error", {}).get("message") if isinstance(self.body, dict) else None

    @property
    def error_params(self) -> dict:
        return (self.body or {}).get("error", {}).get("params") or {} if isinstance(self.body, dict) else {}


class ApiClient:
    """A JSON API client with a bearer token. Not thread-safe: one per thread."""

    def __init__(self, base_url: str, token: str | None = None, *, timeout: float = 30.0):
        import requests  # the dev extra; imported here so the module loads without it

        self._requests = requests
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Accept-Language"] = "id"
        self.token = token
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    @classmethod
    def login(cls, base_url: str, username: str, password: str, *, timeout: float = 30.0) -> ApiClient:
        anonymous = cls(base_url, timeout=timeout)
        result = anonymous.call("POST", "/auth/token", json={"username": username, "password": password})
        anonymous.close()
        if not result.ok:
            raise StackError(f"login of {username} failed: {result.status} {result.body or result.error}")
        return cls(base_url, result.body["token"], timeout=timeout)

    def url(self, path: str) -> str:
        return f"{self.base_url}{API_PREFIX}{path}"

    def call(self, method: str, path: str, **kwargs) -> ApiResult:
        """One request under /api/v1; connection failures are results too (``status`` None), never raised."""
        kwargs.setdefault("timeout", self.timeout)
        try:
            response = self.session.request(method, self.url(path), **kwargs)
        except self._requests.RequestException as exc:
            return ApiResult(None, error=f"{type(exc).__name__}: {exc}")
        try:
            body = response.json()
        except ValueError:
            body = response.text
        return ApiResult(response.status_code, body, headers=dict(response.headers))

    def get(self, path: str, **kwargs) -> ApiResult:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs) -> ApiResult:
        return self.call("POST", path, json=json, **kwargs)

    def upload(self, name: str, data: bytes, mime: str = "application/octet-stream") -> ApiResult:
        return self.call("POST", "/files", files={"file": (name, data, mime)})

    def close(self) -> None:
        self.session.close()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def postgres_reachable(url: str, timeout: float = 3.0) -> str | None:
    """None when a PostgreSQL server answers at ``url``, else the reason it does not."""
    import psycopg

    try:
        conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        psycopg.connect(conninfo, connect_timeout=int(max(timeout, 1))).close()
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable", with its reason
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
    return None


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the thread that started us ends (Linux only)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        return [pgid]
    members = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...; comm may contain spaces and parentheses.
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def alive(pids: Iterable[int]) -> list[int]:
    """Which of ``pids`` still run (zombies count as gone)."""
    living = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            try:
                os.kill(pid, 0)
            except (ProcessLookupError, PermissionError):
                continue
            living.append(pid)
            continue
        if state[state.rfind(")") + 2:].split()[0] != "Z":
            living.append(pid)
    return living


class LocalStack:
    """A fresh database with the web app and workers as real processes on 127.0.0.1 (see the module doc)."""

    def __init__(self, database_url: str, workdir: Path | str, *, web_workers: int = 2,
                 worker_interval: float | None = None, env: Mapping[str, str] | None = None,
                 host: str = "127.0.0.1", start_timeout: float = 60.0, stop_timeout: float = 15.0):
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"the stack serves on loopback only, not {host}")
        self.workdir = Path(workdir).resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.instance_dir = self.workdir / "instance"
        self.host = host
        self.port = free_port(host)
        self.web_workers = web_workers
        self.worker_interval = worker_interval
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.extra_env = dict(env or {})
        self.secret_key = secrets.token_hex(32)
        self._server_url = database_url
        self._db_name: str | None = None
        if database_url.startswith(("postgresql", "postgres:")):
            self._db_name = f"alur_live_{uuid.uuid4().hex[:10]}"
            url = make_url(database_url).set(database=self._db_name)
            self.database_url = url.render_as_string(hide_password=False)
        else:
            self.database_url = f"sqlite:///{self.workdir / 'alur.db'}"
        self._database_created = False
        self._web: _Proc | None = None
        self._workers: list[_Proc] = []
        self._systems: list[System] = []
        self._system: System | None = None
        self._users: dict[str, StackUser] = {}

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> LocalStack:
        try:
            self.setup()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def dialect(self) -> str:
        return "postgresql" if self._db_name else "sqlite"

    def env(self) -> dict[str, str]:
        """The environment of every process of the stack."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALUR_")}
        env.update({
            "ALUR_DATABASE_URL": self.database_url,
            "ALUR_INSTANCE_DIR": str(self.instance_dir),
            "ALUR_SECRET_KEY": self.secret_key,
            "ALUR_RATELIMIT_ENABLED": "0",
            "ALUR_BASE_URL": self.base_url,
            "PYTHONUNBUFFERED": "1",
        })
        env.update(self.extra_env)
        return env

    def setup(self) -> None:
        """Create the database and bring it to the newest schema with ``alur init-db``."""
        if self._db_name:
            admin = create_engine(make_url(self._server_url).set(drivername="postgresql+psycopg"),
                                  isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
            try:
                with admin.connect() as conn:
                    conn.execute(text(f'CREATE DATABASE "{self._db_name}"'))
            finally:
                admin.dispose()
        else:
            Path(self.database_url.removeprefix("sqlite:///")).unlink(missing_ok=True)
        self._database_created = True
        self.cli("init-db", timeout=120)

    def stop(self) -> None:
        """End every process (SIGTERM, then SIGKILL), close connections, drop the database. Never raises."""
        for proc in [*self._workers, *([self._web] if self._web else [])]:
            try:
                self._end(proc, graceful=True)
            except Exception:  # noqa: BLE001 - cleanup goes on
                pass
        for system in self._systems:
            try:
                system.dispose()
            except Exception:  # noqa: BLE001
                pass
        self._systems.clear()
        self._system = None
        if self._db_name and self._database_created:
            try:
                admin = create_engine(make_url(self._server_url).set(drivername="postgresql+psycopg"),
                                      isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{self._db_name}" WITH (FORCE)'))
                admin.dispose()
            except Exception:  # noqa: BLE001
                pass
            self._database_created = False

    # ------------------------------------------------------------------ commands and direct access
    def alur_command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "ops.cli", *args]

    def cli(self, *args: str, input: str | None = None, timeout: float = 120,
            check: bool = True) -> subprocess.CompletedProcess:
        """Run one ``alur`` command on the stack's database and wait for it (bounded)."""
        try:
            done = subprocess.run(self.alur_command(*args), input=input, capture_output=True, text=True,
                                  env=self.env(), cwd=self.workdir, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise StackError(f"alur {' '.join(args)} did not finish within {timeout} s") from exc
        if check and done.returncode != 0:
            raise StackError(f"alur {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done

    def system(self, clock: Clock | None = None) -> System:
        """The system in this process on the stack's database, for bulk set-up and checks (one shared instance
        on the real clock, or a new one on ``clock``); closed by :meth:`stop`."""
        if clock is None and self._system is not None:
            return self._system
        settings = Settings(database_url=self.database_url, files_dir=self.instance_dir / "files")
        system = build_system(settings, clock)
        self._systems.append(system)
        if clock is None:
            self._system = system
        return system

    def add_users(self, users: Iterable[StackUser]) -> None:
        """Create users (and their teams) in one transaction."""
        users = list(users)
        system = self.system()
        with transaction(system.sessions) as session:
            for u in users:
                if u.team:
                    system.people.team(session, u.team, create=True)
                system.people.add_user(session, u.username, u.password, u.roles, full_name=u.full_name,
                                     team_code=u.team, email=u.email, actor="livestack")
        self._users.update({u.username: u for u in users})

    def client(self, username: str, password: str | None = None, *, timeout: float = 30.0) -> ApiClient:
        """An API client logged in as ``username`` (password as created by :meth:`add_users`)."""
        if password is None:
            password = self._users[username].password if username in self._users else DEFAULT_PASSWORD
        return ApiClient.login(self.base_url, username, password, timeout=timeout)

    # ------------------------------------------------------------------ web
    def start_web(self, workers: int | None = None, threads: int | None = None) -> None:
        """``alur serve --workers N [--threads T]`` on the stack's port; returns when /healthz answers."""
        if self._web is not None and self._web.running():
            raise StackError("the web app is already running")
        self.web_workers = workers or self.web_workers
        args = ["serve", "--host", self.host, "--port", str(self.port), "--workers", str(self.web_workers)]
        if threads is not None:
            args += ["--threads", str(threads)]
        self._web = _Proc("web", self.alur_command(*args), self.workdir / "web.log")
        self._spawn(self._web)
        self.wait_ready()

    def wait_ready(self, timeout: float | None = None) -> None:
        import requests

        deadline = time.monotonic() + (timeout or self.start_timeout)
        while time.monotonic() < deadline:
            if self._web is None or not self._web.running():
                raise StackError("the web app exited while starting\n" + self.log_tails())
            try:
                if requests.get(f"{self.base_url}/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise StackError(f"the web app did not answer within {timeout or self.start_timeout} s\n"
                         + self.log_tails())

    def web_pids(self) -> list[int]:
        """gunicorn's master and workers."""
        return _group_members(self._web.pid) if self._web and self._web.pid else []

    def web_master_pid(self) -> int | None:
        """gunicorn's master (the process the stack started: ``alur serve`` execs into it)."""
        return self._web.pid if self._web and self._web.running() else None

    def web_worker_pids(self) -> list[int]:
        """gunicorn's workers only (its master is the process the stack started)."""
        return [pid for pid in self.web_pids() if self._web is None or pid != self._web.pid]

    def kill9_web(self) -> None:
        """SIGKILL gunicorn's master and all its workers at once (their process group)."""
        if self._web is not None:
            self._kill9(self._web)

    def kill9_web_master(self) -> list[int]:
        """SIGKILL gunicorn's master alone (a crash, the OOM killer), not its workers; returns the pids of the web
        processes as they were (see :func:`alive` for which of them live on)."""
        pids = self.web_pids()
        if self._web is not None and self._web.popen is not None:
            try:
                os.kill(self._web.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._web.popen.wait(timeout=self.stop_timeout)
        return pids

    def stop_web(self) -> None:
        if self._web is not None:
            self._end(self._web, graceful=True)

    def restart_web(self) -> None:
        self.stop_web()
        self.start_web()

    # ------------------------------------------------------------------ workers
    def start_workers(self, n: int = 1) -> None:
        """Start ``n`` more ``alur worker --loop`` processes."""
        for _ in range(n):
            args = ["worker", "--loop"]
            if self.worker_interval is not None:
                args += ["--interval", str(self.worker_interval)]
            number = len(self._workers) + 1
            proc = _Proc(f"worker{number}", self.alur_command(*args), self.workdir / f"worker{number}.log")
            self._spawn(proc)
            self._workers.append(proc)
        time.sleep(0.2)
        dead = [p.name for p in self._workers if not p.running()]
        if dead:
            raise StackError(f"worker(s) {', '.join(dead)} exited at start\n" + self.log_tails())

    def worker_pids(self) -> list[int]:
        """The pids of the ``alur worker --loop`` processes that run."""
        return [p.pid for p in self._workers if p.running() and p.pid is not None]

    def worker_count(self) -> int:
        return sum(1 for p in self._workers if p.running())

    def kill9_workers(self) -> None:
        for proc in self._workers:
            self._kill9(proc)

    def stop_workers(self) -> None:
        for proc in self._workers:
            self._end(proc, graceful=True)

    def restart_workers(self) -> None:
        """Start every worker again (after a kill or a stop), with the same log files."""
        for proc in self._workers:
            if proc.running():
                self._end(proc, graceful=True)
            self._spawn(proc)

    # ------------------------------------------------------------------ logs
    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.workdir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def log_tails(self, lines: int = 40) -> str:
        names = (["web"] if self._web else []) + [p.name for p in self._workers]
        return "\n".join(f"----- {name}.log (last {lines} lines) -----\n{self.log_tail(name, lines)}"
                         for name in names)

    # ------------------------------------------------------------------ processes
    def _spawn(self, proc: _Proc) -> None:
        log = open(proc.log, "ab")  # noqa: SIM115 - handed to the child, closed right after
        try:
            log.write(f"\n===== start {time.strftime('%H:%M:%S')}: {' '.join(proc.args[1:])}\n".encode())
            log.flush()
            proc.popen = subprocess.Popen(proc.args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                          env=self.env(), cwd=self.workdir, start_new_session=True,
                                          preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        finally:
            log.close()

    def _wait_group_gone(self, pgid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _group_members(pgid):
                return True
            time.sleep(0.05)
        return not _group_members(pgid)

    def _kill9(self, proc: _Proc) -> None:
        if proc.popen is None:
            return
        pgid = proc.popen.pid
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            proc.popen.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            pass
        if not self._wait_group_gone(pgid, self.stop_timeout):
            raise StackError(f"{proc.name}: processes {_group_members(pgid)} survived SIGKILL")

    def _end(self, proc: _Proc, graceful: bool) -> None:
        """SIGTERM the group, wait (bounded), then SIGKILL whatever is left."""
        if proc.popen is None:
            return
        pgid = proc.popen.pid
        if graceful and proc.running():
            try:
                os.killpg(pgid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.popen.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                pass
        if _group_members(pgid) or proc.running():
            self._kill9(proc)
        else:
            proc.popen.wait(timeout=self.stop_timeout)

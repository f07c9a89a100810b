"""Serving the app with gunicorn (production) or Werkzeug's reloader (development).

``alur serve`` replaces its own process with ``python -m ops.serve`` (the same pid, so whatever started it can
still stop it): the gunicorn master then holds gunicorn and this module only, not the CLI's imports (SQLAlchemy,
SpiffWorkflow, the app), and each worker imports and builds the app after the fork (``preload_app`` off: no
database connection is ever shared between processes). A master that imported the app would share those pages
with its workers only until Python's reference counting wrote to them; it would mostly hold a copy of its own."""
from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import os
import signal
import sys

from gunicorn.app.base import BaseApplication


def freeze_long_lived_heap() -> None:
    """Move everything alive now (modules, the app, its caches) out of the garbage collector's reach: what a
    process keeps for its whole life is never garbage, and a full collection that walks it costs a pause and
    evicts the CPU caches a request was using. Objects made later are collected as usual."""
    gc.collect()
    gc.freeze()


log = logging.getLogger(__name__)

#: prctl(2) option: the signal the kernel sends this process when the thread that forked it ends (Linux).
PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int, sig: int = signal.SIGKILL) -> bool:
    """Have the kernel send ``sig`` to this process as soon as its parent (``parent_pid``, the process that forked
    it) ends, however it ends, kill -9 included; if the parent ended already (between the fork and now), end at
    once. False where the kernel offers no such thing (not Linux)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    except OSError as exc:
        log.warning("cannot ask for a parent-death signal: %s", exc)
        return False
    if os.getppid() != parent_pid:
        os.kill(os.getpid(), sig)
    return True


def _post_fork(server, _worker) -> None:
    """gunicorn's hook, in a worker right after the fork: the worker dies with its master. A master killed
    outright (kill -9, the OOM killer) cannot stop its workers; left alone they would serve on as orphans, holding
    the listening socket the restarted master needs, until they noticed. SIGKILL: with the master gone nobody
    supervises them, and the database rolls back a transaction they had open."""
    die_with_parent(server.pid)


def _post_worker_init(_worker) -> None:
    """gunicorn's hook, once a worker has built the app."""
    freeze_long_lived_heap()


class GunicornServer(BaseApplication):
    """gunicorn with our app factory: each worker process builds its own app and connection pool."""

    def __init__(self, options: dict):
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings and value is not None:
                self.cfg.set(key.lower(), value)

    def load(self):
        from webui import create_app

        return create_app()


def serve_gunicorn(host: str, port: int, workers: int, timeout: int = 60, threads: int = 1) -> None:
    GunicornServer({
        "bind": f"{host}:{port}",
        "workers": workers,
        # gunicorn picks its gthread worker class itself when threads > 1 (sync otherwise). The default stays sync
        # with 2 workers for 2 cores: in the whole-case runs (README, Performance) threads saved a few ms per case for
        # one client (connections kept open) but completed fewer cases per minute with four.
        "threads": threads,
        "timeout": timeout,
        "graceful_timeout": 10,
        "accesslog": "-",
        "errorlog": "-",
        "worker_tmp_dir": "/dev/shm",
        "post_fork": _post_fork,
        "post_worker_init": _post_worker_init,
        # Build the app in each worker after fork: no shared database connections between processes.
        "preload_app": False,
    }).run()


def main(argv: list[str] | None = None) -> None:
    """``python -m ops.serve --host H --port P --workers N --timeout S`` (what ``alur serve`` runs)."""
    import argparse

    parser = argparse.ArgumentParser(prog="alur serve")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--timeout", type=int, required=True)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    serve_gunicorn(args.host, args.port, args.workers, timeout=args.timeout, threads=args.threads)


if __name__ == "__main__":
    main()

"""Serving the app with gunicorn (production) or Werkzeug's reloader (development)."""
from __future__ import annotations

import gc

from gunicorn.app.base import BaseApplication


def freeze_long_lived_heap() -> None:
    """Move everything alive now (modules, the app, its caches) out of the garbage collector's reach: what a
    process keeps for its whole life is never garbage, and a full collection that walks it costs a pause and
    evicts the CPU caches a request was using. Objects made later are collected as usual."""
    gc.collect()
    gc.freeze()


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
        from . import create_app

        return create_app()


def serve_gunicorn(host: str, port: int, workers: int, timeout: int = 60) -> None:
    GunicornServer({
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": 1,
        "timeout": timeout,
        "graceful_timeout": 10,
        "accesslog": "-",
        "errorlog": "-",
        "worker_tmp_dir": "/dev/shm",
        "post_worker_init": _post_worker_init,
        # Build the app in each worker after fork: no shared database connections between processes.
        "preload_app": False,
    }).run()

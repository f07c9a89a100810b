"""`alur serve` on gunicorn: a lean master (it holds gunicorn, not the app), workers that build the app."""
from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.live


def _libraries(pid: int) -> str:
    """The files mapped into a process (its imported C extensions among them)."""
    return Path(f"/proc/{pid}/maps").read_text()


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_the_gunicorn_master_does_not_import_the_app(live_stack, figures):
    stack = live_stack(database="sqlite")
    stack.start_web(workers=2)
    master = stack._web.pid
    workers = stack.web_worker_pids()
    assert len(workers) == 2
    # SQLAlchemy's and lxml's compiled modules are mapped once imported: in every worker, never in the master.
    for marker in ("sqlalchemy", "lxml"):
        assert marker not in _libraries(master), f"the gunicorn master imported {marker}"
        assert all(marker in _libraries(w) for w in workers), f"a worker lacks {marker}: is the probe still valid?"
    figures(f"gunicorn RSS: master {_rss_mb(master):.0f} MB, workers "
            + ", ".join(f"{_rss_mb(w):.0f} MB" for w in workers))

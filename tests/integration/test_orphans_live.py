"""kill -9 of gunicorn's master alone: its workers die with it (a parent-death signal asked for right after the
fork, ops/serve.py), so no process of the old web tier lives on holding the listening socket, and a master
restarted at once serves again within its own start-up time. Measured: the downtime from the kill to the first 200
from the restarted tier."""
from __future__ import annotations

import os
import signal
import time

import pytest
import requests

from bench.livestack import StackUser, alive

pytestmark = pytest.mark.live

GONE_WITHIN = 5.0  # seconds: a bound for the check, not a target (the workers die within milliseconds)


def test_the_web_workers_die_with_their_master_and_a_restart_serves_at_once(live_stack, figures):
    stack = live_stack(web_workers=2)
    stack.add_users([StackUser("admin", ["admin_medsos"])])
    stack.start_web()
    assert stack.client("admin").get("/tasks").ok
    old = stack.web_pids()
    assert len(old) >= 3, "gunicorn should run a master and at least 2 workers"
    try:
        killed = time.monotonic()
        stack.kill9_web_master()
        # A supervisor restarts the service the moment its main process died.
        stack.start_web()
        url = f"{stack.base_url}/healthz"
        while requests.get(url, timeout=5).status_code != 200:
            time.sleep(0.01)
        downtime = time.monotonic() - killed
        deadline = time.monotonic() + GONE_WITHIN
        while alive(old) and time.monotonic() < deadline:
            time.sleep(0.02)
        left = alive(old)
        assert left == [], f"processes of the old web tier live on: {left}"
        assert set(stack.web_pids()).isdisjoint(old)
        assert stack.client("admin").get("/tasks").ok
    finally:
        for pid in alive(old):  # never leave an orphan behind, whatever happened
            os.kill(pid, signal.SIGKILL)
    figures(f"orphans: kill -9 of gunicorn's master alone (2 workers): 0 of its {len(old) - 1} workers left "
            f"alive; from the kill to the first 200 of the tier restarted at once: {downtime:.1f} s")

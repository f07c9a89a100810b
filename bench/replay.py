"""Replay of a case from its history: the state at its last event, and verification by re-execution."""
from __future__ import annotations

import random
import statistics
import time
from pathlib import Path

from engine import eventlog
from engine.replay import replay, states
from ops.simulation import FORMS, Driver

from .common import bench_system, sqlite_url

#: The case replayed has at least this many events.
EVENTS = 50


def _case_with_events(driver: Driver, system, events: int) -> int:
    """A case taken through revision rounds (service layer) until its history has ``events`` events."""
    instance_id, task = driver.start(1)
    (task,) = driver.act("tim_pelaksana", task, driver.step1_form(1))
    (task,) = driver.act("admin_medsos", task, FORMS["terima"])
    while True:
        with system.sessions() as session:
            if len(eventlog.events_of(session, instance_id)) >= events:
                return instance_id
        (task,) = driver.act("wapimred", task, FORMS["koreksi"])
        (task,) = driver.act("pimred", task, FORMS["revisi"])


def _median_ms(fn, runs: int) -> float:
    fn()  # warm-up
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return round(1000 * statistics.median(samples), 2)


def run(workdir: Path, url: str | None = None, *, quick: bool) -> dict:
    system, _clock = bench_system(workdir, url or sqlite_url(workdir, "replay"))
    try:
        driver = Driver(system, random.Random(3))
        driver.ensure_users()
        instance_id = _case_with_events(driver, system, EVENTS)
        with system.sessions() as session:
            n_events = len(eventlog.events_of(session, instance_id))

            def rebuild():
                if not states(session, instance_id)[-1].tasks:
                    raise RuntimeError("the rebuilt state of the bench case has no tasks")

            def verify():
                result = replay(session, system.engine, instance_id)
                if not result.matches:
                    problem = result.error or result.first_mismatch
                    raise RuntimeError(f"replay of the bench case does not match: {problem}")

            rebuild_ms = _median_ms(rebuild, 5 if quick else 20)
            verify_ms = _median_ms(verify, 3 if quick else 10)
    finally:
        system.dispose()
    return {"replay_events": n_events, "replay_ms": rebuild_ms, "replay_verify_ms": verify_ms}

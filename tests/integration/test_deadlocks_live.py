"""Timers falling due while people claim and complete the same cases (gunicorn with 2 workers, 2 `alur worker
--loop`, PostgreSQL): no deadlock (pg_stat_database.deadlocks of the stack's database before and after), every
timer fired exactly once (by a worker, or by the completion that found it due), and how late after its due time
each one fired.

The timers fall due in groups, every case of a group at the same moment, so a worker takes several due cases at
once, while four API clients claim and complete those very cases the moment they are due: the lock order of
engine/persistence.py (case row, task rows, SOP rows, event chain head last) is what keeps the two from waiting on
each other in a circle."""
from __future__ import annotations

import random
import statistics
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from bench.livestack import ApiClient, StackUser
from engine.clock import ManualClock
from engine.db import transaction
from engine.eventlog import decode
from engine.models import EventRow, Instance
from tests.integration.live import Tally, audit_verify, projection_problems, running_due, watch_overdue

pytestmark = pytest.mark.live

PROBE = Path(__file__).resolve().parents[1] / "data" / "timer_probe.bpmn"
GROUPS = 12
PER_GROUP = 20  # cases due at the same moment: 240 timers
GAP = 1.0  # seconds between groups
LEAD = 3.0  # seconds from the start of the clients to the first due time
OPEN_SECONDS = 0.06  # time allowed for opening each case before the first due time (a busy machine)
CLIENTS = 4
DRAIN_TIMEOUT = 120


def _percentiles(values: list[float]) -> str:
    if not values:
        return "n/a"
    values = sorted(values)
    p95 = values[round(0.95 * (len(values) - 1))]
    return (f"median {1000 * statistics.median(values):.0f} ms, p95 {1000 * p95:.0f} ms, "
            f"worst {1000 * values[-1]:.0f} ms (n={len(values)})")


def _deadlocks(stack) -> int:
    """Deadlocks PostgreSQL detected in the stack's database so far (a fresh snapshot of the statistics)."""
    with stack.system().db.connect() as conn:
        conn.execute(text("SELECT pg_stat_clear_snapshot()"))
        return conn.execute(text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
                            ).scalar_one()


def _client(stack, username: str, cases: list[tuple[int, str, datetime]], seed: int, tally: Tally,
            stop: threading.Event) -> None:
    """Wait for each group's due moment, then claim and complete its tasks in an order of our own: half of the
    clients claim and then complete (two requests), the other half complete with ``"_claim": true`` (one)."""
    api = ApiClient.login(stack.base_url, username, "rahasia-uji-beban", timeout=30)
    rng = random.Random(seed)
    try:
        by_due: dict[datetime, list[str]] = {}
        for _case, task, due in cases:
            by_due.setdefault(due, []).append(task)
        for due in sorted(by_due):
            delay = (due - datetime.now(UTC)).total_seconds()
            if delay > 0 and stop.wait(delay):
                return
            tasks = by_due[due][:]
            rng.shuffle(tasks)
            for task in tasks:
                if seed % 2:
                    done = api.post(f"/tasks/{task}/complete", {"catatan": username, "_claim": True})
                    tally.add(done)
                    continue
                claimed = api.post(f"/tasks/{task}/claim")
                tally.add(claimed)
                if claimed.ok:
                    tally.add(api.post(f"/tasks/{task}/complete", {"catatan": username}))
    finally:
        api.close()


def test_timers_fire_once_without_deadlocks_while_clients_claim_and_complete_the_same_cases(live_stack, figures):
    stack = live_stack(web_workers=2)
    admins = [f"admin{i}" for i in range(1, CLIENTS + 1)]
    stack.add_users([StackUser("pimred", ["pimred"]), *[StackUser(name, ["admin_medsos"]) for name in admins]])
    stack.start_web()
    stack.start_workers(2)
    for api in [stack.client(name) for name in admins]:
        api.close()  # the logins are done before the clock starts

    # The cases are opened on a clock an hour back, so every due time is still ahead when its case starts.
    system = stack.system(ManualClock(datetime.now(UTC) - timedelta(hours=1)))
    with transaction(system.sessions) as session:
        system.engine.deploy(session, PROBE.read_bytes(), actor="test")
    first = datetime.now(UTC) + timedelta(seconds=LEAD + GROUPS * PER_GROUP * OPEN_SECONDS)
    dues = [first + timedelta(seconds=GAP * (n // PER_GROUP)) for n in range(GROUPS * PER_GROUP)]
    with transaction(system.sessions) as session:
        cases = []
        for n, due in enumerate(dues):
            result = system.engine.start(session, "timer_probe", data={"batas": due.isoformat()}, actor="test",
                                              title=f"Uji tenggat {n}")
            cases.append((result.instance.id, result.ready[0].id, due))
    assert datetime.now(UTC) < first, "the cases were opened too slowly: their timers were due already"
    deadlocks_before = _deadlocks(stack)

    tally, stop = Tally(), threading.Event()
    threads = [threading.Thread(target=_client, args=(stack, name, cases, k, tally, stop), daemon=True)
               for k, name in enumerate(admins)]
    for t in threads:
        t.start()
    # Watch the cases from outside: when each timer's effect (the overdue mark) was committed and visible.
    ids = [c for c, _t, _d in cases]
    deadline = time.monotonic() + (dues[-1] - datetime.now(UTC)).total_seconds() + DRAIN_TIMEOUT
    seen = watch_overdue(system, ids, deadline - time.monotonic())
    for t in threads:
        t.join(timeout=max(0.0, deadline - time.monotonic()))
    stop.set()
    assert not any(t.is_alive() for t in threads), "a client did not finish"
    assert running_due(stack, datetime.now(UTC)) == 0
    # The processes end, so every backend has reported its statistics.
    stack.stop_workers()
    stack.stop_web()
    time.sleep(1.0)
    deadlocks = _deadlocks(stack) - deadlocks_before

    with stack.system().sessions() as session:
        events = session.execute(select(EventRow).where(EventRow.type == "timer_fired",
                                                        EventRow.instance_id.in_(ids))).scalars().all()
        # A completion that found the timer due fired it itself, in the same action (same time).
        completed = {(e.instance_id, e.at) for e in session.execute(
            select(EventRow).where(EventRow.type == "task_completed", EventRow.instance_id.in_(ids))).scalars()}
        unfired = session.execute(select(Instance.id).where(Instance.id.in_(ids),
                                                            Instance.next_timer_at.is_not(None))).scalars().all()
    fired = Counter(e.instance_id for e in events)
    due_of = {c: d for c, _t, d in cases}
    by_worker, by_completion = [], []
    for e in events:
        due = datetime.fromisoformat(decode(e)["due"])
        assert abs((due - due_of[e.instance_id]).total_seconds()) < 1e-3
        assert e.at >= due, "a timer fired before its due time"
        (by_completion if (e.instance_id, e.at) in completed else by_worker).append((e.at - due).total_seconds())
    visible = [(seen[c] - due_of[c]).total_seconds() for c in ids if c in seen]
    ok = sum(n for s, n in tally.statuses.items() if s == 200)
    figures(f"deadlocks: {len(cases)} timers in {GROUPS} groups of {PER_GROUP} due at once, {GAP:g} s apart, "
            f"2 workers; {CLIENTS} API clients claimed and completed the same cases at their due time "
            f"({tally.sent} requests: {ok} x 200, "
            f"{', '.join(f'{s} x {n}' for s, n in sorted(tally.statuses.items(), key=str) if s != 200)}); "
            f"PostgreSQL deadlocks: {deadlocks}")
    figures(f"deadlocks: timers fired once each: {sum(1 for c in ids if fired[c] == 1)}/{len(ids)}, "
            f"{len(by_worker)} by the workers, {len(by_completion)} by a completion that found them due; "
            f"latency, committed and visible - due: {_percentiles(visible)}; event time - due: by the workers "
            f"{_percentiles(by_worker)}, by completions {_percentiles(by_completion)}")
    assert deadlocks == 0
    assert {c: fired[c] for c in ids if fired[c] != 1} == {} and unfired == [], "every timer fires exactly once"
    assert tally.server_errors == 0 and not tally.no_answer, (tally.statuses, tally.no_answer)
    assert projection_problems(stack, ids) == []
    audit_verify(stack)

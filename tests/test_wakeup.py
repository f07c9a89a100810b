"""Waking the sleeping worker (engine/wakeup.py): a commit that makes something due sooner wakes it (PostgreSQL
LISTEN/NOTIFY, SQLite a local socket), an unmarked commit or a rollback does not, stopping does; and a worker
sleeping its longest sleep fires, right after such a commit, the timers that became due meanwhile."""
from __future__ import annotations

import threading
import time

import pytest

from engine import wakeup
from engine.db import transaction
from engine.models import EventRow
from ops.worker import Worker
from tests.factories import Case, make_users

LONG = 30.0


@pytest.fixture
def listener(system):
    listening = wakeup.Listener(system.db)
    assert listening.listening, "the test database can be listened to"
    yield listening
    listening.close()


def _quiet(listener) -> None:
    while listener.wait(0.05):  # whatever earlier commits sent
        pass


def test_a_commit_marked_soon_wakes_the_listener_and_others_do_not(system, listener):
    _quiet(listener)
    with transaction(system.sessions) as s:
        s.execute(EventRow.__table__.select().limit(1))
    assert not listener.wait(0.3), "an unmarked commit woke the worker"

    with pytest.raises(RuntimeError), transaction(system.sessions) as s:
        wakeup.soon(s)
        raise RuntimeError("rolled back")
    assert not listener.wait(0.3), "a rolled-back transaction woke the worker"

    with transaction(system.sessions) as s:
        wakeup.soon(s)
    started = time.monotonic()
    assert listener.wait(5.0)
    assert time.monotonic() - started < 1.0


def test_interrupt_ends_the_sleep(listener):
    _quiet(listener)
    threading.Timer(0.1, listener.interrupt).start()
    started = time.monotonic()
    assert listener.wait(LONG)
    assert time.monotonic() - started < 5.0


def test_opening_a_case_wakes_the_listener(system, tx, listener):
    make_users(system, tx)
    _quiet(listener)
    Case.start(system, tx)  # its step-1 deadline is a timer the worker did not know of
    assert listener.wait(5.0)


def test_a_sleeping_worker_fires_what_became_due_as_soon_as_a_commit_wakes_it(system, tx, clock):
    make_users(system, tx)
    late = Case.start(system, tx)
    worker = Worker(system, interval=LONG)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        time.sleep(0.5)  # the first cycle ran; nothing is due for days: the worker sleeps its longest sleep
        clock.advance(days=3)  # the first case's deadline has passed, unknown to the sleeping worker
        woken = time.monotonic()
        Case.start(system, tx, tanggal="2025-05-09")  # a commit with a new timer (due on the 10th) wakes it
        fired = None
        while time.monotonic() - woken < 10:
            with transaction(system.sessions) as s:
                found = s.execute(EventRow.__table__.select().where(
                    EventRow.type == "timer_fired", EventRow.instance_id == late.instance_id)).first()
            if found is not None:
                fired = time.monotonic() - woken
                break
            time.sleep(0.05)
        assert fired is not None and fired < LONG / 3, "the worker slept on"
    finally:
        stopped = time.monotonic()
        worker.stopping.set()
        thread.join(10)
    assert not thread.is_alive() and time.monotonic() - stopped < 5.0, "stopping did not end the sleep"

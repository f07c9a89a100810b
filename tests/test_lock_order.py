"""The lock order of engine/persistence.py, checked on every writer: the case row first, then its task rows and the SOP
layer's rows, the event chain head last, at commit (PostgreSQL, whose row locks are what can deadlock). Every
transaction of a story through every kind of write is recorded statement by statement and checked against the
order; and the timer sweep, the worker's unit of failure, and a case someone holds are checked on real
transactions."""
from __future__ import annotations

import re
import threading
import time
from contextlib import contextmanager

from sqlalchemy import event, select, text

from engine.db import transaction
from engine.models import Instance, TaskRow
from ops.worker import Worker
from process import modeling
from tests.factories import Case, CaseInput, make_users, step1_form, user
from tests.test_migration import version2

CASE_LOCK = re.compile(r"^(SELECT .* FROM instance\b.* FOR (NO KEY )?UPDATE|INSERT INTO instance\b)", re.S)
CASE_OR_TASK_WRITE = re.compile(r"^(UPDATE (instance|task)\b|INSERT INTO task\b)")
HEAD = re.compile(r"\bevent_chain_head\b")
EVENTS = re.compile(r"^INSERT INTO event\b")
#: Statements that lock or write rows (reads without a lock take none).
LOCKING = re.compile(r"^(UPDATE|INSERT|DELETE)\b|\bFOR (NO KEY )?UPDATE\b")


def order_problems(statements: list[str]) -> list[str]:
    """What in one transaction's statements breaks the lock order."""
    problems = []
    locking = [(n, s) for n, s in enumerate(statements) if LOCKING.search(s)]
    first_case = next((n for n, s in locking if CASE_LOCK.search(s)), None)
    for n, s in locking:
        if CASE_OR_TASK_WRITE.search(s) and (first_case is None or n < first_case):
            problems.append(f"#{n} writes a case or task row before the case row is locked: {s[:80]}")
    first_head = next((n for n, s in enumerate(statements) if HEAD.search(s)), None)
    if first_head is not None:
        for n, s in locking:
            if n > first_head and not (HEAD.search(s) or EVENTS.search(s)):
                problems.append(f"#{n} locks a row after the event chain head (#{first_head}): {s[:80]}")
    return problems


@contextmanager
def recorded(system):
    """Each transaction's statements (those of the engine's connections), in order."""
    transactions: list[list[str]] = [[]]

    def statement(conn, cursor, text_, *args):
        transactions[-1].append(" ".join(text_.split()))

    def ended(conn):
        transactions.append([])

    event.listen(system.db, "before_cursor_execute", statement)
    event.listen(system.db, "commit", ended)
    event.listen(system.db, "rollback", ended)
    try:
        yield transactions
    finally:
        event.remove(system.db, "before_cursor_execute", statement)
        event.remove(system.db, "commit", ended)
        event.remove(system.db, "rollback", ended)


def test_every_writer_takes_the_case_first_and_the_event_chain_head_last(pg_system, clock):
    system = pg_system
    alur = system
    tx = lambda: transaction(system.sessions)  # noqa: E731
    make_users(system, tx)
    writes: dict[str, list[list[str]]] = {}

    def step(name: str, action) -> None:
        with recorded(system) as transactions:
            with tx() as s:
                action(s)
        writes[name] = [t for t in transactions if t]

    cases = []
    step("start a case", lambda s: cases.append(alur.cases.start_case(s, user(s, "tim"), CaseInput(
        "Sosialisasi Pemilih Pemula", "2025-05-06", "Padang"))))
    case = Case(system, tx, cases[0].instance.id, cases[0].ready[0].id)
    other = Case.start(system, tx)
    # the creator holds step 1 from the start: give it back first, then take it
    step("give back", lambda s: alur.tasks.unclaim(s, user(s, "tim"), case.task_id))
    step("claim", lambda s: alur.tasks.claim(s, user(s, "tim"), case.task_id))
    step("delegate", lambda s: alur.tasks.delegate(s, user(s, "tim"), case.task_id, "tim2"))
    step("deactivate a user (tasks given back)", lambda s: alur.people.deactivate(s, user(s, "tim2"), actor="test"))
    step("complete, taking the task in the same request",
         lambda s: alur.tasks.complete(s, user(s, "tim"), other.task_id, step1_form(system, s), claim=True))
    step("claim again", lambda s: alur.tasks.claim(s, user(s, "tim"), case.task_id))
    step("complete", lambda s: alur.tasks.complete(s, user(s, "tim"), case.task_id, step1_form(system, s)))
    with tx() as s:
        target = alur.engine.deploy(s, version2(), actor="owner")
    moved = []
    step("migrate", lambda s: moved.append(modeling.migrate(s, alur, user(s, "owner"), target, [case.instance_id])))
    assert moved[0]["moved"] == [case.instance_id]
    clock.advance(hours=36)  # step 2's deadline (end of tomorrow, WIB) is less than 6 hours away
    step("send reminders", lambda s: alur.timers.send_due_reminders(s))
    clock.advance(days=3)
    step("fire timers", lambda s: alur.timers.fire_due_timers(s))
    with tx() as s:
        assert s.execute(select(TaskRow).where(TaskRow.overdue_at.is_not(None))).first() is not None

    problems = {name: [p for t in transactions for p in order_problems(t)] for name, transactions in writes.items()}
    assert {name: found for name, found in problems.items() if found} == {}
    silent = [name for name, transactions in writes.items() if not any(HEAD.search(s) for t in transactions for s in t)]
    assert silent == [], "every writer appends to the event chain"


def _lock_timeout(system, ms: int) -> None:
    """Every new connection of ``system`` gives up waiting for a lock after ``ms`` (a test must never hang)."""

    @event.listens_for(system.db, "connect")
    def _set(dbapi_connection, _record):
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = {int(ms)}")
        dbapi_connection.commit()


def test_the_sweep_leaves_a_case_someone_holds_and_fires_the_others(pg_system, clock):
    """A request acting on a case holds its row; the worker neither waits for it nor rolls back the other cases:
    it fires them, and that case once the request is done."""
    system = pg_system
    tx = lambda: transaction(system.sessions)  # noqa: E731
    make_users(system, tx)
    cases = [Case.start(system, tx) for _ in range(3)]
    _lock_timeout(system, 2000)
    system.db.dispose()
    clock.advance(days=3)
    worker = Worker(system)
    request = system.sessions()
    try:
        system.tasks.claim(request, user(request, "tim"), cases[1].task_id)  # the transaction stays open
        report = worker.cycle()
        assert (report.fired, report.held, report.errors) == (2, 1, [])
        with tx() as s:
            due = s.execute(select(Instance.id).where(Instance.next_timer_at.is_not(None),
                                                      Instance.next_timer_at < clock.now())).scalars().all()
        assert due == [cases[1].instance_id]
        request.commit()
    finally:
        request.close()
    assert worker.cycle().fired == 1


def test_a_case_that_fails_in_the_worker_is_rolled_back_alone(system, tx, clock, monkeypatch):
    """One case's failure costs that case only: the others of the same transaction are fired and kept, and the
    failing one is tried again later (after a pause of its own), not in a loop."""
    make_users(system, tx)
    cases = [Case.start(system, tx) for _ in range(3)]
    clock.advance(days=3)
    engine = system.engine
    tick = engine._tick

    def tick_or_fail(session, instance, now):
        if instance.id == cases[1].instance_id:
            raise RuntimeError("something unexpected in this case")
        return tick(session, instance, now)

    monkeypatch.setattr(engine, "_tick", tick_or_fail)
    worker = Worker(system)
    report = worker.cycle()
    assert report.fired == 2 and len(report.errors) == 1 and "something unexpected" in report.errors[0]
    with tx() as s:
        late = dict(s.execute(select(TaskRow.instance_id, TaskRow.overdue_at)).all())
    assert late[cases[0].instance_id] and late[cases[2].instance_id] and late[cases[1].instance_id] is None
    assert worker.cycle().errors == []  # waiting for its own retry time, not tried again at once
    monkeypatch.setattr(engine, "_tick", tick)
    worker._retry_at.clear()
    assert worker.cycle().fired == 1


def _waiting_for_a_lock(system, timeout: float = 30.0) -> bool:
    """Whether a session of the database waits for a row lock (polled; False if none did within ``timeout``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with system.db.connect() as conn:
            if conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                 "AND wait_event_type = 'Lock'")).scalar():
                return True
        time.sleep(0.02)
    return False


def test_a_request_that_waited_for_the_worker_acts_on_the_case_as_the_worker_left_it(pg_system, clock):
    """A completion that comes while the worker fires the case's timer waits for the case, then reads it and its
    tasks as the worker left them: it goes through (no conflict), and the overdue mark the worker wrote stays."""
    system = pg_system
    tx = lambda: transaction(system.sessions)  # noqa: E731
    make_users(system, tx)
    case = Case.start(system, tx)
    with tx() as s:
        system.tasks.claim(s, user(s, "tim"), case.task_id)
        form = step1_form(system, s)
    clock.advance(days=3)
    _lock_timeout(system, 30_000)
    system.db.dispose()
    worker = system.sessions()
    outcome: list = []

    def request() -> None:
        try:
            with tx() as s:
                outcome.append(system.tasks.complete(s, user(s, "tim"), case.task_id, form).instance.status)
        except Exception as exc:  # noqa: BLE001 - reported below
            outcome.append(exc)

    try:
        assert system.timers.fire_due_timers(worker)  # holds the case until it commits
        thread = threading.Thread(target=request)
        thread.start()
        assert _waiting_for_a_lock(system), "the request should wait for the case"
        worker.commit()
    finally:
        worker.close()
    thread.join(60)
    assert outcome == ["running"]
    with tx() as s:
        row = s.get(TaskRow, case.task_id)
        assert row.state == "completed" and row.overdue_at is not None
        assert s.execute(text("SELECT count(*) FROM event WHERE type = 'timer_fired'")).scalar() == 1

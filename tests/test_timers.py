"""Deadlines as timer boundary events: due dates in WIB, firing exactly once, never early."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from engine.models import EventRow, Instance, TaskRow
from process.deadlines import WIB
from process.models import Notification
from tests.factories import Case, make_users


def wib(*args) -> datetime:
    return datetime(*args, tzinfo=WIB)


def count(tx, type_: str) -> int:
    with tx() as s:
        return s.execute(select(func.count()).select_from(EventRow).where(EventRow.type == type_)).scalar()


def sweep(system, tx):
    with tx() as s:
        return system.timers.fire_due_timers(s)


def test_step1_due_end_of_activity_day_plus_one_and_fires_once(system, tx, clock):
    make_users(system, tx)
    case = Case.start(system, tx)
    row = case.task()
    assert row.due_at == wib(2025, 5, 7, 23, 59, 59)
    with tx() as s:
        assert s.get(Instance, case.instance_id).next_timer_at == wib(2025, 5, 7, 23, 59, 59)

    clock.set(wib(2025, 5, 7, 23, 59, 59))
    assert sweep(system, tx) == [] and count(tx, "timer_fired") == 0  # never before (nor at) the due time
    clock.set(wib(2025, 5, 8, 0, 0, 0))
    fired = sweep(system, tx)
    assert len(fired) == 1 and [r.bpmn_id for r in fired[0].overdue] == ["Task_Serahkan"]
    assert count(tx, "timer_fired") == 1 and count(tx, "overdue") == 1
    clock.set(wib(2025, 5, 12, 9, 0))
    assert sweep(system, tx) == []
    assert count(tx, "timer_fired") == 1  # exactly once
    row = case.task()
    assert row.state == "ready" and row.overdue_at == wib(2025, 5, 8, 0, 0, 0)  # work goes on
    with tx() as s:
        notified = {(n.user_id, n.kind) for n in s.execute(select(Notification)).scalars()}
        assert sum(1 for _u, k in notified if k == "overdue") == 3  # tim, tim2 (team humas) and pimred
    # Completing late does not fire the timer again.
    case.do("tim", "submit")
    assert count(tx, "timer_fired") == 1


def test_year_end_deadline(system, tx, clock):
    clock.set(wib(2025, 12, 31, 9, 0))
    make_users(system, tx)
    case = Case.start(system, tx, tanggal="2025-12-31")
    assert case.task().due_at.astimezone(WIB).isoformat() == "2026-01-01T23:59:59+07:00"


def test_steps_2_to_4_due_from_submission_day_in_wib(system, tx, clock):
    make_users(system, tx)
    clock.set(wib(2025, 5, 6, 20, 0))
    case = Case.start(system, tx)
    # 00:30 WIB on 7 May is still 6 May in UTC: the WIB day counts.
    clock.set(wib(2025, 5, 7, 0, 30))
    case.do("tim", "submit")
    assert case.task().due_at == wib(2025, 5, 8, 23, 59, 59)
    clock.set(wib(2025, 5, 7, 10, 0))
    case.do("admin", "terima")
    assert case.task().due_at == wib(2025, 5, 8, 23, 59, 59)


def test_month_end_submission(system, tx, clock):
    make_users(system, tx)
    clock.set(wib(2025, 5, 31, 9, 0))
    case = Case.start(system, tx, tanggal="2025-05-31")
    assert case.task().due_at == wib(2025, 6, 1, 23, 59, 59)
    clock.set(wib(2025, 5, 31, 23, 50))
    case.do("tim", "submit")
    assert case.task().due_at == wib(2025, 6, 1, 23, 59, 59)


def test_step5_collides_with_review_and_is_overdue_at_once(system, tx, clock):
    """Step 5 is due H+1 after the activity even when review took longer; the SOP says so."""
    make_users(system, tx)
    case = Case.start(system, tx)
    case.do("tim", "submit")
    clock.set(wib(2025, 5, 7, 9, 0))
    case.do("admin", "terima")
    case.do("wapimred", "koreksi")
    clock.set(wib(2025, 5, 8, 15, 0))  # decision after the activity's H+1
    case.do("pimred", "setuju")
    row = case.task()
    assert row.bpmn_id == "Task_Unggah" and row.due_at == wib(2025, 5, 7, 23, 59, 59)
    assert row.overdue_at == wib(2025, 5, 8, 15, 0)


def test_late_completion_records_the_overdue_first(system, tx, clock):
    make_users(system, tx)
    case = Case.start(system, tx)
    clock.set(wib(2025, 5, 9, 8, 0))  # no worker ran meanwhile
    case.do("tim", "submit")
    assert count(tx, "overdue") == 1
    with tx() as s:
        row = s.execute(select(TaskRow).where(TaskRow.bpmn_id == "Task_Serahkan")).scalar_one()
        assert row.state == "completed" and row.overdue_at is not None


def test_sweep_loads_only_due_instances(system, tx, clock):
    make_users(system, tx)
    early = Case.start(system, tx, tanggal="2025-05-06")
    Case.start(system, tx, tanggal="2025-05-07")
    Case.start(system, tx, tanggal="2025-05-09")
    clock.set(wib(2025, 5, 8, 1, 0))
    with tx() as s:
        assert system.engine.due_instance_ids(s, clock.now()) == [early.instance_id]
    assert len(sweep(system, tx)) == 1
    with tx() as s:
        assert system.engine.due_instance_ids(s, clock.now()) == []


def test_a_case_whose_timers_cannot_fire_is_marked_and_the_others_go_on(system, tx, clock, monkeypatch):
    """Each case fires in a savepoint: one that fails is marked ``error`` with an event, and what its attempt gave
    its rows (the overdue mark) goes with the savepoint, in the database and in the session alike."""
    from engine import persistence
    from engine.errors import ExecutionFailed

    make_users(system, tx)
    bad = Case.start(system, tx)
    good = Case.start(system, tx, nama="Rapat Pleno")
    real_save = persistence.save_action

    def failing_save(session, instance, *args, **kwargs):
        if instance.id == bad.instance_id:
            raise ExecutionFailed("the process could not continue: broken on purpose")
        return real_save(session, instance, *args, **kwargs)

    monkeypatch.setattr(persistence, "save_action", failing_save)
    clock.set(wib(2025, 5, 8, 0, 0, 0))  # both step-1 deadlines have passed
    with tx() as s:
        fired = system.timers.fire_due_timers(s)
        assert [r.instance.id for r in fired] == [good.instance_id]
        assert s.get(TaskRow, bad.task_id).overdue_at is None
    with tx() as s:
        assert s.get(Instance, bad.instance_id).status == "error"
        assert s.get(Instance, bad.instance_id).next_timer_at is None
        assert s.get(TaskRow, bad.task_id).overdue_at is None
        assert s.get(TaskRow, good.task_id).overdue_at == wib(2025, 5, 8, 0, 0, 0)
        types = [e.type for e in s.execute(select(EventRow).where(EventRow.instance_id == bad.instance_id))
                 .scalars()]
        assert "execution_failed" in types and "timer_fired" not in types

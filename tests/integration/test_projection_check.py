"""engine.consistency.check_projection, the checker the live tests rely on: silent on consistent cases, and it
names each kind of disagreement (in-process, on the suite's database)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select, update

from engine import eventlog
from engine.consistency import check_projection
from engine.models import EventRow, Instance, TaskRow
from tests.factories import Case, make_users


def problems(system, tx, ids=None) -> list[str]:
    with tx() as s:
        return [str(p) for p in check_projection(s, system.engine, ids)]


def walked(system, tx, clock) -> tuple[Case, Case]:
    """One case far along (late, so a timer fired) and one finished case."""
    make_users(system, tx)
    late = Case.start(system, tx)
    clock.advance(days=2)
    with tx() as s:
        system.timers.fire_due_timers(s)
    late.do("tim", "submit")
    late.do("admin", "terima")
    done = Case.start(system, tx, nama="Kasus selesai")
    done.do("tim", "submit")
    done.do("admin", "terima")
    done.do("wapimred", "koreksi")
    done.do("pimred", "tolak")
    return late, done


def test_consistent_cases_have_no_problems(system, tx, clock):
    late, done = walked(system, tx, clock)
    with tx() as s:
        assert s.get(Instance, done.instance_id).status == "completed"
        assert s.execute(select(EventRow).where(EventRow.type == "timer_fired")).first() is not None
    assert problems(system, tx) == []


def test_a_missing_or_extra_ready_row_is_named(system, tx, clock):
    late, done = walked(system, tx, clock)
    with tx() as s:
        s.execute(update(TaskRow).where(TaskRow.id == late.task_id).values(state="completed"))
    found = problems(system, tx, [late.instance_id])
    assert any("ready in the workflow but has no ready task row" in p for p in found), found
    assert any("task_completed events for a completed task" in p for p in found), found


def test_a_wrong_deadline_or_next_timer_is_named(system, tx, clock):
    late, _done = walked(system, tx, clock)
    with tx() as s:
        row = s.get(TaskRow, late.task_id)
        row.due_at = row.due_at + timedelta(hours=1)
        s.get(Instance, late.instance_id).next_timer_at = None
    found = problems(system, tx, [late.instance_id])
    assert any("deadline of 'Task_Koreksi'" in p for p in found), found
    assert any("next_timer_at is None" in p for p in found), found


def test_a_status_that_disagrees_with_the_workflow_is_named(system, tx, clock):
    _late, done = walked(system, tx, clock)
    with tx() as s:
        s.get(Instance, done.instance_id).status = "running"
    found = problems(system, tx, [done.instance_id])
    assert any("status is 'running' but the workflow is finished" in p for p in found), found
    assert any("case_completed events for a running case" in p for p in found), found


def test_a_timer_fired_twice_or_a_lost_overdue_event_is_named(system, tx, clock):
    late, _done = walked(system, tx, clock)
    with tx() as s:
        fired = s.execute(select(EventRow).where(EventRow.type == "timer_fired",
                                                 EventRow.instance_id == late.instance_id)).scalars().first()
        eventlog.append(s, type="timer_fired", at=fired.at, actor="system", instance_id=late.instance_id,
                        task_id=fired.task_id, data=eventlog.decode(fired))
        s.execute(delete(EventRow).where(EventRow.type == "overdue", EventRow.instance_id == late.instance_id))
    found = problems(system, tx, [late.instance_id])
    assert any("fired 2 times" in p for p in found), found
    assert any("0 overdue events" in p for p in found), found

"""Marking notifications read reads only unread rows (process/notify.py): a completion, an opened task and an opened
case find theirs through the partial indexes ``ix_notification_task_unread`` and ``ix_notification_case_unread``,
not by reading the table or every unread notification of the reader; and they mark exactly the rows their
definitions name."""
from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import func, insert, select

from process import notify
from process.models import Notification
from tests.factories import make_users, user
from tests.test_case_list_plans import _explain, _statements

ROWS = 30_000


def _fill(tx, clock, n: int = ROWS, seed: int = 3) -> None:
    """``n`` notifications of three users over 3,000 tasks of 1,000 cases: nine in ten read, one in ten about a case
    itself (no task)."""
    rng = random.Random(seed)
    now = clock.now()
    with tx() as s:
        users = [user(s, name).id for name in ("admin", "auditor", "tim")]
        rows = []
        for k in range(n):
            case = rng.randrange(1000)
            about_case = rng.random() < 0.1
            rows.append({"user_id": rng.choice(users), "kind": "task_ready", "message": f"pesan {k}",
                         "instance_id": case, "task_id": None if about_case else f"t-{case}-{rng.randrange(3)}",
                         "created_at": now - timedelta(minutes=k),
                         "read_at": now if rng.random() < 0.9 else None})
        for start in range(0, n, 10_000):
            s.execute(insert(Notification), rows[start:start + 10_000])
        if s.bind.dialect.name == "postgresql":
            s.connection().exec_driver_sql("ANALYZE notification")


def _unread(s, **where) -> set[int]:
    stmt = select(Notification.id).where(Notification.read_at.is_(None))
    for column, value in where.items():
        stmt = stmt.where(getattr(Notification, column) == value)
    return set(s.execute(stmt).scalars())


def _plans(s, call) -> list[str]:
    with _statements(s.get_bind()) as sent:
        call()
    return [_explain(s, statement, parameters) for statement, parameters in sent if "notification" in statement]


def _uses(plan: str, index: str) -> None:
    assert index in plan, plan
    assert "SCAN notification" not in plan and "Seq Scan" not in plan, plan


def test_marking_read_uses_the_unread_indexes(system, tx, clock):
    make_users(system, tx)
    _fill(tx, clock)
    later = clock.now() + timedelta(hours=1)
    with tx() as s:
        reader = user(s, "admin")
        for plan in _plans(s, lambda: notify.tasks_done(s, ["t-5-0", "t-6-1", "t-7-2"], later)):
            _uses(plan, "ix_notification_task_unread")
        for call in (lambda: notify.task_unread(s, reader, "t-8-0"),
                     lambda: notify.task_seen(s, reader, "t-8-0", later)):
            [plan] = _plans(s, call)
            _uses(plan, "ix_notification_task_unread")
        for call in (lambda: notify.case_unread(s, reader, 9), lambda: notify.case_seen(s, reader, 9, later)):
            [plan] = _plans(s, call)
            _uses(plan, "ix_notification_case_unread")
        # the unread count beside the bell (webui/__init__.py)
        [plan] = _plans(s, lambda: s.execute(select(func.count(Notification.id)).where(
            Notification.user_id == reader.id, Notification.read_at.is_(None))).scalar())
        _uses(plan, "ix_notification_user_unread")


def _first_unread(s, *where) -> Notification:
    return s.execute(select(Notification).where(Notification.read_at.is_(None), *where)
                     .order_by(Notification.id).limit(1)).scalar_one()


def test_marking_read_marks_what_it_says(system, tx, clock):
    make_users(system, tx)
    _fill(tx, clock, n=3000)
    later = clock.now() + timedelta(hours=1)
    with tx() as s:
        reader = user(s, "admin")
        # what each check marks, taken from the seeded rows, so that each has something to mark
        first = _first_unread(s, Notification.task_id.is_not(None)).task_id
        second = _first_unread(s, Notification.task_id.is_not(None), Notification.task_id != first).task_id
        task = _first_unread(s, Notification.user_id == reader.id, Notification.task_id.not_in([first, second]),
                             Notification.task_id.is_not(None)).task_id
        case_id = _first_unread(s, Notification.user_id == reader.id, Notification.task_id.is_(None)).instance_id
        before = _unread(s)
        done = _unread(s, task_id=first) | _unread(s, task_id=second)
        notify.tasks_done(s, [first, second, first], later)
        assert _unread(s) == before - done
        before = _unread(s)
        mine = _unread(s, task_id=task, user_id=reader.id)
        assert mine and notify.task_unread(s, reader, task)
        notify.task_seen(s, reader, task, later)
        assert not notify.task_unread(s, reader, task)
        assert _unread(s) == before - mine
        before = _unread(s)
        about_case = _unread(s, instance_id=case_id, user_id=reader.id, task_id=None)
        assert about_case and notify.case_unread(s, reader, case_id)
        notify.case_seen(s, reader, case_id, later)
        assert not notify.case_unread(s, reader, case_id)
        assert _unread(s) == before - about_case  # the case's task notifications stay unread
        assert s.execute(select(Notification.read_at).where(Notification.id.in_(done))).scalars().all() \
            == [later] * len(done)

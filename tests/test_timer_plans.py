"""The worker's timer queries read only what is due: at 100,000 cases their plans use ``ix_instance_timer_due``
(SQLite ``EXPLAIN QUERY PLAN``, PostgreSQL ``EXPLAIN``), without reading every running case or sorting them; and
they answer what their plain definition says."""
from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import insert, select, text

from engine.models import Instance
from engine.runtime import NEXT_TIMER_QUERY, due_cases_query

CASES = 100_000
INDEX = "ix_instance_timer_due"


def _fill(system, tx, now, n: int = CASES, seed: int = 7) -> list[dict]:
    """``n`` cases: most running with a timer days ahead, some finished (with a stale timer value), some running
    without a timer, a few due."""
    rng = random.Random(seed)
    with tx() as s:
        definition_id = system.cases.ensure_definition(s).id
    rows = []
    for k in range(n):
        kind = rng.random()
        status = "completed" if kind < 0.25 else "running"
        timer = None if 0.25 <= kind < 0.30 else now + timedelta(minutes=rng.randint(-60 * 24, 60 * 24 * 30))
        rows.append({"definition_id": definition_id, "status": status, "state": "{}", "serializer_version": "x",
                     "lock_version": 1, "title": f"Kasus {k}", "next_timer_at": timer, "created_at": now,
                     "updated_at": now})
    with tx() as s:
        for start in range(0, n, 10_000):
            s.execute(insert(Instance), rows[start:start + 10_000])
        if s.bind.dialect.name == "postgresql":
            s.execute(text("ANALYZE instance"))
    return rows


def _plan(session, stmt) -> str:
    conn = session.connection()
    compiled = stmt.compile(dialect=conn.dialect)
    if conn.dialect.name == "sqlite":
        params = compiled.construct_params()
        values = tuple(_bound(compiled, name, params[name], conn.dialect) for name in compiled.positiontup)
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), values).all()
        return "\n".join(str(r[-1]) for r in rows)
    params = {name: _bound(compiled, name, value, conn.dialect) for name, value in compiled.construct_params().items()}
    return "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + str(compiled), params).all())


def _bound(compiled, name, value, dialect):
    processor = compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
    return processor(value) if processor else value


def test_the_timer_queries_use_the_due_index_at_100000_cases(system, tx, clock):
    now = clock.now()
    _fill(system, tx, now)
    with tx() as s:
        for stmt in (NEXT_TIMER_QUERY, due_cases_query(now, 200)):
            plan = _plan(s, stmt)
            assert INDEX in plan, plan
            assert "ix_instance_status" not in plan, plan
            if s.bind.dialect.name == "sqlite":
                assert "TEMP B-TREE" not in plan, plan  # read in the index's order, not sorted afterwards
                assert "SCAN instance" not in plan, plan
            else:
                assert "Seq Scan" not in plan and "Sort" not in plan, plan


def test_the_timer_queries_answer_their_definition(system, tx, clock):
    now = clock.now()
    rows = _fill(system, tx, now, n=3_000, seed=11)
    running = [(r["next_timer_at"], k + 1) for k, r in enumerate(rows)
               if r["status"] == "running" and r["next_timer_at"] is not None]
    with tx() as s:
        ids = s.execute(select(Instance.id).order_by(Instance.id)).scalars().all()
        first = ids[0] - 1  # ids continue from whatever the table held before
        assert s.execute(NEXT_TIMER_QUERY).scalar() == min(t for t, _ in running)
        due = sorted((t, k + first) for t, k in running if t < now)
        assert due, "the scenario has due cases"
        assert list(s.execute(due_cases_query(now, 10_000)).scalars()) == [k for _, k in due]
        assert list(s.execute(due_cases_query(now, 5)).scalars()) == [k for _, k in due[:5]]

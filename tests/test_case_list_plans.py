"""The case list's default order is read from an index at 100,000 cases: the first page and a page reached by its
cursor, for who sees every case and for a team's member, without sorting the cases (SQLite ``EXPLAIN QUERY PLAN``,
PostgreSQL ``EXPLAIN``) — the statements are the ones :func:`process.casefile.case_list` sends, caught as sent."""
from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event, update

from engine.models import Instance
from process.casefile import case_list
from tests.factories import make_users, user
from tests.test_timer_plans import _fill


@contextmanager
def _statements(engine):
    sent = []

    def catch(conn, cursor, statement, parameters, context, executemany):
        sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", catch)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", catch)


def _explain(session, statement, parameters) -> str:
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        return "\n".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement,
                                                                  parameters).all())
    return "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + statement, parameters).all())


def test_the_case_list_pages_read_the_order_index_at_100000_cases(system, tx, clock):
    make_users(system, tx)
    _fill(system, tx, clock.now())
    with tx() as s:  # a team's cases among them
        s.execute(update(Instance).where(Instance.id % 20 == 0).values(group="humas"))
    with tx() as s:
        if s.bind.dialect.name == "postgresql":
            s.connection().exec_driver_sql("ANALYZE instance")
    for who, index in (("auditor", "ix_instance_created"), ("tim", "ix_instance_group_created")):
        with tx() as s:
            reader = user(s, who)
            first = case_list(s, reader, system.rules)
            assert first.next_cursor and len(first.items) == 50
            with _statements(s.get_bind()) as sent:
                second = case_list(s, reader, system.rules, cursor=first.next_cursor)
            assert {c.instance.id for c in second.items}.isdisjoint({c.instance.id for c in first.items})
            [(statement, parameters)] = [(st, p) for st, p in sent if "ORDER BY" in st and "FROM instance" in st
                                         and "count(" not in st]
            plan = _explain(s, statement, parameters)
            assert index in plan, plan
            if s.bind.dialect.name == "sqlite":
                assert "TEMP B-TREE" not in plan and "SCAN instance\n" not in plan + "\n", plan
            else:
                assert "Sort" not in plan and "Seq Scan" not in plan, plan

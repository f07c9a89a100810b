"""The event write-behind (engine/eventlog.py): events appended in a transaction are inserted lazily, yet every read
of the event table in that transaction sees them, however it is run; savepoints take back their own events; and
only sessions of the application's session factory do any of this.

Runs on SQLite, and on PostgreSQL with ALUR_TEST_DATABASE_URL (tests/conftest.py)."""
from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, inspect, literal_column, select, text
from sqlalchemy.orm import Session, aliased, sessionmaker

from engine import eventlog
from engine.db import make_session_factory
from engine.models import ChainHead, EventRow, Instance
from tests.factories import Case, make_users, statements_sent

EVENTS = EventRow.__table__
HEAD = ChainHead.__table__
TYPE = "write_behind"


def _orm_count(s: Session) -> int:
    return s.execute(select(func.count()).select_from(EventRow).where(EventRow.type == TYPE)).scalar_one()


def _orm_rows(s: Session) -> int:
    return len(s.execute(select(EventRow).where(EventRow.type == TYPE)).scalars().all())


def _core_on_connection(s: Session) -> int:
    return s.connection().execute(select(func.count()).select_from(EVENTS).where(EVENTS.c.type == TYPE)).scalar_one()


def _text(s: Session) -> int:
    return s.execute(text("SELECT count(*) FROM event WHERE type = :t"), {"t": TYPE}).scalar_one()


def _text_on_connection(s: Session) -> int:
    return s.connection().execute(text('SELECT count(*) FROM "event" WHERE type = :t'), {"t": TYPE}).scalar_one()


def _driver_sql(s: Session) -> int:
    return s.connection().exec_driver_sql(f"select count(*) from EVENT where type = '{TYPE}'").scalar_one()


def _core_join(s: Session) -> int:
    joined = EVENTS.join(HEAD, HEAD.c.id == 1)
    return s.connection().execute(select(func.count()).select_from(joined).where(EVENTS.c.type == TYPE)).scalar_one()


def _orm_self_join(s: Session) -> int:
    other = aliased(EventRow)
    return s.execute(select(func.count()).select_from(EventRow).join(other, other.seq == EventRow.seq)
                     .where(other.type == TYPE)).scalar_one()


def _orm_subquery(s: Session) -> int:
    inner = select(EventRow.seq).where(EventRow.type == TYPE).subquery()
    return s.execute(select(func.count()).select_from(inner)).scalar_one()


def _scalar_subquery_of_another_table(s: Session) -> int:
    """The statement's FROM is the head table; the event table is read only in a column's subquery."""
    counted = select(func.count()).where(EventRow.type == TYPE).scalar_subquery()
    return s.execute(select(counted).select_from(ChainHead)).scalar_one()


def _text_inside_core(s: Session) -> int:
    """A Core select whose FROM is SQL text naming the table."""
    inner = text(f"(SELECT count(*) AS n FROM event WHERE type = '{TYPE}') AS counted")
    return s.execute(select(literal_column("n")).select_from(inner)).scalar_one()


READS: dict[str, Callable[[Session], int]] = {
    "orm count": _orm_count,
    "orm rows": _orm_rows,
    "core on session.connection()": _core_on_connection,
    "text()": _text,
    "text() on session.connection()": _text_on_connection,
    "exec_driver_sql": _driver_sql,
    "core join": _core_join,
    "orm self-join": _orm_self_join,
    "orm subquery": _orm_subquery,
    "scalar subquery of another table": _scalar_subquery_of_another_table,
    "text inside a core select": _text_inside_core,
}


def _append(s: Session, clock, n: int | str) -> None:
    eventlog.append(s, type=TYPE, at=clock.now(), data={"n": n})


@pytest.mark.parametrize("read", list(READS), ids=list(READS))
def test_every_kind_of_read_counts_the_events_appended_earlier_in_the_transaction(system, tx, clock, read):
    count = READS[read]
    with tx() as s:
        assert count(s) == 0
        _append(s, clock, 1)
        _append(s, clock, 2)
        assert count(s) == 2
        _append(s, clock, 3)
        assert count(s) == 3  # appended after the first read: written before the next
    with tx() as s:
        assert count(s) == 3  # written once each: nothing doubled at commit
        report = eventlog.verify(s)
        assert report.ok and report.checked == 3


def test_a_statement_that_does_not_read_the_event_table_writes_nothing(system, tx, clock):
    """Reads of other tables, including the chain head's (whose name starts like the event table's), leave the
    events waiting: the head is locked at commit, after the transaction's other statements (the lock order)."""
    with statements_sent(system, "INSERT INTO EVENT") as inserts, tx() as s:
        _append(s, clock, 1)
        s.execute(select(func.count()).select_from(Instance)).scalar_one()
        s.execute(text("SELECT seq FROM event_chain_head WHERE id = 1")).scalar_one()
        s.connection().exec_driver_sql("SELECT count(*) FROM instance").scalar_one()
        assert inserts == []
    assert len(inserts) == 1


def test_a_savepoint_rolled_back_takes_its_events_and_keeps_the_earlier_ones(system, tx, clock):
    with tx() as s:
        _append(s, clock, "before")
        with pytest.raises(ValueError), s.begin_nested():
            _append(s, clock, "inside")
            assert _driver_sql(s) == 2  # both written inside the savepoint
            raise ValueError("roll the savepoint back")
        # "before" was written inside the savepoint too, and went with it: it is there again when read.
        assert _text(s) == 1
        assert _core_on_connection(s) == 1
        with s.begin_nested():  # released: its event stays
            _append(s, clock, "kept")
            assert _orm_subquery(s) == 2
        _append(s, clock, "after")
    with tx() as s:
        payloads = [r.payload for r in s.execute(select(EventRow).where(EventRow.type == TYPE)
                                                 .order_by(EventRow.seq)).scalars()]
        assert payloads == ['{"n":"before"}', '{"n":"kept"}', '{"n":"after"}']
        assert eventlog.verify(s).ok


def test_a_savepoint_rolled_back_before_any_read_leaves_the_earlier_events_waiting(system, tx, clock):
    with statements_sent(system, "INSERT INTO EVENT") as inserts, tx() as s:
        _append(s, clock, "before")
        with pytest.raises(ValueError), s.begin_nested():
            _append(s, clock, "inside")
            raise ValueError("roll the savepoint back")
        assert inserts == []
        assert _core_join(s) == 1
    assert len(inserts) == 1
    with tx() as s:
        assert _orm_count(s) == 1 and eventlog.verify(s).ok


def test_a_case_action_then_a_raw_read_in_the_same_transaction(system, tx):
    """What the engine appends during an action is counted by a raw read of the same transaction."""
    from tests.factories import CaseInput, user

    make_users(system, tx)
    with tx() as s:
        before = s.connection().exec_driver_sql("SELECT count(*) FROM event").scalar_one()
        result = system.cases.start_case(s, user(s, "tim"), CaseInput(
            nama_kegiatan="Sosialisasi", tanggal_kegiatan="2025-05-06", tempat_kegiatan="Padang"))
        appended = [e.type for e in result.events]
        assert "case_started" in appended and "task_ready" in appended
        of_case = s.connection().exec_driver_sql(
            f"SELECT type FROM event WHERE instance_id = {result.instance.id} ORDER BY seq").scalars().all()
        assert of_case[:len(appended)] == appended  # and what the SOP layer appended after them
        assert s.connection().exec_driver_sql("SELECT count(*) FROM event").scalar_one() > before
    with tx() as s:
        assert eventlog.verify(s).ok


def test_a_session_not_made_by_the_factory_refuses_to_append(system, clock):
    """A plain Session, or one of a sessionmaker the event log was not installed on, would lose its events: it
    fails loudly, naming the fix."""
    for session in (Session(system.db), sessionmaker(bind=system.db)()):
        try:
            with pytest.raises(RuntimeError, match="make_session_factory"):
                _append(session, clock, "lost")
        finally:
            session.rollback()
            session.close()
    with system.sessions() as s:
        assert _orm_count(s) == 0


def test_a_plain_session_runs_none_of_the_listeners(system, tx):
    """The listeners are set on the application's session factory, not on SQLAlchemy's Session: a case row loaded
    in a savepoint that rolls back is expired by the factory's sessions (engine.persistence), not by a plain one;
    and a plain session's commit writes no chain head."""
    make_users(system, tx)
    case = Case.start(system, tx)

    def loaded_after_savepoint_rollback(session: Session) -> bool:
        try:
            instance = session.get(Instance, case.instance_id)
            with pytest.raises(ValueError), session.begin_nested():
                raise ValueError("roll the savepoint back")
            return inspect(instance).expired
        finally:
            session.rollback()
            session.close()

    assert loaded_after_savepoint_rollback(system.sessions()) is True
    assert loaded_after_savepoint_rollback(Session(system.db)) is False
    with statements_sent(system, "") as seen, Session(system.db) as plain, plain.begin():
        assert _text(plain) == 0
    assert not any("event_chain_head" in statement for statement in seen)


def test_another_factory_on_the_same_engine_gets_the_write_behind_by_installing_it(system, tx, clock):
    factory = make_session_factory(system.db)
    with factory() as s, s.begin():
        _append(s, clock, 1)
        assert _driver_sql(s) == 1
    with tx() as s:
        assert _orm_count(s) == 1 and eventlog.verify(s).ok


def test_install_needs_a_factory_bound_to_an_engine():
    with pytest.raises(RuntimeError, match="bound to an Engine"):
        eventlog.install(sessionmaker())

"""The hash chain detects an edited, deleted or inserted event and names it."""
from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from engine import eventlog
from tests.factories import Case, make_users, statements_sent


@pytest.fixture
def walked(system, tx):
    make_users(system, tx)
    case = Case.start(system, tx)
    case.do("tim", "submit")
    case.do("admin", "terima")
    with tx() as s:
        report = eventlog.verify(s)
    assert report.ok and report.checked > 10
    return report.checked


def _verify(tx):
    with tx() as s:
        return eventlog.verify(s)


def test_edit_detected(tx, walked):
    with tx() as s:
        s.execute(text("UPDATE event SET payload = payload || ' ' WHERE seq = 12"))
    report = _verify(tx)
    assert not report.ok and report.first_bad_seq == 12 and "altered" in report.problem


def test_actor_edit_detected(tx, walked):
    with tx() as s:
        s.execute(text("UPDATE event SET actor = 'someone' WHERE seq = 5"))
    assert _verify(tx).first_bad_seq == 5


def test_delete_detected(tx, walked):
    with tx() as s:
        s.execute(text("DELETE FROM event WHERE seq = 7"))
    report = _verify(tx)
    assert not report.ok and report.first_bad_seq == 7 and "missing" in report.problem


def test_delete_of_the_tail_detected(tx, walked):
    with tx() as s:
        s.execute(text("DELETE FROM event WHERE seq = :n"), {"n": walked})
    report = _verify(tx)
    assert not report.ok and report.first_bad_seq == walked


def test_insert_detected(tx, walked):
    with tx() as s:
        s.execute(text("UPDATE event SET seq = seq + 1000 WHERE seq >= 9"))
        s.execute(text("INSERT INTO event (seq, instance_id, task_id, type, actor, at, payload, prev_hash, hash) "
                       "SELECT 9, instance_id, task_id, type, 'mallory', at, payload, prev_hash, hash "
                       "FROM event WHERE seq = 8"))
        s.execute(text("UPDATE event SET seq = seq - 999 WHERE seq >= 1009"))
    report = _verify(tx)
    assert not report.ok and report.first_bad_seq == 9


def test_cli_verify(system, tx, walked, monkeypatch, settings):
    from ops.cli import main

    monkeypatch.setenv("ALUR_DATABASE_URL", settings.database_url)
    runner = CliRunner()
    ok = runner.invoke(main, ["audit", "verify"])
    assert ok.exit_code == 0 and f"{walked} events" in ok.output
    with tx() as s:
        s.execute(text("UPDATE event SET payload = '{}' WHERE seq = 3"))
    bad = runner.invoke(main, ["audit", "verify"])
    assert bad.exit_code != 0 and "#3" in bad.output


# Every row, not only the examples above: each column that the hash covers, edited in any row, and any row
# deleted or a forged row inserted anywhere, is named by its position. Each tampering is tried in a savepoint
# that is rolled back before the next one.
EDITS = {
    "payload": "UPDATE event SET payload = payload || ' ' WHERE seq = :n",
    "type": "UPDATE event SET type = type || 'x' WHERE seq = :n",
    "actor": "UPDATE event SET actor = 'mallory' WHERE seq = :n",
    "instance": "UPDATE event SET instance_id = 424242 WHERE seq = :n",
    "task": "UPDATE event SET task_id = 'forged' WHERE seq = :n",
    "prev_hash": "UPDATE event SET prev_hash = hash WHERE seq = :n",
    "deleted": "DELETE FROM event WHERE seq = :n",
}


def _tampered(session, statements, params) -> eventlog.ChainReport:
    nested = session.begin_nested()
    try:
        for statement in statements:
            session.execute(text(statement), params)
        session.expire_all()  # the ORM must read what is now stored, not rows it saw before
        return eventlog.verify(session)
    finally:
        nested.rollback()
        session.expire_all()


def test_any_edit_or_deletion_of_any_row_is_named(tx, walked):
    missed = []
    with tx() as s:
        for n in range(1, walked + 1):
            for what, statement in EDITS.items():
                report = _tampered(s, [statement], {"n": n})
                if report.ok or report.first_bad_seq != n:
                    missed.append((n, what, report))
        assert eventlog.verify(s).ok
    assert missed == []


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_a_forged_row_inserted_anywhere_is_named(tx, walked, where):
    at = {"first": 1, "middle": walked // 2, "last": walked + 1}[where]
    shift = [
        "UPDATE event SET seq = seq + 100000 WHERE seq >= :n",
        "INSERT INTO event (seq, instance_id, task_id, type, actor, at, payload, prev_hash, hash) "
        "SELECT :n, instance_id, task_id, type, 'mallory', at, payload, prev_hash, hash FROM event "
        "WHERE seq = (SELECT MIN(seq) FROM event)",
        "UPDATE event SET seq = seq - 99999 WHERE seq >= 100000",
    ]
    with tx() as s:
        report = _tampered(s, shift, {"n": at})
    assert not report.ok and report.first_bad_seq == at


def test_the_head_is_written_once_per_transaction_and_follows_savepoints(system, tx, clock):
    """Appends keep the head in memory and write it at commit; a savepoint rolled back takes its events and
    the head back, one released keeps them; a transaction rolled back leaves the stored head as it was."""
    from sqlalchemy import event as sa_event

    from engine import eventlog
    from engine.models import ChainHead

    def stored():
        with tx() as s:
            head = s.get(ChainHead, 1)
            return head.seq, head.hash

    start = stored()
    updates = []
    listener = lambda conn, cur, statement, *a: updates.append(statement) \
        if statement.startswith("UPDATE event_chain_head") else None  # noqa: E731
    sa_event.listen(system.db, "before_cursor_execute", listener)
    try:
        with tx() as s:
            for n in range(5):
                eventlog.append(s, type="test", at=clock.now(), data={"n": n})
                s.flush()
            try:
                with s.begin_nested():
                    eventlog.append(s, type="test", at=clock.now(), data={"n": "gone"})
                    s.flush()
                    raise ValueError("roll the savepoint back")
            except ValueError:
                pass
            with s.begin_nested():
                eventlog.append(s, type="test", at=clock.now(), data={"n": "kept"})
    finally:
        sa_event.remove(system.db, "before_cursor_execute", listener)
    assert len(updates) == 1  # five flushes, one head write
    assert stored()[0] == start[0] + 6
    with tx() as s:
        assert eventlog.verify(s).ok

    try:
        with tx() as s:
            eventlog.append(s, type="test", at=clock.now(), data={"n": "rolled back"})
            raise RuntimeError("the request failed")
    except RuntimeError:
        pass
    assert stored()[0] == start[0] + 6
    with tx() as s:
        report = eventlog.verify(s)
        assert report.ok and report.checked == start[0] + 6



def test_a_head_row_loaded_in_the_session_shows_the_written_head_after_commit(system, clock):
    """The head is written with a table-level UPDATE; a head row the session holds (sessions here keep their
    rows after commit) is read again, not left at the old values."""
    from engine.db import transaction
    from engine.models import ChainHead

    session = system.sessions()
    try:
        with session.begin():
            loaded = session.get(ChainHead, 1)
            before = loaded.seq
            eventlog.append(session, type="test", at=clock.now(), data={"n": 1})
            eventlog.append(session, type="test", at=clock.now(), data={"n": 2})
        seen = loaded.seq, loaded.hash  # read again (in a new transaction of this session)
        session.rollback()
    finally:
        session.close()
    assert seen[0] == before + 2
    with transaction(system.sessions) as other:
        stored = other.get(ChainHead, 1)
        assert (stored.seq, stored.hash) == seen

def test_events_are_inserted_together_and_a_query_of_the_transaction_sees_them(system, tx, clock):
    from sqlalchemy import func, select

    from engine.models import EventRow, TaskRow

    with tx() as s:
        before = s.execute(select(func.count()).select_from(EventRow)).scalar()
    with statements_sent(system, "INSERT INTO event") as inserts, tx() as s:
        for n in range(4):
            eventlog.append(s, type="test", at=clock.now(), data={"n": n})
        s.execute(select(TaskRow.id)).all()  # a query that does not read the event table writes nothing
        assert inserts == []
    assert len(inserts) == 1  # four events, one statement (an executemany)
    with statements_sent(system, "INSERT INTO event") as inserts, tx() as s:
        eventlog.append(s, type="test", at=clock.now(), data={"n": "a"})
        # Read in the same transaction, by every way the code reads events: they are there.
        assert s.execute(select(func.count()).select_from(EventRow)).scalar() == before + 5
        assert eventlog.events_of(s, None)[-1].payload == '{"n":"a"}'
        assert s.get(EventRow, before + 5).payload == '{"n":"a"}'
        eventlog.append(s, type="test", at=clock.now(), data={"n": "b"})
    assert len(inserts) == 2  # one before the first read, one at commit
    with tx() as s:
        report = eventlog.verify(s)
        assert report.ok and report.checked == before + 6


def test_a_savepoint_rolled_back_after_its_query_wrote_earlier_events_writes_them_again(system, tx, clock):
    """Events appended before a savepoint and written inside it (a query read the event table) vanish from the
    database when the savepoint is rolled back: they are written again; those appended inside it are gone."""
    from sqlalchemy import func, select

    from engine.models import EventRow

    with tx() as s:
        before = s.execute(select(func.count()).select_from(EventRow)).scalar()
    with tx() as s:
        eventlog.append(s, type="test", at=clock.now(), data={"n": "before"})
        try:
            with s.begin_nested():
                eventlog.append(s, type="test", at=clock.now(), data={"n": "inside"})
                assert s.execute(select(func.count()).select_from(EventRow)).scalar() == before + 2
                raise ValueError("roll the savepoint back")
        except ValueError:
            pass
        assert s.execute(select(func.count()).select_from(EventRow)).scalar() == before + 1
        eventlog.append(s, type="test", at=clock.now(), data={"n": "after"})
    with tx() as s:
        payloads = [r.payload for r in s.execute(select(EventRow).where(EventRow.seq > before)
                                                 .order_by(EventRow.seq)).scalars()]
        assert payloads == ['{"n":"before"}', '{"n":"after"}']
        report = eventlog.verify(s)
        assert report.ok and report.checked == before + 2


def test_the_head_is_taken_last_just_before_the_commit(system, tx, clock):
    """Appending takes no lock: the head is read (locked, on PostgreSQL) only when the transaction commits, after
    every other statement of it, also when events were appended in savepoints released meanwhile (see the lock
    order in engine/persistence.py)."""
    from sqlalchemy import select

    from engine.models import TaskRow

    with statements_sent(system, "") as seen, tx() as s:
        eventlog.append(s, type="test", at=clock.now(), data={"n": 1})
        with s.begin_nested():
            eventlog.append(s, type="test", at=clock.now(), data={"n": 2})
        s.execute(select(TaskRow.id)).all()  # the rest of the transaction's work
        before_commit = len(seen)
    assert before_commit > 0 and not any("event_chain_head" in statement for statement in seen[:before_commit])
    tail = [statement.split()[0:3] for statement in seen[before_commit:]]
    assert ["SELECT", "event_chain_head.seq,", "event_chain_head.hash"] in tail
    with tx() as s:
        assert eventlog.verify(s).ok

"""The hash chain detects an edited, deleted or inserted event and names it."""
from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from engine import eventlog
from tests.factories import Case, make_users


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
    from webui.cli import main

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

"""SQLite writers take turns (engine/sqlite_turns.py): one at a time per database file, across threads and
processes; a waiting writer is let in by the holder's commit; the turn is given back however the transaction
ends, and by a process that dies. Reading transactions take no turn and never wait for a writer."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from engine.db import make_engine
from engine.sqlite_turns import TurnTakingConnection, WriterTurns

# SQLite files of its own in tmp_path, whatever ALUR_TEST_DATABASE_URL says: a PostgreSQL pass runs the same.
pytestmark = pytest.mark.nodb

HOLDER = """
import sys, time
from sqlalchemy import text
from engine.db import make_engine
eng = make_engine(sys.argv[1])
with eng.begin() as conn:
    conn.execute(text("INSERT INTO t VALUES ('child')"))
    print("holding", flush=True)
    sys.stdin.readline()          # hold the turn until told to go on (or killed)
print("done", flush=True)
"""


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'turns.db'}"
    eng = make_engine(url)
    with eng.begin() as conn:
        conn.execute(text("CREATE TABLE t (who TEXT)"))
    eng.dispose()
    return url


def _rows(url: str) -> list[str]:
    eng = make_engine(url)
    try:
        with eng.begin() as conn:
            return list(conn.execute(text("SELECT who FROM t ORDER BY rowid")).scalars())
    finally:
        eng.dispose()


def test_connections_are_turn_taking_and_the_turn_file_sits_beside_the_database(url, tmp_path):
    eng = make_engine(url)
    with eng.begin() as conn:
        raw = conn.connection.dbapi_connection
        assert isinstance(raw, TurnTakingConnection) and raw._holding
        assert raw.turns.path == tmp_path / "turns.db-turn"
    assert not raw._holding
    eng.dispose()
    memory = make_engine("sqlite://")
    with memory.begin() as conn:
        assert conn.connection.dbapi_connection.turns is None  # nothing to share in memory
    memory.dispose()


def test_a_second_writer_thread_waits_for_the_first_to_commit(url):
    eng = make_engine(url)
    order: list[str] = []
    first_in = threading.Event()
    release = threading.Event()

    def first():
        with eng.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES ('first')"))
            first_in.set()
            release.wait(10)
            order.append("first commits")

    def second():
        first_in.wait(10)
        with eng.begin() as conn:
            order.append("second begins")
            conn.execute(text("INSERT INTO t VALUES ('second')"))

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    first_in.wait(10)
    time.sleep(0.2)  # the second thread has had time to try
    assert order == []
    release.set()
    for t in threads:
        t.join(10)
    assert order == ["first commits", "second begins"]
    assert _rows(url) == ["first", "second"]
    eng.dispose()


@pytest.mark.parametrize("end", ["rollback", "close", "error"])
def test_the_turn_is_given_back_however_the_transaction_ends(url, end):
    eng = make_engine(url)
    conn = eng.connect()
    tx = conn.begin()
    raw = conn.connection.dbapi_connection
    assert raw._holding
    if end == "rollback":
        tx.rollback()
        conn.close()
    elif end == "close":
        conn.close()  # returned to the pool, which rolls back
    else:
        with pytest.raises(OperationalError, match="no such table"):
            conn.execute(text("INSERT INTO nowhere VALUES (1)"))
        tx.rollback()
        conn.close()
    assert not raw._holding
    with eng.begin() as other:  # would wait the whole busy timeout if the turn were still taken
        other.execute(text("INSERT INTO t VALUES ('after')"))
    assert _rows(url) == ["after"]
    eng.dispose()


def test_waiting_in_one_process_gives_up_with_database_is_locked(tmp_path):
    turns = WriterTurns(tmp_path / "x.db", timeout=0.2)
    turns.take()
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        turns.take()  # the same thread asking twice: refused after the timeout, never a hang
    turns.give_back()
    turns.take()
    turns.give_back()


def _holder(url: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, cwd=Path(__file__).resolve().parent.parent)
    assert proc.stdout.readline().strip() == "holding"
    return proc


WAITER = """
import sys
from sqlalchemy import event, text
from engine.db import make_engine
eng = make_engine(sys.argv[1])            # no lock timeout: waits for its turn as long as it takes


@event.listens_for(eng, "connect")
def _no_busy_wait(dbapi_conn, _record):   # after make_engine's: SQLite's busy handler never waits or retries
    dbapi_conn.execute("PRAGMA busy_timeout=0")


print("waiting", flush=True)
with eng.begin() as conn:                 # BEGIN IMMEDIATE: fails at once if SQLite's write lock is taken
    seen = list(conn.execute(text("SELECT who FROM t ORDER BY rowid")).scalars())
    conn.execute(text("INSERT INTO t VALUES ('waiter')"))
print("in, saw " + ",".join(seen), flush=True)
"""


def _blocked_on_turn(pid: int, turn_file: Path) -> bool:
    """Whether process ``pid`` waits in the kernel for the ``flock`` of ``turn_file`` (/proc/locks lists a waiter
    as ``-> FLOCK ... <pid> <device>:<inode>``)."""
    inode = f":{turn_file.stat().st_ino} "
    return any(line.split()[1] == "->" and line.split()[5] == str(pid) and inode in line
               for line in Path("/proc/locks").read_text().splitlines() if len(line.split()) > 5)


def test_a_writer_waiting_in_another_process_is_woken_by_the_holders_commit(url, tmp_path):
    """What the turns are for: a writer that finds the database taken is let in by the holder's commit itself,
    not by SQLite's busy handler retrying after a sleep. The waiter's busy timeout is 0, so SQLite would refuse
    its BEGIN IMMEDIATE at once were it not kept waiting for the turn until the write lock is free; it waits
    (blocked in the kernel on the turn file, read from /proc/locks) while this process holds the turn, and gets in
    after the commit, seeing the committed row. With the turns switched off it fails with "database is locked"."""
    eng = make_engine(url)
    with eng.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES ('holder')"))
        waiter = subprocess.Popen([sys.executable, "-c", WAITER, url], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, cwd=Path(__file__).resolve().parent.parent)
        assert waiter.stdout.readline().strip() == "waiting"
        turn_file = tmp_path / "turns.db-turn"
        deadline = time.monotonic() + 60  # only so that a broken turn fails the test instead of hanging it
        while not _blocked_on_turn(waiter.pid, turn_file):
            assert waiter.poll() is None, f"the waiter did not wait for its turn: {waiter.stdout.read()}"
            assert time.monotonic() < deadline, "the waiter never waited for the turn"
            time.sleep(0.01)
        # Leaving the block commits and gives the turn back.
    out, _ = waiter.communicate(timeout=60)
    assert waiter.returncode == 0, out
    assert out.strip() == "in, saw holder"
    assert _rows(url) == ["holder", "waiter"]
    eng.dispose()


READ_IN_ANOTHER_PROCESS = """
import sys
from sqlalchemy import text
from engine.db import make_engine, make_reading_session_factory
eng = make_engine(sys.argv[1], lock_timeout=float(sys.argv[2]))
with make_reading_session_factory(eng)() as session:
    print("read " + ",".join(session.execute(text("SELECT who FROM t ORDER BY rowid")).scalars()), flush=True)
"""


def test_a_read_in_another_process_does_not_wait_for_a_writer(url):
    """A process holds a write transaction (and the turn) until told to go on; another process reads through
    the reading sessions and gets its answer (the committed state) while the holder still holds it. Were reads
    to take the turn, the reader would wait for the holder, which waits for the test: it would give up after its
    lock timeout with "database is locked" instead (the timeout only bounds the test; nothing is timed)."""
    eng = make_engine(url)
    with eng.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES ('before')"))
    eng.dispose()
    holder = _holder(url)  # inserts 'child' and holds its transaction
    reader = subprocess.run([sys.executable, "-c", READ_IN_ANOTHER_PROCESS, url, "20"], capture_output=True,
                            text=True, timeout=120, cwd=Path(__file__).resolve().parent.parent)
    assert holder.poll() is None  # the holder still holds the turn: it waits for the line the test never sent yet
    assert reader.returncode == 0, reader.stderr[-2000:]
    assert reader.stdout.strip() == "read before"  # its snapshot: the holder's row is not committed
    _release(holder)
    assert _rows(url) == ["before", "child"]


def test_a_reading_transaction_in_this_process_does_not_wait_for_a_writer_thread(url):
    from engine.db import make_reading_session_factory

    eng = make_engine(url, lock_timeout=20)
    readers = make_reading_session_factory(eng)
    with eng.begin() as conn:  # this thread holds the turn (and SQLite's write lock) ...
        conn.execute(text("INSERT INTO t VALUES ('uncommitted')"))
        answer: list = []
        reader = threading.Thread(target=lambda: answer.append(_read(readers)))
        reader.start()
        reader.join(60)
        assert answer == [[]]  # ... and another thread read meanwhile, without the turn
        raw = conn.connection.dbapi_connection
        assert raw._holding
    eng.dispose()


def _read(readers) -> list[str] | str:
    try:
        with readers() as session:
            raw = session.connection().connection.dbapi_connection
            rows = list(session.execute(text("SELECT who FROM t")).scalars())
            assert raw.reading and not raw._holding
            return rows
    except Exception as exc:  # noqa: BLE001 - reported by the test's assertion
        return repr(exc)


def test_a_reading_transaction_that_writes_takes_the_turn_then(url, caplog):
    from engine.db import make_reading_session_factory

    eng = make_engine(url)
    readers = make_reading_session_factory(eng)
    with readers() as session:
        session.execute(text("SELECT who FROM t")).all()
        raw = session.connection().connection.dbapi_connection
        assert raw.reading and not raw._holding
        session.execute(text("INSERT INTO t VALUES ('reader')"))
        assert raw._holding  # writers still go one at a time
        session.commit()
        assert not raw._holding and not raw.reading
    assert "a reading transaction writes" in caplog.text
    assert _rows(url) == ["reader"]
    eng.dispose()


def test_a_reading_transaction_whose_snapshot_is_stale_is_refused_the_write_as_database_is_locked(url):
    """SQLite cannot upgrade a read transaction that began before another writer's commit: that is "database is
    locked" (SQLITE_BUSY_SNAPSHOT), as SQLAlchemy's OperationalError: a request answers 503, never a 500."""
    from engine.db import make_reading_session_factory

    eng = make_engine(url, lock_timeout=2)
    readers = make_reading_session_factory(eng)
    with readers() as session:
        assert session.execute(text("SELECT count(*) FROM t")).scalar() == 0  # the snapshot is taken here
        with eng.begin() as other:
            other.execute(text("INSERT INTO t VALUES ('writer')"))
        with pytest.raises(OperationalError, match="database is locked"):
            session.execute(text("INSERT INTO t VALUES ('reader')"))
        session.rollback()
    with eng.begin() as conn:  # the refused reader gave the turn back
        conn.execute(text("INSERT INTO t VALUES ('after')"))
    assert _rows(url) == ["writer", "after"]
    eng.dispose()


def test_a_killed_holder_does_not_keep_the_turn(url):
    proc = _holder(url)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    proc.stdin.close()
    proc.stdout.close()
    eng = make_engine(url)
    with eng.begin() as conn:  # the kernel dropped the dead process's flock; SQLite rolled its transaction back
        conn.execute(text("INSERT INTO t VALUES ('parent')"))
    assert _rows(url) == ["parent"]
    eng.dispose()


def _release(proc: subprocess.Popen) -> None:
    proc.stdin.write("\n")
    proc.stdin.flush()
    assert proc.stdout.readline().strip() == "done"
    assert proc.wait(10) == 0
    proc.stdin.close()
    proc.stdout.close()


def test_waiting_for_another_process_gives_up_with_database_is_locked_and_keeps_nothing(url, tmp_path):
    """A turn another process holds longer than the timeout: "database is locked" (a request answers 503), and
    the given-up wait neither keeps the turn nor blocks this process's next writer once the holder is done."""
    proc = _holder(url)
    turns = WriterTurns(tmp_path / "turns.db", timeout=0.3)
    outcome: list = []

    def first_writer():
        try:
            turns.take()
            outcome.append("took the turn")
        except sqlite3.OperationalError as exc:
            outcome.append(str(exc))

    writer = threading.Thread(target=first_writer, daemon=True)
    writer.start()
    writer.join(30)  # a wait without a limit would still be waiting: the test fails instead of hanging
    assert len(outcome) == 1 and "database is locked" in outcome[0] and "another process" in outcome[0], outcome
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        turns.take()  # the wait given up still waits in the kernel: a second one is refused, it does not pile up
    _release(proc)
    turns.take(timeout=10)  # the given-up wait got the turn, let it go and freed the process's lock
    turns.give_back()
    _release(_holder(url))  # and another process gets it: nothing was kept
    assert _rows(url) == ["child", "child"]

"""SQLite writers take turns (engine/sqlite_turns.py): one at a time per database file, across threads and
processes; the turn is given back however the transaction ends, and by a process that dies."""
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


def test_another_process_waits_for_the_holder_and_goes_on_when_it_commits(url):
    proc = _holder(url)
    got_in = threading.Event()
    eng = make_engine(url)

    def writer():
        with eng.begin() as conn:
            got_in.set()
            conn.execute(text("INSERT INTO t VALUES ('parent')"))

    t = threading.Thread(target=writer)
    t.start()
    assert not got_in.wait(0.3)
    proc.stdin.write("\n")
    proc.stdin.flush()
    assert proc.stdout.readline().strip() == "done"
    t.join(10)
    assert got_in.is_set() and proc.wait(10) == 0
    proc.stdin.close()
    proc.stdout.close()
    assert _rows(url) == ["child", "parent"]
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

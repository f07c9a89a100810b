"""Turn-taking for SQLite writers, so that a waiting writer starts the moment the previous one commits.

A write transaction on SQLite begins with ``BEGIN IMMEDIATE`` (see :func:`engine.db.make_engine`), so writers take
turns. SQLite's own busy handler makes a writer that finds the database locked sleep 1, 2, 5, 10 ... ms before it
tries again, whatever the holder is doing: with two gunicorn workers and a background worker, most of the time a
waiting request spends is that sleep, not the other's work.

**Readers take no turn.** A reading transaction (a session of :func:`engine.db.make_reading_session_factory`: the
web app's GET requests, the worker's look-ups) begins with a plain deferred ``BEGIN``: in WAL mode it reads its
snapshot while a writer works, and neither waits for the other. Should a statement that writes run in one anyway,
the connection takes the turn then (:meth:`TurnTakingConnection.before_write`), so writers still go one at a time;
SQLite refuses that late upgrade with "database is locked" when another writer committed since the transaction's
first read (a request answers 503). The app keeps its writes out of reading transactions (webui/db.py).

Here each process first takes a lock of its own (a :class:`threading.Lock`: threads of one process wait in turn),
then an exclusive ``flock`` on ``<database>-turn`` beside the database file (processes wait in the kernel, which
wakes the next one as soon as the holder lets go). The turn is given back when the transaction ends (commit,
rollback or close). The kernel drops the ``flock`` of a process that dies, so a killed worker never leaves the turn
taken. SQLite's own locking stays in place underneath: a program that does not take turns (the ``sqlite3`` shell)
is still kept out by it.

**A bounded wait.** A writer waits for its turn at most the connection's ``turn_timeout`` (the lock timeout the
engine was made with: below gunicorn's worker timeout for a web request, see ``process.config``), then gives up
with ``database is locked`` (HTTP 503), having written nothing. ``flock`` itself cannot time out, so when the turn
is taken by another process the kernel wait runs in a helper thread that the writer waits for only so long; a wait
given up lets the turn go the moment it gets it, and only then frees the process's lock (so no two waits of one
process ever overlap on the file). Without a timeout (``None``: command-line tools) a writer waits as long as it
takes, as a holder in the middle of a transaction ends it or dies.
"""
from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from pathlib import Path


class _KernelWait(threading.Thread):
    """Waits in the kernel for the turn of a writer that waits for it only so long (see the module doc)."""

    def __init__(self, fd: int, process_lock: threading.Lock):
        super().__init__(name="sqlite-turn-wait", daemon=True)
        self.fd, self.process_lock = fd, process_lock
        self._mutex = threading.Lock()
        self._done = threading.Event()
        self._given_up = False
        self._error: BaseException | None = None

    def run(self) -> None:
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except BaseException as exc:  # noqa: BLE001 - handed to the writer, or dropped with the wait
            with self._mutex:
                self._error = exc
                if self._given_up:
                    self.process_lock.release()
                self._done.set()
            return
        with self._mutex:
            if self._given_up:  # the writer left: let the turn go at once, then the process's lock
                fcntl.flock(self.fd, fcntl.LOCK_UN)
                self.process_lock.release()
            self._done.set()

    def wait(self, seconds: float) -> bool:
        """True: the turn is the writer's. False: given up (this thread frees the process's lock later)."""
        self._done.wait(max(seconds, 0.0))
        with self._mutex:
            if self._done.is_set():
                if self._error is not None:
                    raise self._error
                return True
            self._given_up = True
            return False


_OWN = object()  # take() without a timeout of its own


class WriterTurns:
    """One per database file and process: the process's lock and its open ``-turn`` file."""

    def __init__(self, database: Path, timeout: float | None = None):
        self.path = Path(f"{database}-turn")
        #: Seconds a writer waits for its turn when :meth:`take` is not told (None: as long as it takes).
        self.timeout = timeout
        self._thread_lock = threading.Lock()
        self._fd: int | None = None

    def _file(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        return self._fd

    def take(self, timeout: float | None | object = _OWN) -> None:
        """Wait for this process's turn, at most ``timeout`` seconds in all (default: the object's; None: as long
        as it takes); raises ``sqlite3.OperationalError("database is locked ...")`` when it does not come in time."""
        timeout = self.timeout if timeout is _OWN else timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._thread_lock.acquire(timeout=-1 if timeout is None else timeout):
            raise sqlite3.OperationalError(f"database is locked (another writer of this process kept its turn "
                                           f"longer than {timeout:g} s)")
        handed_over = False
        try:
            fd = self._file()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                pass
            if deadline is None:
                fcntl.flock(fd, fcntl.LOCK_EX)
                return
            wait = _KernelWait(fd, self._thread_lock)
            wait.start()
            if wait.wait(deadline - time.monotonic()):
                return
            handed_over = True  # the waiting thread frees the process's lock once it got and gave back the turn
            raise sqlite3.OperationalError(f"database is locked (another process kept its turn longer than "
                                           f"{timeout:g} s)")
        except BaseException:
            if not handed_over:
                self._thread_lock.release()
            raise

    def give_back(self) -> None:
        try:
            fcntl.flock(self._file(), fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()


_registry: dict[tuple[int, str], WriterTurns] = {}
_registry_lock = threading.Lock()


def turns_for(database: str) -> WriterTurns:
    """The turns of ``database`` in this process (a forked child gets its own), shared by all its engines."""
    key = (os.getpid(), os.path.realpath(database))
    with _registry_lock:
        turns = _registry.get(key)
        if turns is None:
            turns = _registry[key] = WriterTurns(Path(key[1]))
        return turns


class TurnTakingConnection(sqlite3.Connection):
    """A sqlite3 connection that holds its process's turn from ``BEGIN IMMEDIATE`` until the transaction ends; a
    reading transaction (``BEGIN``) holds none unless it writes."""

    turns: WriterTurns | None = None
    #: Seconds this connection waits for its turn (None: as long as it takes).
    turn_timeout: float | None = None
    _holding = False
    #: In a transaction begun by :meth:`begin_reading`.
    reading = False

    def begin_immediate(self) -> None:
        self._take()
        try:
            self.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._give_back()
            raise

    def begin_reading(self) -> None:
        """A deferred transaction: a snapshot of the database from its first read on, no turn, no write lock."""
        self.execute("BEGIN")
        self.reading = True

    def before_write(self) -> None:
        """A statement that writes is about to run in a reading transaction: wait for the turn first."""
        self._take()

    def _take(self) -> None:
        if self.turns is not None and not self._holding:
            self.turns.take(self.turn_timeout)
            self._holding = True

    def _give_back(self) -> None:
        self.reading = False
        if self._holding:
            self._holding = False
            self.turns.give_back()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            if not self.in_transaction:
                self._give_back()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._give_back()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._give_back()

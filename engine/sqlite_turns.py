"""Turn-taking for SQLite writers, so that a waiting writer starts the moment the previous one commits.

Every transaction on SQLite begins with ``BEGIN IMMEDIATE`` (see :func:`engine.db.make_engine`), so writers take
turns. SQLite's own busy handler makes a writer that finds the database locked sleep 1, 2, 5, 10 ... ms before it
tries again, whatever the holder is doing: with two gunicorn workers and a background worker, most of the time a
waiting request spends is that sleep, not the other's work.

Here each process first takes a lock of its own (a :class:`threading.Lock`: threads of one process wait in turn and
give up after the busy timeout, as SQLite would), then an exclusive ``flock`` on ``<database>-turn`` beside the
database file (processes wait in the kernel, which wakes the next one as soon as the holder lets go). That wait
has no limit of its own: the holder is a process in the middle of a transaction, which ends it or dies. The turn is
given back when the transaction ends (commit, rollback or close). The kernel drops the ``flock`` of a process that
dies, so a killed worker never leaves the turn taken. SQLite's own locking stays in place underneath: a program
that does not take turns (the ``sqlite3`` shell) is still kept out by it.
"""
from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from pathlib import Path


class WriterTurns:
    """One per database file and process: the process's lock and its open ``-turn`` file."""

    def __init__(self, database: Path, timeout: float):
        self.path = Path(f"{database}-turn")
        self.timeout = timeout
        self._thread_lock = threading.Lock()
        self._fd: int | None = None

    def _file(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        return self._fd

    def take(self) -> None:
        if not self._thread_lock.acquire(timeout=self.timeout):
            raise sqlite3.OperationalError("database is locked (another writer of this process kept its turn)")
        try:
            fcntl.flock(self._file(), fcntl.LOCK_EX)
        except BaseException:
            self._thread_lock.release()
            raise

    def give_back(self) -> None:
        try:
            fcntl.flock(self._file(), fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()


_registry: dict[tuple[int, str], WriterTurns] = {}
_registry_lock = threading.Lock()


def turns_for(database: str, timeout: float) -> WriterTurns:
    """The turns of ``database`` in this process (a forked child gets its own)."""
    key = (os.getpid(), os.path.realpath(database))
    with _registry_lock:
        turns = _registry.get(key)
        if turns is None:
            turns = _registry[key] = WriterTurns(Path(key[1]), timeout)
        return turns


class TurnTakingConnection(sqlite3.Connection):
    """A sqlite3 connection that holds its process's turn from ``BEGIN IMMEDIATE`` until the transaction ends."""

    turns: WriterTurns | None = None
    _holding = False

    def begin_immediate(self) -> None:
        if self.turns is not None and not self._holding:
            self.turns.take()
            self._holding = True
        try:
            self.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._give_back()
            raise

    def _give_back(self) -> None:
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

"""Waking a sleeping worker when a transaction makes something due sooner than it planned.

The worker sleeps until the next due time it knows of (a timer, a reminder, an e-mail retry, an export job), not
in short polling steps. A transaction that may make something due earlier — a case started or moved (its
``next_timer_at``), a reminder or e-mail queued, an export asked for — marks its session with :func:`soon`; when it
commits, the worker is told:

- **PostgreSQL**: ``NOTIFY alur_wake`` inside the transaction. PostgreSQL delivers it at commit and drops it on
  rollback, to every worker listening on any host (``LISTEN alur_wake`` on a connection of its own).
- **SQLite**: the database lives on this machine, so its processes are too: after the commit one datagram goes to
  a Unix socket named after the database file (Linux's abstract namespace: no file to create or clean up, nothing
  left behind by a killed worker). Sending never blocks and never fails the request: with no worker listening
  (not started, busy, or its queue full) the datagram is dropped, and the worker reads the due times afresh
  whenever it wakes anyway.

The worker wakes for every such commit, reads the next due time (one index entry), and sleeps again: a burst of
requests costs it a few look-ups, an idle system costs it nothing. A longest sleep (``alur worker --interval``)
remains as a safety net for changes made behind the application's back (SQL typed by hand).

Hand-written: no library wakes a process from another on both databases; the two mechanisms used are the
databases' and the kernel's own.
"""
from __future__ import annotations

import errno
import hashlib
import logging
import os
import select
import socket
import sys
import time
import weakref

from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

CHANNEL = "alur_wake"
_FLAG = "alur.wake"
#: The session factories :func:`install` was run on.
_INSTALLED: weakref.WeakSet = weakref.WeakSet()


def soon(session: Session) -> None:
    """Tell the worker, when this transaction commits, that something may be due sooner than it planned."""
    session.info[_FLAG] = True


def install(factory: sessionmaker, engine: Engine) -> None:
    """Make the sessions of ``factory`` wake the worker after a commit marked with :func:`soon`."""
    if factory in _INSTALLED:
        return
    _INSTALLED.add(factory)
    address = sqlite_address(engine)
    postgresql = engine.dialect.name == "postgresql"

    @event.listens_for(factory, "before_commit")
    def _notify(session: Session) -> None:
        if postgresql and session.info.get(_FLAG):
            session.execute(text(f"NOTIFY {CHANNEL}"))

    @event.listens_for(factory, "after_commit")
    def _send(session: Session) -> None:
        if session.info.pop(_FLAG, None) and address is not None:
            _datagram(address)

    @event.listens_for(factory, "after_rollback")
    def _forget(session: Session) -> None:
        session.info.pop(_FLAG, None)


def sqlite_address(engine: Engine) -> bytes | None:
    """The abstract Unix socket of the worker of this SQLite database (None: not SQLite, in memory, or not Linux)."""
    if engine.dialect.name != "sqlite" or not sys.platform.startswith("linux"):
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    digest = hashlib.sha256(os.path.realpath(database).encode()).hexdigest()[:32]
    return b"\0alur-wake-" + digest.encode()


def _datagram(address: bytes) -> None:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)
            sock.sendto(b"w", address)
    except OSError as exc:  # nobody listening, or its queue is full: it reads the due times when it wakes anyway
        if exc.errno not in (errno.ECONNREFUSED, errno.ENOENT, errno.EAGAIN, errno.ENOBUFS):
            log.debug("cannot wake the worker: %s", exc)


class Listener:
    """The worker's side: :meth:`wait` sleeps until woken by a commit, by :meth:`interrupt` (from a signal handler
    or another thread), or until ``timeout`` seconds have passed."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._pipe_r, self._pipe_w = os.pipe()
        os.set_blocking(self._pipe_r, False)
        os.set_blocking(self._pipe_w, False)
        self._sock: socket.socket | None = None
        self._pg = None
        self._pg_retry_at = 0.0
        address = sqlite_address(engine)
        if address is not None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            try:
                sock.bind(address)
            except OSError as exc:  # another worker of this database holds it: it is woken, this one polls
                sock.close()
                log.warning("another worker already listens for wake-ups of this database (%s); this one "
                            "wakes only at its due times and its longest sleep", exc)
            else:
                sock.setblocking(False)
                self._sock = sock
        self.listening = self._sock is not None or self._connect_pg()

    @property
    def kind(self) -> str:
        if self._sock is not None:
            return "unix socket"
        if self.engine.dialect.name == "postgresql":
            return "LISTEN/NOTIFY"
        return "none"

    def _connect_pg(self) -> bool:
        if self.engine.dialect.name != "postgresql":
            return False
        import psycopg

        try:
            conninfo = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
            conn = psycopg.connect(conninfo, autocommit=True, connect_timeout=5)
            conn.execute(f"LISTEN {CHANNEL}")
        except Exception as exc:  # noqa: BLE001 - a database that is down now: listen again at the next wait
            log.warning("cannot listen for wake-ups (%s); trying again later", exc)
            self._pg_retry_at = time.monotonic() + 5.0
            return False
        self._pg = conn
        return True

    def interrupt(self) -> None:
        try:
            os.write(self._pipe_w, b"x")
        except OSError:  # the pipe is full: a wake-up is pending already
            pass

    def wait(self, timeout: float) -> bool:
        """Sleep at most ``timeout`` seconds; True when woken before."""
        if self.engine.dialect.name == "postgresql" and self._pg is None and time.monotonic() >= self._pg_retry_at:
            self._connect_pg()
        fds = [self._pipe_r]
        if self._sock is not None:
            fds.append(self._sock.fileno())
        if self._pg is not None:
            fds.append(self._pg.pgconn.socket)
        readable, _, _ = select.select(fds, [], [], max(0.0, timeout))
        if not readable:
            return False
        self._drain()
        return True

    def _drain(self) -> None:
        try:
            while os.read(self._pipe_r, 512):
                pass
        except BlockingIOError:
            pass
        if self._sock is not None:
            try:
                while self._sock.recv(64):
                    pass
            except BlockingIOError:
                pass
        if self._pg is not None:
            pg = self._pg.pgconn
            try:
                pg.consume_input()
                while pg.notifies() is not None:
                    pass
            except Exception as exc:  # noqa: BLE001 - the connection was lost: listen again at the next wait
                log.warning("lost the wake-up connection (%s); listening again", exc)
                self._close_pg()

    def _close_pg(self) -> None:
        if self._pg is not None:
            try:
                self._pg.close()
            except Exception:  # noqa: BLE001 - closing a broken connection
                pass
            self._pg = None

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._close_pg()
        for fd in (self._pipe_r, self._pipe_w):
            try:
                os.close(fd)
            except OSError:
                pass

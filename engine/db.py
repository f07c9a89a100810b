"""Database engines and the one transaction scope used by requests, CLI commands and tests."""
from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, event, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from . import eventlog, persistence, wakeup
from .eventlog import GENESIS_HASH
from .models import Base, ChainHead
from .sqlite_turns import TurnTakingConnection, turns_for

log = logging.getLogger(__name__)

#: The execution option (and session info key) of a reading engine: see :func:`make_reading_session_factory`.
READING = "alur_reading"

#: Statements that do not write (SAVEPOINT and its ends write nothing by themselves). A ``WITH`` that names a
#: writing verb anywhere counts as writing: a wrong guess here costs a turn taken for nothing, never a write
#: without one.
_READ_ONLY = re.compile(r"\s*(?:SELECT|PRAGMA|EXPLAIN|VALUES|SAVEPOINT|RELEASE|ROLLBACK)\b"
                        r"|\s*WITH\b(?!.*\b(?:INSERT|UPDATE|DELETE|REPLACE)\b)", re.IGNORECASE | re.DOTALL)

#: How long SQLite's own busy handler waits for a program that does not take turns (the ``sqlite3`` shell), when the
#: engine has no lock timeout.
SQLITE_BUSY_SECONDS = 30


def make_engine(url: str, *, lock_timeout: float | None = None, statement_timeout: float | None = None,
                **kwargs) -> Engine:
    """A SQLAlchemy engine. SQLite gets WAL, a busy timeout, foreign keys and ``BEGIN IMMEDIATE`` with the writer
    turn (engine/sqlite_turns.py) for write transactions (they must not be upgraded from read ones, which SQLite
    can refuse under load); a transaction of the engine's reading variant (:func:`make_reading_session_factory`)
    begins with a deferred ``BEGIN`` and takes no turn, so readers never wait for a writer.

    ``lock_timeout``: seconds a statement waits for a row lock (PostgreSQL ``lock_timeout``: SQLSTATE 55P03) or a
    transaction for the SQLite write turn ("database is locked"); ``statement_timeout``: seconds a PostgreSQL
    statement may run (SQLSTATE 57014; SQLite has none). None: no limit. Set on every connection when it is made,
    so they cost nothing per transaction (the values per kind of process: ``process.config.Settings``)."""
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]  # psycopg 3 is the driver we ship
    if url.startswith("sqlite"):
        busy = lock_timeout if lock_timeout is not None else SQLITE_BUSY_SECONDS
        eng = create_engine(url, connect_args={"timeout": busy, "isolation_level": None,
                                               "factory": TurnTakingConnection}, **kwargs)
        database = eng.url.database
        turns = turns_for(database) if database and database != ":memory:" and \
            not database.startswith("file:") else None

        @event.listens_for(eng, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            dbapi_conn.turns = turns  # writers of this file take turns (engine/sqlite_turns.py)
            dbapi_conn.turn_timeout = lock_timeout
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={int(busy * 1000)}")
            cur.close()

        @event.listens_for(eng, "begin")
        def _sqlite_begin(conn):
            raw = conn.connection.dbapi_connection
            if conn.get_execution_options().get(READING):
                raw.begin_reading()
                return
            try:
                raw.begin_immediate()
            except sqlite3.OperationalError as exc:  # e.g. the turn did not come in time: as SQLAlchemy reports it
                raise OperationalError("BEGIN IMMEDIATE", None, exc) from exc

        @event.listens_for(eng, "before_cursor_execute")
        def _sqlite_write_in_reading(conn, cursor, statement, parameters, _context, _executemany):
            raw = cursor.connection
            if not raw.reading or raw._holding or _READ_ONLY.match(statement):
                return
            # A reading transaction writes: the turn first, so writers still go one at a time (the app routes
            # its writes to write transactions; this is the safety net, and a sign that one was not).
            log.warning("a reading transaction writes (taking the writer turn now): %.120s", statement)
            try:
                raw.before_write()
            except sqlite3.OperationalError as exc:
                raise OperationalError(statement, parameters, exc) from exc

        return eng
    options = [f"-c {name}={max(1, round(seconds * 1000))}" for name, seconds in
               (("lock_timeout", lock_timeout), ("statement_timeout", statement_timeout)) if seconds is not None]
    if options:
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args["options"] = " ".join(filter(None, [connect_args.get("options"), *options]))
        kwargs["connect_args"] = connect_args
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """The application's sessions: every session that acts on cases or appends events is made here. Its sessions
    write the events they append (engine.eventlog) and forget the values written by an action when a savepoint
    rolls back (engine.persistence); those listeners are set on this factory only, never on SQLAlchemy's global
    ``Session``, so other sessions of the process run none of them."""
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    eventlog.install(factory)
    persistence.install(factory)
    wakeup.install(factory, engine)
    return factory


def make_reading_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for transactions that only read (pages shown, look-ups), on ``engine``'s pool.

    On SQLite such a transaction begins with a deferred ``BEGIN`` and does not take the writer turn: it reads a
    snapshot while a writer works (WAL), and no writer waits for it. A statement that writes in one takes the turn
    then (see :func:`make_engine`). Writes a reader needs done anyway are handed to :func:`write_after_reading`.
    On PostgreSQL nothing differs (every transaction reads without waiting for writers there)."""
    return sessionmaker(bind=engine.execution_options(**{READING: True}), expire_on_commit=False,
                        info={READING: True})


def is_reading(session: Session) -> bool:
    """Whether ``session`` came from :func:`make_reading_session_factory`."""
    return bool(session.info.get(READING))


_AFTER_READING = "alur_after_reading"


def write_after_reading(session: Session, work: Callable[[Session], None]) -> None:
    """Have ``work`` done in a short write transaction of its own once the reading transaction of ``session`` has
    ended (bookkeeping a read brings about, like a login's last-seen time): whoever ends the reading transaction
    runs it with :func:`run_writes_after_reading`. In a write transaction ``work`` runs at once, in it."""
    if is_reading(session):
        session.info.setdefault(_AFTER_READING, []).append(work)
    else:
        work(session)


def writes_after_reading(session: Session) -> list[Callable[[Session], None]]:
    """The writes handed over in the reading ``session`` (see :func:`write_after_reading`), taken from it: whoever
    takes them runs them."""
    return session.info.pop(_AFTER_READING, None) or []


def run_writes_after_reading(session: Session, writers: sessionmaker[Session]) -> int:
    """Run the writes handed over in the reading ``session`` (see :func:`write_after_reading`), all in one
    transaction of ``writers``; how many. They are taken first, so a failure does not repeat them."""
    work = writes_after_reading(session)
    if not work:
        return 0
    with transaction(writers) as writing:
        for step in work:
            step(writing)
    return len(work)


def create_schema(engine: Engine) -> None:
    """Create every table known to ``Base.metadata`` (tests; deployments use the migrations) and the
    event chain's head row."""
    Base.metadata.create_all(engine)
    ensure_chain_head(engine)


def ensure_chain_head(engine: Engine) -> None:
    head = ChainHead.__table__
    with engine.begin() as connection:
        if connection.execute(select(head.c.id).where(head.c.id == 1)).first() is None:
            connection.execute(insert(head).values(id=1, seq=0, hash=GENESIS_HASH))


def lost_connection(exc: BaseException) -> bool:
    """Whether an error means the database connection is gone (not something one action did wrong)."""
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit when the block ends normally, roll back on any exception."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()

"""Database engines and the one transaction scope used by requests, CLI commands and tests."""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, event, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from . import eventlog, persistence
from .eventlog import GENESIS_HASH
from .models import Base, ChainHead
from .sqlite_turns import TurnTakingConnection, turns_for

#: How long SQLite's own busy handler waits for a program that does not take turns (the ``sqlite3`` shell), when the
#: engine has no lock timeout.
SQLITE_BUSY_SECONDS = 30


def make_engine(url: str, *, lock_timeout: float | None = None, statement_timeout: float | None = None,
                **kwargs) -> Engine:
    """A SQLAlchemy engine. SQLite gets WAL, a busy timeout, foreign keys and ``BEGIN IMMEDIATE``
    (write transactions must not be upgraded from read ones, which SQLite can refuse under load).

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
            try:
                conn.connection.dbapi_connection.begin_immediate()
            except sqlite3.OperationalError as exc:  # e.g. the turn did not come in time: as SQLAlchemy reports it
                raise OperationalError("BEGIN IMMEDIATE", None, exc) from exc

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
    return factory


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

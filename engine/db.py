"""Database engines and the one transaction scope used by requests, CLI commands and tests."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from .eventlog import GENESIS_HASH
from .models import Base, ChainHead
from .sqlite_turns import TurnTakingConnection, turns_for

#: How long a SQLite writer waits for its turn before giving up ("database is locked").
SQLITE_BUSY_SECONDS = 30


def make_engine(url: str, **kwargs) -> Engine:
    """A SQLAlchemy engine. SQLite gets WAL, a busy timeout, foreign keys and ``BEGIN IMMEDIATE``
    (write transactions must not be upgraded from read ones, which SQLite can refuse under load)."""
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]  # psycopg 3 is the driver we ship
    if url.startswith("sqlite"):
        eng = create_engine(url, connect_args={"timeout": SQLITE_BUSY_SECONDS, "isolation_level": None,
                                               "factory": TurnTakingConnection}, **kwargs)
        database = eng.url.database
        turns = turns_for(database, SQLITE_BUSY_SECONDS) if database and database != ":memory:" and \
            not database.startswith("file:") else None

        @event.listens_for(eng, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            dbapi_conn.turns = turns  # writers of this file take turns (engine/sqlite_turns.py)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
            cur.close()

        @event.listens_for(eng, "begin")
        def _sqlite_begin(conn):
            conn.connection.dbapi_connection.begin_immediate()

        return eng
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def create_schema(engine: Engine) -> None:
    """Create every table known to ``Base.metadata`` (tests; deployments use the migrations) and the
    event chain's head row."""
    Base.metadata.create_all(engine)
    ensure_chain_head(engine)


def ensure_chain_head(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        if session.get(ChainHead, 1) is None:
            session.add(ChainHead(id=1, seq=0, hash=GENESIS_HASH))


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

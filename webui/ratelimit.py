"""Where the login rate limits count: a store that every process of the app shares.

Flask-Limiter counts through a storage of the ``limits`` library, chosen by a URI. ``limits`` ships in-memory,
Redis, Memcached and MongoDB storages; a counter in memory belongs to one gunicorn worker, so with N workers a
client got N times the documented tries. The app's default is therefore its own database (no other service to
run): :class:`DatabaseStorage`, a fixed-window counter per key in the ``rate_limit`` table
(:class:`process.models.RateLimitCounter`), on SQLite and PostgreSQL. ``ALUR_RATELIMIT_STORAGE`` picks another
store: ``redis://host:port/db`` (``limits``' Redis storage), or ``memory://`` explicitly (one process only).

Each counter update is one statement, ``INSERT … ON CONFLICT (key) DO UPDATE … RETURNING count``, committed on
its own (autocommit): PostgreSQL serialises concurrent upserts of a key on its row, SQLite has one writer at a
time, so no two processes can read the same count. It is not part of the request's transaction on purpose: a
refused login answers 401 and rolls its transaction back, but its try must still count.
"""
from __future__ import annotations

import os
import threading
import time

from limits.storage import Storage
from sqlalchemy import case, create_engine, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from engine.db import SQLITE_BUSY_SECONDS, make_engine
from process.models import RateLimitCounter

#: ``ALUR_RATELIMIT_STORAGE`` value (also the default) that means "the app's own database".
DATABASE = "database"
PREFIX = "alur+"
#: Expired counters are removed by the process that counts, at most this often (seconds).
SWEEP_EVERY = 60.0

_table = RateLimitCounter.__table__
_engines: dict[tuple[int, str], Engine] = {}
_engines_lock = threading.Lock()


def storage_uri(configured: str | None, database_url: str) -> str:
    """The Flask-Limiter storage URI for an ``ALUR_RATELIMIT_STORAGE`` value (unset or ``database``: the app's
    database)."""
    configured = (configured or "").strip()
    if configured and configured != DATABASE:
        return configured
    return PREFIX + database_url


def _engine(database_url: str) -> Engine:
    """One engine per database and process (made on first use, so a forked worker never shares a connection).

    Statements run in autocommit. On SQLite the app's own engine is not used: its transactions begin with
    ``BEGIN IMMEDIATE`` and take the process's writer turn (engine/sqlite_turns.py), which a counter of one
    statement does not need; SQLite's lock and busy timeout order it among the other writers.
    """
    key = (os.getpid(), database_url)
    with _engines_lock:
        eng = _engines.get(key)
        if eng is None:
            if database_url.startswith("sqlite"):
                eng = create_engine(database_url, isolation_level="AUTOCOMMIT",
                                    connect_args={"timeout": SQLITE_BUSY_SECONDS})
            else:
                # One connection kept per process (web workers count one login at a time), two more at most.
                eng = make_engine(database_url, pool_size=1, max_overflow=2).execution_options(
                    isolation_level="AUTOCOMMIT")
            _engines[key] = eng
        return eng


class DatabaseStorage(Storage):
    """Fixed-window counters in the app's database (``alur+<database URL>``); see the module doc."""

    STORAGE_SCHEME = ["alur+sqlite", "alur+postgresql", "alur+postgres", "alur+postgresql+psycopg"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.database_url = (uri or "").removeprefix(PREFIX)
        self._insert = postgresql.insert if self.database_url.startswith("postgres") else sqlite.insert
        self._last_sweep = 0.0
        #: The clock of the windows (Unix time; the tests replace it).
        self.now = time.time

    @property
    def engine(self) -> Engine:
        return _engine(self.database_url)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = self.now()
        c = _table.c
        expired = c.expires_at <= now
        stmt = self._insert(_table).values(key=key, count=amount, expires_at=now + expiry)
        stmt = stmt.on_conflict_do_update(index_elements=[c.key], set_={
            "count": case((expired, amount), else_=c.count + amount),
            "expires_at": case((expired, now + expiry), else_=c.expires_at),
        }).returning(c.count)
        with self.engine.connect() as conn:
            count = conn.execute(stmt).scalar_one()
            if now - self._last_sweep >= SWEEP_EVERY:
                self._last_sweep = now
                conn.execute(delete(_table).where(c.expires_at <= now))
        return count

    def _live(self, column, key: str):
        with self.engine.connect() as conn:
            return conn.execute(select(column).where(_table.c.key == key, _table.c.expires_at > self.now())
                                ).scalar_one_or_none()

    def get(self, key: str) -> int:
        return self._live(_table.c.count, key) or 0

    def get_expiry(self, key: str) -> float:
        return self._live(_table.c.expires_at, key) or self.now()

    def check(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(select(1)).scalar_one()
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        with self.engine.connect() as conn:
            number = conn.execute(select(func.count()).select_from(_table)).scalar_one()
            conn.execute(delete(_table))
        return number

    def clear(self, key: str) -> None:
        with self.engine.connect() as conn:
            conn.execute(delete(_table).where(_table.c.key == key))

"""Append-only, hash-chained event log.

Each row's hash covers its position, type, instance, task, actor, time, payload and the previous row's hash; the
single ``event_chain_head`` row holds the last position and hash, so a deleted tail is caught too.

**The head is the last lock a writer takes** (the lock order of all writers is in :mod:`engine.persistence`). An append
only notes the event in its transaction. Just before the transaction commits (the session's ``before_commit``,
after the last flush of ORM changes, so every row the transaction writes is locked by then) it locks the head row,
numbers and hashes its events after the head, inserts them with one statement and writes the head. Every writer
appends, so the head orders the writers' commits on PostgreSQL; taken last, it is held only while a transaction
commits, and a transaction holding it waits for nothing else (the event table has no foreign keys to check).
SQLite serialises writers anyway (``BEGIN IMMEDIATE``): there the head may be read with the transaction's first
statement instead (:func:`adopt_head`).

Every statement of the transaction that may read the event table sees the events appended so far, however it is
run (an ORM query, a Core statement or ``text()`` on the session or its connection, raw SQL through
``exec_driver_sql``): they are numbered and inserted just before it runs, which takes the head at that point (no
writer reads the event table and then locks rows). A savepoint rolled back takes back the events appended in it, the
events written in it (they are written again, numbered anew) and a head taken in it (its lock went with the
savepoint).

Only sessions of a factory given to :func:`install` do this (``engine.db.make_session_factory`` does): nothing is
registered on SQLAlchemy's global ``Session``, and a session of another factory that appends an event raises
instead of losing it.
"""
from __future__ import annotations

import hashlib
import json
import re
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, event, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker
from sqlalchemy.sql.compiler import Compiled

from .models import ChainHead, EventRow

GENESIS_HASH = "0" * 64


def _default(value: Any):
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"not JSON-serialisable in an event: {type(value).__name__}")


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default)


def _at_text(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(seq: int, type_: str, instance_id: int | None, task_id: str | None, actor: str | None,
               at: datetime, payload: str, prev_hash: str) -> str:
    header = canonical_json([seq, type_, instance_id, task_id, actor, _at_text(at), prev_hash])
    return hashlib.sha256((header + "\n" + payload).encode("utf-8")).hexdigest()


class Appended(NamedTuple):
    """An event as appended. Its position and hash are given when its transaction writes it (see the module
    doc): the chain's order is the order in which transactions commit."""

    instance_id: int | None
    task_id: str | None
    type: str
    actor: str | None
    at: datetime
    payload: str


def append(session: Session, *, type: str, at: datetime, actor: str | None = None,
           instance_id: int | None = None, task_id: str | None = None,
           data: dict | None = None) -> Appended:
    """Append one event at the end of the chain (inside the caller's transaction; written before it commits)."""
    chain = _chain(session)
    appended = Appended(instance_id, task_id, type, actor, at.astimezone(UTC), canonical_json(data or {}))
    chain.appended.append(appended._asdict())
    return appended


_KEY = "alur_chain_head"
# Statements of every action, built once, table-level: they skip the ORM's bulk and synchronising paths (several
# times the cost of SQLite running them); a head row loaded in the session is expired instead.
HEAD_TABLE = ChainHead.__table__
EVENT_TABLE = EventRow.__table__
_LOCK_HEAD = select(HEAD_TABLE.c.seq, HEAD_TABLE.c.hash).where(HEAD_TABLE.c.id == 1).with_for_update()
_INSERT_EVENTS = insert(EVENT_TABLE)
_WRITE_HEAD = (update(HEAD_TABLE).where(HEAD_TABLE.c.id == 1)
               .values(seq=bindparam("new_seq"), hash=bindparam("new_hash")))


@dataclass
class _Chain:
    """What one transaction appends, and the chain head once the transaction holds it."""

    transaction: SessionTransaction
    #: The transaction's connection: its statements are watched while events wait (:func:`_before_cursor_execute`).
    connection: Connection
    #: Every event appended, in order (each a dict of the row's values; numbered and hashed when written).
    appended: list[dict] = field(default_factory=list)
    #: How many of ``appended`` are in the database.
    written: int = 0
    #: The head as this transaction holds it: None until it is locked (or adopted), then moved by every write.
    seq: int | None = None
    hash: str | None = None
    #: The head moved since it was read: written back at commit.
    dirty: bool = False
    #: Its events are being written (the statements that do it are not watched).
    writing: bool = False
    #: (appended, written, seq, hash, dirty) at the start of each savepoint, to go back to if it is rolled back.
    saved: dict = field(default_factory=dict)


# ------------------------------------------------------------------------------------------------ installing
# The write-behind runs only for sessions of a factory given to :func:`install` (engine.db.make_session_factory does),
# never for every Session of the process: its session listeners are set on that factory (SQLAlchemy gives each
# sessionmaker a Session class of its own), and the one statement listener on that factory's engine does nothing for
# a connection without events waiting.

#: Session classes (one per installed factory) that run the write-behind.
_INSTALLED: weakref.WeakSet = weakref.WeakSet()
#: Engines whose statements are watched (:func:`_before_cursor_execute`).
_WATCHED: weakref.WeakSet = weakref.WeakSet()
#: The connection of each transaction with events appended → (a weak reference to) its chain. Weak both ways: the
#: chain belongs to the session (``session.info``), and neither outlives it through this table.
_CHAINS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def install(factory: sessionmaker) -> sessionmaker:
    """Make the sessions of ``factory`` write the events they append (see the module doc): once per factory, before
    its first session. Returns the factory."""
    if factory.class_ in _INSTALLED:
        return factory
    bind = factory.kw.get("bind")
    if not isinstance(bind, Engine):
        raise RuntimeError("engine.eventlog.install needs a sessionmaker bound to an Engine "
                           "(sessionmaker(bind=engine))")
    event.listen(factory, "after_transaction_create", _savepoint_started)
    event.listen(factory, "after_soft_rollback", _rolled_back)
    event.listen(factory, "before_commit", _write_head)
    event.listen(factory, "after_transaction_end", _ended)
    _watch(bind)
    _INSTALLED.add(factory.class_)
    return factory


def _watch(engine: Engine) -> None:
    if engine not in _WATCHED:
        event.listen(engine, "before_cursor_execute", _before_cursor_execute, retval=True)
        _WATCHED.add(engine)


def _chain(session: Session) -> _Chain:
    """This transaction's appends (begun now if need be: they belong to the transaction)."""
    if session.get_transaction() is None:
        session.connection()
    root = session.get_transaction()
    chain = session.info.get(_KEY)
    if chain is None or chain.transaction is not root:
        if type(session) not in _INSTALLED:
            raise RuntimeError(
                "this session does not write the events appended to it (it was not made by the application's "
                "session factory): make sessions with engine.db.make_session_factory(engine), or call "
                "engine.eventlog.install(factory) on your own sessionmaker")
        connection = session.connection()
        chain = session.info[_KEY] = _Chain(root, connection)
        _watch(connection.engine)  # the factory's engine, unless the session was given another bind
        _CHAINS[connection] = weakref.ref(chain)
    return chain


def _forget(session: Session) -> None:
    chain = session.info.pop(_KEY, None)
    if chain is not None:
        ref = _CHAINS.get(chain.connection)
        if ref is not None and ref() is chain:
            del _CHAINS[chain.connection]


def adopt_head(session: Session, seq: int, hash_: str) -> None:
    """Take the chain head as the caller read it in this transaction (with a statement it runs anyway), so writing
    the events does not read it again. SQLite only: its transactions hold the database's only write lock from
    their first statement (``BEGIN IMMEDIATE``), so nobody can move the head before this one commits."""
    if session.get_bind().dialect.name != "sqlite":
        raise RuntimeError("only a SQLite transaction holds the head from its first statement")
    chain = _chain(session)
    if chain.seq is None and chain.written == 0:
        chain.seq, chain.hash = seq, hash_


def _write_pending(connection: Connection, chain: _Chain) -> None:
    """Number, hash and insert (one statement) the events appended since the last write, taking the head first if
    this transaction does not hold it yet."""
    if chain.written == len(chain.appended):
        return
    chain.writing = True
    try:
        if chain.seq is None:
            row = connection.execute(_LOCK_HEAD).one_or_none()
            if row is None:
                raise RuntimeError("event chain head missing: run `alur init-db` first")
            chain.seq, chain.hash = row.seq, row.hash
        rows = chain.appended[chain.written:]
        seq, prev = chain.seq, chain.hash
        for values in rows:
            seq += 1
            digest = event_hash(seq, values["type"], values["instance_id"], values["task_id"], values["actor"],
                                values["at"], values["payload"], prev)
            values.update(seq=seq, prev_hash=prev, hash=digest)
            prev = digest
        connection.execute(_INSERT_EVENTS, rows)
    finally:
        chain.writing = False
    chain.seq, chain.hash, chain.written, chain.dirty = seq, prev, len(chain.appended), True


# ------------------------------------------------------------------------------------------------ reads see them
#: The event table's name as a word of SQL (``event``, ``"event"``, ``public.event``; not ``event_chain_head``).
_NAMES_EVENT_TABLE = re.compile(rf"\b{re.escape(EVENT_TABLE.name)}\b", re.IGNORECASE)
#: Whether a compiled statement names the event table (statements run on every action are compiled once, so each
#: is looked at once; the store is weak, so it goes with SQLAlchemy's statement cache).
_NAMES_EVENTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _names_events(statement: str, compiled: Compiled | None) -> bool:
    """Whether a statement may read the event table: its SQL names the table, in a FROM, a join, a subquery or SQL
    text. A false yes (the word in a literal) only writes the events a little early; a false no would give a wrong
    answer, so the SQL as sent is what is looked at, whatever built it (the ORM, Core, ``text()``, a driver
    string)."""
    if compiled is None:
        return _NAMES_EVENT_TABLE.search(statement) is not None
    names = _NAMES_EVENTS.get(compiled)
    if names is None:
        names = _NAMES_EVENTS[compiled] = _NAMES_EVENT_TABLE.search(statement) is not None
    return names


def _before_cursor_execute(connection: Connection, cursor, statement: str, parameters, context, executemany):
    """Every statement of a watched engine: one that may read the event table, run in a transaction with events
    appended and not written yet, sees them (they are written just before it). This is the one hook every way of
    running SQL passes (``exec_driver_sql`` skips ``before_execute``). What it costs the other statements: a lookup
    of their connection, and for those of a transaction with events waiting, one of the statement."""
    ref = _CHAINS.get(connection)
    if ref is not None:
        chain = ref()
        if chain is not None and not chain.writing and chain.written < len(chain.appended) and \
                _names_events(statement, context.compiled):
            _write_pending(connection, chain)
    return statement, parameters


# ------------------------------------------------------------------------------------------------ the transaction
def _savepoint_started(session: Session, transaction: SessionTransaction) -> None:
    chain = session.info.get(_KEY)
    if transaction.nested and chain is not None and chain.transaction is session.get_transaction():
        chain.saved[transaction] = (len(chain.appended), chain.written, chain.seq, chain.hash, chain.dirty)


def _rolled_back(session: Session, previous: SessionTransaction) -> None:
    chain = session.info.get(_KEY)
    if chain is None:
        return
    if previous in chain.saved:
        # Appended in the savepoint: gone. Written in it: gone from the database, written again later (numbered
        # anew). A head locked in it: its lock went with the savepoint, it is taken again when next needed.
        appended, written, chain.seq, chain.hash, chain.dirty = chain.saved.pop(previous)
        del chain.appended[appended:]
        chain.written = min(chain.written, written)
    else:  # the whole transaction, or a savepoint opened before its first append: nothing of ours survives
        _forget(session)


def _write_head(session: Session) -> None:
    chain = session.info.get(_KEY)
    if chain is None or session.in_nested_transaction():
        return  # nothing appended, or a savepoint released (SQLAlchemy reports it too): the outermost commit writes
    if chain.written < len(chain.appended):
        session.flush()  # the rows this transaction changes through the ORM are locked before the head
        _write_pending(session.connection(), chain)
    if chain.dirty:
        session.connection().execute(_WRITE_HEAD, {"new_seq": chain.seq, "new_hash": chain.hash})
        loaded = session.identity_map.get(session.identity_key(ChainHead, 1))
        if loaded is not None:  # read again when next used (a table-level UPDATE does not touch loaded rows)
            session.expire(loaded)
        chain.dirty = False


def _ended(session: Session, transaction: SessionTransaction) -> None:
    chain = session.info.get(_KEY)
    if chain is not None and transaction is chain.transaction:
        _forget(session)
    # A savepoint's entry stays in ``saved``: SQLAlchemy ends a savepoint before it reports its rollback.


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    problem: str | None = None


def verify(session: Session, batch: int = 5000) -> ChainReport:
    """Walk the whole chain; name the first event that was edited, deleted or inserted."""
    head = session.get(ChainHead, 1)
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    for row in _iter_rows(session, batch):
        if row.seq != expected_seq:
            return ChainReport(False, checked, expected_seq,
                               f"event #{expected_seq} is missing (next stored is #{row.seq})")
        if row.prev_hash != expected_prev:
            return ChainReport(False, checked, row.seq, f"event #{row.seq} does not follow the previous event")
        digest = event_hash(row.seq, row.type, row.instance_id, row.task_id, row.actor, row.at, row.payload,
                            row.prev_hash)
        if digest != row.hash:
            return ChainReport(False, checked, row.seq, f"event #{row.seq} was altered (hash mismatch)")
        expected_prev = row.hash
        expected_seq += 1
        checked += 1
    if head is None:
        return ChainReport(False, checked, None, "event chain head is missing")
    if head.seq != checked or head.hash != expected_prev:
        return ChainReport(False, checked, checked + 1 if head.seq > checked else head.seq,
                           f"chain head says {head.seq} events but {checked} verify: events were removed "
                           "or added at the end")
    return ChainReport(True, checked)


def _iter_rows(session: Session, batch: int) -> Iterator[EventRow]:
    last = 0
    while True:
        rows = session.execute(
            select(EventRow).where(EventRow.seq > last).order_by(EventRow.seq).limit(batch)
        ).scalars().all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def events_of(session: Session, instance_id: int) -> list[EventRow]:
    return list(session.execute(
        select(EventRow).where(EventRow.instance_id == instance_id).order_by(EventRow.seq)
    ).scalars())


def decode(row: EventRow) -> dict:
    return json.loads(row.payload)


def step_ids_now(events: list[tuple[str, dict]]) -> list[str | None]:
    """For a case's events in log order, as (type, payload): the BPMN id each event's task has in the version the
    case runs on now. A migration's explicit mapping (``case_migrated`` ``mapping``, {old id: new id}) renames
    the steps recorded before it; an id it kept, or one no migration renamed, stays as recorded."""
    out: list[str | None] = [None] * len(events)
    later: list[dict] = []  # the mappings of the migrations after the event, earliest first
    for i in range(len(events) - 1, -1, -1):
        type_, payload = events[i]
        if type_ == "case_migrated":
            later.insert(0, payload.get("mapping") or {})
            continue
        bpmn_id = payload.get("bpmn_id")
        for mapping in later:
            bpmn_id = mapping.get(bpmn_id, bpmn_id)
        out[i] = bpmn_id
    return out

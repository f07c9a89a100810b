"""Append-only, hash-chained event log.

Each row's hash covers its position, type, instance, task, actor, time, payload and the previous
row's hash; the single ``event_chain_head`` row holds the last position and hash, so a deleted tail
is caught too. The first append of a transaction locks the head row, which orders writers on PostgreSQL
(SQLite already serialises writers); the transaction then carries the head in memory and writes it once,
just before it commits (a savepoint rolled back takes the head back with it). The events themselves are
inserted together, with one statement, just before the commit, or earlier when a query of the same session
reads the event table, so that it sees them.
"""
from __future__ import annotations

import hashlib
import json
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, event, insert, select, update
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction
from sqlalchemy.sql.util import find_tables

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
    """An event as appended (the row itself is written with the others of its transaction)."""

    seq: int
    instance_id: int | None
    task_id: str | None
    type: str
    actor: str | None
    at: datetime
    payload: str
    prev_hash: str
    hash: str


def append(session: Session, *, type: str, at: datetime, actor: str | None = None,
           instance_id: int | None = None, task_id: str | None = None,
           data: dict | None = None) -> Appended:
    """Append one event at the end of the chain (inside the caller's transaction)."""
    head = _head(session)
    payload = canonical_json(data or {})
    at = at.astimezone(UTC)
    seq = head.seq + 1
    digest = event_hash(seq, type, instance_id, task_id, actor, at, payload, head.hash)
    values = {"seq": seq, "instance_id": instance_id, "task_id": task_id, "type": type, "actor": actor, "at": at,
              "payload": payload, "prev_hash": head.hash, "hash": digest}
    head.pending.append(values)
    head.seq, head.hash, head.dirty = seq, digest, True
    return Appended(**values)


def _write_pending(session: Session, head: _Head) -> None:
    """Insert the events appended since the last write, with one statement."""
    if head.pending:
        rows, head.pending = head.pending, []
        session.connection().execute(_INSERT_EVENTS, rows)
        head.written.extend(rows)


_KEY = "alur_chain_head"
# Statements of every action, built once. The table-level ones skip the ORM's bulk and synchronising paths
# (several times the cost of SQLite running them); a head row loaded in the session is expired instead.
_LOCK_HEAD = select(ChainHead.seq, ChainHead.hash).where(ChainHead.id == 1).with_for_update()
_INSERT_EVENTS = insert(EventRow.__table__)
HEAD_TABLE = ChainHead.__table__
_WRITE_HEAD = (update(HEAD_TABLE).where(HEAD_TABLE.c.id == 1)
               .values(seq=bindparam("new_seq"), hash=bindparam("new_hash")))


@dataclass
class _Head:
    """The chain head as this transaction sees it: locked in the database, written back before commit."""

    transaction: SessionTransaction
    seq: int
    hash: str
    dirty: bool = False
    #: Events appended but not yet inserted: they go in with one statement just before the commit, or before
    #: any statement of this session that reads the event table.
    pending: list[dict] = field(default_factory=list)
    #: Events inserted by this transaction so far.
    written: list[dict] = field(default_factory=list)
    #: (seq, hash, dirty, how many were written) at the start of each open savepoint, to go back to if it is
    #: rolled back.
    saved: dict = field(default_factory=dict)


def adopt_head(session: Session, seq: int, hash_: str) -> None:
    """Take the chain head as the caller read it in this transaction (with a statement it runs anyway), so the
    first append does not read it again. SQLite only: its transactions hold the database's only write lock from
    their first statement (``BEGIN IMMEDIATE``), so nobody can move the head before this one commits (and a
    deferred transaction that read a head another writer then moved could not commit its own writes)."""
    if session.get_bind().dialect.name != "sqlite":
        raise RuntimeError("only a SQLite transaction holds the head from its first statement")
    root = session.get_transaction()
    head = session.info.get(_KEY)
    if head is None or head.transaction is not root:
        session.info[_KEY] = _Head(root, seq, hash_)


def _head(session: Session) -> _Head:
    """The head row, locked once per transaction (later appends in it use the copy in memory)."""
    if session.get_transaction() is None:
        session.connection()  # begin the transaction now: the head belongs to it
    root = session.get_transaction()
    head = session.info.get(_KEY)
    if head is not None and head.transaction is root:
        return head
    row = session.execute(_LOCK_HEAD).one_or_none()
    if row is None:
        raise RuntimeError("event chain head missing: run `alur init-db` first")
    head = _Head(root, row.seq, row.hash)
    session.info[_KEY] = head
    return head


@event.listens_for(Session, "after_transaction_create")
def _savepoint_started(session: Session, transaction: SessionTransaction) -> None:
    head = session.info.get(_KEY)
    if transaction.nested and head is not None:
        head.saved[transaction] = (head.seq, head.hash, head.dirty, len(head.written))


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, previous: SessionTransaction) -> None:
    head = session.info.get(_KEY)
    if head is None:
        return
    if previous in head.saved:
        head.seq, head.hash, head.dirty, kept = head.saved.pop(previous)
        # What the database lost with the savepoint (written in it) and what was appended in it: the events from
        # before the savepoint are written again, those from inside it are gone.
        undone = head.written[kept:] + head.pending
        head.written = head.written[:kept]
        head.pending = [row for row in undone if row["seq"] <= head.seq]
    else:  # the whole transaction, or a savepoint opened before its first append: nothing of ours survives
        session.info.pop(_KEY, None)


#: Whether a statement reads the event table, by statement (statements run on every action are built once, so
#: each is looked at once; the store is weak, so those built per call go with them).
_READS_EVENTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _reads_events(statement) -> bool:
    try:
        return _READS_EVENTS[statement]
    except KeyError:
        reads = EventRow.__table__ in find_tables(statement, check_columns=True, include_joins=True,
                                                  include_selects=True)
        _READS_EVENTS[statement] = reads
        return reads


@event.listens_for(Session, "do_orm_execute")
def _before_reading_events(state: ORMExecuteState) -> None:
    """A query of this session that reads the event table sees the events appended so far."""
    head = state.session.info.get(_KEY)
    if head is not None and head.pending and state.is_select and _reads_events(state.statement):
        _write_pending(state.session, head)


@event.listens_for(Session, "before_commit")
def _write_head(session: Session) -> None:
    head = session.info.get(_KEY)
    if head is None or not head.dirty:
        return
    if session.get_transaction() is head.transaction:  # the outermost commit, not a savepoint's
        _write_pending(session, head)
        session.connection().execute(_WRITE_HEAD, {"new_seq": head.seq, "new_hash": head.hash})
        loaded = session.identity_map.get(session.identity_key(ChainHead, 1))
        if loaded is not None:  # read again when next used (a table-level UPDATE does not touch loaded rows)
            session.expire(loaded)
        head.dirty = False


@event.listens_for(Session, "after_transaction_end")
def _ended(session: Session, transaction: SessionTransaction) -> None:
    head = session.info.get(_KEY)
    if head is None:
        return
    if transaction is head.transaction:
        session.info.pop(_KEY, None)
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

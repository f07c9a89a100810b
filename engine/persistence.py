"""How an action reads, locks and writes its rows: the case row, its task rows, in the caller's session.

The statements every action runs are built once, table-level (building one per call, or the unit of work's flush of
the same statements, costs more than SQLite takes to run them); the loaded objects take the written values as their
stored state.

**Lock order.** Every writer takes its row locks in this order, so no two writers wait for each other in a
circle (PostgreSQL; SQLite runs one writer at a time, from ``BEGIN IMMEDIATE`` on):

1. **the case row** (``instance``, ``FOR NO KEY UPDATE``), before anything else of the case: completing, claiming,
   giving back and delegating a task lock their case first (:func:`task_and_case` or :func:`lock_case`), so do
   migrating and firing timers. The timer sweep takes a case with ``SKIP LOCKED`` (:func:`lock_due_case`): a
   worker never waits for a case someone is acting on, it comes back to it. A transaction that acts on several
   cases (a deactivated user's tasks given back, a migration) takes them in ascending id;
2. **the case's task rows** (``task``), changed only by a transaction that holds their case;
3. **rows of the SOP layer** the action writes: the register counter and entry, uploads attached, notifications,
   reminders and e-mails inserted (``process/``); the worker's reminder and outbox rows are taken with ``SKIP
   LOCKED`` in transactions of their own, which lock no case or task;
4. **the event chain head, last**, just before the commit (:mod:`engine.eventlog`): held only while a transaction
   commits, by a transaction that waits for nothing else.

``FOR NO KEY UPDATE`` rather than ``FOR UPDATE``: rows that refer to the case (its task rows) can still be
checked against it by their foreign key meanwhile.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import String, bindparam, event, func, insert, or_, select, update
from sqlalchemy.orm import Session, SessionTransaction, aliased, make_transient_to_detached, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from . import eventlog
from .errors import NotFound, StaleInstance
from .models import Definition, Instance, TaskRow

# Keys of session.info, each a memo of the current transaction (see transaction_memo).
_DEFINITION_SHA = "alur_definition_sha"
_READY = "alur_ready_rows"
_LOCKED = "alur_locked_cases"
_DEFINITION_IDS = "alur_definition_ids"

_NAMED = aliased(TaskRow)
#: A task, its case, the hash of the case's process version, and the case's other ready tasks (which the action
#: updates too), in one statement.
_TASK_AND_CASE = (select(TaskRow, Instance, Definition.sha256).join(Instance, Instance.id == TaskRow.instance_id)
                  .join(Definition, Definition.id == Instance.definition_id)
                  .where(TaskRow.instance_id == select(_NAMED.instance_id)
                         .where(_NAMED.id == bindparam("task_id")).scalar_subquery(),
                         or_(TaskRow.id == bindparam("task_id"), TaskRow.state == "ready")))
#: On SQLite, the same with the event chain's head, which the transaction already holds (eventlog.adopt_head).
_TASK_AND_CASE_AND_HEAD = (_TASK_AND_CASE.add_columns(eventlog.HEAD_TABLE.c.seq, eventlog.HEAD_TABLE.c.hash)
                           .join(eventlog.HEAD_TABLE, eventlog.HEAD_TABLE.c.id == 1, isouter=True))
_READY_ROWS = select(TaskRow).where(TaskRow.instance_id == bindparam("instance_id"), TaskRow.state == "ready")
_DEFINITION_SHA_OF = select(Definition.sha256).where(Definition.id == bindparam("definition_id"))

_CASE_TABLE, _TASK_TABLE = Instance.__table__, TaskRow.__table__
#: What an action writes to the case's row and to its task rows.
CASE_WRITES = ("definition_id", "status", "end_event", "state", "serializer_version", "next_timer_at", "updated_at",
               "completed_at")
TASK_WRITES = ("state", "due_at", "overdue_at", "completed_at", "completed_by")
_SAVE_CASE = (update(_CASE_TABLE)
              .where(_CASE_TABLE.c.id == bindparam("w_id"), _CASE_TABLE.c.lock_version == bindparam("w_read"))
              .values({key: bindparam(f"w_{key}", type_=_CASE_TABLE.c[key].type)
                       for key in (*CASE_WRITES, "lock_version")}))
_SAVE_TASKS = (update(_TASK_TABLE).where(_TASK_TABLE.c.id == bindparam("w_id"))
               .values({key: bindparam(f"w_{key}", type_=_TASK_TABLE.c[key].type) for key in TASK_WRITES}))
_INSERT_TASKS = insert(_TASK_TABLE)
#: A ready task a migration moved to a task of another id (engine.runtime.WorkflowEngine.migrate).
_RETARGET = (update(_TASK_TABLE).where(_TASK_TABLE.c.id == bindparam("r_id"))
             .values(bpmn_id=bindparam("r_bpmn_id", type_=String()), name=bindparam("r_name", type_=String())))
#: A ready task passes from one holder (or nobody) to another (or nobody), if it is still as the caller saw it.
_HAND_OVER = (update(_TASK_TABLE)
              .where(_TASK_TABLE.c.id == bindparam("h_id"), _TASK_TABLE.c.state == "ready",
                     _TASK_TABLE.c.claimed_by.is_not_distinct_from(bindparam("h_from", type_=String())))
              .values(claimed_by=bindparam("h_to", type_=String()),
                      claimed_at=bindparam("h_at", type_=_TASK_TABLE.c.claimed_at.type)))

#: The case row, locked for the rest of the transaction (the first lock of an action: see the module doc).
_LOCK_CASE = select(_CASE_TABLE.c.id).where(_CASE_TABLE.c.id == bindparam("case_id")).with_for_update(key_share=True)
_LOCK_CASE_OF_TASK = (select(_CASE_TABLE.c.id)
                      .where(_CASE_TABLE.c.id == select(_TASK_TABLE.c.instance_id)
                             .where(_TASK_TABLE.c.id == bindparam("task_id")).scalar_subquery())
                      .with_for_update(key_share=True))
#: A case whose timers are due, locked unless someone else holds it (then nothing: the sweep comes back to it).
_LOCK_DUE_CASE = (select(Instance).where(Instance.id == bindparam("case_id"), Instance.status == "running",
                                         Instance.next_timer_at < bindparam("now"))
                  .with_for_update(skip_locked=True, key_share=True).execution_options(populate_existing=True))


def install(factory: sessionmaker) -> sessionmaker:
    """Make the sessions of ``factory`` forget, when a savepoint rolls back, the values :func:`save_action` wrote
    (engine.db.make_session_factory calls this). Returns the factory."""
    if not event.contains(factory, "after_soft_rollback", _forget_written_values):
        event.listen(factory, "after_soft_rollback", _forget_written_values)
    return factory


def _forget_written_values(session: Session, previous: SessionTransaction) -> None:
    """Case and task rows written by :func:`save_action` (and given values by ``ActionRun.put``) hold those values as
    their stored ones, which SQLAlchemy does not undo when a savepoint rolls back (it expires only the objects it
    saw change): they are read again. A whole transaction rolled back expires everything anyway."""
    if previous.nested:
        for loaded in list(session.identity_map.values()):
            if isinstance(loaded, (Instance, TaskRow)):
                session.expire(loaded)
        # A row lock taken in the savepoint went with it: cases are locked again when next acted on.
        session.info.pop(_LOCKED, None)


def transaction_memo(session: Session, key: str) -> dict:
    """A dict that lives as long as the session's current (outermost) transaction: what was read once in it
    need not be read again, and nothing carries over to the next transaction."""
    if session.get_transaction() is None:
        session.connection()
    root = session.get_transaction()
    memo = session.info.get(key)
    if memo is None or memo[0] is not root:
        memo = (root, {})
        session.info[key] = memo
    return memo[1]


def lock_case(session: Session, *, case_id: int | None = None, task_id: str | None = None) -> None:
    """Lock a case's row (given, or that of a task) before anything else of it, once per transaction, with a
    statement of its own: what the action reads of the case afterwards is as the last holder of the lock left it
    (in a statement that waited for a lock, PostgreSQL gives the locked row's newest version but the other rows as
    they were when the statement began). SQLite: the transaction holds the whole database from its first statement
    already, nothing to do."""
    if session.get_bind().dialect.name == "sqlite":
        return
    locked = transaction_memo(session, _LOCKED)
    if case_id is None:
        loaded = session.identity_map.get(session.identity_key(TaskRow, task_id))
        if loaded is not None and loaded.instance_id in locked:
            return
        case_id = session.execute(_LOCK_CASE_OF_TASK, {"task_id": task_id}).scalar()
    elif case_id in locked:
        return
    else:
        case_id = session.execute(_LOCK_CASE, {"case_id": case_id}).scalar()
    if case_id is not None:
        took_case(session, case_id)


def lock_due_case(session: Session, case_id: int, now: datetime) -> Instance | None:
    """The case, locked, if its timers are due at ``now`` and nobody else holds it (``SKIP LOCKED``); else None."""
    instance = session.execute(_LOCK_DUE_CASE, {"case_id": case_id, "now": now}).scalar_one_or_none()
    if instance is not None:
        took_case(session, case_id, fresh=instance)
    return instance


def took_case(session: Session, case_id: int, fresh: Instance | None = None) -> None:
    """This transaction holds the case's row from now on: its case and task rows loaded before are read again
    (``fresh``: the case row as read with the lock)."""
    transaction_memo(session, _LOCKED)[case_id] = True
    for loaded in list(session.identity_map.values()):
        if (isinstance(loaded, Instance) and loaded.id == case_id and loaded is not fresh) or \
                (isinstance(loaded, TaskRow) and loaded.instance_id == case_id):
            session.expire(loaded)


def task_and_case(session: Session, task_id: str) -> tuple[TaskRow, Instance]:
    """A task, its case, the hash of the case's process version and the case's other ready tasks, in one
    statement (an action needs them all; the hash and the ready tasks are kept for the rest of the
    transaction: :func:`definition_sha`, :func:`ready_rows`). On PostgreSQL the case row is locked first (the first
    lock of an action, see the module doc); on SQLite the statement also reads the event chain's head (see
    eventlog.adopt_head)."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    lock_case(session, task_id=task_id)
    found = session.execute(_TASK_AND_CASE_AND_HEAD if sqlite else _TASK_AND_CASE, {"task_id": task_id}).all()
    row = next((found_row[0] for found_row in found if found_row[0].id == task_id), None)
    if row is None:
        raise NotFound(f"no task '{task_id}'", code="task.not_found", task_id=task_id)
    instance, sha = found[0][1], found[0][2]
    transaction_memo(session, _DEFINITION_SHA)[instance.definition_id] = sha
    # The case's ready tasks, for the action that follows (taken once: see ready_rows).
    transaction_memo(session, _READY)[instance.id] = {r[0].id: r[0] for r in found if r[0].state == "ready"}
    if sqlite and found[0][3] is not None:
        eventlog.adopt_head(session, found[0][3], found[0][4])
    return row, instance


_ALL_DEFINITION_IDS = select(Definition.id).order_by(Definition.id)


def definition_ids(session: Session) -> tuple[int, ...]:
    """The ids of every stored process version, oldest first, read once per transaction (a deploy in it reads them
    again: :func:`forget_definition_ids`)."""
    known = transaction_memo(session, _DEFINITION_IDS)
    if "ids" not in known:
        known["ids"] = tuple(session.execute(_ALL_DEFINITION_IDS).scalars().all())
    return known["ids"]


def forget_definition_ids(session: Session) -> None:
    transaction_memo(session, _DEFINITION_IDS).clear()


def definition_sha(session: Session, definition_id: int) -> str:
    """The content hash of a stored process version, read once per transaction."""
    known = transaction_memo(session, _DEFINITION_SHA)
    sha = known.get(definition_id)
    if sha is None:
        sha = known[definition_id] = session.execute(_DEFINITION_SHA_OF, {"definition_id": definition_id}).scalar_one()
    return sha


def ready_rows(session: Session, instance: Instance) -> dict[str, TaskRow]:
    """The case's ready task rows: those :func:`task_and_case` read in this transaction, taken once (rows are
    changed only through the loaded objects meanwhile; the next action reads them again), else a query."""
    known = transaction_memo(session, _READY).pop(instance.id, None)
    if known is not None:
        return {tid: row for tid, row in known.items() if row.state == "ready"}
    return {r.id: r for r in session.execute(_READY_ROWS, {"instance_id": instance.id}).scalars()}


def completed_steps(session: Session, instance: Instance) -> list[str]:
    """The BPMN ids of the tasks the case has completed, each once, in the order first made ready."""
    rows = session.execute(select(TaskRow.bpmn_id, func.min(TaskRow.created_at).label("first"))
                           .where(TaskRow.instance_id == instance.id, TaskRow.state == "completed")
                           .group_by(TaskRow.bpmn_id).order_by("first", TaskRow.bpmn_id)).all()
    return [bpmn_id for bpmn_id, _first in rows]


def retarget_history(session: Session, instance: Instance, old: str, new: str, name: str) -> None:
    """A migration's explicit mapping of ``old`` to ``new``: every finished task row of the case of ``old`` (its
    history) is now of ``new``, so the rules of the new version that name the step see it (waiting rows:
    :func:`retarget_task`)."""
    session.execute(update(TaskRow).where(TaskRow.instance_id == instance.id, TaskRow.bpmn_id == old,
                                          TaskRow.state != "ready")
                    .values(bpmn_id=new, name=name).execution_options(synchronize_session="fetch"))


def retarget_task(session: Session, row: TaskRow, bpmn_id: str, name: str) -> None:
    """A ready task is now of another BPMN task (a migration's explicit mapping): its row says so; everything else
    (holder, deadline, lane) is kept or updated as for any task."""
    session.connection().execute(_RETARGET, {"r_id": row.id, "r_bpmn_id": bpmn_id, "r_name": name})
    set_committed_value(row, "bpmn_id", bpmn_id)
    set_committed_value(row, "name", name)


def hand_over(session: Session, task_id: str, holder: str | None, to: str | None, at: datetime | None) -> bool:
    """Claim, give back or delegate a ready task held by ``holder`` (None: nobody), in one statement that only
    one of several racing callers gets through; a row already loaded takes the new holder."""
    done = session.connection().execute(_HAND_OVER, {"h_id": task_id, "h_from": holder, "h_to": to, "h_at": at})
    if done.rowcount != 1:
        return False
    loaded = session.identity_map.get(session.identity_key(TaskRow, task_id))
    if loaded is not None:
        set_committed_value(loaded, "claimed_by", to)
        set_committed_value(loaded, "claimed_at", at)
    return True


def save_action(session: Session, instance: Instance, case: dict, changed: Iterable[TaskRow],
                new_rows: list[TaskRow]) -> None:
    """Write one action: the case's row (``case``: the values of :data:`CASE_WRITES`), checked against the lock
    version it was read at, then its changed and new task rows; the loaded objects take the written values as their
    stored state, and the new rows join the session as stored rows."""
    read = instance.lock_version
    # Table-level statements run on the session's connection: no ORM entity is involved.
    connection = session.connection()
    done = connection.execute(_SAVE_CASE, {"w_id": instance.id, "w_read": read, "w_lock_version": read + 1,
                                           **{f"w_{key}": value for key, value in case.items()}})
    if done.rowcount != 1:
        raise StaleInstance("the case was changed by someone else meanwhile; reload and try again",
                            code="case.changed", instance_id=instance.id)
    for key, value in case.items():
        set_committed_value(instance, key, value)
    set_committed_value(instance, "lock_version", read + 1)
    updates = [{"w_id": row.id, **{f"w_{key}": getattr(row, key) for key in TASK_WRITES}} for row in changed]
    if updates:
        connection.execute(_SAVE_TASKS, updates)
    if new_rows:
        connection.execute(_INSERT_TASKS, [{c.key: getattr(row, c.key) for c in _TASK_TABLE.columns}
                                           for row in new_rows])
        for row in new_rows:
            make_transient_to_detached(row)
            session.add(row)

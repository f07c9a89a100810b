"""Load → act → save, one transaction per action (the caller owns the transaction).

Every action loads the instance row (with its lock version), acts in SpiffWorkflow with a clock
fixed for the action, prunes the finished history, then writes the state, the task projection and
the events in the caller's session. A stale lock version raises :class:`StaleInstance`; any error
leaves the session to be rolled back by the caller and the in-memory workflow is discarded.

**Lock order.** Every writer takes its row locks in this order, so no two writers wait for each other in a
circle (PostgreSQL; SQLite runs one writer at a time, from ``BEGIN IMMEDIATE`` on):

1. **the case row** (``instance``, ``FOR NO KEY UPDATE``), before anything else of the case: completing, claiming,
   giving back and delegating a task lock their case first (:meth:`WorkflowEngine.task_and_case` or
   :func:`_lock_case`), so do migrating and firing timers. The timer sweep takes a case with ``SKIP LOCKED``
   (:meth:`WorkflowEngine.fire_timers`): a worker never waits for a case someone is acting on, it comes back to
   it. A transaction that acts on several cases (a deactivated user's tasks given back, a migration) takes them in
   ascending id;
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

import functools
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.defaults import BoundaryEvent, EndEvent, UserTask
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import ThrowingEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import String, bindparam, event, func, insert, or_, select, update
from sqlalchemy.orm import Session, SessionTransaction, aliased, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from . import eventlog
from .clock import Clock
from .definitions import ParsedDefinition, parse_definition
from .errors import (
    AlreadyClaimed,
    EngineError,
    ExecutionFailed,
    InvalidData,
    MigrationRefused,
    NotFound,
    Problem,
    StaleInstance,
    TaskNotReady,
)
from .expressions import DEFAULT_FUNCTIONS, NAME_RE, FunctionRegistry, SafeScriptEnvironment
from .models import Definition, Instance, TaskRow
from .state import ClockedScriptEngine, StateCodec, WarmWorkflows, prune, stored_form

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "system"
#: Codes of the problems that keep a case from moving to another version (MigrationCheck.reasons, MigrationRefused).
MIGRATION_CODES = frozenset({"migration.case_not_running", "migration.other_process", "migration.same_version",
                             "migration.older_version", "migration.task_removed", "migration.no_case",
                             "migration.failed"})
MAX_KEY_LENGTH = 63


def _stale_to_typed(method):
    """An autoflush or flush that finds another writer's version raises our typed error."""

    @functools.wraps(method)
    def wrapper(self, session, *args, **kwargs):
        try:
            return method(self, session, *args, **kwargs)
        except StaleDataError:
            raise StaleInstance("the case was changed by someone else meanwhile; reload and try again",
                                    code="case.changed") from None

    return wrapper


_DEFINITION_SHA = "alur_definition_sha"
_READY = "alur_ready_rows"

# Statements every action runs, built once (building one per call costs more than SQLite takes to run it).
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


_CASE_TABLE, _TASK_TABLE = Instance.__table__, TaskRow.__table__
#: What an action writes to the case's row and to its task rows.
_CASE_WRITES = ("definition_id", "status", "end_event", "state", "serializer_version", "next_timer_at", "updated_at",
                "completed_at")
_TASK_WRITES = ("state", "due_at", "overdue_at", "completed_at", "completed_by")
_SAVE_CASE = (update(_CASE_TABLE)
              .where(_CASE_TABLE.c.id == bindparam("w_id"), _CASE_TABLE.c.lock_version == bindparam("w_read"))
              .values({key: bindparam(f"w_{key}", type_=_CASE_TABLE.c[key].type)
                       for key in (*_CASE_WRITES, "lock_version")}))
_SAVE_TASKS = (update(_TASK_TABLE).where(_TASK_TABLE.c.id == bindparam("w_id"))
               .values({key: bindparam(f"w_{key}", type_=_TASK_TABLE.c[key].type) for key in _TASK_WRITES}))
_INSERT_TASKS = insert(_TASK_TABLE)
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
_LOCKED = "alur_locked_cases"


def _lock_case(session: Session, *, case_id: int | None = None, task_id: str | None = None) -> None:
    """Lock a case's row (given, or that of a task) before anything else of it, once per transaction, with a
    statement of its own: what the action reads of the case afterwards is as the last holder of the lock left it
    (in a statement that waited for a lock, PostgreSQL gives the locked row's newest version but the other rows as
    they were when the statement began). SQLite: the transaction holds the whole database from its first statement
    already, nothing to do."""
    if session.get_bind().dialect.name == "sqlite":
        return
    locked = _transaction_memo(session, _LOCKED)
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
        _took_case(session, case_id)


def _took_case(session: Session, case_id: int, fresh: Instance | None = None) -> None:
    """This transaction holds the case's row from now on: its case and task rows loaded before are read again
    (``fresh``: the case row as read with the lock)."""
    _transaction_memo(session, _LOCKED)[case_id] = True
    for loaded in list(session.identity_map.values()):
        if (isinstance(loaded, Instance) and loaded.id == case_id and loaded is not fresh) or \
                (isinstance(loaded, TaskRow) and loaded.instance_id == case_id):
            session.expire(loaded)


def _hand_over(session: Session, task_id: str, holder: str | None, to: str | None, at: datetime | None) -> bool:
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


def _save(session: Session, instance: Instance, case: dict, changed: Iterable[TaskRow],
          new_rows: list[TaskRow]) -> None:
    """Write one action: the case's row, checked against the lock version it was read at, then its changed and
    new task rows. Table-level statements built once (the unit of work's flush of the same three statements cost
    several times what the database takes to run them); the loaded objects take the written values as their
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
    updates = [{"w_id": row.id, **{f"w_{key}": getattr(row, key) for key in _TASK_WRITES}} for row in changed]
    if updates:
        connection.execute(_SAVE_TASKS, updates)
    if new_rows:
        connection.execute(_INSERT_TASKS, [{c.key: getattr(row, c.key) for c in _TASK_TABLE.columns}
                                           for row in new_rows])
        for row in new_rows:
            make_transient_to_detached(row)
            session.add(row)


@event.listens_for(Session, "after_soft_rollback")
def _forget_written_values(session: Session, previous: SessionTransaction) -> None:
    """Case and task rows written by :func:`_save` (and given values by :meth:`_Run.put`) hold those values as
    their stored ones, which SQLAlchemy does not undo when a savepoint rolls back (it expires only the objects it
    saw change): they are read again. A whole transaction rolled back expires everything anyway."""
    if previous.nested:
        for loaded in list(session.identity_map.values()):
            if isinstance(loaded, (Instance, TaskRow)):
                session.expire(loaded)
        # A row lock taken in the savepoint went with it: cases are locked again when next acted on.
        session.info.pop(_LOCKED, None)


def _transaction_memo(session: Session, key: str) -> dict:
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


def _task_id(task_id: str) -> str:
    """``task_id`` as stored (a SpiffWorkflow task UUID); anything else names no task."""
    try:
        UUID(str(task_id))
    except ValueError:
        raise NotFound(f"no task '{task_id}'", code="task.not_found", task_id=task_id) from None
    return str(task_id)


class _FixedClock:
    def __init__(self, now: datetime):
        self._now = now

    def now(self) -> datetime:
        return self._now


@dataclass(frozen=True)
class MigrationCheck:
    """Whether a case can move to another version of its process, and why not."""

    instance_id: int
    title: str
    can_move: bool
    reasons: tuple[Problem, ...]
    tasks: tuple[str, ...]  # the human tasks it waits on


@dataclass
class ActionResult:
    """What one action changed, for the caller to react to (notifications, redirects)."""

    instance: Instance
    events: list[eventlog.Appended] = field(default_factory=list)
    ready: list[TaskRow] = field(default_factory=list)
    completed: list[TaskRow] = field(default_factory=list)
    overdue: list[TaskRow] = field(default_factory=list)
    signals: list[str] = field(default_factory=list)
    pruned: int = 0


def _check_keys(data: Mapping[str, Any]) -> None:
    # The same rule expressions apply to names, so every stored key can be read by a condition later.
    bad = [k for k in data if not isinstance(k, str) or len(k) > MAX_KEY_LENGTH or not NAME_RE.fullmatch(k)]
    if bad:
        raise InvalidData(f"data keys not allowed: {', '.join(map(str, bad))}", code="data.keys_not_allowed",
                          keys=[str(k)[:70] for k in bad])


def _iso_to_dt(value: str) -> datetime:
    return TimerEventDefinition.get_datetime(value)


def _timer_due(task, waiting_only: bool = True) -> datetime | None:
    """When a timer task is (or was) due; by default only timers still waiting count."""
    definition = getattr(task.task_spec, "event_definition", None)
    if not isinstance(definition, TimerEventDefinition):
        return None
    if waiting_only and task.state != TaskState.WAITING:
        return None
    value = task._get_internal_data("event_value")
    return _iso_to_dt(value) if isinstance(value, str) else None


def due_of(task) -> datetime | None:
    """The deadline of a ready user task: the earliest timer on its boundary."""
    parent = task.parent
    if parent is None or not isinstance(parent.task_spec, BoundaryEventSplit):
        return None
    dues = [d for d in (_timer_due(c, waiting_only=False) for c in parent.children if c is not task)
            if d is not None]
    return min(dues) if dues else None


def attached_user_task(timer_task):
    """The user task a boundary timer (task) is attached to, or None."""
    parent = timer_task.parent
    if parent is not None and isinstance(parent.task_spec, BoundaryEventSplit):
        return next((c for c in parent.children if isinstance(c.task_spec, UserTask)), None)
    return None


def _bpmn_type(task_spec) -> str:
    """The BPMN type of a task spec as the diagram names it (``UserTask`` → ``userTask``)."""
    name = type(task_spec).__name__
    return name[:1].lower() + name[1:]


def _all_tasks(wf: BpmnWorkflow) -> Iterable:
    """Every task of a workflow and its subprocesses, in no particular order (cheaper than walking the tree)."""
    yield from wf.tasks.values()
    for sub in wf.subprocesses.values():
        yield from sub.tasks.values()


def new_workflow(parsed: ParsedDefinition, run: _Run, data: Mapping[str, Any]) -> BpmnWorkflow:
    """A fresh workflow of ``parsed`` with the case's initial data, advanced as far as it goes."""
    wf = BpmnWorkflow(parsed.spec, parsed.subprocess_specs, script_engine=run.script_engine)
    wf.task_tree.set_data(**stored_form(dict(data)))
    run.advance(wf)
    return wf


def run_user_task(task, data: Mapping[str, Any]) -> None:
    """Complete one ready user task with its submitted data (the caller advances afterwards)."""
    task.set_data(**stored_form(dict(data)))
    try:
        task.run()
    except SpiffWorkflowException as exc:
        raise ExecutionFailed(f"the task could not be completed: {str(exc).splitlines()[0]}",
                              code="task.completion_failed") from exc


def migrate_in_memory(codec: StateCodec, wf: BpmnWorkflow, parsed: ParsedDefinition) -> list[str]:
    """Move a loaded workflow onto another spec; returns the BPMN ids whose definition changed."""
    from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow

    diff, _sub = diff_workflow(codec.registry, wf, parsed.spec, parsed.subprocess_specs)
    changed = sorted({t.task_spec.bpmn_id for t in diff.changed if t.task_spec.bpmn_id})
    try:
        migrate_workflow(diff, wf, parsed.spec)
    except SpiffWorkflowException as exc:
        raise ExecutionFailed(f"the case could not be migrated: {str(exc).splitlines()[0]}",
                              code="case.migration_failed") from exc
    return changed


class _Run:
    """One action's view of a workflow: the fixed clock and what the engine did meanwhile."""

    def __init__(self, engine: WorkflowEngine, now: datetime):
        self.now = now
        self.script_engine = ClockedScriptEngine(SafeScriptEnvironment(engine.functions), _FixedClock(now))
        self.finished: list = []
        self.finished_ends: list = []
        #: Task rows this action changed (written together by :func:`_save`).
        self.changed: dict[str, TaskRow] = {}

    def put(self, row: TaskRow, **values) -> None:
        """Give a task row new values, to be written with the case (see :func:`_save`)."""
        for key, value in values.items():
            set_committed_value(row, key, value)
        self.changed[row.id] = row

    def advance(self, wf: BpmnWorkflow) -> None:
        """Run engine steps and due timers until only human tasks and future timers are left."""
        try:
            while True:
                # Runs what is ready, then refreshes the timers: one that came due is ready for the next round.
                wf.do_engine_steps(did_complete_task=self.finished.append)
                if not any(t.state == TaskState.READY and not t.task_spec.manual for t in _all_tasks(wf)):
                    break
        except SpiffWorkflowException as exc:
            raise ExecutionFailed(f"the process could not continue: {str(exc).splitlines()[0]}",
                                  code="case.advance_failed") from exc


class WorkflowEngine:
    """Generic BPMN runtime; collaborators are injected (clock, vetted functions, extra checks)."""

    def __init__(self, *, clock: Clock, functions: FunctionRegistry = DEFAULT_FUNCTIONS,
                 group_lanes: Iterable[str] = (), extra_checks: Iterable = (), warm_cases: int = 256):
        self.clock = clock
        #: The workflows of the cases this process acted on last (about 20 KB each), see WarmWorkflows.
        self.warm = WarmWorkflows(warm_cases)
        self.functions = functions
        self.group_lanes = frozenset(group_lanes)
        self.extra_checks = tuple(extra_checks)
        self.codec = StateCodec()
        self._parsed: dict[str, ParsedDefinition] = {}

    # ----------------------------------------------------------------- definitions
    def validate(self, xml: bytes | str) -> ParsedDefinition:
        """Parse and check a diagram; raises InvalidDefinition naming each element at fault."""
        return parse_definition(xml, self.functions, self.extra_checks)

    def deploy(self, session: Session, xml: bytes | str, *, actor: str | None,
               summary: dict | None = None) -> Definition:
        """Store a valid diagram as the next version of its process. The content of the newest version is not
        stored again (that version is returned); the content of an older one becomes the newest, as a new version
        that says which one it restores (``restores`` in the event and in the summary): a rollback."""
        parsed = self.validate(xml)
        newest = session.execute(
            select(Definition).where(Definition.process_key == parsed.process_key)
            .order_by(Definition.version.desc()).limit(1)).scalar_one_or_none()
        if newest is not None and newest.sha256 == parsed.sha256:
            return newest
        restores = session.execute(
            select(func.max(Definition.version)).where(Definition.process_key == parsed.process_key,
                                                       Definition.sha256 == parsed.sha256)).scalar()
        if restores is not None:
            summary = {**(summary or {}), "restores": restores}
        now = self.clock.now()
        definition = Definition(process_key=parsed.process_key, name=parsed.name,
                                version=(newest.version if newest else 0) + 1,
                                sha256=parsed.sha256, xml=parsed.xml, created_at=now, created_by=actor,
                                summary=json.dumps(summary) if summary is not None else None)
        session.add(definition)
        session.flush()
        self._parsed[parsed.sha256] = parsed
        eventlog.append(session, type="definition_deployed", at=now, actor=actor,
                        data={"process_key": parsed.process_key, "version": definition.version,
                              "sha256": parsed.sha256, "summary": summary, "restores": restores})
        return definition

    def latest(self, session: Session, process_key: str) -> Definition:
        definition = session.execute(
            select(Definition).where(Definition.process_key == process_key)
            .order_by(Definition.version.desc()).limit(1)
        ).scalar_one_or_none()
        if definition is None:
            raise NotFound(f"no deployed process '{process_key}'", code="definition.not_deployed",
                               process=process_key)
        return definition

    def parsed(self, definition: Definition) -> ParsedDefinition:
        """The parsed spec of a stored version, parsed once per process and content hash."""
        parsed = self._parsed.get(definition.sha256)
        if parsed is None:
            parsed = parse_definition(definition.xml, self.functions, stored=True)
            self._parsed[definition.sha256] = parsed
        return parsed

    def parsed_for(self, session: Session, definition_id: int) -> ParsedDefinition:
        """The parsed spec of the stored version ``definition_id``: only its hash is read once it was parsed
        (not the row and its XML), and a row altered behind our back has another hash, so it is parsed and
        checked again."""
        known = _transaction_memo(session, _DEFINITION_SHA)
        sha = known.get(definition_id)
        if sha is None:
            sha = session.execute(select(Definition.sha256).where(Definition.id == definition_id)).scalar_one()
            known[definition_id] = sha
        parsed = self._parsed.get(sha)
        if parsed is None:
            parsed = self.parsed(session.get(Definition, definition_id))
        return parsed

    # ------------------------------------------------------------------- instances
    def start(self, session: Session, process_key: str, *, data: Mapping[str, Any], actor: str | None,
              title: str = "", business_date: date | None = None, group: str | None = None) -> ActionResult:
        """Start a case on the newest version of the process."""
        _check_keys(data)
        definition = self.latest(session, process_key)
        parsed = self.parsed(definition)
        run = _Run(self, self.clock.now())
        wf = new_workflow(parsed, run, data)
        instance = Instance(definition_id=definition.id, status="running", state="",
                            serializer_version=self.codec.version, title=title, business_date=business_date,
                            group=group, created_by=actor, created_at=run.now, updated_at=run.now)
        session.add(instance)
        session.flush()
        result = ActionResult(instance)
        result.events.append(eventlog.append(
            session, type="case_started", at=run.now, actor=actor, instance_id=instance.id,
            data={"process_key": process_key, "version": definition.version, "title": title,
                  "business_date": business_date, "group": group, "data": dict(data)}))
        self._sync(session, instance, wf, run, result, actor=actor)
        return result

    def load(self, session: Session, instance: Instance, now: datetime | None = None) -> BpmnWorkflow:
        """The live workflow of an instance, for reading; acting goes through the methods below."""
        parsed = self.parsed_for(session, instance.definition_id)
        run = _Run(self, now or self.clock.now())
        return self.codec.loads(instance.state, instance.serializer_version, parsed.spec,
                                parsed.subprocess_specs, run.script_engine)

    def task_data(self, session: Session, task_id: str) -> dict:
        """A copy of the data a ready task sees (for pre-filling its form)."""
        row = self._task_row(session, task_id)
        wf = self.load(session, session.get(Instance, row.instance_id))
        task = wf.get_task_from_id(UUID(task_id)) if UUID(task_id) in wf.tasks else None
        return dict(task.data) if task is not None else {}

    @_stale_to_typed
    def complete(self, session: Session, task_id: str, data: Mapping[str, Any], *, actor: str,
                 expected_version: int | None = None) -> ActionResult:
        """Complete a ready human task with the given (already validated) data."""
        _check_keys(data)
        _lock_case(session, task_id=_task_id(task_id))
        row = self._task_row(session, task_id)
        if row.state != "ready":
            raise TaskNotReady(f"task '{row.name}' is {row.state}", code="task.not_ready", task=row.name,
                               task_id=task_id, state=row.state)
        instance = session.get(Instance, row.instance_id)
        if expected_version is not None and expected_version != instance.lock_version:
            raise StaleInstance("the case was changed by someone else; reload it", code="case.changed",
                                instance_id=instance.id, expected=expected_version,
                                actual=instance.lock_version)
        run = _Run(self, self.clock.now())
        wf = self._load_for_action(session, instance, run)
        result = ActionResult(instance)
        rows = self._ready_rows(session, instance)
        if instance.next_timer_at is not None and instance.next_timer_at <= run.now:
            # A deadline that passed before this completion is recorded first. Otherwise there is nothing to
            # run: every state is stored after an advance, and only time (a timer) can make work ready.
            run.advance(wf)
            self._record_finished(session, instance, run, result, rows)
        uid = UUID(task_id)
        task = wf.tasks.get(uid)
        if task is None or task.state != TaskState.READY or not task.task_spec.manual:
            raise TaskNotReady(f"task '{row.name}' is not ready in the process", code="task.not_ready",
                               task=row.name, task_id=task_id)
        submitted = dict(data)
        before = {k: task.data.get(k) for k in submitted if task.data.get(k) != submitted[k]}
        run_user_task(task, submitted)
        run.advance(wf)
        result.events.append(eventlog.append(
            session, type="task_completed", at=run.now, actor=actor, instance_id=instance.id, task_id=task_id,
            data={"bpmn_id": row.bpmn_id, "name": row.name, "lane": row.lane, "data": submitted,
                  "previous": before, "late": bool(row.due_at and run.now > row.due_at)}))
        self._sync(session, instance, wf, run, result, actor=actor, completed_task_id=task_id, rows=rows)
        return result

    def claim(self, session: Session, task_id: str, actor: str) -> TaskRow:
        """Take a ready task; exactly one of several racing claimants succeeds."""
        now = self.clock.now()
        task_id = _task_id(task_id)
        _lock_case(session, task_id=task_id)
        taken = _hand_over(session, task_id, None, actor, now)
        row = self._task_row(session, task_id)
        if not taken:
            session.refresh(row)  # as someone else left it
            if row.state != "ready":
                raise TaskNotReady(f"task '{row.name}' is {row.state}", code="task.not_ready", task=row.name,
                                   task_id=task_id)
            if row.claimed_by == actor:
                return row
            raise AlreadyClaimed(f"task '{row.name}' is already taken", code="task.already_claimed", task=row.name,
                                 task_id=task_id)
        eventlog.append(session, type="task_claimed", at=now, actor=actor, instance_id=row.instance_id,
                        task_id=task_id, data={"bpmn_id": row.bpmn_id, "name": row.name})
        return row

    def unclaim(self, session: Session, task_id: str, actor: str) -> TaskRow:
        """Give a task back to its lane (only its holder can)."""
        now = self.clock.now()
        _lock_case(session, task_id=_task_id(task_id))
        row = self._task_row(session, task_id)
        if row.state != "ready":
            raise TaskNotReady(f"task '{row.name}' is {row.state}", code="task.not_ready", task=row.name,
                               task_id=task_id)
        if not _hand_over(session, row.id, actor, None, None):
            session.refresh(row)
            raise AlreadyClaimed(f"task '{row.name}' is not held by you", code="task.not_held", task=row.name,
                                 task_id=task_id)
        eventlog.append(session, type="task_unclaimed", at=now, actor=actor, instance_id=row.instance_id,
                        task_id=task_id, data={"bpmn_id": row.bpmn_id, "name": row.name})
        return row

    def delegate(self, session: Session, task_id: str, actor: str, to: str) -> TaskRow:
        """Hand a ready task to someone else (the caller checks they may hold it)."""
        now = self.clock.now()
        _lock_case(session, task_id=_task_id(task_id))
        row = self._task_row(session, task_id)
        if row.state != "ready":
            raise TaskNotReady(f"task '{row.name}' is {row.state}", code="task.not_ready", task=row.name,
                               task_id=task_id)
        previous = row.claimed_by
        if not _hand_over(session, row.id, previous, to, now):
            session.refresh(row)
            raise AlreadyClaimed(f"task '{row.name}' changed hands meanwhile", code="task.changed_hands",
                                 task=row.name, task_id=task_id)
        eventlog.append(session, type="task_delegated", at=now, actor=actor, instance_id=row.instance_id,
                        task_id=task_id, data={"bpmn_id": row.bpmn_id, "from": previous, "to": to})
        return row

    def due_instance_ids(self, session: Session, now: datetime, limit: int = 200) -> list[int]:
        """Instances whose earliest timer is due, through the ``next_timer_at`` index only, earliest first. Nothing
        is locked: :meth:`fire_timers` takes each case (several workers share the work that way)."""
        stmt = (select(Instance.id).where(Instance.next_timer_at < now, Instance.status == "running")
                .order_by(Instance.next_timer_at).limit(limit))
        return list(session.execute(stmt).scalars())

    def next_timer_at(self, session: Session) -> datetime | None:
        """The earliest timer of any running instance (an index lookup), for a worker deciding how long to sleep."""
        return session.execute(select(func.min(Instance.next_timer_at)).where(Instance.status == "running")).scalar()

    def fire_due_timers(self, session: Session, now: datetime | None = None, limit: int = 200) -> list[ActionResult]:
        """Fire the timers due at ``now`` (default: the engine's clock) of up to ``limit`` cases, in this one
        transaction, each case in a savepoint: one whose timers cannot fire is marked ``error`` instead
        (:meth:`mark_failed`), the rest go on. The worker (ops/worker.py) does the same in short transactions."""
        now = now or self.clock.now()
        results = []
        for instance_id in self.due_instance_ids(session, now, limit):
            try:
                with session.begin_nested():
                    result = self.fire_timers(session, instance_id, now)
            except (ExecutionFailed, InvalidData) as exc:
                self.mark_failed(session, instance_id, exc, now)
                continue
            if result is not None:
                results.append(result)
        return results

    def fire_timers(self, session: Session, instance_id: int, now: datetime | None = None) -> ActionResult | None:
        """Fire the due timers of one case and save it. None when there is nothing to do: the case is no longer due,
        or someone else is acting on it (its row is locked with SKIP LOCKED: the sweep never waits for a case, it
        comes back to it while it is still due).

        Raises :class:`ExecutionFailed` or :class:`InvalidData` when the timers cannot fire: run it in a savepoint,
        roll that back, then mark the case with :meth:`mark_failed`.
        """
        now = now or self.clock.now()
        instance = session.execute(_LOCK_DUE_CASE, {"case_id": instance_id, "now": now}).scalar_one_or_none()
        if instance is None:
            return None
        _took_case(session, instance_id, fresh=instance)
        return self._tick(session, instance, now)

    def mark_failed(self, session: Session, instance_id: int, error: EngineError, now: datetime | None = None) -> bool:
        """Mark a case whose timers cannot fire as ``error`` (logged, and recorded as an event), so the sweep stops
        taking it; False when someone else holds it meanwhile (it is tried again later)."""
        now = now or self.clock.now()
        instance = session.execute(_LOCK_DUE_CASE, {"case_id": instance_id, "now": now}).scalar_one_or_none()
        if instance is None:
            return False
        _took_case(session, instance_id, fresh=instance)
        log.error("instance %s could not fire its timers: %s", instance_id, error)
        instance.status = "error"
        instance.next_timer_at = None
        eventlog.append(session, type="execution_failed", at=now, actor=SYSTEM_ACTOR,
                        instance_id=instance_id, data={"error": str(error)})
        return True

    @_stale_to_typed
    def _tick(self, session: Session, instance: Instance, now: datetime) -> ActionResult:
        run = _Run(self, now)
        wf = self._load_for_action(session, instance, run)
        run.advance(wf)
        result = ActionResult(instance)
        self._sync(session, instance, wf, run, result, actor=SYSTEM_ACTOR)
        return result

    # ------------------------------------------------------------------- migration
    def check_migration(self, session: Session, instance: Instance, target: Definition) -> MigrationCheck:
        """Can this case move to ``target``? Only to a newer version of its process (to go back, deploy the older
        content again: it becomes the newest version, see :meth:`deploy`), and every task it waits on must still
        exist there."""
        reasons: list[Problem] = []
        tasks: tuple[str, ...] = ()
        current = session.get(Definition, instance.definition_id)
        if instance.status != "running":
            reasons.append(Problem(None, "migration.case_not_running", {"status": instance.status}))
        elif target.process_key != current.process_key:
            reasons.append(Problem(None, "migration.other_process", {"version": target.version,
                                                                     "process": target.process_key}))
        elif target.id == current.id:
            reasons.append(Problem(None, "migration.same_version", {"version": target.version}))
        elif target.version < current.version:
            reasons.append(Problem(None, "migration.older_version", {"version": target.version,
                                                                     "current": current.version}))
        else:
            wf = self.load(session, instance)
            tasks = tuple(t.task_spec.bpmn_name or t.task_spec.bpmn_id
                          for t in wf.get_tasks(state=TaskState.READY, manual=True))
            reasons += self._migration_blockers(wf, target)
        return MigrationCheck(instance.id, instance.title, not reasons, tuple(reasons), tasks)

    def _migration_blockers(self, wf: BpmnWorkflow, target: Definition) -> list[Problem]:
        from SpiffWorkflow.bpmn.util.diff import diff_workflow

        parsed = self.parsed(target)
        diff, _sub = diff_workflow(self.codec.registry, wf, parsed.spec, parsed.subprocess_specs)
        reasons = []
        for task in diff.removed:
            if isinstance(task.task_spec, BoundaryEvent):
                continue  # a deadline on a removed task: the task itself is named
            if task.has_state(TaskState.NOT_FINISHED_MASK) and task.task_spec.bpmn_id and \
                    task.state in (TaskState.READY, TaskState.WAITING, TaskState.STARTED):
                reasons.append(Problem(task.task_spec.bpmn_id, "migration.task_removed", {"version": target.version},
                                       element_name=task.task_spec.bpmn_name,
                                       element_type=_bpmn_type(task.task_spec)))
        return reasons

    @_stale_to_typed
    def migrate(self, session: Session, instance_id: int, target: Definition, *, actor: str) -> ActionResult:
        """Move one waiting case to ``target``, all or nothing; recorded as an event."""
        _lock_case(session, case_id=instance_id)
        instance = session.get(Instance, instance_id)
        if instance is None:
            raise MigrationRefused(f"no case {instance_id}",
                                   [Problem(None, "migration.no_case", {"case": instance_id})])
        check = self.check_migration(session, instance, target)
        if not check.can_move:
            raise MigrationRefused(f"case {instance_id} cannot move", list(check.reasons))
        source = session.get(Definition, instance.definition_id)
        run = _Run(self, self.clock.now())
        wf = self._load_for_action(session, instance, run)
        try:
            changed = migrate_in_memory(self.codec, wf, self.parsed(target))
        except ExecutionFailed as exc:
            raise MigrationRefused(f"case {instance_id}: {exc.message}",
                                   [Problem(None, "migration.failed", {"version": target.version})]) from exc
        run.advance(wf)
        instance.definition_id = target.id
        result = ActionResult(instance)
        # The deadlines of the waiting tasks may change with the version; the projection updates them
        # without an event of their own, so the migration records them (replay compares against these).
        waiting = [{"task_id": str(t.id), "bpmn_id": t.task_spec.bpmn_id, "due": due_of(t)}
                   for t in wf.get_tasks(state=TaskState.READY, manual=True) if t.task_spec.bpmn_id]
        result.events.append(eventlog.append(
            session, type="case_migrated", at=run.now, actor=actor, instance_id=instance.id,
            data={"from_version": source.version, "to_version": target.version, "changed": changed,
                  "ready": waiting}))
        self._sync(session, instance, wf, run, result, actor=actor)
        return result

    def task_and_case(self, session: Session, task_id: str) -> tuple[TaskRow, Instance]:
        """A task, its case, the hash of the case's process version and the case's other ready tasks, in one
        statement (an action needs them all; the hash and the ready tasks are kept for the rest of the
        transaction). On PostgreSQL the case row is locked first (the first lock of an action, see the module doc);
        on SQLite the statement also reads the event chain's head (see eventlog.adopt_head)."""
        task_id = _task_id(task_id)
        sqlite = session.get_bind().dialect.name == "sqlite"
        _lock_case(session, task_id=task_id)
        found = session.execute(_TASK_AND_CASE_AND_HEAD if sqlite else _TASK_AND_CASE, {"task_id": task_id}).all()
        row = next((found_row[0] for found_row in found if found_row[0].id == task_id), None)
        if row is None:
            raise NotFound(f"no task '{task_id}'", code="task.not_found", task_id=task_id)
        instance, sha = found[0][1], found[0][2]
        _transaction_memo(session, _DEFINITION_SHA)[instance.definition_id] = sha
        # The case's ready tasks, for the action that follows (taken once: see _ready_rows).
        _transaction_memo(session, _READY)[instance.id] = {r[0].id: r[0] for r in found if r[0].state == "ready"}
        if sqlite and found[0][3] is not None:
            eventlog.adopt_head(session, found[0][3], found[0][4])
        return row, instance

    # --------------------------------------------------------------------- helpers
    def _task_row(self, session: Session, task_id: str) -> TaskRow:
        row = session.get(TaskRow, _task_id(task_id))
        if row is None:
            raise NotFound(f"no task '{task_id}'", code="task.not_found", task_id=task_id)
        return row

    def _load_for_action(self, session: Session, instance: Instance, run: _Run) -> BpmnWorkflow:
        if instance.status != "running":
            raise TaskNotReady(f"case {instance.id} is {instance.status}", code="case.not_running",
                               instance_id=instance.id)
        parsed = self.parsed_for(session, instance.definition_id)
        wf = self.warm.take(instance.id, instance.state, instance.serializer_version, parsed.spec)
        if wf is not None:
            wf.script_engine = run.script_engine
            return wf
        return self.codec.loads(instance.state, instance.serializer_version, parsed.spec,
                                parsed.subprocess_specs, run.script_engine)

    def _sync(self, session: Session, instance: Instance, wf: BpmnWorkflow, run: _Run, result: ActionResult,
              *, actor: str | None, completed_task_id: str | None = None,
              rows: dict[str, TaskRow] | None = None) -> None:
        """Write the projection, the events and the state of one action."""
        now = run.now
        if rows is None:
            rows = self._ready_rows(session, instance)

        new_rows: list[TaskRow] = []
        # Human tasks now ready, and those that stopped being ready.
        ready = [t for t in wf.get_tasks(state=TaskState.READY, manual=True) if t.task_spec.bpmn_id]
        ready_ids = {str(t.id) for t in ready}
        for tid, row in rows.items():
            if tid in ready_ids:
                continue
            if tid == completed_task_id:
                run.put(row, state="completed", completed_at=now, completed_by=actor)
                result.completed.append(row)
            else:
                run.put(row, state="cancelled", completed_at=now)
                result.events.append(eventlog.append(
                    session, type="task_cancelled", at=now, actor=SYSTEM_ACTOR, instance_id=instance.id,
                    task_id=tid, data={"bpmn_id": row.bpmn_id, "name": row.name}))
        for task in ready:
            tid = str(task.id)
            due = self._due_of(task)
            if tid in rows:
                if rows[tid].due_at != due:
                    run.put(rows[tid], due_at=due)
                continue
            lane = task.task_spec.lane
            row = TaskRow(id=tid, instance_id=instance.id, bpmn_id=task.task_spec.bpmn_id,
                          name=task.task_spec.bpmn_name or task.task_spec.bpmn_id, lane=lane,
                          group=instance.group if lane in self.group_lanes else None, state="ready",
                          due_at=due, overdue_at=None, claimed_by=None, claimed_at=None, created_at=now,
                          completed_at=None, completed_by=None, case_title=instance.title,
                          case_date=instance.business_date)
            new_rows.append(row)
            rows[tid] = row
            result.events.append(eventlog.append(
                session, type="task_ready", at=now, actor=SYSTEM_ACTOR, instance_id=instance.id, task_id=tid,
                data={"bpmn_id": row.bpmn_id, "name": row.name, "lane": lane, "group": row.group,
                      "due": due}))

        self._record_finished(session, instance, run, result, rows)
        self._record_timer_errors(session, instance, wf, run, result, rows)
        wf.get_events()  # uncaught thrown events are recorded above; do not keep them in the state

        # The case itself.
        case = {key: getattr(instance, key) for key in _CASE_WRITES}
        dues = [d for d in (_timer_due(t) for t in _all_tasks(wf) if t.state == TaskState.WAITING) if d is not None]
        case["next_timer_at"] = min(dues) if dues else None
        if wf.is_completed():
            ends = [t.task_spec.bpmn_id for t in run.finished_ends]
            case.update(status="completed", completed_at=now, end_event=ends[-1] if ends else None,
                        next_timer_at=None)
            result.events.append(eventlog.append(
                session, type="case_completed", at=now, actor=SYSTEM_ACTOR, instance_id=instance.id,
                data={"end_event": case["end_event"]}))
        result.pruned = prune(wf)
        case.update(state=self.codec.dumps(wf), serializer_version=self.codec.version, updated_at=now)
        _save(session, instance, case, run.changed.values(), new_rows)
        if case["status"] == "running":
            self.warm.put(instance.id, case["state"], case["serializer_version"], wf)
        result.ready.extend(new_rows)


    def _record_finished(self, session: Session, instance: Instance, run: _Run, result: ActionResult,
                         rows: dict[str, TaskRow]) -> None:
        """Events for what the engine ran by itself: timers that fired (the overdue of the task they
        are attached to) and signals thrown. Consumes ``run.finished``."""
        now = run.now
        for task in run.finished:
            definition = getattr(task.task_spec, "event_definition", None)
            if isinstance(definition, TimerEventDefinition):
                due = task._get_internal_data("event_value")
                attached = attached_user_task(task)
                row = rows.get(str(attached.id)) if attached is not None else None
                result.events.append(eventlog.append(
                    session, type="timer_fired", at=now, actor=SYSTEM_ACTOR, instance_id=instance.id,
                    task_id=row.id if row else None,
                    data={"element": task.task_spec.bpmn_id, "due": due}))
                if row is not None and row.overdue_at is None:
                    run.put(row, overdue_at=now)
                    result.overdue.append(row)
                    result.events.append(eventlog.append(
                        session, type="overdue", at=now, actor=SYSTEM_ACTOR, instance_id=instance.id,
                        task_id=row.id, data={"bpmn_id": row.bpmn_id, "name": row.name, "lane": row.lane,
                                              "due": row.due_at, "claimed_by": row.claimed_by}))
            elif isinstance(task.task_spec, ThrowingEvent) and isinstance(definition, SignalEventDefinition):
                result.signals.append(definition.name)
                result.events.append(eventlog.append(
                    session, type="signal_thrown", at=now, actor=SYSTEM_ACTOR, instance_id=instance.id,
                    data={"element": task.task_spec.bpmn_id, "signal": definition.name}))
        run.finished_ends.extend(t for t in run.finished if isinstance(t.task_spec, EndEvent))
        run.finished.clear()

    @staticmethod
    def _record_timer_errors(session: Session, instance: Instance, wf: BpmnWorkflow, run: _Run,
                             result: ActionResult, rows: dict[str, TaskRow]) -> None:
        """A timer whose value could not be computed on this case's data (engine.state.TimerNotSet) does not stop the
        case: its task goes on without that deadline, and the failure is recorded once, as ``timer_failed`` with the
        element, the expression and the code of what went wrong, for the process owner to fix the diagram."""
        for task in _all_tasks(wf):
            if task.state != TaskState.WAITING:
                continue
            error = task._get_internal_data("timer_error")
            if error is None or error.get("recorded"):
                continue
            attached = attached_user_task(task)
            row = rows.get(str(attached.id)) if attached is not None else None
            spec = task.task_spec
            log.warning("case %s: timer %s could not be set (%s)", instance.id, spec.bpmn_id, error.get("code"))
            result.events.append(eventlog.append(
                session, type="timer_failed", at=run.now, actor=SYSTEM_ACTOR, instance_id=instance.id,
                task_id=row.id if row else None,
                data={"element": spec.bpmn_id, "name": spec.bpmn_name, "code": error.get("code"),
                      "expression": getattr(spec.event_definition, "expression", None), "value": error.get("value")}))
            task._set_internal_data(timer_error={**error, "recorded": True})

    @staticmethod
    def _ready_rows(session: Session, instance: Instance) -> dict[str, TaskRow]:
        """The case's ready task rows: those :meth:`task_and_case` read in this transaction, taken once (rows are
        changed only through the loaded objects meanwhile; the next action reads them again), else a query."""
        known = _transaction_memo(session, _READY).pop(instance.id, None)
        if known is not None:
            return {tid: row for tid, row in known.items() if row.state == "ready"}
        return {r.id: r for r in session.execute(_READY_ROWS, {"instance_id": instance.id}).scalars()}

    _due_of = staticmethod(due_of)

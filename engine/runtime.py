"""The workflow engine's API: deploy process versions, start cases, complete, claim, give back and delegate tasks,
fire timers, move cases to another version. Load → act → save, one transaction per action (the caller owns the
transaction).

Every action loads the instance row (with its lock version), acts in SpiffWorkflow with a clock fixed for the action
(:mod:`engine.spiff`), prunes the finished history, then writes the state, the task projection (:mod:`engine.
persistence`) and the events (:mod:`engine.eventlog`) in the caller's session. A stale lock version raises
:class:`StaleInstance`; any error leaves the session to be rolled back by the caller and the in-memory workflow is
discarded. The order in which every writer takes its locks is in :mod:`engine.persistence`.
"""
from __future__ import annotations

import functools
import json
import logging
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.defaults import BoundaryEvent
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import ThrowingEvent
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from . import eventlog, persistence, wakeup
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
from .expressions import DEFAULT_FUNCTIONS, NAME_RE, FunctionRegistry, evaluate
from .models import Definition, Instance, RunningWithTimer, TaskRow
from .spiff import (
    ActionRun,
    all_tasks,
    attached_user_task,
    bpmn_type,
    due_of,
    find_task,
    migrate_in_memory,
    new_workflow,
    passes_by_itself,
    process_ends,
    run_user_task,
    timer_due,
    workflow_diff,
)
from .state import StateCodec, WarmWorkflows, prune

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "system"
#: Codes of the problems that keep a case from moving to another version (MigrationCheck.reasons, MigrationRefused).
MIGRATION_CODES = frozenset({"migration.case_not_running", "migration.other_process", "migration.same_version",
                             "migration.older_version", "migration.task_removed", "migration.no_case",
                             "migration.failed", "migration.mapping_unknown", "migration.mapping_target_missing",
                             "migration.mapping_target_kind", "migration.mapping_other_lane",
                             "migration.mapping_boundary", "migration.completed_unmapped"})
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


def _task_id(task_id: str) -> str:
    """``task_id`` as stored (a SpiffWorkflow task UUID); anything else names no task."""
    try:
        UUID(str(task_id))
    except ValueError:
        raise NotFound(f"no task '{task_id}'", code="task.not_found", task_id=task_id) from None
    return str(task_id)


@dataclass(frozen=True)
class RemovedTask:
    """A human task a case waits on, or has completed, whose BPMN id the target version lacks: a waiting one moves
    only if mapped to a task of the target; a completed one (its history) is mapped too, or explicitly kept under
    its old id (see :meth:`WorkflowEngine.check_migration`)."""

    bpmn_id: str
    name: str | None
    lane: str | None
    type: str  # the BPMN tag, e.g. userTask
    process: str  # the id of the (sub-)process it is in
    boundary: bool  # it has boundary events (a deadline)
    waiting: bool = True  # the case waits on it (False: only its history, completed rounds, has the id)


@dataclass(frozen=True)
class MappingChoice:
    """A task of the target version a removed task may be mapped to (:meth:`WorkflowEngine.mapping_choices`)."""

    bpmn_id: str
    name: str | None
    same_name: bool  # a hint for the owner, never a choice made for them


@dataclass(frozen=True)
class MigrationCheck:
    """Whether a case can move to another version of its process, and why not."""

    instance_id: int
    title: str
    can_move: bool
    reasons: tuple[Problem, ...]
    tasks: tuple[str, ...]  # the human tasks it waits on
    removed: tuple[RemovedTask, ...] = ()  # tasks it waits on or has completed whose id the target lacks
    mapping: dict[str, str] = field(default_factory=dict)  # the entries of the given mapping this case uses
    kept: tuple[str, ...] = ()  # completed removed tasks the plan explicitly keeps under their old id


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


def _is_human_spec(spec) -> bool:
    return bool(spec.bpmn_id) and spec.name == spec.bpmn_id and bool(getattr(spec, "manual", False))


def _mapping_entry_problems(parsed: ParsedDefinition, target: Definition, task: RemovedTask,
                            new_id: object) -> list[Problem]:
    """What is wrong with mapping the removed ``task`` to ``new_id`` of ``target`` (nothing: an empty list)."""
    specs = parsed.spec if task.process == parsed.spec.name else parsed.subprocess_specs.get(task.process)
    params: dict[str, Any] = {"task": task.name or task.bpmn_id, "target": str(new_id)[:200],
                              "version": target.version}
    spec = specs.task_specs.get(new_id) if specs is not None and isinstance(new_id, str) else None
    code = None
    if spec is None or not spec.bpmn_id:
        code = "migration.mapping_target_missing"
    else:
        params["target"] = spec.bpmn_name or spec.bpmn_id
        if bpmn_type(spec) != task.type or not spec.manual:
            code = "migration.mapping_target_kind"
            params["kind"] = task.type
        elif spec.lane != task.lane:
            code = "migration.mapping_other_lane"
            params.update(lane=task.lane or "", target_lane=spec.lane or "")
        elif (f"{spec.name}.BoundaryEventSplit" in specs.task_specs) != task.boundary:
            code = "migration.mapping_boundary"
    return [Problem(task.bpmn_id, code, params, element_name=task.name, element_type=task.type)] if code else []


#: The group lanes of each parsed process spec (a workflow knows its spec, not the parsed definition).
_GROUP_LANES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


#: The earliest waiting timer: the first entry of the partial index ``ix_instance_timer_due``.
NEXT_TIMER_QUERY = (select(Instance.next_timer_at).where(RunningWithTimer())
                    .order_by(Instance.next_timer_at).limit(1))


def due_cases_query(now: datetime, limit: int) -> Select:
    """The cases whose earliest timer is due at ``now``, earliest first (ties by case id): a range at the start of
    ``ix_instance_timer_due``, read in the index's order (no sort), ending at the first case not yet due."""
    return (select(Instance.id).where(RunningWithTimer(), Instance.next_timer_at < now)
            .order_by(Instance.next_timer_at, Instance.id).limit(limit))


class WorkflowEngine:
    """Generic BPMN runtime; collaborators are injected (clock, vetted functions, extra checks)."""

    def __init__(self, *, clock: Clock, functions: FunctionRegistry = DEFAULT_FUNCTIONS,
                 group_lanes: Iterable[str] | Callable[[ParsedDefinition], Iterable[str]] = (),
                 extra_checks: Iterable = (), warm_cases: int = 256):
        self.clock = clock
        #: The workflows of the cases this process acted on last (about 20 KB each), see WarmWorkflows.
        self.warm = WarmWorkflows(warm_cases)
        self.functions = functions
        #: The lanes whose tasks go only to the case's group (its team): the same for every diagram, or read from
        #: each diagram by a callable (its declarations).
        self.group_lanes = group_lanes if callable(group_lanes) else frozenset(group_lanes)
        self.extra_checks = tuple(extra_checks)
        self.codec = StateCodec()
        self._parsed: dict[str, ParsedDefinition] = {}

    # ----------------------------------------------------------------- definitions
    def validate(self, xml: bytes | str) -> ParsedDefinition:
        """Parse and check a diagram; raises InvalidDefinition naming each element at fault."""
        return self._with_lanes(parse_definition(xml, self.functions, self.extra_checks))

    def _with_lanes(self, parsed: ParsedDefinition) -> ParsedDefinition:
        lanes = self.group_lanes(parsed) if callable(self.group_lanes) else self.group_lanes
        parsed.group_lanes = frozenset(lanes)
        _GROUP_LANES[parsed.spec] = parsed.group_lanes
        return parsed

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
        persistence.forget_definition_ids(session)
        self._parsed[parsed.sha256] = parsed
        eventlog.append(session, type="definition_deployed", at=now, actor=actor,
                        data={"process_key": parsed.process_key, "version": definition.version,
                              "sha256": parsed.sha256, "summary": summary, "restores": restores})
        return definition

    @staticmethod
    def definition_ids(session: Session) -> tuple[int, ...]:
        """The ids of every stored process version, oldest first (read once per transaction)."""
        return persistence.definition_ids(session)

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
            parsed = self._with_lanes(parse_definition(definition.xml, self.functions, stored=True))
            self._parsed[definition.sha256] = parsed
        return parsed

    def parsed_for(self, session: Session, definition_id: int) -> ParsedDefinition:
        """The parsed spec of the stored version ``definition_id``: only its hash is read once it was parsed
        (not the row and its XML), and a row altered behind our back has another hash, so it is parsed and
        checked again."""
        sha = persistence.definition_sha(session, definition_id)
        parsed = self._parsed.get(sha)
        if parsed is None:
            parsed = self.parsed(session.get(Definition, definition_id))
        return parsed

    def projected_due(self, parsed: ParsedDefinition, bpmn_id: str, data: Mapping[str, Any]) -> datetime | None:
        """When the user task ``bpmn_id`` would be due, its deadline's expression evaluated on ``data`` (what a case
        knows before the task is reached); None when the task has no deadline or the expression needs more than
        ``data`` gives."""
        info = next((u for u in parsed.user_tasks if u.bpmn_id == bpmn_id), None)
        if info is None or info.deadline is None:
            return None
        try:
            value = evaluate(info.deadline, data, self.functions)
            return TimerEventDefinition.get_datetime(value) if isinstance(value, str) else None
        except (ValueError, TypeError, NameError, KeyError, EngineError):  # needs data the case does not have yet
            return None

    # ------------------------------------------------------------------- instances
    def start(self, session: Session, process_key: str, *, data: Mapping[str, Any], actor: str | None,
              title: str = "", business_date: date | None = None, group: str | None = None,
              definition_id: int | None = None) -> ActionResult:
        """Start a case on the newest version of the process (``definition_id``: that version, as the caller found
        it earlier in this transaction; the session has the row already)."""
        _check_keys(data)
        definition = session.get(Definition, definition_id) if definition_id is not None else None
        if definition is None or definition.process_key != process_key:
            definition = self.latest(session, process_key)
        parsed = self.parsed(definition)
        run = self._run(self.clock.now())
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
        run = self._run(now or self.clock.now())
        return self.codec.loads(instance.state, instance.serializer_version, parsed.spec,
                                parsed.subprocess_specs, run.script_engine)

    def task_data(self, session: Session, task_id: str) -> dict:
        """A copy of the data a ready task sees (for pre-filling its form)."""
        row = self._task_row(session, task_id)
        instance = session.get(Instance, row.instance_id)
        data = self.codec.task_data(instance.state, instance.serializer_version, str(UUID(task_id)))
        if data is not None:
            return data
        task = find_task(self.load(session, instance), UUID(task_id))  # a sub-process's task
        return dict(task.data) if task is not None else {}

    @_stale_to_typed
    def complete(self, session: Session, task_id: str, data: Mapping[str, Any], *, actor: str,
                 expected_version: int | None = None) -> ActionResult:
        """Complete a ready human task with the given (already validated) data."""
        _check_keys(data)
        persistence.lock_case(session, task_id=_task_id(task_id))
        row = self._task_row(session, task_id)
        if row.state != "ready":
            raise TaskNotReady(f"task '{row.name}' is {row.state}", code="task.not_ready", task=row.name,
                               task_id=task_id, state=row.state)
        instance = session.get(Instance, row.instance_id)
        if expected_version is not None and expected_version != instance.lock_version:
            raise StaleInstance("the case was changed by someone else; reload it", code="case.changed",
                                instance_id=instance.id, expected=expected_version,
                                actual=instance.lock_version)
        run = self._run(self.clock.now())
        wf = self._load_for_action(session, instance, run)
        result = ActionResult(instance)
        rows = persistence.ready_rows(session, instance)
        if instance.next_timer_at is not None and instance.next_timer_at <= run.now:
            # A deadline that passed before this completion is recorded first. Otherwise there is nothing to
            # run: every state is stored after an advance, and only time (a timer) can make work ready.
            run.advance(wf)
            self._record_finished(session, instance, run, result, rows)
        task = find_task(wf, UUID(task_id))
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

    def claim(self, session: Session, task_id: str, actor: str, *, reason: str | None = None) -> TaskRow:
        """Take a ready task; exactly one of several racing claimants succeeds. Taking a task one holds already
        changes nothing. ``reason``: why the task is ``actor``'s without their asking (recorded with the claim)."""
        now = self.clock.now()
        task_id = _task_id(task_id)
        persistence.lock_case(session, task_id=task_id)
        taken = persistence.hand_over(session, task_id, None, actor, now)
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
        data = {"bpmn_id": row.bpmn_id, "name": row.name}
        if reason:
            data["reason"] = reason
        eventlog.append(session, type="task_claimed", at=now, actor=actor, instance_id=row.instance_id,
                        task_id=task_id, data=data)
        return row

    def unclaim(self, session: Session, task_id: str, actor: str) -> TaskRow:
        """Give a task back to its lane (only its holder can)."""
        now = self.clock.now()
        persistence.lock_case(session, task_id=_task_id(task_id))
        row = self._task_row(session, task_id)
        if row.state != "ready":
            raise TaskNotReady(f"task '{row.name}' is {row.state}", code="task.not_ready", task=row.name,
                               task_id=task_id)
        if not persistence.hand_over(session, row.id, actor, None, None):
            session.refresh(row)
            raise AlreadyClaimed(f"task '{row.name}' is not held by you", code="task.not_held", task=row.name,
                                 task_id=task_id)
        eventlog.append(session, type="task_unclaimed", at=now, actor=actor, instance_id=row.instance_id,
                        task_id=task_id, data={"bpmn_id": row.bpmn_id, "name": row.name})
        return row

    def delegate(self, session: Session, task_id: str, actor: str, to: str) -> TaskRow:
        """Hand a ready task to someone else (the caller checks they may hold it)."""
        return self._hand_to(session, task_id, actor, to, "task_delegated", {})

    def reassign(self, session: Session, task_id: str, actor: str, to: str, reason: str = "") -> TaskRow:
        """Give a ready task to ``to`` whoever holds it (or nobody): done by someone other than its holder (the
        caller checks they may, and that ``to`` may hold it). Recorded as ``task_reassigned`` with who held it
        before, who holds it now and the reason given."""
        return self._hand_to(session, task_id, actor, to, "task_reassigned", {"reason": reason}, named=True)

    def _hand_to(self, session: Session, task_id: str, actor: str, to: str, event: str, extra: dict, *,
                 named: bool = False) -> TaskRow:
        """Move a ready task from whoever holds it to ``to``, recorded as ``event`` (with ``extra``)."""
        now = self.clock.now()
        persistence.lock_case(session, task_id=_task_id(task_id))
        row = self._task_row(session, task_id)
        if row.state != "ready":
            raise TaskNotReady(f"task '{row.name}' is {row.state}", code="task.not_ready", task=row.name,
                               task_id=task_id)
        previous = row.claimed_by
        if not persistence.hand_over(session, row.id, previous, to, now):
            session.refresh(row)
            raise AlreadyClaimed(f"task '{row.name}' changed hands meanwhile", code="task.changed_hands",
                                 task=row.name, task_id=task_id)
        data = {"bpmn_id": row.bpmn_id, **({"name": row.name} if named else {}), "from": previous, "to": to, **extra}
        eventlog.append(session, type=event, at=now, actor=actor, instance_id=row.instance_id, task_id=task_id,
                        data=data)
        return row

    @_stale_to_typed
    def cancel(self, session: Session, instance_id: int, *, actor: str, reason: str) -> ActionResult:
        """End a running case before its end: its waiting tasks are cancelled, its timers will not fire (the case
        is no longer ``running``: the sweep takes only running cases), and it is ``cancelled`` for good. The
        workflow state is kept as it was. Recorded as ``case_cancelled`` (who, the reason, the tasks it waited on),
        then a ``task_cancelled`` per waiting task, at the same moment."""
        persistence.lock_case(session, case_id=instance_id)
        instance = session.get(Instance, instance_id)
        if instance is None:
            raise NotFound(f"no case {instance_id}", code="case.not_found", case=instance_id)
        if instance.status != "running":
            raise TaskNotReady(f"case {instance.id} is {instance.status}", code="case.not_running",
                               instance_id=instance.id)
        run = self._run(self.clock.now())
        now = run.now
        result = ActionResult(instance)
        rows = persistence.ready_rows(session, instance)
        waiting = sorted(rows.values(), key=lambda r: (r.created_at, r.id))
        result.events.append(eventlog.append(
            session, type="case_cancelled", at=now, actor=actor, instance_id=instance.id,
            data={"reason": reason, "tasks": [{"task_id": r.id, "bpmn_id": r.bpmn_id, "name": r.name,
                                               "claimed_by": r.claimed_by} for r in waiting]}))
        for row in waiting:
            run.put(row, state="cancelled", completed_at=now)
            result.completed.append(row)
            result.events.append(eventlog.append(
                session, type="task_cancelled", at=now, actor=SYSTEM_ACTOR, instance_id=instance.id,
                task_id=row.id, data={"bpmn_id": row.bpmn_id, "name": row.name}))
        case = {key: getattr(instance, key) for key in persistence.CASE_WRITES}
        case.update(status="cancelled", next_timer_at=None, completed_at=now, updated_at=now)
        persistence.save_action(session, instance, case, run.changed.values(), [])
        self.warm.drop(instance.id)
        return result

    def due_instance_ids(self, session: Session, now: datetime, limit: int = 200) -> list[int]:
        """Instances whose earliest timer is due, through the ``next_timer_at`` index only, earliest first (ties by
        case id). Nothing is locked: :meth:`fire_timers` takes each case (several workers share the work that
        way)."""
        return list(session.execute(due_cases_query(now, limit)).scalars())

    def next_timer_at(self, session: Session) -> datetime | None:
        """The earliest timer of any running instance (the first entry of ``ix_instance_timer_due``), for a worker
        deciding how long to sleep."""
        return session.execute(NEXT_TIMER_QUERY).scalar()

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
        instance = persistence.lock_due_case(session, instance_id, now)
        if instance is None:
            return None
        return self._tick(session, instance, now)

    def mark_failed(self, session: Session, instance_id: int, error: EngineError, now: datetime | None = None) -> bool:
        """Mark a case whose timers cannot fire as ``error`` (logged, and recorded as an event), so the sweep stops
        taking it; False when someone else holds it meanwhile (it is tried again later)."""
        now = now or self.clock.now()
        instance = persistence.lock_due_case(session, instance_id, now)
        if instance is None:
            return False
        log.error("instance %s could not fire its timers: %s", instance_id, error)
        instance.status = "error"
        instance.next_timer_at = None
        eventlog.append(session, type="execution_failed", at=now, actor=SYSTEM_ACTOR,
                        instance_id=instance_id, data={"error": str(error)})
        return True

    @_stale_to_typed
    def _tick(self, session: Session, instance: Instance, now: datetime) -> ActionResult:
        run = self._run(now)
        wf = self._load_for_action(session, instance, run)
        run.advance(wf)
        result = ActionResult(instance)
        self._sync(session, instance, wf, run, result, actor=SYSTEM_ACTOR)
        return result

    # ------------------------------------------------------------------- migration
    def check_migration(self, session: Session, instance: Instance, target: Definition,
                        mapping: Mapping[str, str] | None = None, keep: Iterable[str] = ()) -> MigrationCheck:
        """Can this case move to ``target``? Only to a newer version of its process (to go back, deploy the older
        content again: it becomes the newest version, see :meth:`deploy`), and every task it waits on must still
        exist there, or be mapped by ``mapping`` ({old BPMN id: new BPMN id}, never guessed) to a task of the
        same type and lane. A user task the case has *completed* whose id the target lacks is mapped the same way
        (its history rows then carry the new id, so the target's rules naming that step see them), or explicitly
        kept under its old id (``keep``); neither refuses the case (``migration.completed_unmapped``): the
        target's rules would silently not see that history. Entries of ``mapping`` and ``keep`` for tasks this
        case does not have are not used (a plan's mapping covers several cases; :meth:`mapping_problems` checks
        it as a whole)."""
        reasons: list[Problem] = []
        tasks: tuple[str, ...] = ()
        removed: tuple[RemovedTask, ...] = ()
        used: dict[str, str] = {}
        kept: list[str] = []
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
            blockers, removed = self._migration_blockers(wf, target)
            removed += self._completed_removed(session, instance, current, target, removed)
            reasons += blockers
            mapping, keep = dict(mapping or {}), set(keep)
            parsed = self.parsed(target)
            for task in removed:
                if not task.waiting and task.bpmn_id in keep and task.bpmn_id not in mapping:
                    kept.append(task.bpmn_id)
                elif not task.waiting and task.bpmn_id not in mapping:
                    reasons.append(Problem(task.bpmn_id, "migration.completed_unmapped",
                                           {"version": target.version, "task": task.name or task.bpmn_id},
                                           element_name=task.name, element_type=task.type))
                elif task.bpmn_id not in mapping:
                    reasons.append(Problem(task.bpmn_id, "migration.task_removed",
                                           {"version": target.version, "task": task.name or task.bpmn_id},
                                           element_name=task.name, element_type=task.type))
                else:
                    used[task.bpmn_id] = mapping[task.bpmn_id]
                    reasons += _mapping_entry_problems(parsed, target, task, mapping[task.bpmn_id])
        return MigrationCheck(instance.id, instance.title, not reasons, tuple(reasons), tasks, tuple(removed), used,
                              tuple(kept))

    def _completed_removed(self, session: Session, instance: Instance, current: Definition, target: Definition,
                           waiting: Iterable[RemovedTask]) -> list[RemovedTask]:
        """The user tasks of ``current`` the case has completed (its task rows) whose id the target lacks in the
        same (sub-)process, once each, in the order first completed; a task it also waits on is among
        ``waiting`` already. A row whose id ``current`` lacks too was kept by an earlier migration."""
        source, parsed = self.parsed(current), self.parsed(target)
        seen = {task.bpmn_id for task in waiting}
        found: list[RemovedTask] = []
        for bpmn_id in persistence.completed_steps(session, instance):
            if bpmn_id in seen:
                continue
            seen.add(bpmn_id)
            for name, specs in [(source.spec.name, source.spec), *source.subprocess_specs.items()]:
                spec = specs.task_specs.get(bpmn_id)
                if spec is None or not _is_human_spec(spec):
                    continue
                new = parsed.spec if name == parsed.spec.name else parsed.subprocess_specs.get(name)
                if new is None or bpmn_id not in new.task_specs:
                    found.append(RemovedTask(bpmn_id, spec.bpmn_name, spec.lane, bpmn_type(spec), name,
                                             f"{bpmn_id}.BoundaryEventSplit" in specs.task_specs, waiting=False))
                break
        return found

    def mapping_problems(self, target: Definition, mapping: Mapping[str, str],
                         removed: Iterable[RemovedTask], keep: Iterable[str] = ()) -> list[Problem]:
        """What is wrong with a migration plan's ``mapping`` for cases waiting on (or having completed) the
        ``removed`` tasks (those of their :class:`MigrationCheck`): each old id must be one of them, each new id a
        task of the target of the same type, in the same (sub-)process and lane, with boundary events (a
        deadline) if and only if the old one had them; each id ``keep`` names must be one of them too."""
        by_id = {task.bpmn_id: task for task in removed}
        parsed = self.parsed(target)
        problems: list[Problem] = [Problem(old, "migration.mapping_unknown", {"task": old, "version": target.version})
                                   for old in keep if old not in by_id]
        for old, new in mapping.items():
            task = by_id.get(old)
            if task is None:
                problems.append(Problem(old, "migration.mapping_unknown", {"task": old, "version": target.version}))
            else:
                problems += _mapping_entry_problems(parsed, target, task, new)
        return problems

    def mapping_choices(self, target: Definition, task: RemovedTask) -> list[MappingChoice]:
        """The tasks of ``target`` that ``task`` may be mapped to (those :meth:`mapping_problems` accepts), in the
        diagram's order."""
        parsed = self.parsed(target)
        specs = parsed.spec if task.process == parsed.spec.name else parsed.subprocess_specs.get(task.process)
        if specs is None:
            return []
        return [MappingChoice(spec.bpmn_id, spec.bpmn_name, bool(task.name) and spec.bpmn_name == task.name)
                for spec in specs.task_specs.values()
                if spec.bpmn_id and spec.name == spec.bpmn_id
                and not _mapping_entry_problems(parsed, target, task, spec.bpmn_id)]

    def _migration_blockers(self, wf: BpmnWorkflow, target: Definition) -> tuple[list[Problem], list[RemovedTask]]:
        """What keeps the case where it is: a task waiting on an element the target lacks (a human task may be
        mapped: those are returned apart, once each). SpiffWorkflow's guess by shape for a renamed human task is
        not taken (engine.spiff.workflow_diff)."""
        diff, sub_diffs = workflow_diff(self.codec.registry, wf, self.parsed(target))
        removed, gone = list(diff.removed), set()
        for sub_id, sub_diff in sub_diffs.items():
            if sub_diff is not None:
                removed += sub_diff.removed
            else:  # the sub-process itself is gone: what waits in it is (and cannot be mapped)
                removed += wf.subprocesses[sub_id].tasks.values()
                gone.update(wf.subprocesses[sub_id].tasks)
        reasons, human = [], {}
        for task in removed:
            spec = task.task_spec
            if isinstance(spec, BoundaryEvent):
                continue  # a deadline on a removed task: the task itself is named
            if not spec.bpmn_id or task.state not in (TaskState.READY, TaskState.WAITING, TaskState.STARTED):
                continue
            if spec.manual and task.state in (TaskState.READY, TaskState.STARTED) and task.id not in gone:
                human.setdefault(spec.bpmn_id, RemovedTask(
                    spec.bpmn_id, spec.bpmn_name, spec.lane, bpmn_type(spec), task.workflow.spec.name,
                    isinstance(getattr(task.parent, "task_spec", None), BoundaryEventSplit)))
            else:
                reasons.append(Problem(spec.bpmn_id, "migration.task_removed",
                                       {"version": target.version, "task": spec.bpmn_name or spec.bpmn_id},
                                       element_name=spec.bpmn_name, element_type=bpmn_type(spec)))
        return reasons, list(human.values())

    @_stale_to_typed
    def migrate(self, session: Session, instance_id: int, target: Definition, *, actor: str,
                mapping: Mapping[str, str] | None = None, keep: Iterable[str] = ()) -> ActionResult:
        """Move one waiting case to ``target``, all or nothing; recorded as an event. A task it waits on whose id the
        target lacks moves only by ``mapping`` (see :meth:`check_migration`): it becomes the mapped task, the same
        task (id, data, state, holder) with the new task's definition and deadline; the event records the mapping
        used, so that a replay does the same. A completed task mapped so has its history rows carry the new id and
        name (and SpiffWorkflow's task, if the state still holds it, the new task's spec); one in ``keep`` keeps
        its old id (recorded as ``kept``)."""
        persistence.lock_case(session, case_id=instance_id)
        instance = session.get(Instance, instance_id)
        if instance is None:
            raise MigrationRefused(f"no case {instance_id}",
                                   [Problem(None, "migration.no_case", {"case": instance_id})])
        check = self.check_migration(session, instance, target, mapping, keep)
        if not check.can_move:
            raise MigrationRefused(f"case {instance_id} cannot move", list(check.reasons))
        source = session.get(Definition, instance.definition_id)
        run = self._run(self.clock.now())
        wf = self._load_for_action(session, instance, run)
        try:
            changed = migrate_in_memory(self.codec, wf, self.parsed(target), check.mapping)
        except ExecutionFailed as exc:
            raise MigrationRefused(f"case {instance_id}: {exc.message}",
                                   [Problem(None, "migration.failed", {"version": target.version})]) from exc
        run.advance(wf)
        instance.definition_id = target.id
        result = ActionResult(instance)
        rows = persistence.ready_rows(session, instance)
        ready = [t for t in wf.get_tasks(state=TaskState.READY, manual=True) if t.task_spec.bpmn_id]
        parsed = self.parsed(target)
        for old_id, new_id in check.mapping.items():  # its history too: the rules of the target name the new id
            specs = [parsed.spec, *parsed.subprocess_specs.values()]
            spec = next(s.task_specs[new_id] for s in specs if new_id in s.task_specs)
            persistence.retarget_history(session, instance, old_id, new_id, spec.bpmn_name or new_id)
        for task in ready:  # a mapped task: the same row, now of the new task
            row = rows.get(str(task.id))
            if row is not None and row.bpmn_id != task.task_spec.bpmn_id:
                persistence.retarget_task(session, row, task.task_spec.bpmn_id,
                                          task.task_spec.bpmn_name or task.task_spec.bpmn_id)
        # The deadlines of the waiting tasks may change with the version; the projection updates them
        # without an event of their own, so the migration records them (replay compares against these).
        waiting = [{"task_id": str(t.id), "bpmn_id": t.task_spec.bpmn_id, "due": due_of(t),
                    "name": t.task_spec.bpmn_name or t.task_spec.bpmn_id} for t in ready]
        data = {"from_version": source.version, "to_version": target.version, "changed": changed, "ready": waiting}
        if check.mapping:
            data["mapping"] = dict(sorted(check.mapping.items()))
        if check.kept:
            data["kept"] = sorted(check.kept)
        result.events.append(eventlog.append(
            session, type="case_migrated", at=run.now, actor=actor, instance_id=instance.id, data=data))
        self._sync(session, instance, wf, run, result, actor=actor, rows=rows)
        return result

    def task_and_case(self, session: Session, task_id: str) -> tuple[TaskRow, Instance]:
        """A task and its case, locked, with what the action that follows needs, in one statement (see
        engine.persistence.task_and_case)."""
        return persistence.task_and_case(session, _task_id(task_id))

    # --------------------------------------------------------------------- helpers
    def _run(self, now: datetime) -> ActionRun:
        return ActionRun(self.functions, now)

    def _task_row(self, session: Session, task_id: str) -> TaskRow:
        row = session.get(TaskRow, _task_id(task_id))
        if row is None:
            raise NotFound(f"no task '{task_id}'", code="task.not_found", task_id=task_id)
        return row

    def _load_for_action(self, session: Session, instance: Instance, run: ActionRun) -> BpmnWorkflow:
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

    def _sync(self, session: Session, instance: Instance, wf: BpmnWorkflow, run: ActionRun, result: ActionResult,
              *, actor: str | None, completed_task_id: str | None = None,
              rows: dict[str, TaskRow] | None = None) -> None:
        """Write the projection, the events and the state of one action."""
        now = run.now
        if rows is None:
            rows = persistence.ready_rows(session, instance)

        new_rows: list[TaskRow] = []
        self._record_passed(session, instance, run, result)
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
            due = due_of(task)
            if tid in rows:
                if rows[tid].due_at != due:
                    run.put(rows[tid], due_at=due)
                continue
            lane = task.task_spec.lane
            row = TaskRow(id=tid, instance_id=instance.id, bpmn_id=task.task_spec.bpmn_id,
                          name=task.task_spec.bpmn_name or task.task_spec.bpmn_id, lane=lane,
                          group=instance.group if lane in _GROUP_LANES.get(wf.spec, ()) else None,
                          state="ready",
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
        case = {key: getattr(instance, key) for key in persistence.CASE_WRITES}
        dues = [d for d in (timer_due(t) for t in all_tasks(wf) if t.state == TaskState.WAITING) if d is not None]
        case["next_timer_at"] = min(dues) if dues else None
        if case["next_timer_at"] is not None and (instance.next_timer_at is None
                                                  or case["next_timer_at"] < instance.next_timer_at):
            wakeup.soon(session)  # a timer sooner than the case had: the worker may be sleeping past it
        if wf.is_completed():
            ends = [t.task_spec.bpmn_id for t in run.finished_ends]
            case.update(status="completed", completed_at=now, end_event=ends[-1] if ends else None,
                        next_timer_at=None)
            result.events.append(eventlog.append(
                session, type="case_completed", at=now, actor=SYSTEM_ACTOR, instance_id=instance.id,
                data={"end_event": case["end_event"]}))
        result.pruned = prune(wf)
        case.update(state=self.codec.dumps(wf), serializer_version=self.codec.version, updated_at=now)
        persistence.save_action(session, instance, case, run.changed.values(), new_rows)
        if case["status"] == "running":
            self.warm.put(instance.id, case["state"], case["serializer_version"], wf)
        result.ready.extend(new_rows)


    def _record_finished(self, session: Session, instance: Instance, run: ActionRun, result: ActionResult,
                         rows: dict[str, TaskRow]) -> None:
        """Events for what the engine ran by itself: untyped and manual tasks it went through, timers that fired
        (the overdue of the task they are attached to) and signals thrown. Consumes ``run.finished``."""
        self._record_passed(session, instance, run, result)
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
        run.finished_ends.extend(process_ends(run.finished))
        run.finished.clear()

    @staticmethod
    def _record_passed(session: Session, instance: Instance, run: ActionRun, result: ActionResult) -> None:
        """An event for each untyped or manual task the engine went through: no inbox task, done when reached, and
        the history says so (before the tasks made ready after it). Takes them out of ``run.finished``."""
        for task in run.finished:
            spec = task.task_spec
            if passes_by_itself(spec):
                result.events.append(eventlog.append(
                    session, type="task_passed", at=run.now, actor=SYSTEM_ACTOR, instance_id=instance.id,
                    data={"bpmn_id": spec.bpmn_id, "name": spec.bpmn_name or spec.bpmn_id, "lane": spec.lane,
                          "kind": bpmn_type(spec)}))
        run.finished[:] = [t for t in run.finished if not passes_by_itself(t.task_spec)]

    @staticmethod
    def _record_timer_errors(session: Session, instance: Instance, wf: BpmnWorkflow, run: ActionRun,
                             result: ActionResult, rows: dict[str, TaskRow]) -> None:
        """A timer whose value could not be computed on this case's data (engine.state.TimerNotSet) does not stop the
        case: its task goes on without that deadline, and the failure is recorded once, as ``timer_failed`` with the
        element, the expression and the code of what went wrong, for the process owner to fix the diagram."""
        for task in all_tasks(wf):
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

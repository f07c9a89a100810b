"""A case's past, from its history of record.

Two views, both read-only:

* :func:`states` folds the recorded events of a case, without the engine: after each event, which
  user tasks were waiting, done or late, who held them, the data as it was and whether each deadline
  was met. Cheap enough to step through a case in a browser.
* :func:`replay` re-executes the case: the recorded inputs (the initial data, each completed task's
  submitted data, migrations to another version with their explicit mapping of renamed tasks) run again on the
  recorded definition version, with the clock set to each event's time, so timers fire when the clock passes
  them exactly as they did.
  After each action what the engine does (user tasks made ready with their deadlines, tasks
  cancelled, timers fired, overdue marks, the end reached) is compared with what was recorded.

Events are grouped into *actions*, one per engine call: an input event (``case_started``,
``task_completed``, ``case_migrated``) with the engine's events of the same moment that follow it,
or, without an input, the engine's events of one moment (a deadline sweep, or the timers that fired
just before a late completion). A ``case_cancelled`` is an input too: the tasks it waited on are cancelled
(``task_cancelled`` of the same moment) and nothing of the case runs after it. Between actions the
workflow goes through the same save → prune → load cycle as a live case.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import ThrowingEvent
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import eventlog
from .errors import EngineError, NotFound
from .models import Definition, EventRow, Instance, TaskRow
from .runtime import WorkflowEngine
from .spiff import (
    ActionRun,
    attached_user_task,
    due_of,
    find_task,
    migrate_in_memory,
    new_workflow,
    passes_by_itself,
    process_ends,
    run_user_task,
)
from .state import prune

#: Events that feed the engine an input.
INPUT_EVENTS = frozenset({"case_started", "task_completed", "case_migrated", "case_cancelled"})
#: Events the engine writes about what it did by itself during an action.
ENGINE_EVENTS = frozenset({"task_ready", "task_cancelled", "timer_fired", "overdue", "signal_thrown",
                           "task_passed", "case_completed", "execution_failed"})


def _iso(value: datetime | str | None) -> str | None:
    """One spelling of an instant (UTC ISO), whether it comes from an event payload or the engine."""
    aware = _aware(value)
    if aware is None:
        return value if isinstance(value, str) else None
    return aware.astimezone(UTC).isoformat()


def _aware(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# ------------------------------------------------------------------------------------------------
# Re-execution
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplayStep:
    """One action of the case: what was recorded, what the engine did again, and whether they agree."""

    seq: int  # the event that starts the action
    #: case_started | task_completed | case_migrated | case_cancelled | timer (engine events without an input) |
    #: projection
    type: str
    at: datetime
    expected: dict[str, Any]
    actual: dict[str, Any]
    match: bool
    note: str = ""  # for logs and the command line, in English
    bpmn_id: str | None = None
    #: The note as a message for people (process/messages.py): ``{"code", "params"}``, or None.
    note_message: dict[str, Any] | None = None

    @property
    def differences(self) -> list[str]:
        """The keys whose recorded and re-executed values differ."""
        keys = sorted(set(self.expected) | set(self.actual))
        return [k for k in keys if self.expected.get(k) != self.actual.get(k)]


@dataclass
class ReplayResult:
    instance_id: int
    steps: list[ReplayStep] = field(default_factory=list)
    error: str | None = None  # why the replay stopped before the end of the history (English)
    #: ``error`` as a message for people (``{"code", "params"}``), or None.
    error_message: dict[str, Any] | None = None

    @property
    def matches(self) -> bool:
        return self.error is None and all(s.match for s in self.steps)

    @property
    def first_mismatch(self) -> ReplayStep | None:
        return next((s for s in self.steps if not s.match), None)


@dataclass
class _Action:
    type: str
    anchor: EventRow
    payload: dict
    outputs: list[tuple[EventRow, dict]] = field(default_factory=list)

    @property
    def at(self) -> datetime:
        return self.anchor.at


def _actions(events: Iterable[EventRow]) -> list[_Action]:
    actions: list[_Action] = []
    current: _Action | None = None
    for row in events:
        if row.type in INPUT_EVENTS:
            current = _Action(row.type, row, eventlog.decode(row))
            actions.append(current)
        elif row.type in ENGINE_EVENTS:
            if current is None or row.at != current.at:
                current = _Action("timer", row, {})
                actions.append(current)
            current.outputs.append((row, eventlog.decode(row)))
        # Claims, delegations, reassignments, returns, comments and notifications do not move the engine.
    return actions


class _Recorded:
    """The projection as the events describe it: ready tasks with their deadlines, overdue marks."""

    def __init__(self):
        self.ready: dict[str, tuple[str, str | None]] = {}  # recorded task id → (bpmn id, due)

    def ready_list(self) -> list[str]:
        return sorted(f"{b}@{d}" if d else b for b, d in self.ready.values())


def _observation(ready: list[str], cancelled: list[str], timers: list[str], overdue: list[str],
                 signals: list[str], end: str | None, error: bool, passed: list[str] = ()) -> dict[str, Any]:
    obs: dict[str, Any] = {"ready": ready, "cancelled": sorted(cancelled), "timers": sorted(timers),
                           "overdue": sorted(overdue), "signals": sorted(signals), "end": end}
    if passed:  # untyped and manual tasks the action went through (absent when none, as before they ran)
        obs["passed"] = sorted(passed)
    if error:
        obs["error"] = True
    return obs


def _ready_tasks(wf) -> list:
    return [t for t in wf.get_tasks(state=TaskState.READY, manual=True) if t.task_spec.bpmn_id]


def _ready_list(tasks) -> list[str]:
    out = []
    for t in tasks:
        due = _iso(due_of(t))
        out.append(f"{t.task_spec.bpmn_id}@{due}" if due else t.task_spec.bpmn_id)
    return sorted(out)


def _definition_of(session: Session, process_key: str, version: int) -> Definition:
    definition = session.execute(select(Definition).where(Definition.process_key == process_key,
                                                          Definition.version == version)).scalar_one_or_none()
    if definition is None:
        raise NotFound(f"version {version} of '{process_key}' is not stored", code="definition.version_missing",
                       version=version, process=process_key)
    return definition


def _deployed_sha(session: Session, process_key: str, version: int) -> str | None:
    """The content hash the (hash-chained) ``definition_deployed`` event recorded for a version."""
    for row in session.execute(select(EventRow).where(EventRow.type == "definition_deployed",
                                                      EventRow.instance_id.is_(None))
                               .order_by(EventRow.seq)).scalars():
        data = eventlog.decode(row)
        if data.get("process_key") == process_key and data.get("version") == version:
            return data.get("sha256")
    return None


class _Replayer:
    def __init__(self, session: Session, engine: WorkflowEngine, instance: Instance):
        self.session = session
        self.engine = engine
        self.instance = instance
        self.result = ReplayResult(instance.id)
        self.recorded = _Recorded()
        self.process_key: str | None = None
        self.definition: Definition | None = None
        self.parsed = None
        self.state: str | None = None  # the workflow saved between actions, like a live case
        self.task_map: dict[str, UUID] = {}  # recorded task id → re-executed task id
        self.overdue_ids: set[UUID] = set()
        self.finished_case = False
        self.failed = False
        self.cancelled = False  # the case was cancelled: nothing of it runs any more
        self.end_event: str | None = None

    # ------------------------------------------------------------------ running
    def run(self, actions: list[_Action]) -> ReplayResult:
        for action in actions:
            try:
                step = self._step(action)
            except _Stop as stop:
                self.result.steps.append(stop.step)
                self.result.error, self.result.error_message = stop.step.note, stop.step.note_message
                return self.result
            self.result.steps.append(step)
        if self.result.steps:
            self.result.steps.append(self._projection_step(actions[-1]))
        return self.result

    def _load(self, run: ActionRun):
        codec = self.engine.codec
        return codec.loads(self.state, codec.version, self.parsed.spec, self.parsed.subprocess_specs,
                           run.script_engine)

    def _save(self, wf) -> None:
        wf.get_events()  # thrown events are recorded as they happen, not kept in the state
        prune(wf)
        self.state = self.engine.codec.dumps(wf)

    def _use_version(self, version: int) -> None:
        self.definition = _definition_of(self.session, self.process_key, version)
        self.parsed = self.engine.parsed(self.definition)

    def _step(self, action: _Action) -> ReplayStep:
        at = action.at
        run = ActionRun(self.engine.functions, at)
        before: dict[UUID, Any] = {}
        completed_uid: UUID | None = None
        expected_extra: dict[str, Any] = {}
        actual_extra: dict[str, Any] = {}
        bpmn_id = None
        note, note_message = "", None
        wf = None
        error = False
        try:
            if action.type == "case_started":
                if self.state is not None:
                    raise _Stop.at(action, "a second case_started event in one case", code="replay.second_start")
                self.process_key = action.payload.get("process_key")
                version = action.payload.get("version")
                self._use_version(version)
                expected_extra["definition"] = _deployed_sha(self.session, self.process_key, version)
                actual_extra["definition"] = hashlib.sha256(self.definition.xml.encode("utf-8")).hexdigest()
                expected_extra["version"] = actual_extra["version"] = version
                wf = new_workflow(self.parsed, run, action.payload.get("data") or {})
            else:
                self._check_goes_on(action)
                wf = self._load(run)
                before = {t.id: t for t in _ready_tasks(wf)}
                if action.type == "task_completed":
                    bpmn_id = action.payload.get("bpmn_id")
                    run.advance(wf)  # deadlines that passed before the completion fire first, as live
                    task = self._task_for(wf, action)
                    completed_uid = task.id
                    due = due_of(task)
                    expected_extra["late"] = bool(action.payload.get("late"))
                    actual_extra["late"] = bool(due and at > due)
                    run_user_task(task, action.payload.get("data") or {})
                    run.advance(wf)
                elif action.type == "case_migrated":
                    target = action.payload.get("to_version")
                    self._use_version(target)
                    migrate_in_memory(self.engine.codec, wf, self.parsed, action.payload.get("mapping"))
                    run.advance(wf)
                    note = f"migrated: replay continues on version {target}"
                    note_message = _message("replay.migrated", version=target)
                elif action.type == "case_cancelled":
                    note = "cancelled: the tasks it waited on end, nothing of the case runs any more"
                    note_message = _message("replay.cancelled")
                else:
                    run.advance(wf)
        except _Stop:
            raise
        except EngineError as exc:
            if not any(r.type == "execution_failed" for r, _ in action.outputs):
                raise _Stop.at(action, f"the engine could not re-execute this step: {exc.message}",
                               bpmn_id=bpmn_id, code="replay.engine_refused",
                               problem=_message(exc.code, **exc.params)) from None
            error = True
            note, note_message = exc.message, _message("replay.failed_as_recorded",
                                                       problem=_message(exc.code, **exc.params))

        actual = self._actual(wf, run, before, completed_uid, error)
        if action.type == "case_cancelled" and not error:
            # Cancelling runs nothing: every task the case waited on ends, as it stood.
            actual["ready"] = []
            actual["cancelled"] = sorted(t.task_spec.bpmn_id for t in before.values())
            self.cancelled = True
        expected = self._expected(action, error)
        if action.type == "case_migrated" and "ready" not in action.payload:
            # Recorded before migrations listed the new deadlines: compare the waiting tasks only.
            expected["ready"] = sorted(x.split("@")[0] for x in expected["ready"])
            actual["ready"] = sorted(x.split("@")[0] for x in actual["ready"])
        expected.update(expected_extra)
        actual.update(actual_extra)
        if wf is not None and not error:
            self._map_new_tasks(action, wf, before)
            self._save(wf)
        match = expected == actual
        if error:
            self.state, self.failed = None, True
        return ReplayStep(action.anchor.seq, action.type, at, expected, actual, match, note, bpmn_id, note_message)

    def _check_goes_on(self, action: _Action) -> None:
        """An action after the start needs a case still running in the replay."""
        if self.failed:
            raise _Stop.at(action, "the case had stopped with an error before this event", code="replay.after_error")
        if self.state is None:
            raise _Stop.at(action, "the history has no case_started event before this one", code="replay.no_start")
        if self.cancelled:
            raise _Stop.at(action, "the case had been cancelled before this event", code="replay.after_cancel")

    def _task_for(self, wf, action: _Action):
        recorded_id = action.anchor.task_id
        bpmn_id = action.payload.get("bpmn_id")
        uid = self.task_map.get(recorded_id or "")
        task = find_task(wf, uid) if uid is not None else None
        if task is None or task.state != TaskState.READY or task.task_spec.bpmn_id != bpmn_id:
            candidates = [t for t in _ready_tasks(wf) if t.task_spec.bpmn_id == bpmn_id]
            task = candidates[0] if candidates else None
        if task is None:
            waiting = ", ".join(sorted(t.task_spec.bpmn_id for t in _ready_tasks(wf))) or "nothing"
            raise _Stop.at(action, f"'{bpmn_id}' is not waiting in the re-executed case (it waits on {waiting})",
                           bpmn_id=bpmn_id, actual={"ready": _ready_list(_ready_tasks(wf))},
                           code="replay.not_waiting", task=bpmn_id,
                           waiting=sorted(t.task_spec.bpmn_id for t in _ready_tasks(wf)))
        return task

    def _actual(self, wf, run: ActionRun, before: dict, completed_uid, error: bool) -> dict[str, Any]:
        if wf is None:
            return _observation([], [], [], [], [], None, error)
        ready = _ready_tasks(wf)
        ready_ids = {t.id for t in ready}
        cancelled = [t.task_spec.bpmn_id for uid, t in before.items() if uid not in ready_ids and uid != completed_uid]
        timers, overdue, signals, passed = [], [], [], []
        for task in run.finished:
            definition = getattr(task.task_spec, "event_definition", None)
            if isinstance(definition, TimerEventDefinition):
                timers.append(task.task_spec.bpmn_id)
                attached = attached_user_task(task)
                if attached is not None and attached.id not in self.overdue_ids:
                    self.overdue_ids.add(attached.id)
                    overdue.append(attached.task_spec.bpmn_id)
            elif isinstance(task.task_spec, ThrowingEvent) and isinstance(definition, SignalEventDefinition):
                signals.append(task.task_spec.bpmn_id)
            elif passes_by_itself(task.task_spec):
                passed.append(task.task_spec.bpmn_id)
        ends = [t.task_spec.bpmn_id for t in process_ends(run.finished)]
        end = None
        if not error and wf.is_completed() and not self.finished_case:
            self.finished_case = True
            end = ends[-1] if ends else None
            self.end_event = end
        return _observation(_ready_list(ready), cancelled, timers, overdue, signals, end, error, passed)

    def _expected(self, action: _Action, error: bool) -> dict[str, Any]:
        rec = self.recorded
        if action.type == "task_completed":
            rec.ready.pop(action.anchor.task_id or "", None)
        if action.type == "case_migrated" and "ready" in action.payload:
            for item in action.payload.get("ready") or []:
                if item.get("task_id") in rec.ready:
                    rec.ready[item["task_id"]] = (item.get("bpmn_id"), _iso(item.get("due")))
        cancelled, timers, overdue, signals, passed = [], [], [], [], []
        end = None
        failed = False
        for row, data in action.outputs:
            if row.type == "task_ready":
                rec.ready[row.task_id or ""] = (data.get("bpmn_id"), _iso(data.get("due")))
            elif row.type == "task_cancelled":
                rec.ready.pop(row.task_id or "", None)
                cancelled.append(data.get("bpmn_id"))
            elif row.type == "timer_fired":
                timers.append(data.get("element"))
            elif row.type == "overdue":
                overdue.append(data.get("bpmn_id"))
            elif row.type == "signal_thrown":
                signals.append(data.get("element"))
            elif row.type == "task_passed":
                passed.append(data.get("bpmn_id"))
            elif row.type == "case_completed":
                end = data.get("end_event")
            elif row.type == "execution_failed":
                failed = True
        return _observation(rec.ready_list(), cancelled, timers, overdue, signals, end, failed, passed)

    def _map_new_tasks(self, action: _Action, wf, before: dict) -> None:
        """Pair the tasks the replay made ready with the recorded ones, by BPMN id in order."""
        new = [t for t in _ready_tasks(wf) if t.id not in before]
        for row, data in action.outputs:
            if row.type != "task_ready":
                continue
            match = next((t for t in new if t.task_spec.bpmn_id == data.get("bpmn_id")), None)
            if match is not None:
                new.remove(match)
                self.task_map[row.task_id] = match.id

    def _projection_step(self, last: _Action) -> ReplayStep:
        """The stored case (status, end, waiting tasks and deadlines) agrees with the re-executed one."""
        rows = self.session.execute(select(TaskRow).where(TaskRow.instance_id == self.instance.id,
                                                          TaskRow.state == "ready")).scalars().all()
        expected = {"status": self.instance.status, "end": self.instance.end_event,
                    "ready": sorted(f"{r.bpmn_id}@{_iso(r.due_at)}" if r.due_at else r.bpmn_id for r in rows)}
        actual: dict[str, Any] = {"status": "error", "end": None, "ready": []}
        if self.state is not None and self.cancelled:
            actual = {"status": "cancelled", "end": None, "ready": []}
        elif self.state is not None:
            run = ActionRun(self.engine.functions, last.at)
            wf = self._load(run)
            actual = {"status": "completed" if wf.is_completed() else "running",
                      "end": self.end_event if wf.is_completed() else None,
                      "ready": _ready_list(_ready_tasks(wf))}
        elif self.instance.status == "error":
            actual["end"] = self.instance.end_event
        agrees = expected == actual
        return ReplayStep(last.anchor.seq, "projection", last.at, expected, actual, agrees,
                          "the stored case agrees with its history" if agrees else
                          "the stored case differs from what its history re-executes to", None,
                          _message("replay.projection_agrees" if agrees else "replay.projection_differs"))


class _Stop(Exception):
    def __init__(self, step: ReplayStep):
        super().__init__(step.note)
        self.step = step

    @classmethod
    def at(cls, action: _Action, note: str, bpmn_id: str | None = None, actual: dict | None = None, *,
           code: str, **params: Any) -> _Stop:
        """The replay stops at ``action``: ``note`` for logs, ``code`` and ``params`` for people."""
        return cls(ReplayStep(action.anchor.seq, action.type, action.at, {"input": "applied"},
                              {"input": "refused", **(actual or {})}, False, note,
                              bpmn_id or action.payload.get("bpmn_id"), _message(code, **params)))


def _message(code: str, **params: Any) -> dict[str, Any]:
    """A note for people as a code and its params (rendered in their language by process/messages.py)."""
    return {"code": code, "params": params}


def replay(session: Session, engine: WorkflowEngine, instance_id: int) -> ReplayResult:
    """Re-execute a case from its recorded inputs and compare every action with what was recorded.

    Nothing is written: the workflow lives in memory only. The result names the first action whose
    re-execution differs (``first_mismatch``); ``error`` says why the replay stopped early, if it did.
    """
    instance = session.get(Instance, instance_id)
    if instance is None:
        raise NotFound(f"no case {instance_id}", code="case.not_found", case=instance_id)
    actions = _actions(eventlog.events_of(session, instance_id))
    if not actions or actions[0].type != "case_started":
        result = ReplayResult(instance_id, error="the history of this case has no case_started event",
                              error_message=_message("replay.no_history"))
        return result
    return _Replayer(session, engine, instance).run(actions)


# ------------------------------------------------------------------------------------------------
# States from the events alone
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskAtStep:
    """One user task as it stood at a step."""

    task_id: str
    bpmn_id: str
    name: str
    lane: str | None
    state: str  # ready | completed | cancelled
    created_at: datetime
    due: datetime | None
    holder: str | None = None
    overdue_at: datetime | None = None  # the deadline timer fired
    completed_at: datetime | None = None
    completed_by: str | None = None

    def late_at(self, now: datetime) -> bool:
        """Its deadline was missed (by ``now`` for a waiting task)."""
        if self.overdue_at is not None:
            return True
        if self.due is None:
            return False
        if self.state == "completed":
            return self.completed_at is not None and self.completed_at > self.due
        return self.state == "ready" and now > self.due

    def deadline_met(self) -> bool | None:
        """For a finished task: was it done by its deadline? None while it waits or without a deadline."""
        if self.state != "completed" or self.due is None:
            return None
        return not self.late_at(self.completed_at or self.due)


@dataclass
class StepState:
    """The case right after one of its events."""

    n: int  # 1-based position among the case's events
    seq: int
    type: str
    at: datetime
    actor: str | None
    task_id: str | None
    payload: dict
    process_key: str | None
    version: int | None
    status: str  # running | completed | cancelled | error
    end_event: str | None
    tasks: list[TaskAtStep]
    data: dict[str, Any]
    path: list[str]  # BPMN ids of the user tasks completed so far, in order (rounds repeat)

    def _latest(self) -> dict[str, TaskAtStep]:
        latest: dict[str, TaskAtStep] = {}
        for task in self.tasks:  # in creation order: the last one of an element is its current round
            latest[task.bpmn_id] = task
        return latest

    @property
    def active(self) -> list[str]:
        return sorted({t.bpmn_id for t in self.tasks if t.state == "ready"})

    @property
    def completed(self) -> list[str]:
        """Elements whose latest round is done (an element waiting again is active, not done)."""
        return sorted(b for b, t in self._latest().items() if t.state == "completed")

    @property
    def overdue(self) -> list[str]:
        """Elements whose latest round missed (or, waiting, has passed) its deadline at this moment."""
        return sorted(b for b, t in self._latest().items() if t.state != "cancelled" and t.late_at(self.at))

    @property
    def holders(self) -> dict[str, str | None]:
        return {t.task_id: t.holder for t in self.tasks if t.state == "ready"}


class _Fold:
    """What a case's events say so far, one event at a time (:func:`states`). Task snapshots are immutable and
    replaced when they change, so each step shares the unchanged ones."""

    def __init__(self):
        self.tasks: dict[str, TaskAtStep] = {}
        self.data: dict[str, Any] = {}
        self.path: list[str] = []
        self.process_key: str | None = None
        self.version: int | None = None
        self.status, self.end_event = "running", None

    def apply(self, row: EventRow, payload: dict) -> None:
        fold = _FOLDS.get(row.type)
        if fold is not None:
            fold(self, row, payload)

    def step(self, n: int, row: EventRow, payload: dict) -> StepState:
        return StepState(n=n, seq=row.seq, type=row.type, at=row.at, actor=row.actor, task_id=row.task_id,
                         payload=payload, process_key=self.process_key, version=self.version, status=self.status,
                         end_event=self.end_event, tasks=list(self.tasks.values()), data=self.data, path=self.path)

    def _change_task(self, row: EventRow, **values) -> None:
        """The event's task takes new values (an event about a task the history never made ready changes nothing)."""
        key = row.task_id or ""
        task = self.tasks.get(key)
        if task is not None:
            self.tasks[key] = replace(task, **values)

    def case_started(self, row: EventRow, payload: dict) -> None:
        self.process_key = payload.get("process_key")
        self.version = payload.get("version")
        self.data = {**self.data, **(payload.get("data") or {})}

    def case_migrated(self, row: EventRow, payload: dict) -> None:
        self.version = payload.get("to_version", self.version)
        for item in payload.get("ready") or []:
            if item.get("task_id") in self.tasks:
                task = self.tasks[item["task_id"]]
                self.tasks[item["task_id"]] = replace(  # a task the migration's mapping moved has a new id, name
                    task, due=_aware(item.get("due")), bpmn_id=item.get("bpmn_id") or task.bpmn_id,
                    name=item.get("name") or task.name)
        mapping = payload.get("mapping") or {}
        names = {item.get("bpmn_id"): item.get("name") for item in payload.get("ready") or []}
        for key, task in list(self.tasks.items()):  # the history of a mapped step carries the new id from now on
            if task.state != "ready" and task.bpmn_id in mapping:
                new = mapping[task.bpmn_id]
                self.tasks[key] = replace(task, bpmn_id=new, name=names.get(new) or task.name)
        if mapping:
            self.path = [mapping.get(b, b) for b in self.path]

    def task_ready(self, row: EventRow, payload: dict) -> None:
        key = row.task_id or ""
        self.tasks[key] = TaskAtStep(key, payload.get("bpmn_id"), payload.get("name") or "", payload.get("lane"),
                                     "ready", row.at, _aware(payload.get("due")))

    def task_claimed(self, row: EventRow, payload: dict) -> None:
        self._change_task(row, holder=row.actor)

    def task_unclaimed(self, row: EventRow, payload: dict) -> None:
        self._change_task(row, holder=None)

    def task_delegated(self, row: EventRow, payload: dict) -> None:
        self._change_task(row, holder=payload.get("to"))

    def task_reassigned(self, row: EventRow, payload: dict) -> None:
        self._change_task(row, holder=payload.get("to"))

    def overdue(self, row: EventRow, payload: dict) -> None:
        task = self.tasks.get(row.task_id or "")
        if task is not None:
            self._change_task(row, overdue_at=task.overdue_at or row.at)

    def task_completed(self, row: EventRow, payload: dict) -> None:
        self.data = {**self.data, **(payload.get("data") or {})}
        self._change_task(row, state="completed", completed_at=row.at, completed_by=row.actor)
        if payload.get("bpmn_id"):
            self.path = [*self.path, payload["bpmn_id"]]

    def task_cancelled(self, row: EventRow, payload: dict) -> None:
        self._change_task(row, state="cancelled", completed_at=row.at)

    def case_completed(self, row: EventRow, payload: dict) -> None:
        self.status, self.end_event = "completed", payload.get("end_event")

    def execution_failed(self, row: EventRow, payload: dict) -> None:
        self.status = "error"

    def case_cancelled(self, row: EventRow, payload: dict) -> None:
        self.status = "cancelled"


#: The events that change what :func:`states` shows, and how.
_FOLDS = {name: getattr(_Fold, name) for name in (
    "case_started", "case_migrated", "task_ready", "task_claimed", "task_unclaimed", "task_delegated",
    "task_reassigned", "overdue", "task_completed", "task_cancelled", "case_completed", "execution_failed",
    "case_cancelled")}


def states(session: Session, instance_id: int) -> list[StepState]:
    """The case after each of its events, folded from the event log alone (no engine, no writes)."""
    if session.get(Instance, instance_id) is None:
        raise NotFound(f"no case {instance_id}", code="case.not_found", case=instance_id)
    fold = _Fold()
    out: list[StepState] = []
    for n, row in enumerate(eventlog.events_of(session, instance_id), 1):
        payload = eventlog.decode(row)
        fold.apply(row, payload)
        out.append(fold.step(n, row, payload))
    return out


def definition_xml(session: Session, process_key: str, version: int) -> str:
    """The diagram of a recorded version (what the replay page draws)."""
    return _definition_of(session, process_key, version).xml

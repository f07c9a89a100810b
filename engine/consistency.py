"""Does the stored state of each case agree with its task projection and its events?

Every action writes the workflow state, the ``task`` rows and the events in one transaction, so they can
only disagree through a bug or a half-written case. :func:`check_projection` loads each case through the
engine and compares (read-only):

* the user tasks READY in the workflow with the ``task`` rows in state ``ready`` (ids, BPMN ids,
  deadlines), the case's ``next_timer_at`` with its earliest waiting timer, and its status with whether
  the workflow has finished;
* each task row with the events about it: exactly one ``task_ready``; one ``task_completed`` (by the
  recorded actor) when completed, one ``task_cancelled`` when cancelled, neither while ready; an
  ``overdue`` mark exactly when an ``overdue`` event exists; each boundary timer fired at most once;
* the case with its own events: exactly one ``case_started``, one ``case_completed`` exactly when it is
  completed.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import eventlog
from .models import EventRow, Instance, TaskRow
from .runtime import WorkflowEngine
from .spiff import due_of, timer_due

_EVENT_TYPES = ("case_started", "case_completed", "task_ready", "task_completed", "task_cancelled",
                "timer_fired", "overdue")


@dataclass(frozen=True)
class Problem:
    instance_id: int
    task_id: str | None
    message: str

    def __str__(self) -> str:
        where = f"case {self.instance_id}" + (f", task {self.task_id}" if self.task_id else "")
        return f"{where}: {self.message}"


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _chunks(ids: list[int], size: int = 500) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def check_projection(session: Session, engine: WorkflowEngine,
                     instance_ids: Iterable[int] | None = None) -> list[Problem]:
    """Every disagreement found among the given cases (all cases by default); empty when consistent."""
    if instance_ids is None:
        ids = list(session.execute(select(Instance.id).order_by(Instance.id)).scalars())
    else:
        ids = sorted(set(instance_ids))
    problems: list[Problem] = []
    for chunk in _chunks(ids):
        instances = {i.id: i for i in session.execute(select(Instance).where(Instance.id.in_(chunk))).scalars()}
        rows: dict[int, list[TaskRow]] = defaultdict(list)
        for row in session.execute(select(TaskRow).where(TaskRow.instance_id.in_(chunk))).scalars():
            rows[row.instance_id].append(row)
        events: dict[int, list[EventRow]] = defaultdict(list)
        for event in session.execute(select(EventRow).where(EventRow.instance_id.in_(chunk),
                                                            EventRow.type.in_(_EVENT_TYPES))
                                     .order_by(EventRow.seq)).scalars():
            events[event.instance_id].append(event)
        for instance_id in chunk:
            instance = instances.get(instance_id)
            if instance is None:
                problems.append(Problem(instance_id, None, "no such case"))
                continue
            problems += _check_state(session, engine, instance, rows[instance_id])
            problems += _check_events(instance, rows[instance_id], events[instance_id])
    return problems


def _check_state(session: Session, engine: WorkflowEngine, instance: Instance,
                 rows: list[TaskRow]) -> list[Problem]:
    problems: list[Problem] = []

    def problem(message: str, task_id: str | None = None) -> None:
        problems.append(Problem(instance.id, task_id, message))

    ready_rows = {r.id: r for r in rows if r.state == "ready"}
    for r in rows:
        if r.state not in ("ready", "completed", "cancelled"):
            problem(f"task row in unknown state {r.state!r}", r.id)
    if instance.status == "error":
        return problems  # a case the engine gave up on is not loaded again
    wf = engine.load(session, instance)
    ready = {str(t.id): t for t in wf.get_tasks(state=TaskState.READY, manual=True) if t.task_spec.bpmn_id}
    for tid in sorted(ready.keys() - ready_rows.keys()):
        problem(f"'{ready[tid].task_spec.bpmn_id}' is ready in the workflow but has no ready task row", tid)
    for tid in sorted(ready_rows.keys() - ready.keys()):
        problem(f"task row '{ready_rows[tid].bpmn_id}' is ready but the workflow does not wait on it", tid)
    for tid in sorted(ready.keys() & ready_rows.keys()):
        task, row = ready[tid], ready_rows[tid]
        if task.task_spec.bpmn_id != row.bpmn_id:
            problem(f"task row says '{row.bpmn_id}', the workflow '{task.task_spec.bpmn_id}'", tid)
        if _utc(due_of(task)) != _utc(row.due_at):
            problem(f"deadline of '{row.bpmn_id}': row {row.due_at}, workflow {due_of(task)}", tid)
    dues = [d for d in (timer_due(t) for t in wf.get_tasks(state=TaskState.WAITING)) if d is not None]
    expected_next = None if wf.is_completed() else (min(dues) if dues else None)
    if _utc(expected_next) != _utc(instance.next_timer_at):
        problem(f"next_timer_at is {instance.next_timer_at}, the earliest waiting timer {expected_next}")
    if wf.is_completed() != (instance.status == "completed"):
        problem(f"status is {instance.status!r} but the workflow is "
                f"{'finished' if wf.is_completed() else 'not finished'}")
    return problems


def _check_events(instance: Instance, rows: list[TaskRow], events: list[EventRow]) -> list[Problem]:
    problems: list[Problem] = []

    def problem(message: str, task_id: str | None = None) -> None:
        problems.append(Problem(instance.id, task_id, message))

    by_type: dict[str, list[EventRow]] = defaultdict(list)
    per_task: dict[tuple[str, str | None], list[EventRow]] = defaultdict(list)
    for e in events:
        by_type[e.type].append(e)
        per_task[(e.type, e.task_id)].append(e)
    if len(by_type["case_started"]) != 1:
        problem(f"{len(by_type['case_started'])} case_started events")
    finished = len(by_type["case_completed"])
    if finished != (1 if instance.status == "completed" else 0):
        problem(f"{finished} case_completed events for a {instance.status} case")
    for row in rows:
        readies = len(per_task[("task_ready", row.id)])
        completions = per_task[("task_completed", row.id)]
        cancels = len(per_task[("task_cancelled", row.id)])
        overdues = len(per_task[("overdue", row.id)])
        if readies != 1:
            problem(f"{readies} task_ready events", row.id)
        want_completed, want_cancelled = int(row.state == "completed"), int(row.state == "cancelled")
        if len(completions) != want_completed:
            problem(f"{len(completions)} task_completed events for a {row.state} task", row.id)
        elif completions and completions[0].actor != row.completed_by:
            problem(f"completed by {row.completed_by!r}, the event says {completions[0].actor!r}", row.id)
        if cancels != want_cancelled:
            problem(f"{cancels} task_cancelled events for a {row.state} task", row.id)
        if overdues != (1 if row.overdue_at is not None else 0):
            problem(f"{overdues} overdue events, overdue_at {row.overdue_at}", row.id)
    # A deadline timer (attached to a task) fires once; other timers may run again on a loop.
    fired = Counter((e.task_id, eventlog.decode(e).get("element")) for e in by_type["timer_fired"] if e.task_id)
    for (task_id, element), count in sorted(fired.items(), key=lambda kv: (str(kv[0][0]), str(kv[0][1]))):
        if count > 1:
            problem(f"timer {element} fired {count} times", task_id)
    return problems

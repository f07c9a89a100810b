"""SpiffWorkflow, as the engine drives it: one action's run of a workflow (with the action's fixed clock), the
steps every action takes (start a workflow, complete a user task, move a case to another version) and what the
engine reads of a workflow's tasks (deadlines, timers, the user task a timer belongs to).

Nothing here touches the database: :mod:`engine.runtime` loads and saves, :mod:`engine.replay` runs the same steps on
a case's recorded history.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.defaults import BoundaryEvent, EndEvent, UserTask
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff, migrate_workflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.orm.attributes import set_committed_value

from .definitions import ParsedDefinition
from .errors import ExecutionFailed
from .expressions import FunctionRegistry, SafeScriptEnvironment
from .models import TaskRow
from .state import PASSING_TASKS, ClockedScriptEngine, StateCodec, stored_form


class FixedClock:
    """The clock of one action: every timer the action sets or fires reads the same instant."""

    def __init__(self, now: datetime):
        self._now = now

    def now(self) -> datetime:
        return self._now


class ActionRun:
    """One action's view of a workflow: the fixed clock and what the engine did meanwhile."""

    def __init__(self, functions: FunctionRegistry, now: datetime):
        self.now = now
        self.script_engine = ClockedScriptEngine(SafeScriptEnvironment(functions), FixedClock(now))
        self.finished: list = []
        self.finished_ends: list = []
        #: Task rows this action changed (written together with the case: engine.persistence.save_action).
        self.changed: dict[str, TaskRow] = {}

    def put(self, row: TaskRow, **values) -> None:
        """Give a task row new values, to be written with the case (see engine.persistence.save_action)."""
        for key, value in values.items():
            set_committed_value(row, key, value)
        self.changed[row.id] = row

    def advance(self, wf: BpmnWorkflow) -> None:
        """Run engine steps and due timers until only human tasks and future timers are left."""
        try:
            while True:
                # Runs what is ready, then refreshes the timers: one that came due is ready for the next round.
                wf.do_engine_steps(did_complete_task=self.finished.append)
                if not any(t.state == TaskState.READY and not t.task_spec.manual for t in all_tasks(wf)):
                    break
        except SpiffWorkflowException as exc:
            raise ExecutionFailed(f"the process could not continue: {str(exc).splitlines()[0]}",
                                  code="case.advance_failed") from exc


def all_tasks(wf: BpmnWorkflow) -> Iterable:
    """Every task of a workflow and its subprocesses, in no particular order (cheaper than walking the tree)."""
    yield from wf.tasks.values()
    for sub in wf.subprocesses.values():
        yield from sub.tasks.values()


#: Spec classes whose BPMN type is not their name with a small first letter. Embedded sub-processes are parsed by
#: the Camunda parser into call activities (call activities themselves are refused at deploy).
_TYPES = {"NoneTask": "task", "CallActivity": "subProcess", "SubWorkflowTask": "subProcess"}


def bpmn_type(task_spec) -> str:
    """The BPMN type of a task spec as the diagram names it (``UserTask`` → ``userTask``)."""
    name = type(task_spec).__name__
    return _TYPES.get(name) or name[:1].lower() + name[1:]


def passes_by_itself(task_spec) -> bool:
    """An untyped or a manual task: it completes when reached (engine.state.PASSING_TASKS)."""
    return isinstance(task_spec, PASSING_TASKS)


def find_task(wf: BpmnWorkflow, task_id: UUID):
    """The task ``task_id`` of the workflow or of one of its sub-processes, or None."""
    task = wf.tasks.get(task_id)
    if task is None:
        task = next((sub.tasks[task_id] for sub in wf.subprocesses.values() if task_id in sub.tasks), None)
    return task


def process_ends(tasks: Iterable) -> list:
    """The end events among ``tasks`` that end the process itself (not one of its sub-processes)."""
    return [t for t in tasks if isinstance(t.task_spec, EndEvent) and t.workflow is t.workflow.top_workflow]


def timer_due(task, waiting_only: bool = True) -> datetime | None:
    """When a timer task is (or was) due; by default only timers still waiting count."""
    definition = getattr(task.task_spec, "event_definition", None)
    if not isinstance(definition, TimerEventDefinition):
        return None
    if waiting_only and task.state != TaskState.WAITING:
        return None
    value = task._get_internal_data("event_value")
    return TimerEventDefinition.get_datetime(value) if isinstance(value, str) else None


def due_of(task) -> datetime | None:
    """The deadline of a ready user task: the earliest timer on its boundary."""
    parent = task.parent
    if parent is None or not isinstance(parent.task_spec, BoundaryEventSplit):
        return None
    dues = [d for d in (timer_due(c, waiting_only=False) for c in parent.children if c is not task)
            if d is not None]
    return min(dues) if dues else None


def attached_user_task(timer_task):
    """The user task a boundary timer (task) is attached to, or None."""
    parent = timer_task.parent
    if parent is not None and isinstance(parent.task_spec, BoundaryEventSplit):
        return next((c for c in parent.children if isinstance(c.task_spec, UserTask)), None)
    return None


def new_workflow(parsed: ParsedDefinition, run: ActionRun, data: Mapping[str, Any]) -> BpmnWorkflow:
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


#: The names SpiffWorkflow gives the control tasks it puts around a task with boundary events ("<id>.<suffix>").
_BOUNDARY_PARTS = (".BoundaryEventSplit", ".BoundaryEventJoin")


def _stands_for(name: str) -> tuple[str, str]:
    """The BPMN id a task spec's name stands for, and the suffix of a boundary-event control task (else "")."""
    for suffix in _BOUNDARY_PARTS:
        if name.endswith(suffix):
            return name[: -len(suffix)], suffix
    return name, ""


def _is_human(spec) -> bool:
    return spec is not None and bool(spec.bpmn_id) and bool(getattr(spec, "manual", False))


def _spec_diff(registry, original, new, mapping: Mapping[str, str]) -> SpecDiff:
    """SpiffWorkflow's alignment of ``original``'s task specs with ``new``'s, made explicit for human tasks: a task
    whose id ``mapping`` names goes to the task it is mapped to (with its boundary-event control tasks), and
    SpiffWorkflow's own guess by shape for a human task whose id is gone is not taken (it is removed unless
    mapped). Everything else aligns as SpiffWorkflow aligns it (by id, then by shape)."""
    diff = SpecDiff(registry, original, new)
    for old, aligned in list(diff.alignment.items()):
        base, suffix = _stands_for(old.name)
        if base in mapping:
            candidate = new.task_specs.get(mapping[base] + suffix)
        elif aligned is not None and aligned.name != old.name and _is_human(original.task_specs.get(base)):
            candidate = None
        else:
            continue
        diff.alignment[old] = candidate
        diff.comparisons.pop(old, None)
        if candidate is not None:
            before, after = registry.convert(old), registry.convert(candidate)
            diff.comparisons[old] = (["typename"] if before.get("typename") != after.get("typename")
                                     else [key for key, value in before.items() if after.get(key) != value])
    return diff


def workflow_diff(registry, wf: BpmnWorkflow, parsed: ParsedDefinition, mapping: Mapping[str, str] | None = None):
    """SpiffWorkflow's ``diff_workflow`` (the case against another version, and each of its running sub-processes
    against the sub-process of the same name, None if there is none) with the alignment of :func:`_spec_diff`."""
    mapping = dict(mapping or {})
    top = WorkflowDiff(wf, _spec_diff(registry, wf.spec, parsed.spec, mapping))
    subs = {}
    for sub_id, sub in wf.subprocesses.items():
        new = parsed.subprocess_specs.get(sub.spec.name)
        subs[sub_id] = WorkflowDiff(sub, _spec_diff(registry, sub.spec, new, mapping)) if new is not None else None
    return top, subs


def _resync_boundary_events(task) -> None:
    """A waiting task moved to a task of another id: the split above it (its boundary events) now has the new
    task's boundary events as outputs; a waiting boundary event the new task lacks goes, one it has is added
    (and waits, with its due time computed now, as after any migration)."""
    split = task.parent
    if split is None or not isinstance(split.task_spec, BoundaryEventSplit):
        return
    outputs = split.task_spec.outputs
    for child in list(split.children):
        if child.task_spec not in outputs and isinstance(child.task_spec, BoundaryEvent) \
                and child.has_state(TaskState.WAITING | TaskState.PREDICTED_MASK):
            child.workflow.top_workflow.event_manager.remove_task(child)  # it waits no more
            child.workflow._remove_task(child.id)
    present = {child.task_spec for child in split.children}
    for spec in outputs:
        if spec not in present:
            child = split._add_child(spec, TaskState.FUTURE)
            spec._update(child)


def migrate_in_memory(codec: StateCodec, wf: BpmnWorkflow, parsed: ParsedDefinition,
                      mapping: Mapping[str, str] | None = None) -> list[str]:
    """Move a loaded workflow, and each of its running sub-processes, onto another spec; returns the BPMN ids whose
    definition changed. ``mapping`` ({old BPMN id: new BPMN id}) moves the tasks of an id the new version lacks to
    the given task, keeping the task (its id, data and state); without it such a task is not moved (the caller
    checks first: engine.runtime.WorkflowEngine.check_migration, which refuses a case waiting on one). A running
    sub-process the new version no longer has stops the move."""
    mapping = dict(mapping or {})
    diff, sub_diffs = workflow_diff(codec.registry, wf, parsed, mapping)
    changed = {t.task_spec.bpmn_id for t in diff.changed if t.task_spec.bpmn_id}
    for sub_diff in sub_diffs.values():
        if sub_diff is not None:
            changed.update(t.task_spec.bpmn_id for t in sub_diff.changed if t.task_spec.bpmn_id)
    try:
        migrate_workflow(diff, wf, parsed.spec)
        for sub_id, sub_diff in sub_diffs.items():
            sub = wf.subprocesses[sub_id]
            if sub_diff is None:
                raise ExecutionFailed(f"the sub-process {sub.spec.name} is not in the new version",
                                      code="case.migration_failed")
            migrate_workflow(sub_diff, sub, parsed.subprocess_specs[sub.spec.name])
        wf.subprocess_specs = parsed.subprocess_specs
        if mapping:
            targets = set(mapping.values())
            for task in list(all_tasks(wf)):
                if task.task_spec.bpmn_id in targets and _is_human(task.task_spec) \
                        and task.has_state(TaskState.READY | TaskState.STARTED):
                    _resync_boundary_events(task)
    except SpiffWorkflowException as exc:
        raise ExecutionFailed(f"the case could not be migrated: {str(exc).splitlines()[0]}",
                              code="case.migration_failed") from exc
    return sorted(changed)

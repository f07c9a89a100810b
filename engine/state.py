"""SpiffWorkflow state: (de)serialisation without the spec, bounded by pruning, with an injected clock.

* The spec is ~60% of SpiffWorkflow's JSON and identical for every case of a version, so the state
  stored per instance leaves it out; loading re-attaches the spec parsed once per definition version.
* SpiffWorkflow keeps every finished task in its tree, so a case that loops through revisions grows
  without bound (and eventually hits ``RecursionError``). The event log is our history of record, so
  after every action :func:`prune` drops the finished part of the tree that no live task depends on.
* SpiffWorkflow's timer definitions read the wall clock; ours read the clock of the script engine
  that runs the workflow, so tests, the worker and replay control time.
"""
from __future__ import annotations

import json
import threading
from collections import OrderedDict
from copy import deepcopy
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import VERSION as SPIFF_SERIALIZER_VERSION
from SpiffWorkflow.bpmn.specs.control import _EndJoin
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from .clock import Clock

#: Our envelope around SpiffWorkflow's own versioned format; both go into ``serializer_version``.
STATE_FORMAT = "alur-state-1"
SERIALIZER_VERSION = f"{STATE_FORMAT}/spiff-{SPIFF_SERIALIZER_VERSION}"


class ClockedScriptEngine(PythonScriptEngine):
    """A script engine that also carries the clock the timers read."""

    def __init__(self, environment, clock: Clock):
        super().__init__(environment=environment)
        self.clock = clock


def _now(task) -> datetime:
    return task.workflow.top_workflow.script_engine.clock.now()


#: Codes a timer can fail with when it is set at run time (the diagram's check cannot run an expression).
TIMER_RUNTIME_CODES = frozenset({"timer.runtime_failed", "timer.runtime_not_date", "timer.runtime_not_duration"})


class TimerNotSet(ValueError):
    """A timer whose value could not be computed when its task was reached; ``code`` says why."""

    def __init__(self, code: str, value: Any = None):
        super().__init__(code)
        self.code = code
        self.value = value


def _evaluated(definition, my_task) -> Any:
    try:
        return my_task.workflow.script_engine.evaluate(my_task, definition.expression)
    except SpiffWorkflowException as exc:  # the expression failed on this case's data
        raise TimerNotSet("timer.runtime_failed") from exc


def _failed(my_task, exc: TimerNotSet) -> bool:
    """Keep why the timer could not be set (the action records it, see engine.runtime); it never fires."""
    value = None if exc.value is None else str(exc.value)[:80]
    my_task._set_internal_data(timer_error={"code": exc.code, "value": value})
    return False


class ClockedTimeDate(TimeDateEventDefinition):
    def has_fired(self, my_task):
        if my_task._get_internal_data("timer_error") is not None:
            return False
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            try:
                event_value = _evaluated(self, my_task)
                if not isinstance(event_value, str):
                    raise TimerNotSet("timer.runtime_not_date", event_value)
                try:  # refuse a value we could not compare later (a duration, text, ...)
                    TimerEventDefinition.get_datetime(event_value)
                except (ValueError, TypeError, OverflowError):
                    raise TimerNotSet("timer.runtime_not_date", event_value) from None
            except TimerNotSet as exc:
                return _failed(my_task, exc)
            my_task._set_internal_data(event_value=event_value)
        if TimerEventDefinition.get_datetime(event_value) < _now(my_task):
            my_task._set_internal_data(event_fired=True)
        return my_task._get_internal_data("event_fired", False)


class ClockedDuration(DurationTimerEventDefinition):
    def has_fired(self, my_task):
        if my_task._get_internal_data("timer_error") is not None:
            return False
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            try:
                expression = _evaluated(self, my_task)
                try:
                    parsed = TimerEventDefinition.parse_iso_duration(expression)
                    start = _now(my_task)
                    event_value = (start + TimerEventDefinition.get_timedelta_from_start(parsed, start)).isoformat()
                except Exception:  # noqa: BLE001 - SpiffWorkflow's duration parser raises a bare Exception
                    raise TimerNotSet("timer.runtime_not_duration", expression) from None
            except TimerNotSet as exc:
                return _failed(my_task, exc)
            my_task._set_internal_data(event_value=event_value)
        if TimerEventDefinition.get_datetime(event_value) < _now(my_task):
            my_task._set_internal_data(event_fired=True)
        return my_task._get_internal_data("event_fired", False)


_CLOCKED = {TimeDateEventDefinition: ClockedTimeDate, DurationTimerEventDefinition: ClockedDuration}


def attach_clock(spec) -> None:
    """Swap SpiffWorkflow's wall-clock timer definitions in a freshly parsed spec for clocked ones."""
    for task_spec in spec.task_specs.values():
        definition = getattr(task_spec, "event_definition", None)
        replacement = _CLOCKED.get(type(definition))
        if replacement is not None:
            definition.__class__ = replacement


class _SpeclessWorkflowConverter(BpmnWorkflowConverter):
    """Writes the workflow without its spec; reading expects the live spec objects in the dict."""

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct):
        spec = dct.pop("spec")
        subprocess_specs = dct.pop("subprocess_specs")
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        dct["spec"], dct["subprocess_specs"] = None, {}
        from uuid import UUID

        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def stored_form(value: Any) -> Any:
    """``value`` as a stored state gives it back: JSON turns tuples into lists and dict keys into strings. Data
    goes into a workflow in this form, so a workflow kept in memory (:class:`WarmWorkflows`) holds exactly what
    one read back from its state would."""
    kind = type(value)
    if kind is dict:
        return {key if type(key) is str else _json_key(key): stored_form(item) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [stored_form(item) for item in value]
    return value


def _json_key(key: Any) -> str:
    return json.dumps(key) if key is None or type(key) is bool else str(key)


class WarmWorkflows:
    """Workflows kept in memory by the action that saved them, by case, with the state text they were saved as.

    The next action on the case in this process takes the workflow back instead of reading its state again, but
    only while the stored state is still exactly that text and the case runs on the same parsed spec: another
    process's action, a rolled-back transaction, a restored backup or an edit all change the text, and then the
    state is read as usual. A workflow taken is out of the store until its action saves it again, so two actions
    never share one, and one whose action failed is simply dropped. Task data is kept in its stored form
    (:func:`stored_form`), so a kept workflow behaves exactly like one read back."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict[Any, tuple[str, str, Any, BpmnWorkflow]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def take(self, key: Any, text: str, version: str, spec) -> BpmnWorkflow | None:
        with self._lock:
            item = self._items.pop(key, None)
        if item is not None and item[2] is spec and item[1] == version and item[0] == text:
            self.hits += 1
            return item[3]
        self.misses += 1
        return None

    def put(self, key: Any, text: str, version: str, workflow: BpmnWorkflow) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._items[key] = (text, version, workflow.spec, workflow)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def drop(self, key: Any) -> None:
        with self._lock:
            self._items.pop(key, None)

    def __len__(self) -> int:
        return len(self._items)


class StateCodec:
    """JSON state of one workflow, without the spec."""

    version = SERIALIZER_VERSION

    def __init__(self):
        config = deepcopy(CAMUNDA_CONFIG)
        config[BpmnWorkflow] = _SpeclessWorkflowConverter
        for original, clocked in _CLOCKED.items():  # specs are compared (migration diffs), never stored
            config[clocked] = config[original]
        self._serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))

    def dumps(self, workflow: BpmnWorkflow) -> str:
        return self._serializer.serialize_json(workflow)

    @property
    def registry(self):
        return self._serializer.registry

    def loads(self, text: str, version: str, spec, subprocess_specs, script_engine) -> BpmnWorkflow:
        if version != self.version:
            raise ValueError(f"state written as {version!r}; this engine reads {self.version!r}")
        dct = json.loads(text)
        dct.pop(BpmnWorkflowSerializer.VERSION_KEY, None)
        dct["spec"] = spec
        dct["subprocess_specs"] = subprocess_specs
        workflow = self._serializer.registry.restore(dct)
        workflow.script_engine = script_engine
        return workflow


def _is_live(task) -> bool:
    if not task.has_state(TaskState.NOT_FINISHED_MASK):
        return False
    # A WAITING end-join only says "this branch has ended": nothing can reach it again, and the
    # join that ends the process looks for unfinished tasks itself, so it does not pin history.
    return not (isinstance(task.task_spec, _EndJoin) and task.state == TaskState.WAITING)


def prune(workflow: BpmnWorkflow) -> int:
    """Drop finished history no live task depends on; returns how many tasks were removed.

    The anchor is the deepest finished task that is an ancestor of every live task. Everything
    outside the anchor's subtree (older rounds of a loop, finished side branches) goes, and the
    anchor is re-hung directly under the root, so the tree keeps one round of history at most.
    """
    if workflow.subprocesses:
        return 0  # call activities keep their own trees; we do not execute them (refused at deploy)
    root = workflow.task_tree
    live = [t for t in workflow.tasks.values() if _is_live(t)]
    if not live:
        return 0
    common: list | None = None
    for task in live:
        path = []
        node = task
        while node is not None:
            path.append(node)
            node = node.parent
        path.reverse()
        if common is None:
            common = path
        else:
            n = 0
            for a, b in zip(common, path):
                if a is not b:
                    break
                n += 1
            common = common[:n]
    anchor = None
    for node in reversed(common or []):
        if node is not root and node.has_state(TaskState.FINISHED_MASK):
            anchor = node
            break
    if anchor is None or anchor.parent is root:
        return 0
    keep = {root.id}
    stack = [anchor]
    while stack:
        node = stack.pop()
        keep.add(node.id)
        stack.extend(node.children)
    removed = [tid for tid in workflow.tasks if tid not in keep]
    data = anchor.data
    for tid in removed:
        del workflow.tasks[tid]
    root._children = [anchor.id]
    anchor._parent = root.id
    anchor.data = data
    if workflow.last_task is not None and workflow.last_task.id not in keep:
        workflow.last_task = anchor
    return len(removed)

"""SpiffWorkflow state: (de)serialisation without the spec, bounded by pruning, with an injected clock.

* The spec is ~60% of SpiffWorkflow's JSON and identical for every case of a version, so the state
  stored per instance leaves it out; loading re-attaches the spec parsed once per definition version.
* SpiffWorkflow keeps every finished task in its tree, so a case that loops through revisions grows
  without bound (and eventually hits ``RecursionError``). The event log is our history of record, so
  after every action :func:`prune` drops every finished task SpiffWorkflow can no longer read.
* SpiffWorkflow's timer definitions read the wall clock; ours read the clock of the script engine
  that runs the workflow, so tests, the worker and replay control time.
"""
from __future__ import annotations

import json
import threading
import weakref
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
from SpiffWorkflow.bpmn.specs.mixins.exclusive_gateway import ExclusiveGateway
from SpiffWorkflow.bpmn.specs.mixins.inclusive_gateway import InclusiveGateway
from SpiffWorkflow.bpmn.specs.mixins.manual_task import ManualTask
from SpiffWorkflow.bpmn.specs.mixins.none_task import NoneTask
from SpiffWorkflow.bpmn.specs.mixins.parallel_gateway import ParallelGateway
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from .clock import Clock
from .errors import Problem

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

#: Tasks that do nothing here: an untyped task and a manual task (work done outside the system). SpiffWorkflow makes
#: both wait for someone to run them, like user tasks; here they complete as soon as they are reached.
PASSING_TASKS = (NoneTask, ManualTask)


def attach_clock(spec) -> None:
    """Swap SpiffWorkflow's wall-clock timer definitions in a freshly parsed spec for clocked ones."""
    for task_spec in spec.task_specs.values():
        definition = getattr(task_spec, "event_definition", None)
        replacement = _CLOCKED.get(type(definition))
        if replacement is not None:
            definition.__class__ = replacement


def pass_by_themselves(spec) -> None:
    """Untyped and manual tasks in a freshly parsed spec run as engine steps (never an inbox task), see
    :data:`PASSING_TASKS`."""
    for task_spec in spec.task_specs.values():
        if isinstance(task_spec, PASSING_TASKS):
            task_spec.manual = False


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

    def task_data(self, text: str, version: str, task_id: str) -> dict | None:
        """The data of the task ``task_id`` of the process's own tree, as :meth:`loads` would give it, read from the
        state without building the workflow (which restores every task and its spec: most of a task page's time).

        SpiffWorkflow stores a task's data as the changes from its parent's (``delta``), the first task as a whole;
        reading one task's data is following its parents up and applying their changes down, exactly as the task
        converter does for each task on a whole read: a parent counts only when it comes before the task in the
        stored order (a whole read restores tasks in that order and finds no parent that is not read yet). None when
        the task is not in the process's own tree (a sub-process's task: read the whole workflow then)."""
        if version != self.version:
            raise ValueError(f"state written as {version!r}; this engine reads {self.version!r}")
        tasks = json.loads(text)["tasks"]
        if task_id not in tasks:
            return None
        order = {key: n for n, key in enumerate(tasks)}
        chain, current = [], task_id
        while True:
            chain.append(tasks[current])
            parent = tasks[current]["parent"]
            if parent is None or parent not in tasks or order[parent] > order[current]:
                break
            current = parent
        restore = self._serializer.registry.restore
        data: dict = restore(chain[-1]["data"])  # the first: no parent to take changes from
        for stored in reversed(chain[:-1]):
            delta = stored.get("delta")
            if not delta:
                data = restore(stored["data"])
                continue
            data = dict(data)  # the parent's, copied (SpiffWorkflow merges into a new dict: the same here)
            data.update(restore(delta.get("updates", {})))
            for key in delta.get("deletions", {}):
                data.pop(key, None)
        return data


def _is_live(task, top: bool = True) -> bool:
    if not task.has_state(TaskState.NOT_FINISHED_MASK):
        return False
    # A WAITING end-join (and the end task predicted under it) only says "this branch has ended": nothing can reach
    # it again, and the join that ends the process waits for every unfinished task itself. What it would still do
    # is merge its branch's data into the process's final data (``workflow.data``), which nothing reads; keeping it
    # for that would let the state grow with every branch that ended (each deadline that passed), so it is not kept.
    # In a sub-process that data is what the sub-process hands back to the process (its end task's data): kept.
    return not top or not (_ended(task) or task.parent is not None and _ended(task.parent))


def _ended(task) -> bool:
    return isinstance(task.task_spec, _EndJoin) and task.state == TaskState.WAITING


#: Per process spec: the specs entering one of its parallel gateways (empty: no parallel gateway to look back).
_PARALLEL_INPUTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _parallel_inputs(spec) -> frozenset:
    found = _PARALLEL_INPUTS.get(spec)
    if found is None:
        found = frozenset(s for ts in spec.task_specs.values() if isinstance(ts, ParallelGateway) for s in ts.inputs)
        _PARALLEL_INPUTS[spec] = found
    return found


_JOINS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _joins(spec) -> bool:
    """Whether the spec has a gateway that reads other tasks of its spec (parallel or inclusive)."""
    found = _JOINS.get(spec)
    if found is None:
        found = any(isinstance(ts, (ParallelGateway, InclusiveGateway)) for ts in spec.task_specs.values())
        _JOINS[spec] = found
    return found


def _kept_tasks(workflow, live: list) -> set:
    """The ids of the tasks SpiffWorkflow 3.2 can still read while the ``live`` tasks run on (see :func:`prune`)."""
    keep = {workflow.task_tree.id}
    climb_specs = _parallel_inputs(workflow.spec)
    joins = bool(climb_specs) or _joins(workflow.spec)
    # Whatever every live task descends from; every task created from now on descends from a live task.
    shared: set | None = None
    for task in live:
        keep.add(task.id)
        if task._parent is not None:
            keep.add(task._parent)  # its data is what a waiting join, or a child being predicted, inherits
        split = getattr(task.task_spec, "split_task", None)
        if split is not None:  # a boundary-event (or start-event) join reads its split and the split's children
            found = task.find_ancestor(split)
            if found is not None:
                keep.add(found.id)
                keep.update(found._children)
        if not joins:
            continue
        ancestors = set()
        wanted = set(climb_specs)
        node = task.parent
        while node is not None:
            ancestors.add(node.id)
            if node.task_spec in wanted:  # where a parallel join's look back from this task stops (see below)
                wanted.discard(node.task_spec)
                keep.add(node.id)
            node = node.parent
        shared = ancestors if shared is None else shared & ancestors
    if joins:
        shared = shared or set()
        for task in workflow.tasks.values():
            spec = task.task_spec
            # A parallel gateway deciding whether to fire reads every other task of its spec that it does not
            # descend from: the state and spec of its parent, and when finished, its parent's data. An inclusive
            # gateway that joins reads every task of its spec that no other one is above (and hides what is below
            # them): each is kept with its parent (a join in a loop is refused, so they are few).
            if isinstance(spec, InclusiveGateway) and len(spec.inputs) > 1:
                kept = True
            else:
                kept = isinstance(spec, (ParallelGateway, InclusiveGateway)) and task.id not in shared
            if kept:
                keep.add(task.id)
                if task._parent is not None:
                    keep.add(task._parent)
    return keep


def prune(workflow: BpmnWorkflow) -> int:
    """Drop the finished tasks no live task can still depend on; returns how many tasks were removed.

    Raw SpiffWorkflow keeps every task it ever ran, so a case looping through revisions grows without bound. What
    SpiffWorkflow 3.2 reads of the finished part of its tree, for the constructs a diagram may use:

    * a task being updated inherits its parent's data: the parent of every live task is kept;
    * a parallel gateway's instance deciding whether to fire (``ParallelGateway._check_threshold_unstructured``)
      looks at every task of its spec: those it descends from count for nothing; for those below it, it walks up
      their ancestors (through every earlier round of a loop) to the nearest task of each incoming spec it still
      waits for; for the others, the state and spec of their parent. When it fires
      (``UnstructuredJoin._run_hook``) it merges the data of the parent of every finished other task of its spec.
      So for each live task the nearest ancestor of each spec that enters a parallel gateway is kept, and every
      task of a parallel gateway that not all live tasks descend from is kept with its parent. In a loop that
      re-enters a parallel region these are one per branch and round: correct, but not bounded in that construct
      (SpiffWorkflow itself counts earlier rounds' branches there, see :func:`parallel_loop_problems`);
    * a boundary-event join finds its split among its ancestors and reads the state of the split's children;
    * an inclusive gateway deciding whether to fire reads every task of its spec that no other task of its spec is
      above, with its parent, and the ready and waiting tasks no task of its spec is above: every task of a joining
      inclusive gateway is kept with its parent (a loop through such a join is refused, so they are few);
    * the join that ends the process reads the unfinished tasks only (and see :func:`_is_live`); in a sub-process
      the data of every branch that ended goes back to the process, so there every unfinished task is kept;
    * sub-processes (``workflow.subprocesses``) are pruned each on its own tree, and forgotten once over.

    Everything else goes. The kept tasks stay in the same order and each under its nearest kept ancestor, so
    which task descends from which, and the order SpiffWorkflow visits them in, do not change: the next action
    does exactly what it would have done on the whole tree (tests/test_prune_differential.py).
    """
    removed = _prune_tree(workflow, top=True)
    for sub in list(workflow.subprocesses.values()):
        removed += _prune_tree(sub, top=False)
    return removed + _drop_finished_subprocesses(workflow)


def _prune_tree(workflow, top: bool) -> int:
    """Prune the task tree of one workflow: the process's own, or one of its sub-processes'."""
    tasks = workflow.tasks
    live = [t for t in tasks.values() if _is_live(t, top)]
    if not live:
        return 0
    keep = _kept_tasks(workflow, live)
    if len(keep) == len(tasks):
        return 0
    root = workflow.task_tree
    children: dict = {tid: [] for tid in keep}
    stack = [(root, None)]
    while stack:  # depth first, in SpiffWorkflow's order; each kept task goes under its nearest kept ancestor
        node, above = stack.pop()
        if node.id in keep:
            if above is not None:
                children[above].append(node.id)
                node._parent = above
            above = node.id
        stack.extend((child, above) for child in reversed(node.children))
    removed = [tid for tid in tasks if tid not in keep]
    for tid in removed:
        del tasks[tid]
    for tid, kids in children.items():
        tasks[tid]._children = kids
    if workflow.last_task is not None and workflow.last_task.id not in keep:
        workflow.last_task = None
    return len(removed)


def _drop_finished_subprocesses(workflow: BpmnWorkflow) -> int:
    """Forget the sub-processes that are over: the task that ran one is finished (or pruned: reading the state back
    drops a sub-process whose task is gone) and nothing in it waits or is ready. SpiffWorkflow keeps each forever,
    one more for every round of a loop through a sub-process. Returns how many tasks went with them."""
    removed = 0
    changed = True
    while changed:
        changed = False
        for task_id, sub in list(workflow.subprocesses.items()):
            parent_workflow = workflow if sub.parent_task_id in workflow.tasks else next(
                (other for other in workflow.subprocesses.values() if sub.parent_task_id in other.tasks), None)
            parent = parent_workflow.tasks[sub.parent_task_id] if parent_workflow is not None else None
            if parent is None or parent.has_state(TaskState.FINISHED_MASK) and not any(
                    t.has_state(TaskState.DEFINITE_MASK) for t in sub.tasks.values()):
                del workflow.subprocesses[task_id]
                removed += len(sub.tasks)
                changed = True
    return removed


def _reachable(starts, stop=None) -> set:
    """Task specs reachable from ``starts`` (themselves included) along their outputs, not going on past ``stop``."""
    reached, todo = set(), list(starts)
    while todo:
        node = todo.pop()
        if node in reached:
            continue
        reached.add(node)
        if node is not stop:
            todo.extend(node.outputs)
    return reached


def parallel_loop_problems(spec) -> list[Problem]:
    """Parallel joins of branches that a loop runs again (code ``gateway.parallel_loop``), refused at validation.

    SpiffWorkflow 3.2 runs such a join wrongly from the second round on: the branches of earlier rounds that waited
    at the join still count as arrived, so it goes on before this round's branches are done (a loop back to before
    a split into two user tasks: completing one of them in round 2 makes the step after the join ready while the
    other is still open). Pruning keeps those earlier rounds so as to change nothing (:func:`prune`), so the state of
    such a case also grows with every round. Found statically: a parallel gateway with two of its incoming flows
    reached from two different outgoing flows of one split (a parallel gateway, a task with boundary events, any
    node with several outgoing flows that is not an exclusive gateway) that lies on a loop through the join. A loop
    that only comes back into a parallel gateway (used as its merge) is not affected."""
    problems = []
    for join in spec.task_specs.values():
        if not isinstance(join, ParallelGateway) or len(join.inputs) < 2:
            continue
        after = _reachable(join.outputs)
        inputs = set(join.inputs)
        for split in after:
            if len(split.outputs) < 2 or isinstance(split, ExclusiveGateway) or join not in _reachable(split.outputs):
                continue
            arrive = [inputs & _reachable([out], stop=join) for out in split.outputs]
            if any(a != b for i, x in enumerate(arrive) for y in arrive[i + 1:] for a in x for b in y):
                names = ", ".join(sorted(ts.bpmn_name or ts.bpmn_id or ts.name for ts in set().union(*arrive)))
                problems.append(Problem(join.bpmn_id, "gateway.parallel_loop", {"branches": names}))
                break
    return problems


def inclusive_loop_problems(spec) -> list[Problem]:
    """Inclusive gateways that join and lie on a loop (code ``gateway.inclusive_loop``), refused at validation.

    Deciding whether to go on, SpiffWorkflow 3.2's inclusive gateway looks at the tasks of its spec that no other one
    is above, which from the second round on are those of the first round: the branches that arrived then count as
    arrived now, and it goes on as soon as one of this round's branches arrives (a loop back to before an inclusive
    split into two user tasks: completing one of them in round 2 makes the step after the join ready while the other
    is still open). An inclusive gateway with one incoming flow only splits and may be on a loop."""
    return [Problem(ts.bpmn_id, "gateway.inclusive_loop")
            for ts in spec.task_specs.values()
            if isinstance(ts, InclusiveGateway) and len(ts.inputs) > 1 and ts in _reachable(ts.outputs)]

"""Pruning never changes what a workflow does (engine.state.prune).

Every diagram of the corpus (tests/prune_corpus.py: every construct the validator accepts, loops through each kind
of gateway) and the bundled SOP diagram run twice on the same random story, as the engine runs a case: once with
``prune`` after every action, once without (plain SpiffWorkflow). Hypothesis draws the story: which ready task is
completed, with which data (and so which gateway branch), when the clock moves so that timers fire, and after
which actions both states are written and read back (as the next request does) rather than kept in memory (as
WarmWorkflows does). After every step both runs must show the same ready tasks (spec ids, lanes, data, in order),
the same engine steps run, the same waiting timers and catch events, and the same end (or the same error).
"""
from __future__ import annotations

import os
import re
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from SpiffWorkflow.bpmn.specs.defaults import EndEvent
from SpiffWorkflow.util.task import TaskState

from engine.clock import ManualClock
from engine.definitions import parse_definition
from engine.errors import ExecutionFailed, InvalidDefinition
from engine.expressions import DEFAULT_FUNCTIONS
from engine.runtime import WorkflowEngine
from engine.spiff import ActionRun, all_tasks, new_workflow, run_user_task, timer_due
from engine.state import parallel_loop_problems, prune
from process.deadlines import WIB, timer_functions
from tests.conftest import DIAGRAM
from tests.prune_corpus import CHOICES, CORPUS, INITIAL

START = datetime(2025, 5, 6, 8, 0, tzinfo=WIB)
#: How far the clock moves in a "wait" step: around the corpus's timers (PT1H, PT2H, PT3H, P1D, a date).
WAITS = [timedelta(minutes=30), timedelta(hours=2, minutes=1), timedelta(hours=5), timedelta(days=1, hours=1)]
#: Longer and more stories: ALUR_PRUNE_STEPS, ALUR_PRUNE_EXAMPLES; ALUR_PRUNE_RANDOM=1 draws new ones every run.
MAX_STEPS = int(os.environ.get("ALUR_PRUNE_STEPS", "24"))
EXAMPLES = int(os.environ.get("ALUR_PRUNE_EXAMPLES", "12"))
FIXED = os.environ.get("ALUR_PRUNE_RANDOM") != "1"
#: ALUR_PRUNE_SHRINK=0 reports the first failing story as found (shrinking long stories takes minutes).
PHASES = [p for p in Phase if os.environ.get("ALUR_PRUNE_SHRINK", "1") != "0" or p is not Phase.shrink]

_ENGINE = WorkflowEngine(clock=ManualClock(START), functions=DEFAULT_FUNCTIONS.merged(timer_functions()))


def _parsed(name: str):
    """Parsed as a stored version is: deploying refuses the joins that a loop runs again (gateway.parallel_loop),
    and the differential test still runs them, to show that pruning changes nothing even there."""
    xml = DIAGRAM.read_bytes() if name == "sop" else CORPUS[name].xml()
    return parse_definition(xml, _ENGINE.functions, stored=True)


_PARSED: dict = {}


def parsed(name: str):
    if name not in _PARSED:
        _PARSED[name] = _parsed(name)
    return _PARSED[name]


def sop_choices(xml: str) -> dict[str, list]:
    """The values the SOP's conditions test (``keputusan_admin == "diterima"`` …), for its user tasks to submit."""
    found: dict[str, list] = {}
    for name, literal in re.findall(r'([a-z_]+) == "([^"]*)"', xml):
        found.setdefault(name, []).append(literal)
    return found


def story_data(name: str) -> tuple[dict, dict[str, list]]:
    if name == "sop":
        return ({"tanggal_kegiatan": "2025-05-05", "tanggal_pengumpulan": "2025-05-06"},
                sop_choices(DIAGRAM.read_text(encoding="utf-8")))
    return dict(INITIAL), CHOICES


class Run:
    """One workflow driven the way the engine drives it (runtime.WorkflowEngine: a fixed clock per action, timers
    due before a completion fire first, engine steps until only people and future timers are left, then the state
    written and, when the story says so, read back as the next request would; otherwise the workflow is kept in
    memory as WarmWorkflows does). ``pruned``: prune before writing, as the engine does."""

    def __init__(self, name: str, pruned: bool, data: dict, now: datetime):
        self.parsed = parsed(name)
        self.pruned = pruned
        self.dropped = 0
        run = ActionRun(_ENGINE.functions, now)
        self.workflow = new_workflow(self.parsed, run, data)
        self._ran(run)
        self._save(run, reload=True)

    def ready(self) -> list:
        return [t for t in self.workflow.get_tasks(state=TaskState.READY, manual=True) if t.task_spec.bpmn_id]

    def complete(self, index: int, data: dict, now: datetime, reload: bool) -> None:
        run = self._begin(now)
        due = self._next_timer()
        if due is not None and due <= now:
            run.advance(self.workflow)
        run_user_task(self.ready()[index], dict(data))
        run.advance(self.workflow)
        self._end(run, reload)

    def wait(self, now: datetime, reload: bool) -> None:
        run = self._begin(now)
        run.advance(self.workflow)
        self._end(run, reload)

    def _begin(self, now: datetime) -> ActionRun:
        run = ActionRun(_ENGINE.functions, now)
        self.workflow.script_engine = run.script_engine
        return run

    def _end(self, run: ActionRun, reload: bool) -> None:
        self._ran(run)
        self._save(run, reload)

    def _ran(self, run: ActionRun) -> None:
        self.finished = [t.task_spec.name for t in run.finished]
        self.ends = [(t.task_spec.bpmn_id, t.data) for t in run.finished if isinstance(t.task_spec, EndEvent)]

    def _save(self, run: ActionRun, reload: bool) -> None:
        self.workflow.get_events()
        if self.pruned:
            self.dropped += prune(self.workflow)
        text = _ENGINE.codec.dumps(self.workflow)
        if reload:
            self.workflow = _ENGINE.codec.loads(text, _ENGINE.codec.version, self.parsed.spec,
                                                self.parsed.subprocess_specs, run.script_engine)

    def _next_timer(self) -> datetime | None:
        dues = [d for d in (timer_due(t) for t in all_tasks(self.workflow)) if d is not None]
        return min(dues) if dues else None

    def observe(self) -> dict:
        """What the workflow does, as the engine and its users see it."""
        wf = self.workflow
        waiting = sorted((t.task_spec.bpmn_id or t.task_spec.name, type(t.task_spec.event_definition).__name__,
                          str(t._get_internal_data("event_value")))
                         for t in all_tasks(wf)
                         if t.state == TaskState.WAITING and hasattr(t.task_spec, "event_definition"))
        completed = wf.is_completed()
        return {
            "ready": [(t.task_spec.bpmn_id, t.task_spec.lane, t.data) for t in self.ready()],
            "ran": self.finished,
            "waiting": waiting,
            "next_timer": self._next_timer(),
            "completed": completed,
            # Each end event reached, with the data its path carried there. Not compared: ``workflow.data`` once the
            # process has ended, where SpiffWorkflow also merges the data of paths that ended earlier (nothing reads
            # it; prune does not keep ended paths for it, see engine.state._is_live).
            "ends": self.ends,
        }


def _step(runs: list[Run], action: str, *args) -> list:
    """Apply one action to every run; the outcome is the observation, or the error the action raised."""
    outcomes = []
    for r in runs:
        try:
            getattr(r, action)(*args)
        except ExecutionFailed as exc:
            outcomes.append(("error", exc.message))
        except Exception as exc:  # SpiffWorkflow's own failures (AttributeError …) must be the same too
            outcomes.append(("crash", type(exc).__name__, str(exc)))
        else:
            outcomes.append(r.observe())
    return outcomes


def play(name: str, draw) -> tuple[list, int]:
    """Run one story drawn by ``draw`` on a plain and a pruned workflow, comparing them after every step.
    Returns the trace (for the failure message) and how many tasks pruning dropped."""
    data, choices = story_data(name)
    now = START
    plain, pruned = Run(name, False, dict(data), now), Run(name, True, dict(data), now)
    trace: list = []
    assert pruned.observe() == plain.observe(), "after start"
    for step in range(MAX_STEPS):
        ready = len(plain.ready())
        waiting = plain._next_timer() is not None
        if not ready and not waiting:
            break
        reload = draw(st.booleans(), "reload")
        if ready and (not waiting or draw(st.integers(0, 3), "wait?") > 0):
            index = draw(st.integers(0, ready - 1), "task")
            submitted = {key: draw(st.sampled_from(values), key) for key, values in sorted(choices.items())}
            now += timedelta(minutes=draw(st.integers(0, 90), "minutes"))
            trace.append((step, "complete", plain.ready()[index].task_spec.bpmn_id, submitted, now.isoformat()))
            outcome = _step([plain, pruned], "complete", index, submitted, now, reload)
        else:
            now += draw(st.sampled_from(WAITS), "wait")
            trace.append((step, "wait", now.isoformat()))
            outcome = _step([plain, pruned], "wait", now, reload)
        assert outcome[1] == outcome[0], f"{name}: pruned run differs at step {step}: {trace}"
        if isinstance(outcome[0], tuple):  # both refused the same way (no branch taken …): the story ends
            break
    return trace, pruned.dropped


class _Drawer:
    def __init__(self, data):
        self.data = data

    def __call__(self, strategy, label):
        return self.data.draw(strategy, label=label)


NODB = pytest.mark.nodb  # workflows in memory, their states written to text and read back: no database


@NODB
@pytest.mark.parametrize("name", [*CORPUS, "sop"])
def test_pruning_changes_nothing_a_workflow_does(name):
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=FIXED, phases=PHASES,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.data())
    def story(data):
        play(name, _Drawer(data))

    story()


@NODB
def test_the_issue_story_goes_on_with_pruning():
    """Issue 13: a loop merged back through a parallel gateway; with prune the case stalled after the first round
    with no ready task, where plain SpiffWorkflow goes on (the join looks back through earlier rounds)."""
    story = [("complete", 0, {"pilih": 0, "berkas": []}), *[("complete", 0, {"pilih": 1, "berkas": ["a"]})] * 3,
             ("complete", 0, {"pilih": 0, "berkas": []})]
    data, _ = story_data("putaran_paralel")
    runs = [Run("putaran_paralel", pruned, dict(data), START) for pruned in (False, True)]
    for action, index, submitted in story:
        outcome = _step(runs, action, index, submitted, START, True)
        assert outcome[1] == outcome[0]
    assert runs[1].observe()["completed"] and runs[1].dropped > 0


def test_the_issue_case_goes_on_in_the_engine(system, tx, clock):
    """The same through the engine (prune, state written and read back, task rows): the loop through the parallel
    gateway gives a ready task every round, and the case ends."""
    engine = WorkflowEngine(clock=clock, warm_cases=0)
    with tx() as s:
        engine.deploy(s, CORPUS["putaran_paralel"].xml(), actor="uji")
        result = engine.start(s, "putaran_paralel", data=INITIAL, actor="uji")
    (task,) = result.ready
    for choice in (0, 1, 1, 1, 0):
        with tx() as s:
            result = engine.complete(s, task.id, {"pilih": choice}, actor="uji")
            status = result.instance.status
        if status == "running":
            (task,) = result.ready
            assert task.bpmn_id == "Ulangi"
    assert status == "completed"


def _long_story(name: str, actions: int = 90) -> list[int]:
    """Tasks in the pruned state after each of ``actions`` actions that keep the case looping (every loop taken,
    every third action a day passing so that deadlines fire)."""
    data, choices = story_data(name)
    loop = {"keputusan_admin": "diterima", "keputusan_wapimred": "lanjut", "keputusan_pimred": "revisi"} \
        if name == "sop" else {"pilih": 1, "berkas": ["a"]}
    now, sizes = START, []
    run = Run(name, True, dict(data), now)
    for i in range(actions):
        if i % 3 == 2 or not run.ready():
            now += timedelta(days=1, hours=1)
            run.wait(now, reload=True)
        else:
            now += timedelta(minutes=10)
            run.complete(0, loop, now, reload=True)
        sizes.append(sum(1 for _ in all_tasks(run.workflow)))  # its sub-processes too
    return sizes


@NODB
@pytest.mark.parametrize("name", ["sop", "putaran_eksklusif", "putaran_paralel", "gabung_tiga", "putaran_bersarang",
                                  "tenggat", "tenggat_putus", "akhir", "mulai_waktu", "tugas_lewat", "sebar_putaran",
                                  "sub_proses"])
def test_the_pruned_state_stays_bounded_over_rounds(name):
    """Loops through an exclusive merge, through a parallel gateway used as the merge, nested, with deadlines that
    fire every round: after 90 actions the state holds no more tasks than in the first 30."""
    sizes = _long_story(name)
    assert max(sizes[-30:]) <= max(sizes[:30]), sizes


@NODB
def test_joins_of_branches_a_loop_runs_again_are_named():
    """The one construct prune cannot keep bounded, because SpiffWorkflow reads every earlier round there: a parallel
    join of branches that a loop runs again. ``parallel_loop_problems`` names its join; the SOP has none."""
    flagged = {name for name in [*CORPUS, "sop"] if parallel_loop_problems(parsed(name).spec)}
    assert flagged == {"putaran_wilayah_2", "putaran_wilayah_3", "masuk_pecah", "putaran_paralel_bersarang", "tunggu",
                       "sinyal", "campuran", "peristiwa"}
    (problem,) = parallel_loop_problems(parsed("putaran_wilayah_2").spec)
    assert problem.element_id == "Satukan" and problem.code == "gateway.parallel_loop"
    assert "Cabang0, Cabang1" in problem.params["branches"]
    for name in flagged:  # ... and deploying refuses each, naming the join
        with pytest.raises(InvalidDefinition) as refused:
            _ENGINE.validate(CORPUS[name].xml())
        assert "gateway.parallel_loop" in {p.code for p in refused.value.problems}, name


@NODB
def test_spiffworkflow_counts_earlier_rounds_at_such_a_join():
    """Why such a join is named: in round 2, completing one of the two parallel tasks makes the step after the join
    ready while the other is still open (pruned or not: prune changes nothing), and the state grows per round."""
    data, _ = story_data("putaran_wilayah_2")
    for pruned in (False, True):
        run = Run("putaran_wilayah_2", pruned, dict(data), START)
        for spec, choice in (("Cabang0", 0), ("Cabang1", 0), ("Akhir", 1), ("Cabang1", 0)):
            ready = [t.task_spec.bpmn_id for t in run.ready()]
            run.complete(ready.index(spec), {"pilih": choice, "berkas": []}, START, reload=True)
        assert [t.task_spec.bpmn_id for t in run.ready()] == ["Cabang0", "Akhir"]
    sizes = _long_story("putaran_wilayah_2")
    assert max(sizes[-30:]) > max(sizes[:30])

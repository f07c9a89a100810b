"""Workflows kept in memory between actions (engine.state.WarmWorkflows): the next action on a case in the same
process takes its workflow back only while the stored state is exactly what that workflow was saved as, and then
behaves exactly like one read back from the state."""
from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import datetime

import pytest
from sqlalchemy import select, text

from engine import eventlog
from engine.clock import ManualClock
from engine.consistency import check_projection
from engine.db import transaction
from engine.expressions import execute
from engine.models import EventRow, Instance, TaskRow
from engine.replay import replay
from engine.state import WarmWorkflows, stored_form
from process.config import Settings
from process.deadlines import WIB
from process.system import build_system
from tests.conftest import _wipe
from tests.factories import Case, make_users, step1_form, user

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _story(system, clock) -> None:
    """Two cases through every kind of step: returns by each role, revision rounds, deadlines that pass (the
    sweep fires them), an upload, a refusal."""
    def tx():
        return transaction(system.sessions)

    def sweep():
        with tx() as s:
            system.timers.fire_due_timers(s)

    make_users(system, tx)
    a = Case.start(system, tx)
    for who, form in (("tim", "submit"), ("admin", "admin_kembalikan"), ("tim", "submit"), ("admin", "terima"),
                      ("wapimred", "wapimred_kembalikan"), ("tim", "submit"), ("admin", "terima"),
                      ("wapimred", "koreksi"), ("pimred", "revisi"), ("wapimred", "koreksi"), ("pimred", "setuju")):
        a.do(who, form)
    b = Case.start(system, tx, nama="Rapat Pleno Terbuka")
    clock.advance(days=3)
    sweep()  # the upload of a and the submission of b are now late
    a.do("admin", "unggah")
    for who, form in (("tim", "submit"), ("admin", "terima"), ("wapimred", "koreksi"), ("pimred", "tolak")):
        b.do(who, form)


def _record(system) -> str:
    """Everything the story left in the database that an action decides (events, states, task rows), with the
    random ids numbered in order of appearance and SpiffWorkflow's wall-clock stamps left out."""
    with transaction(system.sessions) as s:
        events = [(e.type, e.instance_id, e.task_id, e.actor, e.at.isoformat(), e.payload)
                  for e in s.execute(select(EventRow).order_by(EventRow.seq)).scalars()
                  if e.type not in ("user_created", "team_created")]
        cases = [(i.id, i.status, i.end_event, i.next_timer_at and i.next_timer_at.isoformat(),
                  re.sub(r'"last_state_change": ?[-0-9.e+]+', "", i.state))
                 for i in s.execute(select(Instance).order_by(Instance.id)).scalars()]
        tasks = [(t.id, t.instance_id, t.bpmn_id, t.state, t.due_at and t.due_at.isoformat(),
                  t.overdue_at and t.overdue_at.isoformat(), t.completed_by)
                 for t in s.execute(select(TaskRow).order_by(TaskRow.created_at, TaskRow.bpmn_id)).scalars()]
    dump = json.dumps([events, cases, tasks], default=str)
    numbers: dict[str, str] = {}
    return UUID_RE.sub(lambda m: numbers.setdefault(m.group(0), f"<id{len(numbers)}>"), dump)


def test_a_kept_workflow_acts_exactly_like_one_read_back_from_its_state(_schema, settings):
    """The same story run with workflows kept (every action after the first takes its workflow back) and with
    none kept (every action reads the state) leaves the same history, states and tasks."""
    start = datetime(2025, 5, 6, 8, 0, tzinfo=WIB)
    records, hits = {}, {}
    for warm in (256, 0):
        _wipe(_schema)
        clock = ManualClock(start)
        system = build_system(replace(settings, warm_cases=warm), clock)
        try:
            _story(system, clock)
            records[warm], hits[warm] = _record(system), system.engine.warm.hits
        finally:
            system.dispose()
    assert hits[0] == 0 and hits[256] >= 15  # the kept run really took its workflows back
    assert records[256] == records[0]


def test_a_state_saved_by_another_process_is_read_again(system, tx, settings, clock):
    make_users(system, tx)
    case = Case.start(system, tx)
    case.do("tim", "submit")  # this process keeps the workflow at "Terima"
    other = build_system(settings, clock)  # a second process on the same database, with its own kept workflows
    try:
        moved = Case(other, lambda: transaction(other.sessions), case.instance_id, case.task_id)
        moved.do("admin", "terima")  # the other process moves the case on to "Koreksi"
    finally:
        other.dispose()
    warm = system.engine.warm
    misses = warm.misses
    case.task_id = moved.task_id
    assert case.do("wapimred", "koreksi") == ["Task_Putuskan"]  # the kept "Terima" workflow would refuse this
    assert warm.misses == misses + 1
    with tx() as s:
        assert check_projection(s, system.engine, [case.instance_id]) == []
        assert replay(s, system.engine, case.instance_id).matches


def test_a_rolled_back_action_leaves_nothing_behind_to_reuse(system, tx):
    make_users(system, tx)
    case = Case.start(system, tx)
    with tx() as s:
        system.tasks.claim(s, user(s, "tim"), case.task_id)
    with pytest.raises(RuntimeError), tx() as s:
        form = step1_form(system, s)
        system.tasks.complete(s, user(s, "tim"), case.task_id, form)
        raise RuntimeError("the request failed after the engine saved")
    # The database still has the case at "Serahkan": the workflow saved by the failed action is not taken back.
    assert case.do("tim", "submit", claim=False) == ["Task_Terima"]
    with tx() as s:
        completed = s.execute(select(EventRow).where(EventRow.type == "task_completed",
                                                     EventRow.instance_id == case.instance_id)).scalars().all()
        assert len(completed) == 1
        assert eventlog.verify(s).ok


def test_a_state_edited_in_the_database_is_read_again(system, tx):
    make_users(system, tx)
    case = Case.start(system, tx)
    case.do("tim", "submit")
    with tx() as s:
        s.execute(text("UPDATE instance SET state = replace(state, 'Padang', 'Bukittinggi') WHERE id = :i"),
                  {"i": case.instance_id})
    warm = system.engine.warm
    misses = warm.misses
    case.do("admin", "terima")
    assert warm.misses == misses + 1
    with tx() as s:
        assert "Bukittinggi" in s.get(Instance, case.instance_id).state  # carried on from what was stored


def test_turned_off_nothing_is_kept(_schema, settings, clock):
    _wipe(_schema)
    system = build_system(replace(settings, warm_cases=0), clock)
    try:
        def tx():
            return transaction(system.sessions)
        make_users(system, tx)
        case = Case.start(system, tx)
        case.do("tim", "submit")
        assert len(system.engine.warm) == 0 and system.engine.warm.hits == 0
    finally:
        system.dispose()


def test_the_store_keeps_the_most_recent_cases_only():
    class Wf:
        spec = object()

    warm = WarmWorkflows(2)
    kept = [Wf(), Wf(), Wf()]
    for n, wf in enumerate(kept):
        warm.put(n, f"state {n}", "v1", wf)
    assert len(warm) == 2
    assert warm.take(0, "state 0", "v1", Wf.spec) is None  # the oldest went
    assert warm.take(2, "state 2", "v1", Wf.spec) is kept[2]
    assert warm.take(2, "state 2", "v1", Wf.spec) is None  # taken: out until saved again
    assert warm.take(1, "state 1", "v2", Wf.spec) is None  # another state format
    warm.put(1, "state 1", "v1", kept[1])
    assert warm.take(1, "state 1", "v1", object()) is None  # another parsed spec


def test_data_goes_in_as_the_stored_state_gives_it_back():
    assert stored_form({"a": (1, [2, (3,)]), "b": {1: "x", None: 1, 2.5: 2}, "c": "s"}) == \
        {"a": [1, [2, [3]]], "b": {"1": "x", "null": 1, "2.5": 2}, "c": "s"}
    data = {}
    execute("pair = (1, 2)\nby_number = {1: 'satu', 2: pair}\nfirst = by_number['1']", data)
    assert data == {"pair": [1, 2], "by_number": {"1": "satu", "2": [1, 2]}, "first": "satu"}
    assert type(data["pair"]) is list


def test_the_number_of_kept_cases_is_configurable():
    assert Settings.from_env(env={"ALUR_WARM_CASES": "0"}).warm_cases == 0
    assert Settings.from_env(env={}).warm_cases == 256
    for bad in ("banyak", "-1"):
        with pytest.raises(ValueError, match="ALUR_WARM_CASES"):
            Settings.from_env(env={"ALUR_WARM_CASES": bad})

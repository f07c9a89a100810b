"""Engine guarantees: state without the spec, round trips, bounded state over revisions,
optimistic locking, and bad input that changes nothing."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, text

from engine.errors import InvalidData, NotFound, StaleInstance, TaskNotReady
from engine.models import Definition, EventRow, Instance, TaskRow
from process.errors import NotClaimed, NotPermitted, SelfApproval
from process.forms import FormInvalid
from tests.factories import FORMS, Case, make_users, user


def snapshot(system) -> dict:
    """Every row of every table, to prove a refused action changed nothing."""
    from engine.models import Base

    with system.sessions() as s:
        return {t.name: sorted(map(repr, s.execute(t.select()).all())) for t in Base.metadata.sorted_tables}


def test_state_has_no_spec_and_round_trips(system, tx):
    make_users(system, tx)
    case = Case.start(system, tx)
    case.do("tim", "submit")
    with tx() as s:
        inst = s.get(Instance, case.instance_id)
        state = json.loads(inst.state)
        assert "spec" not in state and "subprocess_specs" not in state
        assert inst.serializer_version.startswith("alur-state-1/spiff-")
        engine = system.engine
        wf = engine.load(s, inst)
        assert json.loads(engine.codec.dumps(wf)) == state
        definition = s.get(Definition, inst.definition_id)
        assert len(inst.state) < len(definition.xml)


def _state_size_after_rounds(system, tx, rounds: int) -> int:
    case = Case.start(system, tx)
    case.do("tim", "submit")
    case.do("admin", "terima")
    for _ in range(rounds):
        case.do("wapimred", "koreksi")
        case.do("pimred", "revisi")
    with tx() as s:
        return len(s.get(Instance, case.instance_id).state)


def test_state_stays_bounded_over_revision_rounds(system, tx):
    make_users(system, tx)
    sizes = {n: _state_size_after_rounds(system, tx, n) for n in (0, 10, 40)}
    assert sizes[40] <= 1.2 * sizes[0], sizes
    assert sizes[10] <= 1.2 * sizes[0], sizes


def test_two_hundred_rounds_at_engine_level(system, tx):
    """SpiffWorkflow alone hits RecursionError near 160 rounds; pruned state does not grow."""
    make_users(system, tx)
    case = Case.start(system, tx)
    case.do("tim", "submit")
    case.do("admin", "terima")
    engine = system.engine
    sizes = []
    for _ in range(200):
        for form, who in ((FORMS["koreksi"], "wapimred"), (FORMS["revisi"], "pimred")):
            with tx() as s:
                result = engine.complete(s, case.task_id, form, actor=who)
                case.task_id = result.ready[0].id
                sizes.append(len(result.instance.state))
    assert max(sizes[-20:]) <= 1.2 * sizes[1]
    case.do("wapimred", "koreksi")
    case.do("pimred", "setuju")
    case.do("admin", "unggah")
    with tx() as s:
        assert s.get(Instance, case.instance_id).status == "completed"


def test_stale_version_is_refused(system, tx):
    make_users(system, tx)
    case = Case.start(system, tx)
    with tx() as s:
        version = s.get(Instance, case.instance_id).lock_version
        system.tasks.claim(s, user(s, "tim"), case.task_id)
    before = snapshot(system)
    with pytest.raises(StaleInstance), tx() as s:
        from tests.factories import step1_form

        form = step1_form(system, s)
        s.execute(text("UPDATE instance SET lock_version = lock_version + 1 WHERE id = :i"),
                  {"i": case.instance_id})
        system.tasks.complete(s, user(s, "tim"), case.task_id, form, expected_version=version)
    assert snapshot(system) == before


def test_concurrent_writer_detected_at_flush(system, tx, monkeypatch):
    """A writer that saved between the action's read and its write (simulated in the same transaction, just before
    the write) is caught by the lock column."""
    from engine import persistence

    make_users(system, tx)
    case = Case.start(system, tx)
    with tx() as s:
        system.tasks.claim(s, user(s, "tim"), case.task_id)
    before = snapshot(system)
    save = persistence.save_action

    def someone_saved_first(session, instance, *args):
        session.execute(text("UPDATE instance SET lock_version = lock_version + 1 WHERE id = :i"), {"i": instance.id})
        return save(session, instance, *args)

    monkeypatch.setattr(persistence, "save_action", someone_saved_first)
    with pytest.raises(StaleInstance), tx() as s:
        from tests.factories import step1_form

        form = step1_form(system, s)
        system.tasks.complete(s, user(s, "tim"), case.task_id, form)
    assert snapshot(system) == before


@pytest.mark.parametrize("scenario", ["unknown_task", "not_ready", "wrong_role", "other_team", "not_claimed",
                                      "claimed_by_other", "invalid_form", "self_approval", "bad_key"])
def test_bad_input_changes_nothing(system, tx, scenario):
    make_users(system, tx)
    case = Case.start(system, tx)
    alur = system
    if scenario == "self_approval":
        case.do("tim", "submit")
        case.do("admin", "terima")
        case.do("wapimred", "koreksi")
        with tx() as s:  # "tim" is also in the pimred group in this scenario
            tim = user(s, "tim")
            alur.people.set_groups(s, tim, sorted(tim.group_codes | {"pimred"}))
        with tx() as s:
            alur.tasks.claim(s, user(s, "tim"), case.task_id)
    if scenario == "not_ready":
        old = case.task_id
        case.do("tim", "submit")
    if scenario in ("not_claimed", "claimed_by_other"):  # the creator holds step 1: it is given back first
        with tx() as s:
            alur.tasks.unclaim(s, user(s, "tim"), case.task_id)
    if scenario == "claimed_by_other":
        with tx() as s:
            alur.tasks.claim(s, user(s, "tim2"), case.task_id)
    before = snapshot(system)
    expected = {"unknown_task": NotFound, "not_ready": TaskNotReady, "wrong_role": NotPermitted,
                "other_team": NotPermitted, "not_claimed": NotClaimed, "claimed_by_other": NotClaimed,
                "invalid_form": FormInvalid, "self_approval": SelfApproval, "bad_key": InvalidData}[scenario]
    with pytest.raises(expected) as info, tx() as s:
        if scenario == "unknown_task":
            alur.tasks.complete(s, user(s, "tim"), "00000000-0000-0000-0000-000000000000", {})
        elif scenario == "not_ready":
            alur.tasks.complete(s, user(s, "tim"), old, {})
        elif scenario == "wrong_role":
            alur.tasks.claim(s, user(s, "admin"), case.task_id)
        elif scenario == "other_team":
            alur.tasks.claim(s, user(s, "tim_lain"), case.task_id)
        elif scenario in ("not_claimed", "claimed_by_other"):
            alur.tasks.complete(s, user(s, "tim"), case.task_id, {})
        elif scenario == "invalid_form":
            alur.tasks.claim(s, user(s, "tim"), case.task_id)
            alur.tasks.complete(s, user(s, "tim"), case.task_id, {"narasi": "pendek"})
        elif scenario == "self_approval":
            alur.tasks.complete(s, user(s, "tim"), case.task_id, FORMS["setuju"])
        elif scenario == "bad_key":
            alur.engine.complete(s, case.task_id, {"__builtins__": 1}, actor="tim")
    if scenario == "invalid_form":
        named = {e.field for e in info.value.errors}
        assert {"foto", "caption", "catatan_sumber", "narasi"} <= named
    assert snapshot(system) == before


def test_projection_matches_engine(system, tx):
    make_users(system, tx)
    case = Case.start(system, tx)
    case.do("tim", "submit")
    case.do("admin", "terima")
    with tx() as s:
        inst = s.get(Instance, case.instance_id)
        wf = system.engine.load(s, inst)
        from SpiffWorkflow.util.task import TaskState

        ready = {str(t.id) for t in wf.get_tasks(state=TaskState.READY, manual=True)}
        rows = {r.id for r in s.execute(select(TaskRow).where(TaskRow.instance_id == inst.id,
                                                              TaskRow.state == "ready")).scalars()}
        assert ready == rows
        assert s.execute(select(func.count()).select_from(EventRow)).scalar() > 5

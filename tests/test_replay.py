"""Replay: the recorded inputs re-executed on the recorded version reach the recorded states; a tampered
history is caught and named; the state after each event folds from the log alone."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from engine import eventlog
from engine.models import EventRow, Instance
from engine.replay import replay, states
from process.deadlines import WIB
from tests.factories import FORMS, Case, make_users, user


@pytest.fixture
def users(system, tx):
    make_users(system, tx)


def _replay(system, tx, instance_id):
    with tx() as s:
        return replay(s, system.engine, instance_id)


def _assert_matches(result):
    bad = [(st.seq, st.type, st.note, {k: (st.expected.get(k), st.actual.get(k)) for k in st.differences})
           for st in result.steps if not st.match]
    assert result.matches, f"{result.error}: {bad}"
    assert result.steps[0].type == "case_started" and result.steps[-1].type == "projection"


def _events(tx, instance_id, type_):
    with tx() as s:
        return [(r.seq, eventlog.decode(r)) for r in s.execute(
            select(EventRow).where(EventRow.instance_id == instance_id, EventRow.type == type_)
            .order_by(EventRow.seq)).scalars()]


def _publish(case, start="submit"):
    for who, form in (("tim", start), ("admin", "terima"), ("wapimred", "koreksi"), ("pimred", "setuju"),
                      ("admin", "unggah")):
        case.do(who, form)


def test_happy_path_re_executes_as_recorded(system, tx, users, clock):
    case = Case.start(system, tx)
    for who, form in (("tim", "submit"), ("admin", "terima"), ("wapimred", "koreksi"), ("pimred", "setuju"),
                      ("admin", "unggah")):
        clock.advance(hours=1)
        case.do(who, form)
    result = _replay(system, tx, case.instance_id)
    _assert_matches(result)
    completions = [st for st in result.steps if st.type == "task_completed"]
    assert [st.bpmn_id for st in completions] == ["Task_Serahkan", "Task_Terima", "Task_Koreksi", "Task_Putuskan",
                                                   "Task_Unggah"]
    assert completions[-1].actual["end"] == "EndEvent_Dipublikasikan"
    # Every deadline was compared, not only the task ids.
    assert completions[0].expected["ready"] == completions[0].actual["ready"] == \
        ["Task_Terima@2025-05-07T16:59:59+00:00"]
    assert result.steps[-1].actual["status"] == "completed"


def test_admin_return_and_resubmission(system, tx, users, clock):
    case = Case.start(system, tx)
    case.do("tim", "submit")
    assert case.do("admin", "admin_kembalikan") == ["Task_Serahkan"]
    clock.advance(hours=3)
    _publish(case)
    result = _replay(system, tx, case.instance_id)
    _assert_matches(result)
    assert sum(1 for st in result.steps if st.bpmn_id == "Task_Serahkan") == 2


def test_wapimred_return(system, tx, users, clock):
    case = Case.start(system, tx)
    case.do("tim", "submit")
    case.do("admin", "terima")
    assert case.do("wapimred", "wapimred_kembalikan") == ["Task_Serahkan"]
    clock.advance(hours=2)
    _publish(case)
    _assert_matches(_replay(system, tx, case.instance_id))


def test_revision_loop(system, tx, users, clock):
    case = Case.start(system, tx)
    case.do("tim", "submit")
    case.do("admin", "terima")
    for _round in range(3):
        clock.advance(minutes=30)
        case.do("wapimred", "koreksi")
        assert case.do("pimred", "revisi") == ["Task_Koreksi"]
    case.do("wapimred", "koreksi")
    case.do("pimred", "setuju")
    case.do("admin", "unggah")
    result = _replay(system, tx, case.instance_id)
    _assert_matches(result)
    assert sum(1 for st in result.steps if st.bpmn_id == "Task_Putuskan") == 4


def test_tolak_ends_the_case(system, tx, users):
    case = Case.start(system, tx)
    for who, form in (("tim", "submit"), ("admin", "terima"), ("wapimred", "koreksi"), ("pimred", "tolak")):
        case.do(who, form)
    result = _replay(system, tx, case.instance_id)
    _assert_matches(result)
    assert result.steps[-2].actual["end"] == "EndEvent_Ditolak"
    assert result.steps[-1].expected == {"status": "completed", "end": "EndEvent_Ditolak", "ready": []}


def test_overdue_fired_by_the_worker(system, tx, users, clock):
    case = Case.start(system, tx)
    case.do("tim", "submit")
    clock.set(datetime(2025, 5, 8, 9, 0, tzinfo=WIB))  # step 2 was due 7 May 23:59:59 WIB
    with tx() as s:
        assert system.timers.fire_due_timers(s)
    clock.advance(hours=1)
    for who, form in (("admin", "terima"), ("wapimred", "koreksi"), ("pimred", "setuju"), ("admin", "unggah")):
        case.do(who, form)
    result = _replay(system, tx, case.instance_id)
    _assert_matches(result)
    tick = next(st for st in result.steps if st.type == "timer")
    assert tick.actual["timers"] == ["Timer_Terima"] and tick.actual["overdue"] == ["Task_Terima"]
    assert tick.at == datetime(2025, 5, 8, 9, 0, tzinfo=WIB)
    terima = next(st for st in result.steps if st.bpmn_id == "Task_Terima")
    assert terima.expected["late"] is True and terima.actual["late"] is True


def test_late_completion_without_a_sweep(system, tx, users, clock):
    """The deadline passed with no worker running: the completion fires the timer first, as live."""
    case = Case.start(system, tx)
    clock.set(datetime(2025, 5, 9, 10, 0, tzinfo=WIB))  # step 1 was due 7 May 23:59:59 WIB
    case.do("tim", "submit")
    result = _replay(system, tx, case.instance_id)
    _assert_matches(result)
    tick = next(st for st in result.steps if st.type == "timer")
    assert tick.actual["overdue"] == ["Task_Serahkan"]
    serahkan = next(st for st in result.steps if st.bpmn_id == "Task_Serahkan")
    assert serahkan.actual["late"] is True


def test_migrated_case_continues_on_the_new_version(system, tx, users, clock):
    from engine.changes import summarize_changes
    from tests.conftest import DIAGRAM
    from tests.test_migration import version2

    case = Case.start(system, tx)
    case.do("tim", "submit")
    case.do("admin", "terima")
    with tx() as s:
        v2 = system.engine.deploy(s, version2(), actor="owner",
                                       summary=summarize_changes(DIAGRAM.read_bytes(), version2()))
    clock.advance(hours=2)
    with tx() as s:
        system.engine.migrate(s, case.instance_id, v2, actor="owner")
    clock.advance(hours=1)
    case.do("wapimred", {**FORMS["koreksi"], "sumber_foto": "Arsip humas"})
    case.do("pimred", "setuju")
    case.do("admin", "unggah")
    result = _replay(system, tx, case.instance_id)
    _assert_matches(result)
    migrated = next(st for st in result.steps if st.type == "case_migrated")
    assert "version 2" in migrated.note
    # The new deadline (submission day + 2) is what was recorded and what the replay reaches.
    assert migrated.actual["ready"] == ["Task_Koreksi@2025-05-08T16:59:59+00:00"]


def test_a_changed_decision_is_caught_and_named(system, tx, users):
    case = Case.start(system, tx)
    case.do("tim", "submit")
    case.do("admin", "terima")
    case.do("wapimred", "koreksi")
    case.do("pimred", "revisi")
    case.do("wapimred", "koreksi")
    case.do("pimred", "setuju")
    _assert_matches(_replay(system, tx, case.instance_id))
    decisions = [seq for seq, data in _events(tx, case.instance_id, "task_completed")
                 if data["bpmn_id"] == "Task_Putuskan"]
    with tx() as s:
        s.execute(text("UPDATE event SET payload = REPLACE(payload, :old, :new) WHERE seq = :seq"),
                  {"old": '"keputusan_pimred":"revisi"', "new": '"keputusan_pimred":"setuju"', "seq": decisions[0]})
    result = _replay(system, tx, case.instance_id)
    assert not result.matches
    first = result.first_mismatch
    assert first.seq == decisions[0] and first.type == "task_completed" and first.bpmn_id == "Task_Putuskan"
    assert "ready" in first.differences
    assert first.expected["ready"][0].startswith("Task_Koreksi") and first.actual["ready"][0].startswith("Task_Unggah")
    # The chain check names the same row.
    with tx() as s:
        assert eventlog.verify(s).first_bad_seq == decisions[0]


def test_a_moved_completion_time_is_caught(system, tx, users, clock):
    """Backdating an event's time is also a different history: the deadline then did not fire."""
    case = Case.start(system, tx)
    clock.set(datetime(2025, 5, 9, 10, 0, tzinfo=WIB))
    case.do("tim", "submit")
    (seq, _data), = _events(tx, case.instance_id, "task_completed")
    with tx() as s:
        row = s.get(EventRow, seq)
        row.at = row.at - timedelta(days=3)
    result = _replay(system, tx, case.instance_id)
    assert not result.matches and result.first_mismatch.seq == seq
    assert "late" in result.first_mismatch.differences


def test_a_stored_state_that_differs_from_the_history_is_caught(system, tx, users):
    case = Case.start(system, tx)
    case.do("tim", "submit")
    with tx() as s:
        s.get(Instance, case.instance_id).end_event = "EndEvent_Ditolak"
    result = _replay(system, tx, case.instance_id)
    assert not result.matches and result.first_mismatch.type == "projection"


def test_states_fold_holders_data_and_deadlines(system, tx, users, clock):
    case = Case.start(system, tx)
    with tx() as s:
        system.tasks.claim(s, user(s, "tim"), case.task_id)
        system.tasks.delegate(s, user(s, "tim"), case.task_id, "tim2")
    clock.set(datetime(2025, 5, 8, 9, 0, tzinfo=WIB))
    with tx() as s:
        system.timers.fire_due_timers(s)
    case.do("tim2", "submit", claim=False)
    case.do("admin", "admin_kembalikan")
    with tx() as s:
        steps = states(s, case.instance_id)
    by_type = {}
    for st in steps:
        by_type.setdefault(st.type, []).append(st)
    assert [st.n for st in steps] == list(range(1, len(steps) + 1))
    assert list(by_type["task_claimed"][0].holders.values()) == ["tim"]
    assert list(by_type["task_delegated"][0].holders.values()) == ["tim2"]
    overdue = by_type["overdue"][0]
    assert overdue.active == ["Task_Serahkan"] and overdue.overdue == ["Task_Serahkan"]
    submitted = by_type["task_completed"][0]
    assert submitted.completed == ["Task_Serahkan"] and submitted.active == []
    assert submitted.data["narasi"].startswith("KPU") and len(submitted.data["foto"]) == 4
    assert all(len(f["sha256"]) == 64 for f in submitted.data["foto"])  # every file by its SHA-256
    serahkan = next(t for t in submitted.tasks if t.bpmn_id == "Task_Serahkan")
    assert serahkan.deadline_met() is False
    # The admin's return puts step 1 back: active again, not done; late at once, since its deadline (activity
    # day + 1) has passed, and its timer fires in the same action.
    returned = by_type["task_completed"][1]
    after = steps[returned.n]  # the new step-1 task is ready in the same action
    assert after.type == "task_ready" and after.active == ["Task_Serahkan"]
    assert "Task_Serahkan" not in after.completed and after.overdue == ["Task_Serahkan"]
    assert steps[returned.n + 1].type == "timer_fired"
    assert returned.data["keputusan_admin"] == "dikembalikan"


def test_returns_and_notifications_are_events(system, tx, users):
    case = Case.start(system, tx)
    case.do("tim", "submit")
    case.do("admin", "admin_kembalikan")
    (seq, returned), = _events(tx, case.instance_id, "task_returned")
    assert returned == {"bpmn_id": "Task_Terima", "name": returned["name"], "decision": "dikembalikan",
                        "response": FORMS["admin_kembalikan"]["tanggapan_admin"], "to": ["Task_Serahkan"]}
    sent = [data for _seq, data in _events(tx, case.instance_id, "notification_sent")]
    assert {"kind": "returned", "recipients": ["tim", "tim2"], "bpmn_id": "Task_Serahkan"} in sent
    assert {(d["kind"], who) for d in sent for who in d["recipients"]} >= {("task_ready", "admin"),
                                                                           ("returned", "tim")}
    with tx() as s:
        assert eventlog.verify(s).ok
    _assert_matches(_replay(system, tx, case.instance_id))


def test_cli_replay(system, tx, users, monkeypatch, settings):
    from ops.cli import main

    case = Case.start(system, tx)
    case.do("tim", "submit")
    case.do("admin", "terima")
    monkeypatch.setenv("ALUR_DATABASE_URL", settings.database_url)
    runner = CliRunner()
    listed = runner.invoke(main, ["audit", "replay", str(case.instance_id)])
    assert listed.exit_code == 0, listed.output
    assert "task_completed" in listed.output and "active: Task_Koreksi" in listed.output
    ok = runner.invoke(main, ["audit", "replay", str(case.instance_id), "--verify"])
    assert ok.exit_code == 0, ok.output
    assert "MISMATCH" not in ok.output and ok.output.count("MATCH") >= 4
    (seq, _data), = [e for e in _events(tx, case.instance_id, "task_completed") if e[1]["bpmn_id"] == "Task_Terima"]
    with tx() as s:
        s.execute(text("UPDATE event SET payload = REPLACE(payload, :old, :new) WHERE seq = :seq"),
                  {"old": '"keputusan_admin":"diterima"', "new": '"keputusan_admin":"dikembalikan"', "seq": seq})
    bad = runner.invoke(main, ["audit", "replay", str(case.instance_id), "--verify"])
    assert bad.exit_code == 1 and f"MISMATCH at event #{seq}" in bad.output
    # Errors are printed in the operator's language (ALUR_LANG, else LANG; Bahasa Indonesia by default).
    missing = runner.invoke(main, ["audit", "replay", "9999", "--verify"], env={"ALUR_LANG": "", "LANG": "C"})
    assert missing.exit_code != 0 and "Kasus #9999 tidak ada." in missing.output
    missing = runner.invoke(main, ["audit", "replay", "9999", "--verify"], env={"ALUR_LANG": "en"})
    assert missing.exit_code != 0 and "Case #9999 does not exist." in missing.output

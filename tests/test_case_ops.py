"""A lead reassigns a waiting task, a case is cancelled with a written reason, people comment on a case
(process/caseops.py): each recorded in the hash-chained log, shown in replay, told to the people concerned once."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from lxml import etree
from sqlalchemy import func, select

from engine import eventlog
from engine.errors import NotFound, TaskNotReady
from engine.models import EventRow, Instance, TaskRow
from engine.replay import replay, states
from process.errors import BadRequest, NotPermitted
from process.exports import events_xes
from process.models import DeadlineReminder, Notification
from tests.factories import Case, make_users, user


@pytest.fixture
def users(system, tx):
    make_users(system, tx)
    with tx() as s:
        system.people.add_user(s, "root", "rahasia-root", ["admin"], full_name="Admin Sistem")


@pytest.fixture
def case(system, tx, users) -> Case:
    return Case.start(system, tx)


def events(tx, instance_id, type_):
    with tx() as s:
        rows = s.execute(select(EventRow).where(EventRow.instance_id == instance_id, EventRow.type == type_)
                         .order_by(EventRow.seq)).scalars().all()
        return [(r.actor, eventlog.decode(r)) for r in rows]


def notices(tx, username, kind):
    with tx() as s:
        return s.execute(select(Notification).where(Notification.user_id == user(s, username).id,
                                                    Notification.kind == kind)).scalars().all()


def verified(system, tx, instance_id) -> bool:
    with tx() as s:
        result = replay(s, system.engine, instance_id)
        assert result.matches, (result.error, result.first_mismatch)
        return result.matches


# ---------------------------------------------------------------------------------------------- reassign
def test_the_pimred_reassigns_a_held_task_within_the_cases_team(system, tx, case):
    with tx() as s:
        system.tasks.claim(s, user(s, "tim"), case.task_id)
    with tx() as s:
        row = system.caseops.reassign(s, user(s, "pimred"), case.task_id, "tim2", "Tim sedang cuti.")
        assert row.claimed_by == "tim2"
    assert events(tx, case.instance_id, "task_reassigned") == [
        ("pimred", {"bpmn_id": "Task_Serahkan", "name": case.task().name, "from": "tim", "to": "tim2",
                    "reason": "Tim sedang cuti."})]
    told = notices(tx, "tim2", "reassigned")
    assert len(told) == 1 and json.loads(told[0].params)["reason"] == "Tim sedang cuti."
    assert len(notices(tx, "tim", "reassigned_away")) == 1
    assert notices(tx, "pimred", "reassigned") == []
    with tx() as s:
        last = states(s, case.instance_id)[-1]
        assert last.holders == {case.task_id: "tim2"}
        xes = etree.fromstring(events_xes(s, rulebook=system.rules, instance_id=case.instance_id))
    reassigns = [e for e in xes.iter("event")
                 if any(a.get("key") == "lifecycle:transition" and a.get("value") == "reassign" for a in e)]
    assert len(reassigns) == 1
    attrs = {a.get("key"): a.get("value") for a in reassigns[0]}
    assert attrs["org:resource"] == "tim2" and attrs["dialihkan_oleh"] == "pimred"
    assert attrs["pemegang_sebelumnya"] == "tim"
    # The new holder works it; the case still re-executes as recorded.
    case.do("tim2", "submit", claim=False)
    assert verified(system, tx, case.instance_id)


def test_the_administrator_reassigns_a_free_task(system, tx, case):
    case.do("tim", "submit")
    with tx() as s:
        system.caseops.reassign(s, user(s, "root"), case.task_id, "admin")
    assert events(tx, case.instance_id, "task_reassigned")[0][1]["from"] is None
    assert len(notices(tx, "admin", "reassigned")) == 1


@pytest.mark.parametrize(("who", "to", "error", "code"), [
    ("tim", "tim2", NotPermitted, "task.reassign_not_lead"),
    ("wapimred", "tim2", NotPermitted, "task.reassign_not_lead"),
    ("auditor", "tim2", NotPermitted, "task.reassign_not_lead"),
    ("pimred", "tim_lain", BadRequest, "task.reassign_other_team"),
    ("pimred", "admin", BadRequest, "task.reassign_outside_lane"),
    ("pimred", "nobody", BadRequest, "task.reassign_unknown_user"),
    ("pimred", "", BadRequest, "task.choose_reassignee"),
    ("pimred", "tim", BadRequest, "task.reassign_same_holder"),
])
def test_reassigning_is_refused_with_the_reason(system, tx, case, who, to, error, code):
    with tx() as s:
        system.tasks.claim(s, user(s, "tim"), case.task_id)
    with tx() as s, pytest.raises(error) as refused:
        system.caseops.reassign(s, user(s, who), case.task_id, to)
    assert refused.value.code == code
    assert events(tx, case.instance_id, "task_reassigned") == []


def test_reassigning_to_an_inactive_person_or_a_finished_task_is_refused(system, tx, case):
    with tx() as s:
        system.people.deactivate(s, user(s, "tim2"))
    with tx() as s, pytest.raises(BadRequest) as refused:
        system.caseops.reassign(s, user(s, "pimred"), case.task_id, "tim2")
    assert refused.value.code == "task.reassign_inactive"
    first = case.task_id
    case.do("tim", "submit")
    with tx() as s, pytest.raises(TaskNotReady) as refused:
        system.caseops.reassign(s, user(s, "pimred"), first, "tim")
    assert refused.value.code == "task.reassign_not_ready"
    with tx() as s, pytest.raises(NotFound):
        system.caseops.reassign(s, user(s, "pimred"), "no-such-task", "tim")


# ------------------------------------------------------------------------------------------------ cancel
def test_the_pimred_cancels_a_case_its_timers_never_fire(system, tx, clock, case):
    case.do("tim", "submit")
    with tx() as s:
        system.tasks.claim(s, user(s, "admin"), case.task_id)
        instance = s.get(Instance, case.instance_id)
        assert instance.next_timer_at is not None
        assert s.execute(select(func.count()).select_from(DeadlineReminder)).scalar() >= 1
        due = instance.next_timer_at
    with tx() as s:
        system.caseops.cancel(s, user(s, "pimred"), case.instance_id, "  Kegiatan batal diliput.\r\nDiganti.  ")
    with tx() as s:
        instance = s.get(Instance, case.instance_id)
        assert (instance.status, instance.next_timer_at) == ("cancelled", None)
        assert instance.completed_at == clock.now()
        rows = s.execute(select(TaskRow).where(TaskRow.instance_id == case.instance_id)).scalars().all()
        assert {r.state for r in rows} == {"completed", "cancelled"}
        assert s.execute(select(func.count()).select_from(DeadlineReminder)).scalar() == 0
    [(actor, data)] = events(tx, case.instance_id, "case_cancelled")
    assert actor == "pimred" and data["reason"] == "Kegiatan batal diliput.\nDiganti."
    assert [t["claimed_by"] for t in data["tasks"]] == ["admin"]
    assert len(events(tx, case.instance_id, "task_cancelled")) == 1
    assert len(notices(tx, "admin", "case_cancelled")) == 1
    assert notices(tx, "pimred", "case_cancelled") == []
    # The worker never fires the cancelled case's deadline.
    clock.set(due + timedelta(days=30))
    with tx() as s:
        assert system.engine.due_instance_ids(s, clock.now()) == []
        assert system.engine.fire_due_timers(s) == []
        assert system.engine.next_timer_at(s) is None
    assert events(tx, case.instance_id, "timer_fired") == []
    assert events(tx, case.instance_id, "overdue") == []
    with tx() as s:
        assert states(s, case.instance_id)[-1].status == "cancelled"
    assert verified(system, tx, case.instance_id)


def test_a_cancelled_case_refuses_every_further_action(system, tx, case):
    with tx() as s:
        system.caseops.cancel(s, user(s, "root"), case.instance_id, "Salah input.")
    for action in (lambda s: system.tasks.claim(s, user(s, "tim"), case.task_id),
                   lambda s: system.tasks.complete(s, user(s, "tim"), case.task_id, {}),
                   lambda s: system.caseops.cancel(s, user(s, "pimred"), case.instance_id, "Lagi."),
                   lambda s: system.caseops.reassign(s, user(s, "pimred"), case.task_id, "tim2")):
        with tx() as s, pytest.raises(TaskNotReady) as refused:
            action(s)
        assert refused.value.code == "case.cancelled"
        assert refused.value.params["reason"] == "Salah input."
    with tx() as s, pytest.raises(TaskNotReady) as refused:
        system.caseops.comment(s, user(s, "tim"), case.instance_id, "Halo")
    assert refused.value.code == "case.cancelled"
    assert len(events(tx, case.instance_id, "case_cancelled")) == 1


def test_the_creator_withdraws_a_case_until_step_one_is_handed_in(system, tx, users):
    first = Case.start(system, tx)
    with tx() as s, pytest.raises(NotPermitted) as refused:
        system.caseops.cancel(s, user(s, "tim2"), first.instance_id, "Bukan kasus saya.")
    assert refused.value.code == "case.cancel_not_permitted"
    with tx() as s:
        system.caseops.cancel(s, user(s, "tim"), first.instance_id, "Dibuat dua kali.")
    second = Case.start(system, tx)
    second.do("tim", "submit")
    with tx() as s, pytest.raises(NotPermitted) as refused:
        system.caseops.cancel(s, user(s, "tim"), second.instance_id, "Terlambat.")
    assert refused.value.code == "case.cancel_handed_in"
    for who in ("auditor", "wapimred", "owner"):
        with tx() as s, pytest.raises(NotPermitted):
            system.caseops.cancel(s, user(s, who), second.instance_id, "Tidak boleh.")


@pytest.mark.parametrize("reason", ["", "   ", None, "x" * 1001, 42])
def test_a_cancellation_needs_a_written_reason(system, tx, case, reason):
    with tx() as s, pytest.raises(BadRequest):
        system.caseops.cancel(s, user(s, "pimred"), case.instance_id, reason)
    with tx() as s:
        assert s.get(Instance, case.instance_id).status == "running"


# ---------------------------------------------------------------------------------------------- comments
def test_a_comment_is_recorded_listed_and_told_to_the_participants_once(system, tx, case):
    case.do("tim", "submit")  # tim opened the case and handed in step 1
    with tx() as s:
        system.tasks.claim(s, user(s, "admin"), case.task_id)  # admin holds step 2
    with tx() as s:
        system.caseops.comment(s, user(s, "wapimred"), case.instance_id, "Mohon foto\nyang lebih terang <b>.")
    [(actor, data)] = events(tx, case.instance_id, "case_commented")
    assert actor == "wapimred" and data == {"text": "Mohon foto\nyang lebih terang <b>."}
    assert len(notices(tx, "tim", "commented")) == 1
    assert len(notices(tx, "admin", "commented")) == 1
    assert notices(tx, "wapimred", "commented") == []
    assert notices(tx, "tim2", "commented") == []
    with tx() as s:
        system.caseops.comment(s, user(s, "tim"), case.instance_id, "Baik, segera.")
    assert len(notices(tx, "wapimred", "commented")) == 1  # an earlier commenter
    assert len(notices(tx, "tim", "commented")) == 1  # not told of their own
    with tx() as s:
        listed = system.caseops.comments(s, user(s, "pimred"), case.instance_id)
        assert [(c.actor, c.text) for c in listed] == [("wapimred", "Mohon foto\nyang lebih terang <b>."),
                                                       ("tim", "Baik, segera.")]
        assert all(c.seq is not None for c in listed)
        assert eventlog.verify(s).ok
    assert verified(system, tx, case.instance_id)


@pytest.mark.parametrize(("who", "text", "error"), [
    ("auditor", "Catatan", NotPermitted),
    ("tim_lain", "Catatan", NotPermitted),  # another team's case: not visible
    ("tim", "", BadRequest),
    ("tim", "x" * 2001, BadRequest),
    ("tim", "a\x00b", BadRequest),
])
def test_comments_refused(system, tx, case, who, text, error):
    with tx() as s, pytest.raises(error):
        system.caseops.comment(s, user(s, who), case.instance_id, text)
    assert events(tx, case.instance_id, "case_commented") == []


def test_the_command_line_verifies_a_case_reassigned_commented_and_cancelled(system, tx, case, cli):
    with tx() as s:
        system.caseops.reassign(s, user(s, "pimred"), case.task_id, "tim2", "Cuti")
    case.do("tim2", "submit", claim=False)
    with tx() as s:
        system.caseops.comment(s, user(s, "admin"), case.instance_id, "Foto kurang terang.")
    with tx() as s:
        system.caseops.cancel(s, user(s, "pimred"), case.instance_id, "Kegiatan ditunda.")
    result = cli("audit", "replay", str(case.instance_id), "--verify")
    assert result.exit_code == 0, result.output
    assert "case_cancelled" in result.output and "MISMATCH" not in result.output
    listing = cli("audit", "replay", str(case.instance_id))
    assert "task_reassigned" in listing.output and "case_commented" in listing.output

"""A version with a lane "Humas" and a step 5 in it between the decision and the upload (now step 6), as issue 15's
process owner adds it (tests/humas_diagram.py; the browser test tests/browser/test_humas_lane.py draws it in the
modeler): deployed through the service layer once the group exists, a case goes through it, and what the product
says about steps follows the declarations — the new lane's group gets the task and, when it is late, the notice; its
written response is listed; the recap and the deadline-collision report name the steps of the case's version."""
from __future__ import annotations

from datetime import date, datetime

import pytest
from lxml import etree
from sqlalchemy import select

from engine.errors import InvalidDefinition
from engine.models import TaskRow
from process import modeling, records
from process.compliance import collision_steps, collisions
from process.deadlines import WIB
from process.exports import events_xes
from process.messages import render
from process.models import Notification
from process.records import Period
from tests.factories import Case, make_users, user
from tests.humas_diagram import HUMAS_TASK, UPLOAD_TASK, declared_with_humas


def _deploy(system, tx) -> None:
    xml = declared_with_humas()
    with tx() as s:
        with pytest.raises(InvalidDefinition) as refused:
            modeling.deploy(s, system, user(s, "owner"), xml)
    assert [(p.element_id, p.code, p.params) for p in refused.value.problems] == [
        ("Lane_Humas", "lane.no_group", {"lane": "Humas", "group": "humas"})]
    with tx() as s:
        owner = user(s, "owner")
        modeling.add_group(s, system, owner, "humas", "Humas")
        system.people.add_user(s, "rina", "rahasia-rina", groups=["humas"])
        definition, summary = modeling.deploy(s, system, owner, xml)
    assert definition.version == 2
    said = [render(m["code"], m["params"], "id") for m in summary["rules"]]
    assert f"Langkah \u201c{HUMAS_TASK}\u201d kini bernomor 5." in said
    assert f"Nomor langkah \u201c{UPLOAD_TASK}\u201d: 5 \u2192 6." in said


def test_a_case_goes_through_the_humas_step_and_the_reports_follow_the_new_numbers(system, tx, clock):
    make_users(system, tx)
    _deploy(system, tx)
    case = Case.start(system, tx, nama="Sosialisasi Tahapan Pilkada")
    for who, form in (("tim", "submit"), ("admin", "terima"), ("wapimred", "koreksi")):
        case.do(who, form)
    clock.advance(hours=1)
    assert case.do("pimred", "setuju") == ["Task_Humas"]
    humas = case.task()
    assert humas.lane == "Humas"
    assert humas.due_at.astimezone(WIB) == datetime(2025, 5, 8, 23, 59, 59, tzinfo=WIB)  # 2 working days
    with tx() as s:
        told = s.execute(select(Notification.kind).where(Notification.user_id == user(s, "rina").id)).scalars().all()
        assert told == ["task_ready"]  # the new group hears of its task

    # Late: the Humas member and the Pimpinan Redaksi (told of every late step) hear of it.
    clock.set(datetime(2025, 5, 9, 9, 0, tzinfo=WIB))
    with tx() as s:
        assert system.timers.fire_due_timers(s)
        overdue = {u for (u,) in s.execute(
            select(Notification.user_id).where(Notification.kind == "overdue"))}
        assert overdue == {user(s, "rina").id, user(s, "pimred").id}

    case.do("rina", {"catatan_humas": "Sesuai pedoman kehumasan."})
    assert case.task().bpmn_id == "Task_Unggah"
    case.do("admin", "unggah")

    may = Period(date(2025, 5, 1), date(2025, 5, 31))
    with tx() as s:
        (responses,) = records.written_responses(s, may, rulebook=system.rules)
        assert [(r.step, r.decision, r.text) for r in responses.responses][-1] == (
            5, None, "Sesuai pedoman kehumasan.")
        recap = records.recap(s, may, system.rules, system.settings.platforms)
        assert recap.cases == 1 and recap.steps == ("6 \u201cPengunggahan\u201d",)

        decl = system.rules.of_instance(s, case.instance_id)
        steps = collision_steps(decl)
        assert (steps.submit.number, [r.number for r in steps.review], steps.decide.number, steps.upload.number) == (
            1, [2, 3, 4, 5], 4, 6)  # the note of Humas decides nothing: the decision stays step 4's
        (collision,) = collisions(s, rulebook=system.rules, date_from=date(2025, 5, 1), date_to=date(2025, 5, 31))
        decided = s.execute(select(TaskRow.completed_at).where(
            TaskRow.instance_id == case.instance_id, TaskRow.bpmn_id == decl.numbered[3].bpmn_id)).scalar_one()
        assert collision.decided_at == decided
        assert collision.review_due.astimezone(WIB) == datetime(2025, 5, 8, 23, 59, 59, tzinfo=WIB)

        # The auditor's event log names the new step by its number.
        xes = etree.fromstring(events_xes(s, rulebook=system.rules, instance_id=case.instance_id))
        steps_seen = {e.find("string[@key='concept:name']").get("value"): e.find("int[@key='langkah']")
                      .get("value") for e in xes.iter("event")
                      if e.find("int[@key='langkah']") is not None}
        assert steps_seen[HUMAS_TASK] == "5" and steps_seen[UPLOAD_TASK] == "6"

"""Issue 18: who holds a step without asking. The case's creator holds its first step; a step a return sends the
case back to goes to whoever last handed it in (if still active and in the lane), told once; Pimred's revisi_tim
goes back to the team in one hop; claiming what one holds changes nothing."""
from __future__ import annotations

from sqlalchemy import select

from engine.models import EventRow, TaskRow
from process.models import Notification
from tests.factories import FORMS, Case, make_users, user

REVISI_TIM = {"keputusan_pimred": "revisi_tim", "pertimbangan": "Narasi perlu dilengkapi oleh tim."}


def _row(tx, task_id) -> TaskRow:
    with tx() as s:
        return s.get(TaskRow, task_id)


def _claims(tx, instance_id) -> list[tuple[str, str | None]]:
    from engine import eventlog
    with tx() as s:
        rows = s.execute(select(EventRow).where(EventRow.instance_id == instance_id, EventRow.type == "task_claimed")
                         .order_by(EventRow.seq)).scalars().all()
        return [(r.actor, eventlog.decode(r).get("reason")) for r in rows]


def test_the_creator_holds_step1_and_claiming_again_changes_nothing(system, tx):
    make_users(system, tx)
    case = Case.start(system, tx)
    assert _row(tx, case.task_id).claimed_by == "tim"
    assert _claims(tx, case.instance_id) == [("tim", "case_started")]
    with tx() as s:
        system.tasks.claim(s, user(s, "tim"), case.task_id)
    assert _claims(tx, case.instance_id) == [("tim", "case_started")]
    case.do("tim", "submit")


def test_a_return_goes_back_to_who_handed_it_in_told_once(system, tx):
    make_users(system, tx)
    case = Case.start(system, tx)
    with tx() as s:  # tim2 hands step 1 in
        system.tasks.delegate(s, user(s, "tim"), case.task_id, "tim2")
    case.do("tim2", "submit", claim=False)
    case.do("admin", "terima")
    case.do("wapimred", "koreksi")
    with tx() as s:
        seen = {u: s.execute(select(Notification.id).where(Notification.user_id == user(s, u).id)).scalars().all()
                for u in ("tim", "tim2")}
    names = case.do("pimred", REVISI_TIM)
    assert names == ["Task_Serahkan"]  # one hop back to the team
    assert _row(tx, case.task_id).claimed_by == "tim2"
    assert _claims(tx, case.instance_id)[-1] == ("tim2", "returned")
    with tx() as s:
        for u in ("tim", "tim2"):
            new = s.execute(select(Notification.kind).where(Notification.user_id == user(s, u).id,
                                                            Notification.id.not_in(seen[u]))).scalars().all()
            assert new == ["returned"], u  # the team is told once, with the written response


def test_a_return_waits_in_the_lane_when_who_handed_it_in_left(system, tx):
    make_users(system, tx)
    case = Case.start(system, tx)
    case.do("tim", "submit")
    with tx() as s:
        user(s, "tim").active = False
    case.do("admin", "admin_kembalikan")
    assert _row(tx, case.task_id).claimed_by is None


def test_revisi_goes_back_to_the_wapimred_who_corrected(system, tx):
    make_users(system, tx)
    case = Case.start(system, tx)
    case.do("tim", "submit")
    case.do("admin", "terima")
    case.do("wapimred", "koreksi")
    assert case.do("pimred", FORMS["revisi"]) == ["Task_Koreksi"]
    assert _row(tx, case.task_id).claimed_by == "wapimred"


def test_the_previous_round_is_the_texts_as_the_step_left_them():
    from tests.factories import bundled_rules
    from webui.taskforms import text_diffs, until_last_round

    rules = bundled_rules()
    completions = [("Task_Serahkan", {"narasi": "satu", "caption": "a"}),
                   ("Task_Koreksi", {"narasi_koreksi": "satu dua", "caption_koreksi": "a b"}),
                   ("Task_Putuskan", {"keputusan_pimred": "revisi_tim"}),
                   ("Task_Serahkan", {"narasi": "satu dua tiga", "caption": "a b"}),
                   ("Task_Koreksi", {"narasi_koreksi": "satu dua tiga", "caption_koreksi": "a b c"})]
    assert until_last_round(completions, "Task_Unggah") is None  # never done: no previous round
    since = until_last_round(completions, "Task_Putuskan")
    submissions = [data for _step, data in completions]
    first = {"narasi": "satu", "caption": "a"}
    by_round = {d.key: (d.first, d.latest) for d in text_diffs(rules, first, submissions, since)}
    assert by_round == {"narasi": ("satu dua", "satu dua tiga"), "caption": ("a b", "a b c")}
    by_first = {d.key: (d.first, d.latest) for d in text_diffs(rules, first, submissions)}
    assert by_first == {"narasi": ("satu", "satu dua tiga"), "caption": ("a", "a b c")}

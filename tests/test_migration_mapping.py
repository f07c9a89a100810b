"""Cases waiting on a step whose id a new version lacks (a renamed step) move only by an explicit mapping in the
migration plan, never by a guess: the engine, the service, the page, the API and the replay of such a move."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from html import unescape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from SpiffWorkflow.bpmn.util.diff import diff_workflow
from sqlalchemy import select

from engine import eventlog
from engine.errors import MigrationRefused
from engine.models import Definition, EventRow, Instance, TaskRow
from engine.replay import replay
from process import modeling
from process.casefile import case_view
from process.errors import SelfApproval
from process.records import written_responses
from tests.conftest import DIAGRAM
from tests.factories import Case, make_users, user
from tests.test_api import Api
from tests.test_definitions import NS

#: The bundled diagram's user tasks in the order a case meets them, with the form that moves each one on.
HAPPY_PATH = (("Task_Serahkan", "tim", "submit"), ("Task_Terima", "admin", "terima"),
              ("Task_Koreksi", "wapimred", "koreksi"), ("Task_Putuskan", "pimred", "setuju"),
              ("Task_Unggah", "admin", "unggah"))
WIB = timezone(timedelta(hours=7))
ALUR = "urn:alur-medsos:bpmn:1"


def renamed(renames: dict[str, str], xml: str | None = None) -> bytes:
    """The bundled diagram with these element ids renamed everywhere they are referred to (flows, lanes,
    declarations, the drawing)."""
    xml = DIAGRAM.read_text(encoding="utf-8") if xml is None else xml
    for old, new in renames.items():
        xml = re.sub(rf"(?<![\w.-]){re.escape(old)}(?![\w.-])", new, xml)
    return xml.encode()


def cek_version() -> bytes:
    """Step 3 renamed (Task_Koreksi → Task_Cek, its timer too), with a later deadline (two days instead of one)."""
    xml = renamed({"Task_Koreksi": "Task_Cek", "Timer_Koreksi": "Timer_Cek"}).decode()
    return xml.replace("akhir_hari(tanggal_pengumpulan, 1)", "akhir_hari(tanggal_pengumpulan, 2)").encode()


def deploy(system, tx, xml: bytes) -> Definition:
    with tx() as s:
        definition, _summary = modeling.deploy(s, system, user(s, "owner"), xml)
        return definition


def at_step3_claimed(system, tx) -> Case:
    case = Case.start(system, tx)
    for _task, who, form in HAPPY_PATH[:2]:
        case.do(who, form)
    with tx() as s:
        system.tasks.claim(s, user(s, "wapimred"), case.task_id)
    return case


def text(resp) -> str:
    return unescape(re.sub(r"\s+", " ", resp.get_data(as_text=True)))


def assert_replays(system, tx, instance_id: int) -> None:
    with tx() as s:
        result = replay(s, system.engine, instance_id)
    bad = [(st.seq, st.type, st.note, st.differences) for st in result.steps if not st.match]
    assert result.matches, f"{result.error}: {bad}"
    assert "case_migrated" in [st.type for st in result.steps]


@pytest.fixture
def users(system, tx):
    make_users(system, tx)


# --------------------------------------------------------------------------------------------------
# Engine and service
# --------------------------------------------------------------------------------------------------


def test_a_case_at_a_renamed_step_moves_by_the_mapping_and_finishes_on_the_new_version(system, tx, users, login):
    case = at_step3_claimed(system, tx)
    before = case.task()
    v2 = deploy(system, tx, cek_version())
    with tx() as s:
        check = system.engine.check_migration(s, s.get(Instance, case.instance_id), v2)
        assert not check.can_move and [(t.bpmn_id, t.lane) for t in check.removed] == [
            ("Task_Koreksi", "Wakil Pimpinan Redaksi")]
        assert [(r.element_id, r.code, r.element_name) for r in check.reasons] == [
            ("Task_Koreksi", "migration.task_removed", "Mengontrol dan mengoreksi hasil dokumentasi dan konten")]
        choices = system.engine.mapping_choices(v2, check.removed[0])
        assert [(c.bpmn_id, c.same_name) for c in choices] == [("Task_Cek", True)]  # a hint; nothing is chosen

    with tx() as s:
        outcome = modeling.migrate(s, system, user(s, "owner"), v2, [case.instance_id], {"Task_Koreksi": "Task_Cek"})
    assert outcome == {"moved": [case.instance_id], "refused": []}

    after = case.task()  # the same task: its id, holder and creation; the new step's id and deadline
    assert (after.id, after.claimed_by, after.created_at, after.state) == (
        before.id, "wapimred", before.created_at, "ready")
    assert after.bpmn_id == "Task_Cek" and after.name == before.name and after.lane == before.lane
    assert after.due_at == datetime(2025, 5, 8, 23, 59, 59, tzinfo=WIB) and after.due_at > before.due_at
    with tx() as s:
        assert s.get(Instance, case.instance_id).definition_id == v2.id
        migrated = s.execute(select(EventRow).where(EventRow.instance_id == case.instance_id,
                                                    EventRow.type == "case_migrated")).scalar_one()
        data = eventlog.decode(migrated)
        assert data["mapping"] == {"Task_Koreksi": "Task_Cek"}
        assert [(r["task_id"], r["bpmn_id"]) for r in data["ready"]] == [(before.id, "Task_Cek")]

    # The inbox and the task page know the step by the new version's declarations.
    wapimred = login("wapimred")
    assert f"/tugas/{after.id}" in text(wapimred.get("/kotak-tugas?tab=mine"))
    page = text(wapimred.get(f"/tugas/{after.id}"))
    assert "Langkah 3 dari 5" in page and "Mengontrol dan mengoreksi hasil dokumentasi dan konten" in page

    assert case.do("wapimred", "koreksi", claim=False) == ["Task_Putuskan"]  # held since before the move
    for _task, who, form in HAPPY_PATH[3:]:
        case.do(who, form)
    with tx() as s:
        instance = s.get(Instance, case.instance_id)
        assert instance.status == "completed" and instance.end_event == "EndEvent_Dipublikasikan"
    assert_replays(system, tx, case.instance_id)
    history = text(login("auditor").get(f"/audit/kasus/{case.instance_id}/replay"))
    assert ("Kasus dipindahkan dari versi 1 ke versi 2. Langkah yang dipetakan: Task_Koreksi \u2192 Task_Cek."
            in history)


def test_without_a_mapping_the_case_stays_and_the_refusal_names_the_step(system, tx, users):
    case = at_step3_claimed(system, tx)
    v2 = deploy(system, tx, cek_version())
    with tx() as s:
        outcome = modeling.migrate(s, system, user(s, "owner"), v2, [case.instance_id])
    assert outcome["moved"] == []
    [problem] = outcome["refused"][0]["problems"]
    assert (problem.element_id, problem.code, problem.element_name) == (
        "Task_Koreksi", "migration.task_removed", "Mengontrol dan mengoreksi hasil dokumentasi dan konten")
    with pytest.raises(MigrationRefused), tx() as s:  # the engine's own rule, whoever calls it
        system.engine.migrate(s, case.instance_id, v2, actor="owner")
    with tx() as s:
        assert s.get(Instance, case.instance_id).definition_id != v2.id
    assert case.task().bpmn_id == "Task_Koreksi"


@pytest.mark.parametrize("mapping, code", [
    ({"Task_Terima": "Task_Cek"}, "migration.mapping_unknown"),  # not a removed step any case waits on
    ({"Task_Koreksi": "Task_Tidak_Ada"}, "migration.mapping_target_missing"),
    ({"Task_Koreksi": "Gateway_HasilKoreksi"}, "migration.mapping_target_kind"),  # not a user task
    ({"Task_Koreksi": "Task_Putuskan"}, "migration.mapping_other_lane"),  # the Pimred's step
])
def test_a_bad_mapping_refuses_the_whole_request(system, tx, users, mapping, code):
    case = at_step3_claimed(system, tx)
    waiting = Case.start(system, tx)  # would move by itself, but nothing moves when the mapping is wrong
    v2 = deploy(system, tx, cek_version())
    with pytest.raises(MigrationRefused) as info, tx() as s:
        modeling.migrate(s, system, user(s, "owner"), v2, [case.instance_id, waiting.instance_id], mapping)
    assert info.value.code == "plan.mapping_invalid"
    assert [(p.element_id, p.code) for p in info.value.problems] == [(next(iter(mapping)), code)]
    with tx() as s:
        assert {s.get(Instance, i).definition_id for i in (case.instance_id, waiting.instance_id)} != {v2.id}
        # the engine refuses the same entry for the one case, by itself
        check = system.engine.check_migration(s, s.get(Instance, case.instance_id), v2, mapping)
        assert not check.can_move


def test_a_step_with_a_deadline_maps_only_to_a_step_with_one(system, tx, users):
    """Step 3 renamed and, in the new version, without its timer: the old step's deadline has nowhere to go."""
    xml = cek_version().decode()
    start = xml.index('<bpmn:boundaryEvent id="Timer_Cek"')
    timer = xml[start:xml.index("</bpmn:boundaryEvent>", start) + len("</bpmn:boundaryEvent>")]
    # the timer's branch stays (a catch event started by nothing is refused by validation): it hangs off a
    # new timer on step 4 instead
    xml = xml.replace(timer, timer.replace('attachedToRef="Task_Cek"', 'attachedToRef="Task_Putuskan"')
                      .replace('id="Timer_Cek"', 'id="Timer_Cek2"'))
    xml = renamed({"Timer_Cek": "Timer_Cek2"}, xml).decode()
    xml = re.sub(r'(<alur:step number="3"[^>]*?) deadline="required"', r"\1", xml, count=1)  # optional now
    case = at_step3_claimed(system, tx)
    with tx() as s:
        v2 = system.engine.deploy(s, xml.encode(), actor="owner")
        check = system.engine.check_migration(s, s.get(Instance, case.instance_id), v2, {"Task_Koreksi": "Task_Cek"})
        assert [p.code for p in check.reasons] == ["migration.mapping_boundary"]
        assert system.engine.mapping_choices(v2, check.removed[0]) == []


# --------------------------------------------------------------------------------------------------
# The page and the API
# --------------------------------------------------------------------------------------------------


def test_the_migration_page_asks_for_the_mapping_and_never_chooses(system, tx, users, login):
    case = at_step3_claimed(system, tx)
    v2 = deploy(system, tx, cek_version())
    owner = login("owner")
    page = text(owner.get(f"/proses/migrasi/{v2.version}"))
    assert "Langkah yang tidak ada lagi di versi 2" in page
    assert '<select name="peta-Task_Koreksi" id="peta-Task_Koreksi">' in page
    assert '<option value="" selected>— pilih langkah pengganti —</option>' in page
    assert ('<option value="Task_Cek">Mengontrol dan mengoreksi hasil dokumentasi dan konten (Task_Cek) — nama sama '
            'di versi baru</option>') in page  # a hint, not selected
    assert "pindah bila langkahnya dipetakan" in page
    assert f'name="case_ids" value="{case.instance_id}"' in page

    # Not mapped: refused, naming the step
    after = text(owner.post(f"/proses/migrasi/{v2.version}", data={"case_ids": [str(case.instance_id)],
                                                                    "peta-Task_Koreksi": ""}, follow_redirects=True))
    assert (f"Kasus #{case.instance_id} tidak dipindahkan: Tugas \u201cMengontrol dan mengoreksi hasil dokumentasi "
            "dan konten\u201d (Task_Koreksi): Langkah yang sedang ditunggu kasus ini tidak ada di versi 2.") in after
    # Mapped to a step of another lane: 422, the page again with the words and the choice kept
    bad = owner.post(f"/proses/migrasi/{v2.version}", data={"case_ids": [str(case.instance_id)],
                                                             "peta-Task_Koreksi": "Task_Putuskan"})
    assert bad.status_code == 422
    assert "Pemetaan langkah tidak dapat dipakai; tidak ada kasus yang dipindahkan:" in text(bad)
    assert ("<li>Tugas \u201cMengontrol dan mengoreksi hasil dokumentasi dan konten\u201d (Task_Koreksi): Langkah "
            "pengganti \u201cMemberikan keputusan dan pertimbangan atas konten yang akan diunggah\u201d ada di lajur "
            "Pimpinan Redaksi, bukan di lajur Wakil Pimpinan Redaksi seperti langkah yang diganti; pilih langkah di "
            "lajur yang sama.</li>") in text(bad)
    assert case.task().bpmn_id == "Task_Koreksi"
    # Mapped by the owner: moved
    done = owner.post(f"/proses/migrasi/{v2.version}", data={"case_ids": [str(case.instance_id)],
                                                              "peta-Task_Koreksi": "Task_Cek"}, follow_redirects=True)
    assert f"1 kasus dipindahkan ke versi 2: #{case.instance_id}." in text(done)
    assert case.task().bpmn_id == "Task_Cek" and case.task().claimed_by == "wapimred"
    assert_replays(system, tx, case.instance_id)


def test_the_api_plan_lists_the_choices_and_the_move_takes_the_mapping(app, system, tx, users):
    api = Api(app.test_client())
    case = at_step3_claimed(system, tx)
    v2 = deploy(system, tx, cek_version())
    path = f"/definitions/{v2.version}/migration"
    plan = api.get("owner", path).json
    [row] = plan["cases"]
    assert (row["can_move"], row["needs_mapping"], row["removed"]) == (False, True, ["Task_Koreksi"])
    assert plan["removed_tasks"] == [{
        "task": "Task_Koreksi", "name": "Mengontrol dan mengoreksi hasil dokumentasi dan konten",
        "lane": "Wakil Pimpinan Redaksi", "cases": [case.instance_id], "waiting": [case.instance_id],
        "completed": [], "step": 3, "if_kept": [],
        "choices": [{"task": "Task_Cek", "name": "Mengontrol dan mengoreksi hasil dokumentasi dan konten",
                     "same_name": True}]}]

    unmapped = api.post("owner", path, json={"case_ids": [case.instance_id]})
    assert unmapped.status_code == 200 and unmapped.json["moved"] == []
    assert [p["code"] for p in unmapped.json["refused"][0]["problems"]] == ["migration.task_removed"]
    assert "(Task_Koreksi)" in unmapped.json["refused"][0]["reason"]
    for body in ({"case_ids": [case.instance_id], "mapping": ["Task_Koreksi", "Task_Cek"]},
                 {"case_ids": [case.instance_id], "mapping": {"Task_Koreksi": 7}},
                 {"case_ids": [case.instance_id], "mapping": {"": "Task_Cek"}}):
        bad = api.post("owner", path, json=body)
        assert bad.status_code == 422 and bad.json["error"]["code"] == "form_invalid", body
        assert bad.json["error"]["fields"][0]["field"] == "mapping"
    wrong = api.post("owner", path, json={"case_ids": [case.instance_id], "mapping": {"Task_Koreksi": "Task_X"}})
    assert wrong.status_code == 422 and wrong.json["error"]["code"] == "plan.mapping_invalid"
    fields = wrong.json["error"]["fields"]
    assert [(p["element_id"], p["code"]) for p in fields] == [("Task_Koreksi", "migration.mapping_target_missing")]
    assert "Langkah pengganti \u201cTask_X\u201d tidak ada di versi 2." in fields[0]["message"]

    moved = api.post("owner", path, json={"case_ids": [case.instance_id], "mapping": {"Task_Koreksi": "Task_Cek"}})
    assert moved.status_code == 200 and moved.json["moved"] == [case.instance_id]
    task = api.get("wapimred", f"/tasks/{case.task_id}").json
    assert task["bpmn_id"] == "Task_Cek" and task["step_number"] == 3


# --------------------------------------------------------------------------------------------------
# Any renaming, any waiting step
# --------------------------------------------------------------------------------------------------

_NEW_ID = st.from_regex(r"\AStep_[A-Za-z][A-Za-z0-9]{0,8}\Z")


@settings(max_examples=6, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(renames=st.dictionaries(st.sampled_from([t for t, _w, _f in HAPPY_PATH]), _NEW_ID, min_size=1)
       .filter(lambda d: len(set(d.values())) == len(d)),  # two steps under one id is no renaming
       position=st.integers(min_value=0, max_value=len(HAPPY_PATH) - 1))
def test_any_renaming_of_the_steps_and_any_waiting_step(system, tx, users, renames, position):
    """Rename some user tasks of the bundled diagram, wait at any step: the case moves only with the mapping of its
    step if that step was renamed, then finishes on the new version, and the replay agrees."""
    with tx() as s:
        modeling.deploy(s, system, user(s, "owner"), DIAGRAM.read_bytes())  # new cases run on the bundled content
    case = Case.start(system, tx)
    for _task, who, form in HAPPY_PATH[:position]:
        case.do(who, form)
    waiting_at, holder, _form = HAPPY_PATH[position]
    assert case.task().bpmn_id == waiting_at
    with tx() as s:
        target, _summary = modeling.deploy(s, system, user(s, "owner"), renamed(renames))
    # the waiting step and the steps already completed, each mapped if renamed (the history too)
    mapping = {t: renames[t] for t, _w, _f in HAPPY_PATH[:position + 1] if t in renames}
    if mapping:
        with tx() as s:
            outcome = modeling.migrate(s, system, user(s, "owner"), target, [case.instance_id])
        assert sorted((p.element_id, p.code) for p in outcome["refused"][0]["problems"]) == sorted(
            (t, "migration.task_removed" if t == waiting_at else "migration.completed_unmapped") for t in mapping)
    with tx() as s:
        outcome = modeling.migrate(s, system, user(s, "owner"), target, [case.instance_id], mapping)
    assert outcome == {"moved": [case.instance_id], "refused": []}
    assert case.task().bpmn_id == renames.get(waiting_at, waiting_at)
    for _task, who, form in HAPPY_PATH[position:]:
        case.do(who, form)
    with tx() as s:
        assert s.get(Instance, case.instance_id).status == "completed"
        assert s.execute(select(TaskRow.bpmn_id).where(TaskRow.instance_id == case.instance_id,
                                                       TaskRow.state == "ready")).first() is None
        done = s.execute(select(TaskRow.bpmn_id).where(TaskRow.instance_id == case.instance_id)).scalars().all()
    assert sorted(done) == sorted(renames.get(t, t) for t, _w, _f in HAPPY_PATH)  # its whole history, new ids
    assert_replays(system, tx, case.instance_id)


# --------------------------------------------------------------------------------------------------
# No guess by shape
# --------------------------------------------------------------------------------------------------


def without_step3_timer() -> str:
    """The bundled diagram with no deadline on step 3 (its timer branch gone): a plain user task between two
    gateways, which SpiffWorkflow can align with a renamed one by the shape around it."""
    tree = etree.fromstring(DIAGRAM.read_bytes())
    gone = {"Timer_Koreksi", "Notif_Koreksi", "End_Terlambat_Koreksi", "Flow_Timer_Koreksi", "Flow_Notif_Koreksi"}
    for node in list(tree.iter()):
        if node.get("id") in gone or node.get("bpmnElement") in gone or (
                node.tag == f"{{{NS['bpmn']}}}flowNodeRef" and node.text in gone):
            node.getparent().remove(node)
    step = tree.find(".//bpmn:userTask[@id='Task_Koreksi']//alur:step", {**NS, "alur": ALUR})
    del step.attrib["deadline"]
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8").decode()


def test_spiffworkflows_guess_by_shape_is_not_taken(system, tx, users):
    with tx() as s:
        plain = system.engine.deploy(s, without_step3_timer().encode(), actor="owner")
    case = at_step3_claimed(system, tx)
    with tx() as s:
        assert s.get(Instance, case.instance_id).definition_id == plain.id
        v_renamed = system.engine.deploy(s, renamed({"Task_Koreksi": "Task_Cek"}, without_step3_timer()),
                                         actor="owner")
        instance = s.get(Instance, case.instance_id)
        wf = system.engine.load(s, instance)
        parsed = system.engine.parsed(v_renamed)
        guessed, _subs = diff_workflow(system.engine.codec.registry, wf, parsed.spec, parsed.subprocess_specs)
        waiting = next(t for t in guessed.alignment if t.task_spec.name == "Task_Koreksi")
        assert guessed.alignment[waiting].name == "Task_Cek"  # SpiffWorkflow alone would move it there
        check = system.engine.check_migration(s, instance, v_renamed)
        assert [(p.element_id, p.code) for p in check.reasons] == [("Task_Koreksi", "migration.task_removed")]
        assert system.engine.check_migration(s, instance, v_renamed, {"Task_Koreksi": "Task_Cek"}).can_move
    with tx() as s:
        modeling.migrate(s, system, user(s, "owner"), v_renamed, [case.instance_id], {"Task_Koreksi": "Task_Cek"})
    assert (case.task().bpmn_id, case.task().due_at) == ("Task_Cek", None)
    for _task, who, form in HAPPY_PATH[2:]:
        case.do(who, form, claim=who != "wapimred")
    assert_replays(system, tx, case.instance_id)


# --------------------------------------------------------------------------------------------------
# Steps a case has already completed (its history)
# --------------------------------------------------------------------------------------------------

SERAHKAN = "Menyerahkan dokumentasi kegiatan beserta narasi dan konten lainnya"


def kirim_version() -> bytes:
    """Step 1 renamed Task_Serahkan → Task_Kirim everywhere, so step 4's `alur:separate from` names Task_Kirim."""
    xml = renamed({"Task_Serahkan": "Task_Kirim"})
    assert b'<alur:separate from="Task_Kirim"/>' in xml
    return xml


def at_step2_tim_decides_too(system, tx) -> Case:
    """Step 1 completed by tim, who is in the Pimred's group as well (so only the separation rule keeps tim from
    deciding step 4); the case waits at step 2."""
    case = Case.start(system, tx)
    case.do("tim", "submit")
    with tx() as s:
        tim = user(s, "tim")
        system.people.set_groups(s, tim, sorted(tim.group_codes | {"pimred"}))
    return case


def to_step4_claimed_by_tim(system, tx, case: Case) -> None:
    case.do("admin", "terima")
    case.do("wapimred", "koreksi")
    with tx() as s:
        system.tasks.claim(s, user(s, "tim"), case.task_id)


def test_a_completed_renamed_step_is_mapped_and_the_separation_rule_still_sees_it(system, tx, users):
    case = at_step2_tim_decides_too(system, tx)
    v2 = deploy(system, tx, kirim_version())
    with tx() as s:
        check = system.engine.check_migration(s, s.get(Instance, case.instance_id), v2)
        assert [(t.bpmn_id, t.waiting) for t in check.removed] == [("Task_Serahkan", False)]
        assert [(p.element_id, p.code, p.element_name) for p in check.reasons] == [
            ("Task_Serahkan", "migration.completed_unmapped", SERAHKAN)]
        assert [(c.bpmn_id, c.same_name) for c in system.engine.mapping_choices(v2, check.removed[0])] == [
            ("Task_Kirim", True)]
    with tx() as s:
        outcome = modeling.migrate(s, system, user(s, "owner"), v2, [case.instance_id], {"Task_Serahkan": "Task_Kirim"})
    assert outcome == {"moved": [case.instance_id], "refused": []}
    with tx() as s:
        rows = s.execute(select(TaskRow).where(TaskRow.instance_id == case.instance_id)
                         .order_by(TaskRow.bpmn_id)).scalars().all()
        assert [(r.bpmn_id, r.state, r.completed_by) for r in rows] == [
            ("Task_Kirim", "completed", "tim"), ("Task_Terima", "ready", None)]
        migrated = s.execute(select(EventRow).where(EventRow.instance_id == case.instance_id,
                                                    EventRow.type == "case_migrated")).scalar_one()
        assert eventlog.decode(migrated)["mapping"] == {"Task_Serahkan": "Task_Kirim"}
        assert system.rules.of_instance(s, case.instance_id).number(rows[0].bpmn_id) == 1
    to_step4_claimed_by_tim(system, tx, case)
    with pytest.raises(SelfApproval) as info, tx() as s:  # who handed in may not decide, under the new id too
        system.tasks.complete(s, user(s, "tim"), case.task_id, {"keputusan_pimred": "setuju",
                                                                "pertimbangan": "Layak."})
    assert info.value.code == "task.self_approval"
    with tx() as s:
        system.tasks.unclaim(s, user(s, "tim"), case.task_id)
    for _task, who, form in HAPPY_PATH[3:]:
        case.do(who, form)
    assert_replays(system, tx, case.instance_id)


def test_a_completed_renamed_step_neither_mapped_nor_kept_refuses_the_case(system, tx, users):
    case = at_step2_tim_decides_too(system, tx)
    v2 = deploy(system, tx, kirim_version())
    with tx() as s:
        outcome = modeling.migrate(s, system, user(s, "owner"), v2, [case.instance_id])
    assert outcome["moved"] == []
    [problem] = outcome["refused"][0]["problems"]
    assert (problem.element_id, problem.code, problem.element_name) == (
        "Task_Serahkan", "migration.completed_unmapped", SERAHKAN)
    with pytest.raises(MigrationRefused), tx() as s:  # the engine's own rule
        system.engine.migrate(s, case.instance_id, v2, actor="owner")
    with pytest.raises(MigrationRefused) as info, tx() as s:  # keeping a step no selected case has is a bad plan
        modeling.migrate(s, system, user(s, "owner"), v2, [case.instance_id], keep=["Task_Terima"])
    assert [(p.element_id, p.code) for p in info.value.problems] == [("Task_Terima", "migration.mapping_unknown")]
    with tx() as s:
        assert s.get(Instance, case.instance_id).definition_id != v2.id


def test_the_page_says_what_stops_applying_and_an_explicit_keep_moves_the_case(system, tx, users, login):
    case = at_step2_tim_decides_too(system, tx)
    v2 = deploy(system, tx, kirim_version())
    owner = login("owner")
    page = text(owner.get(f"/proses/migrasi/{v2.version}"))
    assert (f'Langkah 1: {SERAHKAN} <span class="muted">(Task_Serahkan; lajur Tim Pelaksana; sudah diselesaikan '
            f'kasus #{case.instance_id})</span>') in page
    assert '<select name="peta-Task_Serahkan" id="peta-Task_Serahkan">' in page
    assert '<option value="" selected>— pilih langkah pengganti —</option>' in page
    assert f'<option value="Task_Kirim">{SERAHKAN} (Task_Kirim) — nama sama di versi baru</option>' in page
    assert '<option value=":tetap">tidak dipetakan (riwayat tetap dengan ID lama)</option>' in page
    assert re.search("Aturan \u201cbukan orang yang menyelesaikan langkah 1\u201d pada langkah 4 \\([^)]+\\) tidak "
                     "akan mengenali penyelesaian lama ini", page)
    assert "Riwayat langkah 1 tetap tercatat dengan ID lama Task_Serahkan" in page

    refused = text(owner.post(f"/proses/migrasi/{v2.version}", data={"case_ids": [str(case.instance_id)],
                                                                      "peta-Task_Serahkan": ""},
                              follow_redirects=True))
    assert (f"Kasus #{case.instance_id} tidak dipindahkan: Tugas \u201c{SERAHKAN}\u201d (Task_Serahkan): Langkah "
            "yang sudah diselesaikan kasus ini tidak ada di versi 2.") in refused
    done = text(owner.post(f"/proses/migrasi/{v2.version}", data={"case_ids": [str(case.instance_id)],
                                                                   "peta-Task_Serahkan": ":tetap"},
                           follow_redirects=True))
    assert f"1 kasus dipindahkan ke versi 2: #{case.instance_id}." in done
    with tx() as s:
        migrated = s.execute(select(EventRow).where(EventRow.instance_id == case.instance_id,
                                                    EventRow.type == "case_migrated")).scalar_one()
        data = eventlog.decode(migrated)
        assert data["kept"] == ["Task_Serahkan"] and "mapping" not in data
        first = s.execute(select(TaskRow).where(TaskRow.instance_id == case.instance_id,
                                                TaskRow.state == "completed")).scalar_one()
        assert (first.bpmn_id, first.completed_by) == ("Task_Serahkan", "tim")  # the history as it was
    # What the page said: the separation rule does not see the kept completion (the owner chose this)
    to_step4_claimed_by_tim(system, tx, case)
    assert case.do("tim", {"keputusan_pimred": "setuju", "pertimbangan": "Layak."}, claim=False) == ["Task_Unggah"]
    case.do("admin", "unggah")
    assert_replays(system, tx, case.instance_id)
    history = text(login("auditor").get(f"/audit/kasus/{case.instance_id}/replay"))
    assert ("Kasus dipindahkan dari versi 1 ke versi 2. Riwayat langkah yang tidak dipetakan (tetap dengan ID lama): "
            "Task_Serahkan.") in history


def test_the_api_lists_completed_removed_steps_and_takes_keep(app, system, tx, users):
    api = Api(app.test_client())
    case = at_step2_tim_decides_too(system, tx)
    v2 = deploy(system, tx, kirim_version())
    path = f"/definitions/{v2.version}/migration"
    plan = api.get("owner", path).json
    [row] = plan["cases"]
    assert (row["can_move"], row["needs_mapping"], row["removed"]) == (False, True, ["Task_Serahkan"])
    [step] = plan["removed_tasks"]
    assert (step["task"], step["waiting"], step["completed"], step["step"]) == (
        "Task_Serahkan", [], [case.instance_id], 1)
    assert [c["task"] for c in step["choices"]] == ["Task_Kirim"]
    assert any("bukan orang yang menyelesaikan langkah 1" in line for line in step["if_kept"])
    for body in ({"case_ids": [case.instance_id], "keep": "Task_Serahkan"},
                 {"case_ids": [case.instance_id], "keep": [7]},
                 {"case_ids": [case.instance_id], "keep": ["Task_Serahkan"],
                  "mapping": {"Task_Serahkan": "Task_Kirim"}}):
        bad = api.post("owner", path, json=body)
        assert bad.status_code == 422 and bad.json["error"]["code"] == "form_invalid", body
        assert bad.json["error"]["fields"][0]["field"] == "keep"
    unmapped = api.post("owner", path, json={"case_ids": [case.instance_id]})
    assert [p["code"] for p in unmapped.json["refused"][0]["problems"]] == ["migration.completed_unmapped"]
    moved = api.post("owner", path, json={"case_ids": [case.instance_id], "keep": ["Task_Serahkan"]})
    assert moved.status_code == 200 and moved.json["moved"] == [case.instance_id]


def test_the_written_response_of_a_mapped_completed_step_is_still_its_response(system, tx, users):
    """Step 2 (it declares a written response) renamed Task_Terima → Task_Terima2 while the case waits at step 3:
    with the mapping, the case page and the Tanggapan Tertulis record still list step 2's response."""
    case = at_step3_claimed(system, tx)
    v2 = deploy(system, tx, renamed({"Task_Terima": "Task_Terima2"}))
    with tx() as s:
        outcome = modeling.migrate(s, system, user(s, "owner"), v2, [case.instance_id], {"Task_Terima": "Task_Terima2"})
    assert outcome["moved"] == [case.instance_id]
    with tx() as s:
        view = case_view(s, user(s, "owner"), case.instance_id, system.rules)
        assert [(r.bpmn_id, r.decision) for r in view.responses] == [("Task_Terima2", "diterima")]
        [record] = written_responses(s, rulebook=system.rules, instance_id=case.instance_id)
        assert [(r.step, r.bpmn_id) for r in record.responses] == [(2, "Task_Terima2")]
    assert_replays(system, tx, case.instance_id)

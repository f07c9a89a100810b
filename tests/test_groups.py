"""Groups work lanes: a lane of any name is worked by the group its diagram names (``alur:lane group``, else its
tasks' ``camunda:candidateGroups``) and by the group named as the lane; a lane no group works is refused at deploy;
members get its tasks, others do not; cases are opened by the start lane's group and seen as the lanes one works
allow."""
from __future__ import annotations

import pytest
from lxml import etree
from sqlalchemy import select

from engine.errors import InvalidDefinition
from engine.models import EventRow, Instance, TaskRow
from process import modeling
from process.casefile import ALL, NONE, TEAM, can_view_case, case_list, case_scope
from process.errors import NotPermitted
from process.inbox import inbox
from process.models import Notification
from tests.conftest import DIAGRAM
from tests.factories import Case, make_users, user

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
ALUR = "urn:alur-medsos:bpmn:1"


def with_humas_step(lane_name: str = "Humas", candidates: str | None = None, lane_group: str | None = None,
                    team_scoped: bool = False) -> bytes:
    """The bundled diagram with a step in a new lane between the decision's "setuju" and the upload: a check by the
    public-relations office (README, *Adding a step*)."""
    tree = etree.fromstring(DIAGRAM.read_bytes())
    process = tree.find(f".//{{{BPMN}}}process")
    lane_set = process.find(f"{{{BPMN}}}laneSet")
    lane = etree.SubElement(lane_set, f"{{{BPMN}}}lane", id="Lane_Humas", name=lane_name)
    if lane_group or team_scoped:
        ext = etree.SubElement(lane, f"{{{BPMN}}}extensionElements")
        decl = etree.SubElement(ext, f"{{{ALUR}}}lane")
        if lane_group:
            decl.set("group", lane_group)
        if team_scoped:
            decl.set("teamScoped", "true")
    etree.SubElement(lane, f"{{{BPMN}}}flowNodeRef").text = "Task_Humas"
    unggah = process.find(f"{{{BPMN}}}userTask[@id='Task_Unggah']")
    task = etree.Element(f"{{{BPMN}}}userTask", id="Task_Humas", name="Memeriksa konten (Humas)")
    if candidates is not None:
        task.set(f"{{{CAMUNDA}}}candidateGroups", candidates)
    form = etree.SubElement(etree.SubElement(task, f"{{{BPMN}}}extensionElements"), f"{{{CAMUNDA}}}formData")
    field = etree.SubElement(form, f"{{{CAMUNDA}}}formField", id="catatan_humas", label="Catatan Humas",
                             type="string")
    etree.SubElement(etree.SubElement(field, f"{{{CAMUNDA}}}validation"), f"{{{CAMUNDA}}}constraint",
                     name="required")
    etree.SubElement(task, f"{{{BPMN}}}incoming").text = "Flow_Setuju"
    etree.SubElement(task, f"{{{BPMN}}}outgoing").text = "Flow_Humas"
    unggah.addprevious(task)
    unggah.find(f"{{{BPMN}}}incoming[.='Flow_Setuju']").text = "Flow_Humas"
    setuju = process.find(f"{{{BPMN}}}sequenceFlow[@id='Flow_Setuju']")
    setuju.set("targetRef", "Task_Humas")
    setuju.addnext(etree.Element(f"{{{BPMN}}}sequenceFlow", id="Flow_Humas", sourceRef="Task_Humas",
                                 targetRef="Task_Unggah"))
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")


def to_decision(system, tx, case: Case) -> None:
    for who, form in (("tim", "submit"), ("admin", "terima"), ("wapimred", "koreksi")):
        case.do(who, form)


def deploy(system, tx, xml: bytes):
    with tx() as s:
        return modeling.deploy(s, system, user(s, "owner"), xml)[0]


def refusal(system, tx, xml: bytes) -> list:
    with pytest.raises(InvalidDefinition) as info, tx() as s:
        modeling.deploy(s, system, user(s, "owner"), xml)
    return [(p.element_id, p.code, p.params) for p in info.value.problems]


def lanes(system, s, name: str) -> frozenset[str]:
    return system.rules.lane_map(s).lanes_of(user(s, name))


# --------------------------------------------------------------------------------------------------
# A new lane
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("code, name", [("humas", "Humas"), ("pr", "  HUMAS ")])
def test_a_humas_lane_deploys_once_its_group_exists_and_only_its_members_work_it(system, tx, code, name):
    make_users(system, tx)
    xml = with_humas_step()
    assert refusal(system, tx, xml) == [("Lane_Humas", "lane.no_group", {"lane": "Humas", "group": "humas"})]
    with tx() as s:  # a group by the code the problem named, or one named as the lane (case and spaces aside)
        system.people.add_group(s, code, name)
    with tx() as s:
        report = modeling.validate(system, user(s, "owner"), xml, s)
    assert [(p.element_id, p.code, p.severity) for p in report.warnings if p.code.startswith("lane.")] == [
        ("Lane_Humas", "lane.group_empty", "warning")]
    with tx() as s:
        system.people.add_user(s, "hana", "rahasia-hana", groups=[code])
        assert not [p for p in modeling.validate(system, user(s, "owner"), xml, s).warnings
                    if p.code.startswith("lane.")]
    deploy(system, tx, xml)

    case = Case.start(system, tx)
    to_decision(system, tx, case)
    assert case.do("pimred", "setuju") == ["Task_Humas"]
    with tx() as s:
        row = s.get(TaskRow, case.task_id)
        assert row.lane == "Humas" and lanes(system, s, "hana") == {"Humas"}
        now = system.clock.now()
        assert [i.task_id for i in inbox(s, user(s, "hana"), "lane", now=now, lanes=lanes(system, s, "hana"))] == [
            case.task_id]
        assert inbox(s, user(s, "admin"), "lane", now=now, lanes=lanes(system, s, "admin")) == []
        told = s.execute(select(Notification.user_id).where(Notification.task_id == case.task_id)).scalars().all()
        assert told == [user(s, "hana").id]
    for outsider in ("admin", "pimred", "tim"):
        with pytest.raises(NotPermitted) as info, tx() as s:
            system.tasks.claim(s, user(s, outsider), case.task_id)
        assert info.value.code == "task.wrong_lane" and info.value.params == {"lane": "Humas"}
    assert case.do("hana", {"catatan_humas": "Sesuai pedoman kehumasan."}) == ["Task_Unggah"]
    with tx() as s:
        assert system.people.eligible_users(s, "Humas") == [user(s, "hana")]


def test_the_group_its_tasks_name_works_a_lane(system, tx):
    """``camunda:candidateGroups`` (comma-separated codes) on the lane's tasks: any of those groups works it."""
    make_users(system, tx)
    xml = with_humas_step(lane_name="Hubungan Masyarakat", candidates=" pr_kpu , pr_cadangan")
    assert refusal(system, tx, xml) == [
        ("Lane_Humas", "lane.no_group", {"lane": "Hubungan Masyarakat", "group": "pr_cadangan"})]
    with tx() as s:
        system.people.add_group(s, "pr_kpu", "Biro Kehumasan")  # another name: the code is what counts
        system.people.add_user(s, "hana", "rahasia-hana", groups=["pr_kpu"])
    deploy(system, tx, xml)
    case = Case.start(system, tx)
    to_decision(system, tx, case)
    assert case.do("pimred", "setuju") == ["Task_Humas"]
    with tx() as s:
        assert lanes(system, s, "hana") == {"Hubungan Masyarakat"}
    assert case.do("hana", {"catatan_humas": "Sesuai."}) == ["Task_Unggah"]


def test_the_group_a_lane_declares_works_it(system, tx):
    """``alur:lane group``: that group, and no other its tasks name (the name still counts)."""
    make_users(system, tx)
    xml = with_humas_step(candidates="admin_medsos", lane_group="humas_kpu")
    assert refusal(system, tx, xml) == [("Lane_Humas", "lane.no_group", {"lane": "Humas", "group": "humas_kpu"})]
    with tx() as s:
        system.people.add_group(s, "humas_kpu", "Kehumasan")
        system.people.add_user(s, "hana", "rahasia-hana", groups=["humas_kpu"])
    deploy(system, tx, xml)
    with tx() as s:
        assert lanes(system, s, "hana") == {"Humas"}
        assert lanes(system, s, "admin") == {"Admin Medsos"}  # its tasks' candidateGroups do not count here


def test_a_lane_without_tasks_needs_no_group_and_a_task_in_no_lane_is_refused(system, tx):
    make_users(system, tx)

    def empty_lane(tree):
        lane_set = tree.find(f".//{{{BPMN}}}laneSet")
        etree.SubElement(lane_set, f"{{{BPMN}}}lane", id="Lane_Kosong", name="Arsip")
    tree = etree.fromstring(DIAGRAM.read_bytes())
    empty_lane(tree)
    deploy(system, tx, etree.tostring(tree, xml_declaration=True, encoding="UTF-8"))


def test_an_owner_creates_the_group_from_the_modeler(system, tx, login):
    make_users(system, tx)
    owner = login("owner")
    xml = with_humas_step()
    refused = owner.post("/proses/validasi", data=xml, headers={"Content-Type": "application/xml"})
    [problem] = [p for p in refused.json["error"]["fields"] if p["code"] == "lane.no_group"]
    assert problem["params"] == {"lane": "Humas", "group": "humas"}
    assert problem["label"] == "Lajur \u201cHumas\u201d (Lane_Humas)"
    assert login("admin").post("/proses/grup", json={"code": "humas", "name": "Humas"}).status_code == 403
    bad = owner.post("/proses/grup", json={"code": "Humas!", "name": "Humas"})
    assert bad.status_code == 422 and "Kode grup" in bad.json["error"]["message"]
    made = owner.post("/proses/grup", json={"code": "humas", "name": "Humas"})
    assert made.status_code == 201 and made.json["code"] == "humas" and "Administrator" in made.json["message"]
    assert owner.post("/proses/grup", json={"code": "humas", "name": "Humas"}).status_code == 422  # once
    ok = owner.post("/proses/validasi", data=xml, headers={"Content-Type": "application/xml"})
    assert ok.status_code == 200
    assert [w["code"] for w in ok.json["warnings"] if w["code"].startswith("lane.")] == ["lane.group_empty"]
    with tx() as s:
        event = s.execute(select(EventRow).where(EventRow.type == "group_created")
                          .order_by(EventRow.seq.desc())).scalars().first()
        assert event.actor == "owner" and '"humas"' in event.payload
    page = owner.get("/proses/modeler").get_data(as_text=True)
    assert 'data-group-url="/proses/grup"' in page


# --------------------------------------------------------------------------------------------------
# Opening and seeing cases
# --------------------------------------------------------------------------------------------------

def test_who_works_the_start_lane_opens_cases(system, tx, login):
    make_users(system, tx)
    with tx() as s:
        system.people.add_group(s, "pelaksana2", "Pelaksana Kegiatan")
        system.people.add_user(s, "tia", "rahasia-tia", groups=["pelaksana2"], team_code="humas")
    assert login("tia").get("/kasus/baru").status_code == 403
    # The newest version's start event is in a lane of that name (its tasks still name the group tim_pelaksana).
    deploy(system, tx, DIAGRAM.read_bytes().replace(b'name="Tim Pelaksana"', b'name="pelaksana  KEGIATAN"'))
    assert login("tia").get("/kasus/baru").status_code == 200
    case = Case.start(system, tx, who="tia")
    assert case.task().lane == "pelaksana  KEGIATAN" and case.task().group == "humas"  # still team-scoped
    Case.start(system, tx, who="tim")
    for name in ("admin", "pimred", "owner"):
        assert login(name).get("/kasus/baru").status_code == 403
        with pytest.raises(NotPermitted) as info:
            Case.start(system, tx, who=name)
        assert info.value.code == "case.start_not_in_lane"
        assert info.value.params == {"lane": "pelaksana  KEGIATAN"}
    assert 'href="/kasus/baru"' in login("tim").get("/kasus").get_data(as_text=True)
    assert 'href="/kasus/baru"' not in login("admin").get("/kasus").get_data(as_text=True)


def test_who_sees_which_cases(system, tx, login):
    """All cases, unless every lane one works is team-scoped (then one's own team's); none without a lane or a
    role; the application roles all."""
    make_users(system, tx)
    humas = Case.start(system, tx, nama="Kegiatan Humas")
    teknis = Case.start(system, tx, who="tim_lain", nama="Kegiatan Teknis")
    with tx() as s:
        system.people.add_group(s, "kosong", "Tanpa Lajur")
        system.people.add_user(s, "dua", "rahasia-dua", groups=["tim_pelaksana", "pimred"], team_code="humas")
        system.people.add_user(s, "nol", "rahasia-nol", groups=["kosong"])
    expected = {"tim": TEAM, "tim_lain": TEAM, "admin": ALL, "pimred": ALL, "owner": ALL, "auditor": ALL,
                "dua": ALL, "nol": NONE}
    with tx() as s:
        lane_map = system.rules.lane_map(s)
        assert {name: case_scope(user(s, name), lane_map) for name in expected} == expected
        a, b = s.get(Instance, humas.instance_id), s.get(Instance, teknis.instance_id)
        assert (can_view_case(user(s, "tim"), a, lane_map), can_view_case(user(s, "tim"), b, lane_map)) == (True, False)
        assert can_view_case(user(s, "dua"), b, lane_map) and not can_view_case(user(s, "nol"), a, lane_map)
        assert case_list(s, user(s, "nol"), system.rules).total == 0
        assert case_list(s, user(s, "dua"), system.rules).total == 2
    assert login("nol").get(f"/kasus/{humas.instance_id}").status_code == 403
    assert login("dua").get(f"/kasus/{teknis.instance_id}").status_code == 200
    nol_inbox = login("nol").get("/kotak-tugas").get_data(as_text=True)
    assert "belum masuk grup yang mengerjakan lajur" in nol_inbox


def test_a_team_scoped_lane_of_a_new_version(system, tx):
    """A lane declared team-scoped in the newest version: its workers see their own team's cases only, and its tasks
    go to the case's team only."""
    make_users(system, tx)
    with tx() as s:
        system.people.add_group(s, "humas", "Humas")
        system.people.add_user(s, "hana", "rahasia-hana", groups=["humas"], team_code="humas")
        system.people.add_user(s, "tekno", "rahasia-tekno", groups=["humas"], team_code="teknis")
    deploy(system, tx, with_humas_step(team_scoped=True))
    case = Case.start(system, tx)
    other = Case.start(system, tx, who="tim_lain", nama="Kegiatan Teknis")
    to_decision(system, tx, case)
    assert case.do("pimred", "setuju") == ["Task_Humas"]
    with tx() as s:
        assert s.get(TaskRow, case.task_id).group == "humas"
        lane_map = system.rules.lane_map(s)
        assert case_scope(user(s, "hana"), lane_map) == TEAM
        assert not can_view_case(user(s, "hana"), s.get(Instance, other.instance_id), lane_map)
    with pytest.raises(NotPermitted) as info, tx() as s:
        system.tasks.claim(s, user(s, "tekno"), case.task_id)
    assert info.value.code == "task.other_team"
    assert case.do("hana", {"catatan_humas": "Sesuai."}) == ["Task_Unggah"]


# --------------------------------------------------------------------------------------------------
# The service
# --------------------------------------------------------------------------------------------------

def test_group_changes_are_events_and_codes_and_names_are_checked(system, tx):
    from process.errors import BadRequest

    make_users(system, tx)
    with tx() as s:
        group = system.people.add_group(s, "humas", "Humas", actor="cli")
        system.people.rename_group(s, group, "Hubungan Masyarakat", actor="cli")
        system.people.change_members(s, group, add=["admin"], actor="cli")
    for code, name, refused in (("humas", "Lain", "group.code_taken"), ("lain", "hubungan  MASYARAKAT",
                                                                       "group.name_taken"),
                                ("1lain", "Lain", "group_code"), ("lain-x", "Lain", "group_code"),
                                ("x" * 51, "Lain", "maxlength")):
        with pytest.raises(BadRequest) as info, tx() as s:
            system.people.add_group(s, code, name)
        assert info.value.code == refused, (code, name)
    with tx() as s:
        events = [(e.type, e.actor) for e in s.execute(select(EventRow).where(
            EventRow.type.in_(("group_created", "group_renamed", "group_changed")))
            .order_by(EventRow.seq)).scalars()]
        assert events[-3:] == [("group_created", "cli"), ("group_renamed", "cli"), ("group_changed", "cli")]
        assert user(s, "admin").group_codes == {"admin_medsos", "humas"}
        with pytest.raises(BadRequest) as info:
            system.people.set_membership(s, user(s, "admin"), [], [])
        assert info.value.code == "user.no_role"


def test_the_session_loads_groups_with_the_user_in_one_statement(system, tx, app, login):
    from sqlalchemy import event

    make_users(system, tx)
    browser = login("admin")
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(system.db, "before_cursor_execute", record)
    try:
        assert browser.get("/notifikasi").status_code == 200
    finally:
        event.remove(system.db, "before_cursor_execute", record)
    loads = [s for s in statements if "user_session" in s]
    assert len(loads) == 1 and "app_group" in loads[0] and "user_role" in loads[0], loads
    assert not [s for s in statements if "FROM app_group" in s and "user_session" not in s], statements

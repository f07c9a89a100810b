"""New versions: running cases keep theirs; waiting cases can be moved after a pre-check."""
from __future__ import annotations

import json

import pytest
from lxml import etree
from sqlalchemy import select

from engine.changes import summarize_changes
from engine.errors import InvalidDefinition, MigrationRefused
from engine.models import Definition, EventRow, Instance
from engine.runtime import WorkflowEngine
from tests.conftest import DIAGRAM
from tests.factories import Case, make_users
from tests.test_definitions import NS


def version2() -> bytes:
    """Step 3 due two days after submission, and a new required field at step 3."""
    tree = etree.fromstring(DIAGRAM.read_bytes())
    tree.find(".//bpmn:boundaryEvent[@id='Timer_Koreksi']//bpmn:timeDate", NS).text = \
        "akhir_hari(tanggal_pengumpulan, 2)"
    form = tree.find(".//bpmn:userTask[@id='Task_Koreksi']//camunda:formData", NS)
    field = etree.SubElement(form, f"{{{NS['camunda']}}}formField", id="sumber_foto", label="Sumber foto",
                             type="string")
    validation = etree.SubElement(field, f"{{{NS['camunda']}}}validation")
    etree.SubElement(validation, f"{{{NS['camunda']}}}constraint", name="required")
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")


def without_step5() -> bytes:
    xml = DIAGRAM.read_bytes()
    tree = etree.fromstring(xml)
    # Pimred's "setuju" now ends the case directly; Task_Unggah and its timer branch are gone.
    process = tree.find(".//bpmn:process", NS)
    for eid in ("Task_Unggah", "Timer_Unggah", "Notif_Unggah", "End_Terlambat_Unggah"):
        node = process.find(f"*[@id='{eid}']")
        process.remove(node)
    for flow in process.findall("bpmn:sequenceFlow", NS):
        if flow.get("sourceRef") in ("Timer_Unggah", "Notif_Unggah", "Task_Unggah"):
            process.remove(flow)
    process.find("bpmn:sequenceFlow[@id='Flow_Setuju']", NS).set("targetRef", "EndEvent_Dipublikasikan")
    for ref in process.findall(".//bpmn:flowNodeRef", NS):
        if ref.text in ("Task_Unggah", "Timer_Unggah", "Notif_Unggah", "End_Terlambat_Unggah"):
            ref.getparent().remove(ref)
    for assoc in process.findall("bpmn:association", NS):
        if assoc.get("sourceRef") == "Task_Unggah" or assoc.get("targetRef") == "Task_Unggah":
            process.remove(assoc)
    for inc in process.findall(".//bpmn:incoming", NS) + process.findall(".//bpmn:outgoing", NS):
        if inc.text and ("Unggah" in inc.text and inc.text != "Flow_Setuju"):
            inc.getparent().remove(inc)
    plane = tree.find(".//{http://www.omg.org/spec/BPMN/20100524/DI}BPMNPlane")
    for shape in list(plane):
        if "Unggah" in (shape.get("bpmnElement") or "") and shape.get("bpmnElement") != "Flow_Setuju":
            plane.remove(shape)
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")


def deploy_without_sop_checks(system, session, xml: bytes, actor: str = "owner") -> Definition:
    """Store a version through an engine without this application's deploy checks: how a case waiting on a task
    that a newer version lacks is kept from moving is the engine's own rule."""
    engine = WorkflowEngine(clock=system.engine.clock, functions=system.engine.functions)
    latest = session.execute(select(Definition).order_by(Definition.version.desc()).limit(1)).scalar_one()
    return engine.deploy(session, xml, actor=actor, summary=summarize_changes(latest.xml, xml))


def test_change_summary_names_what_changed():
    summary = summarize_changes(DIAGRAM.read_bytes(), version2())
    changed = {c["id"]: c for c in summary["changed"]}
    assert set(changed) == {"Timer_Koreksi", "Task_Koreksi"}
    assert changed["Timer_Koreksi"]["changes"][0]["new"] == "akhir_hari(tanggal_pengumpulan, 2)"
    field = changed["Task_Koreksi"]["changes"][0]
    assert field["aspect"] == "field_added" and field["field"] == "sumber_foto" and field["required"]


def test_running_cases_keep_their_version_and_can_be_migrated(system, tx, clock):
    make_users(system, tx)
    old = Case.start(system, tx)
    old.do("tim", "submit")
    with tx() as s:
        v2 = system.engine.deploy(s, version2(), actor="owner",
                                       summary=summarize_changes(DIAGRAM.read_bytes(), version2()))
    new = Case.start(system, tx)
    with tx() as s:
        assert s.get(Instance, old.instance_id).definition_id != v2.id
        assert s.get(Instance, new.instance_id).definition_id == v2.id
    old.do("admin", "terima")
    due_v1 = old.task().due_at
    with tx() as s:
        check = system.engine.check_migration(s, s.get(Instance, old.instance_id), v2)
        assert check.can_move and check.tasks == ("Mengontrol dan mengoreksi hasil dokumentasi dan konten",)
        system.engine.migrate(s, old.instance_id, v2, actor="owner")
    assert old.task().due_at > due_v1  # the new deadline applies after the move
    with pytest.raises(Exception) as info:
        old.do("wapimred", "koreksi")  # the new required field is now asked for
    assert "sumber_foto" in str(info.value) or "Sumber foto" in str(info.value)
    with tx() as s:
        types = [e.type for e in s.execute(select(EventRow).where(EventRow.instance_id == old.instance_id))
                 .scalars()]
        assert "case_migrated" in types


def test_case_waiting_on_a_removed_task_cannot_move(system, tx, clock):
    make_users(system, tx)
    case = Case.start(system, tx)
    for who, form in (("tim", "submit"), ("admin", "terima"), ("wapimred", "koreksi"), ("pimred", "setuju")):
        case.do(who, form)
    assert case.task().bpmn_id == "Task_Unggah"
    with tx() as s:
        v2 = deploy_without_sop_checks(system, s, without_step5())
    with tx() as s:
        check = system.engine.check_migration(s, s.get(Instance, case.instance_id), v2)
        assert not check.can_move and check.reasons[0].element_id == "Task_Unggah"
        assert check.reasons[0].code == "migration.task_removed"
    with pytest.raises(MigrationRefused), tx() as s:
        system.engine.migrate(s, case.instance_id, v2, actor="owner")
    with tx() as s:
        assert s.get(Instance, case.instance_id).definition_id != v2.id


def test_a_version_without_a_step_takes_its_rules_with_it(system, tx):
    """Step 5's rules (its number, the post list of the recap) are declared on it: a version without it has four
    numbered steps and no post list; nothing else refers to it, so it deploys."""
    with tx() as s:
        v2 = system.engine.deploy(s, without_step5(), actor="owner")
        rules = system.rules.of_definition(s, v2.id)
    assert [st.number for st in rules.numbered] == [1, 2, 3, 4] and rules.steps_with("posts") == []


def test_a_version_whose_rules_point_to_a_removed_step_is_refused(system, tx):
    """Step 4's return rule and segregation of duties name steps 3 and 1: without step 1 they point to nothing."""
    xml = DIAGRAM.read_text(encoding="utf-8").replace('from="Task_Serahkan"', 'from="Task_Dihapus"').encode()
    with tx() as s, pytest.raises(InvalidDefinition) as info:
        system.engine.deploy(s, xml, actor="owner")
    assert [(p.element_id, p.code, p.params["target"]) for p in info.value.problems] == [
        ("Task_Putuskan", "decl.target_missing", "Task_Dihapus")]


def test_switching_a_timer_between_date_and_duration_is_a_change():
    def with_timer(kind: str, text: str) -> bytes:
        tree = etree.fromstring(DIAGRAM.read_bytes())
        definition = tree.find(".//bpmn:boundaryEvent[@id='Timer_Terima']/bpmn:timerEventDefinition", NS)
        for child in list(definition):
            definition.remove(child)
        etree.SubElement(definition, f"{{{NS['bpmn']}}}{kind}").text = text
        return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")

    summary = summarize_changes(with_timer("timeDate", "P2D"), with_timer("timeDuration", "P2D"))
    assert [c["id"] for c in summary["changed"]] == ["Timer_Terima"]
    assert summary["changed"][0]["changes"] == [{"aspect": "timer_kind", "old": "timeDate", "new": "timeDuration"}]


def test_deploying_an_older_versions_content_rolls_back_as_a_new_version(system, tx, clock):
    make_users(system, tx)
    with tx() as s:
        v1 = system.cases.ensure_definition(s)
        v2 = system.engine.deploy(s, version2(), actor="owner")
        assert system.engine.deploy(s, version2(), actor="owner").id == v2.id  # the newest: nothing new
        v3 = system.engine.deploy(s, DIAGRAM.read_bytes(), actor="owner",
                                       summary=summarize_changes(version2(), DIAGRAM.read_bytes()))
        assert (v1.version, v2.version, v3.version) == (1, 2, 3)
        assert v3.sha256 == v1.sha256 and v3.xml == v1.xml
        assert json.loads(v3.summary)["restores"] == 1 and json.loads(v3.summary)["changed"]
        event = s.execute(select(EventRow).where(EventRow.type == "definition_deployed")
                          .order_by(EventRow.seq.desc())).scalars().first()
        assert json.loads(event.payload)["restores"] == 1 and json.loads(event.payload)["version"] == 3
    case = Case.start(system, tx)  # new cases start on the rollback
    with tx() as s:
        assert s.get(Instance, case.instance_id).definition_id == v3.id


def test_cases_move_forward_only(system, tx, clock):
    make_users(system, tx)
    with tx() as s:
        v1 = system.cases.ensure_definition(s)
        v2 = system.engine.deploy(s, version2(), actor="owner")
    case = Case.start(system, tx)
    with tx() as s:
        check = system.engine.check_migration(s, s.get(Instance, case.instance_id), v1)
        assert not check.can_move and [r.code for r in check.reasons] == ["migration.older_version"]
        assert check.reasons[0].params == {"version": 1, "current": 2}
    with pytest.raises(MigrationRefused) as info, tx() as s:
        system.engine.migrate(s, case.instance_id, v1, actor="owner")
    assert info.value.problems[0].code == "migration.older_version"
    with tx() as s:
        assert s.get(Instance, case.instance_id).definition_id == v2.id

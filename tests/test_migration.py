"""New versions: running cases keep theirs; waiting cases can be moved after a pre-check."""
from __future__ import annotations

import pytest
from lxml import etree
from sqlalchemy import select

from engine.changes import summarize_changes
from engine.errors import InvalidData
from engine.models import EventRow, Instance
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
        v2 = system.alur.engine.deploy(s, version2(), actor="owner",
                                       summary=summarize_changes(DIAGRAM.read_bytes(), version2()))
    new = Case.start(system, tx)
    with tx() as s:
        assert s.get(Instance, old.instance_id).definition_id != v2.id
        assert s.get(Instance, new.instance_id).definition_id == v2.id
    old.do("admin", "terima")
    due_v1 = old.task().due_at
    with tx() as s:
        check = system.alur.engine.check_migration(s, s.get(Instance, old.instance_id), v2)
        assert check.can_move and check.tasks == ("Mengontrol dan mengoreksi hasil dokumentasi dan konten",)
        system.alur.engine.migrate(s, old.instance_id, v2, actor="owner")
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
        v2 = system.alur.engine.deploy(s, without_step5(), actor="owner")
    with tx() as s:
        check = system.alur.engine.check_migration(s, s.get(Instance, case.instance_id), v2)
        assert not check.can_move and "Task_Unggah" in check.reasons[0]
    with pytest.raises(InvalidData), tx() as s:
        system.alur.engine.migrate(s, case.instance_id, v2, actor="owner")
    with tx() as s:
        assert s.get(Instance, case.instance_id).definition_id != v2.id

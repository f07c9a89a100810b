"""Diagrams are checked before anything runs: unsafe expressions, unsafe XML, SOP rules."""
from __future__ import annotations

import time

import pytest
from lxml import etree
from sqlalchemy import func, select

from engine.errors import InvalidDefinition
from engine.models import Definition
from tests.conftest import DIAGRAM
from tests.factories import Case, make_users

NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "camunda": "http://camunda.org/schema/1.0/bpmn"}


def diagram_with(edit) -> bytes:
    tree = etree.fromstring(DIAGRAM.read_bytes())
    edit(tree)
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")


def set_condition(flow_id, text):
    def edit(tree):
        tree.find(f".//bpmn:sequenceFlow[@id='{flow_id}']/bpmn:conditionExpression", NS).text = text
    return edit


def set_timer(event_id, text):
    def edit(tree):
        tree.find(f".//bpmn:boundaryEvent[@id='{event_id}']//bpmn:timeDate", NS).text = text
    return edit


def add_script_task(text):
    def edit(tree):
        process = tree.find(".//bpmn:process", NS)
        task = etree.SubElement(process, f"{{{NS['bpmn']}}}scriptTask", id="Script_Payload")
        etree.SubElement(task, f"{{{NS['bpmn']}}}script").text = text
    return edit


def add_property(value):
    def edit(tree):
        task = tree.find(".//bpmn:userTask[@id='Task_Terima']", NS)
        ext = task.find("bpmn:extensionElements", NS)
        props = etree.SubElement(ext, f"{{{NS['camunda']}}}properties")
        etree.SubElement(props, f"{{{NS['camunda']}}}property", name="x", value=value)
    return edit


PAYLOADS = [
    "__import__('os').system('touch {m}')",
    "tanggal_kegiatan.__class__",
    "10**10**10",
    "'a' * 10**9",
    "[1] * 10**9",
    "(w := open('{m}', 'w'))",
    "'{{0.__class__}}'.format(tanggal_kegiatan)",
    "__builtins__",
    "open('{m}', 'w')",
    "getattr(__import__('os'), 'system')('touch {m}')",
    "exec(\"open('{m}','w')\")",
    "().__class__.__bases__[0].__subclasses__()",
    "[open('{m}','w') for _ in [1]]",
    "(lambda: open('{m}','w'))()",
    "f\"{{open('{m}','w')}}\"",
]


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("where, element", [
    (lambda p: set_condition("Flow_Tolak", p), "Flow_Tolak"),
    (lambda p: set_timer("Timer_Koreksi", p), "Timer_Koreksi"),
    (lambda p: add_script_task(p), "Script_Payload"),
])
def test_payloads_refused_at_validation_naming_the_element(system, tmp_path, payload, where, element):
    marker = tmp_path / "MARKER"
    xml = diagram_with(where(payload.format(m=marker)))
    with pytest.raises(InvalidDefinition) as info:
        system.engine.validate(xml)
    assert element in [p.element_id for p in info.value.problems]
    assert not marker.exists()


def test_extension_property_expression_refused(system):
    with pytest.raises(InvalidDefinition) as info:
        system.engine.validate(diagram_with(add_property("${Runtime.getRuntime().exec('id')}")))
    assert "Task_Terima" in [p.element_id for p in info.value.problems]


def test_form_field_named_builtins_refused(system):
    def edit(tree):
        tree.find(".//camunda:formField[@id='pertimbangan']", NS).set("id", "__builtins__")
    with pytest.raises(InvalidDefinition) as info:
        system.engine.validate(diagram_with(edit))
    assert "Task_Putuskan" in [p.element_id for p in info.value.problems]


@pytest.mark.parametrize("xml", [
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;'
    b'&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    b'<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">&lol3;</definitions>',
    b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">&x;</definitions>',
    b"<definitions" + b" " * (3 * 1024 * 1024) + b"/>",
    b"not xml at all",
])
def test_hostile_xml_refused_quickly(system, xml):
    started = time.perf_counter()
    with pytest.raises(InvalidDefinition) as info:
        system.engine.validate(xml)
    assert time.perf_counter() - started < 2
    assert info.value.problems


def test_sop_rules_at_deploy(system, tx):
    """A lane no group works is refused when a process owner validates or deploys (it needs the database: the engine
    alone accepts it), on the lane, naming the group that would work it."""
    from process import modeling
    from tests.factories import user

    def edit(tree):
        lane = tree.find(".//bpmn:lane[@name='Admin Medsos']", NS)
        lane.set("name", "Humas")
        for task in tree.iterfind(".//bpmn:userTask", NS):  # else the group its tasks name works it
            task.attrib.pop(f"{{{NS['camunda']}}}candidateGroups", None)
    system.engine.validate(diagram_with(edit))
    make_users(system, tx)
    with tx() as s, pytest.raises(InvalidDefinition) as info:
        modeling.validate(system, user(s, "owner"), diagram_with(edit), s)
    assert [(p.element_id, p.code, p.params, p.element_type) for p in info.value.problems] == [
        ("Lane_AdminMedsos", "lane.no_group", {"lane": "Humas", "group": "humas"}, "lane")]


def test_unsafe_definition_refused_changes_nothing(system, tx):
    make_users(system, tx)
    with pytest.raises(InvalidDefinition), tx() as s:
        system.engine.deploy(s, diagram_with(set_condition("Flow_Tolak", "__import__('os')")), actor="owner")
    with tx() as s:
        assert s.execute(select(func.count()).select_from(Definition)
                         .where(Definition.process_key == "alur_pengunggahan")).scalar() == 1


def test_runtime_check_catches_a_tampered_definition(system, tx, tmp_path):
    """A stored diagram altered behind our back is checked again when it is loaded."""
    make_users(system, tx)
    marker = tmp_path / "MARKER"
    payload = f"__import__('os').system('touch {marker}')"
    case = Case.start(system, tx)
    case.do("tim", "submit")
    with tx() as s:
        d = s.execute(select(Definition).where(Definition.process_key == "alur_pengunggahan")).scalar_one()
        d.xml = diagram_with(set_condition("Flow_AdminTerima", payload)).decode()
        d.sha256 = "tampered"
    with pytest.raises(InvalidDefinition):
        case.do("admin", "terima")
    assert not marker.exists()


def _with_language(flow_id: str, language: str):
    def edit(tree):
        tree.find(f".//bpmn:sequenceFlow[@id='{flow_id}']/bpmn:conditionExpression", NS).set("language", language)
    return edit


def test_a_version_stored_before_a_stricter_check_keeps_running_its_cases(system, tx):
    """Deploy-time checks can grow stricter (a declared language other than ours is refused today, and an XSD
    detail or a structure rule may be tomorrow); a version stored before keeps running its cases, on the
    checks that make a version unsafe or unparseable (engine.definitions.FATAL_WHEN_STORED)."""
    make_users(system, tx)
    older = diagram_with(_with_language("Flow_AdminTerima", "groovy"))  # the text is our language all the same
    with pytest.raises(InvalidDefinition) as refused:
        system.engine.validate(older)
    assert [p.code for p in refused.value.problems] == ["script.language"]
    case = Case.start(system, tx)
    case.do("tim", "submit")
    with tx() as s:  # as an earlier release stored it
        d = s.execute(select(Definition).where(Definition.process_key == "alur_pengunggahan")).scalar_one()
        d.xml, d.sha256 = older.decode(), "stored-by-an-earlier-release"
    assert case.do("admin", "terima") == ["Task_Koreksi"]
    # ... and an unsafe text in the same place still refuses the stored version (checked again when loaded).
    with tx() as s:
        d = s.execute(select(Definition).where(Definition.process_key == "alur_pengunggahan")).scalar_one()
        d.xml = diagram_with(lambda t: (_with_language("Flow_WapimredLanjut", "groovy")(t), set_condition(
            "Flow_WapimredLanjut", "__import__('os')")(t))).decode()
        d.sha256 = "stored-and-altered"
    with pytest.raises(InvalidDefinition):
        case.do("wapimred", "koreksi")


def test_deploy_versions(system, tx):
    engine = system.engine
    xml = DIAGRAM.read_bytes()
    with tx() as s:
        first = system.cases.ensure_definition(s)
        assert first.version == 1
        assert engine.deploy(s, xml, actor="owner").id == first.id  # same content: same version
        changed = xml.replace(b"akhir_hari(tanggal_pengumpulan, 1)", b"akhir_hari(tanggal_pengumpulan, 2)", 1)
        second = engine.deploy(s, changed, actor="owner")
        assert second.version == 2


def test_version_ids_read_once_per_transaction_and_again_after_a_deploy(system, tx):
    """The stored versions' ids (the lane map's key) are a memo of the transaction: a deploy in it forgets them, so
    the lane map of the same request sees the new version; the next transaction reads them afresh."""
    engine = system.engine
    xml = DIAGRAM.read_bytes()
    with tx() as s:
        first = system.cases.ensure_definition(s)
        before = engine.definition_ids(s)  # every bundled procedure's first version
        assert first.id in before
        count = len(system.rules.all_versions(s))
        changed = xml.replace(b"akhir_hari(tanggal_pengumpulan, 1)", b"akhir_hari(tanggal_pengumpulan, 2)", 1)
        second = engine.deploy(s, changed, actor="owner")
        assert engine.definition_ids(s) == (*before, second.id)
        assert len(system.rules.all_versions(s)) == count + 1
    with tx() as s:
        assert engine.definition_ids(s) == (*before, second.id)


# --------------------------------------------------------------------------------------------------
# Timers: the kind is checked when the diagram is; what only a case's data shows is recorded, never a 500
# --------------------------------------------------------------------------------------------------


def test_a_duration_in_a_date_timer_is_refused_with_the_fix(system):
    from tests import diagram_corpus as corpus

    with pytest.raises(InvalidDefinition) as info:
        system.engine.validate(corpus.edited(corpus.set_timer("Timer_Terima", "P2D")))
    assert [(p.element_id, p.code, p.params) for p in info.value.problems] == [
        ("Timer_Terima", "timer.date_is_duration", {"value": "P2D"})]
    system.engine.validate(corpus.edited(corpus.set_timer("Timer_Terima", "P2D", "timeDuration")))


@pytest.mark.parametrize("expression, code, value", [
    ('"P" + "2D"', "timer.runtime_not_date", "P2D"),  # its kind shows only when it runs
    ("akhir_hari(tanggal_yang_tidak_ada, 1)", "timer.runtime_failed", None),
])
def test_a_timer_that_cannot_be_set_at_run_time_is_recorded_and_the_case_goes_on(system, tx, login, expression, code,
                                                                                  value):
    import json

    from engine.models import EventRow
    from tests import diagram_corpus as corpus

    make_users(system, tx)
    with tx() as s:
        system.engine.deploy(s, corpus.edited(corpus.set_timer("Timer_Terima", expression)), actor="owner")
    case = Case.start(system, tx)
    assert case.do("tim", "submit") == ["Task_Terima"]  # was a 500 (ValueError) or a stuck case, every time
    assert case.task().due_at is None
    with tx() as s:
        failed = s.execute(select(EventRow).where(EventRow.type == "timer_failed")).scalars().all()
        assert len(failed) == 1 and failed[0].task_id == case.task_id
        data = json.loads(failed[0].payload)
        assert (data["element"], data["code"], data["value"], data["expression"]) == (
            "Timer_Terima", code, value, expression)
    page = login("admin").get(f"/kasus/{case.instance_id}").get_data(as_text=True)
    assert "Batas waktu langkah" in page and "tidak dapat ditetapkan" in page and "Pemilik proses perlu" in page
    assert case.do("admin", "terima") == ["Task_Koreksi"]
    with tx() as s:  # recorded once, not at every action
        assert s.execute(select(func.count()).select_from(EventRow)
                         .where(EventRow.type == "timer_failed")).scalar() == 1

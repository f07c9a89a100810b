"""Diagrams a process owner may bring: the bundled diagram, variants of it that must deploy, hostile ones that must
be refused in words, and the 21 MIWG reference diagrams. Each entry is ``(name, xml bytes)``; the validation corpus
test (tests/test_problems.py) and the modeler's browser test (tests/browser/test_modeler.py) both walk them."""
from __future__ import annotations

from collections.abc import Callable

from lxml import etree

from tests.conftest import DIAGRAM, MIWG

NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "camunda": "http://camunda.org/schema/1.0/bpmn",
      "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI", "di": "http://www.omg.org/spec/DD/20100524/DI"}
BPMN = f"{{{NS['bpmn']}}}"


def edited(edit: Callable[[etree._Element], None], *, encoding: str = "UTF-8") -> bytes:
    tree = etree.fromstring(DIAGRAM.read_bytes())
    edit(tree)
    return etree.tostring(tree, xml_declaration=True, encoding=encoding)


def find(tree, xpath: str):
    found = tree.find(xpath, NS)
    assert found is not None, xpath
    return found


def rename_id(tree, old: str, new: str) -> None:
    """Give an element another id everywhere the diagram refers to it (refs, lanes, flows, shapes)."""
    for node in tree.iter():
        if not isinstance(node.tag, str):
            continue
        for attr, value in node.attrib.items():
            if value == old:
                node.set(attr, new)
            elif attr == "id" and value == f"{old}_di":
                node.set(attr, f"{new}_di")
        if (node.text or "").strip() == old:
            node.text = new


def set_timer(event_id: str, text: str, kind: str = "timeDate"):
    def edit(tree):
        definition = find(tree, f".//bpmn:boundaryEvent[@id='{event_id}']/bpmn:timerEventDefinition")
        for child in list(definition):
            definition.remove(child)
        value = etree.SubElement(definition, BPMN + kind)
        value.text = text
    return edit


def renamed(old: str, new: str):
    return lambda tree: rename_id(tree, old, new)


def return_to(target: str):
    """Step 4's return rule (``alur:return``) pointing to ``target``."""
    def edit(tree):
        for rule in tree.iter("{urn:alur-medsos:bpmn:1}return"):
            if rule.get("to") == "Task_Koreksi":
                rule.set("to", target)
    return edit


def set_condition(flow_id: str, text: str | None):
    def edit(tree):
        node = find(tree, f".//bpmn:sequenceFlow[@id='{flow_id}']/bpmn:conditionExpression")
        if text is None:
            node.getparent().remove(node)
        else:
            node.text = text
    return edit


def untyped_boundary(tree):
    event = find(tree, ".//bpmn:boundaryEvent[@id='Timer_Terima']")
    event.remove(find(event, "bpmn:timerEventDefinition"))


def field_without_id(tree):
    del find(tree, ".//camunda:formField[@id='tanggapan_admin']").attrib["id"]


def task_in_no_lane(tree):
    for ref in tree.findall(".//bpmn:flowNodeRef", NS):
        if ref.text == "Task_Terima":
            ref.getparent().remove(ref)


def script_before_step1(fmt: str | None, text: str):
    """A script task between the start event and the first gateway."""
    def edit(tree):
        start = find(tree, ".//bpmn:startEvent[@id='StartEvent_Kegiatan']")
        flow = find(tree, ".//bpmn:sequenceFlow[@id='Flow_Mulai']")
        flow.set("targetRef", "Script_Siapkan")
        script = etree.Element(BPMN + "scriptTask", id="Script_Siapkan", name="Siapkan data")
        if fmt is not None:
            script.set("scriptFormat", fmt)
        etree.SubElement(script, BPMN + "script").text = text
        start.addnext(script)
        script.addnext(etree.Element(BPMN + "sequenceFlow", id="Flow_Siapkan", sourceRef="Script_Siapkan",
                                     targetRef="Gateway_MasukPenyerahan"))
        lane = find(tree, ".//bpmn:lane[@name='Tim Pelaksana']")
        etree.SubElement(lane, BPMN + "flowNodeRef").text = "Script_Siapkan"
    return edit


def start_timer(kind: str, text: str):
    def edit(tree):
        start = find(tree, ".//bpmn:startEvent[@id='StartEvent_Kegiatan']")
        definition = etree.SubElement(start, BPMN + "timerEventDefinition", id="TimerDef_Mulai")
        etree.SubElement(definition, BPMN + kind).text = text
    return edit


def xsd_misplaced_documentation(tree):
    """A documentation element after the outgoing flows (BPMN 2.0 wants it first), as some exporters write."""
    task = find(tree, ".//bpmn:userTask[@id='Task_Terima']")
    etree.SubElement(task, BPMN + "documentation").text = "Diterima admin"


def vendor_extensions(tree):
    shape = find(tree, ".//bpmndi:BPMNShape[@bpmnElement='Task_Terima']")
    extension = etree.Element(f"{{{NS['di']}}}extension")
    shape.insert(0, extension)
    etree.SubElement(extension, "{http://vendor.example/modeler}color", value="#ffcc00")
    task = find(tree, ".//bpmn:userTask[@id='Task_Koreksi']")
    slot = find(task, "bpmn:extensionElements")
    etree.SubElement(slot, "{http://vendor.example/modeler}note").text = "Catatan vendor"


def latin1_names(tree):
    find(tree, ".//bpmn:startEvent[@id='StartEvent_Kegiatan']").set("name", "Kegiatan dilaksanakan (é)")


#: Diagrams that must deploy (and run exactly like the bundled one where they do not change a step).
def deployable() -> list[tuple[str, bytes]]:
    return [
        ("bundled", DIAGRAM.read_bytes()),
        ("timer-duration-P2D", edited(set_timer("Timer_Terima", "P2D", "timeDuration"))),
        ("timer-date-iso", edited(set_timer("Timer_Terima", "2025-05-10T23:59:59+07:00"))),
        ("vendor-extensions", edited(vendor_extensions)),
        ("latin-1", edited(latin1_names, encoding="ISO-8859-1")),
        ("script-python", edited(script_before_step1("python", "siap = True"))),
    ]


#: SpiffWorkflow's own task spec names that a BPMN id could take (engine.definitions.internal_spec_names).
INTERNAL_NAME_IDS = ["Start", "End", "StartEventSplit", "StartEventJoin", "alur_pengunggahan.EndJoin",
                     "Task_Serahkan.BoundaryEventSplit", "Task_Terima.BoundaryEventJoin"]


#: Diagrams that must be refused, each with the problem code expected and the element it names.
def hostile() -> list[tuple[str, bytes, str, str | None]]:
    cases = [
        ("timer-date-P2D", edited(set_timer("Timer_Terima", "P2D")), "timer.date_is_duration", "Timer_Terima"),
        ("timer-duration-date", edited(set_timer("Timer_Terima", "2025-05-10T23:59:59+07:00", "timeDuration")),
         "timer.duration_is_date", "Timer_Terima"),
        ("timer-duration-deadline-function",
         edited(set_timer("Timer_Terima", "akhir_hari(tanggal_pengumpulan, 1)", "timeDuration")),
         "timer.duration_is_date", "Timer_Terima"),
        ("timer-empty", edited(set_timer("Timer_Terima", "")), "timer.empty", "Timer_Terima"),
        ("boundary-untyped", edited(untyped_boundary), "event.boundary_untyped", "Timer_Terima"),
        ("field-without-id", edited(field_without_id), "form.field_id_missing", "Task_Terima"),
        ("task-in-no-lane", edited(task_in_no_lane), "sop.task_not_in_lane", "Task_Terima"),
        ("flow-without-condition", edited(set_condition("Flow_AdminKembalikan", None)),
         "gateway.flow_without_condition", "Flow_AdminKembalikan"),
        ("camunda-el", edited(set_condition("Flow_AdminKembalikan", "${approved}")),
         "expression.foreign_language", "Flow_AdminKembalikan"),
        ("script-javascript", edited(script_before_step1("javascript", "execution.setVariable('x', 1);")),
         "script.language", "Script_Siapkan"),
        ("script-groovy", edited(script_before_step1("groovy", "x = 1")), "script.language", "Script_Siapkan"),
        ("start-timer-cron", edited(start_timer("timeDate", "0 0 9 * * ?")), "timer.cron", "StartEvent_Kegiatan"),
        ("start-timer-cycle", edited(start_timer("timeCycle", "0 0 9 * * ?")), "unsupported.timeCycle",
         "StartEvent_Kegiatan"),
        ("xsd-order", edited(xsd_misplaced_documentation), "xml.schema_element", "Task_Terima"),
        ("dangling-rule", edited(return_to("Task_Hilang")), "decl.target_missing", "Task_Putuskan"),
        ("unsafe-condition", edited(set_condition("Flow_Tolak", "__import__('os')")), "expression.name_invalid",
         "Flow_Tolak"),
    ]
    for name in INTERNAL_NAME_IDS:
        old = "StartEvent_Kegiatan"
        if name.endswith("BoundaryEventSplit") or name.endswith("BoundaryEventJoin") or name.endswith("EndJoin"):
            old = "Gateway_MasukPenyerahan"
        elif name == "End":
            old = "EndEvent_Ditolak"
        cases.append((f"id-{name}", edited(renamed(old, name)), "id.internal_name", name))
    return cases


def miwg() -> list[tuple[str, bytes]]:
    return [(path.name, path.read_bytes()) for path in sorted(MIWG.glob("*.bpmn"))]


def everything() -> list[tuple[str, bytes]]:
    """Every diagram of the corpus, by name."""
    return deployable() + [(name, xml) for name, xml, _code, _element in hostile()] + miwg()

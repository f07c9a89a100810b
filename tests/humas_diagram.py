"""The bundled SOP diagram with a lane "Humas" and a step in it between step 4 (the decision) and step 5 (the upload),
as issue 15's first acceptance line has a process owner add it: :func:`drawn_with_humas` is the drawing only (what the
browser test imports into the modeler, then completes in the properties panel), :func:`declared_with_humas` the
finished diagram (form, timer, step numbers 5 and 6, written response) as the modeler exports it."""
from __future__ import annotations

from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "bpmn" / "alur_pengunggahan.bpmn"
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
ALUR = "urn:alur-medsos:bpmn:1"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS = {"bpmn": BPMN, "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
      "dc": "http://www.omg.org/spec/DD/20100524/DC", "di": "http://www.omg.org/spec/DD/20100524/DI",
      "camunda": CAMUNDA, "alur": ALUR}
HUMAS_TASK = "Memeriksa kesesuaian konten dengan pedoman kehumasan"
UPLOAD_TASK = "Mengunggah konten ke platform media sosial KPU Provinsi Sumatera Barat"
#: The deadline the owner gives the Humas step: two working days after the documentation was handed in.
HUMAS_DEADLINE = "akhir_hari_kerja(tanggal_pengumpulan, 2)"


def _el(tag: str, parent=None, **attrs):
    prefix, name = tag.split(":")
    node = etree.Element(f"{{{NS[prefix]}}}{name}", {k.replace("__", ":"): str(v) for k, v in attrs.items()})
    if parent is not None:
        parent.append(node)
    return node


def _edge(plane, flow_id: str, points) -> None:
    edge = _el("bpmndi:BPMNEdge", plane, id=f"{flow_id}_di", bpmnElement=flow_id)
    for x, y in points:
        _el("di:waypoint", edge, x=x, y=y)


def drawn_with_humas() -> bytes:
    """The bundled diagram with what a process owner draws, nothing declared or filled in yet: a lane "Humas" at the
    bottom of the pool, a user task in it on the "Setuju" path between step 4's gateway and the upload step, and a
    non-interrupting timer on that task with no value yet."""
    tree = etree.parse(str(BUNDLED), etree.XMLParser(remove_blank_text=True))
    root = tree.getroot()
    (process,) = root.xpath("//bpmn:process", namespaces=NS)
    (lane_set,) = process.xpath("bpmn:laneSet", namespaces=NS)
    lane = _el("bpmn:lane", lane_set, id="Lane_Humas", name="Humas")
    for ref in ("Task_Humas", "Timer_Humas"):
        _el("bpmn:flowNodeRef", lane).text = ref

    (setuju,) = process.xpath("bpmn:sequenceFlow[@name='Setuju']", namespaces=NS)
    upload = process.xpath("bpmn:userTask[@id=$id]", namespaces=NS, id=setuju.get("targetRef"))[0]
    setuju.set("targetRef", "Task_Humas")
    (incoming,) = upload.xpath("bpmn:incoming[text()=$id]", namespaces=NS, id=setuju.get("id"))
    incoming.text = "Flow_Humas_Unggah"
    task = _el("bpmn:userTask", None, id="Task_Humas", name=HUMAS_TASK)
    upload.addprevious(task)
    _el("bpmn:incoming", task).text = setuju.get("id")
    _el("bpmn:outgoing", task).text = "Flow_Humas_Unggah"
    timer = _el("bpmn:boundaryEvent", None, id="Timer_Humas", cancelActivity="false", attachedToRef="Task_Humas")
    task.addnext(timer)
    _el("bpmn:timerEventDefinition", timer, id="TimerDef_Humas")
    setuju.addnext(_el("bpmn:sequenceFlow", None, id="Flow_Humas_Unggah", sourceRef="Task_Humas",
                       targetRef=upload.get("id")))

    (plane,) = root.xpath("//bpmndi:BPMNPlane", namespaces=NS)
    (pool,) = plane.xpath("bpmndi:BPMNShape[contains(@bpmnElement, 'Participant')]/dc:Bounds", namespaces=NS)
    top, height = float(pool.get("y")), float(pool.get("height"))
    pool.set("height", str(height + 220))
    shape = _el("bpmndi:BPMNShape", plane, id="Lane_Humas_di", bpmnElement="Lane_Humas", isHorizontal="true")
    _el("dc:Bounds", shape, x=190, y=top + height, width=2330, height=220)
    shape = _el("bpmndi:BPMNShape", plane, id="Task_Humas_di", bpmnElement="Task_Humas")
    _el("dc:Bounds", shape, x=1930, y=top + height + 70, width=120, height=80)
    shape = _el("bpmndi:BPMNShape", plane, id="Timer_Humas_di", bpmnElement="Timer_Humas")
    _el("dc:Bounds", shape, x=2002, y=top + height + 132, width=36, height=36)
    (old,) = plane.xpath("bpmndi:BPMNEdge[@bpmnElement=$id]", namespaces=NS, id=setuju.get("id"))
    first = old.xpath("di:waypoint", namespaces=NS)[0]
    for point in old.xpath("di:waypoint", namespaces=NS)[1:]:
        old.remove(point)
    first.addnext(_el("di:waypoint", None, x=1990, y=top + height + 70))
    first.addnext(_el("di:waypoint", None, x=1990, y=float(first.get("y")) + 25))
    first.set("x", "1990")
    _edge(plane, "Flow_Humas_Unggah", [(2050, top + height + 110), (2130, top + height + 110), (2130, 410)])
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def declared_with_humas() -> bytes:
    """:func:`drawn_with_humas` completed as the browser test completes it in the properties panel: a generated form
    with a required note ``catatan_humas``, the timer's value, the step declared as number 5 ("Humas", deadline
    required, the note its written response) and the upload step renumbered 6."""
    root = etree.fromstring(drawn_with_humas())
    (task,) = root.xpath("//bpmn:userTask[@id='Task_Humas']", namespaces=NS)
    ext = etree.Element(f"{{{BPMN}}}extensionElements")
    task.insert(0, ext)
    form = _el("camunda:formData", ext)
    field = _el("camunda:formField", form, id="catatan_humas", label="Catatan Humas", type="string")
    _el("camunda:constraint", _el("camunda:validation", field), name="required")
    step = _el("alur:step", ext, number=5, label="Humas", deadline="required")
    _el("alur:response", step, text="catatan_humas")
    (definition,) = root.xpath("//bpmn:boundaryEvent[@id='Timer_Humas']/bpmn:timerEventDefinition", namespaces=NS)
    value = etree.SubElement(definition, f"{{{BPMN}}}timeDate", {f"{{{XSI}}}type": "bpmn:tFormalExpression"})
    value.text = HUMAS_DEADLINE
    (upload,) = root.xpath("//bpmn:userTask[@name=$name]//alur:step", namespaces=NS, name=UPLOAD_TASK)
    upload.set("number", "6")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

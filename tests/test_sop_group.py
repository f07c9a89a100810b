"""The conventions of the modeler's group "SOP" (frontend/sop-panel.js), pinned on the server's side: the XML the group
writes for a step with two *Kelengkapan* items and a *Waktu* of "2 hari kerja" validates, deploys, and the SOP document
prints both items, the deadline in words and the output in that step's row (page model and PDF).

What the group writes for such a step (tests/browser/test_modeler_sop_group.py drives the group itself):

- the form fields in ``camunda:formData``: ids made from the labels, types ``files`` / ``text``, ``required`` and
  ``min_files`` as ``camunda:constraint``;
- one ``alur:input field=…`` per item printed in the SOP's Kelengkapan, ``alur:step deadline="required"``, ``output``;
- a non-interrupting timer boundary event attached to the task, named "Batas waktu 2 hari kerja", its ``timeDate``
  ``akhir_hari_kerja(tanggal_pengumpulan, 2)`` (the day step 1 stamps, ``alur:stamp date``)."""
from __future__ import annotations

import pypdfium2 as pdfium
from lxml import etree

from engine.errors import InvalidDefinition
from process import modeling, sopdoc
from tests.conftest import DIAGRAM
from tests.factories import make_users, user

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
NS = {"bpmn": BPMN, "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI", "dc": "http://www.omg.org/spec/DD/20100524/DC",
      "di": "http://www.omg.org/spec/DD/20100524/DI", "camunda": "http://camunda.org/schema/1.0/bpmn",
      "alur": "urn:alur-medsos:bpmn:1", "xsi": "http://www.w3.org/2001/XMLSchema-instance"}
STEP = "Memverifikasi surat tugas peliputan"

#: The task, as the group leaves it (the ids of the task and its timer are bpmn-js's, any would do).
TASK = f"""<bpmn:userTask xmlns:bpmn="{BPMN}" xmlns:camunda="{NS['camunda']}" xmlns:alur="{NS['alur']}"
    id="Activity_0verif1" name="{STEP}">
  <bpmn:extensionElements>
    <camunda:formData>
      <camunda:formField id="surat_tugas" label="Surat tugas" type="files">
        <camunda:validation>
          <camunda:constraint name="required"/>
          <camunda:constraint name="min_files" config="1"/>
        </camunda:validation>
      </camunda:formField>
      <camunda:formField id="catatan" label="Catatan" type="text"/>
    </camunda:formData>
    <alur:step deadline="required" output="Surat tugas terverifikasi">
      <alur:input field="surat_tugas"/>
      <alur:input field="catatan"/>
    </alur:step>
  </bpmn:extensionElements>
  <bpmn:incoming>Flow_Setuju</bpmn:incoming>
  <bpmn:outgoing>Flow_0verif2</bpmn:outgoing>
</bpmn:userTask>"""
TIMER = f"""<bpmn:boundaryEvent xmlns:bpmn="{BPMN}" xmlns:xsi="{NS['xsi']}" id="Event_0verif3"
    name="Batas waktu 2 hari kerja" cancelActivity="false" attachedToRef="Activity_0verif1">
  <bpmn:timerEventDefinition id="TimerEventDefinition_0verif4">
    <bpmn:timeDate xsi:type="bpmn:tFormalExpression">akhir_hari_kerja(tanggal_pengumpulan, 2)</bpmn:timeDate>
  </bpmn:timerEventDefinition>
</bpmn:boundaryEvent>"""


def _el(tag: str, parent=None, **attrs):
    prefix, name = tag.split(":")
    node = etree.Element(f"{{{NS[prefix]}}}{name}", {k: str(v) for k, v in attrs.items()})
    if parent is not None:
        parent.append(node)
    return node


def with_verification_step() -> bytes:
    """The bundled diagram with the step dropped on the flow "Setuju" (decision → upload) in the lane of the Wakil
    Pimpinan Redaksi, as the browser test draws it."""
    root = etree.parse(str(DIAGRAM), etree.XMLParser(remove_blank_text=True)).getroot()
    (process,) = root.xpath("//bpmn:process", namespaces=NS)
    (flow,) = process.xpath("bpmn:sequenceFlow[@id='Flow_Setuju']", namespaces=NS)
    (upload,) = process.xpath("bpmn:userTask[@id=$id]", namespaces=NS, id=flow.get("targetRef"))
    flow.set("targetRef", "Activity_0verif1")
    (incoming,) = upload.xpath("bpmn:incoming[text()='Flow_Setuju']", namespaces=NS)
    incoming.text = "Flow_0verif2"
    upload.addprevious(etree.fromstring(TASK))
    upload.addprevious(etree.fromstring(TIMER))
    flow.addnext(_el("bpmn:sequenceFlow", id="Flow_0verif2", sourceRef="Activity_0verif1", targetRef=upload.get("id")))
    (lane,) = process.xpath("bpmn:laneSet/bpmn:lane[@id='Lane_Wapimred']", namespaces=NS)
    for ref in ("Activity_0verif1", "Event_0verif3"):
        _el("bpmn:flowNodeRef", lane).text = ref
    (plane,) = root.xpath("//bpmndi:BPMNPlane", namespaces=NS)
    for element, (x, y, w, h) in (("Activity_0verif1", (2020, 590, 100, 80)), ("Event_0verif3", (2080, 652, 36, 36))):
        shape = _el("bpmndi:BPMNShape", plane, id=f"{element}_di", bpmnElement=element)
        _el("dc:Bounds", shape, x=x, y=y, width=w, height=h)
    (edge,) = plane.xpath("bpmndi:BPMNEdge[@bpmnElement='Flow_Setuju']", namespaces=NS)
    first, *rest = edge.xpath("di:waypoint", namespaces=NS)
    for point in rest:
        edge.remove(point)
    first.addnext(_el("di:waypoint", x=2070, y=670))
    edge = _el("bpmndi:BPMNEdge", plane, id="Flow_0verif2_di", bpmnElement="Flow_0verif2")
    _el("di:waypoint", edge, x=2070, y=590)
    _el("di:waypoint", edge, x=2070, y=410)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def test_the_sop_groups_step_validates_deploys_and_prints(system, tx):
    make_users(system, tx)
    xml = with_verification_step()
    with tx() as s:
        owner = user(s, "owner")
        try:
            report = modeling.validate(system, owner, xml)
        except InvalidDefinition as exc:  # pragma: no cover - the message says what is wrong
            raise AssertionError([(p.element_id, p.code, p.params) for p in exc.problems]) from None
        mine = [w for w in report.warnings if w.element_id in ("Activity_0verif1", "Event_0verif3")]
        assert not mine, mine
        definition, _summary = modeling.deploy(s, system, owner, xml)
    with tx() as s:
        doc = sopdoc.document_of(s, system, definition.process_key, definition.version)
    (row,) = [r for r in doc.rows if r.text == STEP]
    assert row.kelengkapan == ("Surat tugas", "Catatan")
    assert (row.waktu, row.waktu_flagged) == ("2 hari kerja setelah pengumpulan dokumentasi dan konten", False)
    assert row.output == "Surat tugas terverifikasi"
    assert doc.columns[row.column].title == "Wakil Pimpinan Redaksi"

    rendered = pdfium.PdfDocument(sopdoc.to_pdf(doc))
    text = " ".join(" ".join(rendered[i].get_textpage().get_text_range().split()) for i in range(len(rendered)))
    after = text[text.index("Memverifikasi surat tugas"):]
    for words in ("Surat tugas", "Catatan", "2 hari kerja", "Surat tugas terverifikasi"):
        assert words in after, (words, after[:600])


def test_a_minimum_of_files_above_one_is_printed_with_the_item(system, tx):
    """"minimal n" is the document's, from the field's ``min_files`` (the group's *minimal jumlah berkas*)."""
    make_users(system, tx)
    xml = with_verification_step().replace(b'name="min_files" config="1"', b'name="min_files" config="2"')
    with tx() as s:
        definition, _summary = modeling.deploy(s, system, user(s, "owner"), xml)
    with tx() as s:
        doc = sopdoc.document_of(s, system, definition.process_key, definition.version)
    (row,) = [r for r in doc.rows if r.text == STEP]
    assert row.kelengkapan == ("Surat tugas minimal 2", "Catatan")


def _script_texts() -> dict[str, str]:
    import json
    import re

    from tests.conftest import ROOT

    source = (ROOT / "frontend" / "sop-panel.js").read_text(encoding="utf-8")
    body = source[source.index("export const TEXTS = {"):source.index("};", source.index("export const TEXTS = {"))]
    return {key: json.loads(value) for key, value in re.findall(r'^\s*(\w+): ("(?:[^"\\]|\\.)*"),$', body, re.M)}


def test_the_modeler_page_gives_the_groups_texts_in_the_users_language(english_app, system, tx):
    """The page's texts for the group are the script's keys, the Indonesian ones word for word (the script's own
    are the fallback), and in English when the user reads English. The timer's name is the diagram's words: not
    translated."""
    script = _script_texts()
    with tx() as s:
        system.cases.ensure_definition(s)
    make_users(system, tx)
    c = english_app.test_client()
    assert c.post("/masuk", data={"username": "owner", "password": "rahasia-owner"}).status_code == 302

    def page_texts() -> dict[str, str]:
        import html
        import json
        import re

        page = c.get("/proses/modeler").get_data(as_text=True)
        return json.loads(html.unescape(re.search(r"data-texts='([^']*)'", page).group(1)))["sop"]

    indonesian = page_texts()
    assert set(indonesian) == set(script) - {"waktu_event", "waktu_event_plain"}
    assert indonesian == {key: script[key] for key in indonesian}
    c.get("/bahasa/en")
    english = page_texts()
    assert english["group"] == "SOP: actor, requirements, time, output"
    assert english["item_required"] == "Requirement {n}: required"
    same = {key for key in english if english[key] == indonesian[key]}
    assert same <= {"output", "output_register"}, same

"""Structural checks of the SOP diagram, with lxml only (independent of the engine)."""
import importlib.util
import re
from pathlib import Path

import pytest
from lxml import etree

pytestmark = pytest.mark.nodb  # the SOP diagram read with lxml: no database

PATH = Path(__file__).parents[1] / "bpmn" / "alur_pengunggahan.bpmn"
NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "camunda": "http://camunda.org/schema/1.0/bpmn",
}
LANES = ["Tim Pelaksana", "Admin Medsos", "Wakil Pimpinan Redaksi", "Pimpinan Redaksi"]
TASK_LANES = {
    "Task_Serahkan": "Tim Pelaksana",
    "Task_Terima": "Admin Medsos",
    "Task_Koreksi": "Wakil Pimpinan Redaksi",
    "Task_Putuskan": "Pimpinan Redaksi",
    "Task_Unggah": "Admin Medsos",
}
# deciding gateway -> (user task holding the enum field, field id)
DECISIONS = {
    "Gateway_Kelengkapan": ("Task_Terima", "keputusan_admin"),
    "Gateway_HasilKoreksi": ("Task_Koreksi", "keputusan_wapimred"),
    "Gateway_Keputusan": ("Task_Putuskan", "keputusan_pimred"),
}
FLOW_NODES = ("startEvent", "endEvent", "userTask", "exclusiveGateway", "boundaryEvent", "intermediateThrowEvent")


@pytest.fixture(scope="module")
def doc():
    return etree.parse(str(PATH))


def xp(node, path, **kw):
    return node.xpath(path, namespaces=NS, **kw)


def flow_nodes(doc):
    return [el for tag in FLOW_NODES for el in xp(doc, f"//bpmn:process/bpmn:{tag}")]


def by_id(doc, ident):
    (el,) = xp(doc, "//*[@id=$i]", i=ident)
    return el


def successors(doc, node_id):
    return [f.get("targetRef") for f in xp(doc, "//bpmn:sequenceFlow[@sourceRef=$i]", i=node_id)]


def bounds(doc, ident):
    (b,) = xp(doc, "//bpmndi:BPMNShape[@bpmnElement=$i]/dc:Bounds", i=ident)
    return tuple(float(b.get(k)) for k in ("x", "y", "width", "height"))


def test_valid_against_bundled_xsd(doc):
    spiff_dir = Path(importlib.util.find_spec("SpiffWorkflow").origin).parent
    schema = etree.XMLSchema(etree.parse(str(spiff_dir / "bpmn" / "parser" / "schema" / "BPMN20.xsd")))
    assert schema.validate(doc), schema.error_log


def test_four_lanes_in_sop_order(doc):
    assert [lane.get("name") for lane in xp(doc, "//bpmn:laneSet/bpmn:lane")] == LANES


def test_every_flow_node_in_exactly_one_lane(doc):
    refs = [r.text for r in xp(doc, "//bpmn:lane/bpmn:flowNodeRef")]
    assert sorted(refs) == sorted(el.get("id") for el in flow_nodes(doc))
    for task_id, lane in TASK_LANES.items():
        assert xp(doc, "//bpmn:lane[bpmn:flowNodeRef=$i]/@name", i=task_id) == [lane]
    assert sorted(t.get("id") for t in xp(doc, "//bpmn:userTask")) == sorted(TASK_LANES)


@pytest.mark.parametrize("task_id", TASK_LANES)
def test_non_interrupting_timer_branch(doc, task_id):
    (timer,) = xp(doc, "//bpmn:boundaryEvent[@attachedToRef=$i]", i=task_id)
    assert timer.get("cancelActivity") == "false"
    (time_date,) = xp(timer, "bpmn:timerEventDefinition/bpmn:timeDate")
    assert time_date.text.strip().startswith("akhir_hari(")
    (throw_id,) = successors(doc, timer.get("id"))
    throw = by_id(doc, throw_id)
    assert etree.QName(throw).localname == "intermediateThrowEvent"
    (signal,) = xp(throw, "bpmn:signalEventDefinition")
    assert xp(doc, "//bpmn:signal[@id=$s]", s=signal.get("signalRef"))
    (end_id,) = successors(doc, throw_id)
    assert etree.QName(by_id(doc, end_id)).localname == "endEvent"
    lane_of = {i: xp(doc, "//bpmn:lane[bpmn:flowNodeRef=$i]/@name", i=i) for i in (task_id, timer.get("id"), end_id)}
    assert lane_of[task_id] == lane_of[timer.get("id")] == lane_of[end_id]


@pytest.mark.parametrize("gateway_id", DECISIONS)
def test_gateway_conditions_cover_enum(doc, gateway_id):
    task_id, field = DECISIONS[gateway_id]
    enum_ids = xp(by_id(doc, task_id), ".//camunda:formField[@id=$f][@type='enum']/camunda:value/@id", f=field)
    assert enum_ids and by_id(doc, gateway_id).get("default") is None
    values = []
    for flow in xp(doc, "//bpmn:sequenceFlow[@sourceRef=$g]", g=gateway_id):
        (cond,) = xp(flow, "bpmn:conditionExpression")
        match = re.fullmatch(rf'\s*{field}\s*==\s*"(\w+)"\s*', cond.text)
        assert match, cond.text
        values.append(match.group(1))
    assert sorted(values) == sorted(enum_ids)


def test_main_flow_reaches_published_and_rejected_ends(doc):
    (start,) = xp(doc, "//bpmn:process/bpmn:startEvent")
    seen, todo = set(), [start.get("id")]
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(successors(doc, node))
    ends = {i for i in seen if etree.QName(by_id(doc, i)).localname == "endEvent"}
    assert ends == {"EndEvent_Dipublikasikan", "EndEvent_Ditolak"}
    assert set(TASK_LANES) <= seen


def test_diagram_interchange_complete(doc):
    ids = set(xp(doc, "//@id"))
    shapes = set(xp(doc, "//bpmndi:BPMNShape/@bpmnElement"))
    edges = set(xp(doc, "//bpmndi:BPMNEdge/@bpmnElement"))
    assert (shapes | edges) <= ids
    (plane,) = xp(doc, "//bpmndi:BPMNPlane/@bpmnElement")
    assert plane == "Collaboration_KPU"
    needs_shape = [el.get("id") for el in flow_nodes(doc)] + xp(
        doc, "//bpmn:lane/@id | //bpmn:participant/@id | //bpmn:textAnnotation/@id")
    assert set(needs_shape) <= shapes
    assert set(xp(doc, "//bpmn:sequenceFlow/@id | //bpmn:association/@id")) <= edges
    for edge in xp(doc, "//bpmndi:BPMNEdge"):
        assert len(xp(edge, "*[local-name()='waypoint']")) >= 2


def test_shapes_inside_their_lanes(doc):
    for lane in xp(doc, "//bpmn:lane"):
        lx, ly, lw, lh = bounds(doc, lane.get("id"))
        for ref in xp(lane, "bpmn:flowNodeRef/text()"):
            x, y, w, h = bounds(doc, ref)
            assert lx <= x and x + w <= lx + lw and ly <= y and y + h <= ly + lh, (ref, lane.get("name"))
    for timer in xp(doc, "//bpmn:boundaryEvent"):
        tx, ty, tw, th = bounds(doc, timer.get("attachedToRef"))
        x, y, w, h = bounds(doc, timer.get("id"))
        assert y + h / 2 == ty + th and tx <= x + w / 2 <= tx + tw, timer.get("id")

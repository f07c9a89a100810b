"""What changed between two versions of a diagram, element by element (for the deploy summary and
for process owners who want to see what a new version does differently)."""
from __future__ import annotations

from lxml import etree

from .definitions import BPMN_NS, CAMUNDA_NS, harden_and_parse

_NS = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS}
_SKIP = {"laneSet", "extensionElements", "documentation", "dataObject", "ioSpecification"}


def _text(node, path: str) -> str | None:
    found = node.find(path, _NS)
    return (found.text or "").strip() if found is not None else None


def _fields(node) -> dict[str, dict]:
    fields = {}
    for f in node.findall(".//camunda:formField", _NS):
        constraints = {c.get("name"): c.get("config") for c in f.findall(".//camunda:constraint", _NS)}
        options = [(v.get("id"), v.get("name")) for v in f.findall("camunda:value", _NS)]
        props = {p.get("id"): p.get("value") for p in f.findall(".//camunda:property", _NS)}
        fields[f.get("id")] = {"label": f.get("label"), "type": f.get("type"), "default": f.get("defaultValue"),
                               "constraints": constraints, "options": options, "properties": props}
    return fields


def _signature(node, lanes: dict[str, str]) -> dict:
    sig = {"type": etree.QName(node).localname, "name": node.get("name"), "lane": lanes.get(node.get("id"))}
    for attr in ("sourceRef", "targetRef", "attachedToRef", "cancelActivity", "default", "scriptFormat"):
        if node.get(attr) is not None:
            sig[attr] = node.get(attr)
    for label, path in (("condition", "bpmn:conditionExpression"), ("script", "bpmn:script"), ("text", "bpmn:text")):
        value = _text(node, path)
        if value is not None:
            sig[label] = value
    definitions = [child for child in node if isinstance(child.tag, str)
                   and etree.QName(child).localname.endswith("EventDefinition")]
    if definitions:
        sig["event"] = ",".join(sorted(etree.QName(d).localname.removesuffix("EventDefinition") for d in definitions))
    for definition in definitions:
        for value in definition:
            kind = etree.QName(value).localname if isinstance(value.tag, str) else ""
            if kind in ("timeDate", "timeDuration", "timeCycle"):
                # The same text as a date or as a duration means something else: the kind is an aspect of its own.
                sig["timer"] = (value.text or "").strip()
                sig["timer_kind"] = kind
    fields = _fields(node) if sig["type"] != "subProcess" else {}  # its tasks' forms are theirs
    if fields:
        sig["form"] = fields
    return sig


def _elements(xml: bytes | str) -> dict[str, dict]:
    tree = harden_and_parse(xml)
    process = tree.getroot().find("bpmn:process", _NS)
    if process is None:
        return {}
    lanes = {}
    for lane in process.findall(".//bpmn:lane", _NS):
        for ref in lane.findall("bpmn:flowNodeRef", _NS):
            lanes[(ref.text or "").strip()] = lane.get("name")
    elements = {}

    def add(container, lane: str | None) -> None:
        for node in container:
            if not isinstance(node.tag, str) or etree.QName(node).localname in _SKIP or not node.get("id"):
                continue
            if lane is not None:  # a node inside a sub-process works in that sub-process's lane
                lanes[node.get("id")] = lane
            elements[node.get("id")] = _signature(node, lanes)
            if etree.QName(node).localname == "subProcess":
                add(node, lanes.get(node.get("id")))

    add(process, None)
    for lane in process.findall(".//bpmn:lane", _NS):
        elements[lane.get("id")] = {"type": "lane", "name": lane.get("name")}
    return elements


def _field_changes(old: dict, new: dict) -> list[dict]:
    changes = []
    for fid in new.keys() - old.keys():
        changes.append({"aspect": "field_added", "field": fid, "required": "required" in new[fid]["constraints"],
                        "label": new[fid]["label"]})
    for fid in old.keys() - new.keys():
        changes.append({"aspect": "field_removed", "field": fid, "label": old[fid]["label"]})
    for fid in old.keys() & new.keys():
        if old[fid] != new[fid]:
            what = sorted(k for k in new[fid] if new[fid][k] != old[fid].get(k))
            changes.append({"aspect": "field_changed", "field": fid, "label": new[fid]["label"], "what": what})
    return sorted(changes, key=lambda c: (c["aspect"], c["field"]))


def summarize_changes(old_xml: bytes | str | None, new_xml: bytes | str) -> dict:
    """``{"added": [...], "removed": [...], "changed": [...]}``; each entry names the element
    (id, type, name) and, for changed ones, every aspect that differs with old and new values."""
    old = _elements(old_xml) if old_xml else {}
    new = _elements(new_xml)
    summary = {
        "added": [{"id": i, "type": new[i]["type"], "name": new[i].get("name")}
                  for i in sorted(new.keys() - old.keys())],
        "removed": [{"id": i, "type": old[i]["type"], "name": old[i].get("name")}
                    for i in sorted(old.keys() - new.keys())],
        "changed": [],
    }
    for eid in sorted(old.keys() & new.keys()):
        a, b = old[eid], new[eid]
        if a == b:
            continue
        aspects = []
        for key in sorted((a.keys() | b.keys()) - {"form"}):
            if a.get(key) != b.get(key):
                aspects.append({"aspect": key, "old": a.get(key), "new": b.get(key)})
        aspects += _field_changes(a.get("form", {}), b.get("form", {}))
        summary["changed"].append({"id": eid, "type": b["type"], "name": b.get("name"), "changes": aspects})
    return summary

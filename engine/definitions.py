"""Reading a diagram: hardened XML in its declared encoding, the BPMN 2.0 XSD, our own structural checks,
SpiffWorkflow's Camunda parser, and a static check of every expression and timer, all before anything can run.

Every problem found is a :class:`~engine.errors.Problem` (element id, code, parameters), never a sentence; the web layer
renders it in the user's language. :data:`ENGINE_CODES` lists every code this module reports. The structural checks
run before SpiffWorkflow's parser and refuse, in our terms, what that parser would refuse in its own words (or accept
and then fail on at run time); anything it still raises becomes the one generic code ``parser.refused``."""
from __future__ import annotations

import ast
import hashlib
import logging
import re
from collections.abc import Callable, Iterable
from copy import deepcopy
from dataclasses import dataclass, field
from functools import lru_cache

import defusedxml.ElementTree as safe_et
from defusedxml import DefusedXmlException
from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.bpmn.specs.defaults import UserTask
from SpiffWorkflow.camunda.parser import CamundaParser

from .errors import InvalidDefinition, Problem
from .expressions import (
    EXPRESSION_CODES,
    ISO_DURATION,
    ISO_TIMER_VALUE,
    FunctionRegistry,
    UnsafeExpression,
    check_expression,
    check_script,
)
from .forms import FIELD_ID_RE, FormField, form_fields_of, xml_form_fields
from .state import attach_clock, inclusive_loop_problems, parallel_loop_problems, pass_by_themselves

log = logging.getLogger(__name__)

MAX_XML_BYTES = 2 * 1024 * 1024
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
DI_NS = "http://www.omg.org/spec/DD/20100524/DI"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"

#: Elements we do not execute (problem code ``unsupported.<element>``).
#: Why each one is refused, in plain words: docs/bpmn-support.md. ``eventSubProcess`` is a ``bpmn:subProcess`` with
#: ``triggeredByEvent="true"`` (an embedded sub-process without it runs).
UNSUPPORTED = frozenset({
    "complexGateway", "eventBasedGateway", "callActivity", "adHocSubProcess", "eventSubProcess",
    "transaction", "businessRuleTask", "serviceTask", "sendTask", "receiveTask",
    "messageEventDefinition", "conditionalEventDefinition", "compensateEventDefinition", "linkEventDefinition",
    "cancelEventDefinition", "timeCycle", "multiInstanceLoopCharacteristics", "standardLoopCharacteristics",
})

#: Script languages that run here: the safe Python-like expressions of engine/expressions.py.
SCRIPT_FORMATS = re.compile(r"(?:text/)?(?:x-)?python\d*(?:\.\d+)*", re.IGNORECASE)

#: Flow nodes SpiffWorkflow turns into task specs named by their id.
FLOW_NODES = frozenset({"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
                        "userTask", "scriptTask", "exclusiveGateway", "parallelGateway", "inclusiveGateway",
                        "eventBasedGateway", "complexGateway", "task", "serviceTask", "sendTask", "receiveTask",
                        "manualTask", "businessRuleTask", "callActivity", "subProcess", "adHocSubProcess",
                        "transaction"})
GATEWAYS = frozenset({"exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway",
                      "complexGateway"})

#: Names SpiffWorkflow gives its own task specs, which share one namespace with the BPMN ids of a process
#: (bpmn/specs/bpmn_process_spec.py, bpmn/parser/ProcessParser.py, bpmn/parser/TaskParser.py). An element with one
#: of these ids replaces or is replaced by SpiffWorkflow's own spec: the diagram parses and no case can start.
INTERNAL_NAMES = frozenset({"Start", "End", "StartEventSplit", "StartEventJoin"})
INTERNAL_SUFFIXES = (".EndJoin", ".BoundaryEventSplit", ".BoundaryEventJoin", " [child]")

#: Every code this module reports (besides those of engine/expressions.py, also listed).
ENGINE_CODES = frozenset({
    "xml.too_large", "xml.unsafe", "xml.not_well_formed", "xml.encoding", "xml.schema", "xml.schema_element",
    "xml.schema_attribute_not_allowed", "xml.schema_attribute_missing", "xml.schema_value",
    "xml.schema_duplicate_id", "process.count", "process.no_start_event", "id.internal_name",
    "event.boundary_untyped", "timer.empty", "timer.date_is_duration", "timer.duration_is_date", "timer.cron",
    "timer.cycle_value", "gateway.flow_without_condition", "gateway.parallel_loop", "gateway.inclusive_loop",
    "flow.multiple_outgoing", "flow.dangling",
    "script.language", "script.empty", "camunda.expression_attribute", "camunda.not_executed",
    "form.field_id_missing", "form.field_id_invalid", "form.field_id_function", "form.field_id_duplicate",
    "parser.refused", "diagram.no_shape", "diagram.task_without_name", "flow.unreachable",
    "subprocess.start_count", "subprocess.start_typed", "subprocess.no_end_event", "subprocess.lane_conflict",
    *(f"unsupported.{name}" for name in UNSUPPORTED),
}) | EXPRESSION_CODES


@dataclass(frozen=True)
class UserTaskInfo:
    bpmn_id: str
    name: str
    lane: str | None
    form: tuple[FormField, ...]
    deadline: str | None  # the expression of its timer boundary event, if any


@dataclass
class ParsedDefinition:
    process_key: str
    name: str
    sha256: str
    xml: str
    spec: object
    subprocess_specs: dict
    user_tasks: list[UserTaskInfo] = field(default_factory=list)
    #: Every BPMN element with an id: id → (BPMN type, name).
    elements: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    #: Lanes whose tasks go only to the case's group (set by the engine that parsed it).
    group_lanes: frozenset[str] = frozenset()
    #: The form a case is started with: the (first plain) start event's ``camunda:formData``.
    start_form: tuple[FormField, ...] = ()
    #: The id and lane of that start event.
    start_event: str | None = None
    start_lane: str | None = None


@lru_cache(maxsize=1)
def _validator() -> BpmnValidator:
    return BpmnValidator()


def _local(tag) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _ns(tag) -> str | None:
    return etree.QName(tag).namespace if isinstance(tag, str) else None


#: Parts of an element that carry no id of their own worth naming: a problem in them belongs to their element.
_PARTS = frozenset({"conditionExpression", "timeDate", "timeDuration", "timeCycle", "script", "documentation",
                    "extensionElements", "incoming", "outgoing", "loopCondition", "completionCondition",
                    "loopCardinality", "multiInstanceLoopCharacteristics", "standardLoopCharacteristics",
                    "formalExpression", "condition"})


def _element_id(node) -> str | None:
    """The id of the BPMN element a node belongs to: itself or its nearest BPMN ancestor with an id that is a whole
    element (an event definition reports its event, a condition its flow, a form field its task). A diagram shape
    reports the element it draws."""
    while node is not None:
        tag = node.tag if isinstance(node.tag, str) else ""
        name, ns = _local(tag), _ns(tag)
        if ns == BPMNDI_NS and node.get("bpmnElement"):
            return node.get("bpmnElement")
        if (ns == BPMN_NS and node.get("id") and name not in _PARTS and not name.endswith("EventDefinition")
                and name != "definitions"):
            return node.get("id")
        node = node.getparent()
    return None


def _problem(node, code: str, **params) -> Problem:
    return Problem(_element_id(node) if node is not None else None, code, params)


# ------------------------------------------------------------------------------------------- the XML itself

_DECLARATION = re.compile(rb"^<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z][A-Za-z0-9._-]*)[\"']")
_DECLARATION_TEXT = re.compile(r"^(<\?xml[^>]*?encoding\s*=\s*[\"'])([A-Za-z][A-Za-z0-9._-]*)([\"'])")


def utf8_document(xml: bytes | str) -> bytes:
    """The document as UTF-8 bytes that say so: a file in its declared encoding (ISO-8859-1 and the like, or UTF-16
    with its byte-order mark) is decoded with it, and text given as ``str`` is taken as text. The declaration is
    rewritten to UTF-8, nothing else changes."""
    if isinstance(xml, str):
        text = xml
    else:
        data = xml
        if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
            encoding = "utf-16"
        else:
            data = data.removeprefix(b"\xef\xbb\xbf")
            declared = _DECLARATION.match(data)
            encoding = declared.group(1).decode("ascii").lower() if declared else "utf-8"
        if encoding.replace("-", "").replace("_", "") in ("utf8",):
            return data
        try:
            text = data.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            raise InvalidDefinition("unreadable encoding",
                                    [Problem(None, "xml.encoding", {"encoding": encoding[:40]})]) from None
    text = text.removeprefix("\ufeff")
    return _DECLARATION_TEXT.sub(r"\1UTF-8\3", text, count=1).encode("utf-8")


def harden_and_parse(xml: bytes | str) -> etree._ElementTree:
    """Refuse DTDs, entities and external references before lxml sees the document."""
    size = len(xml.encode("utf-8") if isinstance(xml, str) else xml)
    if size > MAX_XML_BYTES:
        raise InvalidDefinition("diagram too large",
                                [Problem(None, "xml.too_large", {"size": size, "limit": MAX_XML_BYTES})])
    data = utf8_document(xml)
    try:
        safe_et.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise InvalidDefinition("unsafe XML", [Problem(None, "xml.unsafe")]) from None
    except safe_et.ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        raise InvalidDefinition("not well-formed XML",
                                [Problem(None, "xml.not_well_formed", {"line": line, "column": column + 1})]) from None
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                             remove_comments=True)
    try:
        return etree.ElementTree(etree.fromstring(data, parser))
    except etree.XMLSyntaxError as exc:
        line, column = exc.position if exc.position else (0, 0)
        raise InvalidDefinition("not well-formed XML",
                                [Problem(None, "xml.not_well_formed", {"line": line, "column": column})]) from None


# ----------------------------------------------------------------------------------------------- the XSD

def _without_extension_content(tree) -> etree._Element:
    """A copy for the schema check with the contents of every extension slot removed: ``bpmn:extensionElements``
    and ``di:extension`` may hold anything a modeler writes there (the XSD's strict wildcard in di:extension would
    refuse a whole file over a vendor's colour)."""
    root = deepcopy(tree.getroot())
    for slot in list(root.iter(f"{{{BPMN_NS}}}extensionElements", f"{{{DI_NS}}}extension")):
        for child in list(slot):
            slot.remove(child)
    return root


def _node_at(root, error) -> etree._Element | None:
    """The element an XSD error is about: its path, else the element on its line."""
    if error.path:
        prefixes: dict[str, str] = {}
        for node in root.iter():
            for prefix, uri in (node.nsmap or {}).items():
                if prefix:
                    prefixes.setdefault(prefix, uri)
        try:
            found = root.getroottree().xpath(error.path, namespaces=prefixes)
            if found and isinstance(found[0], etree._Element):
                return found[0]
        except etree.XPathError:
            pass
    on_line = [node for node in root.iter() if isinstance(node.tag, str) and node.sourceline == error.line]
    return on_line[-1] if on_line else None


_ATTRIBUTE = re.compile(r"attribute '([^']{1,80})'")


def check_schema(tree) -> list[Problem]:
    root = _without_extension_content(tree)
    validator = _validator().validator
    if validator.validate(root):
        return []
    problems = []
    ids: dict[str, int] = {}
    for node in root.iter():
        if isinstance(node.tag, str) and node.get("id"):
            ids[node.get("id")] = ids.get(node.get("id"), 0) + 1
    for error in list(validator.error_log)[:20]:
        node = _node_at(root, error)
        tag = _local(node.tag) if node is not None else ""
        attribute = _ATTRIBUTE.search(error.message or "")
        params = {"tag": tag, "line": error.line}
        kind = error.type_name or ""
        if kind == "SCHEMAV_ELEMENT_CONTENT" or kind.startswith("SCHEMAV_CVC_ELT") or \
                kind.startswith("SCHEMAV_CVC_COMPLEX_TYPE_2"):
            code = "xml.schema_element"
        elif kind.startswith("SCHEMAV_CVC_COMPLEX_TYPE_3"):
            code, params["attribute"] = "xml.schema_attribute_not_allowed", attribute.group(1) if attribute else ""
        elif kind == "SCHEMAV_CVC_COMPLEX_TYPE_4":
            code, params["attribute"] = "xml.schema_attribute_missing", attribute.group(1) if attribute else ""
        elif attribute and attribute.group(1) == "id" and node is not None and ids.get(node.get("id") or "", 0) > 1:
            code, params["id"] = "xml.schema_duplicate_id", node.get("id")
        elif kind.startswith("SCHEMAV_CVC_"):
            name = attribute.group(1) if attribute else ""
            value = node.get(name) if (node is not None and name) else (node.text if node is not None else None)
            code, params["attribute"], params["value"] = "xml.schema_value", name, (value or "")[:80]
        else:
            code = "xml.schema"
        problems.append(Problem(_element_id(node) if node is not None else None, code, params))
    return problems


# ------------------------------------------------------------------------------------------ our own checks

def _kind(node) -> str:
    """The element's BPMN type, an event sub-process told apart from an embedded one."""
    kind = _local(node.tag)
    if kind == "subProcess" and (node.get("triggeredByEvent") or "").strip().lower() == "true":
        return "eventSubProcess"
    return kind


def check_unsupported(tree) -> list[Problem]:
    return [_problem(node, f"unsupported.{_kind(node)}")
            for node in tree.iter(f"{{{BPMN_NS}}}*") if _kind(node) in UNSUPPORTED]


def _processes(tree) -> list:
    return tree.getroot().findall(f"{{{BPMN_NS}}}process")


def _executable(tree) -> list:
    return [p for p in _processes(tree) if p.get("isExecutable", "false").strip().lower() == "true"]


def internal_name(element_id: str) -> bool:
    """Whether ``element_id`` is (or has the shape of) a name SpiffWorkflow gives its own task specs."""
    return element_id in INTERNAL_NAMES or element_id.endswith(INTERNAL_SUFFIXES)


def _containers(process) -> list:
    """The process and each sub-process in it: each holds its own nodes, flows, start and end events."""
    return [process, *(n for n in process.iter(f"{{{BPMN_NS}}}subProcess") if _kind(n) == "subProcess")]


def _direct_nodes(container) -> dict:
    return {n.get("id"): n for n in container if isinstance(n.tag, str) and _local(n.tag) in FLOW_NODES
            and n.get("id")}


def check_structure(tree) -> list[Problem]:
    """What SpiffWorkflow's parser would refuse in its own words, or accept and fail on when a case runs."""
    problems: list[Problem] = []
    executable = _executable(tree)
    if len(executable) != 1:
        problems.append(Problem(None, "process.count", {"count": len(executable)}))
    for process in executable:
        for node in process.iter(f"{{{BPMN_NS}}}*"):
            node_id = node.get("id")
            if node_id and _local(node.tag) in FLOW_NODES and (
                    internal_name(node_id) or node_id == f"{process.get('id')}.EndJoin"):
                problems.append(Problem(node_id, "id.internal_name", {"id": node_id}))
        for container in _containers(process):
            problems += _container_problems(container, container is process)
        problems += _lane_problems(tree, process)
    return problems


def _container_problems(container, is_process: bool) -> list[Problem]:
    """The structure of one process or sub-process: its start and end events, and its flows, each of which must
    join two nodes drawn directly in it (a sequence flow never crosses a sub-process's border)."""
    problems: list[Problem] = []
    nodes = _direct_nodes(container)
    starts = [n for n in nodes.values() if _local(n.tag) == "startEvent"]
    if is_process and not starts:
        problems.append(_problem(container, "process.no_start_event"))
    if not is_process:
        if len(starts) != 1:
            problems.append(_problem(container, "subprocess.start_count", count=len(starts)))
        for start in starts:
            if any(_local(c.tag).endswith("EventDefinition") for c in start):
                problems.append(_problem(start, "subprocess.start_typed"))
        if not any(_local(n.tag) == "endEvent" for n in nodes.values()):
            problems.append(_problem(container, "subprocess.no_end_event"))
    outgoing: dict[str, list] = {}
    for flow in container.findall(f"{{{BPMN_NS}}}sequenceFlow"):
        source, target = flow.get("sourceRef"), flow.get("targetRef")
        if source not in nodes or target not in nodes:
            problems.append(_problem(flow, "flow.dangling", source=source or "", target=target or ""))
        outgoing.setdefault(source, []).append(flow)
    for node_id, node in nodes.items():
        kind = _local(node.tag)
        leaving = outgoing.get(node_id, [])
        if len(leaving) > 1 and kind not in GATEWAYS and kind != "startEvent":
            problems.append(_problem(node, "flow.multiple_outgoing", count=len(leaving)))
        if kind in ("exclusiveGateway", "inclusiveGateway") and len(leaving) > 1:
            for flow in leaving:
                condition = flow.find(f"{{{BPMN_NS}}}conditionExpression")
                if flow.get("id") != node.get("default") and (condition is None or not (condition.text or "")
                                                                 .strip()):
                    problems.append(_problem(flow, "gateway.flow_without_condition", gateway=node_id,
                                             gateway_name=node.get("name") or ""))
        if kind == "boundaryEvent" and not any(_local(c.tag).endswith("EventDefinition") for c in node):
            problems.append(_problem(node, "event.boundary_untyped"))
    return problems


def _lane_problems(tree, process) -> list[Problem]:
    """SpiffWorkflow gives every node inside a sub-process that is in a lane that sub-process's lane, whatever lane
    the node itself is listed in: a node listed in another lane would not go where the diagram says."""
    lanes = {(ref.text or "").strip(): lane.get("name") for lane in tree.iter(f"{{{BPMN_NS}}}lane")
             for ref in lane.findall(f"{{{BPMN_NS}}}flowNodeRef")}
    problems = []

    def walk(container, lane: str | None, sub) -> None:
        for node_id, node in _direct_nodes(container).items():
            own = lanes.get(node_id)
            if lane is not None and own is not None and own != lane:
                problems.append(_problem(node, "subprocess.lane_conflict", lane=own, subprocess_lane=lane,
                                         subprocess=sub.get("name") or sub.get("id")))
            if _local(node.tag) == "subProcess":
                walk(node, lane if lane is not None else own, node if lane is None else sub)

    walk(process, None, process)
    return problems


def _language_problem(node, language: str | None) -> Problem | None:
    language = (language or "").strip()
    if language and not SCRIPT_FORMATS.fullmatch(language):
        return _problem(node, "script.language", language=language[:40])
    return None


def _expression_problem(node, text: str, exc: UnsafeExpression) -> Problem:
    return _problem(node, exc.code, text=text[:80], **exc.params)


def check_expressions(tree, functions: FunctionRegistry, languages: bool = True) -> list[Problem]:
    """Static whitelist check of every condition and script text in the document; runs nothing. With
    ``languages`` off (a stored version) a declared foreign language is not reported, and the text is checked
    all the same: it is what would run."""
    problems = []
    for node in tree.iter(f"{{{BPMN_NS}}}conditionExpression", f"{{{BPMN_NS}}}scriptTask"):
        if _local(node.tag) == "scriptTask":
            foreign = _language_problem(node, node.get("scriptFormat")) if languages else None
            if foreign is not None:
                problems.append(foreign)
                continue
            script = node.find(f"{{{BPMN_NS}}}script")
            text = (script.text or "").strip() if script is not None else ""
            if not text:
                problems.append(_problem(node, "script.empty"))
                continue
            try:
                check_script(text, functions)
            except UnsafeExpression as exc:
                problems.append(_expression_problem(node, text, exc))
            continue
        text = (node.text or "").strip()
        foreign = _language_problem(node, node.get("language")) if languages else None
        if foreign is not None:
            problems.append(foreign)
        elif text:
            try:
                check_expression(text, functions)
            except UnsafeExpression as exc:
                problems.append(_expression_problem(node, text, exc))
    # Extension properties and input/output mappings are data, never code: refuse anything that
    # looks like an expression language hook (${...}, #{...}) so nobody expects it to be evaluated.
    for node in tree.iter(f"{{{CAMUNDA_NS}}}*"):
        for attr, value in node.attrib.items():
            if "${" in value or "#{" in value:
                problems.append(_problem(node, "camunda.expression_attribute", tag=_local(node.tag), attribute=attr))
        if _local(node.tag) in ("script", "inputParameter", "outputParameter", "executionListener",
                                "taskListener"):
            problems.append(_problem(node, "camunda.not_executed", tag=_local(node.tag)))
    return problems


_CRON_FIELD = r"(?:[0-9*?/,LW#-]+|[A-Z]{3}(?:-[A-Z]{3})?)"
_CRON = re.compile(rf"(?=.*[0-9*]){_CRON_FIELD}(?:\s+{_CRON_FIELD}){{4,6}}")
_CYCLE = re.compile(r"R\d*/.*")


def _literal_kind(text: str) -> str | None:
    """``"duration"``, ``"datetime"``, ``"cycle"``, ``"cron"`` for a literal timer value, None for an expression."""
    if _CYCLE.fullmatch(text):
        return "cycle"
    if ISO_TIMER_VALUE.fullmatch(text):
        return "duration" if ISO_DURATION.fullmatch(text) else "datetime"
    if _CRON.fullmatch(text.upper()):
        return "cron"
    return None


def _expression_kind(text: str, functions: FunctionRegistry) -> str | None:
    """What a checked expression gives, when that can be known without running it: a string constant's literal
    kind, or the declared result of the registered function it calls (FunctionRegistry.returns)."""
    try:
        body = ast.parse(text, mode="eval").body
    except SyntaxError:
        return None
    if isinstance(body, ast.Constant) and isinstance(body.value, str):
        return _literal_kind(body.value.strip())
    if isinstance(body, ast.Call) and isinstance(body.func, ast.Name):
        return functions.returns(body.func.id)
    return None


def check_timers(tree, functions: FunctionRegistry) -> list[Problem]:
    """Every timer has a value of its kind: a timeDate a date (an ISO date-time, or an expression giving one), a
    timeDuration a duration (``P2D``, ``PT4H``). Repeating timers are refused as not executed (check_unsupported)."""
    problems = []
    for definition in tree.iter(f"{{{BPMN_NS}}}timerEventDefinition"):
        values = [c for c in definition if _local(c.tag) in ("timeDate", "timeDuration", "timeCycle")]
        texts = [(_local(v.tag), (v.text or "").strip()) for v in values]
        if not texts or all(not text for _kind, text in texts):
            problems.append(_problem(definition, "timer.empty"))
            continue
        for kind, text in texts:
            if kind == "timeCycle" or not text:
                continue
            literal = _literal_kind(text)
            if literal is None:
                try:
                    check_expression(text, functions)
                except UnsafeExpression as exc:
                    problems.append(_expression_problem(definition, text, exc))
                    continue
                literal = _expression_kind(text, functions)
            if literal == "cron":
                problems.append(_problem(definition, "timer.cron", value=text[:80], kind=kind))
            elif literal == "cycle":
                problems.append(_problem(definition, "timer.cycle_value", value=text[:80], kind=kind))
            elif kind == "timeDate" and literal == "duration":
                problems.append(_problem(definition, "timer.date_is_duration", value=text[:80]))
            elif kind == "timeDuration" and literal == "datetime":
                problems.append(_problem(definition, "timer.duration_is_date", value=text[:80]))
    return problems


def all_specs(spec, subprocess_specs: dict) -> list:
    """The process spec and the spec of each sub-process in it (SpiffWorkflow parses each into a spec of its own)."""
    return [spec, *subprocess_specs.values()]


def _user_tasks(specs: Iterable) -> list[UserTaskInfo]:
    """Every user task of the process and of its sub-processes, with its form and its deadline."""
    infos = []
    for spec in specs:
        attached: dict[str, str] = {}
        for ts in spec.task_specs.values():
            # BoundaryEventSplit's outputs are the main task and its boundary events.
            if type(ts).__name__ == "BoundaryEventSplit":
                main = next((o for o in ts.outputs if isinstance(o, UserTask)), None)
                for o in ts.outputs:
                    definition = getattr(o, "event_definition", None)
                    if main is not None and o is not main and hasattr(definition, "expression"):
                        attached[main.bpmn_id] = definition.expression
        for ts in spec.task_specs.values():
            if isinstance(ts, UserTask) and ts.bpmn_id:
                infos.append(UserTaskInfo(ts.bpmn_id, ts.bpmn_name or ts.bpmn_id, ts.lane,
                                          tuple(form_fields_of(ts)), attached.get(ts.bpmn_id)))
    return infos


def _start_of(tree) -> tuple[str | None, str | None, list[FormField]]:
    """The executable process's plain start event (no event definition; else its first): id, lane name, form."""
    process = _executable(tree)[0]
    starts = process.findall(f"{{{BPMN_NS}}}startEvent")
    plain = [s for s in starts if not any(_local(c.tag).endswith("EventDefinition") for c in s)]
    start = (plain or starts or [None])[0]
    if start is None:
        return None, None, []
    refs = f"{{{BPMN_NS}}}flowNodeRef"
    lane = next((ln.get("name") for ln in process.iter(f"{{{BPMN_NS}}}lane")
                 if any((ref.text or "").strip() == start.get("id") for ref in ln.findall(refs))), None)
    return start.get("id"), lane, xml_form_fields(start)


def check_forms(user_tasks: Iterable[UserTaskInfo], functions: FunctionRegistry) -> list[Problem]:
    problems = []
    for info in user_tasks:
        seen = set()
        for f in info.form:
            if not f.id:
                problems.append(Problem(info.bpmn_id, "form.field_id_missing",
                                        {"label": f.label if f.label and f.label != f.id else ""}))
                continue
            if not FIELD_ID_RE.fullmatch(f.id):
                problems.append(Problem(info.bpmn_id, "form.field_id_invalid", {"field": f.id[:63]}))
            elif f.id in functions.names():
                problems.append(Problem(info.bpmn_id, "form.field_id_function", {"field": f.id}))
            if f.id in seen:
                problems.append(Problem(info.bpmn_id, "form.field_id_duplicate", {"field": f.id[:63]}))
            seen.add(f.id)
    return problems


def check_spec_names(specs: Iterable, elements: dict[str, tuple[str, str | None]]) -> list[Problem]:
    """Every flow node became a task spec of its own id (in the process's spec or its sub-process's), and none of
    SpiffWorkflow's own specs took an element's id (the general form of the INTERNAL_NAMES check, in case
    SpiffWorkflow adds names)."""
    specs = list(specs)
    problems = []
    for eid, (kind, _name) in elements.items():
        if kind not in FLOW_NODES:
            continue
        found = [s.task_specs[eid] for s in specs if eid in s.task_specs]
        if not any(getattr(task_spec, "bpmn_id", None) == eid for task_spec in found):
            if found or internal_name(eid):
                problems.append(Problem(eid, "id.internal_name", {"id": eid}))
    return problems


def check_warnings(tree) -> list[Problem]:
    """What does not stop a deploy but an owner should fix (severity "warning"): an element the diagram does not
    draw, a user task without a name, a flow node no path from a start event reaches (it will never run)."""
    warnings: list[Problem] = []
    drawn = {s.get("bpmnElement") for s in tree.iter(f"{{{BPMNDI_NS}}}BPMNShape", f"{{{BPMNDI_NS}}}BPMNEdge")}
    for process in _executable(tree):
        nodes: dict = {}
        following: dict[str, list[str]] = {}
        starts: list[str] = []
        for container in _containers(process):
            inner = _direct_nodes(container)
            nodes.update(inner)
            container_starts = [i for i, n in inner.items() if _local(n.tag) == "startEvent"]
            if container is process:
                starts += container_starts
            else:  # reaching a sub-process reaches its start event
                following.setdefault(container.get("id"), []).extend(container_starts)
            for flow in container.findall(f"{{{BPMN_NS}}}sequenceFlow"):
                following.setdefault(flow.get("sourceRef"), []).append(flow.get("targetRef"))
                if flow.get("id") not in drawn:
                    warnings.append(Problem(flow.get("id"), "diagram.no_shape", severity="warning"))
        for node_id, node in nodes.items():
            if _local(node.tag) == "boundaryEvent" and node.get("attachedToRef"):
                following.setdefault(node.get("attachedToRef"), []).append(node_id)
        reached, todo = set(), list(starts)
        while todo:
            current = todo.pop()
            if current in reached:
                continue
            reached.add(current)
            todo.extend(following.get(current, []))
        for node_id, node in nodes.items():
            kind = _local(node.tag)
            if node_id not in drawn:
                warnings.append(Problem(node_id, "diagram.no_shape", severity="warning"))
            if kind == "userTask" and not (node.get("name") or "").strip():
                warnings.append(Problem(node_id, "diagram.task_without_name", severity="warning"))
            if node_id not in reached:
                warnings.append(Problem(node_id, "flow.unreachable", severity="warning"))
    return _named(warnings, _elements(tree))


def _elements(tree) -> dict[str, tuple[str, str | None]]:
    return {node.get("id"): (_local(node.tag), " ".join((node.get("name") or "").split())[:200] or None)
            for node in tree.iter(f"{{{BPMN_NS}}}*") if node.get("id")}


def _named(problems: list[Problem], elements: dict[str, tuple[str, str | None]]) -> list[Problem]:
    """Each problem with the name and type of its element, as the owner sees them in the modeler."""
    named = []
    for problem in problems:
        kind, name = elements.get(problem.element_id or "", (None, None))
        named.append(problem.named(name, kind))
    return named


#: What makes a stored version unsafe or impossible to run. Every other problem is a gate at deploy only: a
#: version stored before a check was added (or made stricter) keeps running its cases, which would otherwise be
#: stuck on a version they cannot leave.
FATAL_WHEN_STORED = ("xml.too_large", "xml.unsafe", "xml.not_well_formed", "xml.encoding", "expression.",
                     "camunda.", "form.field_id_missing", "form.field_id_invalid", "form.field_id_function",
                     "form.field_id_duplicate", "parser.refused", "process.count", "id.internal_name",
                     "unsupported.")


def _gate(problems: list[Problem], stored: bool) -> list[Problem]:
    return [p for p in problems if p.code.startswith(FATAL_WHEN_STORED)] if stored else problems


def parse_definition(xml: bytes | str, functions: FunctionRegistry,
                     extra_checks: Iterable[Callable[[ParsedDefinition], list[Problem]]] = (), *,
                     stored: bool = False) -> ParsedDefinition:
    """Validate and parse a diagram; raise InvalidDefinition listing every problem found. ``stored``: a version
    already deployed, read to run its cases: only what makes it unsafe or unparseable refuses it
    (FATAL_WHEN_STORED), every expression and script is still checked."""
    tree = harden_and_parse(xml)
    data = utf8_document(xml)
    elements = _elements(tree)
    problems: list[Problem] = []
    if not stored:
        problems += check_schema(tree)
    problems += check_unsupported(tree)
    problems += check_structure(tree)
    problems += check_expressions(tree, functions, languages=not stored)
    problems += check_timers(tree, functions)
    problems = _gate(problems, stored)
    if problems:
        raise InvalidDefinition("diagram refused", _named(problems, elements))

    parser = CamundaParser()
    try:
        parser.add_bpmn_xml(tree, filename="diagram.bpmn")
        key = _executable(tree)[0].get("id")
        spec = parser.get_spec(key)
        subprocess_specs = parser.get_subprocess_specs(key)
    except Exception as exc:  # noqa: BLE001 - SpiffWorkflow's parser on untrusted input: whatever it raises
        # Our checks above refuse what we know SpiffWorkflow refuses; anything else is reported without its text.
        element = getattr(exc, "id", None)
        log.info("SpiffWorkflow refused a diagram our checks accepted (element %s): %r", element, exc)
        raise InvalidDefinition("diagram refused", _named(
            [Problem(element if element in elements else None, "parser.refused")], elements)) from None
    specs = all_specs(spec, subprocess_specs)
    for each in specs:
        attach_clock(each)
        pass_by_themselves(each)
    start_id, start_lane, start_form = _start_of(tree)
    parsed = ParsedDefinition(
        process_key=key,
        name=spec.description or key,
        sha256=hashlib.sha256(data).hexdigest(),
        xml=data.decode("utf-8"),
        spec=spec,
        subprocess_specs=subprocess_specs,
        user_tasks=_user_tasks(specs),
        elements=elements,
        start_form=tuple(start_form),
        start_event=start_id,
        start_lane=start_lane,
    )
    problems += check_spec_names(specs, elements)
    for each in specs:
        problems += parallel_loop_problems(each) + inclusive_loop_problems(each)
    problems += check_forms([*parsed.user_tasks, UserTaskInfo(start_id or key, "", start_lane, parsed.start_form,
                                                              None)] if start_form else parsed.user_tasks, functions)
    for check in extra_checks:
        problems += check(parsed)
    problems = _gate(problems, stored)
    if problems:
        raise InvalidDefinition("diagram refused", _named(problems, elements))
    return parsed

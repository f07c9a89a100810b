"""Reading a diagram: hardened XML, the BPMN 2.0 XSD, SpiffWorkflow's Camunda parser, and a static
check of every expression, all before anything can run. Errors name the BPMN element."""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache

import defusedxml.ElementTree as safe_et
from defusedxml import DefusedXmlException
from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.defaults import UserTask
from SpiffWorkflow.camunda.parser import CamundaParser
from SpiffWorkflow.exceptions import SpiffWorkflowException

from .errors import InvalidDefinition
from .expressions import ISO_TIMER_VALUE, FunctionRegistry, UnsafeExpression, check_expression, check_script
from .forms import FIELD_ID_RE, FormField, form_fields_of
from .state import attach_clock

log = logging.getLogger(__name__)

MAX_XML_BYTES = 2 * 1024 * 1024
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"

#: Elements we do not execute, with the reason a process owner reads.
UNSUPPORTED = {
    "complexGateway": "complex gateways are not executed",
    "eventBasedGateway": "event-based gateways are not executed (they misbehave with timers)",
    "inclusiveGateway": "inclusive gateways are not executed; use exclusive gateways",
    "callActivity": "call activities are not executed",
    "subProcess": "sub-processes are not executed; draw the steps in the main process",
    "adHocSubProcess": "ad-hoc sub-processes are not executed",
    "transaction": "transactions are not executed",
    "businessRuleTask": "business rule (DMN) tasks are not executed",
    "serviceTask": "service tasks are not executed (no external calls from diagrams)",
    "sendTask": "send tasks are not executed",
    "receiveTask": "receive tasks are not executed",
    "manualTask": "manual tasks are not executed; use a user task with a form",
    "task": "untyped tasks are not executed; use a user task",
    "messageEventDefinition": "message events are not executed",
    "conditionalEventDefinition": "conditional events are not executed",
    "compensateEventDefinition": "compensation is not executed",
    "linkEventDefinition": "link events are not executed",
    "timeCycle": "repeating timers (timeCycle) are not executed; use timeDate or timeDuration",
    "multiInstanceLoopCharacteristics": "multi-instance activities are not executed",
    "standardLoopCharacteristics": "loop activities are not executed; draw the loop with a gateway",
}

#: Elements whose text is an expression or a script, checked before deploy.
EXPRESSION_TAGS = {"conditionExpression": "condition", "timeDate": "timer", "timeDuration": "timer",
                   "timeCycle": "timer", "completionCondition": "condition", "loopCardinality": "expression"}
SCRIPT_TAGS = {"script"}


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
    warnings: list[tuple[str | None, str]] = field(default_factory=list)


@lru_cache(maxsize=1)
def _validator() -> BpmnValidator:
    return BpmnValidator()


def _local(tag) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _element_id(node) -> str | None:
    """The id of the BPMN element a problem belongs to (an event definition reports its event)."""
    while node is not None:
        if node.get("id") and not _local(node.tag).endswith("EventDefinition"):
            return node.get("id")
        node = node.getparent()
    return None


def harden_and_parse(xml: bytes | str) -> etree._ElementTree:
    """Refuse DTDs, entities and external references before lxml sees the document."""
    data = xml.encode("utf-8") if isinstance(xml, str) else xml
    if len(data) > MAX_XML_BYTES:
        raise InvalidDefinition("diagram too large",
                                [(None, f"the file is {len(data)} bytes; the limit is {MAX_XML_BYTES}")])
    try:
        safe_et.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise InvalidDefinition("unsafe XML", [(None, f"DTDs and entities are not accepted ({exc})")]) from None
    except safe_et.ParseError as exc:
        raise InvalidDefinition("not well-formed XML", [(None, str(exc))]) from None
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                             remove_comments=True)
    try:
        return etree.ElementTree(etree.fromstring(data, parser))
    except etree.XMLSyntaxError as exc:
        raise InvalidDefinition("not well-formed XML", [(None, str(exc))]) from None


def check_expressions(tree, functions: FunctionRegistry) -> list[tuple[str | None, str]]:
    """Static whitelist check of every expression and script text in the document; runs nothing."""
    problems = []
    for node in tree.iter():
        name = _local(node.tag)
        text = (node.text or "").strip()
        if name in EXPRESSION_TAGS and text:
            if name in ("timeDate", "timeDuration", "timeCycle") and ISO_TIMER_VALUE.fullmatch(text):
                continue
            try:
                check_expression(text, functions)
            except UnsafeExpression as exc:
                problems.append((_element_id(node), f"{EXPRESSION_TAGS[name]} '{text[:80]}' refused: {exc}"))
        elif name in SCRIPT_TAGS and text:
            try:
                check_script(text, functions)
            except UnsafeExpression as exc:
                problems.append((_element_id(node), f"script refused: {exc}"))
    # Extension properties and input/output mappings are data, never code: refuse anything that
    # looks like an expression language hook (${...}, #{...}) so nobody expects it to be evaluated.
    for node in tree.iter(f"{{{CAMUNDA_NS}}}*"):
        for attr, value in node.attrib.items():
            if "${" in value or "#{" in value:
                problems.append((_element_id(node), f"expression in camunda:{_local(node.tag)} {attr} refused"))
        if _local(node.tag) in ("script", "inputParameter", "outputParameter", "executionListener",
                                "taskListener"):
            problems.append((_element_id(node), f"camunda:{_local(node.tag)} is not executed"))
    return problems


def check_unsupported(tree) -> list[tuple[str | None, str]]:
    problems = []
    for node in tree.iter(f"{{{BPMN_NS}}}*"):
        name = _local(node.tag)
        if name in UNSUPPORTED:
            problems.append((_element_id(node), f"bpmn:{name}: {UNSUPPORTED[name]}"))
    return problems


def _user_tasks(spec) -> list[UserTaskInfo]:
    attached: dict[str, str] = {}
    for ts in spec.task_specs.values():
        # BoundaryEventSplit's outputs are the main task and its boundary events.
        if type(ts).__name__ == "BoundaryEventSplit":
            main = next((o for o in ts.outputs if isinstance(o, UserTask)), None)
            for o in ts.outputs:
                definition = getattr(o, "event_definition", None)
                if main is not None and o is not main and hasattr(definition, "expression"):
                    attached[main.bpmn_id] = definition.expression
    infos = []
    for ts in spec.task_specs.values():
        if isinstance(ts, UserTask) and ts.bpmn_id:
            infos.append(UserTaskInfo(ts.bpmn_id, ts.bpmn_name or ts.bpmn_id, ts.lane,
                                      tuple(form_fields_of(ts)), attached.get(ts.bpmn_id)))
    return infos


def check_forms(user_tasks: Iterable[UserTaskInfo], functions: FunctionRegistry) -> list[tuple[str | None, str]]:
    problems = []
    for info in user_tasks:
        seen = set()
        for f in info.form:
            if not FIELD_ID_RE.fullmatch(f.id or ""):
                problems.append((info.bpmn_id, f"form field id '{f.id}' is not allowed (use lower-case "
                                               "letters, digits and _; start with a letter)"))
            elif f.id in functions.names():
                problems.append((info.bpmn_id, f"form field id '{f.id}' hides the function of that name"))
            if f.id in seen:
                problems.append((info.bpmn_id, f"form field id '{f.id}' appears twice"))
            seen.add(f.id)
    return problems


def parse_definition(xml: bytes | str, functions: FunctionRegistry,
                     extra_checks: Iterable[Callable[[ParsedDefinition], list]] = ()) -> ParsedDefinition:
    """Validate and parse a diagram; raise InvalidDefinition listing every problem found."""
    tree = harden_and_parse(xml)
    problems: list[tuple[str | None, str]] = []
    try:
        _validator().validator.assertValid(tree)
    except etree.DocumentInvalid:
        for err in list(_validator().validator.error_log)[:20]:
            problems.append((None, f"BPMN 2.0 schema, line {err.line}: {err.message}"))
    problems += check_unsupported(tree)
    problems += check_expressions(tree, functions)
    if problems:
        raise InvalidDefinition("diagram refused", problems)

    parser = CamundaParser()
    try:
        parser.add_bpmn_xml(tree, filename="diagram.bpmn")
        keys = parser.get_process_ids()
        if len(keys) != 1:
            raise InvalidDefinition("diagram refused",
                                    [(None, f"exactly one executable process is needed, found {len(keys)}")])
        key = keys[0]
        spec = parser.get_spec(key)
        subprocess_specs = parser.get_subprocess_specs(key)
    except ValidationException as exc:
        raise InvalidDefinition("diagram refused", [(exc.id or None, str(exc).splitlines()[0])]) from None
    except SpiffWorkflowException as exc:
        raise InvalidDefinition("diagram refused", [(None, str(exc).splitlines()[0])]) from None
    attach_clock(spec)
    raw = xml.encode("utf-8") if isinstance(xml, str) else xml
    parsed = ParsedDefinition(
        process_key=key,
        name=spec.description or key,
        sha256=hashlib.sha256(raw).hexdigest(),
        xml=raw.decode("utf-8"),
        spec=spec,
        subprocess_specs=subprocess_specs,
        user_tasks=_user_tasks(spec),
    )
    problems += check_forms(parsed.user_tasks, functions)
    for check in extra_checks:
        problems += check(parsed)
    if problems:
        raise InvalidDefinition("diagram refused", problems)
    return parsed

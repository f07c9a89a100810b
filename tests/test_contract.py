"""The diagram's contract with the SOP's rules (process/contract.py): every rule keyed on an element id declares the
ids (and fields, and options) it reads there, and a diagram lacking any is refused, naming the rule.

* Renaming ``Task_Terima`` no longer deploys silently and switches off the step-2 checklist (issue 13: accepting an
  incomplete checklist went from 422 to 200): validation refuses the version, naming the rules on that step.
* Each element, field and option of every rule, taken away from the bundled diagram in turn, is refused naming that
  rule.
* A table keyed on element ids that does not take them from the registry is caught: no string literal equal to an
  element id of the bundled diagram may appear in process/ or webui/ (code or templates) outside process/contract.py,
  and every id written there belongs to a rule.
"""
from __future__ import annotations

import ast
import re
from datetime import UTC, datetime

import pytest
from lxml import etree

from engine.clock import ManualClock
from engine.errors import InvalidDefinition
from process.contract import RULES, required_ids
from process.procedure import build_engine
from tests import diagram_corpus as corpus
from tests.conftest import DIAGRAM, ROOT
from tests.factories import Case, make_users

CONTRACT = ROOT / "process" / "contract.py"
_OUTSIDE = {"definitions", "process", "collaboration", "participant"}


def element_ids() -> set[str]:
    """The ids of the bundled diagram's BPMN elements (tasks, events, gateways, flows, lanes, definitions of events)."""
    tree = etree.fromstring(DIAGRAM.read_bytes())
    return {node.get("id") for node in tree.iter(f"{{{corpus.NS['bpmn']}}}*")
            if node.get("id") and etree.QName(node).localname not in _OUTSIDE}


_TEMPLATE_LITERAL = re.compile(r"[\"']([A-Za-z_][\w.]*)[\"']")


def id_literals(source: str, kind: str, ids: set[str]) -> set[str]:
    """Element ids written as string literals in a Python module or a template."""
    if kind == "py":
        found = {node.value for node in ast.walk(ast.parse(source))
                 if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    else:
        found = set(_TEMPLATE_LITERAL.findall(source))
    return found & ids


def sources():
    for folder in ("process", "webui"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            yield path, "py"
    for path in sorted((ROOT / "webui" / "templates").rglob("*.html")):
        yield path, "html"


def test_the_scan_catches_a_table_keyed_on_ids_outside_the_registry():
    ids = element_ids()
    assert {"Task_Terima", "EndEvent_Ditolak", "Gateway_Keputusan", "Flow_Tolak"} <= ids
    new_table = 'EXTRA_CHECK = {"Task_Terima": ("cek_foto",), "Gateway_Keputusan": 1}\n'
    assert id_literals(new_table, "py", ids) == {"Task_Terima", "Gateway_Keputusan"}
    assert id_literals('{% if row.bpmn_id == "Task_Unggah" %}', "html", ids) == {"Task_Unggah"}


def test_element_ids_are_written_only_in_the_registry_and_each_belongs_to_a_rule():
    ids = element_ids()
    outside = {}
    for path, kind in sources():
        if path == CONTRACT:
            continue
        found = id_literals(path.read_text(encoding="utf-8"), kind, ids)
        if found:
            outside[str(path.relative_to(ROOT))] = sorted(found)
    assert not outside, ("element ids written outside process/contract.py (take them from the registry and "
                         f"declare the rule there): {outside}")
    registered = id_literals(CONTRACT.read_text(encoding="utf-8"), "py", ids)
    assert registered == set(required_ids()), sorted(registered ^ set(required_ids()))


@pytest.fixture(scope="module")
def engine():
    return build_engine(ManualClock(datetime(2025, 5, 6, tzinfo=UTC)))


def problems_of(engine, xml: bytes):
    with pytest.raises(InvalidDefinition) as info:
        engine.validate(xml)
    return info.value.problems


def test_renaming_step_2_is_refused_naming_its_rules(engine):
    problems = problems_of(engine, corpus.edited(corpus.renamed("Task_Terima", "Task_Penerimaan")))
    missing = [p for p in problems if p.code == "sop.element_missing"]
    assert [p.element_id for p in missing] == ["Task_Terima"]
    assert {"sop.rule.checklist_terima", "sop.rule.returns", "sop.rule.steps"} <= set(missing[0].params["rules"])


def test_the_contract_holds_the_sops_own_process_only(engine):
    """Another process (here the live tests' timer probe) has none of the SOP's steps and is not held to their
    ids; the SOP's process under its own key is."""
    probe = (ROOT / "tests" / "data" / "timer_probe.bpmn").read_bytes()
    assert engine.validate(probe).process_key == "timer_probe"
    assert {p.code for p in problems_of(engine, corpus.edited(corpus.renamed("Task_Terima", "Task_X")))} >= {
        "sop.element_missing"}


def _without_field(task: str, field: str):
    def edit(tree):
        node = corpus.find(tree, f".//bpmn:userTask[@id='{task}']//camunda:formField[@id='{field}']")
        node.getparent().remove(node)
    return edit


def _without_option(task: str, field: str, option: str):
    def edit(tree):
        node = corpus.find(tree, f".//bpmn:userTask[@id='{task}']//camunda:formField[@id='{field}']"
                                 f"/camunda:value[@id='{option}']")
        node.getparent().remove(node)
    return edit


def _requirements():
    for rule in RULES:
        for eid in rule.elements:
            yield rule.code, eid, None, None
        for eid, fields in rule.fields.items():
            for field, options in fields.items():
                yield rule.code, eid, field, None
                for option in options:
                    yield rule.code, eid, field, option


@pytest.mark.parametrize("rule, element, field, option", list(_requirements()))
def test_every_requirement_of_every_rule_is_enforced(engine, rule, element, field, option):
    if option is not None:
        xml, code = corpus.edited(_without_option(element, field, option)), "sop.option_missing"
    elif field is not None:
        xml, code = corpus.edited(_without_field(element, field)), "sop.field_missing"
    else:
        xml, code = corpus.edited(corpus.renamed(element, f"{element}_Baru")), "sop.element_missing"
    problems = [p for p in problems_of(engine, xml) if p.code == code and p.element_id == element]
    assert problems and rule in problems[0].params["rules"], problems
    if field is not None:
        assert problems[0].params["field"] == field


def test_the_checklist_still_guards_step_2(system, tx):
    """What the renaming switched off: accepting with an incomplete checklist is refused (422 on the web)."""
    from process.forms import FormInvalid
    from tests.factories import FORMS

    make_users(system, tx)
    case = Case.start(system, tx)
    case.do("tim", "submit")
    incomplete = {**FORMS["terima"], "cek_caption": False}
    with pytest.raises(FormInvalid) as info:
        case.do("admin", incomplete)
    assert [e.field for e in info.value.errors] == ["cek_caption"]

"""One mechanism for every problem with a diagram: the engine and the process layer report ``(element, code, params)``,
the web layer renders each code through one table (webui/problems.py), in Bahasa Indonesia and in English.

* every code any layer can report has a message in both languages, and no code is written in the source that the
  table lacks;
* every diagram of the corpus (the bundled one, its variants, the hostile cases of issue 13 and the 21 MIWG reference
  diagrams) gets an answer in which every problem has a known code, names its element when it has one, and reads
  without English or raw internals in the Indonesian rendering;
* the hostile diagrams are refused with the problem expected, the variants deploy;
* no id SpiffWorkflow gives its own task specs can be an element's id (the whole class, read from SpiffWorkflow).
"""
from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from flask_babel import force_locale
from lxml import etree
from SpiffWorkflow.camunda.parser import CamundaParser

from engine.clock import ManualClock
from engine.definitions import ENGINE_CODES, internal_name
from engine.errors import InvalidDefinition, Problem
from engine.runtime import MIGRATION_CODES
from engine.state import TIMER_RUNTIME_CODES
from process.modeling import MODELING_CODES
from process.procedure import SOP_CODES, build_engine
from tests import diagram_corpus as corpus
from tests.conftest import ROOT
from webui.problems import MESSAGES, element_label, problem_message, problem_text

PO = ROOT / "webui" / "translations" / "en" / "LC_MESSAGES" / "messages.po"
ALL_CODES = ENGINE_CODES | TIMER_RUNTIME_CODES | MIGRATION_CODES | SOP_CODES | MODELING_CODES
#: Problems of the whole file, which no element can carry.
WHOLE_DIAGRAM = {"xml.too_large", "xml.unsafe", "xml.not_well_formed", "xml.encoding", "process.count"}
#: English words and internals that must not reach an Indonesian reader (diagram texts are removed first).
ENGLISH = re.compile(r"\b(?:the|is|are|not|refused|allowed|error|errors|exception|expected|element|attribute|must|"
                     r"cannot|unknown|invalid|unsupported|specification|condition|without|None|True|False|line|"
                     r"found|missing|required|Traceback|NotImplementedError|KeyError|ValueError|WorkflowException)\b")


@pytest.fixture(scope="module")
def engine():
    return build_engine(ManualClock(datetime(2025, 5, 6, tzinfo=UTC)))[0]


def refusal(engine, xml: bytes) -> list[Problem]:
    try:
        engine.validate(xml)
    except InvalidDefinition as exc:
        return exc.problems
    return []


# --------------------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------------------


def test_every_code_has_a_message_in_both_languages():
    missing = sorted(ALL_CODES - set(MESSAGES))
    assert not missing, f"codes without a message in webui/problems.py MESSAGES: {missing}"
    with open(PO, "rb") as fh:
        catalogue = read_po(fh, locale="en")
    untranslated = []
    for code, msgid in MESSAGES.items():
        entry = catalogue.get(msgid._args[0])
        if entry is None or not entry.string or entry.fuzzy:
            untranslated.append(code)
    assert not untranslated, f"messages without an English translation in {PO.name}: {untranslated}"
    stale = sorted(set(MESSAGES) - ALL_CODES)
    assert not stale, f"messages for codes no layer reports: {stale}"


_CODE_LITERAL = re.compile(r"[\"'](?P<code>(?:xml|process|id|event|timer|gateway|flow|script|camunda|form|parser|"
                           r"diagram|sop|lane|migration|expression|unsupported|subprocess)\.[A-Za-z_.]+)[\"']")


def test_no_code_is_written_that_the_table_lacks():
    """A code typed anywhere in engine/ or process/ (a new Problem(...), a new refusal) must be in the table."""
    unknown = []
    for folder in ("engine", "process"):
        for path in sorted((ROOT / folder).glob("*.py")):
            for match in _CODE_LITERAL.finditer(path.read_text(encoding="utf-8")):
                code = match["code"]
                if code.endswith((".", ".bpmn")) or code in MESSAGES:  # a file name is no code
                    continue
                unknown.append(f"{path.relative_to(ROOT)}: {code}")
    assert not unknown, "problem codes without a message:\n" + "\n".join(unknown)


def test_an_unknown_code_is_never_shown_raw(app):
    with app.test_request_context("/"):
        text = problem_message(Problem("Task_X", "nobody.wrote.this", {"detail": "Traceback (most recent call)"}))
    assert "nobody" not in text and "Traceback" not in text and "Task_X" in text


# --------------------------------------------------------------------------------------------------
# The corpus
# --------------------------------------------------------------------------------------------------


#: Code the messages quote on purpose (what to write instead).
CODE_SNIPPETS = ("and/or/not", "and, or, not", "== True", "\u201cis None\u201d", "\u201cis not None\u201d",
                 "\u201cis\u201d")


def _without_diagram_texts(text: str, problem: Problem) -> str:
    """The message less what comes from the diagram (names, ids, expressions, values), which may be English, and
    less the code it quotes on purpose."""
    pieces = [element_label(problem), problem.element_id or "", problem.element_name or "", *CODE_SNIPPETS]
    for value in (problem.params or {}).values():
        pieces += [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]
    for piece in sorted((p for p in pieces if p), key=len, reverse=True):
        text = text.replace(piece, " ")
    return text


@pytest.mark.parametrize("name, xml", corpus.everything(), ids=[n for n, _x in corpus.everything()])
def test_every_diagram_of_the_corpus_is_answered_in_words(app, english_app, engine, name, xml):
    problems = refusal(engine, xml)
    elements = {}
    for node in etree.fromstring(xml).iter():
        if isinstance(node.tag, str) and node.get("id"):
            elements[node.get("id")] = node
    for problem in problems:
        assert problem.code in MESSAGES, (name, problem)
        if problem.code not in WHOLE_DIAGRAM:
            assert problem.element_id, (name, problem)
        if problem.element_id in elements:
            assert problem.element_type, (name, problem)
        assert problem.code != "parser.refused", (name, problem)  # each such case deserves a check of its own
        with app.test_request_context("/"):
            indonesian = problem_message(problem)
        stripped = _without_diagram_texts(indonesian, problem)
        assert not ENGLISH.search(stripped), (name, problem.code, indonesian)
        assert "%(" not in indonesian, (name, indonesian)
        with app.test_request_context("/"):
            without_label = problem_text(problem)
        with english_app.test_request_context("/"), force_locale("en"):
            english = problem_text(problem)
        assert english != without_label, (name, problem.code, english)


@pytest.mark.parametrize("name, xml", corpus.deployable(), ids=[n for n, _x in corpus.deployable()])
def test_variants_of_the_bundled_diagram_deploy(engine, name, xml):
    assert refusal(engine, xml) == []


@pytest.mark.parametrize("name, xml, code, element", corpus.hostile(), ids=[h[0] for h in corpus.hostile()])
def test_hostile_diagrams_are_refused_with_the_problem_expected(engine, name, xml, code, element):
    found = {(p.code, p.element_id) for p in refusal(engine, xml)}
    assert (code, element) in found, found


def test_an_encoded_file_is_read_in_its_declared_encoding(engine):
    latin1 = dict(corpus.deployable())["latin-1"]
    assert b'encoding=\'ISO-8859-1\'' in latin1 and "(é)".encode("latin-1") in latin1
    parsed = engine.validate(latin1)
    assert parsed.elements["StartEvent_Kegiatan"][1] == "Kegiatan dilaksanakan (é)"
    assert parsed.xml.startswith("<?xml version='1.0' encoding='UTF-8'?>") and "(é)" in parsed.xml
    for path in sorted(corpus.MIWG.glob("*.bpmn")):  # ISO-8859-1 and UTF-8 ones: each read as it says
        for problem in refusal(engine, path.read_bytes()):
            assert problem.code not in ("xml.not_well_formed", "xml.encoding"), (path.name, problem)


# --------------------------------------------------------------------------------------------------
# SpiffWorkflow's own task spec names
# --------------------------------------------------------------------------------------------------


def _spiff_internal_names() -> set[str]:
    """The names SpiffWorkflow gives the task specs it adds itself, read from a parse of a diagram that has every
    construct we execute that makes one (boundary events, two start events)."""
    tree = etree.fromstring(corpus.DIAGRAM.read_bytes())
    process = tree.find(".//bpmn:process", corpus.NS)
    first = process.find("bpmn:startEvent", corpus.NS)
    second = etree.Element(f"{corpus.BPMN}startEvent", id="StartEvent_Kedua")
    etree.SubElement(second, f"{corpus.BPMN}outgoing").text = "Flow_Kedua"
    first.addnext(second)
    second.addnext(etree.Element(f"{corpus.BPMN}sequenceFlow", id="Flow_Kedua", sourceRef="StartEvent_Kedua",
                                 targetRef="Gateway_MasukPenyerahan"))
    parser = CamundaParser()
    parser.add_bpmn_xml(etree.ElementTree(tree), filename="probe.bpmn")
    spec = parser.get_spec("alur_pengunggahan")
    return {name for name, task_spec in spec.task_specs.items() if getattr(task_spec, "bpmn_id", None) is None}


def test_every_name_spiffworkflow_uses_for_itself_is_refused_as_an_id(engine):
    names = _spiff_internal_names()
    assert {"Start", "End", "StartEventSplit", "StartEventJoin", "alur_pengunggahan.EndJoin",
            "Task_Terima.BoundaryEventSplit", "Task_Terima.BoundaryEventJoin"} <= names
    for name in names:
        assert internal_name(name) or name == "alur_pengunggahan.EndJoin", name
        # The shape of the name (another task's boundary split, another process's end join) is refused too.
        id_ = name.replace("Task_Terima", "Gateway_Baru")
        xml = corpus.edited(corpus.renamed("Gateway_MasukPenyerahan", id_))
        found = {(p.code, p.element_id) for p in refusal(engine, xml)}
        assert ("id.internal_name", id_) in found, (name, found)


def test_a_start_event_called_start_is_refused_not_a_500_at_every_case_start(engine):
    problems = refusal(engine, corpus.edited(corpus.renamed("StartEvent_Kegiatan", "Start")))
    assert [(p.code, p.element_id, p.element_type) for p in problems] == [("id.internal_name", "Start",
                                                                          "startEvent")]


def test_corpus_files_are_where_the_tests_expect_them():
    assert len(corpus.miwg()) == 21 and Path(corpus.MIWG).is_dir()

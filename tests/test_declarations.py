"""The procedure's rules are declared in its diagram (process/declarations.py, docs/extension-namespace.md), never
keyed on element ids in code.

* No string literal equal to an element id of a bundled diagram appears in process/ or webui/ (code or templates).
* The differential test: every element id of the bundled SOP renamed (the process id, which names the procedure,
  kept), the same story run on the original and on the renamed diagram — returns at steps 2 and 3, a *revisi*, a
  refusal, a late step with its timer, publications — gives the same events, notifications, records, documents,
  exports and reports, once the ids are mapped back.
* Validation refuses declarations that point to what is not there, in the process owner's words.
"""
from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
import re
from datetime import date, datetime
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import select

from engine import eventlog
from engine.clock import ManualClock
from engine.db import create_schema, make_engine, transaction
from engine.errors import InvalidDefinition
from engine.models import EventRow
from process import records
from process.compliance import collisions, compliance
from process.config import Settings
from process.deadlines import WIB
from process.declarations import NS, declarations_of
from process.documents import recap_document, responses_document, to_csv
from process.exports import events_csv, events_xes
from process.models import Notification
from process.register import register_document
from process.system import build_system
from tests import diagram_corpus as corpus
from tests.conftest import DIAGRAM, ROOT
from tests.records_scenario import SopCase, at, build

BPMN = corpus.NS["bpmn"]
_KEEP = {"process"}  # the process id names the procedure (its versions, its cases): not an element of the flow


# ------------------------------------------------------------------------------------------ no ids in code

def element_ids(path: Path = DIAGRAM) -> set[str]:
    tree = etree.fromstring(path.read_bytes())
    return {node.get("id") for node in tree.iter(f"{{{BPMN}}}*")
            if node.get("id") and etree.QName(node).localname not in _KEEP | {"definitions"}}


_TEMPLATE_LITERAL = re.compile(r"[\"']([A-Za-z_][\w.]*)[\"']")


def id_literals(source: str, kind: str, ids: set[str]) -> set[str]:
    if kind == "py":
        found = {node.value for node in ast.walk(ast.parse(source))
                 if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    else:
        found = set(_TEMPLATE_LITERAL.findall(source))
    return found & ids


def test_the_scan_would_catch_an_id_keyed_table():
    ids = element_ids()
    assert {"Task_Terima", "EndEvent_Ditolak", "Gateway_Keputusan", "Flow_Tolak", "Lane_Pimred"} <= ids
    assert id_literals('RULE = {"Task_Terima": 1, "Gateway_Keputusan": 2}\n', "py", ids) == {
        "Task_Terima", "Gateway_Keputusan"}
    assert id_literals('{% if row.bpmn_id == "Task_Unggah" %}', "html", ids) == {"Task_Unggah"}


def test_no_element_id_of_a_bundled_diagram_is_written_in_process_or_webui():
    ids = set().union(*(element_ids(p) for p in (ROOT / "bpmn").glob("*.bpmn")))
    sources = [(p, "py") for folder in ("process", "webui") for p in sorted((ROOT / folder).rglob("*.py"))]
    sources += [(p, "html") for p in sorted((ROOT / "webui" / "templates").rglob("*.html"))]
    found = {str(p.relative_to(ROOT)): sorted(hits) for p, kind in sources
             if (hits := id_literals(p.read_text(encoding="utf-8"), kind, ids))}
    assert not found, f"element ids written in code (declare the rule in the diagram instead): {found}"


# ------------------------------------------------------------------------------------------ renaming

def renamed(xml: bytes) -> tuple[bytes, dict[str, str]]:
    """The diagram with every element id (and every reference to one, in BPMN, DI and ``alur:`` attributes and in
    reference texts) replaced; returns it and ``{new id: old id}``."""
    root = etree.fromstring(xml)
    keep = {n.get("id") for n in root.iter(f"{{{BPMN}}}*") if etree.QName(n).localname in _KEEP | {"definitions"}}
    old_ids = [n.get("id") for n in root.iter() if isinstance(n.tag, str) and n.get("id")
               and n.get("id") not in keep and etree.QName(n).namespace != corpus.NS["camunda"]]
    mapping = {old: "E" + hashlib.sha1(old.encode()).hexdigest()[:12] for old in old_ids}
    for node in root.iter():
        if not isinstance(node.tag, str):
            continue
        for name, value in node.attrib.items():
            if value in mapping:
                node.set(name, mapping[value])
        if node.text and node.text.strip() in mapping and len(node) == 0:
            node.text = mapping[node.text.strip()]
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8"), {v: k for k, v in mapping.items()}


def test_renaming_touches_every_id_and_every_reference():
    xml, back = renamed(DIAGRAM.read_bytes())
    text = xml.decode()
    assert not any(re.search(rf"[\"'>]{re.escape(old)}[\"'<]", text) for old in back.values())
    root = etree.fromstring(xml)
    steps = [n for n in root.iter(f"{{{NS}}}return")]
    assert steps and all(s.get("to") in back for s in steps)


# ------------------------------------------------------------------------------------------ the story

def _more(system, tx, clock) -> None:
    """Beyond the records scenario: returns at steps 2 and 3, a revisi, a step done late after its timer fired."""
    clock.set(at(6, 3, 8))
    case = SopCase.open(system, tx, "Rapat Pleno Terbuka", "2025-06-03")
    for hour, who, form in ((9, "tim", "submit"), (10, "admin", "terima"), (11, "wapimred", "wapimred_kembalikan"),
                            (12, "tim", "submit"), (13, "admin", "terima"), (14, "wapimred", "koreksi"),
                            (15, "pimred", "revisi")):
        clock.set(at(6, 3, hour))
        case.do(who, form)
    clock.set(at(6, 5, 8))  # step 3's deadline (H+1 after the hand-in: 4 June 23:59:59 WIB) has passed
    with tx() as s:
        system.timers.fire_due_timers(s)
    for hour, who, form in ((9, "wapimred", "koreksi"), (10, "pimred", "setuju"), (11, "admin", "unggah")):
        clock.set(at(6, 5, hour))
        case.do(who, form)
    clock.set(at(6, 6, 9))


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_HEX64 = re.compile(r"\b[0-9a-f]{64}\b")


class _Normal:
    """Maps a system's random ids (task and file UUIDs, in order of appearance) and renamed element ids back."""

    def __init__(self, back: dict[str, str]):
        self.back, self.seen = back, {}
        self.ids = re.compile("|".join(map(re.escape, sorted(back, key=len, reverse=True)))) if back else None

    def text(self, value: str) -> str:
        value = _UUID.sub(lambda m: self.seen.setdefault(m.group(0), f"<uuid{len(self.seen)}>"), value)
        return self.ids.sub(lambda m: self.back[m.group(0)], value) if self.ids else value

    def __call__(self, value):
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self(k): self(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self(v) for v in value]
        if isinstance(value, bytes):
            return self.text(value.decode("utf-8"))
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: self(getattr(value, f.name)) for f in dataclasses.fields(value) if f.name != "rules"}
        if isinstance(value, (datetime, date)):
            return value.isoformat()
        return value


def _run(tmp_path: Path, name: str, diagram: Path, back: dict[str, str]) -> dict:
    url = f"sqlite:///{tmp_path / name}.db"
    create_schema(make_engine(url))
    clock = ManualClock(datetime(2025, 5, 6, 8, 0, tzinfo=WIB))
    system = build_system(Settings(database_url=url, files_dir=tmp_path / f"{name}-files", diagram_path=diagram),
                          clock)

    def tx():
        return transaction(system.sessions)

    try:
        build(system, tx, clock)
        _more(system, tx, clock)
        norm = _Normal(back)
        period = records.Period(date(2025, 5, 1), date(2025, 6, 30))
        with tx() as s:
            events = [norm({"type": e.type, "at": e.at, "actor": e.actor, "case": e.instance_id, "task": e.task_id,
                            "data": eventlog.decode(e)})
                      for e in s.execute(select(EventRow).order_by(EventRow.seq)).scalars()
                      if e.type != "definition_deployed"]
            notes = [norm({"user": n.user_id, "kind": n.kind, "code": n.code, "params": n.params,
                           "case": n.instance_id, "task": n.task_id, "at": n.created_at})
                     for n in s.execute(select(Notification).order_by(Notification.id)).scalars()]
            register = records.register_rows(s, period, system.rules)
            responses = records.written_responses(s, period, rulebook=system.rules)
            recap = records.recap(s, period, system.rules, system.settings.platforms)
            now = clock.now()
            procedure = system.rules.all_versions(s)[-1]  # the one procedure: its records' titles and columns
            out = {
                "events": events, "notifications": notes, "register": norm(register),
                "responses": norm(responses), "recap": norm(recap),
                "documents": [norm(to_csv(register_document(register, period, now, procedure))),
                              norm(to_csv(responses_document(responses, now, period=period, procedure=procedure))),
                              norm(to_csv(recap_document(recap, now, procedure)))],
                "xes": norm(events_xes(s, rulebook=system.rules, period=period, now=now)),
                "csv": norm(events_csv(s, period=period)),
                "compliance": norm(compliance(s, rulebook=system.rules, date_from=period.start, date_to=period.end,
                                              now=now)),
                "collisions": norm(collisions(s, rulebook=system.rules, date_from=period.start, date_to=period.end)),
            }
        return out
    finally:
        system.dispose()


def _hashes_out(value):
    """Hash-chain values differ with the diagram's bytes: compare everything but them."""
    return json.loads(_HEX64.sub("<hash>", json.dumps(value, sort_keys=True, default=str)))


def test_renaming_every_element_id_changes_nothing_a_user_or_an_auditor_sees(tmp_path):
    xml, back = renamed(DIAGRAM.read_bytes())
    renamed_path = tmp_path / "renamed" / DIAGRAM.name
    renamed_path.parent.mkdir()
    renamed_path.write_bytes(xml)
    # Each run deploys its diagram alone (the bundled diagrams are those of its folder; bpmn/ holds more procedures).
    original_path = tmp_path / "original" / DIAGRAM.name
    original_path.parent.mkdir()
    original_path.write_bytes(DIAGRAM.read_bytes())
    original = _hashes_out(_run(tmp_path, "original", original_path, {}))
    other = _hashes_out(_run(tmp_path, "renamed", renamed_path, back))
    # The story did what it says: returns, a revisi, a refusal, a late step, publications.
    types = [e["type"] for e in original["events"]]
    assert types.count("task_returned") >= 3 and "overdue" in types
    assert {c["outcome"] for c in original["register"]} >= {"dipublikasikan", "ditolak"}
    assert {r["decision"] for c in original["responses"] for r in c["responses"]} >= {
        "dikembalikan", "kembalikan", "revisi", "tolak", "setuju"}
    assert [r["step"] for c in original["responses"] for r in c["responses"]][:3] == [2, 3, 4]
    assert len(original["recap"]["posts"]) == 4 and any(e["kind"] == "overdue" for e in original["notifications"])
    assert any(t["step"] == 3 and t["late"] for t in original["compliance"]["totals"])
    for key in original:
        assert other[key] == original[key], key


# ------------------------------------------------------------------------------------------ validation

@pytest.fixture(scope="module")
def engine():
    from process.procedure import build_engine

    return build_engine(ManualClock(datetime(2025, 5, 6, tzinfo=WIB)))[0]


def replaced(*pairs: tuple[str, str]) -> bytes:
    """The bundled diagram with each text replaced (each must occur)."""
    text = DIAGRAM.read_text(encoding="utf-8")
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new)
    return text.encode("utf-8")


def _problems(engine, xml: bytes):
    with pytest.raises(InvalidDefinition) as info:
        engine.validate(xml)
    return [(p.element_id, p.code, p.params) for p in info.value.problems]


def test_the_bundled_diagram_declares_the_sops_rules(engine):
    decl = declarations_of(engine.validate(DIAGRAM.read_bytes()))
    assert [s.number for s in decl.numbered] == [1, 2, 3, 4, 5]
    assert decl.register_step.number == 1 and decl.team_lanes == {"Tim Pelaksana"}
    assert decl.overdue_lanes == {"Pimpinan Redaksi"}
    assert {o.code for o in decl.outcomes.values()} == {"dipublikasikan", "ditolak"}
    decide = decl.numbered[3]
    assert decide.separate_from == (decl.numbered[0].bpmn_id,) and decide.returns[0].to == decl.numbered[2].bpmn_id


def test_what_the_records_print_is_declared_and_checked(engine):
    """``alur:procedure reference responsesTitle recapTitle``, ``alur:basis``, ``alur:sign`` and ``alur:register
    title by columns``: read, and refused when they point to nothing or say nothing."""
    decl = declarations_of(engine.validate(DIAGRAM.read_bytes()))
    assert decl.record_reference == "SOP Nomor 21 Tahun 2025 — Alur Pengunggahan Konten Media Sosial"
    assert len(decl.basis) == 3 and decl.signatures[0] == ("Dibuat oleh,", "Admin Media Sosial")
    assert (decl.register_title, decl.register_step.register_by) == ("Register Dokumentasi dan Konten",
                                                                      "Diserahkan oleh")
    register = '<alur:register field="nomor_register" title="Register Dokumentasi dan Konten" by="Diserahkan oleh"/>'
    xml = replaced((register, '<alur:register field="nomor_register" columns="tempat_kegiatan caption tidak_ada"/>'),
                   ('<alur:basis text="Undang-Undang Nomor 14 Tahun 2008 tentang Keterbukaan Informasi Publik"/>',
                    '<alur:basis text=" "/>'),
                   ('<alur:sign heading="Mengetahui," role="Pimpinan Redaksi"/>', '<alur:sign/>'))
    problems = _problems(engine, xml)
    assert ("Task_Serahkan", "decl.field_missing",
            {"field": "tidak_ada", "attribute": "register/columns"}) in problems  # a start-form field is fine
    assert ("alur_pengunggahan", "decl.attribute_missing", {"attribute": "basis/text"}) in problems
    assert ("alur_pengunggahan", "decl.attribute_missing", {"attribute": "sign/role"}) in problems
    assert len(problems) == 3, problems
    bare = declarations_of(engine.validate(replaced(
        (register, '<alur:register field="nomor_register"/>'),
        (' reference="SOP Nomor 21 Tahun 2025 — Alur Pengunggahan Konten Media Sosial" responsesTitle="Tanggapan '
         'Tertulis Tim Pertimbangan" recapTitle="Rekapitulasi Konten Media Sosial"', ''))))
    assert (bare.record_reference, bare.register_title, bare.responses_heading) == (
        "Alur Pengunggahan Konten Media Sosial", "Register Alur Pengunggahan Konten Media Sosial",
        "Tanggapan Tertulis")


def test_a_version_without_record_declarations_prints_as_its_bundled_diagram(system, tx):
    """A version deployed before records were declared (it declares rules, not what its records print) takes them
    from the bundled diagram of its procedure; one that declares some keeps its own."""
    from process.declarations import lend_records

    bundled = declarations_of(system.engine.validate(DIAGRAM.read_bytes()))
    text = DIAGRAM.read_text(encoding="utf-8")
    old = re.sub(r' reference="[^"]*" responsesTitle="[^"]*" recapTitle="[^"]*"', "", text)
    old = re.sub(r"\s*<alur:(basis|sign) [^>]*/>", "", old)
    old = old.replace(' title="Register Dokumentasi dan Konten" by="Diserahkan oleh"', "")
    own = declarations_of(system.engine.validate(old.encode()))
    assert not own.declares_records and own.declared
    lent = lend_records(own, bundled)
    assert (lent.register_title, lent.responses_heading, lent.signatures, lent.basis) == (
        bundled.register_title, bundled.responses_heading, bundled.signatures, bundled.basis)
    assert system.rules.of(system.engine.validate(old.encode())).register_title == "Register Dokumentasi dan Konten"
    mine = declarations_of(system.engine.validate(old.replace('team="tim"', 'team="tim" reference="Lain"').encode()))
    assert lend_records(mine, bundled) is mine


def test_the_groups_of_each_lane_and_the_start_lane_are_read_from_the_diagram(engine):
    """Per lane: the ``camunda:candidateGroups`` codes of its user tasks (comma-separated, each once) and its declared
    group; the lane of the start event; a map of lane name → group codes over every version, groups matched by name
    too (whitespace and case aside)."""
    from process.declarations import LaneMap, candidate_groups

    assert candidate_groups(" a, b ,,a ,c") == ("a", "b", "c") and candidate_groups(None) == ()
    decl = declarations_of(engine.validate(DIAGRAM.read_bytes()))
    assert {name: (lane.candidate_groups, lane.group, lane.has_tasks) for name, lane in decl.lanes.items()} == {
        "Tim Pelaksana": (("tim_pelaksana",), None, True), "Admin Medsos": (("admin_medsos",), None, True),
        "Wakil Pimpinan Redaksi": (("wapimred",), None, True), "Pimpinan Redaksi": (("pimred",), None, True)}
    assert decl.start_lane == "Tim Pelaksana"
    xml = replaced(('<alur:lane hearsOverdue="true" leads="true"/>',
                    '<alur:lane group="redaksi" hearsOverdue="true" leads="true"/>'),
                   ('camunda:candidateGroups="admin_medsos"', 'camunda:candidateGroups="admin_medsos, humas"'))
    other = declarations_of(engine.validate(xml))
    assert other.lanes["Pimpinan Redaksi"].group_codes == {"redaksi"}  # declared: its tasks' codes give way
    assert other.lanes["Admin Medsos"].group_codes == {"admin_medsos", "humas"}
    lanes = LaneMap.of([decl, other])
    assert lanes.group_codes("Pimpinan Redaksi") == {"pimred", "redaksi"}  # a lane is one name across versions
    assert lanes.lanes_for(frozenset({"humas"}), frozenset()) == {"Admin Medsos"}
    assert lanes.lanes_for(frozenset(), frozenset({" wakil PIMPINAN  redaksi"})) == {"Wakil Pimpinan Redaksi"}
    assert lanes.team_only({"Tim Pelaksana"}) and not lanes.team_only({"Tim Pelaksana", "Admin Medsos"})
    assert lanes.may_start({"Tim Pelaksana"}, "alur_pengunggahan")
    assert not lanes.may_start({"Admin Medsos"}, "alur_pengunggahan") and not lanes.may_start({"x"}, "lain")
    assert lanes.overdue_lanes == {"Pimpinan Redaksi"}


def test_a_declaration_pointing_to_a_step_that_is_gone_is_refused(engine):
    xml = replaced(('to="Task_Koreksi"', 'to="Task_Hilang"'))
    problems = _problems(engine, xml)
    assert ("Task_Putuskan", "decl.target_missing", {"target": "Task_Hilang", "attribute": "return/to"}) in problems


def test_declarations_naming_missing_fields_options_and_duplicate_numbers_are_refused(engine):
    xml = replaced(('fields="cek_foto cek_narasi cek_caption"', 'fields="cek_foto cek_video"'),
                   ('<alur:reject field="keputusan_pimred" value="tolak"/>',
                    '<alur:reject field="keputusan_pimred" value="buang"/>'),
                   ('number="5"', 'number="4"'))
    codes = {(e, c, p.get("option") or p.get("field") or p.get("number")) for e, c, p in _problems(engine, xml)}
    assert ("Task_Terima", "decl.field_missing", "cek_video") in codes
    assert ("Task_Putuskan", "decl.option_missing", "buang") in codes
    assert any(c == "decl.number_duplicate" for _e, c, _p in codes)


def test_a_required_deadline_needs_a_timer_and_an_optional_one_does_not(engine):
    moved = ('attachedToRef="Task_Unggah"', 'attachedToRef="Task_Koreksi"')  # step 5's timer now on step 3
    assert ("Task_Unggah", "decl.deadline_missing", {}) in _problems(engine, replaced(moved))
    optional = replaced(moved, ('number="5" label="Pengunggahan" deadline="required"',
                                'number="5" label="Pengunggahan" deadline="optional"'))
    assert engine.validate(optional).process_key == "alur_pengunggahan"


def test_a_written_response_may_be_a_text_without_a_decision(engine):
    """A step that only writes a note (a check by another unit) declares its text field alone; a text field that is
    not in the form is still refused."""
    alone = ('<alur:response decision="keputusan_wapimred" text="tanggapan_wapimred"/>',
             '<alur:response text="tanggapan_wapimred"/>')
    decl = declarations_of(engine.validate(replaced(alone)))
    assert decl.step("Task_Koreksi").response == ("", "tanggapan_wapimred")
    assert decl.decision_of("Task_Koreksi", {"tanggapan_wapimred": "Sudah."}) is None
    missing = replaced(('<alur:response decision="keputusan_wapimred" text="tanggapan_wapimred"/>',
                        '<alur:response text="catatan_hilang"/>'))
    assert [(e, c, p) for e, c, p in _problems(engine, missing) if c.startswith("decl.")] == [
        ("Task_Koreksi", "decl.field_missing", {"field": "catatan_hilang", "attribute": "response/text"})]


def test_a_misplaced_or_unknown_declaration_is_refused(engine):
    xml = replaced(('<alur:compare copy="true"/>', '<alur:compare copy="true"/><alur:banana/>'),
                   ('<alur:lane hearsOverdue="true" leads="true"/>', '<alur:step number="9"/>'))
    codes = {(c, p.get("declaration")) for _e, c, p in _problems(engine, xml)}
    assert ("decl.unknown", "banana") in codes and ("decl.misplaced", "step") in codes


def test_the_change_summary_says_how_the_rules_changed_in_words(system, tx):
    """Moving the register to step 2, a new return and a deadline made optional, in the owner's words."""
    from process import modeling
    from process.messages import render
    from tests.factories import make_users, user

    make_users(system, tx)
    register = '<alur:register field="nomor_register" title="Register Dokumentasi dan Konten" by="Diserahkan oleh"/>'
    xml = replaced((register, ''),
                   ('<alur:step number="2" label="Penerimaan" deadline="required" output="Tanggapan tertulis dari '
                    'Tim Pertimbangan">',
                    '<alur:step number="2" label="Penerimaan" deadline="optional" output="Tanggapan tertulis dari '
                    'Tim Pertimbangan"><alur:register field="nomor_register"/>'),
                   ('<alur:reject field="keputusan_pimred" value="tolak"/>',
                    '<alur:return field="keputusan_pimred" value="tolak" to="Task_Serahkan" response="pertimbangan"/>'))
    with tx() as s:
        _definition, summary = modeling.deploy(s, system, user(s, "owner"), xml)
    said = [render(m["code"], m["params"], "id") for m in summary["rules"]]
    assert "Nomor register kini diberikan pada langkah \u201cMenerima hasil dokumentasi kegiatan dan konten " \
           "berita\u201d." in said
    assert "Batas waktu langkah \u201cMenerima hasil dokumentasi kegiatan dan konten berita\u201d kini " \
           "opsional." in said
    assert any(line.startswith("Pada langkah \u201cMemberikan keputusan") and "\u201ctolak\u201d kini mengembalikan"
               in line for line in said)
    assert len(said) == 3


def test_the_bundled_diagrams_are_read_once_each(system, monkeypatch):
    """Reading a bundled diagram asks the rulebook for its declarations (the engine's lane callback); that must not
    read the bundled diagrams again (it once did, recursively: ten seconds at a worker's first timer)."""
    from pathlib import Path

    bundled = Path(__file__).resolve().parents[1] / "bpmn"
    rules = system.rules  # the rulebook the engine's lane callback asks
    rules._bundled = None
    calls = []
    validate = system.engine.validate
    monkeypatch.setattr(system.engine, "validate", lambda xml: calls.append(1) or validate(xml))
    found = rules._bundled_by_key()
    assert len(calls) == len(list(bundled.glob("*.bpmn"))) >= 2
    assert {"alur_pengunggahan", "layanan_informasi_publik"} <= set(found)

"""The wider BPMN the engine runs (docs/bpmn-support.md), driven through the engine's API on the diagrams in
tests/data/bpmn-support/ (see the README there):

* untyped and manual tasks complete by themselves, are never inbox tasks, and are in the case's history
  (``task_passed``), in words in both languages;
* the user tasks of an embedded sub-process are inbox tasks of the sub-process's lane, with their deadlines; a
  signal thrown inside reaches a catch outside; a timer on the sub-process itself interrupts it; the case ends with
  the process's own end event; a case moves to another version with its sub-process;
* an inclusive gateway takes every branch whose condition holds (the default when none does), and its join waits
  for the branches taken only;
* what stays refused is refused in words, and each refused element is explained in docs/bpmn-support.md.

Every case is checked against its projection (engine.consistency) and re-executed from its history (engine.replay).
"""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from flask_babel import force_locale
from lxml import etree
from sqlalchemy import select

from engine import eventlog
from engine.changes import summarize_changes
from engine.consistency import check_projection
from engine.definitions import UNSUPPORTED
from engine.errors import InvalidDefinition, MigrationRefused
from engine.models import Instance, TaskRow
from engine.replay import replay
from process.casefile import HistoryEvent
from process.procedure import build_engine
from tests.conftest import ROOT
from tests.prune_corpus import CORPUS, INITIAL

DATA = ROOT / "tests" / "data" / "bpmn-support"
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
NS = {"bpmn": BPMN}


@pytest.fixture
def engine(system, clock):
    """The application's engine (its deploy checks: lanes of known roles, forms), keeping no workflow in memory
    between actions: every action reads the state back, as a request in another process would."""
    return build_engine(clock, warm_cases=0)[0]


def xml_of(name: str) -> bytes:
    return (DATA / f"{name}.bpmn").read_bytes()


def ready(session, instance_id: int) -> dict[str, TaskRow]:
    rows = session.execute(select(TaskRow).where(TaskRow.instance_id == instance_id, TaskRow.state == "ready"))
    return {row.bpmn_id: row for row in rows.scalars()}


def events(session, instance_id: int, *types: str) -> list[tuple[str, dict]]:
    found = [(row.type, eventlog.decode(row)) for row in eventlog.events_of(session, instance_id)]
    return [(t, d) for t, d in found if not types or t in types]


def consistent(engine, tx, instance_id: int) -> None:
    """The stored case agrees with its projection and its events, and re-executes to the same history."""
    with tx() as s:
        assert check_projection(s, engine, [instance_id]) == []
        result = replay(s, engine, instance_id)
        assert result.matches, (result.error, result.first_mismatch)


def start(engine, tx, name: str, data: dict | None = None) -> int:
    with tx() as s:
        engine.deploy(s, xml_of(name), actor="pemilik")
        return engine.start(s, f"uji_{name}", data=data or {}, actor="tim").instance.id


def complete(engine, tx, instance_id: int, bpmn_id: str, data: dict | None = None):
    with tx() as s:
        task = ready(s, instance_id)[bpmn_id]
        return engine.complete(s, task.id, data or {}, actor="tim")


# --------------------------------------------------------------------------------------------------
# Untyped and manual tasks
# --------------------------------------------------------------------------------------------------


def test_untyped_and_manual_tasks_complete_by_themselves_and_are_in_the_history(engine, tx):
    case = start(engine, tx, "tugas_lewat")
    with tx() as s:
        assert list(ready(s, case)) == ["Tulis"]
        assert events(s, case, "task_passed") == [("task_passed", {"bpmn_id": "Siapkan", "name": "Siapkan berkas",
                                                                   "lane": "Tim Pelaksana", "kind": "task"})]
    complete(engine, tx, case, "Tulis", {"narasi": "Naskah"})
    with tx() as s:
        assert list(ready(s, case)) == ["Periksa"]
        passed = [d for _t, d in events(s, case, "task_passed")]
        assert passed[-1] == {"bpmn_id": "Cetak", "name": "Cetak poster", "lane": "Admin Medsos", "kind": "manualTask"}
        # In the order it happened: the manual task passed between the two user tasks.
        order = [(t, d.get("bpmn_id")) for t, d in events(s, case, "task_completed", "task_passed", "task_ready")]
        assert order == [("task_passed", "Siapkan"), ("task_ready", "Tulis"), ("task_completed", "Tulis"),
                         ("task_passed", "Cetak"), ("task_ready", "Periksa")]
    result = complete(engine, tx, case, "Periksa")
    assert result.instance.status == "completed" and result.instance.end_event == "Selesai"
    with tx() as s:
        all_rows = s.execute(select(TaskRow.bpmn_id).where(TaskRow.instance_id == case)).scalars().all()
        assert sorted(all_rows) == ["Periksa", "Tulis"]  # never an inbox task
    consistent(engine, tx, case)


def test_a_passed_step_reads_as_a_sentence_in_both_languages(app, english_app, clock):
    from webui.cases import _sentence

    event = HistoryEvent(1, "task_passed", clock.now(), "system", None,
                         {"bpmn_id": "Cetak", "name": "Cetak poster", "lane": "Admin Medsos", "kind": "manualTask"})
    with app.test_request_context("/"):
        indonesian = _sentence(event, {}, {})
    with english_app.test_request_context("/"), force_locale("en"):
        english = _sentence(event, {}, {})
    assert "Cetak poster" in indonesian and "melewati" in indonesian and "Kejadian" not in indonesian
    assert "Cetak poster" in english and "passed" in english


def test_a_passed_step_is_an_activity_of_the_process_mining_log(system, engine, tx):
    from process.exports import events_xes

    case = start(engine, tx, "tugas_lewat")
    complete(engine, tx, case, "Tulis", {"narasi": "Naskah"})
    with tx() as s:
        log = etree.fromstring(events_xes(s, rulebook=system.rules, instance_id=case))
    events = [(e.find("string[@key='concept:name']").get("value"),
               e.find("string[@key='lifecycle:transition']").get("value"))
              for e in log.iter("event")]
    assert [name for name, transition in events[1:] if transition == "complete"] == [
        "Siapkan berkas", "Tulis naskah", "Cetak poster"]
    assert [name for name, transition in events[1:] if transition == "start"] == [
        "Siapkan berkas", "Tulis naskah", "Cetak poster"]  # each step, the passed ones too, starts and completes


def test_a_passed_step_is_compared_when_a_case_is_replayed(engine, tx):
    case = start(engine, tx, "tugas_lewat")
    with tx() as s:
        first = replay(s, engine, case).steps[0]
    assert first.expected["passed"] == first.actual["passed"] == ["Siapkan"]


# --------------------------------------------------------------------------------------------------
# Embedded sub-processes
# --------------------------------------------------------------------------------------------------


def test_user_tasks_inside_a_subprocess_are_inbox_tasks_of_its_lane(engine, tx, clock):
    started = clock.now()
    case = start(engine, tx, "sub_proses")
    with tx() as s:
        rows = ready(s, case)
        assert list(rows) == ["Foto"]  # the catch event outside waits, without a task
        assert rows["Foto"].lane == "Tim Pelaksana"  # the sub-process's lane: the task is in none of its own
        assert rows["Foto"].due_at == started + timedelta(hours=2)  # its own deadline
        assert s.get(Instance, case).next_timer_at == started + timedelta(hours=2)
    clock.advance(hours=3)
    with tx() as s:
        (fired,) = engine.fire_due_timers(s)
        assert [r.bpmn_id for r in fired.overdue] == ["Foto"]
    complete(engine, tx, case, "Foto", {"jumlah_foto": 4})
    with tx() as s:
        assert [(b, r.lane) for b, r in ready(s, case).items()] == [("Caption", "Tim Pelaksana")]
    result = complete(engine, tx, case, "Caption", {"caption": "Foto kegiatan"})
    # The signal thrown inside the sub-process reached the catch event in the process; the sub-process ended.
    assert result.signals == ["Konten siap"]
    with tx() as s:
        assert sorted(ready(s, case)) == ["Setujui", "Umumkan"]
        assert ready(s, case)["Setujui"].lane == "Admin Medsos"
        task_data = engine.task_data(s, ready(s, case)["Setujui"].id)
        assert task_data["caption"] == "Foto kegiatan" and task_data["jumlah_foto"] == 4  # handed back
    complete(engine, tx, case, "Umumkan")
    result = complete(engine, tx, case, "Setujui")
    assert result.instance.status == "completed"
    assert result.instance.end_event == "Selesai"  # the process's end, not the sub-process's
    with tx() as s:
        wf = engine.load(s, s.get(Instance, case))
        assert wf.subprocesses == {}  # a sub-process that is over is not kept in the state
    consistent(engine, tx, case)


def test_a_timer_on_the_subprocess_interrupts_it(engine, tx, clock):
    case = start(engine, tx, "sub_proses")
    complete(engine, tx, case, "Foto", {"jumlah_foto": 1})
    clock.advance(days=1, minutes=1)
    with tx() as s:
        (fired,) = engine.fire_due_timers(s)
        assert [r.bpmn_id for r in fired.ready] == ["Tindak"]
        assert sorted(t for t, _d in events(s, case, "timer_fired", "task_cancelled")[-2:]) == \
            ["task_cancelled", "timer_fired"]
        assert {d["bpmn_id"] for t, d in events(s, case, "task_cancelled")} == {"Caption"}
        assert list(ready(s, case)) == ["Tindak"]
    result = complete(engine, tx, case, "Tindak", {"tindakan": "dihentikan"})
    assert result.instance.status == "completed" and result.instance.end_event == "Dihentikan"
    consistent(engine, tx, case)


def test_a_case_moves_to_another_version_with_its_subprocess(engine, tx, clock):
    case = start(engine, tx, "sub_proses")

    def edited(edit) -> bytes:
        tree = etree.fromstring(xml_of("sub_proses"))
        edit(tree)
        return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")

    def rename(tree):
        tree.find(".//bpmn:userTask[@id='Foto']", NS).set("name", "Ambil foto kegiatan")

    def without_foto(tree):
        sub = tree.find(".//bpmn:subProcess", NS)
        for node in list(sub):
            if node.get("id") in ("Foto", "TenggatFoto", "FotoTerlambat", "P5"):
                sub.remove(node)
        sub.find("bpmn:sequenceFlow[@id='P1']", NS).set("targetRef", "Caption")
        sub.find("bpmn:sequenceFlow[@id='P2']", NS).getparent().remove(sub.find("bpmn:sequenceFlow[@id='P2']", NS))

    with tx() as s:
        summary = summarize_changes(xml_of("sub_proses"), edited(without_foto))
        assert {e["id"] for e in summary["removed"]} == {"Foto", "TenggatFoto", "FotoTerlambat", "P2", "P5"}
        removed = engine.deploy(s, edited(without_foto), actor="pemilik")
        check = engine.check_migration(s, s.get(Instance, case), removed)
        assert not check.can_move
        assert [(p.element_id, p.code) for p in check.reasons] == [("Foto", "migration.task_removed")]
        with pytest.raises(MigrationRefused):
            engine.migrate(s, case, removed, actor="pemilik")
    with tx() as s:
        renamed = engine.deploy(s, edited(rename), actor="pemilik")
        result = engine.migrate(s, case, renamed, actor="pemilik")
        assert result.instance.definition_id == renamed.id
    complete(engine, tx, case, "Foto", {"jumlah_foto": 2})
    with tx() as s:
        assert list(ready(s, case)) == ["Caption"]
    consistent(engine, tx, case)


def test_an_error_end_inside_a_subprocess_is_caught_on_its_border(system, tx):
    """The corpus's sub-process (tests/prune_corpus.py): a nested sub-process, a manual task in a parallel region, an
    error end event caught by an error boundary event on the sub-process, which leads to a user task."""
    from engine.runtime import WorkflowEngine

    engine = WorkflowEngine(clock=system.engine.clock, functions=system.engine.functions, warm_cases=0)
    with tx() as s:
        engine.deploy(s, CORPUS["sub_proses"].xml(), actor="pemilik")
        case = engine.start(s, "sub_proses", data=INITIAL, actor="tim").instance.id
        assert sorted(ready(s, case)) == ["Foto", "Pantau"]
    for step, data in (("Foto", {"pilih": 0}), ("Naskah", {"pilih": 0}), ("Periksa", {"pilih": 2})):
        complete(engine, tx, case, step, data)
    with tx() as s:
        assert sorted(ready(s, case)) == ["Pantau", "Perbaiki"]
        types = [(t, d.get("bpmn_id") or d.get("element")) for t, d in events(s, case)]
        assert ("task_passed", "Cetak") in types and ("signal_thrown", "Kabari") in types
    complete(engine, tx, case, "Perbaiki", {"pilih": 0})
    complete(engine, tx, case, "Putuskan", {"pilih": 0})
    result = complete(engine, tx, case, "Pantau", {"pilih": 0})
    assert result.instance.status == "completed" and result.instance.end_event == "Selesai"
    consistent(engine, tx, case)


def test_unreachable_elements_inside_a_subprocess_are_warned_of():
    from engine.definitions import check_warnings, harden_and_parse

    def unreachable(xml) -> set[str]:
        return {p.element_id for p in check_warnings(harden_and_parse(xml)) if p.code == "flow.unreachable"}

    assert unreachable(xml_of("sub_proses")) == set()
    tree = etree.fromstring(xml_of("sub_proses"))
    etree.SubElement(tree.find(".//bpmn:subProcess", NS), f"{{{BPMN}}}userTask", id="Yatim", name="Tanpa alur")
    assert unreachable(etree.tostring(tree)) == {"Yatim"}


def test_the_change_summary_names_the_elements_inside_a_subprocess():
    tree = etree.fromstring(xml_of("sub_proses"))
    tree.find(".//bpmn:userTask[@id='Caption']", NS).set("name", "Tulis caption kegiatan")
    summary = summarize_changes(xml_of("sub_proses"), etree.tostring(tree))
    (changed,) = summary["changed"]
    assert changed["id"] == "Caption" and changed["changes"] == [
        {"aspect": "name", "old": "Tulis caption", "new": "Tulis caption kegiatan"}]
    assert not summary["added"] and not summary["removed"]


# --------------------------------------------------------------------------------------------------
# Inclusive gateways
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ig, web, branches", [("ya", "ya", ["Instagram", "Web"]), ("tidak", "ya", ["Web"]),
                                               ("ya", "tidak", ["Instagram"]), ("tidak", "tidak", [])])
def test_an_inclusive_join_waits_for_the_branches_taken_only(engine, tx, ig, web, branches):
    case = start(engine, tx, "inklusif")
    complete(engine, tx, case, "Pilih", {"ig": ig, "web": web})
    with tx() as s:
        passed = [d["bpmn_id"] for _t, d in events(s, case, "task_passed")]
        if branches:
            assert sorted(ready(s, case)) == branches and passed == []
        else:  # no condition holds: the default branch (a manual task) passes, and the join goes on
            assert list(ready(s, case)) == ["Laporkan"] and passed == ["Arsipkan"]
    for n, branch in enumerate(branches, 1):
        complete(engine, tx, case, branch, {})
        with tx() as s:
            waiting = sorted(ready(s, case))
            assert waiting == (["Laporkan"] if n == len(branches) else sorted(set(branches) - set(branches[:n])))
    result = complete(engine, tx, case, "Laporkan", {"laporan": "Selesai"})
    assert result.instance.status == "completed"
    consistent(engine, tx, case)


def test_an_inclusive_join_goes_on_once_no_branch_taken_can_still_come(system, tx, clock):
    """The corpus's inclusive region (tests/prune_corpus.py) whose branches may leave before the join: by an
    interrupting deadline to an end event, by an exclusive gateway's way out; one branch is a sub-process."""
    from engine.runtime import WorkflowEngine

    engine = WorkflowEngine(clock=clock, functions=system.engine.functions, warm_cases=0)
    with tx() as s:
        engine.deploy(s, CORPUS["inklusif_keluar"].xml(), actor="pemilik")
        case = engine.start(s, "inklusif_keluar", data=INITIAL, actor="tim").instance.id
    complete(engine, tx, case, "Awal", {"pilih": 1, "berkas": ["a", "b"]})
    with tx() as s:
        assert sorted(ready(s, case)) == ["Isi", "Kanan", "Tengah"]  # every condition that holds; not the default
    complete(engine, tx, case, "Isi")  # the sub-process arrives
    complete(engine, tx, case, "Tengah", {"pilih": 2})  # leaves by the exclusive gateway
    with tx() as s:
        assert sorted(ready(s, case)) == ["Kanan"]  # still waited for
    clock.advance(hours=3)
    with tx() as s:
        engine.fire_due_timers(s)  # Kanan's deadline interrupts it, its branch ends: nothing more can come
        assert sorted(ready(s, case)) == ["Akhir"]
    result = complete(engine, tx, case, "Akhir")
    assert result.instance.status == "completed" and result.instance.end_event == "Selesai"
    consistent(engine, tx, case)


def test_an_inclusive_join_in_a_loop_is_refused_and_a_split_in_a_loop_is_not(engine):
    with pytest.raises(InvalidDefinition) as refused:
        engine.validate(CORPUS["putaran_inklusif"].xml())
    assert [(p.element_id, p.code) for p in refused.value.problems
            if p.code.startswith("gateway.")] == [("Kumpul", "gateway.inclusive_loop")]
    plain = build_engine(engine.clock)[0]
    plain.extra_checks = ()  # the corpus diagrams have no forms: the engine's own checks only
    plain.validate(CORPUS["sebar_putaran"].xml())
    plain.validate(CORPUS["inklusif"].xml())


# --------------------------------------------------------------------------------------------------
# What stays refused
# --------------------------------------------------------------------------------------------------


def _sub_edit(edit):
    tree = etree.fromstring(xml_of("sub_proses"))
    edit(tree, tree.find(".//bpmn:subProcess", NS))
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")


def _second_start(tree, sub):
    start = etree.SubElement(sub, f"{{{BPMN}}}startEvent", id="MulaiLagi")
    etree.SubElement(start, f"{{{BPMN}}}outgoing").text = "P9"
    etree.SubElement(sub, f"{{{BPMN}}}sequenceFlow", id="P9", sourceRef="MulaiLagi", targetRef="Caption")


def _timer_start(tree, sub):
    definition = etree.SubElement(sub.find("bpmn:startEvent", NS), f"{{{BPMN}}}timerEventDefinition", id="T")
    etree.SubElement(definition, f"{{{BPMN}}}timeDuration").text = "PT1H"


def _no_end(tree, sub):
    for end in sub.findall("bpmn:endEvent", NS):
        sub.remove(end)
    for flow in sub.findall("bpmn:sequenceFlow", NS):
        if flow.get("targetRef") in ("SelesaiProduksi", "FotoTerlambat"):
            sub.remove(flow)


def _other_lane(tree, sub):
    lane = tree.find(".//bpmn:lane[@name='Admin Medsos']", NS)
    etree.SubElement(lane, f"{{{BPMN}}}flowNodeRef").text = "Caption"


def _event_subprocess(tree, sub):
    inner = etree.SubElement(tree.find(".//bpmn:process", NS), f"{{{BPMN}}}subProcess", id="Peristiwa",
                             triggeredByEvent="true")
    start = etree.SubElement(inner, f"{{{BPMN}}}startEvent", id="MulaiPeristiwa")
    etree.SubElement(start, f"{{{BPMN}}}signalEventDefinition", id="SP", signalRef="Sinyal_Siap")
    etree.SubElement(inner, f"{{{BPMN}}}endEvent", id="AkhirPeristiwa")
    etree.SubElement(inner, f"{{{BPMN}}}sequenceFlow", id="PP", sourceRef="MulaiPeristiwa",
                     targetRef="AkhirPeristiwa")


def _flow_across_the_border(tree, sub):
    sub.find("bpmn:sequenceFlow[@id='P4']", NS).set("targetRef", "Setujui")


def _message_catch(tree, sub):
    root = tree
    message = etree.Element(f"{{{BPMN}}}message", id="Pesan", name="Kabar")
    root.insert(0, message)
    catch = tree.find(".//bpmn:intermediateCatchEvent", NS)
    catch.remove(catch.find("bpmn:signalEventDefinition", NS))
    etree.SubElement(catch, f"{{{BPMN}}}messageEventDefinition", id="Tunggu_pesan", messageRef="Pesan")


@pytest.mark.parametrize("edit, element, code", [
    (_second_start, "Produksi", "subprocess.start_count"),
    (_timer_start, "MulaiProduksi", "subprocess.start_typed"),
    (_no_end, "Produksi", "subprocess.no_end_event"),
    (_other_lane, "Caption", "subprocess.lane_conflict"),
    (_event_subprocess, "Peristiwa", "unsupported.eventSubProcess"),
    (_flow_across_the_border, "P4", "flow.dangling"),
    (_message_catch, "Tunggu", "unsupported.messageEventDefinition"),
], ids=["two-starts", "timer-start", "no-end", "other-lane", "event-subprocess", "flow-across", "message"])
def test_what_a_subprocess_cannot_be_is_refused_naming_the_element(engine, app, edit, element, code):
    from webui.problems import problem_message

    with pytest.raises(InvalidDefinition) as refused:
        engine.validate(_sub_edit(edit))
    found = {(p.element_id, p.code): p for p in refused.value.problems}
    assert (element, code) in found, sorted(found)
    with app.test_request_context("/"):
        assert "Masalah yang tidak dikenal" not in problem_message(found[(element, code)])


def test_every_refused_element_is_explained_in_the_docs():
    page = (ROOT / "docs" / "bpmn-support.md").read_text(encoding="utf-8")
    missing = sorted(name for name in UNSUPPORTED if f"`{name}`" not in page)
    assert not missing, f"docs/bpmn-support.md does not say why these are refused: {missing}"
    assert Path(DATA / "README.md").is_file()

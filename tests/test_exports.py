"""The event log as CSV (one row per event of the period or case) and as XES (IEEE 1849-2016), read back
with pm4py, a process-mining library, checked against the standard's structure rule by rule, and validated
against the standard's XML schema when tests/data/xes/xes-ieee-1849-2016.xsd is there (see its README)."""
from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import func, select

from engine.models import EventRow, Instance
from process.exports import CSV_COLUMNS, XES_EVENT_TYPES, events_csv, events_xes
from process.records import Period
from tests.factories import FORMS, user
from tests.records_scenario import SopCase, at, build

MAY = Period.month(2025, 5)
#: The IEEE 1849-2016 XES schema, when it has been put there (tests/data/xes/README.md).
XES_XSD = Path(__file__).parent / "data" / "xes" / "xes-ieee-1849-2016.xsd"
STEP_1 = "Menyerahkan dokumentasi kegiatan beserta narasi dan konten lainnya"
STEP_2 = "Menerima hasil dokumentasi kegiatan dan konten berita"

#: The standard lifecycle model of IEEE 1849 (Lifecycle extension, "standard").
STANDARD_TRANSITIONS = {"schedule", "assign", "withdraw", "reassign", "start", "suspend", "resume", "pi_abort",
                        "ate_abort", "complete", "autoskip", "manualskip", "unknown"}


@pytest.fixture
def sc(system, tx, clock):
    return build(system, tx, clock)


def parse_csv(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


# ----------------------------------------------------------------------------------------------- CSV
def test_csv_has_one_row_per_event_of_the_period(sc, tx):
    with tx() as s:
        text = events_csv(s, period=MAY)
        expected = s.execute(select(EventRow.seq).where(EventRow.at >= MAY.starts_at, EventRow.at < MAY.ends_before)
                             .order_by(EventRow.seq)).scalars().all()
        total = s.execute(select(func.count()).select_from(EventRow)).scalar_one()
    rows = parse_csv(text)
    assert tuple(rows[0].keys()) == CSV_COLUMNS
    assert [int(r["seq"]) for r in rows] == expected
    assert 0 < len(rows) < total  # June's events are not in May
    for row in rows:
        moment = datetime.fromisoformat(row["time"])
        assert moment.utcoffset().total_seconds() == 7 * 3600 and MAY.contains(moment)
        payload = json.loads(row["payload"])
        if payload.get("due"):  # the deadline: stored (and hashed) in UTC, in its own column in WIB
            due = datetime.fromisoformat(row["due"])
            assert due.utcoffset() == timedelta(hours=7) and due == datetime.fromisoformat(payload["due"])
        else:
            assert row["due"] == ""
        assert len(row["hash"]) == 64 and len(row["prev_hash"]) == 64
    readies = [r for r in rows if r["type"] == "task_ready"]
    assert readies and all(r["due"].endswith("+07:00") for r in readies)
    completed = [r for r in rows if r["type"] == "task_completed"]
    assert completed[0]["step"] == "Menyerahkan dokumentasi kegiatan beserta narasi dan konten lainnya"
    assert completed[0]["actor"] == "tim" and completed[0]["case_id"] == str(sc.mei.instance_id)


def test_csv_period_edges_are_wib_midnight(sc, tx):
    with tx() as s:
        last = parse_csv(events_csv(s, period=Period(date(2025, 5, 31), date(2025, 5, 31))))
        first = parse_csv(events_csv(s, period=Period(date(2025, 6, 1), date(2025, 6, 1))))
    assert last[-1]["time"] == "2025-05-31T23:59:59+07:00"
    assert first[0]["time"] == "2025-06-01T00:00:00+07:00"
    assert not {r["seq"] for r in last} & {r["seq"] for r in first}


def test_csv_of_one_case_and_the_hash_chain_links(sc, tx):
    with tx() as s:
        rows = parse_csv(events_csv(s, instance_id=sc.juni.instance_id))
        expected = s.execute(select(func.count()).select_from(EventRow)
                             .where(EventRow.instance_id == sc.juni.instance_id)).scalar_one()
        everything = parse_csv(events_csv(s))
    assert len(rows) == expected and {r["case_id"] for r in rows} == {str(sc.juni.instance_id)}
    types = [r["type"] for r in rows]
    assert types[0] == "case_started" and types[-1] == "case_completed"
    # the whole log: each row's prev_hash is the previous row's hash
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(everything, everything[1:]))
    assert everything[0]["type"] == "definition_deployed" and everything[0]["case_id"] == ""


# ----------------------------------------------------------------------------------------------- XES
def xes_counts(session, ids) -> int:
    """How many events the XES of these (finished) cases has: its event types, plus a ``start`` per step done."""
    kinds = session.execute(select(func.count()).select_from(EventRow).where(
        EventRow.instance_id.in_(ids), EventRow.type.in_(tuple(XES_EVENT_TYPES)))).scalar_one()
    done = session.execute(select(func.count()).select_from(EventRow).where(
        EventRow.instance_id.in_(ids), EventRow.type.in_(("task_completed", "task_passed")))).scalar_one()
    return kinds + done


def check_ieee_1849_structure(data: bytes) -> etree._Element:
    """The rules of the standard's XML schema, checked one by one, and the schema itself when it is there."""
    root = etree.fromstring(data)
    if XES_XSD.exists():  # the document as written, the schema as published
        schema = etree.XMLSchema(etree.parse(str(XES_XSD)))
        assert schema.validate(root), schema.error_log
    assert root.tag == "log"
    Decimal(root.get("xes.version"))  # xs:decimal
    order = ["extension", "global", "classifier", "attribute", "trace", "event"]
    attribute_tags = {"string", "date", "int", "float", "boolean", "id", "list"}
    seen = []
    for child in root:
        name = etree.QName(child).localname
        kind = "attribute" if name in attribute_tags else name
        assert kind in order, name
        seen.append(order.index(kind))
    assert seen == sorted(seen), "log children out of the order extension, global, classifier, attributes, trace"
    prefixes = {e.get("prefix") for e in root.iter("extension")}
    assert {"concept", "lifecycle", "org", "time"} <= prefixes
    for ext in root.iter("extension"):
        assert ext.get("name") and ext.get("uri").startswith("http://www.xes-standard.org/")
    for el in root.iter():
        name = etree.QName(el).localname
        if name in attribute_tags:
            assert el.get("key") and el.get("value") is not None
            if name == "date":
                assert datetime.fromisoformat(el.get("value")).tzinfo is not None  # xs:dateTime with a zone
            elif name == "int":
                int(el.get("value"))
            elif name == "boolean":
                assert el.get("value") in ("true", "false")
    for classifier in root.iter("classifier"):
        assert " " not in classifier.get("name")  # xs:NCName
    event_globals = {a.get("key") for g in root.iter("global") if g.get("scope") == "event" for a in g}
    assert event_globals == {"concept:name", "lifecycle:transition", "org:resource", "time:timestamp"}
    for trace in root.iter("trace"):
        children = [etree.QName(c).localname for c in trace]
        first_event = children.index("event") if "event" in children else len(children)
        assert all(c in attribute_tags for c in children[:first_event])
        assert all(c == "event" for c in children[first_event:])
        for event in trace.iter("event"):
            keys = {a.get("key"): a.get("value") for a in event}
            assert event_globals <= set(keys)  # every event has the globally declared attributes
            assert keys["lifecycle:transition"] in STANDARD_TRANSITIONS
    return root


def read_with_pm4py(data: bytes, tmp_path, variant: str):
    import pm4py

    path = tmp_path / f"log-{variant}.xes"
    path.write_bytes(data)
    return pm4py.read_xes(str(path), variant=variant, show_progress_bar=False)


def test_xes_is_read_by_pm4py_with_the_right_traces_and_events(system, sc, tx, tmp_path):
    first_half = Period(date(2025, 5, 1), date(2025, 5, 30))  # cases started 6 and 30 May
    with tx() as s:
        data = events_xes(s, rulebook=system.rules, period=first_half, now=at(6, 2, 9))
        ids = s.execute(select(Instance.id).where(Instance.created_at >= first_half.starts_at,
                                                  Instance.created_at < first_half.ends_before)).scalars().all()
        n_events = xes_counts(s, ids)
    assert sorted(ids) == [sc.mei.instance_id, sc.akhir.instance_id]
    check_ieee_1849_structure(data)
    for variant in ("iterparse", "chunk_regex"):  # pm4py's XML parser and its default fast reader
        df = read_with_pm4py(data, tmp_path, variant)
        assert df["case:concept:name"].nunique() == 2, variant
        assert len(df) == n_events, variant
    # traces are whole cases: the case published on 31 May 23:59:59 ends with its upload
    akhir = df[df["case:concept:name"] == f"{sc.akhir.instance_id}: Rapat Koordinasi Humas"]
    assert list(akhir["concept:name"])[0] == "Kasus dimulai"
    assert list(akhir["concept:name"])[-1] == "Kasus selesai"
    assert list(akhir["org:resource"])[1] == "tim"
    assert str(akhir["time:timestamp"].iloc[-1]) == "2025-05-31 16:59:59+00:00"
    assert set(df["lifecycle:transition"]) <= STANDARD_TRANSITIONS


def test_xes_whole_log_discovers_the_sop_flow(system, sc, tx, tmp_path):
    import pm4py

    with tx() as s:
        data = events_xes(s, rulebook=system.rules, period=Period(date(2025, 5, 1), date(2025, 6, 30)))
        n_events = xes_counts(s, [sc.mei.instance_id, sc.akhir.instance_id, sc.batas.instance_id,
                                  sc.juni.instance_id])
    root = check_ieee_1849_structure(data)
    assert len(root.findall("trace")) == 4
    log = read_with_pm4py(data, tmp_path, "iterparse")
    assert log["case:concept:name"].nunique() == 4 and len(log) == n_events
    dfg, starts, ends = pm4py.discover_dfg(log)
    assert set(starts) == {"Kasus dimulai"} and set(ends) == {"Kasus selesai"}
    receive = "Menerima hasil dokumentasi kegiatan dan konten berita"
    submit = "Menyerahkan dokumentasi kegiatan beserta narasi dan konten lainnya"
    assert (submit, receive) in dfg and (receive, submit) in dfg  # the return to Tim Pelaksana in June's case
    late = log[log["concept:name"].str.startswith("Batas waktu terlewati")]
    assert len(late) >= 1 and set(late["org:resource"]) == {"system"}
    decisions = set(log["keputusan"].dropna())
    assert {"diterima", "dikembalikan", "lanjut", "setuju", "tolak"} <= decisions


def test_xes_of_one_case(system, sc, tx, tmp_path):
    with tx() as s:
        data = events_xes(s, rulebook=system.rules, instance_id=sc.juni.instance_id)
        n_events = xes_counts(s, [sc.juni.instance_id])
    root = check_ieee_1849_structure(data)
    (trace,) = root.findall("trace")
    attrs = {a.get("key"): a.get("value") for a in trace if etree.QName(a).localname != "event"}
    assert attrs["concept:name"] == f"{sc.juni.instance_id}: Sosialisasi di Pasar Raya"
    assert attrs["nomor_register"] == "004/REG-MEDSOS/VI/2025" and attrs["hasil"] == "ditolak"
    assert attrs["tim"] == "Divisi Humas"
    df = read_with_pm4py(data, tmp_path, "iterparse")
    assert len(df) == n_events


def test_xes_of_an_empty_period_is_still_a_log(system, sc, tx, tmp_path):
    with tx() as s:
        data = events_xes(s, rulebook=system.rules, period=Period.month(2025, 4))
    root = check_ieee_1849_structure(data)
    assert root.findall("trace") == []


def events_of(trace) -> list[dict]:
    return [{a.get("key"): a.get("value") for a in e} for e in trace.iter("event")]


def test_xes_each_step_is_a_start_complete_pair_and_the_case_start_is_complete(system, sc, tx):
    with tx() as s:
        root = check_ieee_1849_structure(events_xes(s, rulebook=system.rules,
                                                    period=Period(date(2025, 5, 1), date(2025, 6, 30))))
        completed = {(r.task_id, r.actor) for r in s.execute(select(EventRow).where(
            EventRow.type == "task_completed")).scalars()}
    log_keys = {a.get("key"): a.get("value") for a in root if etree.QName(a).localname == "string"}
    assert "start" in log_keys["keterangan"] and "siap" in log_keys["keterangan"]  # the log says what start is
    classifiers = {c.get("name"): c.get("keys") for c in root.iter("classifier")}
    assert classifiers == {"AktivitasDanTransisi": "concept:name lifecycle:transition"}
    seen = set()
    for trace in root.iter("trace"):
        events = events_of(trace)
        assert events[0]["concept:name"] == "Kasus dimulai" and events[0]["lifecycle:transition"] == "complete"
        assert events[-1]["concept:name"] == "Kasus selesai"
        by_task: dict[str, list[dict]] = {}
        for e in events:
            if "tugas" in e and not e["concept:name"].startswith("Batas waktu terlewati"):
                by_task.setdefault(e["tugas"], []).append(e)
        for task_id, task_events in by_task.items():
            assert [e["lifecycle:transition"] for e in task_events] == ["start", "complete"], task_id
            start, done = task_events
            assert start["concept:name"] == done["concept:name"] and start["langkah"] == done["langkah"]
            assert start["mulai_dari"] == "diambil"  # every step of the scenario was claimed first
            assert start["org:resource"] == done["org:resource"] and start["org:role"] == done["org:role"]
            assert int(start["seq"]) < int(done["seq"])
            assert datetime.fromisoformat(start["time:timestamp"]) <= datetime.fromisoformat(done["time:timestamp"])
            seen.add((task_id, done["org:resource"]))
        assert not [e for e in events if e["lifecycle:transition"] == "start" and "tugas" not in e
                    and e["concept:name"].startswith("Kasus")]
    assert seen == completed  # every completed task of the four cases, each once


@pytest.fixture
def delegated(system, sc, tx, clock):
    """A fifth case (3 June): step 1 held by tim, its creator, from 07:00 (claiming it again at 08:00 changes
    nothing), delegated to tim2 at 09:00, handed in by tim2 at
    10:00; step 2 completed at 14:00 by admin without ever being claimed (the engine allows it; the web asks
    for a claim first)."""
    clock.set(at(6, 3, 7))
    case = SopCase.open(system, tx, "Rapat Pleno Terbuka", "2025-06-03")
    clock.set(at(6, 3, 8))
    with tx() as s:
        system.tasks.claim(s, user(s, "tim"), case.task_id)
    clock.set(at(6, 3, 9))
    with tx() as s:
        system.tasks.delegate(s, user(s, "tim"), case.task_id, "tim2")
    clock.set(at(6, 3, 10))
    case.do("tim2", "submit", claim=False)
    clock.set(at(6, 3, 14))
    with tx() as s:
        system.tasks.engine.complete(s, case.task_id, FORMS["terima"], actor="admin")
    return case


def test_xes_delegation_is_a_reassign_to_the_new_holder(system, delegated, tx, tmp_path):
    with tx() as s:
        root = check_ieee_1849_structure(events_xes(s, rulebook=system.rules, instance_id=delegated.instance_id))
    events = events_of(root.find("trace"))
    step1 = [e for e in events if e["concept:name"] == STEP_1]
    assert [(e["lifecycle:transition"], e["org:resource"], e["time:timestamp"]) for e in step1] == [
        ("start", "tim", "2025-06-03T07:00:00.000+07:00"),  # taken when tim opened the case
        ("reassign", "tim2", "2025-06-03T09:00:00.000+07:00"),
        ("complete", "tim2", "2025-06-03T10:00:00.000+07:00")]
    assert step1[0]["mulai_dari"] == "diambil"
    assert step1[1]["dialihkan_oleh"] == "tim" and step1[1]["pemegang_sebelumnya"] == "tim"
    assert step1[1]["langkah"] == "1" and step1[1]["org:role"] == step1[2]["org:role"]
    # never claimed: step 2 starts when it became ready (step 1's completion), as its mulai_dari says
    step2 = [e for e in events if e["concept:name"] == STEP_2]
    assert [(e["lifecycle:transition"], e["org:resource"], e["time:timestamp"], e.get("mulai_dari"))
            for e in step2] == [("start", "admin", "2025-06-03T10:00:00.000+07:00", "siap"),
                                ("complete", "admin", "2025-06-03T14:00:00.000+07:00", None)]
    # step 3 is ready and nobody has taken it: not started, so no event yet
    assert all(e["lifecycle:transition"] != "start" or e["concept:name"] in (STEP_1, STEP_2) for e in events)


def test_xes_inductive_miner_on_complete_events_finds_exactly_the_steps(system, sc, delegated, tx, tmp_path):
    import pm4py

    with tx() as s:
        data = events_xes(s, rulebook=system.rules, period=Period(date(2025, 5, 1), date(2025, 6, 30)))
        completions = [json.loads(r.payload)["name"] for r in s.execute(
            select(EventRow).where(EventRow.type == "task_completed")).scalars()]
        decl = system.rules.of_instances(s, [delegated.instance_id])[delegated.instance_id]
    steps = {step.name for step in decl.numbered}
    assert len(steps) == 5 and set(completions) == steps
    log = read_with_pm4py(data, tmp_path, "iterparse")
    assert {"start", "reassign", "complete"} <= set(log["lifecycle:transition"])
    done = pm4py.filter_event_attribute_values(log, "lifecycle:transition", ["complete"], level="event")
    # a step occurs once per completion: neither its start nor a delegation is an occurrence
    counts = done[done["concept:name"].isin(steps)]["concept:name"].value_counts().to_dict()
    assert counts == {name: completions.count(name) for name in steps} and counts[STEP_1] == 6  # June's twice
    tree = pm4py.discover_process_tree_inductive(done)
    labels = {node.label for node in _tree_nodes(tree) if node.label is not None}
    assert labels == set(done["concept:name"])  # the model's activities are the completed ones, nothing else
    assert labels & steps == steps
    assert labels - steps == {"Kasus dimulai", "Kasus selesai", f"Batas waktu terlewati: {decl.numbered[-1].name}"}
    # the log's own classifier (activity and transition): a reassign is a class of its own, not the step's
    classes = log["concept:name"] + "+" + log["lifecycle:transition"]
    assert (classes == f"{STEP_1}+complete").sum() == 6 and (classes == f"{STEP_1}+reassign").sum() == 1
    assert (classes == f"{STEP_1}+start").sum() == 6


def _tree_nodes(node):
    yield node
    for child in node.children:
        yield from _tree_nodes(child)


@pytest.mark.skipif(not XES_XSD.exists(), reason="the IEEE 1849-2016 XSD is not in tests/data/xes/ (see README)")
def test_xes_validates_against_the_ieee_1849_schema(system, sc, delegated, tx):
    schema = etree.XMLSchema(etree.parse(str(XES_XSD)))
    with tx() as s:
        for kwargs in ({"period": Period(date(2025, 5, 1), date(2025, 6, 30))}, {"period": Period.month(2025, 4)},
                       {"instance_id": delegated.instance_id}):
            root = etree.fromstring(events_xes(s, rulebook=system.rules, now=at(6, 3, 15), **kwargs))
            assert etree.QName(root).namespace is None  # as written, validated against the schema as published
            assert schema.validate(root), schema.error_log


def test_xes_steps_the_engine_passed_and_steps_never_claimed(system, tx, clock):
    """A manual or untyped task the engine passes through is a start/complete pair at that moment; a user task
    completed without a claim starts when it became ready; a ready task nobody took has no event yet."""
    from tests.test_bpmn_support import xml_of

    engine = system.tasks.engine
    clock.set(at(7, 1, 8))
    with tx() as s:
        engine.deploy(s, xml_of("tugas_lewat"), actor="pemilik")
        case = engine.start(s, "uji_tugas_lewat", data={}, actor="tim").instance.id
    clock.set(at(7, 1, 11))
    with tx() as s:
        (task,) = s.execute(select(EventRow.task_id).where(EventRow.instance_id == case,
                                                           EventRow.type == "task_ready")).scalars()
        engine.complete(s, task, {"narasi": "Naskah"}, actor="tim")
    with tx() as s:
        root = check_ieee_1849_structure(events_xes(s, rulebook=system.rules, instance_id=case))
    events = [(e["concept:name"], e["lifecycle:transition"], e["org:resource"], e["time:timestamp"][11:16],
               e.get("mulai_dari")) for e in events_of(root.find("trace"))]
    assert events[0] == ("Kasus dimulai", "complete", "tim", "08:00", None)
    assert ("Siapkan berkas", "start", "system", "08:00", "siap") in events
    assert events.index(("Siapkan berkas", "start", "system", "08:00", "siap")) + 1 == events.index(
        ("Siapkan berkas", "complete", "system", "08:00", None))
    tulis = [e for e in events if e[0] not in ("Kasus dimulai", "Siapkan berkas", "Cetak poster")]
    assert [e[1:] for e in tulis[:2]] == [("start", "tim", "08:00", "siap"), ("complete", "tim", "11:00", None)]
    starts = [e for e in events if e[1] == "start"]
    completes = [e for e in events if e[1] == "complete" and e[0] != "Kasus dimulai"]
    assert [e[0] for e in starts] == [e[0] for e in completes]  # the next step (ready, untaken) has no start

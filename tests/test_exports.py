"""The event log as CSV (one row per event of the period or case) and as XES (IEEE 1849-2016), read back
with pm4py, a process-mining library, and checked against the standard's structure."""
from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal

import pytest
from lxml import etree
from sqlalchemy import func, select

from engine.models import EventRow, Instance
from process.exports import CSV_COLUMNS, XES_EVENT_TYPES, XES_NS, events_csv, events_xes
from process.records import Period
from tests.records_scenario import at, build

MAY = Period.month(2025, 5)

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
        json.loads(row["payload"])
        assert len(row["hash"]) == 64 and len(row["prev_hash"]) == 64
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
    return session.execute(select(func.count()).select_from(EventRow).where(
        EventRow.instance_id.in_(ids), EventRow.type.in_(tuple(XES_EVENT_TYPES)))).scalar_one()


def check_ieee_1849_structure(data: bytes) -> etree._Element:
    """The rules of the standard's XML schema, checked one by one (the XSD itself is not shipped offline)."""
    root = etree.fromstring(data)
    q = lambda name: f"{{{XES_NS}}}{name}"  # noqa: E731
    assert root.tag == q("log")
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
    prefixes = {e.get("prefix") for e in root.iter(q("extension"))}
    assert {"concept", "lifecycle", "org", "time"} <= prefixes
    for ext in root.iter(q("extension")):
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
    for classifier in root.iter(q("classifier")):
        assert " " not in classifier.get("name")  # xs:NCName
    event_globals = {a.get("key") for g in root.iter(q("global")) if g.get("scope") == "event" for a in g}
    assert event_globals == {"concept:name", "lifecycle:transition", "org:resource", "time:timestamp"}
    for trace in root.iter(q("trace")):
        children = [etree.QName(c).localname for c in trace]
        first_event = children.index("event") if "event" in children else len(children)
        assert all(c in attribute_tags for c in children[:first_event])
        assert all(c == "event" for c in children[first_event:])
        for event in trace.iter(q("event")):
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
    assert len(root.findall(f"{{{XES_NS}}}trace")) == 4
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
    (trace,) = root.findall(f"{{{XES_NS}}}trace")
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
    assert root.findall(f"{{{XES_NS}}}trace") == []

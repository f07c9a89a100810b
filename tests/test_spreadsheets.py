"""Every CSV and XLSX the application writes goes through one guard (process/spreadsheets.py): text that a
spreadsheet would run as a formula stays text. Hostile values are generated into every text field of every
record behind every export, and the SOP walked with hostile names through the services and downloaded from the
report pages; no cell of any file may start a formula, and nothing else in the code base may write CSV or XLSX."""
from __future__ import annotations

import csv
import io
import itertools
import re
from dataclasses import fields, is_dataclass, replace
from datetime import date, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from engine import eventlog
from process.deadlines import WIB
from process.documents import recap_document, responses_document, to_csv, to_xlsx
from process.exports import events_csv
from process.records import CaseResponses, Period, PlatformTotal, PostRow, Recap, RegisterRow, ResponseRow
from process.register import register_document
from process.spreadsheets import FORMULA_START, csv_cell
from tests.factories import FORMS, Case, bundled_rules, make_users

ROOT = Path(__file__).resolve().parents[1]
MAY = Period.month(2025, 5)
NOW = datetime(2025, 6, 2, 10, tzinfo=WIB)
AT = datetime(2025, 5, 6, 9, tzinfo=WIB)

#: (No NUL: a request carrying one is refused before anything is stored, and PostgreSQL text cannot hold it.)
HOSTILE = st.builds(lambda start, rest: start + rest.replace("\x00", ""), st.sampled_from(FORMULA_START),
                    st.text(max_size=20)) | st.sampled_from([
                        '=HYPERLINK("http://evil.example","klik")', "+62 751", "-2+3", "@SUM(A1:A9)",
                        "\t=1+1", "\r=1+1", "=cmd|' /C calc'!A0"])


def hostile(obj, values):
    """``obj`` with every text in it (fields of dataclasses, items of lists and tuples) replaced by the next value."""
    if isinstance(obj, str):
        return next(values)
    if is_dataclass(obj) and not isinstance(obj, type):
        return replace(obj, **{f.name: hostile(getattr(obj, f.name), values) for f in fields(obj)
                               if f.name not in ("period", "basis")})  # what the record is, not text in it
    if isinstance(obj, list):
        return [hostile(v, values) for v in obj]
    if isinstance(obj, tuple):
        return tuple(hostile(v, values) for v in obj)
    return obj


def records() -> tuple[list[RegisterRow], list[CaseResponses], Recap]:
    register = [RegisterRow(number="001/REG-MEDSOS/V/2025", seq=1, year=2025, registered_at=AT, instance_id=1,
                            activity="Sosialisasi", activity_date=date(2025, 5, 6), place="Padang",
                            team_code="humas", team_name="Divisi Humas", submitted_by="tim",
                            submitted_by_name="Tim Humas", submissions=1, photos=4, other_files=1,
                            outcome="berjalan", current_steps=("Menerima hasil dokumentasi", "Unggah"))]
    responses = [CaseResponses(instance_id=1, number="001/REG-MEDSOS/V/2025", registered_at=AT,
                               activity="Sosialisasi", activity_date=date(2025, 5, 6), team_name="Divisi Humas",
                               outcome="berjalan", responses=[
                                   ResponseRow(step=2, step_name="Menerima", bpmn_id="Task_Terima",
                                               decision="diterima", text="Lengkap.", actor="admin",
                                               name="Admin Medsos", lane="Admin Medsos", at=AT, late=False)])]
    recap = Recap(period=MAY, posts=[PostRow(instance_id=1, number="001/REG-MEDSOS/V/2025", activity="Sosialisasi",
                                             activity_date=date(2025, 5, 6), platform="Instagram",
                                             url="https://www.instagram.com/p/abc/", posted_at=AT, recorded_at=AT,
                                             actor="admin", name="Admin Medsos", due_at=AT, on_time=True)],
                  totals=[PlatformTotal(platform="Instagram", posts=1, on_time=1, late=0)], cases=1)
    return register, responses, recap


def cells_of_csv(data: bytes | str) -> list[list[str]]:
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    return list(csv.reader(io.StringIO(text)))


def assert_csv_safe(data) -> int:
    rows = cells_of_csv(data)
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(FORMULA_START), (cell, row)
    return sum(len(r) for r in rows[1:])


def assert_xlsx_safe(data: bytes) -> int:
    checked = 0
    for ws in load_workbook(io.BytesIO(data)).worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str) and cell.value.startswith(FORMULA_START):
                    assert cell.quotePrefix, (ws.title, cell.coordinate, cell.value)
                    checked += 1
    return checked


@settings(max_examples=40, deadline=None)
@given(st.lists(HOSTILE, min_size=1, max_size=10))
def test_hostile_text_in_every_field_of_every_record_stays_text(values):
    register, responses, recap = records()
    pool = itertools.cycle(values)
    sop = bundled_rules()
    documents = [register_document(hostile(register, pool), MAY, NOW, sop),
                 responses_document(hostile(responses, pool), NOW, period=MAY, procedure=sop),
                 recap_document(hostile(recap, pool), NOW, sop)]
    for doc in documents:
        assert assert_csv_safe(to_csv(doc)) > 0
        assert assert_xlsx_safe(to_xlsx(doc)) > 0, doc.key  # hostile text was there, and quoted


def test_numbers_stay_numbers_and_text_keeps_its_content():
    assert csv_cell(-5) == -5 and csv_cell(2.5) == 2.5 and csv_cell(True) is True
    assert csv_cell("-5") == "'-5" and csv_cell("=1+1") == "'=1+1" and csv_cell("Padang") == "Padang"
    register, _responses, _recap = records()
    doc = register_document([replace(register[0], team_name="=HYPERLINK(\"x\")")], MAY, NOW, bundled_rules())
    row = cells_of_csv(to_csv(doc))[1]
    assert row[0] == "1" and "'=HYPERLINK(\"x\")" in row  # the number column is a plain number
    ws = load_workbook(io.BytesIO(to_xlsx(doc))).active
    values = [c.value for c in ws[8]]
    assert 1 in values and '=HYPERLINK("x")' in values  # shown unchanged, stored as quoted text


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(HOSTILE, min_size=3, max_size=3))
def test_the_event_log_csv_never_starts_a_formula(system, tx, values):
    actor, name, step = values
    step = step[:36]  # a task id is at most 36 characters (event.task_id; PostgreSQL refuses a longer one)
    with tx() as s:
        eventlog.append(s, type="team_created", at=AT, actor=actor, data={"code": "x", "name": name})
        eventlog.append(s, type="task_completed", at=AT, actor=actor, instance_id=1, task_id=step,
                        data={"name": step})
    with system.sessions() as s:
        assert assert_csv_safe(events_csv(s)) > 0


def test_hostile_names_through_the_services_and_every_download(system, tx, login):
    """The SOP walked by people and teams whose names a spreadsheet would run; every report downloaded."""
    make_users(system, tx)
    with tx() as s:
        system.people.add_team(s, "jahat", '=HYPERLINK("http://evil.example","Divisi")', actor="test")
        system.people.add_user(s, "tim.jahat", "rahasia-tim.jahat", ["tim_pelaksana"], team_code="jahat",
                             full_name="@SUM(1+1) Budi")
        system.people.add_user(s, "root", "rahasia-root", ["auditor"], full_name="-2+3 Auditor")
    case = Case.start(system, tx, who="tim.jahat", nama="=1+2 Rapat")
    case.do("tim.jahat", "submit")
    case.do("admin", {**FORMS["terima"], "tanggapan_admin": "=cmd|' /C calc'!A0 lengkap"})
    case.do("wapimred", {**FORMS["koreksi"], "tanggapan_wapimred": "+62 751 sudah dikoreksi"})
    case.do("pimred", {**FORMS["setuju"], "pertimbangan": "-1 Layak"})
    case.do("admin", "unggah")
    auditor = login("root")
    found = 0
    for path in ("/laporan/register", "/laporan/tanggapan", "/laporan/rekap"):
        for fmt in ("csv", "xlsx"):
            resp = auditor.get(path, query_string={"periode": "bulan-ini", "format": fmt})
            assert resp.status_code == 200, (path, fmt)
            data = resp.get_data()
            found += assert_xlsx_safe(data) if fmt == "xlsx" else assert_csv_safe(data)
    log = auditor.get("/laporan/log.csv", query_string={"periode": "bulan-ini"})
    assert log.status_code == 200
    assert_csv_safe(log.get_data())
    assert "'=HYPERLINK" in log.get_data(as_text=True)  # the team's name, in the step column of team_created
    assert found >= 3  # the team name, the people's names and the responses were there, quoted


def test_nothing_else_writes_csv_or_xlsx():
    """One guard: the csv writer and openpyxl cell values are used in process/spreadsheets.py only."""
    offenders = []
    for folder in ("engine", "process", "webui"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.name == "spreadsheets.py":
                continue
            text = path.read_text(encoding="utf-8")
            for pattern in (r"csv\.(writer|DictWriter)\(", r"\.cell\([^)]*value\s*=", r"\bcell\.value\s*=(?!=)",
                            r"\b(ws|sheet|worksheet)\.append\(", r"\b(ws|sheet|worksheet)\[[^\]]+\]\s*=(?!=)"):
                for m in re.finditer(pattern, text):
                    line = text.count("\n", 0, m.start()) + 1
                    offenders.append(f"{path.relative_to(ROOT)}:{line}: {m.group(0)}")
    assert not offenders, "write spreadsheets through process/spreadsheets.py:\n" + "\n".join(offenders)


def test_a_style_made_after_another_was_freed_keeps_its_own_look():
    """Styles are looked up by identity: one made after an earlier one was let go (and its id() reused) must not
    take the earlier one's look."""
    import gc

    from openpyxl import Workbook
    from openpyxl.styles import Font

    from process.spreadsheets import SheetRows

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("S")
    rows = SheetRows(ws)
    for n in range(200):  # transient styles, each freed after its row
        rows.append([(f"x{n}", rows.style(font=Font(italic=True)), None, None)])
        gc.collect()
    rows.append([("kop", rows.style(font=Font(bold=True)), None, None)])
    out = io.BytesIO()
    wb.save(out)
    sheet = load_workbook(io.BytesIO(out.getvalue()))["S"]
    assert sheet["A201"].font.bold and not sheet["A201"].font.italic
    assert all(sheet[f"A{n}"].font.italic for n in range(1, 201))

"""Issue 17: one definition of "on time" per record, stated on it; the period's basis explained and chosen;
register rows with the step-1 deadline, the hand-in time and a late flag."""
from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook

from process.documents import recap_document, responses_document, to_pdf, to_xlsx
from process.records import Period, recap, register_rows, written_responses
from process.register import register_document
from tests.factories import make_users
from tests.records_scenario import SopCase, at, build
from tests.test_documents import pdf_pages

MAY = Period.month(2025, 5)
JUNE = Period.month(2025, 6)
NOVEMBER, DECEMBER = Period.month(2025, 11), Period.month(2025, 12)


@pytest.fixture
def sc(system, tx, clock):
    return build(system, tx, clock)


def _late_hand_in(system, tx, clock) -> SopCase:
    """An activity of 15 October handed in on 2 December (step 1 is due H+1: 16 October, 23:59:59 WIB)."""
    clock.set(at(10, 15, 8))
    case = SopCase.open(system, tx, "Rapat Pleno Terbuka", "2025-10-15")
    clock.set(at(12, 2, 10))
    case.do("tim", "submit")
    return case


# ------------------------------------------------------------------------------------------ register
def test_register_rows_carry_the_step_1_deadline_the_hand_in_and_a_late_flag(sc, system, tx, clock):
    late = _late_hand_in(system, tx, clock)
    with tx() as s:
        may = {r.instance_id: r for r in register_rows(s, MAY, system.rules)}
        (dec,) = register_rows(s, DECEMBER, system.rules)
    batas = may[sc.batas.instance_id]  # activity 30 May, handed in 31 May 23:59: on time, just
    assert batas.due_at == at(5, 31, 23, 59, 59) and batas.registered_at == at(5, 31, 23, 59)
    assert batas.late is False and batas.late_by is None
    assert dec.instance_id == late.instance_id and dec.registered_at == at(12, 2, 10)
    assert dec.due_at == at(10, 16, 23, 59, 59) and dec.late is True
    assert dec.late_by == at(12, 2, 10) - at(10, 16, 23, 59, 59)


def test_register_document_states_the_rule_and_prints_the_late_row(sc, system, tx, clock):
    _late_hand_in(system, tx, clock)
    with tx() as s:
        rows = register_rows(s, DECEMBER, system.rules)
        rules = system.rules.latest(s, "alur_pengunggahan")
    doc = register_document(rows, DECEMBER, at(12, 3, 9), rules)
    assert "menurut tanggal register" in doc.scope
    assert any(n.startswith("Tepat waktu: diserahkan paling lambat") and "1 terlambat" in n for n in doc.notes)
    ws = load_workbook(io.BytesIO(to_xlsx(doc)))["Register"]
    header = [c.value for c in ws[7]]
    row = {h: c for h, c in zip(header, ws[8], strict=False)}
    assert row["Terlambat"].value is True and row["Terlambat"].data_type == "b"
    assert row["Batas Serah (WIB)"].value.replace(tzinfo=None) == at(10, 16, 23, 59, 59).replace(tzinfo=None)
    assert isinstance(row["Lama Terlambat (jam:menit:detik)"].value, timedelta)
    text = " ".join(pdf_pages(to_pdf(doc)))
    assert "4 foto, 0 berkas lain — lengkap; tanpa Video" in text
    assert "TERLAMBAT 46 hari" in text and "batas 16-10-2025 23.59" in text and "02-12-2025 10.00" in text
    assert "005/REG-MEDSOS/XII/2025" in text  # the number on one line


# ------------------------------------------------------------------------------------------- recap
def _uploaded_in_november_recorded_in_december(system, tx, clock) -> SopCase:
    clock.set(at(11, 10, 8))
    case = SopCase.open(system, tx, "Sosialisasi Daftar Pemilih", "2025-11-10")
    for hour, who, form in ((9, "tim", "submit"), (10, "admin", "terima"), (11, "wapimred", "koreksi"),
                            (12, "pimred", "setuju")):
        clock.set(at(11, 10, hour))
        case.do(who, form)
    clock.set(at(12, 2, 9))  # recorded three weeks late, the posts went up on 11 and 12 November
    case.do("admin", {"publikasi": [
        {"platform": "Instagram", "url": "https://instagram.com/p/nov11", "waktu": "2025-11-11T20:00"},
        {"platform": "Facebook", "url": "https://facebook.com/kpusumbar/posts/nov12", "waktu": "2025-11-12T08:00"},
    ], "catatan_unggah": "Dicatat terlambat."})
    return case


def test_recap_by_upload_time_puts_posts_in_the_month_they_went_up(system, tx, clock):
    make_users(system, tx)
    case = _uploaded_in_november_recorded_in_december(system, tx, clock)
    platforms = system.settings.platforms
    with tx() as s:
        nov = recap(s, NOVEMBER, system.rules, platforms)  # the default: by upload time
        dec = recap(s, DECEMBER, system.rules, platforms)
        nov_done = recap(s, NOVEMBER, system.rules, platforms, basis="selesai")
        dec_done = recap(s, DECEMBER, system.rules, platforms, basis="selesai")
        with pytest.raises(ValueError):
            recap(s, DECEMBER, system.rules, platforms, basis="kapan-saja")
    assert {p.url for p in nov.posts} == {"https://instagram.com/p/nov11", "https://facebook.com/kpusumbar/posts/nov12"}
    assert dec.posts == [] and nov_done.posts == []
    assert len(dec_done.posts) == 2 and dec_done.basis == "selesai" and nov.cases == 1
    ig = next(p for p in nov.posts if p.platform == "Instagram")
    # One definition of on time: the upload time the admin gave against the step's deadline (H+1: 11 Nov) ...
    assert ig.on_time is True and ig.uploaded_at == at(11, 11, 20)
    # ... and since the recording is three weeks after it, both are shown.
    assert ig.apart and ig.recorded_at == at(12, 2, 9)
    assert case.instance_id == ig.instance_id


def test_recap_document_states_its_basis_and_shows_both_times(system, tx, clock):
    make_users(system, tx)
    _uploaded_in_november_recorded_in_december(system, tx, clock)
    with tx() as s:
        result = recap(s, NOVEMBER, system.rules, system.settings.platforms)
        rules = system.rules.latest(s, "alur_pengunggahan")
    doc = recap_document(result, at(12, 3, 9), rules)
    assert doc.scope == "Periode: November 2025 (menurut waktu unggah)"
    assert any(n.startswith("Periode menurut waktu unggah (yang diisi admin") for n in doc.notes)
    assert any(n.startswith("Tepat waktu: waktu unggah") for n in doc.notes)
    assert any("berbeda lebih dari satu hari" in n and "(2 unggahan)" in n for n in doc.notes)
    text = " ".join(pdf_pages(to_pdf(doc)))
    assert "(dicatat 02-12-2025 09.00)" in text
    ws = load_workbook(io.BytesIO(to_xlsx(doc)))["Rekapitulasi"]
    header = [c.value for c in ws[7]]
    recorded = header.index("Dicatat (WIB)")
    assert all(r[recorded] is not None for r in ws.iter_rows(min_row=8, values_only=True))


def test_recap_shows_one_time_when_they_agree(sc, system, tx):
    with tx() as s:
        may = recap(s, MAY, system.rules, system.settings.platforms)
    assert may.posts and not any(p.apart for p in may.posts)
    doc = recap_document(may, at(6, 2, 9))
    assert "(dicatat" not in " ".join(pdf_pages(to_pdf(doc)))


# --------------------------------------------------------------------------------------- responses
def test_responses_by_response_date_include_a_june_response_to_a_may_case(system, tx, clock):
    make_users(system, tx)
    clock.set(at(5, 30, 8))
    case = SopCase.open(system, tx, "Rapat Kerja", "2025-05-30")
    clock.set(at(5, 30, 9))
    case.do("tim", "submit")
    clock.set(at(6, 2, 10))  # received in June, late
    case.do("admin", "terima")
    with tx() as s:
        june_registered = written_responses(s, JUNE, rulebook=system.rules)
        june_written = written_responses(s, JUNE, rulebook=system.rules, basis="tanggapan")
        may_written = written_responses(s, MAY, rulebook=system.rules, basis="tanggapan")
        may_registered = written_responses(s, MAY, rulebook=system.rules)
    assert june_registered == [] and may_written == []
    (c,) = june_written
    assert c.instance_id == case.instance_id and c.number.endswith("/V/2025")
    assert [r.at for r in c.responses] == [at(6, 2, 10)] and c.responses[0].late is True
    assert [len(x.responses) for x in may_registered] == [1]
    doc = responses_document(june_written, at(6, 3, 9), period=JUNE, basis="tanggapan")
    assert doc.scope == "Periode: Juni 2025 (menurut tanggal tanggapan tertulis)"
    assert doc.file_stem == "tanggapan-2025-06-menurut-tanggapan"
    assert any("1 terlambat" in n for n in doc.notes)


# ------------------------------------------------------------------------------------------------- web
def test_pages_offer_the_basis_and_refuse_an_unknown_one(sc, login):
    c = login("auditor")
    for path, values in (("/laporan/tanggapan", ("register", "tanggapan")), ("/laporan/rekap", ("unggah", "selesai"))):
        page = c.get(path, query_string={"dari": "2025-05-01", "sampai": "2025-05-31"}).get_data(as_text=True)
        assert "Periode menurut" in page
        for value in values:
            assert f'name="menurut" value="{value}"' in page
        bad = c.get(path, query_string={"dari": "2025-05-01", "sampai": "2025-05-31", "menurut": "bulan"})
        assert bad.status_code == 422 and "Dasar periode tidak dikenal" in bad.get_data(as_text=True)
    page = c.get("/laporan/rekap", query_string={"dari": "2025-05-01", "sampai": "2025-05-31",
                                                 "menurut": "selesai"}).get_data(as_text=True)
    assert "format=pdf" in page and "menurut=selesai" in page  # downloads keep the basis
    reg = c.get("/laporan/register", query_string={"dari": "2025-05-01", "sampai": "2025-05-31"})
    assert "Batas serah" in reg.get_data(as_text=True)


def test_period_bases_cover_the_same_responses_over_a_year(sc, system, tx):
    """Whatever the basis, a whole year holds every response of the cases registered in it (none lost)."""
    year = Period(date(2025, 1, 1), date(2025, 12, 31))
    with tx() as s:
        by_case = written_responses(s, year, rulebook=system.rules)
        by_date = written_responses(s, year, rulebook=system.rules, basis="tanggapan")
    flat = lambda cases: sorted((c.instance_id, r.at) for c in cases for r in c.responses)  # noqa: E731
    assert flat(by_case) == flat(by_date) and flat(by_case)
    assert all(r.at.tzinfo is not None for c in by_case for r in c.responses)

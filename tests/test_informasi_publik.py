"""Acceptance: a second real procedure beside SOP 21/2025 — Layanan Permohonan Informasi Publik under UU 14/2008
(bpmn/informasi_publik.bpmn, docs/informasi-publik.md) — driven through the JSON API.

Three requests: (a) answered on time; (b) extended with a written notice and reason, then answered after the
17-working-day deadline (the late step is recorded, its lanes are told, compliance counts it late, the answer is still
taken); (c) refused with its legal reason, a keberatan recorded and answered by the Atasan PPID. The procedure has
its own register (own sequence and number format), its written answers, and both as XLSX and PDF. Nothing in the
application is written for this procedure: everything comes from the diagram's declarations."""
from __future__ import annotations

import io
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from engine.models import EventRow
from process.compliance import compliance
from process.deadlines import WIB, akhir_hari_kerja, is_working_day
from process.modeling import ensure_lane_groups
from process.models import Notification, User
from tests.factories import Case, bundled_rules, make_users
from tests.test_api import Api
from tests.test_documents import pdf_pages

KEY = "layanan_informasi_publik"
DIAGRAM = Path(__file__).resolve().parents[1] / "bpmn" / "informasi_publik.bpmn"
PERIOD = {"dari": "2025-05-01", "sampai": "2025-06-30", "prosedur": KEY}
#: Accounts of the procedure's lanes (groups from its diagram: alur:lane group).
STAFF = {"petugas": "petugas_informasi", "ppid": "ppid", "atasan": "atasan_ppid"}


@pytest.fixture
def api(system, tx, app):
    make_users(system, tx)  # the SOP's accounts (and "owner", "auditor"); deploys the bundled diagrams
    with tx() as s:
        groups = {g.code for g, _lane in ensure_lane_groups(s, system)}
        assert set(STAFF.values()) <= groups
        for name, group in STAFF.items():
            system.people.add_user(s, name, f"rahasia-{name}", groups=[group])
    return Api(app.test_client())


def open_request(api: Api, pemohon: str, informasi: str, received: str) -> tuple[int, str]:
    resp = api.post("petugas", "/cases", json={"procedure": KEY, "nama_pemohon": pemohon,
                                               "informasi_diminta": informasi, "tanggal_diterima": received})
    assert resp.status_code == 201, resp.json
    return resp.json["case_id"], resp.json["task_id"]


def register_request(api: Api, task_id: str, pemohon: str, informasi: str) -> dict:
    """Step 1: the officer records what Pasal 22 ayat (2) lists, and the registration number is given."""
    return api.act("petugas", task_id, {
        "nama_pemohon": pemohon, "alamat_pemohon": "Jalan Sudirman 1, Padang", "kontak_pemohon": "0812000000",
        "informasi_diminta": informasi, "rincian_informasi": f"Salinan {informasi.lower()} tahun 2024.",
        "tujuan_penggunaan": "Penelitian", "format_informasi": "salinan_softcopy", "cara_penyampaian": "surel"})


def case(api: Api, case_id: int, who: str = "auditor") -> dict:
    resp = api.get(who, f"/cases/{case_id}")
    assert resp.status_code == 200, resp.json
    return resp.json


def ready(api: Api, case_id: int) -> dict:
    (task,) = [t for t in case(api, case_id)["tasks"] if t["state"] == "ready"]
    return task


def test_information_requests_beside_the_sop(api, system, tx, clock, app, login):
    # The procedure is deployed beside SOP 21/2025, each with its own start form.
    # Shipped in bpmn/, it validates with no problem and no warning through the application's own validation
    # (its lanes have groups with members), and it was deployed as a procedure of its own beside the SOP.
    resp = api.post("owner", "/definitions/validate", data=DIAGRAM.read_bytes(), content_type="application/xml")
    assert resp.status_code == 200 and resp.json == {"process_key": KEY, "deployable": True, "warnings": []}
    listed = api.get("owner", f"/definitions?prosedur={KEY}").json["items"]
    assert [(d["process_key"], d["latest"]) for d in listed] == [(KEY, True)]
    assert api.get("owner", "/definitions").json["items"][0]["process_key"] == "alur_pengunggahan"
    sop = Case.start(system, tx)
    sop.do("tim", "submit")

    # Working days with the Indonesian calendar: 12 and 13 May 2025 (Waisak, cuti bersama) are not counted, so the
    # 10 working days from Tuesday 6 May end on 22 May (20 May without them).
    assert not is_working_day(date(2025, 5, 12)) and not is_working_day(date(2025, 5, 13))

    # (a) answered on time --------------------------------------------------------------------------------------
    a, first = open_request(api, "Rina Marlina", "Daftar pemilih tetap Kota Padang", "2025-05-06")
    assert case(api, a, "petugas")["procedure"] == KEY
    done = register_request(api, first, "Rina Marlina", "Daftar pemilih tetap Kota Padang")
    (step2,) = done["ready"]
    assert (step2["step_number"], step2["lane"]) == (2, "PPID")
    assert step2["due_at"] == "2025-05-22T23:59:59+07:00" == akhir_hari_kerja("2025-05-06", 10)
    assert case(api, a)["register_number"] == "001/PPID/V/2025"
    clock.advance(days=2)
    end = api.act("ppid", step2["id"], {"keputusan_ppid": "diberikan",
                                        "pemberitahuan": "Informasi diberikan dalam bentuk softcopy melalui surel."})
    assert end["status"] == "completed" and end["end_event"] == "EndEvent_Diberikan"

    # (b) extended with a written notice and reason, answered late ----------------------------------------------
    b, first = open_request(api, "Andi Saputra", "Anggaran sosialisasi pemilu", "2025-05-08")
    (step2,) = register_request(api, first, "Andi Saputra", "Anggaran sosialisasi pemilu")["ready"]
    refused = api.post("ppid", f"/tasks/{step2['id']}/complete", json={
        "keputusan_ppid": "diperpanjang", "pemberitahuan": "Waktu pemberitahuan diperpanjang.", "_claim": True})
    assert refused.status_code == 422  # an extension needs its written reason (Pasal 22 ayat (8))
    assert "alasan_perpanjangan" in str(refused.json)
    (step3,) = api.act("ppid", step2["id"], {
        "keputusan_ppid": "diperpanjang", "pemberitahuan": "Waktu pemberitahuan diperpanjang 7 hari kerja.",
        "alasan_perpanjangan": "Dokumen anggaran masih dihimpun dari tiga bagian."})["ready"]
    assert (step3["step_number"], step3["lane"]) == (3, "PPID")
    # 7 working days after the 10, i.e. 17 from receipt on Thursday 8 May: 12-13 May (Waisak, cuti bersama),
    # 29-30 May (Kenaikan Isa Almasih, cuti bersama), 6 and 9 June (Iduladha, cuti bersama) are skipped
    assert step3["due_at"] == "2025-06-10T23:59:59+07:00" == akhir_hari_kerja("2025-05-08", 17)
    # (c) refused with its legal reason, keberatan answered by the Atasan PPID ---------------------------------
    c, first = open_request(api, "Budi Hartono", "Data pribadi anggota PPK", "2025-05-08")
    (step2,) = register_request(api, first, "Budi Hartono", "Data pribadi anggota PPK")["ready"]
    refused = api.post("ppid", f"/tasks/{step2['id']}/complete", json={
        "keputusan_ppid": "ditolak", "pemberitahuan": "Permohonan ditolak.", "_claim": True})
    assert refused.status_code == 422  # a refusal states its legal reason (Pasal 22 ayat (7) huruf c, Pasal 17)
    (step4,) = api.act("ppid", step2["id"], {
        "keputusan_ppid": "ditolak", "pemberitahuan": "Permohonan ditolak: informasi dikecualikan.",
        "dasar_penolakan": "pasal17_h",
        "alasan_penolakan": "Data memuat rahasia pribadi anggota PPK; membukanya merugikan mereka."})["ready"]
    assert (step4["step_number"], step4["lane"], step4["due_at"]) == (4, "Petugas Layanan Informasi", None)
    clock.set(datetime(2025, 5, 14, 10, 0, tzinfo=WIB))
    (step5,) = api.act("petugas", step4["id"], {
        "keberatan": "diajukan", "tanggal_keberatan": "2025-05-14", "alasan_keberatan": "pasal35_a",
        "uraian_keberatan": "Pemohon menilai data anggota PPK adalah informasi publik."})["ready"]
    assert (step5["step_number"], step5["lane"]) == (5, "Atasan PPID")
    assert step5["due_at"] == "2025-07-02T23:59:59+07:00" == akhir_hari_kerja("2025-05-14", 30)
    end = api.act("atasan", step5["id"], {
        "keputusan_atasan": "ditolak",
        "tanggapan_atasan": "Keberatan ditolak: menguatkan putusan PPID karena data memuat rahasia pribadi."})
    assert end["end_event"] == "EndEvent_KeberatanDitolak"

    # (b) continued: the extended deadline passes before the answer ------------------------------------------
    clock.set(datetime(2025, 6, 11, 9, 0, tzinfo=WIB))  # the extended deadline has passed
    with tx() as s:
        assert system.timers.fire_due_timers(s)
    with tx() as s:
        overdue = [e for e in s.execute(select(EventRow).where(EventRow.instance_id == b,
                                                               EventRow.type == "overdue")).scalars()]
        told = {u for u, in s.execute(select(User.username).join(Notification, Notification.user_id == User.id)
                                       .where(Notification.instance_id == b, Notification.kind == "overdue"))}
    assert len(overdue) == 1
    # the step's lane and the Atasan PPID's lane (alur:lane hearsOverdue); not the SOP's Pimpinan Redaksi
    assert {"ppid", "atasan"} <= told and "pimred" not in told
    late = [t for t in api.get("atasan", "/tasks?scope=overdue").json["items"] if t["case_id"] == b]
    assert [(t["step_number"], t["overdue"], t["procedure"]) for t in late] == [(3, True, KEY)]
    # Each lane told of every late step hears of its own procedure's: the SOP's late step 2 is the Pimpinan
    # Redaksi's to see, not the Atasan PPID's, and the other way round.
    assert {t["procedure"] for t in api.get("atasan", "/tasks?scope=overdue").json["items"]} == {KEY}
    pimred_late = api.get("pimred", "/tasks?scope=overdue").json["items"]
    assert sop.instance_id in {t["case_id"] for t in pimred_late} and KEY not in {t["procedure"] for t in pimred_late}
    page = login("atasan").get("/kotak-tugas?tab=overdue").text
    assert "Anggaran sosialisasi pemilu" in page and "Sosialisasi Pemilih Pemula" not in page
    end = api.act("ppid", step3["id"], {"jawaban_ppid": "diberikan",
                                        "pemberitahuan_akhir": "Informasi anggaran diberikan melalui surel."})
    assert end["end_event"] == "EndEvent_Diberikan"  # the late answer is still taken

    # Register numbers: the procedure's own sequence and format, apart from the SOP's ------------------------
    numbers = {k: case(api, i)["register_number"] for k, i in (("a", a), ("b", b), ("c", c))}
    assert numbers == {"a": "001/PPID/V/2025", "b": "002/PPID/V/2025", "c": "003/PPID/V/2025"}
    assert case(api, sop.instance_id)["register_number"] == "001/REG-MEDSOS/V/2025"

    # Written answers per case, with their step, decision and lateness ----------------------------------------
    def answers(i):
        return [(r["bpmn_id"], r["lane"], r["decision"], r["text"]) for r in case(api, i)["responses"]]

    assert answers(a) == [
        ("Task_Jawab", "PPID", "diberikan", "Informasi diberikan dalam bentuk softcopy melalui surel.")]
    assert answers(b) == [
        ("Task_Jawab", "PPID", "diperpanjang", "Waktu pemberitahuan diperpanjang 7 hari kerja."),
        ("Task_JawabPerpanjangan", "PPID", "diberikan", "Informasi anggaran diberikan melalui surel.")]
    assert [(s, lane, d) for s, lane, d, _t in answers(c)] == [("Task_Jawab", "PPID", "ditolak"),
                                                               ("Task_TanggapiKeberatan", "Atasan PPID", "ditolak")]

    # Compliance: step 3 of (b) is late, the others on time ----------------------------------------------------
    with tx() as s:
        report = compliance(s, rulebook=system.rules, date_from=date(2025, 5, 1), date_to=date(2025, 7, 31),
                            now=clock.now())
    totals = {t.bpmn_id: t for t in report.totals}
    assert (totals["Task_JawabPerpanjangan"].count, totals["Task_JawabPerpanjangan"].late) == (1, 1)
    assert (totals["Task_Jawab"].count, totals["Task_Jawab"].late) == (3, 0)
    assert (totals["Task_TanggapiKeberatan"].count, totals["Task_TanggapiKeberatan"].late) == (1, 0)

    # The records of this procedure, as XLSX and PDF -------------------------------------------------------------
    auditor = login("auditor")
    index = auditor.get("/laporan", query_string=PERIOD).get_data(as_text=True)
    assert "Register Permohonan Informasi Publik" in index and "Rekapitulasi" not in index  # no post list: no recap
    assert auditor.get("/laporan/rekap", query_string=PERIOD).status_code == 404
    page = auditor.get("/laporan/register", query_string=PERIOD).get_data(as_text=True)
    assert "003/PPID/V/2025" in page and "REG-MEDSOS" not in page and "Rina Marlina" in page

    wb = load_workbook(io.BytesIO(auditor.get("/laporan/register", query_string={**PERIOD, "format": "xlsx"}).data))
    ws = wb["Register"]
    assert ws["A2"].value == "REGISTER PERMOHONAN INFORMASI PUBLIK"
    assert ws["A3"].value.startswith("Layanan Permohonan Informasi Publik — Undang-Undang Nomor 14 Tahun 2008")
    header = [c.value for c in ws[7]]
    assert header == ["No.", "Nomor Register", "Diserahkan (WIB)", "Informasi yang Diminta",
                      "Tanggal Permohonan Diterima", "Nama Pemohon", "Alamat Pemohon", "Format Informasi",
                      "Cara Penyampaian Informasi", "Dicatat oleh", "Kelengkapan", "Status"]
    rows = [r for r in ws.iter_rows(min_row=8, values_only=True)]
    assert [(r[1], r[5], r[7], r[11]) for r in rows] == [
        ("001/PPID/V/2025", "Rina Marlina", "Salinan softcopy", "Selesai: informasi diberikan"),
        ("002/PPID/V/2025", "Andi Saputra", "Salinan softcopy", "Selesai: informasi diberikan"),
        ("003/PPID/V/2025", "Budi Hartono", "Salinan softcopy", "Selesai: keberatan ditolak")]
    assert rows[0][4] == datetime(2025, 5, 6) and rows[0][9] == "petugas"

    wb = load_workbook(io.BytesIO(auditor.get("/laporan/tanggapan", query_string={**PERIOD, "format": "xlsx"}).data))
    ws = wb["Tanggapan Tertulis"]
    assert ws["A2"].value == "TANGGAPAN TERTULIS ATAS PERMOHONAN INFORMASI PUBLIK"
    header = [c.value for c in ws[7]]
    assert header[:6] == ["No.", "Nomor Register", "Informasi yang Diminta", "Langkah", "Keputusan",
                          "Tanggapan Tertulis"]
    rows = [r for r in ws.iter_rows(min_row=8, values_only=True)]
    step2 = "2. Memberikan pemberitahuan tertulis atas permohonan"
    step3 = "3. Memberikan jawaban dalam masa perpanjangan"
    step5, given = "5. Memberikan tanggapan tertulis atas keberatan", "Informasi diberikan (seluruhnya atau sebagian)"
    # "Terlambat" is a yes/no cell: a boolean, shown Ya/Tidak by its number format
    assert [(r[1], r[3], r[4], r[9]) for r in rows] == [
        ("001/PPID/V/2025", step2, given, False),
        ("002/PPID/V/2025", step2, "Waktu diperpanjang 7 hari kerja", False),
        ("002/PPID/V/2025", step3, given, True),  # answered after the extended deadline
        ("003/PPID/V/2025", step2, "Permohonan ditolak", False),
        ("003/PPID/V/2025", step5, "Keberatan ditolak: menguatkan putusan PPID", False)]
    assert rows[4][5].startswith("Keberatan ditolak: menguatkan putusan PPID karena")

    pdf = auditor.get("/laporan/register", query_string={**PERIOD, "format": "pdf"}).data
    assert pdf.startswith(b"%PDF-")
    text = " ".join(pdf_pages(pdf))
    for expected in ("REGISTER PERMOHONAN INFORMASI PUBLIK", "001/PPID/V/2025", "003/PPID/V/2025", "Budi Hartono",
                     "Undang-Undang Nomor 14 Tahun 2008 tentang Keterbukaan Informasi Publik",
                     "Petugas Layanan Informasi", "Pejabat Pengelola Informasi dan Dokumentasi"):
        assert expected in text, expected
    assert "REG-MEDSOS" not in text and "SOP Nomor 21" not in text and "Admin Media Sosial" not in text
    pdf = auditor.get("/laporan/tanggapan", query_string={**PERIOD, "format": "pdf"}).data
    text = " ".join(pdf_pages(pdf))
    for expected in ("TANGGAPAN TERTULIS ATAS PERMOHONAN INFORMASI PUBLIK", "Waktu pemberitahuan diperpanjang",
                     "Informasi anggaran diberikan melalui surel.", "Permohonan ditolak: informasi dikecualikan.",
                     "Keberatan ditolak: menguatkan putusan PPID"):
        assert expected in text, expected

    single = auditor.get("/laporan/tanggapan", query_string={"kasus": c}).get_data(as_text=True)
    assert "Tanggapan Tertulis atas Permohonan Informasi Publik" in single and "Keberatan ditolak" in single

    # The SOP's records are untouched by the other procedure.
    sop_page = auditor.get("/laporan/register", query_string={**PERIOD, "prosedur": "alur_pengunggahan"})
    assert "001/REG-MEDSOS/V/2025" in sop_page.get_data(as_text=True)
    assert "PPID/V/2025" not in sop_page.get_data(as_text=True)


def test_the_diagram_declares_the_law():
    """What the process owner reads in the diagram: lanes, steps, deadlines and outcomes as UU 14/2008 says."""
    rules = bundled_rules("informasi_publik.bpmn")
    assert rules.process_key == KEY and rules.name == "Layanan Permohonan Informasi Publik"
    assert [(s.number, s.short) for s in rules.numbered] == [
        (1, "Pendaftaran"), (2, "Pemberitahuan tertulis"), (3, "Jawaban perpanjangan"), (4, "Keberatan"),
        (5, "Tanggapan atasan")]
    assert {n: lane.group for n, lane in rules.lanes.items()} == {
        "Petugas Layanan Informasi": "petugas_informasi", "PPID": "ppid", "Atasan PPID": "atasan_ppid"}
    assert rules.overdue_lanes == {"Atasan PPID"} and rules.start_lane == "Petugas Layanan Informasi"
    assert rules.register_step.register_format == "{seq:03d}/PPID/{month_roman}/{year}"
    assert {o.code: o.success for o in rules.outcomes.values()} == {
        "informasi_diberikan": True, "ditolak": False, "keberatan_dikabulkan": True, "keberatan_ditolak": False}
    assert [s.number for s in rules.numbered if s.deadline_required] == [2, 3, 5]

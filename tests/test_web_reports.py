"""Report pages and downloads: who may see them, the period picker, each format's content type and file
name, the event-log exports, and the auditor refused on every write endpoint of the app."""
from __future__ import annotations

import csv
import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from engine.models import EventRow, Instance, TaskRow
from process.models import FileRecord, Notification, RegisterEntry, User
from tests.factories import FORMS, png, user
from tests.records_scenario import SopCase, at, build

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAY = {"dari": "2025-05-01", "sampai": "2025-05-31"}
JUNE = {"dari": "2025-06-01", "sampai": "2025-06-30"}
REPORT_PAGES = ("/laporan", "/laporan/register", "/laporan/tanggapan", "/laporan/rekap")


@pytest.fixture
def sc(system, tx, clock):
    scenario = build(system, tx, clock)
    with tx() as s:
        system.people.add_user(s, "root", "rahasia-root", ["admin"])
    return scenario


# ------------------------------------------------------------------------------------------- access
@pytest.mark.parametrize("who", ["auditor", "admin", "wapimred", "pimred", "root"])
def test_pages_render_for_the_allowed_roles(sc, login, who):
    c = login(who)
    for path in REPORT_PAGES:
        resp = c.get(path, query_string=MAY)
        assert resp.status_code == 200, (who, path)
    home = c.get("/laporan").get_data(as_text=True)
    assert 'href="/laporan"' in home  # the menu link


@pytest.mark.parametrize("who", ["tim", "owner"])
def test_other_roles_get_403(sc, login, who):
    c = login(who)
    for path in (*REPORT_PAGES, "/laporan/log.csv", "/laporan/log.xes"):
        assert c.get(path).status_code == 403, path
    assert c.get("/laporan/register", query_string={**MAY, "format": "pdf"}).status_code == 403
    assert 'href="/laporan"' not in c.get("/kasus").get_data(as_text=True)


def test_anonymous_users_are_sent_to_log_in(sc, client):
    resp = client.get("/laporan/register", query_string={"format": "xlsx"})
    assert resp.status_code == 302 and "/masuk" in resp.headers["Location"]


# -------------------------------------------------------------------------------------------- pages
def test_register_page_lists_the_period(sc, login):
    c = login("auditor")
    may = c.get("/laporan/register", query_string=MAY).get_data(as_text=True)
    assert all(n in may for n in ("001/REG-MEDSOS/V/2025", "002/REG-MEDSOS/V/2025", "003/REG-MEDSOS/V/2025"))
    assert "004/REG-MEDSOS/VI/2025" not in may
    assert "31 Mei 2025 23.59 WIB" in may
    june = c.get("/laporan/register", query_string=JUNE).get_data(as_text=True)
    assert "004/REG-MEDSOS/VI/2025" in june and "001/REG-MEDSOS/V/2025" not in june
    assert "diserahkan 2 kali" in june
    # download links keep the period (and the signers chosen)
    assert 'href="/laporan/register?format=xlsx&amp;dari=2025-06-01&amp;sampai=2025-06-30&amp;ttd1=' in june


def test_default_period_is_this_month_and_presets(sc, login, clock):
    c = login("auditor")
    clock.set(at(6, 2, 9))
    html = c.get("/laporan/register").get_data(as_text=True)
    assert "004/REG-MEDSOS/VI/2025" in html and "001/REG-MEDSOS/V/2025" not in html
    assert 'value="2025-06-01"' in html and 'value="2025-06-30"' in html
    last = c.get("/laporan/register", query_string={"periode": "bulan-lalu"}).get_data(as_text=True)
    assert "001/REG-MEDSOS/V/2025" in last and "004/REG-MEDSOS/VI/2025" not in last
    year = c.get("/laporan/register", query_string={"periode": "tahun-ini"}).get_data(as_text=True)
    assert "001/REG-MEDSOS/V/2025" in year and "004/REG-MEDSOS/VI/2025" in year
    assert "dari=2025-05-01&amp;sampai=2025-05-31" in html  # the "last month" preset link


def test_bad_periods_are_refused_with_a_message(sc, login):
    c = login("auditor")
    resp = c.get("/laporan/register", query_string={"dari": "31-05-2025"})
    assert resp.status_code == 422 and "TTTT-BB-HH" in resp.get_data(as_text=True)
    resp = c.get("/laporan/rekap", query_string={"dari": "2025-06-01", "sampai": "2025-05-01", "format": "pdf"})
    assert resp.status_code == 422 and "tidak boleh sebelum" in resp.get_data(as_text=True)
    index = c.get("/laporan", query_string={"dari": "kemarin"})
    assert index.status_code == 422 and "TTTT-BB-HH" in index.get_data(as_text=True)
    assert c.get("/laporan/register", query_string={**MAY, "format": "docx"}).status_code == 422


def test_responses_page_per_period_and_per_case(sc, login):
    c = login("wapimred")
    html = c.get("/laporan/tanggapan", query_string=JUNE).get_data(as_text=True)
    assert "004/REG-MEDSOS/VI/2025" in html and "Foto kurang jelas." in html and "Tolak" in html
    one = c.get("/laporan/tanggapan", query_string={"kasus": sc.mei.instance_id}).get_data(as_text=True)
    assert "001/REG-MEDSOS/V/2025" in one and "004/REG-MEDSOS/VI/2025" not in one
    assert "Layak diunggah." in one
    assert c.get("/laporan/tanggapan", query_string={"kasus": 99999}).status_code == 404
    for bad in ("satu", "2147483648", "99999999999999999999999"):  # one id rule (webui/ids.py): 422
        for path in ("/laporan/tanggapan", "/laporan/log.csv", "/laporan/log.xes"):
            assert c.get(path, query_string={"kasus": bad}).status_code == 422, (path, bad)
    pdf = c.get("/laporan/tanggapan", query_string={"kasus": sc.juni.instance_id, "format": "pdf"})
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert f'filename="tanggapan-kasus-{sc.juni.instance_id}.pdf"' in pdf.headers["Content-Disposition"]


def test_recap_page_marks_late_posts(sc, login):
    html = login("pimred").get("/laporan/rekap", query_string=JUNE).get_data(as_text=True)
    assert "https://www.instagram.com/p/abc123/" in html
    assert "Terlambat 1 detik" in html
    rows = re.findall(r'<tr class="overdue">', html)
    assert len(rows) == 1
    may = login("pimred").get("/laporan/rekap", query_string=MAY).get_data(as_text=True)
    assert "overdue" not in may.split("<h3>", 2)[2]  # both May posts on time


# ---------------------------------------------------------------------------------------- downloads
@pytest.mark.parametrize("report", ["register", "tanggapan", "rekap"])
@pytest.mark.parametrize("fmt,content_type", [("xlsx", XLSX), ("csv", "text/csv; charset=utf-8"),
                                              ("pdf", "application/pdf")])
def test_each_format_downloads(sc, login, report, fmt, content_type):
    resp = login("auditor").get(f"/laporan/{report}", query_string={**MAY, "format": fmt})
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == content_type
    assert resp.headers["Content-Disposition"] == f'attachment; filename="{report}-2025-05.{fmt}"'
    assert "no-store" in resp.headers["Cache-Control"]
    body = resp.get_data()
    if fmt == "pdf":
        assert body.startswith(b"%PDF-")
    elif fmt == "xlsx":
        wb = load_workbook(io.BytesIO(body))
        assert wb.active["A1"].value == "KOMISI PEMILIHAN UMUM PROVINSI SUMATERA BARAT"
    else:
        rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
        assert len(rows) >= 2


def test_file_names_follow_the_period(sc, login):
    c = login("auditor")
    year = c.get("/laporan/rekap", query_string={"dari": "2025-01-01", "sampai": "2025-12-31", "format": "csv"})
    assert 'filename="rekap-2025.csv"' in year.headers["Content-Disposition"]
    some = c.get("/laporan/register", query_string={"dari": "2025-05-20", "sampai": "2025-06-10", "format": "xlsx"})
    assert 'filename="register-2025-05-20_2025-06-10.xlsx"' in some.headers["Content-Disposition"]


def test_event_log_exports(sc, login, tx):
    c = login("auditor")
    resp = c.get("/laporan/log.csv", query_string=MAY)
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="log-2025-05.csv"' in resp.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    with tx() as s:
        in_may = s.execute(select(func.count()).select_from(EventRow).where(
            EventRow.at >= at(5, 1), EventRow.at < at(6, 1))).scalar_one()
    assert len(rows) == in_may
    one = c.get("/laporan/log.csv", query_string={"kasus": sc.juni.instance_id})
    assert {r["case_id"] for r in csv.DictReader(io.StringIO(one.get_data(as_text=True)))} == {
        str(sc.juni.instance_id)}
    assert f'filename="log-kasus-{sc.juni.instance_id}.csv"' in one.headers["Content-Disposition"]
    xes = c.get("/laporan/log.xes", query_string=MAY)
    assert xes.status_code == 200 and xes.headers["Content-Type"].startswith("application/xml")
    assert 'filename="log-2025-05.xes"' in xes.headers["Content-Disposition"]
    assert xes.get_data().count(b"<trace>") == 4  # all four cases started in May
    assert c.get("/laporan/log.xes", query_string={"kasus": 424242}).status_code == 404


# ----------------------------------------------------------------------------- auditor is read-only
#: POST endpoints that change nothing of the records, with why the auditor may use them.
NOT_WRITES = {
    "auth.login": "logging in",
    "auth.logout": "logging out of one's own session",
    "api.token": "getting a token for the (read-only for auditors) API",
    "inbox.mark_read": "marking one's own notifications as read",
    "exports.create": "asking for a large record download (a job of one's own: the records are the auditor's to read)",
    "saved_filters.save": "saving one's own filter of a list the auditor reads",
    "saved_filters.delete": "deleting one's own saved filter",
    "api.create_saved_filter": "saving one's own filter of a list the auditor reads",
    "api.delete_saved_filter": "deleting one's own saved filter",
}
#: Blueprints of the auditor's own tools (replay, verification of the hash chain): read-only by design and
#: tested with their feature, so not part of this sweep.
AUDITOR_TOOLS = {"audit"}


def _fill(rule, values: dict) -> str:
    path = rule.rule
    for arg in rule.arguments:
        path = re.sub(r"<(?:[^:<>]+:)?" + arg + ">", str(values[arg]), path)
    return path


def _counts(tx) -> tuple:
    with tx() as s:
        return tuple(s.execute(select(func.count()).select_from(model)).scalar_one()
                     for model in (EventRow, Instance, TaskRow, FileRecord, RegisterEntry, User, Notification))


def test_auditor_is_refused_on_every_write_endpoint(app, system, tx, clock, login, client):
    sc = build(system, tx, clock)
    running = SopCase.open(system, tx, "Rapat Evaluasi", "2025-06-02")
    running.do("tim", "submit")  # now at step 2, ready in Admin Medsos' lane
    with tx() as s:
        values = {"task_id": running.task_id, "instance_id": running.instance_id, "case_id": running.instance_id,
                  "user_id": user(s, "tim").id, "number": 1, "version": 1, "outbox_id": 1, "group_id": 1,
                  "upload_id": "00000000-0000-4000-8000-000000000000", "filter_id": 1}
    auditor = login("auditor")
    token = client.post("/api/v1/auth/token", json={"username": "auditor", "password": "rahasia-auditor"}
                        ).get_json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    # Plausible bodies, so that only the role can be the reason for a refusal.
    forms = {"tasks.complete": FORMS["terima"], "api.complete_task": FORMS["terima"],
             "tasks.delegate": {"kepada": "admin"}, "api.delegate_task": {"to": "admin"},
             "cases.new": {"nama_kegiatan": "X", "tanggal_kegiatan": "2025-06-02", "tempat_kegiatan": "Padang",
                           "tim": "humas"},
             "api.create_case": {"nama_kegiatan": "X", "tanggal_kegiatan": "2025-06-02", "tempat_kegiatan": "Padang"},
             "admin.users": {"username": "baru", "roles": ["admin"], "password": "rahasia-baru"},
             "admin.reset_password": {"password": "rahasia-baru-sekali"},
             "admin.set_status": {"active": "0"}, "admin.teams": {"code": "baru", "name": "Tim Baru"}}
    before = _counts(tx)
    checked = []
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods or rule.endpoint in NOT_WRITES or \
                rule.endpoint.partition(".")[0] in AUDITOR_TOOLS:
            continue
        path = _fill(rule, values)
        body = forms.get(rule.endpoint, {})
        if rule.rule.startswith("/api/"):
            if rule.endpoint == "api.upload_file":
                resp = client.post(path, headers=bearer, data={"file": (io.BytesIO(png()), "foto.png")})
            else:
                resp = client.post(path, headers=bearer, json=body)
        elif rule.endpoint == "files.upload":
            resp = auditor.post(path, data={"file": (io.BytesIO(png()), "foto.png")})
        else:
            resp = auditor.post(path, data=body)
        assert resp.status_code in (403, 404, 405), (rule.endpoint, path, resp.status_code, resp.get_data()[:300])
        checked.append(rule.endpoint)
    assert _counts(tx) == before, "a refused request changed the database"
    for must in ("tasks.complete", "tasks.claim", "api.complete_task", "api.claim_task", "cases.new",
                 "api.create_case", "admin.users", "files.upload", "api.upload_file"):
        assert must in checked
    assert len(checked) >= 15
    assert sc.juni.instance_id  # the scenario's cases were there to be written to


def test_report_views_only_read(sc, login, tx):
    before = _counts(tx)
    c = login("auditor")
    after_login = _counts(tx)
    for path in REPORT_PAGES:
        c.get(path, query_string=MAY)
    for report in ("register", "tanggapan", "rekap"):
        for fmt in ("xlsx", "csv", "pdf"):
            c.get(f"/laporan/{report}", query_string={**MAY, "format": fmt})
    c.get("/laporan/log.csv")
    c.get("/laporan/log.xes")
    assert _counts(tx) == after_login
    assert after_login[1:] == before[1:]
    assert all(r.status_code == 405 for r in (c.post("/laporan"), c.post("/laporan/register")))


def test_pages_in_english_documents_stay_indonesian(sc, english_app):
    c = english_app.test_client()
    assert c.post("/masuk", data={"username": "auditor", "password": "rahasia-auditor"}).status_code == 302
    c.get("/bahasa/en")
    html = c.get("/laporan", query_string=MAY).get_data(as_text=True)
    assert ">Reports</a>" in html and "Download:" in html and "One numbered entry per case" in html
    assert "Register Dokumentasi dan Konten" in html  # the record's title is the diagram's, as the step names are
    rekap = c.get("/laporan/rekap", query_string=JUNE).get_data(as_text=True)
    assert "Totals per platform" in rekap and "1 second late" in rekap
    # the records themselves are official documents of the Secretariat: Bahasa Indonesia
    body = c.get("/laporan/rekap", query_string={**JUNE, "format": "csv"}).get_data().decode("utf-8-sig")
    assert body.startswith("No.,Platform,Nomor Register,Nama Kegiatan")

"""Inbox tabs, notifications, new case, the case list, the case page and its diagram state."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from engine.models import Instance, TaskRow
from process import paging
from process.casefile import case_diagram, case_list, case_outcome, display_names
from process.deadlines import WIB
from process.inbox import inbox, inbox_counts
from process.models import Notification
from tests.factories import USERS, Case, make_users, user


@pytest.fixture
def users(system, tx):
    make_users(system, tx)


def instances(tx) -> int:
    with tx() as s:
        return s.execute(select(func.count()).select_from(Instance)).scalar_one()


def rows_of(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in html else ""
    return re.findall(r"<tr[^>]*>.*?</tr>", body, flags=re.S)


def past_deadline(system, tx, clock, hours=5):
    """Move the clock past step 1's deadline (end of the activity day + 1) and fire the timers."""
    clock.set(datetime(2025, 5, 7, 23, 59, 59, tzinfo=WIB) + timedelta(hours=hours))
    with tx() as s:
        system.timers.fire_due_timers(s)


# ------------------------------------------------------------------------------------------- inbox
def test_tabs_for_tim_lane_then_mine(system, tx, users, login):
    case = Case.start(system, tx, nama="Sosialisasi Pemilih Pemula")
    with tx() as s:
        system.tasks.unclaim(s, user(s, "tim"), case.task_id)  # its creator lets it go to the team
    tim = login("tim")
    page = tim.get("/kotak-tugas").get_data(as_text=True)
    # Nothing held: the team tab is the default and shows the free step 1.
    assert 'aria-current="page">\n      Tugas tim (1)' in page
    assert "Tugas saya (0)" in page and "Terlambat (0)" in page
    [row] = rows_of(page)
    assert "Sosialisasi Pemilih Pemula" in row and "Menyerahkan dokumentasi" in row
    assert f"/kasus/{case.instance_id}" in row
    assert "Kamis, 08 Mei 2025 23.59 WIB" not in row  # due is the end of H+1 …
    assert "Rabu, 07 Mei 2025 23.59 WIB" in row and "1 hari lagi" in row
    assert 'class="tag tag-ok"' in row and "—" in row  # … nobody holds it
    assert 'class="responsive inbox"' in page and 'data-label="Batas waktu"' in row

    with tx() as s:
        system.tasks.claim(s, user(s, "tim"), case.task_id)
        user(s, "tim").full_name = "Rina Pelaksana"
    page = tim.get("/kotak-tugas").get_data(as_text=True)
    assert 'aria-current="page">\n      Tugas saya (1)' in page
    [row] = rows_of(page)
    assert "Anda" in row
    assert rows_of(tim.get("/kotak-tugas?tab=lane").get_data(as_text=True)) == []

    # The rest of the team still sees it in its tab, with who holds it, and opens it read-only.
    tim2 = login("tim2")
    assert rows_of(tim2.get("/kotak-tugas?tab=mine").get_data(as_text=True)) == []
    page = tim2.get("/kotak-tugas").get_data(as_text=True)
    assert 'aria-current="page">\n      Tugas tim (1)' in page
    [row] = rows_of(page)
    assert "Rina Pelaksana" in row and "Menyerahkan dokumentasi" in row
    task_page = tim2.get(f"/tugas/{case.task_id}").get_data(as_text=True)
    assert "sedang dikerjakan oleh Rina Pelaksana" in task_page and 'id="task-form"' not in task_page
    # tim_lain is in another team: the step is not theirs.
    other = login("tim_lain")
    for tab in ("mine", "lane", "overdue"):
        assert rows_of(other.get(f"/kotak-tugas?tab={tab}").get_data(as_text=True)) == []


def test_admin_lane_after_submission_and_holder_shown(system, tx, users, login):
    case = Case.start(system, tx)
    case.do("tim", "submit")
    admin = login("admin")
    page = admin.get("/kotak-tugas").get_data(as_text=True)
    [row] = rows_of(page)
    assert "Menerima hasil dokumentasi" in row and "Admin Medsos" in row
    with tx() as s:
        system.tasks.claim(s, user(s, "admin"), case.task_id)
    [row] = rows_of(admin.get("/kotak-tugas").get_data(as_text=True))
    assert "Anda" in row
    # The Pimred sees another lane's step only once it is overdue.
    pimred = login("pimred")
    assert rows_of(pimred.get("/kotak-tugas?tab=overdue").get_data(as_text=True)) == []


def test_overdue_tab_marks_rows_and_escalates_to_pimred(system, tx, clock, users, login):
    case = Case.start(system, tx)
    with tx() as s:
        system.tasks.claim(s, user(s, "tim"), case.task_id)
        user(s, "tim").full_name = "Rina Pelaksana"
    past_deadline(system, tx, clock, hours=5)

    tim = login("tim")
    page = tim.get("/kotak-tugas?tab=overdue").get_data(as_text=True)
    assert "Terlambat (1)" in page
    [row] = rows_of(page)
    assert row.startswith('<tr class="overdue">')
    assert 'class="tag tag-late"' in row and "Terlambat" in row and "⚠" in row
    assert "terlambat 5 jam" in row

    pimred = login("pimred")
    [row] = rows_of(pimred.get("/kotak-tugas?tab=overdue").get_data(as_text=True))
    assert "Rina Pelaksana" in row  # who holds it, by display name
    admin = login("admin")
    assert rows_of(admin.get("/kotak-tugas?tab=overdue").get_data(as_text=True)) == []
    wapimred = login("wapimred")
    assert rows_of(wapimred.get("/kotak-tugas?tab=overdue").get_data(as_text=True)) == []


def test_due_soon_is_a_warning(system, tx, clock, users, login):
    Case.start(system, tx)
    clock.set(datetime(2025, 5, 7, 20, 0, tzinfo=WIB))
    [row] = rows_of(login("tim2").get("/kotak-tugas?tab=lane").get_data(as_text=True))  # held by tim, seen by tim2
    assert 'class="tag tag-warn"' in row and "Hampir habis" in row and "3 jam lagi" in row
    assert 'class="overdue"' not in row


def test_filter_by_name_and_dates(system, tx, users, login):
    Case.start(system, tx, nama="Sosialisasi Pemilih Pemula", tanggal="2025-05-06")
    Case.start(system, tx, nama="Rapat Pleno Rekapitulasi", tanggal="2025-05-01")
    tim = login("tim2")
    assert len(rows_of(tim.get("/kotak-tugas?tab=lane").get_data(as_text=True))) == 2
    page = tim.get("/kotak-tugas?tab=lane&q=pleno").get_data(as_text=True)
    [row] = rows_of(page)
    assert "Rapat Pleno" in row and "Tugas tim (1)" in page
    [row] = rows_of(tim.get("/kotak-tugas?tab=lane&dari=2025-05-05").get_data(as_text=True))
    assert "Sosialisasi" in row
    [row] = rows_of(tim.get("/kotak-tugas?tab=lane&dari=2025-04-30&sampai=2025-05-02").get_data(as_text=True))
    assert "Rapat Pleno" in row
    page = tim.get("/kotak-tugas?tab=lane&q=tidak-ada").get_data(as_text=True)
    assert rows_of(page) == [] and "Tidak ada tugas yang cocok" in page
    # Sorted by due, earliest first: the earlier activity's step 1 is due first.
    rows = rows_of(tim.get("/kotak-tugas?tab=lane").get_data(as_text=True))
    assert "Rapat Pleno" in rows[0] and "Sosialisasi" in rows[1]


def test_bad_dates_are_a_message_not_a_500(system, tx, users, login):
    Case.start(system, tx)
    tim = login("tim2")
    resp = tim.get("/kotak-tugas?tab=lane&dari=2025-13-45&sampai=kemarin")
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert 'role="alert"' in page and "Tanggal awal tidak dapat dibaca" in page
    assert "Tanggal akhir tidak dapat dibaca" in page
    assert len(rows_of(page)) == 1  # the bad filter is ignored
    resp = tim.get("/kotak-tugas?tab=lane&dari=2025-06-01&sampai=2025-05-01")
    assert resp.status_code == 200 and "ditukar" in resp.get_data(as_text=True)
    assert tim.get("/kotak-tugas?tab=entah").status_code == 200


def test_short_urls_redirect_to_tabs(users, login):
    tim = login("tim")
    assert tim.get("/tugas-saya").headers["Location"].endswith("/kotak-tugas?tab=mine")
    assert tim.get("/tugas-tim").headers["Location"].endswith("/kotak-tugas?tab=lane")
    assert tim.get("/terlambat").headers["Location"].endswith("/kotak-tugas?tab=overdue")


def test_roles_without_a_lane_get_an_explanation(users, login):
    for name, link in (("owner", "Pantau kasus yang sedang berjalan"), ("auditor", "Lihat daftar kasus")):
        page = login(name).get("/kotak-tugas").get_data(as_text=True)
        assert "tidak mengerjakan langkah SOP" in page, name
        assert f'<a href="/kasus">{link}</a>' in page and "<tbody>" not in page


def test_inbox_in_english(system, tx, users, login):
    Case.start(system, tx)
    tim = login("tim2")
    tim.get("/bahasa/en")
    page = tim.get("/kotak-tugas?tab=lane").get_data(as_text=True)
    assert "in 1 day" in page


def test_empty_inbox_says_what_to_do(users, login):
    page = login("tim").get("/kotak-tugas").get_data(as_text=True)
    assert "Tidak ada tugas tim di lajur Anda" in page and "/kasus/baru" in page


# ------------------------------------------------------------------------------------- notifications
def test_notifications_list_and_mark_read(system, tx, users, login):
    case = Case.start(system, tx, nama="Sosialisasi Pemilih Pemula")
    assert _unread(tx, "tim2") == []  # step 1 is its creator's: nothing new for the rest of the team
    case.do("tim", "submit")  # the admin is told: a new task for the lane
    tim2 = login("admin")
    page = tim2.get("/notifikasi").get_data(as_text=True)
    [row] = rows_of(page)
    assert "Tugas baru" in row and "Sosialisasi Pemilih Pemula" in row
    assert f"/kasus/{case.instance_id}" in row
    assert 'class="badge"' in page and "Tandai semua sudah dibaca" in page
    resp = tim2.post("/notifikasi/baca")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/notifikasi")
    with tx() as s:
        left = s.execute(select(func.count()).select_from(Notification).where(
            Notification.read_at.is_(None), Notification.user_id == user(s, "admin").id)).scalar_one()
    assert left == 0
    page = tim2.get("/notifikasi").get_data(as_text=True)
    assert 'class="badge"' not in page and "Tandai semua" not in page and len(rows_of(page)) == 1
    # Only one's own notifications: tim handed it in and was not told about it.
    assert rows_of(login("tim").get("/notifikasi").get_data(as_text=True)) == []


def test_mark_read_needs_csrf_token(system, users):
    from webui import create_app

    app = create_app(system=system, config={"SECRET_KEY": "t", "TESTING": True, "RATELIMIT_ENABLED": False})
    c = app.test_client()
    page = c.get("/masuk").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    assert c.post("/masuk", data={"username": "tim2", "password": "rahasia-tim2",
                                  "csrf_token": token}).status_code == 302
    assert c.post("/notifikasi/baca").status_code == 400
    page = c.get("/notifikasi").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert c.post("/notifikasi/baca", data={"csrf_token": token}).status_code == 302


# ------------------------------------------------------------------------------------------ new case
def test_new_case_form_defaults(users, login):
    page = login("tim").get("/kasus/baru").get_data(as_text=True)
    assert 'type="date"' in page and 'value="2025-05-06"' in page
    assert '<option value="humas" selected>Divisi Humas</option>' in page
    assert "Divisi Teknis" not in page


def test_new_case_happy_path(app, system, tx, users, login):
    before = instances(tx)
    tim = login("tim")
    resp = tim.post("/kasus/baru", data={"nama_kegiatan": "Bimtek KPPS", "tanggal_kegiatan": "2025-05-06",
                                         "tempat_kegiatan": "Bukittinggi", "tim": "humas"})
    assert resp.status_code == 302
    assert instances(tx) == before + 1
    with tx() as s:
        inst = s.execute(select(Instance).order_by(Instance.id.desc())).scalars().first()
        first = s.execute(select(TaskRow).where(TaskRow.instance_id == inst.id)).scalar_one()
        assert (inst.title, inst.group, inst.business_date) == ("Bimtek KPPS", "humas", date(2025, 5, 6))
    with app.test_request_context():
        from flask import url_for

        expected = url_for("tasks.show", task_id=first.id) if "tasks.show" in app.view_functions else \
            url_for("cases.show", instance_id=inst.id)
    assert resp.headers["Location"].endswith(expected)
    page = tim.get(f"/kasus/{inst.id}").get_data(as_text=True)
    assert "Bimtek KPPS" in page and "Bukittinggi" in page and "dibuat" in page


def test_new_case_invalid_is_422_and_changes_nothing(system, tx, users, login):
    before = instances(tx)
    tim = login("tim")
    resp = tim.post("/kasus/baru", data={"nama_kegiatan": "  ", "tanggal_kegiatan": "2025-02-30",
                                         "tempat_kegiatan": "", "tim": "humas"})
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert 'id="err-nama_kegiatan"' in page and "Nama kegiatan: wajib diisi." in page
    assert 'id="err-tempat_kegiatan"' in page and 'id="err-tanggal_kegiatan"' in page
    assert 'aria-invalid="true"' in page and 'value="2025-02-30"' in page
    assert instances(tx) == before
    # Another team than one's own is refused, too.
    resp = tim.post("/kasus/baru", data={"nama_kegiatan": "X", "tanggal_kegiatan": "2025-05-06",
                                         "tempat_kegiatan": "Padang", "tim": "teknis"})
    assert resp.status_code == 403 and instances(tx) == before
    resp = tim.post("/kasus/baru", data={"nama_kegiatan": "X", "tanggal_kegiatan": "2025-05-06",
                                         "tempat_kegiatan": "Padang", "tim": "entah"})
    assert resp.status_code == 422 and "tidak dikenal" in resp.get_data(as_text=True)
    assert instances(tx) == before


def test_new_case_only_for_tim_pelaksana(tx, users, login):
    before = instances(tx)
    for name in ("admin", "wapimred", "pimred", "owner", "auditor"):
        c = login(name)
        assert c.get("/kasus/baru").status_code == 403, name
        assert c.post("/kasus/baru", data={"nama_kegiatan": "X", "tanggal_kegiatan": "2025-05-06",
                                           "tempat_kegiatan": "Padang"}).status_code == 403, name
        assert "/kasus/baru" not in c.get("/kasus").get_data(as_text=True)
    assert instances(tx) == before


def test_pages_need_login(client):
    for url in ("/kotak-tugas", "/notifikasi", "/kasus", "/kasus/baru", "/kasus/1", "/kasus/1/diagram.json"):
        resp = client.get(url)
        assert resp.status_code == 302 and "/masuk" in resp.headers["Location"], url


# ---------------------------------------------------------------------------------------- case pages
def revisi_walk(system, tx) -> Case:
    case = Case.start(system, tx, nama="Sosialisasi Pemilih Pemula")
    case.do("tim", "submit")
    case.do("admin", "terima")
    case.do("wapimred", "koreksi")
    assert case.do("pimred", "revisi") == ["Task_Koreksi"]
    return case


def test_case_page_after_a_revisi_walk(app, system, tx, users, login):
    case = revisi_walk(system, tx)
    resp = login("auditor").get(f"/kasus/{case.instance_id}")
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    # Summary.
    assert "Padang" in page and "Divisi Humas" in page and "REG-MEDSOS" in page and "Berjalan" in page
    assert "Versi definisi proses" in page
    assert "Mengontrol dan mengoreksi" in page  # the current step (back at Wapimred after the revisi)
    # Written responses of steps 2, 3 and 4 with their decisions.
    for text in ("Dokumentasi lengkap.", "Sudah dikoreksi.", "Perbaiki caption.", "Revisi",
                 "Teruskan ke Pimpinan Redaksi", "Wakil Pimpinan Redaksi"):
        assert text in page, text
    responses = rows_of(page.split('id="tanggapan-title"', 1)[1])
    assert len(responses) == 3
    # Narrative as submitted and as corrected.
    assert "Diserahkan pertama kali (langkah 1)" in page and "Koreksi terakhir Wakil Pimpinan Redaksi" in page
    assert "(dikoreksi)" in page and "Sosialisasi #KPUSumbar #Pemilu" in page
    # Attachments (thumbnails when the files blueprint is there, otherwise their names).
    assert "f0.png" in page and "f3.png" in page
    if "files.thumbnail" in app.view_functions:
        assert page.count('/thumb" alt="Foto f') == 4 and page.count("<img ") == 4
    # Timeline sentences.
    for text in ("membuat kasus untuk kegiatan", "siap dikerjakan oleh Admin Medsos", "mengambil langkah",
                 "Keputusan: Revisi oleh Wakil Pimpinan Redaksi.", "menyelesaikan langkah"):
        assert text in page, text
    # The diagram container and its module (no inline script).
    assert 'data-bpmn-diagram' in page and f'data-src="/kasus/{case.instance_id}/diagram.json"' in page
    assert 'role="img"' in page and 'src="/static/dist/diagram.js"' in page
    assert "<script>" not in page and "onclick" not in page
    assert page.count('class="responsive') == 2


def test_case_page_overdue_and_outcomes(system, tx, clock, users, login):
    case = Case.start(system, tx)
    past_deadline(system, tx, clock)
    page = login("pimred").get(f"/kasus/{case.instance_id}").get_data(as_text=True)
    assert "1 langkah melewati batas waktu" in page and "terlambat: batas waktu" in page
    assert "Batas waktu" in page and 'tr class="overdue"' in page

    rejected = Case.start(system, tx, nama="Kegiatan Ditolak")
    rejected.do("tim", "submit")
    rejected.do("admin", "terima")
    rejected.do("wapimred", "koreksi")
    rejected.do("pimred", "tolak")
    page = login("pimred").get(f"/kasus/{rejected.instance_id}").get_data(as_text=True)
    assert "Selesai: ditolak" in page and "Kasus selesai: ditolak." in page


def test_task_links_only_for_who_may_act(app, system, tx, users, login):
    case = Case.start(system, tx)
    if "tasks.show" not in app.view_functions:
        pytest.skip("task pages not present")
    assert f"/tugas/{case.task_id}" not in login("auditor").get(f"/kasus/{case.instance_id}").get_data(as_text=True)


def test_other_team_cannot_see_a_case_or_its_diagram(system, tx, users, login):
    case = Case.start(system, tx)
    other = login("tim_lain")
    assert other.get(f"/kasus/{case.instance_id}").status_code == 403
    assert other.get(f"/kasus/{case.instance_id}/diagram.json").status_code == 403
    assert other.get("/kasus/999999").status_code == 404
    assert other.get("/kasus/999999/diagram.json").status_code == 404
    assert "Sosialisasi" not in other.get("/kasus").get_data(as_text=True)
    assert "Sosialisasi" in login("tim2").get("/kasus").get_data(as_text=True)


def test_diagram_json(system, tx, clock, users, login):
    case = revisi_walk(system, tx)
    resp = login("admin").get(f"/kasus/{case.instance_id}/diagram.json")
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "private, no-store"
    body = resp.get_json()
    assert body["xml"].lstrip().startswith("<?xml") and "Task_Serahkan" in body["xml"]
    assert body["completed"] == ["Task_Koreksi", "Task_Putuskan", "Task_Serahkan", "Task_Terima"]
    assert body["active"] == ["Task_Koreksi"] and body["overdue"] == []
    clock.set(datetime(2030, 1, 1, tzinfo=WIB))  # past every deadline, before any timer ran
    assert login("admin").get(f"/kasus/{case.instance_id}/diagram.json").get_json()["overdue"] == ["Task_Koreksi"]


def test_case_list(system, tx, users, login):
    a = Case.start(system, tx, nama="Sosialisasi Pemilih Pemula")
    a.do("tim", "submit")
    Case.start(system, tx, nama="Rapat Pleno")
    Case.start(system, tx, who="tim_lain", nama="Bimtek Teknis")
    page = login("tim").get("/kasus").get_data(as_text=True)
    rows = rows_of(page)
    assert len(rows) == 2 and "Rapat Pleno" in rows[0] and "Sosialisasi" in rows[1]  # newest first
    assert "REG-MEDSOS" in rows[1] and "Menerima hasil dokumentasi" in rows[1] and "Berjalan" in rows[1]
    assert 'class="responsive cases"' in page and "tim Anda sendiri" in page
    page = login("auditor").get("/kasus?q=bimtek").get_data(as_text=True)
    [row] = rows_of(page)
    assert "Bimtek Teknis" in row and "Divisi Teknis" in row
    auditor = login("auditor")
    with tx() as s:
        oldest = s.get(Instance, a.instance_id).created_at
    cursor = paging.encode("cases.created.desc", (False, oldest, a.instance_id))  # after the oldest: nothing
    first = auditor.get(f"/kasus?kursor={cursor}&mulai=4")
    assert rows_of(first.text) == [] and "Kembali ke halaman pertama" in first.text
    for bad in ("x", "0", "-1", "2147483648", "99999999999999999999999"):  # one id rule (webui/ids.py)
        refused = auditor.get(f"/kasus?kursor={cursor}&mulai={bad}")
        assert refused.status_code == 422 and "mulai: harus nomor 1 sampai 2147483647." in refused.text, bad
    for bad in ("x", "!!", cursor[:-2], paging.encode("cases.created.asc", (False, None, 1))):
        refused = auditor.get(f"/kasus?kursor={bad}")
        assert refused.status_code == 422 and "penanda halaman tidak dapat dibaca" in refused.text, bad


# ------------------------------------------------------------------------------- every page, every role
def test_every_page_renders_for_every_role(system, tx, clock, users, login):
    case = revisi_walk(system, tx)
    other = Case.start(system, tx, who="tim_lain", nama="Bimtek Teknis")
    past_deadline(system, tx, clock)
    for name, (role, _team) in USERS.items():
        c = login(name)
        for url in ("/kotak-tugas", "/kotak-tugas?tab=mine", "/kotak-tugas?tab=lane", "/kotak-tugas?tab=overdue",
                    "/kotak-tugas?q=x&dari=2025-01-01&sampai=2025-12-31", "/notifikasi", "/kasus",
                    f"/kasus/{case.instance_id}", f"/kasus/{other.instance_id}",
                    f"/kasus/{case.instance_id}/diagram.json", "/kasus/baru"):
            resp = c.get(url)
            assert resp.status_code in (200, 403), (name, url, resp.status_code)
            if resp.status_code == 403:
                assert (url == "/kasus/baru" and role != "tim_pelaksana") or \
                    (name in ("tim", "tim2") and url.startswith(f"/kasus/{other.instance_id}")) or \
                    (name == "tim_lain" and url.startswith(f"/kasus/{case.instance_id}")), (name, url)
            if url.startswith("/kotak-tugas") or url in ("/notifikasi", "/kasus"):
                assert "<table" not in resp.get_data(as_text=True) or 'class="responsive' in \
                    resp.get_data(as_text=True)
        c.get("/bahasa/en")
        assert c.get(f"/kasus/{case.instance_id}").status_code in (200, 403)
        assert c.get("/kotak-tugas?tab=overdue").status_code == 200


# --------------------------------------------------------------------------------- read functions
def test_inbox_counts_match_inbox(system, tx, clock, users):
    Case.start(system, tx, nama="A")
    b = Case.start(system, tx, nama="B")
    with tx() as s:
        system.tasks.claim(s, user(s, "tim"), b.task_id)
    past_deadline(system, tx, clock)
    with tx() as s:
        for who in ("tim", "tim2", "pimred", "admin"):
            u = user(s, who)
            now = system.clock.now()
            lanes = system.rules.lane_map(s).lanes_of(u)
            counts = inbox_counts(s, u, now=now, lanes=lanes)
            assert counts == {k: len(inbox(s, u, k, now=now, lanes=lanes)) for k in ("mine", "lane", "overdue")}, who
        tim_lanes = system.rules.lane_map(s).lanes_of(user(s, "tim"))
        assert inbox_counts(s, user(s, "tim"), now=now, lanes=tim_lanes, q="b") == {"mine": 1, "lane": 0,
                                                                                    "overdue": 1}


def test_case_list_paging_and_visibility(system, tx, users):
    for i in range(3):
        Case.start(system, tx, nama=f"Kegiatan {i}")
    Case.start(system, tx, who="tim_lain", nama="Teknis")
    with tx() as s:
        page = case_list(s, user(s, "auditor"), system.rules, page=1, per_page=2)
        assert (page.total, page.pages, [c.instance.title for c in page.items]) == (4, 2, ["Teknis", "Kegiatan 2"])
        page = case_list(s, user(s, "auditor"), system.rules, page=2, per_page=2)
        assert [c.instance.title for c in page.items] == ["Kegiatan 1", "Kegiatan 0"]
        page = case_list(s, user(s, "tim"), system.rules)
        assert page.total == 3 and all(c.instance.group == "humas" for c in page.items)
        assert all(c.outcome == "berjalan" and len(c.current) == 1 for c in page.items)
        assert case_list(s, user(s, "tim_lain"), system.rules, q="kegiatan").total == 0
        assert display_names(s, ["tim", "nobody", None]) == {"tim": "tim"}


def test_case_outcome_and_diagram_visibility(system, tx, users):
    from engine.errors import NotFound
    from process.errors import NotPermitted

    case = Case.start(system, tx)
    with tx() as s:
        inst = s.get(Instance, case.instance_id)
        assert case_outcome(inst, system.rules.of_instance(s, inst)) == "berjalan"
        inst.status, inst.end_event = "completed", "EndEvent_Dipublikasikan"
        assert case_outcome(inst, system.rules.of_instance(s, inst)) == "dipublikasikan"
        inst.end_event = "EndEvent_Ditolak"
        assert case_outcome(inst, system.rules.of_instance(s, inst)) == "ditolak"
        inst.status = "error"
        assert case_outcome(inst, system.rules.of_instance(s, inst)) == "galat"
        s.rollback()
    with tx() as s:
        with pytest.raises(NotPermitted):
            case_diagram(s, user(s, "tim_lain"), case.instance_id, system.rules, now=system.clock.now())
        with pytest.raises(NotFound):
            case_diagram(s, user(s, "tim"), 424242, system.rules, now=system.clock.now())
        d = case_diagram(s, user(s, "tim"), case.instance_id, system.rules, now=system.clock.now())
        assert (d.completed, d.active, d.overdue) == ([], ["Task_Serahkan"], [])


def test_case_list_search_by_register_number_and_procedure(system, tx, users, login):
    """Kasus: one search box finds a title or a register number across procedures; with two procedures a chooser
    narrows the list to one (an unknown one shows every case, as without the filter)."""
    from tests.conftest import DIAGRAM

    xml = (DIAGRAM.read_text(encoding="utf-8").replace('id="alur_pengunggahan"', 'id="proses_lain"')
           .replace('processRef="alur_pengunggahan"', 'processRef="proses_lain"')
           .replace('name="Alur Pengunggahan Konten Media Sosial"', 'name="Prosedur Lain"', 1))
    with tx() as s:
        system.engine.deploy(s, xml.encode(), actor="owner")
    a = Case.start(system, tx, nama="Sosialisasi Pemilih Pemula")
    a.do("tim", "submit")
    Case.start(system, tx, nama="Rapat Pleno")
    with tx() as s:
        system.cases.start_case(s, user(s, "tim"), {"nama_kegiatan": "Bimtek Lain", "tanggal_kegiatan": "2025-05-06",
                                                    "tempat_kegiatan": "Padang"}, procedure="proses_lain")
    auditor = login("auditor")
    page = auditor.get("/kasus").text
    assert len(rows_of(page)) == 3 and 'name="prosedur"' in page and "Prosedur Lain" in page
    [row] = rows_of(auditor.get("/kasus?q=REG-MEDSOS").text)
    assert "Sosialisasi Pemilih Pemula" in row
    [row] = rows_of(auditor.get("/kasus?prosedur=proses_lain").text)
    assert "Bimtek Lain" in row and "Prosedur Lain" in row
    assert len(rows_of(auditor.get("/kasus?prosedur=alur_pengunggahan").text)) == 2
    assert len(rows_of(auditor.get("/kasus?prosedur=tidak_ada").text)) == 3


def test_a_late_notice_says_late_once(system, tx, clock, users, login):
    """The overdue tag is only the ⚠ sign: the notice itself begins with "Terlambat:" (not "Terlambat Terlambat")."""
    Case.start(system, tx, nama="Sosialisasi Pemilih Pemula")
    past_deadline(system, tx, clock, hours=5)
    rows = [r for r in rows_of(login("tim2").get("/notifikasi").get_data(as_text=True)) if "⚠" in r]
    assert rows
    for row in rows:
        text = re.sub(r"<[^>]+>", " ", row)
        assert text.count("Terlambat") == 1, text


def _unread(tx, username: str) -> list[tuple[str, str | None]]:
    with tx() as s:
        return sorted(s.execute(select(Notification.kind, Notification.task_id).where(
            Notification.user_id == user(s, username).id, Notification.read_at.is_(None))).all())


def test_a_return_is_one_notification_per_person(system, tx, users, login):
    case = Case.start(system, tx, nama="Sosialisasi Pemilih Pemula")
    case.do("tim", "submit")
    login("tim2").post("/notifikasi/baca")
    case.do("admin", "admin_kembalikan")
    for who in ("tim", "tim2"):
        kinds = [k for k, _t in _unread(tx, who)]
        assert kinds == ["returned"], (who, kinds)  # not also "Tugas baru" for the same event


def test_finishing_or_opening_a_task_reads_its_notifications(system, tx, users, login):
    case = Case.start(system, tx, nama="Sosialisasi Pemilih Pemula")
    case.do("tim", "submit")
    case.do("admin", "admin_kembalikan")
    assert [k for k, _t in _unread(tx, "tim2")] == ["returned"]
    case.do("tim", "submit")  # tim handed it in again: tim2's notice about the return is no longer news
    assert _unread(tx, "tim2") == []
    (kind, task_id), = _unread(tx, "admin")
    assert kind == "task_ready"
    page = login("admin").get(f"/tugas/{task_id}")  # opening the task reads it
    assert page.status_code == 200
    assert _unread(tx, "admin") == []
    assert 'class="badge"' not in login("admin").get("/kotak-tugas").get_data(as_text=True)

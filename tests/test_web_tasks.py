"""The task page through HTML forms: the whole walk, returns, refusals (DB unchanged), uploads and file
serving, thumbnails and the narrative/caption diff."""
from __future__ import annotations

import dataclasses
import io
import os
import re

import pytest
from PIL import Image
from sqlalchemy import select

from engine.models import Instance, TaskRow
from process.models import FileRecord
from tests.factories import NARASI, Case, make_users, png, user
from tests.test_engine import snapshot
from webui.taskforms import parse_form, text_diffs, word_diff

STEP1 = {"nama_kegiatan": "Sosialisasi Pemilih Pemula", "tanggal_kegiatan": "2025-05-06",
         "tempat_kegiatan": "Padang", "narasi": NARASI, "caption": "Sosialisasi #KPUSumbar",
         "catatan_sumber": "Foto oleh tim humas, narasi diperiksa ketua divisi."}
TERIMA = {"cek_foto": "on", "cek_narasi": "on", "cek_caption": "on", "keputusan_admin": "diterima",
          "tanggapan_admin": "Dokumentasi lengkap."}
ADMIN_KEMBALIKAN = {"cek_foto": "on", "keputusan_admin": "dikembalikan",
                    "tanggapan_admin": "Foto kurang jelas, mohon diganti."}
KOREKSI = {"narasi_koreksi": NARASI + " Kegiatan berlangsung tertib.",
           "caption_koreksi": "Sosialisasi #KPUSumbar #Pemilu",
           "konten_valid": "on", "keputusan_wapimred": "lanjut", "tanggapan_wapimred": "Sudah dikoreksi."}
WAPIMRED_KEMBALIKAN = {"narasi_koreksi": NARASI, "caption_koreksi": "x", "keputusan_wapimred": "kembalikan",
                       "tanggapan_wapimred": "Narasi perlu sumber data."}
REVISI = {"keputusan_pimred": "revisi", "pertimbangan": "Perbaiki caption: tambahkan tagar pemilu."}
SETUJU = {"keputusan_pimred": "setuju", "pertimbangan": "Layak diunggah."}
UNGGAH = {"publikasi-0-diunggah": "on", "publikasi-0-url": "https://www.instagram.com/p/abc123/",
          "publikasi-0-waktu": "2025-05-06T09:30", "catatan_unggah": ""}


# ------------------------------------------------------------------------------------------- helpers


def ready_task(system, instance_id: int) -> TaskRow:
    with system.sessions() as s:
        rows = s.execute(select(TaskRow).where(TaskRow.instance_id == instance_id, TaskRow.state == "ready")
                         ).scalars().all()
        assert len(rows) == 1, rows
        s.expunge_all()
        return rows[0]


def html(resp) -> str:
    return resp.get_data(as_text=True)


def lock_version(page: str) -> str:
    match = re.search(r'name="lock_version" value="(\d+)"', page)
    assert match, "no form on the page"
    return match.group(1)


def fetch(client, url: str):
    """GET a file; the response is read and closed (served files are streamed from an open file)."""
    resp = client.get(url)
    resp.get_data()
    resp.close()
    return resp


def upload(client, data: bytes, name: str = "foto.png"):
    return client.post("/berkas", data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def upload_photos(client, n: int = 4) -> list[str]:
    ids = []
    for i in range(n):
        resp = upload(client, png((i * 50 % 256, 80, 20)), f"foto-{i}.png")
        assert resp.status_code == 201, resp.data
        body = resp.get_json()
        assert set(body) >= {"id", "sha256", "name", "kind", "thumbnail_url"} and body["kind"] == "image"
        ids.append(body["id"])
    return ids


def submit(client, task_id: str, form: dict, status: int = 302):
    page = client.get(f"/tugas/{task_id}")
    assert page.status_code == 200, html(page)[:2000]
    resp = client.post(f"/tugas/{task_id}", data={**form, "lock_version": lock_version(html(page))})
    assert resp.status_code == status, html(resp)[:3000]
    return resp


def file_rows(system) -> list[FileRecord]:
    with system.sessions() as s:
        return list(s.execute(select(FileRecord)).scalars())


def stored_files(system) -> list[str]:
    files_dir = system.settings.files_dir
    return sorted(p.name for p in files_dir.iterdir()) if files_dir.exists() else []


@pytest.fixture
def users(system, tx):
    make_users(system, tx)


@pytest.fixture
def case(system, tx, users) -> Case:
    return Case.start(system, tx)


def to_step(case: Case, step: int) -> None:
    """Move the case through the services to the given step (1 = just started)."""
    walk = [("tim", "submit"), ("admin", "terima"), ("wapimred", "koreksi"), ("pimred", "setuju")]
    for who, form in walk[:step - 1]:
        case.do(who, form)


# ------------------------------------------------------------------------------------------- the walk


def test_full_walk_through_html_forms(system, case, login):
    tim, admin, wapimred, pimred = login("tim"), login("admin"), login("wapimred"), login("pimred")

    # Step 1: its creator holds it from the start (two members of the team could take it): the form at once.
    page = html(tim.get(f"/tugas/{case.task_id}"))
    assert "Ambil tugas" not in page and 'id="task-form"' in page
    assert "Sosialisasi Pemilih Pemula" in page and "Padang" in page and "Divisi Humas" in page
    resp = tim.post(f"/tugas/{case.task_id}/ambil")  # taking what one holds already changes nothing
    assert resp.status_code == 302
    page = html(tim.get(f"/tugas/{case.task_id}"))
    assert 'id="task-form"' in page and "Lepaskan" in page and 'name="kepada"' in page
    assert 'value="tim2"' in page and 'value="tim_lain"' not in page  # same lane and team only
    assert 'accept="image/*"' in page and 'enctype="multipart/form-data"' in page
    assert 'data-caption-limits=' in page and "Instagram <span class=\"count\">" in page
    ids = upload_photos(tim)
    resp = submit(tim, case.task_id, {**STEP1, "foto": ids})
    assert resp.headers["Location"].endswith("/kotak-tugas") or "/kasus/" in resp.headers["Location"]
    assert "Tugas selesai" in html(tim.get(resp.headers["Location"]))

    # Step 2: the only admin claims it by opening it.
    task = ready_task(system, case.instance_id)
    assert task.bpmn_id == "Task_Terima"
    page = html(admin.get(f"/tugas/{task.id}"))
    assert 'id="task-form"' in page and "Nomor register" in page and "REG-MEDSOS" in page
    assert "Belum lengkap, kembalikan ke Tim Pelaksana" in page and "choice-return" in page
    assert page.count("/thumb") >= 4  # the attachments with thumbnails
    submit(admin, task.id, TERIMA)

    # Step 3: corrections, with the diff against the first submission.
    task = ready_task(system, case.instance_id)
    assert task.bpmn_id == "Task_Koreksi"
    page = html(wapimred.get(f"/tugas/{task.id}"))
    assert "Perubahan teks" in page and "Dokumentasi lengkap." in page
    assert "Sosialisasi #KPUSumbar</textarea>" in page  # caption_koreksi pre-filled from the caption
    submit(wapimred, task.id, KOREKSI)

    # Step 4: revisi goes back to the Wapimred with the written response.
    task = ready_task(system, case.instance_id)
    assert task.bpmn_id == "Task_Putuskan"
    page = html(pimred.get(f"/tugas/{task.id}"))
    assert '<ins class="diff-ins">' in page and "Pemilu" in page
    submit(pimred, task.id, REVISI)

    task = ready_task(system, case.instance_id)
    assert task.bpmn_id == "Task_Koreksi"
    page = html(wapimred.get(f"/tugas/{task.id}"))
    assert "Perbaiki caption: tambahkan tagar pemilu." in page and "banner-return" in page
    assert '<ins class="diff-ins">' in page and "Pemilu" in page  # the diff after the Wapimred's change
    assert "Sosialisasi #KPUSumbar #Pemilu</textarea>" in page  # the latest correction is pre-filled
    submit(wapimred, task.id, {**KOREKSI, "caption_koreksi": "Sosialisasi #KPUSumbar #Pemilu2029"})

    task = ready_task(system, case.instance_id)
    submit(pimred, task.id, SETUJU)

    # Step 5: one row per configured platform.
    task = ready_task(system, case.instance_id)
    assert task.bpmn_id == "Task_Unggah"
    page = html(admin.get(f"/tugas/{task.id}"))
    for platform in system.settings.platforms:
        assert f"<strong>{platform}</strong>" in page
    assert 'type="datetime-local"' in page
    submit(admin, task.id, UNGGAH)

    with system.sessions() as s:
        instance = s.get(Instance, case.instance_id)
        assert instance.status == "completed" and instance.end_event == "EndEvent_Dipublikasikan"
        attached = s.execute(select(FileRecord).where(FileRecord.instance_id == case.instance_id)).scalars().all()
        assert sorted(f.id for f in attached) == sorted(ids)

    # A finished task is a read-only summary with the submitted values.
    page = html(admin.get(f"/tugas/{task.id}"))
    assert 'id="task-form"' not in page and "sudah diselesaikan" in page
    assert "https://www.instagram.com/p/abc123/" in page


def test_returns_show_the_written_response_on_the_next_task(system, case, login):
    tim, admin, wapimred = login("tim"), login("admin"), login("wapimred")
    case.do("tim", "submit")
    task = ready_task(system, case.instance_id)
    submit(admin, task.id, ADMIN_KEMBALIKAN)

    task = ready_task(system, case.instance_id)
    assert task.bpmn_id == "Task_Serahkan"
    tim.post(f"/tugas/{task.id}/ambil")
    page = html(tim.get(f"/tugas/{task.id}"))
    assert "Foto kurang jelas, mohon diganti." in page and "banner-return" in page
    assert "Belum lengkap, kembalikan ke Tim Pelaksana" in page  # the decision's label from the diagram
    # The earlier photos come back pre-selected, and the resubmission keeps them.
    kept = re.findall(r'name="foto" value="([0-9a-f-]{36})" checked', page)
    assert len(kept) == 4
    submit(tim, task.id, {**STEP1, "foto": kept, "caption": "Sosialisasi pemilih #KPUSumbar"})

    task = ready_task(system, case.instance_id)
    submit(admin, task.id, TERIMA)
    task = ready_task(system, case.instance_id)
    submit(wapimred, task.id, WAPIMRED_KEMBALIKAN)

    task = ready_task(system, case.instance_id)
    assert task.bpmn_id == "Task_Serahkan"
    tim.post(f"/tugas/{task.id}/ambil")
    page = html(tim.get(f"/tugas/{task.id}"))
    assert "Narasi perlu sumber data." in page and "Kembalikan ke Tim Pelaksana" in page


def test_diff_is_word_level_and_escaped():
    out = str(word_diff("Sosialisasi <b>pemilih</b> pemula", "Sosialisasi <b>pemilih</b> muda di Padang"))
    assert '<del class="diff-del">pemula</del>' in out
    assert '<ins class="diff-ins">muda di Padang</ins>' in out
    assert "<b>" not in out and "&lt;b&gt;" in out
    first = {"narasi": "a b c", "caption": "x"}
    from process.declarations import Declarations, TextRule

    rules = Declarations("p", "p", texts=(TextRule("narasi", "Narasi", "narasi_koreksi"),
                                          TextRule("caption", "Caption", "caption_koreksi")))
    diffs = text_diffs(rules, first, [first, {"caption_koreksi": "x y"}, {"caption": "z"}])
    assert [(d.key, d.latest, d.changed) for d in diffs] == [("narasi", "a b c", False), ("caption", "z", True)]


def test_parse_form_reads_checkboxes_files_and_post_rows(system, case):
    from werkzeug.datastructures import MultiDict

    from engine.forms import FormField

    fields = [FormField("ok", "Ok", "boolean"), FormField("no", "No", "boolean"),
              FormField("foto", "Foto", "files"), FormField("publikasi", "P", "posts"),
              FormField("nomor", "N", "string", readonly=True), FormField("teks", "T", "text")]
    form = MultiDict([("csrf_token", "t"), ("lock_version", "3"), ("ok", "on"), ("foto", "a"), ("foto", "b"),
                      ("foto", ""), ("publikasi-0-diunggah", "on"), ("publikasi-1-url", "https://x.example/1"),
                      ("publikasi-2-platform", "X"), ("nomor", "999"), ("teks", "halo")])
    raw = parse_form(fields, form, platforms=("Instagram", "Facebook", "X"), extra_files={"foto": ["c"]})
    assert raw == {"ok": True, "no": False, "foto": ["a", "b", "c"], "teks": "halo",
                   "publikasi": [{"platform": "Instagram", "url": "", "waktu": ""},
                                 {"platform": "Facebook", "url": "https://x.example/1", "waktu": ""}]}


# ------------------------------------------------------------------------------------------- refusals


def test_invalid_form_is_422_lists_every_field_and_changes_nothing(system, case, login):
    tim = login("tim")
    tim.post(f"/tugas/{case.task_id}/ambil")
    page = html(tim.get(f"/tugas/{case.task_id}"))
    version = lock_version(page)
    before = snapshot(system)
    resp = tim.post(f"/tugas/{case.task_id}", data={"lock_version": version, "narasi": "pendek",
                                                     "nama_kegiatan": "", "caption": ""})
    assert resp.status_code == 422
    page = html(resp)
    assert 'class="error-summary"' in page and 'id="task-form"' in page
    for field in ("nama_kegiatan", "tanggal_kegiatan", "tempat_kegiatan", "foto", "narasi", "caption",
                  "catatan_sumber"):
        assert f'href="#f-{field}"' in page, field  # in the summary, linking to the field
        assert f'id="err-{field}"' in page, field  # and beside the field
    assert "Narasi berita: minimal 50 karakter" in page or "Narasi berita:" in page
    assert ">pendek</textarea>" in page  # what was typed is kept
    assert snapshot(system) == before


def test_wrong_role_not_claimed_claimed_by_other(system, case, login):
    admin, tim, tim2 = login("admin"), login("tim"), login("tim2")
    assert tim.post(f"/tugas/{case.task_id}/lepas").status_code == 302  # its creator lets it go to the team
    before = snapshot(system)
    # Wrong role: the admin may view the case but not act on step 1.
    page = admin.get(f"/tugas/{case.task_id}")
    assert page.status_code == 200 and 'id="task-form"' not in html(page) and "Ambil tugas" not in html(page)
    assert admin.post(f"/tugas/{case.task_id}", data=STEP1).status_code == 403
    assert admin.post(f"/tugas/{case.task_id}/ambil").status_code == 403
    # Not claimed.
    resp = tim.post(f"/tugas/{case.task_id}", data=STEP1)
    assert resp.status_code == 409 and "Ambil tugas ini terlebih dahulu" in html(resp)
    assert snapshot(system) == before
    # Claimed by someone else.
    assert tim2.post(f"/tugas/{case.task_id}/ambil").status_code == 302
    before = snapshot(system)
    page = html(tim.get(f"/tugas/{case.task_id}"))
    assert "sedang dikerjakan oleh tim2" in page and 'id="task-form"' not in page
    assert tim.post(f"/tugas/{case.task_id}", data=STEP1).status_code == 409
    assert tim.post(f"/tugas/{case.task_id}/ambil").status_code == 409
    assert tim.post(f"/tugas/{case.task_id}/lepas").status_code == 409
    # No file is stored for someone who may not submit.
    resp = tim.post(f"/tugas/{case.task_id}", data={"foto": [(io.BytesIO(png()), "a.png")]},
                    content_type="multipart/form-data")
    assert resp.status_code == 409 and stored_files(system) == []
    assert snapshot(system) == before


def test_visibility_404_403_and_other_team(system, case, login):
    tim_lain = login("tim_lain")
    assert tim_lain.get(f"/tugas/{case.task_id}").status_code == 403
    assert tim_lain.post(f"/tugas/{case.task_id}/ambil").status_code == 403
    assert tim_lain.get("/tugas/00000000-0000-0000-0000-000000000000").status_code == 404
    assert tim_lain.get("/tugas/bukan-uuid").status_code == 404
    assert tim_lain.get("/tugas/../../etc/passwd").status_code == 404
    anonymous = tim_lain.application.test_client()
    assert anonymous.get(f"/tugas/{case.task_id}").status_code == 302  # to the login page


def test_self_approval_is_403(system, tx, case, login):
    to_step(case, 4)
    with tx() as s:
        system.people.set_groups(s, user(s, "tim"), ["tim_pelaksana", "pimred"])
    tim = login("tim")
    task = ready_task(system, case.instance_id)
    assert task.bpmn_id == "Task_Putuskan"
    assert tim.post(f"/tugas/{task.id}/ambil").status_code == 302
    page = html(tim.get(f"/tugas/{task.id}"))
    assert "pemisahan tugas" in page and 'id="task-form"' not in page
    before = snapshot(system)
    resp = tim.post(f"/tugas/{task.id}", data={**SETUJU, "lock_version": lock_version_of(system, case)})
    assert resp.status_code == 403 and "pemisahan tugas" in html(resp)
    assert snapshot(system) == before


def lock_version_of(system, case) -> str:
    with system.sessions() as s:
        return str(s.get(Instance, case.instance_id).lock_version)


def test_unclaim_and_delegate(system, case, login):
    tim, tim2 = login("tim"), login("tim2")
    tim.post(f"/tugas/{case.task_id}/ambil")
    resp = tim.post(f"/tugas/{case.task_id}/lepas")
    assert resp.status_code == 302
    assert ready_task(system, case.instance_id).claimed_by is None
    tim.post(f"/tugas/{case.task_id}/ambil")
    before = snapshot(system)
    assert tim.post(f"/tugas/{case.task_id}/delegasikan", data={"kepada": "tim_lain"}).status_code == 422
    assert tim.post(f"/tugas/{case.task_id}/delegasikan", data={"kepada": ""}).status_code == 422
    assert tim.post(f"/tugas/{case.task_id}/delegasikan", data={"kepada": "admin"}).status_code == 422
    assert snapshot(system) == before
    resp = tim.post(f"/tugas/{case.task_id}/delegasikan", data={"kepada": "tim2"})
    assert resp.status_code == 302
    assert ready_task(system, case.instance_id).claimed_by == "tim2"
    assert 'id="task-form"' in html(tim2.get(f"/tugas/{case.task_id}"))


def test_stale_page_is_409(system, tx, case, login):
    tim = login("tim")
    tim.post(f"/tugas/{case.task_id}/ambil")
    ids = upload_photos(tim)
    version = lock_version(html(tim.get(f"/tugas/{case.task_id}")))
    resp = tim.post(f"/tugas/{case.task_id}", data={**STEP1, "foto": ids, "lock_version": int(version) - 1})
    assert resp.status_code == 409


def test_overdue_banner(system, case, login, clock):
    tim = login("tim")
    clock.advance(hours=24 * 3)
    page = html(tim.get(f"/tugas/{case.task_id}"))
    assert "banner-late" in page and "terlambat" in page


# ------------------------------------------------------------------------------------------- uploads


def test_form_without_javascript_uploads_files_with_the_form(system, case, login):
    tim = login("tim")
    tim.post(f"/tugas/{case.task_id}/ambil")
    version = lock_version(html(tim.get(f"/tugas/{case.task_id}")))
    photos = [(io.BytesIO(png((i * 60 % 256, 1, 1))), f"kamera-{i}.png") for i in range(4)]
    resp = tim.post(f"/tugas/{case.task_id}", data={**STEP1, "foto": photos, "lock_version": version},
                    content_type="multipart/form-data")
    assert resp.status_code == 302, html(resp)[:2000]
    rows = file_rows(system)
    assert len(rows) == 4 and {r.instance_id for r in rows} == {case.instance_id}


def test_form_without_javascript_refused_keeps_no_files(system, case, login):
    tim = login("tim")
    tim.post(f"/tugas/{case.task_id}/ambil")
    version = lock_version(html(tim.get(f"/tugas/{case.task_id}")))
    before = snapshot(system)
    files = [(io.BytesIO(png()), "ok.png"), (io.BytesIO(b"#!/bin/sh\necho hi\n"), "skrip.jpg")]
    resp = tim.post(f"/tugas/{case.task_id}", data={**STEP1, "foto": files, "lock_version": version},
                    content_type="multipart/form-data")
    assert resp.status_code == 422
    page = html(resp)
    assert "skrip.jpg" in page and "Jenis berkas tidak didukung" in page and "pilih berkas itu sekali lagi" in page
    assert snapshot(system) == before and stored_files(system) == []


def test_upload_of_a_script_named_photo_is_refused(system, users, login):
    tim = login("tim")
    before = snapshot(system)
    resp = upload(tim, b"#!/bin/sh\nrm -rf / --no-preserve-root\n", "photo.jpg")
    assert resp.status_code == 422
    assert resp.get_json()["error"]["message"].startswith("Jenis berkas tidak didukung")
    assert stored_files(system) == [] and file_rows(system) == []
    assert snapshot(system) == before


def test_upload_needs_a_file_and_a_lane(system, users, login):
    assert login("tim").post("/berkas", data={}).status_code == 422
    resp = upload(login("auditor"), png())
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "forbidden"
    anonymous = login("tim").application.test_client()
    assert upload(anonymous, png()).status_code in (302, 401)
    assert file_rows(system) == []


@pytest.fixture
def small_app(system, settings, clock):
    """The app with small size limits (2 KB photos, 4 KB other files), on the same database."""
    from process.system import build_system
    from webui import create_app

    small = build_system(dataclasses.replace(settings, max_image_bytes=2048, max_other_bytes=4096), clock)
    yield create_app(system=small, config={"SECRET_KEY": "test-secret", "TESTING": True,
                                           "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False,
                                           "MAX_CONTENT_LENGTH": 64 * 1024})
    small.dispose()


def noise_png(size=(64, 64)) -> bytes:
    out = io.BytesIO()
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(out, "PNG")
    return out.getvalue()


def test_oversize_upload_is_refused(system, users, small_app):
    client = small_app.test_client()
    assert client.post("/masuk", data={"username": "tim", "password": "rahasia-tim"}).status_code == 302
    before = snapshot(system)
    big = noise_png()
    assert 4096 < len(big) < 64 * 1024
    resp = upload(client, big, "besar.png")
    assert resp.status_code == 413 and "terlalu besar" in resp.get_json()["error"]["message"]
    photo = noise_png((36, 36))
    assert 2048 < len(photo) < 4096  # above the photo limit, below the other limit
    resp = upload(client, photo, "foto.png")
    assert resp.status_code == 413 and resp.get_json()["error"]["message"].startswith("Foto ini terlalu besar: 3 KB")
    resp = upload(client, noise_png((200, 200)), "sangat-besar.png")  # beyond MAX_CONTENT_LENGTH
    assert resp.status_code == 413 and resp.is_json
    assert stored_files(system) == [] and snapshot(system) == before
    assert upload(client, png(), "kecil.png").status_code == 201


def test_path_in_file_name_is_harmless(system, users, login):
    tim = login("tim")
    resp = upload(tim, png(), "../../etc/passwd.png")
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["name"] == "passwd.png"
    (record,) = file_rows(system)
    assert record.original_name == "passwd.png" and "/" not in record.stored_name and ".." not in record.stored_name
    files_dir = system.settings.files_dir.resolve()
    assert (files_dir / record.stored_name).resolve().parent == files_dir
    assert stored_files(system) == [record.stored_name]
    got = fetch(tim, f"/berkas/{record.id}")
    assert got.status_code == 200 and got.data == png()


def test_file_download_rules_and_headers(system, case, login):
    tim, tim2, admin, tim_lain = login("tim"), login("tim2"), login("admin"), login("tim_lain")
    tim.post(f"/tugas/{case.task_id}/ambil")
    ids = upload_photos(tim)
    pdf = upload(tim, b"%PDF-1.4\n%\xe2\xe3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n", "surat.pdf")
    assert pdf.status_code == 201 and pdf.get_json()["kind"] == "document"
    pdf_id = pdf.get_json()["id"]
    # Unattached uploads: only the uploader sees them.
    assert fetch(tim, f"/berkas/{ids[0]}").status_code == 200
    for other in (tim2, admin, tim_lain):
        assert fetch(other, f"/berkas/{ids[0]}").status_code == 404
        assert fetch(other, f"/berkas/{ids[0]}/thumb").status_code == 404
    submit(tim, case.task_id, {**STEP1, "foto": ids, "lampiran": [pdf_id]})
    # Attached to the case: every viewer of the case, but not another team.
    resp = fetch(admin, f"/berkas/{ids[0]}")
    assert resp.status_code == 200 and resp.mimetype == "image/png"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "private" in resp.headers["Cache-Control"]
    assert "attachment" not in resp.headers.get("Content-Disposition", "")
    assert fetch(tim2, f"/berkas/{ids[0]}").status_code == 200
    assert fetch(tim_lain, f"/berkas/{ids[0]}").status_code == 404
    assert fetch(tim_lain, f"/berkas/{pdf_id}").status_code == 404
    resp = fetch(admin, f"/berkas/{pdf_id}")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert resp.headers["Content-Disposition"].startswith("attachment") and "surat.pdf" in resp.headers[
        "Content-Disposition"]
    thumb = fetch(admin, f"/berkas/{pdf_id}/thumb")
    assert thumb.status_code == 200 and thumb.mimetype == "image/svg+xml" and b"<script" not in thumb.data
    assert fetch(admin, "/berkas/bukan-uuid").status_code == 404
    assert fetch(admin, "/berkas/00000000-0000-0000-0000-000000000000").status_code == 404


def test_thumbnail_applies_exif_orientation_and_is_cached(system, users, login):
    tim = login("tim")
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    Image.new("RGB", (80, 40), (10, 120, 200)).save(out, "JPEG", exif=exif)
    resp = upload(tim, out.getvalue(), "ponsel.jpg")
    assert resp.status_code == 201
    body = resp.get_json()
    thumb = fetch(tim, body["thumbnail_url"])
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    assert "private" in thumb.headers["Cache-Control"]
    with Image.open(io.BytesIO(thumb.data)) as img:
        assert img.size == (40, 80)
    (record,) = file_rows(system)
    cached = system.settings.files_dir / f"{record.stored_name}.thumb.jpg"
    assert cached.is_file() and cached.read_bytes() == thumb.data
    assert fetch(tim, body["thumbnail_url"]).data == thumb.data


def test_task_page_has_no_inline_script(system, case, login):
    tim = login("tim")
    tim.post(f"/tugas/{case.task_id}/ambil")
    page = html(tim.get(f"/tugas/{case.task_id}"))
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)
    assert not re.search(r"\son[a-z]+=", page)
    assert "js/task.js" in page and 'type="module"' in page


@pytest.fixture
def csrf_app(system):
    from webui import create_app

    return create_app(system=system, config={"SECRET_KEY": "test-secret", "TESTING": True,
                                             "WTF_CSRF_ENABLED": True, "RATELIMIT_ENABLED": False})


def test_csrf_token_on_forms_and_in_the_upload_header(system, case, csrf_app):
    client = csrf_app.test_client()
    login_page = html(client.get("/masuk"))
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login_page).group(1)
    assert client.post("/masuk", data={"username": "tim", "password": "rahasia-tim",
                                       "csrf_token": token}).status_code == 302
    page = html(client.get(f"/tugas/{case.task_id}"))
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    before = snapshot(system)
    assert client.post(f"/tugas/{case.task_id}/ambil").status_code == 400
    assert client.post("/berkas", data={"file": (io.BytesIO(png()), "a.png")},
                       content_type="multipart/form-data").status_code == 400
    assert snapshot(system) == before and stored_files(system) == []
    assert client.post(f"/tugas/{case.task_id}/ambil", data={"csrf_token": token}).status_code == 302
    resp = client.post("/berkas", data={"file": (io.BytesIO(png()), "a.png")}, content_type="multipart/form-data",
                       headers={"X-CSRFToken": token})
    assert resp.status_code == 201


def test_task_page_in_english(system, case, login):
    tim = login("tim")
    tim.get("/bahasa/en")
    resp = tim.get(f"/tugas/{case.task_id}")
    assert resp.status_code == 200 and "in 1 day" in html(resp)


def test_a_finished_task_names_who_finished_it_by_name(system, tx, case, login):
    tim = login("tim")
    assert tim.post(f"/tugas/{case.task_id}/ambil").status_code == 302
    with tx() as s:
        user(s, "tim").full_name = "Rina Pelaksana"
    resp = submit(tim, case.task_id, {**STEP1, "foto": upload_photos(tim)})
    assert resp.status_code == 302
    page = html(login("tim2").get(f"/tugas/{case.task_id}"))
    assert "Tugas ini sudah diselesaikan oleh Rina Pelaksana" in page
    assert "oleh tim," not in page
    # the submitted activity date as people read it, not the stored ISO form
    assert "6 Mei 2025" in page and "2025-05-06" not in page

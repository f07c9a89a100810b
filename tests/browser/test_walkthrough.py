"""Four people take cases through the SOP in Chromium: one from step 1 through a Pimpinan Redaksi "Revisi" to
published with real photo uploads, another to "Tolak"; and screenshots of the inbox, a task page and the case
page (saved under test-artifacts/)."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from engine.db import transaction
from process.files import store_file
from tests.browser.conftest import PHONE
from tests.browser.steps import (
    STEP_NAMES,
    new_case,
    open_case,
    open_step,
    step1,
    step2_accept,
    step3_correct,
    step4_decide,
    step5_publish,
    textbox,
    wait_for_diagram,
)
from tests.factories import Case, step1_form

pytestmark = pytest.mark.browser


def test_case_through_revisi_to_published(live_server, open_as, photos, diagram_bundle):
    clock = live_server.clock
    name = "Sosialisasi Pemilih Pemula SMA Negeri 1 Padang"
    tim, admin, wapimred, pimred = (open_as(u) for u in ("tim", "admin", "wapimred", "pimred"))

    new_case(tim, name, "Aula SMA Negeri 1 Padang")
    step1(tim, photos, "Sosialisasi pemilih pemula bersama pelajar SMA 1 Padang #KPUSumbar")

    clock.advance(hours=1)
    open_step(admin, name, 2)
    thumbnails = admin.get_by_role("region", name="Lampiran").get_by_role("img")
    expect(thumbnails).to_have_count(len(photos))
    expect(thumbnails.first).to_have_js_property("complete", True)
    assert thumbnails.first.evaluate("img => img.naturalWidth") > 0, "the attachment thumbnail did not load"
    step2_accept(admin, "Dokumentasi lengkap, empat foto jelas.")

    clock.advance(hours=1)
    open_step(wapimred, name, 3)
    step3_correct(wapimred, "Sosialisasi pemilih pemula di SMA Negeri 1 Padang #KPUSumbar #PemiluCerdas",
                  "Caption dirapikan, tagar ditambah.")

    clock.advance(hours=1)
    open_step(pimred, name, 4)
    expect(pimred.get_by_text("Tagar ditambah", exact=False).first).to_be_visible()  # earlier responses shown
    step4_decide(pimred, "Revisi oleh Wakil Pimpinan Redaksi", "Sebutkan jumlah peserta di narasi.")

    clock.advance(hours=1)
    open_step(wapimred, name, 3)
    expect(wapimred.get_by_text("Sebutkan jumlah peserta di narasi.").first).to_be_visible()  # the return reason
    textbox(wapimred, "Narasi berita (koreksi)").fill(
        "KPU Provinsi Sumatera Barat menggelar sosialisasi pendidikan pemilih bagi 250 pemilih pemula di "
        "SMA Negeri 1 Padang.")
    step3_correct(wapimred, "Sosialisasi pemilih pemula di SMA Negeri 1 Padang #KPUSumbar #PemiluCerdas",
                  "Jumlah peserta ditambahkan.")

    clock.advance(hours=1)
    open_step(pimred, name, 4)
    step4_decide(pimred, "Setuju diunggah", "Layak diunggah.")

    clock.advance(hours=1)
    open_step(admin, name, 5)
    step5_publish(admin, "https://www.instagram.com/p/KPUSumbar250/", "2025-05-06T13:45")

    open_case(tim, name)
    expect(tim.get_by_text("Selesai: dipublikasikan", exact=True)).to_be_visible()
    expect(tim.get_by_role("region", name="Linimasa")).to_contain_text("Kasus selesai: dipublikasikan.")
    wait_for_diagram(tim, "alur-done")
    expect(tim.locator(".djs-element.alur-active")).to_have_count(0)


def test_case_ends_in_tolak(live_server, open_as, photos, diagram_bundle):
    name = "Rapat Koordinasi Bawaslu dan KPU Kota Bukittinggi"
    tim, admin, wapimred, pimred = (open_as(u) for u in ("tim", "admin", "wapimred", "pimred"))

    new_case(tim, name, "Kantor KPU Kota Bukittinggi")
    step1(tim, photos, "Rapat koordinasi #KPUSumbar")
    open_step(admin, name, 2)
    step2_accept(admin, "Lengkap.")
    open_step(wapimred, name, 3)
    step3_correct(wapimred, "Rapat koordinasi pengawasan #KPUSumbar", "Konten dapat diteruskan.")
    open_step(pimred, name, 4)
    step4_decide(pimred, "Tolak", "Kegiatan internal, tidak untuk media sosial.")

    open_case(tim, name)
    expect(tim.get_by_text("Selesai: ditolak", exact=True)).to_be_visible()
    expect(tim.get_by_role("region", name="Tanggapan tertulis")).to_contain_text(
        "Kegiatan internal, tidak untuk media sosial.")
    # Nothing is left to do on that case for anyone.
    open_step_inbox = admin.get_by_role("navigation", name="Menu utama").get_by_role("link", name="Kotak tugas")
    open_step_inbox.click()
    expect(admin.get_by_role("row").filter(has_text=name)).to_have_count(0)


def _store_photos(system, session, photos) -> list[str]:
    return [store_file(session, system.settings.files_dir, p.read_bytes(), p.name, uploaded_by="tim",
                       now=system.clock.now(), max_image_bytes=system.settings.max_image_bytes,
                       max_other_bytes=system.settings.max_other_bytes).id for p in photos]


def _full_page_shot(page, path) -> None:
    """Lazy images below the fold would be blank in a full-page picture: load them all first."""
    page.evaluate("document.querySelectorAll('img[loading=lazy]').forEach(img => { img.loading = 'eager'; })")
    for img in page.locator("img").all():  # (wait_for_function would need 'unsafe-eval' under the app's CSP)
        expect(img).to_have_js_property("complete", True)
    page.screenshot(path=path, full_page=True)


def test_screenshots(live_server, open_as, artifacts, photos, diagram_bundle):
    """Inbox, task page and case page at 1280 px, the inbox at 360 px. One case is late (its activity was two
    days ago, so step 5's deadline has passed) so that the overdue look is in the pictures."""
    system = live_server.system

    def tx():
        return transaction(system.sessions)

    late = Case.start(system, tx, nama="Rapat Pleno Rekapitulasi Suara", tanggal="2025-05-04")
    with tx() as s:
        submitted = {**step1_form(system, s, photos=0), "nama_kegiatan": "Rapat Pleno Rekapitulasi Suara",
                     "tanggal_kegiatan": "2025-05-04", "foto": _store_photos(system, s, photos)}
    for who, form in (("tim", submitted), ("admin", "terima"), ("wapimred", "koreksi"), ("pimred", "setuju")):
        late.do(who, form)
    waiting = Case.start(system, tx, nama="Bimbingan Teknis PPK se-Kota Padang")
    waiting.do("tim", "submit")

    admin = open_as("admin")
    admin.goto("/kotak-tugas?tab=lane")
    late_row = admin.get_by_role("row").filter(has_text="Rapat Pleno Rekapitulasi Suara")
    expect(late_row).to_contain_text("Terlambat")
    _full_page_shot(admin, artifacts / "inbox-1280.png")

    phone = open_as("admin", viewport=PHONE, is_mobile=True, has_touch=True)
    phone.goto("/kotak-tugas?tab=lane")
    expect(phone.get_by_role("row").filter(has_text="Rapat Pleno Rekapitulasi Suara")).to_be_visible()
    width = phone.evaluate("document.documentElement.scrollWidth")
    _full_page_shot(phone, artifacts / "inbox-360.png")
    assert width <= PHONE["width"], f"the inbox scrolls sideways on a 360 px phone ({width} px wide)"

    admin.get_by_role("row").filter(has_text="Bimbingan Teknis PPK").get_by_role(
        "link", name=re.compile(STEP_NAMES[2])).click()
    expect(admin.get_by_role("button", name="Kirim", exact=True)).to_be_visible()
    admin.get_by_label("Dokumentasi minimal 4 foto").check()
    textbox(admin, "Tanggapan tertulis").fill("Foto sudah diperiksa; narasi sedang dibaca.")
    _full_page_shot(admin, artifacts / "task-page-1280.png")

    admin.goto(f"/kasus/{late.instance_id}")
    wait_for_diagram(admin, "alur-done", "alur-active", "alur-late")
    _full_page_shot(admin, artifacts / "case-page-1280.png")
    for name in ("inbox-1280", "inbox-360", "task-page-1280", "case-page-1280"):
        assert (artifacts / f"{name}.png").stat().st_size > 10_000


def test_diagram_that_cannot_load_is_said_in_words(live_server, open_as, diagram_bundle):
    system = live_server.system
    case = Case.start(system, lambda: transaction(system.sessions), nama="Diagram Gagal Dimuat")
    tim = open_as("tim")
    tim.route("**/diagram.json", lambda route: route.fulfill(status=500, body="{}"))
    tim.goto(f"/kasus/{case.instance_id}")
    expect(tim.get_by_role("alert")).to_have_text("Diagram tidak dapat ditampilkan.")
    expect(tim.locator(".djs-container")).to_have_count(0)

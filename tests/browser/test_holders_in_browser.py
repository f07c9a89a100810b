"""Issue 18 in Chromium: the case's creator holds step 1 (the form at once, no "Ambil tugas"); the Pimpinan Redaksi's
"Revisi oleh Tim Pelaksana" sends it back in one hop to whoever handed it in, told once, with the written response;
in round 2 the Pimpinan Redaksi's word diff shows what changed since the revisi, the first submission one link away."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from process.models import Notification, User
from tests.browser.steps import (
    STEP_NAMES,
    open_step,
    step1,
    step2_accept,
    step3_correct,
    step4_decide,
    submit,
    textbox,
)

pytestmark = pytest.mark.browser

CAPTION_1 = "Sosialisasi pemilih pemula di Padang #KPUSumbar"
CAPTION_2 = "Sosialisasi pemilih pemula di Padang #KPUSumbar #PemiluCerdas"
CAPTION_3 = "Sosialisasi pemilih pemula di Padang #KPUSumbar #PemiluCerdas #PelajarMemilih"
RESPONSE = "Narasi belum menyebut jumlah peserta; tim yang melengkapinya."


def returned_notices(live_server, username: str) -> int:
    with live_server.system.sessions() as s:
        uid = s.execute(select(User.id).where(User.username == username)).scalar_one()
        return len(s.execute(select(Notification.id).where(Notification.user_id == uid,
                                                           Notification.kind == "returned")).all())


def test_creator_holds_step1_and_revisi_goes_to_the_team_in_one_hop(live_server, open_as, photos, diagram_bundle):
    clock = live_server.clock
    name = "Sosialisasi Pemilih Pemula Kecamatan Kuranji"
    tim, tim2, admin, wapimred, pimred = (open_as(u) for u in ("tim", "tim2", "admin", "wapimred", "pimred"))

    # The creator lands on the form of step 1: it is theirs, nothing to take.
    tim.get_by_role("navigation", name="Menu utama").get_by_role("link", name="Kasus baru").click()
    tim.get_by_label("Nama kegiatan").fill(name)
    tim.get_by_label("Tempat kegiatan").fill("Kantor Camat Kuranji")
    tim.get_by_role("button", name="Buat kasus dan buka langkah pertama").click()
    expect(tim.get_by_role("heading", level=1)).to_contain_text(STEP_NAMES[1])
    expect(tim.get_by_role("button", name="Kirim", exact=True)).to_be_visible()
    expect(tim.get_by_role("button", name="Ambil tugas")).to_have_count(0)
    expect(tim.get_by_text("Tugas ini belum diambil")).to_have_count(0)
    # The rest of the team sees it in its tab, held by the creator.
    tim2.get_by_role("navigation", name="Menu utama").get_by_role("link", name="Kotak tugas").click()
    tim2.get_by_role("navigation", name="Tab kotak tugas").get_by_role("link", name=re.compile("^Tugas tim")).click()
    row = tim2.get_by_role("row").filter(has_text=name)
    expect(row).to_have_count(1)
    expect(row.locator("td[data-label='Dipegang oleh']")).not_to_have_text("—")
    step1(tim, photos, CAPTION_1)

    clock.advance(hours=1)
    open_step(admin, name, 2)
    step2_accept(admin, "Dokumentasi lengkap.")
    clock.advance(hours=1)
    open_step(wapimred, name, 3)
    step3_correct(wapimred, CAPTION_2, "Tagar ditambah.")

    # Round 1: the Pimpinan Redaksi sends it straight back to the team.
    clock.advance(hours=1)
    open_step(pimred, name, 4)
    expect(pimred.get_by_role("radio", name="Revisi oleh Wakil Pimpinan Redaksi")).to_be_visible()
    before = returned_notices(live_server, "tim")
    step4_decide(pimred, "Revisi oleh Tim Pelaksana", RESPONSE)
    assert returned_notices(live_server, "tim") == before + 1  # told once, not also "Tugas baru"

    # Whoever handed it in holds it again, with the written response; nothing to take.
    tim.get_by_role("navigation", name="Menu utama").get_by_role("link", name="Kotak tugas").click()
    tim.get_by_role("navigation", name="Tab kotak tugas").get_by_role("link", name=re.compile("^Tugas saya")).click()
    tim.get_by_role("row").filter(has_text=name).get_by_role("link", name=re.compile(STEP_NAMES[1])).click()
    expect(tim.get_by_role("heading", level=1)).to_contain_text(STEP_NAMES[1])
    expect(tim.get_by_role("button", name="Ambil tugas")).to_have_count(0)
    banner = tim.locator(".banner-return")
    expect(banner).to_contain_text(RESPONSE)
    expect(banner).to_contain_text("Revisi oleh Tim Pelaksana")
    expect(tim.get_by_role("checkbox", name="Sertakan")).to_have_count(len(photos))  # the photos handed in stay
    textbox(tim, "Narasi berita").fill(
        "KPU Provinsi Sumatera Barat menggelar sosialisasi pendidikan pemilih bagi 120 pemilih pemula di "
        "Kecamatan Kuranji, Kota Padang.")
    submit(tim)

    clock.advance(hours=1)
    open_step(admin, name, 2)
    step2_accept(admin, "Lengkap, jumlah peserta sudah ada.")
    clock.advance(hours=1)
    open_step(wapimred, name, 3)
    step3_correct(wapimred, CAPTION_3, "Tagar pelajar ditambah.")

    # Round 2: the diff is against what the Pimpinan Redaksi saw at the revisi; the first submission a link away.
    clock.advance(hours=1)
    open_step(pimred, name, 4)
    diff = pimred.locator("section.diff")
    expect(diff.get_by_role("link", name="Sejak putaran sebelumnya")).to_have_attribute("aria-current", "page")
    inserted = diff.locator("ins.diff-ins")
    expect(inserted.filter(has_text="#PelajarMemilih")).not_to_have_count(0)
    expect(inserted.filter(has_text="#PemiluCerdas")).to_have_count(0)  # already there at the revisi
    expect(inserted.filter(has_text="120")).not_to_have_count(0)  # the team's new narrative
    diff.get_by_role("link", name="Sejak penyerahan pertama").click()
    diff = pimred.locator("section.diff")
    expect(diff.get_by_role("link", name="Sejak penyerahan pertama")).to_have_attribute("aria-current", "page")
    expect(diff.locator("ins.diff-ins").filter(has_text="#PemiluCerdas")).not_to_have_count(0)
    step4_decide(pimred, "Setuju diunggah", "Layak diunggah.")

"""The app on a 360 × 800 phone: the header's menu behind a button, no page scrolling sideways and nothing drawn
over anything else on any page the roles use, unsent form drafts surviving a reload, and the web app manifest
(installing on the home screen)."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.steps import STEP_NAMES, submit, take_if_needed, textbox, upload_photos

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 800}
WIDE = {"width": 1366, "height": 768}


def _phone(open_as, who: str):
    return open_as(who, viewport=PHONE, is_mobile=True, has_touch=True)


def _menu(page):
    return page.get_by_role("navigation", name="Menu utama")


def test_header_menu_collapses_on_a_phone(live_server, open_as):
    page = _phone(open_as, "admin")
    button = page.get_by_role("button", name=re.compile("^Menu"))
    expect(button).to_be_visible()
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(button).to_have_attribute("aria-controls", "main-menu")
    expect(_menu(page)).to_be_hidden()
    header = page.locator("header.topbar").bounding_box()
    assert header["height"] <= 72, f"the phone header is {header['height']} px tall"

    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(_menu(page).get_by_role("link", name="Kasus", exact=True)).to_be_visible()
    button.click()
    expect(_menu(page)).to_be_hidden()

    # The keyboard: Enter opens, Tab reaches the links, Escape closes and gives the focus back.
    button.focus()
    page.keyboard.press("Enter")
    expect(button).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("Tab")
    expect(_menu(page).get_by_role("link", name="Kotak tugas")).to_be_focused()
    page.keyboard.press("Escape")
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(button).to_be_focused()
    page.keyboard.press("Space")
    expect(button).to_have_attribute("aria-expanded", "true")
    _menu(page).get_by_role("link", name="Kasus", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert "/kasus" in page.url


def test_header_menu_without_javascript_and_on_a_wide_screen(live_server, open_as):
    plain = open_as("admin", viewport=PHONE, java_script_enabled=False)
    expect(_menu(plain).get_by_role("link", name="Kasus", exact=True)).to_be_visible()
    expect(plain.get_by_role("button", name=re.compile("^Menu"))).to_be_hidden()

    wide = open_as("admin", viewport=WIDE)
    expect(wide.get_by_role("button", name=re.compile("^Menu"))).to_be_hidden()
    expect(_menu(wide).get_by_role("link", name="Kasus", exact=True)).to_be_visible()
    header = wide.locator("header.topbar").bounding_box()
    assert header["height"] <= 80, f"the desktop header is {header['height']} px tall (one row expected)"


def _drafts(page) -> dict:
    """The drafts in the browser's storage, once drafts.js has done its work on the page."""
    expect(page.locator("body")).to_have_attribute("data-drafts-ready", "1")
    return page.evaluate("""() => Object.fromEntries(Object.keys(localStorage)
        .filter(k => k.startsWith("alur-draft:")).map(k => [k, JSON.parse(localStorage.getItem(k))]))""")


def _login(page, who: str) -> None:
    page.goto("/masuk")
    page.get_by_label("Nama pengguna").fill(who)
    page.get_by_label("Kata sandi").fill(f"rahasia-{who}")
    page.get_by_role("button", name="Masuk").click()
    page.wait_for_url(lambda url: "/masuk" not in url)


def test_step1_draft_survives_a_reload_until_sent(live_server, open_as, photos):
    name = "Draf Sosialisasi di Nagari Koto Baru"
    tim = _phone(open_as, "tim")
    tim.goto("/kasus/baru")
    tim.get_by_label("Nama kegiatan").fill(name)
    tim.get_by_label("Tempat kegiatan").fill("Balai Nagari Koto Baru")
    tim.get_by_role("button", name="Buat kasus dan buka langkah pertama").click()
    expect(tim.get_by_role("heading", level=1)).to_contain_text(STEP_NAMES[1])
    assert not _drafts(tim), "the new-case draft stays after the case was made"
    take_if_needed(tim)

    narasi = "KPU Sumbar menyosialisasikan tahapan pemilihan kepada warga Nagari Koto Baru."
    textbox(tim, "Narasi berita").fill(narasi)
    textbox(tim, "Caption kegiatan").press_sequentially("Sosialisasi #KPUSumbar", delay=10)
    tim.reload()
    expect(tim.get_by_role("status").filter(has_text="Isian yang belum dikirim dipulihkan")).to_be_visible()
    expect(textbox(tim, "Narasi berita")).to_have_value(narasi)
    expect(textbox(tim, "Caption kegiatan")).to_have_value("Sosialisasi #KPUSumbar")
    # The caption counters count the restored text too.
    expect(tim.get_by_role("list", name="Jumlah karakter per platform").locator("li", has_text="Instagram")
           ).to_contain_text("22/2200")

    # Refused (no photos yet): the page comes back with the form, the draft stays.
    tim.get_by_role("button", name="Kirim", exact=True).click()
    expect(tim.get_by_role("alert").filter(has_text="Formulir belum dapat dikirim")).to_be_visible()
    assert len(_drafts(tim)) == 1

    # "Buang draf" puts back what the server had and forgets the draft (the task page opened afresh: a reload
    # of the refused POST would send it again, and its page already shows what was typed).
    tim.goto(tim.url)
    tim.get_by_role("button", name="Buang draf").click()
    expect(tim.get_by_text("Isian yang belum dikirim dipulihkan")).to_have_count(0)
    expect(textbox(tim, "Narasi berita")).to_have_value("")
    assert not _drafts(tim)
    textbox(tim, "Narasi berita").fill(narasi)
    tim.reload()
    expect(textbox(tim, "Narasi berita")).to_have_value(narasi)

    upload_photos(tim, photos)
    textbox(tim, "Caption kegiatan").fill("Sosialisasi #KPUSumbar")
    textbox(tim, "Sumber dan verifikasi konten").fill("Foto oleh tim humas.")
    submit(tim)
    assert not _drafts(tim), "the draft stays after the form was accepted"


def test_a_draft_is_never_offered_to_another_user(live_server, open_as):
    tim = _phone(open_as, "tim")
    tim.goto("/kasus/baru")
    tim.get_by_label("Nama kegiatan").fill("Rapat yang belum jadi")
    tim.get_by_label("Tempat kegiatan").fill("Aula KPU")
    tim.reload()
    expect(tim.get_by_label("Nama kegiatan")).to_have_value("Rapat yang belum jadi")

    # The session ends without logging out (cookies gone): the draft is left behind in this browser...
    tim.context.clear_cookies()
    _login(tim, "tim2")
    tim.goto("/kasus/baru")
    expect(tim.get_by_label("Nama kegiatan")).to_have_value("")
    expect(tim.get_by_label("Tempat kegiatan")).to_have_value("")
    expect(tim.get_by_text("Isian yang belum dikirim dipulihkan")).to_have_count(0)
    assert len(_drafts(tim)) == 1, "tim's draft should still be kept for tim"
    tim.get_by_label("Nama kegiatan").fill("Draf tim2")
    tim.wait_for_timeout(600)  # past the debounce
    assert len(_drafts(tim)) == 2

    # ...for tim alone; logging out drops all of that user's drafts and nobody else's.
    tim.context.clear_cookies()
    _login(tim, "tim")
    tim.goto("/kasus/baru")
    expect(tim.get_by_label("Nama kegiatan")).to_have_value("Rapat yang belum jadi")
    tim.get_by_role("button", name=re.compile("^Menu")).click()
    tim.get_by_role("button", name=re.compile("^Keluar")).click()
    tim.wait_for_url(re.compile("/masuk"))
    left = _drafts(tim)
    assert len(left) == 1 and next(iter(left.values()))["values"]["nama_kegiatan#0"] == "Draf tim2", left

"""What a person does on the pages, one function per action, found by role and label as a person would."""
from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.factories import NARASI

STEP_NAMES = {
    1: "Menyerahkan dokumentasi kegiatan",
    2: "Menerima hasil dokumentasi",
    3: "Mengontrol dan mengoreksi",
    4: "Memberikan keputusan",
    5: "Mengunggah konten",
}


def textbox(page: Page, label: str):
    """A form's text field by its label (required ones are announced as "<label> (wajib)")."""
    return page.get_by_role("textbox", name=re.compile(rf"^{re.escape(label)}( \(wajib\))?$"))


def menu_link(page: Page, name: str, *, exact: bool = False):
    """A link of the main menu, opening the menu first on a phone (where it folds behind the "Menu" button)."""
    button = page.locator(".menu-button")
    if button.is_visible() and button.get_attribute("aria-expanded") != "true":
        button.click()
    return page.get_by_role("navigation", name="Menu utama").get_by_role("link", name=name, exact=exact)


def new_case(page: Page, nama: str, tempat: str) -> None:
    """Tim Pelaksana opens "Kasus baru", fills it in and lands on step 1."""
    menu_link(page, "Kasus baru").click()
    page.get_by_label("Nama kegiatan").fill(nama)
    expect(page.get_by_label("Tanggal kegiatan")).not_to_have_value("")  # today (server clock) by default
    page.get_by_label("Tempat kegiatan").fill(tempat)
    page.get_by_role("button", name="Buat kasus dan buka langkah pertama").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(STEP_NAMES[1])
    take_if_needed(page)


def take_if_needed(page: Page) -> None:
    """Claim explicitly when the page offers it (more than one person in the lane); else it is claimed already."""
    claim = page.get_by_role("button", name="Ambil tugas")
    if claim.count():
        claim.click()
    expect(page.get_by_role("button", name="Kirim", exact=True)).to_be_visible()


def open_step(page: Page, case_name: str, step: int) -> None:
    """From the inbox (team tab, else my tab), open the case's task at ``step`` and hold it."""
    menu_link(page, "Kotak tugas").click()
    tabs = page.get_by_role("navigation", name="Tab kotak tugas")
    for tab in ("Tugas tim", "Tugas saya"):
        tabs.get_by_role("link", name=re.compile(f"^{tab}")).click()
        # That tab's page has loaded (else the rows counted below may still be the previous tab's).
        expect(tabs.get_by_role("link", name=re.compile(f"^{tab}"))).to_have_attribute("aria-current", "page")
        link = page.get_by_role("row").filter(has_text=case_name).get_by_role(
            "link", name=re.compile(STEP_NAMES[step]))
        if link.count():
            link.click()
            break
    else:
        raise AssertionError(f"step {step} of {case_name!r} is in neither inbox tab of this user")
    expect(page.get_by_role("heading", level=1)).to_contain_text(STEP_NAMES[step])
    take_if_needed(page)


def submit(page: Page) -> None:
    page.get_by_role("button", name="Kirim", exact=True).click()
    expect(page.get_by_text("Tugas selesai.")).to_be_visible()


def upload_photos(page: Page, photos) -> None:
    """Step 1: choose the photos; each goes up with a progress bar and comes back as a thumbnail."""
    group = page.get_by_role("group", name=re.compile("Foto dokumentasi"))
    group.get_by_label("Pilih berkas").set_input_files([str(p) for p in photos])
    uploaded = group.locator("li.file-item[data-file-id]")
    expect(uploaded).to_have_count(len(photos), timeout=30_000)
    expect(group.locator("li.file-item.failed")).to_have_count(0)
    for i in range(len(photos)):
        expect(uploaded.nth(i).locator("img")).to_have_js_property("complete", True)
        assert uploaded.nth(i).locator("img").evaluate("img => img.naturalWidth") > 0, "thumbnail did not load"


def step1(page: Page, photos, caption: str) -> None:
    upload_photos(page, photos)
    textbox(page, "Narasi berita").fill(NARASI)
    textbox(page, "Caption kegiatan").fill(caption)
    counters = page.get_by_role("list", name="Jumlah karakter per platform")
    expect(counters.locator("li", has_text="Instagram")).to_contain_text(f"{len(caption)}/2200")
    textbox(page, "Sumber dan verifikasi konten").fill("Foto oleh tim humas; narasi diperiksa ketua divisi.")
    submit(page)


def step2_accept(page: Page, tanggapan: str) -> None:
    page.get_by_label("Dokumentasi minimal 4 foto").check()
    page.get_by_label("Narasi berita ada").check()
    page.get_by_label("Caption kegiatan ada").check()
    page.get_by_role("radio", name="Lengkap, teruskan ke Wakil Pimpinan Redaksi").check()
    textbox(page, "Tanggapan tertulis").fill(tanggapan)
    submit(page)


def step3_correct(page: Page, caption: str, tanggapan: str) -> None:
    expect(textbox(page, "Narasi berita (koreksi)")).not_to_have_value("")  # pre-filled from step 1
    textbox(page, "Caption (koreksi)").fill(caption)
    page.get_by_label("Konten sesuai kebutuhan dan valid").check()
    page.get_by_role("radio", name="Teruskan ke Pimpinan Redaksi").check()
    textbox(page, "Tanggapan tertulis").fill(tanggapan)
    submit(page)


def step4_decide(page: Page, keputusan: str, pertimbangan: str) -> None:
    page.get_by_role("radio", name=keputusan).check()
    textbox(page, "Pertimbangan tertulis").fill(pertimbangan)
    submit(page)


def step5_publish(page: Page, url: str, waktu: str) -> None:
    row = page.locator(".post-row").filter(has=page.get_by_label("Tautan unggahan Instagram"))
    row.get_by_role("checkbox", name=re.compile("Instagram")).check()
    row.get_by_label("Tautan unggahan Instagram").fill(url)
    row.get_by_label("Waktu unggah (WIB)").fill(waktu)
    submit(page)


def open_case(page: Page, case_name: str) -> None:
    menu_link(page, "Kasus", exact=True).click()
    page.get_by_role("link", name=case_name).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(case_name)


def wait_for_diagram(page: Page, *markers: str) -> None:
    """The bpmn-js viewer has drawn the diagram and marked the case's tasks."""
    expect(page.locator("[data-bpmn-diagram] .djs-container")).to_be_visible()
    for marker in markers:
        expect(page.locator(f".djs-element.{marker}").first).to_be_attached()

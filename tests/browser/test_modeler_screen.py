"""The modeler page on a 1366×768 screen, in the user's language: the editor fits the window, the replace menu of a
boundary event opens inside it and its entries can be clicked; the palette, context pad, menus and panel read in
Bahasa Indonesia (English for an English user) with no Camunda vocabulary; undo/redo buttons and keys; a draft kept
in the browser across reloads (continued, discarded, cleared by a deploy); axe-core on the page with the panel open.

Deploys a version: a module-scoped server of its own (like tests/browser/test_modeler.py)."""
from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import serve_app
from tests.browser.test_accessibility import _axe, _report
from tests.browser.test_modeler import open_group, select_shape

pytestmark = pytest.mark.browser

LAPTOP = {"width": 1366, "height": 768}
TIMER = "Timer_Unggah"  # the boundary event nearest the canvas' bottom-right corner
TIMER_NAME = "Batas waktu H+1"
TASK = "Task_Unggah"
TASK_NAME = "Mengunggah konten ke platform media sosial KPU Provinsi Sumatera Barat"


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    with serve_app(tmp_path_factory.mktemp("modeler-screen"), name="alur-modeler-screen-server") as server:
        yield server


def open_modeler(page: Page, english: bool = False) -> None:
    if english:
        page.goto("/bahasa/en")
    page.goto("/proses/modeler")
    expect(page.locator("[data-modeler]")).to_have_attribute("data-state", "ready")
    expect(page.locator("[data-modeler]")).to_have_attribute("data-validation", "done")


def inside(box: dict, view: dict) -> bool:
    return (box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= view["width"] + 0.5
            and box["y"] + box["height"] <= view["height"] + 0.5)


def visible_words(page: Page) -> str:
    """What a reader meets on the page: its visible text, and the titles and accessible names of its controls."""
    return page.evaluate("""() => {
        const names = [...document.querySelectorAll('[title], [aria-label], option, [placeholder]')]
            .map(e => [e.getAttribute('title'), e.getAttribute('aria-label'), e.getAttribute('placeholder'),
                       e.tagName === 'OPTION' ? e.textContent : null].filter(Boolean).join(' '));
        return document.body.innerText + '\\n' + names.join('\\n');
    }""")


def open_every_group(page: Page) -> None:
    headers = page.locator("[data-properties] .bio-properties-panel-group > .bio-properties-panel-group-header")
    for index in range(headers.count()):
        header = headers.nth(index)
        if "open" not in (header.get_attribute("class") or "").split() and header.locator(
                ".bio-properties-panel-arrow").count():
            header.click()


def pick(page: Page, element_id: str) -> None:
    """Selects an element by a point near its top-right corner (a lane's own area, not a shape inside it)."""
    box = page.locator(f'.djs-element[data-element-id="{element_id}"]').first.bounding_box()
    page.mouse.click(box["x"] + box["width"] - 6, box["y"] + min(10, box["height"] / 2))


def tour(page: Page) -> None:
    """Every kind of element of the bundled diagram selected, every panel section opened, the replace menus seen."""
    for element_id in ("Lane_AdminMedsos", "StartEvent_Kegiatan", "Task_Terima", "Gateway_MasukPenyerahan", TIMER,
                       "End_Terlambat_Serahkan"):
        if element_id.startswith("Lane_"):
            pick(page, element_id)
        else:
            page.locator(f'.djs-element[data-element-id="{element_id}"]').click()
        expect(page.locator("[data-properties] .bio-properties-panel-header")).to_be_visible()
        open_every_group(page)
        replace = page.locator('.djs-context-pad .entry[data-action="replace"]')
        canvas = page.locator("[data-canvas]").bounding_box()
        entry = replace.bounding_box() if replace.count() else None
        if entry and inside({**entry, "x": entry["x"] - canvas["x"], "y": entry["y"] - canvas["y"]}, canvas):
            replace.click()
            expect(page.locator(".djs-popup")).to_be_visible()
            page.keyboard.press("Escape")


def test_at_1366x768_the_editor_and_the_boundary_events_replace_menu_fit_the_window(live_server, open_as,
                                                                                      artifacts):
    page = open_as("owner", viewport=LAPTOP)
    open_modeler(page)
    for part in ("[data-canvas]", "[data-properties]", ".djs-palette", ".modeler-toolbar"):
        box = page.locator(part).bounding_box()
        assert inside(box, LAPTOP), (part, box)

    select_shape(page, TIMER, TIMER_NAME)
    page.locator('.djs-context-pad .entry[data-action="replace"]').click()
    menu = page.locator(".djs-popup")
    expect(menu).to_be_visible()
    expect(menu.locator(".djs-popup-title")).to_have_text("Ganti jenis elemen")
    assert inside(menu.bounding_box(), LAPTOP), menu.bounding_box()
    page.screenshot(path=str(artifacts / "modeler-replace-menu-1366.png"))
    # an entry reached by the pointer, without typing in the search box: the menu's list scrolls inside the window
    entry = menu.locator(".entry", has_text="Batas waktu (menghentikan langkah)")
    entry.scroll_into_view_if_needed()
    assert inside(entry.bounding_box(), LAPTOP)
    entry.click()
    expect(menu).to_have_count(0)
    header = page.locator("[data-properties] .bio-properties-panel-header-type")
    expect(header).to_have_text(re.compile("Batas waktu \\(menghentikan langkah\\)", re.I))
    # and undone with the toolbar's button: the boundary event is the non-interrupting one it was
    page.get_by_role("button", name="Urungkan").click()
    expect(page.locator(f'.djs-element[data-element-id="{TIMER}"]')).to_have_count(1)


def test_the_modeler_speaks_indonesian_without_camunda_words(live_server, open_as):
    page = open_as("owner", viewport=LAPTOP)
    open_modeler(page)
    palette = page.locator(".djs-palette")
    expect(palette.locator('[data-action="create.task"]')).to_have_attribute("aria-label", "Buat langkah")
    expect(palette.locator('[data-action="create.exclusive-gateway"]')).to_have_attribute(
        "aria-label", "Buat percabangan")
    expect(palette.locator('[data-action="create.participant-expanded"]')).to_have_attribute(
        "aria-label", "Buat wadah proses (pool)")

    select_shape(page, TASK, TASK_NAME)
    pad = page.locator(".djs-context-pad")
    expect(pad.locator('[data-action="append.append-task"]')).to_have_attribute("title", "Tambah langkah sesudahnya")
    expect(pad.locator('[data-action="delete"]')).to_have_attribute("title", "Hapus")
    headers = page.locator("[data-properties] .bio-properties-panel-group-header-title")
    for title in ("Umum", "Keterangan", "Penugasan", "Formulir", "Field formulir", "Aturan prosedur"):
        expect(headers.filter(has_text=re.compile(f"^{re.escape(title)}$"))).to_have_count(1)
    expect(page.locator("[data-properties] .bio-properties-panel-header-type")).to_have_text(
        re.compile("Langkah oleh petugas", re.I))
    forms = open_group(page, "group-CamundaPlatform__Form").get_by_label("Jenis", exact=True)
    expect(forms.locator("option:checked")).to_have_text("Field formulir (isian)")

    pick(page, "Lane_Pimred")
    expect(page.locator("[data-properties] .bio-properties-panel-header-label")).to_have_text("Pimpinan Redaksi")
    expect(page.locator(".djs-context-pad").locator('[data-action="lane-insert-above"]')).to_have_attribute(
        "title", "Tambah lajur di atas")
    select_shape(page, TIMER, TIMER_NAME)
    expect(headers.filter(has_text=re.compile("^Batas waktu$"))).to_have_count(1)
    timer_type = open_group(page, "group-timer").get_by_label("Jenis", exact=True)
    expect(timer_type.locator("option:checked")).to_have_text("Tanggal")

    # the replace menu's entries and its search, in Indonesian
    page.locator('.djs-context-pad .entry[data-action="replace"]').click()
    menu = page.locator(".djs-popup")
    expect(menu.locator(".entry", has_text="Batas waktu (menghentikan langkah)")).to_have_count(1)
    menu.locator("input").press_sequentially("pesan")  # the menu searches as keys go up
    expect(menu.locator(".djs-popup-search-count")).to_have_text(re.compile(r"^\s*[1-9]\d* hasil\s*$"))
    expect(menu.locator(".entry", has_text="Pesan pada langkah (langkah tetap berjalan)")).to_be_visible()
    menu.locator("input").press("Control+a")
    menu.locator("input").press_sequentially("sinyal")
    expect(menu.locator(".djs-popup-search-count")).to_have_text(re.compile(r"^\s*[1-9]\d* hasil\s*$"))
    page.keyboard.press("Escape")

    tour(page)
    words = visible_words(page)
    assert "camunda" not in words.lower()
    for english in ("Create task", "Append task", "General", "Documentation", "Form fields", "Change element",
                    "Create new list item", "Section contains edits", "Toggle section"):
        assert english not in words, english
    untranslated = json.loads(page.locator("[data-modeler]").get_attribute("data-untranslated") or "[]")
    assert untranslated == [], f"no Indonesian for: {untranslated}"


def test_an_english_user_reads_the_modeler_in_english_without_camunda_words(live_server, open_as):
    page = open_as("owner", viewport=LAPTOP)
    open_modeler(page, english=True)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator('.djs-palette [data-action="create.task"]')).to_have_attribute("aria-label", "Create task")
    select_shape(page, TASK, TASK_NAME)
    expect(page.locator('.djs-context-pad [data-action="append.append-task"]')).to_have_attribute(
        "title", "Append task")
    headers = page.locator("[data-properties] .bio-properties-panel-group-header-title")
    for title in ("General", "Documentation", "Forms", "Form fields", "Procedure rules"):
        expect(headers.filter(has_text=re.compile(f"^{re.escape(title)}$"))).to_have_count(1)
    rules = open_group(page, "group-alur-rules")
    expect(rules.get_by_label("Step number")).to_have_value("5")
    expect(rules.get_by_label("Short name")).to_be_visible()
    forms = open_group(page, "group-CamundaPlatform__Form").get_by_label("Type", exact=True)
    expect(forms.locator("option:checked")).to_have_text("Form fields")
    expect(page.get_by_role("button", name="Undo")).to_be_disabled()
    tour(page)
    words = visible_words(page)
    assert "camunda" not in words.lower()
    for indonesian in ("Buat langkah", "Umum", "Aturan prosedur", "Nomor langkah", "Urungkan"):
        assert indonesian not in words, indonesian


def test_undo_and_redo_with_the_buttons_and_the_keys(live_server, open_as):
    page = open_as("owner", viewport=LAPTOP)
    open_modeler(page)
    undo, redo = page.get_by_role("button", name="Urungkan"), page.get_by_role("button", name="Ulangi")
    expect(undo).to_be_disabled()
    expect(redo).to_be_disabled()
    expect(undo).to_have_attribute("aria-keyshortcuts", "Control+Z")

    select_shape(page, TIMER, TIMER_NAME)
    name = open_group(page, "group-general").get_by_label("Nama", exact=True)
    name.fill("Batas waktu unggah")
    label = page.locator(f'.djs-element[data-element-id="{TIMER}_label"]')
    expect(label).to_contain_text("Batas waktu unggah")
    expect(undo).to_be_enabled()

    undo.click()
    expect(label).to_contain_text(TIMER_NAME)
    expect(undo).to_be_disabled()
    expect(redo).to_be_enabled()
    redo.click()
    expect(label).to_contain_text("Batas waktu unggah")

    # the keys, on the canvas (bpmn-js' own bindings)
    page.locator(f'.djs-element[data-element-id="{TASK}"]').click()
    page.keyboard.press("Control+z")
    expect(label).to_contain_text(TIMER_NAME)
    expect(redo).to_be_enabled()
    page.keyboard.press("Control+y")
    expect(label).to_contain_text("Batas waktu unggah")


def draft_keys(page: Page) -> list[str]:
    return page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('alur-modeler-draft:'))")


def test_a_draft_survives_a_reload_is_continued_or_discarded_and_a_deploy_clears_it(live_server, open_as, artifacts):
    page = open_as("owner", viewport=LAPTOP)
    open_modeler(page)
    assert draft_keys(page) == []
    select_shape(page, TASK, TASK_NAME)
    open_group(page, "group-general").get_by_label("Nama", exact=True).fill("Mengunggah konten (draf)")
    modeler = page.locator("[data-modeler]")
    expect(modeler).to_have_attribute("data-draft-saved", "true")
    keys = draft_keys(page)
    assert len(keys) == 1 and keys[0].endswith(":alur_pengunggahan:1"), keys

    # reload: the draft is offered; continuing opens it
    page.on("dialog", lambda dialog: dialog.accept())  # the "leave the page?" question of unsaved edits
    page.reload()
    expect(modeler).to_have_attribute("data-state", "ready")
    offer = page.get_by_role("region", name=re.compile("draf diagram yang belum diterapkan"))
    expect(offer).to_be_visible()
    resume = offer.get_by_role("button", name=re.compile(r"^Lanjutkan draf \(disimpan .+ WIB\)$"))
    expect(resume).to_be_focused()
    page.screenshot(path=str(artifacts / "modeler-draft-offer.png"))
    resume.click()
    expect(offer).to_be_hidden()
    task = page.locator(f'.djs-element[data-element-id="{TASK}"]')
    expect(task).to_contain_text("(draf)")
    expect(modeler).to_have_attribute("data-dirty", "true")

    # reload again: still offered; discarding it opens the server's diagram, and no draft is left
    page.reload()
    expect(modeler).to_have_attribute("data-state", "ready")
    offer.get_by_role("button", name="Buang draf").click()
    expect(offer).to_be_hidden()
    expect(task).not_to_contain_text("(draf)")
    assert draft_keys(page) == []
    page.reload()
    expect(modeler).to_have_attribute("data-state", "ready")
    expect(modeler).to_have_attribute("data-validation", "done")
    expect(offer).to_be_hidden()

    # an edit kept as a draft, then deployed: the draft is gone
    select_shape(page, TASK, TASK_NAME)
    open_group(page, "group-general").get_by_label("Nama", exact=True).fill("Mengunggah konten ke platform")
    expect(modeler).to_have_attribute("data-draft-saved", "true")
    assert len(draft_keys(page)) == 1
    page.get_by_role("button", name="Terapkan").click()
    page.get_by_role("dialog").get_by_role("button", name="Ya, terapkan").click()
    expect(page.locator("[data-result]")).to_have_attribute("data-outcome", "deployed")
    assert draft_keys(page) == []


@pytest.mark.parametrize("english", [False, True], ids=["id", "en"])
def test_the_modeler_with_an_element_selected_has_no_serious_axe_violations(live_server, open_as, axe_script,
                                                                            english):
    page = open_as("owner", viewport=LAPTOP, bypass_csp=True)  # axe-core is injected as an inline script
    open_modeler(page, english=english)
    select_shape(page, TASK, re.compile(".+"))
    open_every_group(page)
    where = f"/proses/modeler ({'en' if english else 'id'}), a task selected, every panel section open"
    violations = _axe(page, axe_script, where)
    assert not violations, _report(where, violations)

    select_shape(page, TIMER, re.compile(".+"))
    page.locator('.djs-context-pad .entry[data-action="replace"]').click()
    expect(page.locator(".djs-popup")).to_be_visible()
    where = f"/proses/modeler ({'en' if english else 'id'}), the replace menu open"
    violations = _axe(page, axe_script, where)
    assert not violations, _report(where, violations)

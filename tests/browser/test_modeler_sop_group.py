"""Issue 16's acceptance line for the modeler's group "SOP" (frontend/sop-panel.js): a process owner, in the Indonesian
UI, adds a step with two *Kelengkapan* fields and a "2 hari kerja" *Waktu* using only the SOP group, validates,
deploys, and downloads the new version's SOP PDF, which shows them in the step's row.

The new task is drawn the way a person draws it: the palette's task dropped onto the flow "Setuju" (bpmn-js splits the
flow around it), in the lane of the Wakil Pimpinan Redaksi. Everything else — making it a step, its description, its
Kelengkapan, its Waktu and its Output — is entered in the group "SOP". axe-core finds no serious violation on the
modeler with the group open.

This test deploys a version, so it runs on a server of its own (other browser tests walk version 1)."""
from __future__ import annotations

import re
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from lxml import etree
from playwright.sync_api import Page, expect

from tests.browser.conftest import serve_app
from tests.browser.test_accessibility import _axe, _report
from tests.browser.test_modeler_rules import exported, open_the_modeler

pytestmark = pytest.mark.browser

STEP = "Memverifikasi surat tugas peliputan"
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
ALUR = "urn:alur-medsos:bpmn:1"
NS = {"bpmn": BPMN, "camunda": CAMUNDA, "alur": ALUR}


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    with serve_app(tmp_path_factory.mktemp("sopgroup"), name="alur-sopgroup-server") as server:
        yield server


def screen_point(page: Page, x: float, y: float) -> tuple[float, float]:
    """Where the diagram's point (x, y) is on the screen, from two shapes of known bounds (bpmn/ DI)."""
    a = page.locator('.djs-element[data-element-id="Task_Serahkan"] .djs-hit').first.bounding_box()
    b = page.locator('.djs-element[data-element-id="Task_Unggah"] .djs-hit').first.bounding_box()
    scale = (b["x"] - a["x"]) / (2110 - 440)
    return a["x"] + (x - 440) * scale, a["y"] + (y - 110) * scale


def draw_a_task_on_the_flow(page: Page) -> None:
    """The palette's task, dropped on the flow "Setuju" (x=2070 from y=810 up to 370) in the Wapimred lane."""
    page.locator('.djs-palette [data-action="create.task"]').click()
    x, y = screen_point(page, 2070, 630)
    page.mouse.move(x - 40, y - 40)
    page.mouse.move(x, y, steps=8)
    page.mouse.click(x, y)
    page.keyboard.press("Escape")  # the label editor bpmn-js opens on a new task: the name comes from the SOP group


def sop_group(page: Page):
    group = page.locator('[data-properties] [data-group-id="group-alur-sop-step"]')
    expect(group.locator(".bio-properties-panel-group-header-title")).to_have_text(
        "SOP: Pelaksana, Kelengkapan, Waktu, Output")
    expect(group.locator(":scope > .bio-properties-panel-group-entries")).to_have_class(re.compile(r"\bopen\b"))
    return group


def add_item(group, name: str) -> None:
    group.get_by_label("Kelengkapan baru: nama").fill(name)
    group.get_by_role("button", name="Tambah kelengkapan").click()


def pdf_text(data: bytes) -> str:
    pdf = pdfium.PdfDocument(data)
    return "\n".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))


def test_an_owner_adds_a_step_with_the_sop_group_and_its_sop_pdf_shows_it(live_server, open_as, axe_script,
                                                                           artifacts):
    page = open_as("owner", bypass_csp=True)  # axe-core is injected as an inline script
    open_the_modeler(page)
    draw_a_task_on_the_flow(page)

    # A plain task: the group offers to make it a step of the SOP (a user task).
    group = sop_group(page)
    group.get_by_role("button", name="Jadikan langkah SOP (tugas pengguna)").click()
    group = sop_group(page)
    group.get_by_label("Uraian prosedur").fill(STEP)
    expect(page.locator("[data-properties] .bio-properties-panel-header-label")).to_have_text(STEP)
    expect(group.get_by_label("Pelaksana", exact=True)).to_have_value("Lane_Wapimred")
    expect(group.get_by_label("Nama pelaksana (nama lajur)")).to_have_value("Wakil Pimpinan Redaksi")
    expect(group.get_by_text("Belum ada kelengkapan.")).to_be_visible()

    # Kelengkapan 1: a file, at least one, required (new items are required).
    add_item(group, "Surat tugas")
    expect(group.get_by_label("Kelengkapan 1: nama")).to_have_value("Surat tugas")
    group.get_by_label("Kelengkapan 1: jenis").select_option(label="Berkas/foto")
    expect(group.get_by_label("Kelengkapan 1: wajib diisi")).to_be_checked()
    group.get_by_label("Kelengkapan 1: minimal jumlah berkas").fill("1")
    # Kelengkapan 2: a long text, not required, still printed in the SOP's Kelengkapan.
    add_item(group, "Catatan")
    group.get_by_label("Kelengkapan 2: jenis").select_option(label="Teks panjang")
    group.get_by_label("Kelengkapan 2: wajib diisi").uncheck()
    expect(group.get_by_label("Kelengkapan 2: di dokumen SOP")).to_be_checked()

    # Waktu: two working days after the documentation was handed in (step 1's stamp, the default reference).
    group.get_by_label("Waktu", exact=True).select_option(label="n hari kerja")
    group.get_by_label("Waktu: jumlah hari").fill("2")
    page.keyboard.press("Tab")
    expect(group.get_by_label("Waktu: dihitung dari")).to_have_value("tanggal_pengumpulan")
    expect(group).to_contain_text("Di dokumen SOP: 2 hari kerja setelah pengumpulan dokumentasi dan konten")

    # Output in the owner's words.
    group.get_by_label("Output", exact=True).select_option(label="Kata-kata sendiri\u2026")
    group.get_by_label("Output: kata-kata sendiri").fill("Surat tugas terverifikasi")
    page.keyboard.press("Tab")
    page.screenshot(path=str(artifacts / "sop-group.png"), full_page=True)

    violations = _axe(page, axe_script, "modeler with the SOP group")
    assert not violations, _report("modeler with the SOP group", violations)

    # What the page exports: the form fields, the SOP's items, the timer attached to the step, the deadline rule.
    root = etree.fromstring(exported(page))
    (task,) = root.xpath("//bpmn:userTask[@name=$name]", namespaces=NS, name=STEP)
    fields = task.xpath("bpmn:extensionElements/camunda:formData/camunda:formField", namespaces=NS)
    assert [(f.get("id"), f.get("label"), f.get("type")) for f in fields] == [
        ("surat_tugas", "Surat tugas", "files"), ("catatan", "Catatan", "text")]
    assert [(c.get("name"), c.get("config")) for c in fields[0].xpath(".//camunda:constraint", namespaces=NS)] == [
        ("required", None), ("min_files", "1")]
    assert not fields[1].xpath(".//camunda:constraint", namespaces=NS)
    (step,) = task.xpath("bpmn:extensionElements/alur:step", namespaces=NS)
    assert dict(step.attrib) == {"deadline": "required", "output": "Surat tugas terverifikasi"}
    assert [dict(i.attrib) for i in step] == [{"field": "surat_tugas"}, {"field": "catatan"}]
    (timer,) = root.xpath("//bpmn:boundaryEvent[@attachedToRef=$id]", namespaces=NS, id=task.get("id"))
    assert timer.get("cancelActivity") == "false" and timer.get("name") == "Batas waktu 2 hari kerja"
    assert timer.xpath("string(bpmn:timerEventDefinition/bpmn:timeDate)", namespaces=NS) == (
        "akhir_hari_kerja(tanggal_pengumpulan, 2)")
    (lane,) = root.xpath("//bpmn:lane[bpmn:flowNodeRef=$id]", namespaces=NS, id=task.get("id"))
    assert lane.get("name") == "Wakil Pimpinan Redaksi"

    page.get_by_role("button", name="Validasi").click()
    result = page.locator("[data-result]")
    expect(result).to_have_attribute("data-outcome", "valid")
    expect(page.locator('[data-problems] li[data-severity="error"]')).to_have_count(0)

    page.get_by_role("button", name="Terapkan").click()
    dialog = page.get_by_role("dialog", name="Terapkan sebagai versi baru?")
    dialog.get_by_role("button", name="Ya, terapkan").click()
    expect(result).to_have_attribute("data-outcome", "deployed")
    expect(result).to_contain_text("Versi 2 diterapkan.")

    page.goto("/proses/versi/2/sop")
    row = page.locator("table.sop-rows tbody tr").filter(has_text=STEP)
    expect(row).to_contain_text("Surat tugas")
    expect(row).to_contain_text("Catatan")
    expect(row).to_contain_text("2 hari kerja setelah pengumpulan dokumentasi dan konten")
    with page.expect_download() as download:
        page.get_by_role("link", name="Unduh PDF (A4)").click()
    assert download.value.suggested_filename == "sop-alur_pengunggahan-v2.pdf"
    text = pdf_text(Path(download.value.path()).read_bytes())
    flat = " ".join(text.split())
    assert "Memverifikasi surat tugas" in flat, flat[:3000]
    after = flat[flat.index("Memverifikasi surat tugas"):]
    assert "Surat tugas" in after[len("Memverifikasi surat tugas"):] and "Catatan" in after, after[:600]
    assert "2 hari kerja" in after and "Surat tugas terverifikasi" in after, after[:600]


def test_the_sop_group_moves_a_step_between_actors_and_takes_its_deadline_out(open_as):
    """An existing step (5, the upload): the group shows its deadline in the SOP's words and the items it prints that
    are not its fields; choosing another Pelaksana moves it (its timer with it) into that lane; Waktu "Tidak ada"
    takes out the timer, the late notice only it leads to, and the rule that the step must have a deadline."""
    page = open_as("owner")
    open_the_modeler(page)
    upload = "Mengunggah konten ke platform media sosial KPU Provinsi Sumatera Barat"
    page.locator('.djs-element[data-element-id="Task_Unggah"]').click()
    expect(page.locator("[data-properties] .bio-properties-panel-header-label")).to_have_text(upload)
    group = sop_group(page)
    expect(group.get_by_label("Waktu", exact=True)).to_have_value("calendar")
    expect(group.get_by_label("Waktu: jumlah hari")).to_have_value("1")
    expect(group.get_by_label("Waktu: dihitung dari")).to_have_value("tanggal_kegiatan")
    expect(group).to_contain_text("Di dokumen SOP: H+1 setelah kegiatan")
    expect(group).to_contain_text("Dicetak juga di Kelengkapan: Konten media sosial")
    expect(group.get_by_label("Output", exact=True)).to_have_value("other")
    expect(group.get_by_label("Output: kata-kata sendiri")).to_have_value("Rekapitulasi konten media sosial")

    group.get_by_label("Pelaksana", exact=True).select_option(label="Pimpinan Redaksi")
    expect(group.get_by_label("Pelaksana", exact=True)).to_have_value("Lane_Pimred")
    expect(group.get_by_label("Nama pelaksana (nama lajur)")).to_have_value("Pimpinan Redaksi")
    root = etree.fromstring(exported(page))
    refs = set(root.xpath("//bpmn:lane[@id='Lane_Pimred']/bpmn:flowNodeRef/text()", namespaces=NS))
    assert {"Task_Unggah", "Timer_Unggah"} <= refs, refs

    group.get_by_label("Waktu", exact=True).select_option(label="Tidak ada")
    expect(group.get_by_label("Waktu: jumlah hari")).to_have_count(0)
    root = etree.fromstring(exported(page))
    for gone in ("Timer_Unggah", "Notif_Unggah", "End_Terlambat_Unggah", "Flow_Timer_Unggah", "Flow_Notif_Unggah"):
        assert not root.xpath("//*[@id=$id]", id=gone), gone
    (step,) = root.xpath("//bpmn:userTask[@id='Task_Unggah']/bpmn:extensionElements/alur:step", namespaces=NS)
    assert step.get("deadline") is None and step.get("number") == "5"
    assert root.xpath("//bpmn:boundaryEvent[@id='Timer_Putuskan']", namespaces=NS)  # other steps' timers stay

    # One choice, one undo: the timer, its late-notice path and the rule come back together.
    page.locator('.djs-element[data-element-id="Task_Unggah"]').click()
    page.keyboard.press("Control+z")
    expect(page.locator('.djs-element[data-element-id="Timer_Unggah"]')).to_be_attached()
    expect(page.locator('.djs-element[data-element-id="End_Terlambat_Unggah"]')).to_be_attached()
    page.locator('.djs-element[data-element-id="Task_Unggah"]').click()
    expect(sop_group(page).get_by_label("Waktu", exact=True)).to_have_value("calendar")
    (step,) = etree.fromstring(exported(page)).xpath(
        "//bpmn:userTask[@id='Task_Unggah']/bpmn:extensionElements/alur:step", namespaces=NS)
    assert step.get("deadline") == "required"

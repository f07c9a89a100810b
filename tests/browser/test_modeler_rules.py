"""The modeler's group "Aturan prosedur": a process owner declares the procedure's rules (the ``alur:`` extension
namespace, docs/extension-namespace.md) in the properties panel, and the diagram the page exports carries them.

A rule that names another step (``alur:return/@to``) names it by reference: renaming that step's id in the panel
renames it in the export. A diagram carrying every kind of declaration comes back from the modeler with each of them.

Nothing here deploys: the session's server is enough."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import etree
from playwright.sync_api import Page, expect

from tests.browser.test_modeler import open_group, select_shape

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "bpmn" / "alur_pengunggahan.bpmn"
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
ALUR = "urn:alur-medsos:bpmn:1"
A = f"{{{ALUR}}}"

#: Every kind of declaration of the doc, on the bundled diagram's elements; one reference points nowhere
#: (``Task_Hilang``): the modeler keeps it as it is, the server names the problem.
DECLARATIONS = {
    "alur_pengunggahan": '<alur:procedure title="nama_kegiatan" date="tanggal_kegiatan" place="tempat_kegiatan" '
                         'team="tim" reference="SOP Nomor 21 Tahun 2025" responsesTitle="Tanggapan Tertulis" '
                         'recapTitle="Rekapitulasi"><alur:text field="narasi" label="Narasi berita" '
                         'correction="narasi_koreksi"/>'
                         '<alur:text field="caption" label="Caption" correction="caption_koreksi" counter="true"/>'
                         '<alur:basis text="Undang-Undang Nomor 14 Tahun 2008"/>'
                         '<alur:sign heading="Dibuat oleh," role="Admin Media Sosial"/>'
                         '<alur:sign heading="Mengetahui," role="Pimpinan Redaksi"/>'
                         '</alur:procedure>'
                         '<alur:sop number="Nomor 21 Tahun 2025" created="2023-03-14" revised="2025-05-06" '
                         'effective="2025-05-06" approverTitle="Sekretaris" approverName="Irzal Zamzami" '
                         'approverNip="19740310 199303 1 002" office="KPU Provinsi Sumatera Barat">'
                         '<alur:legalBasis text="UU 14/2008"/><alur:legalBasis text="PP 61/2010"/>'
                         '<alur:qualification text="Menguasai aplikasi"/><alur:related text="SOP Website"/>'
                         '<alur:equipment text="Komputer"/><alur:warning text="Konten valid"/>'
                         '<alur:recording text="Softcopy dan hardcopy"/></alur:sop>',
    "Lane_TimPelaksana": '<alur:lane teamScoped="true"/>',
    "Lane_Pimred": '<alur:lane group="pimred" hearsOverdue="true"/>',
    "Task_Serahkan": '<alur:step number="1" label="Penyerahan" deadline="required" output="Register">'
                     '<alur:stamp date="tanggal_pengumpulan" time="waktu_pengumpulan" label="pengumpulan"/>'
                     '<alur:input field="foto" text="Dokumentasi"/><alur:input text="Narasi"/></alur:step>',
    "Task_Terima": '<alur:step number="2" label="Penerimaan"><alur:register field="nomor_register" '
                   'format="{seq:03d}/REG/{year}" title="Register" by="Diserahkan oleh" columns="caption"/>'
                   '<alur:response decision="keputusan_admin" text="tanggapan_admin"/>'
                   '<alur:return field="keputusan_admin" value="dikembalikan" to="Task_Serahkan" '
                   'response="tanggapan_admin"/>'
                   '<alur:require when="keputusan_admin" equals="diterima" fields="cek_foto cek_narasi cek_caption" '
                   'message="Centang semua kelengkapan."/>'
                   '<alur:require when="keputusan_admin" equals="dikembalikan" fields="tanggapan_admin"/></alur:step>',
    "Task_Koreksi": '<alur:step number="3" label="Koreksi" deadline="optional"><alur:separate from="Task_Hilang"/>'
                    '<alur:compare/></alur:step>',
    "Task_Putuskan": '<alur:step number="4" label="Keputusan" deadline="required">'
                     '<alur:response decision="keputusan_pimred" text="pertimbangan"/>'
                     '<alur:return field="keputusan_pimred" value="revisi" to="Task_Koreksi" response="pertimbangan"/>'
                     '<alur:reject field="keputusan_pimred" value="tolak"/><alur:separate from="Task_Serahkan"/>'
                     '<alur:compare/></alur:step>',
    "Task_Unggah": '<alur:step number="5" label="Unggah"><alur:record kind="posts" field="publikasi"/>'
                   '<alur:compare copy="true"/></alur:step>',
    "EndEvent_Dipublikasikan": '<alur:outcome code="dipublikasikan" label="Dipublikasikan"/>',
    "EndEvent_Ditolak": '<alur:outcome code="ditolak" label="Tidak dipublikasikan"/>',
}


def declared_diagram(declared: dict[str, str] | None = None) -> bytes:
    """The bundled diagram with exactly ``declared`` (DECLARATIONS by default; whatever alur: declarations it has
    itself are left out)."""
    declared = DECLARATIONS if declared is None else declared
    tree = etree.parse(str(BUNDLED), etree.XMLParser(remove_blank_text=True))
    old = tree.getroot()
    for node in list(old.iter(f"{A}*")):
        node.getparent().remove(node)
    root = etree.Element(old.tag, nsmap={**old.nsmap, "alur": ALUR}, attrib=dict(old.attrib))
    root.extend(list(old))
    for element_id, xml in declared.items():
        (element,) = root.xpath("//*[@id=$id]", id=element_id)
        ext = element.find(f"{{{BPMN}}}extensionElements")
        if ext is None:
            ext = etree.Element(f"{{{BPMN}}}extensionElements")
            docs = element.findall(f"{{{BPMN}}}documentation")
            element.insert(len(docs), ext)
        ext.extend(list(etree.fromstring(f'<x xmlns:alur="{ALUR}">{xml}</x>')))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def declarations(xml: bytes) -> set[tuple]:
    """Every alur: element of a diagram: (owning BPMN element's id, path of alur: tags, attributes)."""
    found = set()
    for node in etree.fromstring(xml).iter(f"{A}*"):
        path, owner = [], node
        while owner.tag.startswith(A):
            path.append(etree.QName(owner).localname)
            owner = owner.getparent()
        owner = owner.getparent()  # bpmn:extensionElements → the element it is about
        found.add((owner.get("id"), "/".join(reversed(path)), tuple(sorted(node.attrib.items()))))
    return found


def exported(page: Page) -> bytes:
    """The diagram as the page's "Unduh .bpmn" gives it."""
    with page.expect_download() as download:
        page.get_by_role("button", name="Unduh .bpmn").click()
    return Path(download.value.path()).read_bytes()


def open_item(item):
    """A list item of the panel, opened if it is closed (a new one opens by itself, unless the panel re-rendered)."""
    expect(item).to_be_visible()
    entries = item.locator(":scope > .bio-properties-panel-collapsible-entry-entries")
    if "open" not in (entries.get_attribute("class") or "").split():
        item.locator(":scope > .bio-properties-panel-collapsible-entry-header").click()
    expect(entries).to_have_class(re.compile(r"\bopen\b"))
    return item


def open_the_modeler(page: Page) -> None:
    page.goto("/proses/modeler")
    expect(page.locator("[data-modeler]")).to_have_attribute("data-state", "ready")
    expect(page.locator(".djs-container > svg")).to_be_visible()


def test_a_return_rule_follows_its_step_when_the_step_is_renamed(open_as, artifacts):
    page = open_as("owner")
    open_the_modeler(page)
    page.get_by_label("Impor .bpmn").set_input_files(  # the SOP without any rule declared yet
        {"name": "tanpa-aturan.bpmn", "mimeType": "application/xml", "buffer": declared_diagram({})})
    expect(page.locator("[data-status]")).to_contain_text("tanpa-aturan.bpmn")
    expect(page.locator("[data-modeler]")).to_have_attribute("data-state", "ready")

    select_shape(page, "Task_Putuskan", "Memberikan keputusan dan pertimbangan atas konten yang akan diunggah")
    rules = open_group(page, "group-alur-rules")
    expect(rules.locator(".bio-properties-panel-group-header-title")).to_have_text("Aturan prosedur")
    rules.get_by_label("Nomor langkah").fill("4")
    rules.get_by_label("Nama singkat").fill("Keputusan")
    rules.get_by_label("Batas waktu").select_option(label="Wajib")

    returns = page.locator('[data-properties] [data-group-id="group-alur-returns"]')
    returns.locator(":scope > .bio-properties-panel-group-header").get_by_title("Tambah butir baru").click()
    rule = open_item(returns.locator('[data-entry-id="Task_Putuskan-alurReturn-0"]'))
    rule.get_by_label("Bila field").select_option("keputusan_pimred")
    # the field's own choices
    rule.get_by_label("bernilai").select_option(label="Revisi oleh Wakil Pimpinan Redaksi (revisi)")
    target = rule.get_by_label("Kembalikan ke langkah")
    target.select_option(label="Mengontrol dan mengoreksi hasil dokumentasi dan konten")
    rule.get_by_label("Field alasan").select_option("pertimbangan")
    expect(rule.locator(".bio-properties-panel-collapsible-entry-header-title")).to_have_text(
        "keputusan_pimred = revisi \u2192 Mengontrol dan mengoreksi hasil dokumentasi dan konten")
    page.screenshot(path=str(artifacts / "modeler-rules-return.png"))

    # The step the rule names gets another id in the panel.
    select_shape(page, "Task_Koreksi", "Mengontrol dan mengoreksi hasil dokumentasi dan konten")
    open_group(page, "group-general").get_by_label("ID", exact=True).fill("Task_Periksa")
    expect(page.locator('.djs-element[data-element-id="Task_Periksa"]')).to_be_attached()

    select_shape(page, "Task_Putuskan", "Memberikan keputusan dan pertimbangan atas konten yang akan diunggah")
    expect(target).to_have_value("Task_Periksa")

    xml = exported(page)
    root = etree.fromstring(xml)
    assert root.nsmap.get("alur") == ALUR
    (step,) = root.xpath("//bpmn:userTask[@id='Task_Putuskan']/bpmn:extensionElements/alur:step",
                         namespaces={"bpmn": BPMN, "alur": ALUR})
    assert dict(step.attrib) == {"number": "4", "label": "Keputusan", "deadline": "required"}
    assert [dict(c.attrib) for c in step] == [
        {"field": "keputusan_pimred", "value": "revisi", "to": "Task_Periksa", "response": "pertimbangan"}]
    assert [etree.QName(c).localname for c in step] == ["return"]
    assert not root.xpath("//*[@id='Task_Koreksi']") and root.xpath("//bpmn:userTask[@id='Task_Periksa']",
                                                                      namespaces={"bpmn": BPMN})

    # Emptying what was entered takes the declaration out again.
    rule.locator(".bio-properties-panel-collapsible-entry-header").first.hover()  # the button shows on hover
    rule.get_by_title("Hapus butir").click()
    rules.get_by_label("Nomor langkah").fill("")
    rules.get_by_label("Nama singkat").fill("")
    rules.get_by_label("Batas waktu").select_option(label="Opsional")
    select_shape(page, "Task_Periksa", "Mengontrol dan mengoreksi hasil dokumentasi dan konten")  # flushes the input
    xml = exported(page)
    assert not declarations(xml)
    assert etree.fromstring(xml).nsmap.get("alur") == ALUR  # a diagram of the namespace's era, with no rule


def test_every_declaration_comes_back_from_the_modeler(open_as):
    source = declared_diagram()
    page = open_as("owner")
    open_the_modeler(page)
    page.get_by_label("Impor .bpmn").set_input_files(
        {"name": "berdeklarasi.bpmn", "mimeType": "application/xml", "buffer": source})
    expect(page.locator("[data-status]")).to_contain_text("berdeklarasi.bpmn")
    expect(page.locator("[data-modeler]")).to_have_attribute("data-state", "ready")

    # What the panel shows is what the file says, the reference to a missing step included.
    select_shape(page, "Task_Koreksi", "Mengontrol dan mengoreksi hasil dokumentasi dan konten")
    rules = open_group(page, "group-alur-rules")
    expect(rules.get_by_label("Nomor langkah")).to_have_value("3")
    expect(rules.get_by_label("Tidak boleh dikerjakan oleh")).to_have_value("Task_Hilang")
    expect(rules.get_by_label("Tampilkan perbandingan teks")).to_be_checked()
    # One edit, so that the page exports what the modeler holds (an unedited file is sent back as it was read).
    rules.get_by_label("Nama singkat").fill("Koreksi isi")
    select_shape(page, "Task_Putuskan", "Memberikan keputusan dan pertimbangan atas konten yang akan diunggah")
    expect(open_group(page, "group-alur-rules").get_by_label("Ditolak bila field")).to_have_value("keputusan_pimred")
    select_shape(page, "Task_Terima", "Menerima hasil dokumentasi kegiatan dan konten berita")
    register = open_group(page, "group-alur-rules")
    expect(register.get_by_label("Judul register (opsional)")).to_have_value("Register")
    expect(register.get_by_label("Kolom tambahan register (opsional)")).to_have_value("caption")

    xml = exported(page)
    assert etree.fromstring(xml).nsmap.get("alur") == ALUR
    expected = {(owner, path, tuple(sorted({**dict(attrs), "label": "Koreksi isi"}.items())))
                if (owner, path) == ("Task_Koreksi", "step") else (owner, path, attrs)
                for owner, path, attrs in declarations(source)}
    assert declarations(xml) == expected


def test_the_sop_identity_and_a_steps_sop_columns_are_edited_in_the_panel(open_as):
    """The process's group "identitas SOP" (alur:sop: number, dates, approver, lists) and a step's Output and
    Kelengkapan (alur:step output, alur:input) go into the exported diagram."""
    page = open_as("owner")
    open_the_modeler(page)
    page.get_by_label("Impor .bpmn").set_input_files(
        {"name": "tanpa-aturan.bpmn", "mimeType": "application/xml", "buffer": declared_diagram({})})
    expect(page.locator("[data-modeler]")).to_have_attribute("data-state", "ready")
    page.locator('.djs-element[data-element-id="Participant_KPU"] .djs-hit-all').first.click()  # its name strip
    expect(page.locator("[data-properties] .bio-properties-panel-header-label")).to_have_text(
        "KPU Provinsi Sumatera Barat")
    sop = open_group(page, "group-alur-sop")
    expect(sop.locator(".bio-properties-panel-group-header-title")).to_have_text("Aturan prosedur: identitas SOP")
    sop.get_by_label("Nomor SOP").fill("Nomor 21 Tahun 2025")
    sop.get_by_label("Tanggal efektif").fill("2025-05-06")
    sop.get_by_label("Disahkan oleh: NIP").fill("19740310 199303 1 002")
    legal = page.locator('[data-properties] [data-group-id="group-alur-sop-legalBases"]')
    legal.locator(":scope > .bio-properties-panel-group-header").get_by_title("Tambah butir baru").click()
    open_item(legal.locator('[data-entry-id="Participant_KPU-alurSop-legalBases-0"]')).get_by_label("Teks").fill(
        "UU 14/2008")

    select_shape(page, "Task_Terima", "Menerima hasil dokumentasi kegiatan dan konten berita")
    open_group(page, "group-alur-rules").get_by_label("Output di dokumen SOP").fill("Tanggapan tertulis")
    inputs = page.locator('[data-properties] [data-group-id="group-alur-inputs"]')
    inputs.locator(":scope > .bio-properties-panel-group-header").get_by_title("Tambah butir baru").click()
    item = open_item(inputs.locator('[data-entry-id="Task_Terima-alurInput-0"]'))
    item.get_by_label("Field formulir").select_option("cek_foto")
    item.get_by_label("Teks (opsional)").fill("Hasil dokumentasi")
    page.keyboard.press("Tab")

    found = declarations(exported(page))
    assert ("alur_pengunggahan", "sop", (("approverNip", "19740310 199303 1 002"), ("effective", "2025-05-06"),
                                         ("number", "Nomor 21 Tahun 2025"))) in found
    assert ("alur_pengunggahan", "sop/legalBasis", (("text", "UU 14/2008"),)) in found
    assert ("Task_Terima", "step", (("output", "Tanggapan tertulis"),)) in found
    assert ("Task_Terima", "step/input", (("field", "cek_foto"), ("text", "Hasil dokumentasi"))) in found

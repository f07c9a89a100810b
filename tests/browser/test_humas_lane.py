"""Issue 15's first acceptance line: a process owner adds a lane "Humas" with a step between steps 4 and 5 of the SOP
(a form, a deadline of two working days, its step number and written response declared in *Aturan prosedur*), gets
``lane.no_group`` at *Validasi*, creates the group with the offered button and deploys version 2; an administrator
adds a person to the group on the admin pages; a case goes through the new step (in the browser, as its new member)
to published; and the case's step numbers, its written responses, the reports and the auditor's replay all include
the new step.

The drawing (the lane, the task, its timer and the re-routed flows) comes in as a file, as if drawn in another BPMN
tool: bpmn-js makes nothing global to script, and mouse drags on the canvas are brittle. Everything a process owner
decides — the form, the timer's value, the step's rules — is entered in the properties panel; validation, creating
the group and deploying go through the page's buttons.

This test deploys a version, so it runs on a server of its own (other browser tests walk version 1)."""
from __future__ import annotations

import io
import re
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from engine.db import transaction
from engine.models import Definition, Instance, TaskRow
from process.declarations import declarations_of
from tests.browser.conftest import serve_app
from tests.browser.steps import step5_publish, submit, take_if_needed, textbox
from tests.browser.test_modeler import open_group, select_shape
from tests.factories import Case
from tests.humas_diagram import HUMAS_TASK, UPLOAD_TASK, declared_with_humas, drawn_with_humas

pytestmark = pytest.mark.browser

CASE = "Sosialisasi Tahapan Pilkada di Kabupaten Agam"


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    with serve_app(tmp_path_factory.mktemp("humas"), name="alur-humas-server") as server:
        with transaction(server.system.sessions) as s:  # an administrator of accounts (the test users have none)
            server.system.people.add_user(s, "sekretaris", "rahasia-sekretaris", ["admin"])
        yield server


# ------------------------------------------------------------------------------------------- the owner

def add_form_field(page: Page, element_id: str, index: int, field_id: str, label: str, type_: str) -> None:
    fields = open_group(page, "group-CamundaPlatform__FormData")
    fields.locator(":scope > .bio-properties-panel-group-header").get_by_title("Tambah butir baru").click()
    field = fields.locator(f'[data-entry-id="{element_id}-formField-{index}"]')
    field.get_by_label("ID", exact=True).fill(field_id)
    field.get_by_label("Label", exact=True).fill(label)
    field.get_by_label("Jenis", exact=True).select_option(type_)
    constraints = field.locator(f'[data-entry-id="{element_id}-formField-{index}-formFieldConstraints"]')
    constraints.locator(".bio-properties-panel-list-entry-header").get_by_title("Tambah butir baru").click()
    constraints.get_by_label("Nama", exact=True).fill("required")
    expect(field.locator(".bio-properties-panel-collapsible-entry-header-title").first).to_have_text(field_id)


def owner_adds_the_humas_step(page: Page, artifacts: Path) -> None:
    page.get_by_role("navigation", name="Menu utama").get_by_role("link", name="Diagram proses").click()
    page.get_by_role("navigation", name="Menu pemilik proses").get_by_role("link", name="Modeler").click()
    modeler = page.locator("[data-modeler]")
    expect(modeler).to_have_attribute("data-state", "ready")
    page.get_by_label("Impor .bpmn").set_input_files(
        {"name": "dengan-humas.bpmn", "mimeType": "application/xml", "buffer": drawn_with_humas()})
    expect(page.locator("[data-status]")).to_contain_text("dengan-humas.bpmn")
    expect(modeler).to_have_attribute("data-state", "ready")

    # The new task's form: generated task form with a required written note.
    select_shape(page, "Task_Humas", HUMAS_TASK)
    open_group(page, "group-CamundaPlatform__Form").get_by_label("Jenis", exact=True).select_option(
        label="Field formulir (isian)")
    add_form_field(page, "Task_Humas", 0, "catatan_humas", "Catatan Humas", "string")

    # Its procedure rules: step 5, "Humas", a deadline it must have, its note is a written response.
    rules = open_group(page, "group-alur-rules")
    rules.get_by_label("Nomor langkah").fill("5")
    rules.get_by_label("Nama singkat").fill("Humas")
    rules.get_by_label("Batas waktu", exact=True).select_option(label="Wajib")
    rules.get_by_label("Tanggapan tertulis: field teks").select_option("catatan_humas")

    # Two working days after the documentation was handed in.
    page.locator('.djs-element[data-element-id="Timer_Humas"]').click()
    expect(page.locator("[data-properties] .bio-properties-panel-header-type")).to_contain_text("Batas waktu")
    open_group(page, "group-general").get_by_label("Nama", exact=True).fill("Batas waktu 2 hari kerja")
    timer = open_group(page, "group-timer")
    timer.get_by_label("Jenis", exact=True).select_option(label="Tanggal")
    timer.get_by_label("Nilai").fill("akhir_hari_kerja(tanggal_pengumpulan, 2)")

    # Number 5 is the upload's: the panel offers to insert the step there, moving the upload to 6.
    select_shape(page, "Task_Humas", HUMAS_TASK)
    rules = open_group(page, "group-alur-rules")
    expect(rules.get_by_role("button", name="Sisipkan sebagai langkah 5")).to_be_visible()
    page.screenshot(path=str(artifacts / "humas-renumber.png"))
    rules.get_by_role("button", name="Sisipkan sebagai langkah 5").click()
    expect(rules.get_by_role("button", name="Sisipkan sebagai langkah 5")).to_have_count(0)
    expect(rules.get_by_label("Nomor langkah")).to_have_value("5")
    select_shape(page, "Task_Unggah", UPLOAD_TASK)
    expect(open_group(page, "group-alur-rules").get_by_label("Nomor langkah")).to_have_value("6")

    # Validate: the lane has no group; the problem offers to create it.
    page.get_by_role("button", name="Validasi").click()
    result = page.locator("[data-result]")
    expect(result).to_have_attribute("data-outcome", "invalid")
    expect(modeler).to_have_attribute("data-validation", "done")
    problem = page.locator('[data-problems] li[data-code="lane.no_group"]')
    expect(problem).to_have_attribute("data-element-id", "Lane_Humas")
    assert {i.get_attribute("data-code") for i in page.locator("[data-problems] li.problem").all()} == {
        "lane.no_group"}, page.locator("[data-problems]").inner_text()
    page.screenshot(path=str(artifacts / "humas-no-group.png"), full_page=True)
    problem.get_by_role("button", name=re.compile("Buat grup")).click()
    expect(page.locator("[data-status]")).to_contain_text("Humas")
    expect(problem).to_have_count(0)
    # The group has nobody yet: a warning, not a refusal.
    expect(page.locator('[data-problems] li[data-code="lane.group_empty"]')).to_have_attribute(
        "data-severity", "warning")
    expect(result).to_have_attribute("data-outcome", "valid")

    page.get_by_role("button", name="Terapkan").click()
    dialog = page.get_by_role("dialog", name="Terapkan sebagai versi baru?")
    dialog.get_by_role("button", name="Ya, terapkan").click()
    expect(result).to_have_attribute("data-outcome", "deployed")
    expect(result).to_contain_text("Versi 2 diterapkan.")
    page.screenshot(path=str(artifacts / "humas-deployed.png"), full_page=True)


# ------------------------------------------------------------------------------------------ the admin

def admin_adds_a_member(page: Page) -> None:
    """The group's list shows the new group with its lane and no member; on its page the administrator adds a member
    of the Divisi Humas team (``tim2``, who also hands in documentation for that team); the users list shows it."""
    page.goto("/admin/grup")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="humas", exact=True))
    expect(row.locator("td").nth(1)).to_have_text("Humas")
    expect(row.locator("td").nth(2)).to_have_text("Humas")  # the lane it works
    expect(row.locator("td").nth(3)).to_have_text("0")
    row.get_by_role("link", name="humas", exact=True).click()
    expect(page.get_by_text("Grup ini belum memiliki anggota.")).to_be_visible()
    page.get_by_label("Anggota baru").select_option("tim2")
    page.get_by_role("button", name="Tambah anggota").click()
    expect(page.get_by_role("status")).to_contain_text(
        "tim2 sekarang anggota grup Humas.")
    expect(page.get_by_role("list", name="Anggota")).to_contain_text("tim2")
    page.goto("/admin/pengguna")
    groups = page.get_by_role("row").filter(has=page.get_by_role("link", name="tim2", exact=True)).locator(
        'td[data-label="Grup"]')
    expect(groups).to_contain_text("Humas")
    expect(groups).to_contain_text("Tim Pelaksana")
    page.goto("/admin/grup")
    expect(page.get_by_role("row").filter(has=page.get_by_role("link", name="humas", exact=True))
           .locator("td").nth(3)).to_have_text("1")


def open_task(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Menu utama").get_by_role("link", name="Kotak tugas").click()
    tabs = page.get_by_role("navigation", name="Tab kotak tugas")
    for tab in ("Tugas tim", "Tugas saya"):
        tabs.get_by_role("link", name=re.compile(f"^{tab}")).click()
        link = page.get_by_role("row").filter(has_text=CASE).get_by_role("link", name=re.compile(name))
        if link.count():
            link.click()
            break
    else:
        raise AssertionError(f"{name!r} of {CASE!r} is in neither inbox tab")
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)
    take_if_needed(page)


# --------------------------------------------------------------------------------------------- the test

def _rules(step) -> tuple:
    return (step.bpmn_id, step.number, step.short, step.deadline_required, step.response, step.returns,
            step.records)


def test_owner_adds_a_humas_step_and_a_case_goes_through_it(live_server, open_as, artifacts, diagram_bundle):
    system, clock = live_server.system, live_server.clock

    owner_adds_the_humas_step(open_as("owner"), artifacts)
    admin_adds_a_member(open_as("sekretaris"))

    def tx():
        return transaction(system.sessions)

    # What the modeler deployed declares what tests/humas_diagram.py says it does (the non-browser tests use that).
    with tx() as s:
        deployed = system.rules.latest(s, system.settings.process_key)
    expected = declarations_of(system.engine.validate(declared_with_humas()))
    assert [_rules(step) for step in deployed.numbered] == [_rules(step) for step in expected.numbered]
    assert deployed.forms["Task_Humas"] == expected.forms["Task_Humas"]

    # Steps 1–4 through the service layer; the case takes version 2.
    case = Case.start(system, tx, nama=CASE)
    for who, form in (("tim", "submit"), ("admin", "terima"), ("wapimred", "koreksi"), ("pimred", "setuju")):
        clock.advance(hours=1)
        names = case.do(who, form)
    assert names == ["Task_Humas"]
    with tx() as s:
        assert s.get(Definition, s.get(Instance, case.instance_id).definition_id).version == 2

    # The Humas step, by the group's new member.
    clock.advance(hours=1)
    member = open_as("tim2")
    open_task(member, HUMAS_TASK)
    expect(member.get_by_text("Langkah 5 dari 6")).to_be_visible()
    expect(member.get_by_text("08 Mei 2025 23.59").first).to_be_visible()  # two working days after 6 May
    textbox(member, "Catatan Humas").fill("Sesuai pedoman kehumasan; sebut nama kecamatan di caption.")
    member.screenshot(path=str(artifacts / "humas-step.png"), full_page=True)
    submit(member)

    # The upload, now step 6.
    clock.advance(hours=1)
    admin = open_as("admin")
    open_task(admin, UPLOAD_TASK)
    expect(admin.get_by_text("Langkah 6 dari 6")).to_be_visible()
    expect(admin.get_by_text("Sesuai pedoman kehumasan").first).to_be_visible()  # earlier responses shown
    step5_publish(admin, "https://www.instagram.com/p/KPUSumbarAgam/", "2025-05-06T15:00")

    with tx() as s:
        instance = s.get(Instance, case.instance_id)
        assert instance.status == "completed" and instance.end_event == "EndEvent_Dipublikasikan"
        humas = s.execute(select(TaskRow).where(TaskRow.instance_id == case.instance_id,
                                                TaskRow.bpmn_id == "Task_Humas")).scalar_one()
        assert humas.completed_by == "tim2"

    # The case page: steps numbered 1–6 with Humas as 5, its written response among the others.
    member.goto(f"/kasus/{case.instance_id}")
    expect(member.get_by_text("Selesai: dipublikasikan", exact=True)).to_be_visible()
    steps = member.get_by_role("table", name="Langkah")
    expect(steps.get_by_role("row").filter(has_text=HUMAS_TASK).locator("td, th").first).to_have_text(
        f"5. {HUMAS_TASK}")
    expect(steps.get_by_role("row").filter(has_text=UPLOAD_TASK).locator("td, th").first).to_have_text(
        f"6. {UPLOAD_TASK}")
    responses = member.get_by_role("region", name="Tanggapan tertulis")
    humas_response = responses.get_by_role("row").filter(has_text="Sesuai pedoman kehumasan")
    expect(humas_response.get_by_role("cell").first).to_have_text(f"5. {HUMAS_TASK}")
    expect(humas_response.get_by_role("cell").nth(1)).to_contain_text("tim2")

    # The reports: the case's written responses, the recap of posts, the register.
    auditor = open_as("auditor")
    auditor.goto(f"/laporan/tanggapan?kasus={case.instance_id}")
    row = auditor.get_by_role("row").filter(has_text="Sesuai pedoman kehumasan; sebut nama kecamatan di caption.")
    expect(row.get_by_role("cell").first).to_have_text(f"Langkah 5: {HUMAS_TASK}")
    with auditor.expect_download() as download:
        auditor.get_by_role("link", name=re.compile("XLSX")).click()
    sheet = openpyxl.load_workbook(io.BytesIO(Path(download.value.path()).read_bytes())).worksheets[0]
    cells = [[str(c.value or "") for c in r] for r in sheet.iter_rows()]
    assert any(f"5. {HUMAS_TASK}" in r and "Sesuai pedoman kehumasan; sebut nama kecamatan di caption." in r
               for r in cells), cells
    auditor.goto("/laporan/rekap?dari=2025-05-01&sampai=2025-05-31")
    main = auditor.locator("main")
    expect(main).to_contain_text("https://www.instagram.com/p/KPUSumbarAgam/")
    expect(main).to_contain_text("waktu langkah 6 \u201cPengunggahan\u201d diselesaikan")
    auditor.goto("/audit/kepatuhan?dari=2025-05-01&sampai=2025-05-31")
    expect(auditor.locator('tr.total[data-step="5"]')).to_contain_text(f"Langkah 5: {HUMAS_TASK}")
    expect(auditor.locator('tr.total[data-step="6"]')).to_contain_text(f"Langkah 6: {UPLOAD_TASK}")
    expect(auditor.locator("#tabrakan-title")).to_have_text("Tabrakan batas waktu langkah 6 dengan langkah 2–5")

    # The auditor's replay shows the Humas task waiting, then done.
    auditor.goto(f"/audit/kasus/{case.instance_id}/replay")
    root = auditor.locator("[data-replay]")
    expect(root).to_have_attribute("data-ready", "true")
    total = int(root.get_attribute("data-total"))
    states = [auditor.evaluate("async (url) => (await fetch(url)).json()",
                               f"/audit/kasus/{case.instance_id}/replay/{n}.json") for n in range(1, total + 1)]
    assert any(step["active"] == ["Task_Humas"] for step in states)
    assert "Task_Humas" in states[-1]["completed"]
    waiting = next(n for n, step in enumerate(states, 1) if step["active"] == ["Task_Humas"])
    auditor.get_by_label("Kejadian", exact=True).fill(str(waiting))
    expect(root).to_have_attribute("data-shown", str(waiting))
    expect(auditor.locator('.djs-element.alur-active[data-element-id="Task_Humas"]')).to_be_attached()
    auditor.screenshot(path=str(artifacts / "humas-replay.png"), full_page=True)

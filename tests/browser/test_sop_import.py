"""The modeler imports an SOP matrix (XLSX) in Chromium: bpmn-js opens the server's draft (every shape and flow
drawn, nothing refused by its importer), the import's notes are listed with their row and column, the server's
validation of the draft is shown, and a malformed matrix lists its findings without replacing the diagram."""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from process import sopimport
from tests.browser.test_modeler import live_server, modeler_bundle, open_modeler  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser


def test_the_owner_imports_the_example_matrix_and_a_broken_one(live_server, open_as, modeler_bundle):  # noqa: F811
    page = open_as("owner")
    open_modeler(page)
    modeler = page.locator("[data-modeler]")
    page.get_by_label("Impor .bpmn").set_input_files(
        {"name": "contoh-sop.xlsx", "mimeType": sopimport.XLSX_MIME, "buffer": sopimport.example_xlsx()})
    status = page.locator("[data-status]")
    expect(status).to_contain_text("Matriks SOP contoh-sop.xlsx diubah menjadi draf diagram dengan 1 catatan")
    expect(modeler).to_have_attribute("data-validation", "done")
    # bpmn-js drew the draft: the pool, four lanes, five tasks, the gateways and every flow, with no import warning
    for element_id in ("Participant_1", "Lane_1", "Lane_4", "Task_1", "Task_5", "Gateway_4", "Timer_3", "End_4_1"):
        expect(page.locator(f'.djs-element[data-element-id="{element_id}"]')).to_have_count(1)
    assert page.evaluate("() => document.querySelectorAll('.djs-connection').length") >= 20
    notes = page.locator("[data-sop-notes] li")
    expect(notes).to_have_count(1)
    expect(notes.first).to_contain_text("Baris 6, kolom I:")
    # the server's own validation of the draft (the session server's groups work the SOP's lanes)
    expect(page.locator("[data-result]")).to_have_attribute("data-outcome", "valid")

    wb = load_workbook(io.BytesIO(sopimport.example_xlsx()))
    wb["Matriks"]["E8"] = "segitiga"
    out = io.BytesIO()
    wb.save(out)
    page.get_by_label("Impor .bpmn").set_input_files(
        {"name": "rusak.xlsx", "mimeType": sopimport.XLSX_MIME, "buffer": out.getvalue()})
    expect(status).to_contain_text("Matriks SOP rusak.xlsx tidak dapat diimpor")
    expect(page.locator("[data-sop-notes] li")).to_have_text(
        ["Baris 8, kolom E: simbol \u201csegitiga\u201d tidak dikenal; pakai x, keputusan, mulai atau selesai."])
    expect(page.locator('.djs-element[data-element-id="Task_5"]')).to_have_count(1)  # the draft stays open

"""The SOP document's pages in the browser: an auditor finds them from the menu, reads the matrix (SVG) and the rows,
downloads the PDF; axe-core finds no serious violation on the list and on the document page."""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.test_accessibility import _axe, _report

pytestmark = pytest.mark.browser


def test_an_auditor_reads_and_downloads_the_sop_document(live_server, open_as, axe_script, artifacts):
    page = open_as("auditor", bypass_csp=True)  # axe-core is injected as an inline script
    page.goto("/kasus")
    page.get_by_role("link", name="Dokumen SOP").click()
    expect(page).to_have_url(live_server.url + "/proses/sop")
    violations = _axe(page, axe_script, "/proses/sop")
    assert not violations, _report("/proses/sop", violations)

    sop = page.get_by_role("region", name="Alur Pengunggahan Konten Media Sosial (alur_pengunggahan)")
    expect(page.get_by_role("region", name="Layanan Permohonan Informasi Publik (layanan_informasi_publik)")
           ).to_be_visible()  # every procedure shipped has its SOP document
    sop.get_by_role("link", name="Versi 1", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Alur Pengunggahan Konten Media Sosial")
    expect(page.get_by_role("img", name="Bagan alur SOP")).to_be_visible()
    rows = page.locator("table.sop-rows tbody tr")
    expect(rows).to_have_count(5)
    expect(rows.nth(1)).to_contain_text("H+1 setelah pengumpulan dokumentasi dan konten")
    page.screenshot(path=str(artifacts / "sop-page.png"), full_page=True)
    violations = _axe(page, axe_script, "/proses/versi/1/sop")
    assert not violations, _report("/proses/versi/1/sop", violations)

    with page.expect_download() as download:
        page.get_by_role("link", name="Unduh PDF (A4)").click()
    assert download.value.suggested_filename == "sop-alur_pengunggahan-v1.pdf"
    assert Path(download.value.path()).read_bytes().startswith(b"%PDF")

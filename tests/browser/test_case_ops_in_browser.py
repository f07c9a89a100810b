"""Issue 18 in the browser: the Pimpinan Redaksi reassigns a held task from the case page, a colleague comments on the
case, and the Pimpinan Redaksi cancels it with a written reason on the confirmation page; the case then shows as
cancelled, with the reason, on its page, in the case list and in the register.

The case runs on a server of its own (other browser tests count the cases of the shared one)."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from engine.db import transaction
from engine.models import Instance, TaskRow
from tests.browser.conftest import serve_app
from tests.factories import Case, user

pytestmark = pytest.mark.browser

CASE = "Rapat Koordinasi Pemutakhiran Data Pemilih"


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    with serve_app(tmp_path_factory.mktemp("caseops"), name="alur-caseops-server") as server:
        yield server


def test_reassign_comment_and_cancel(live_server, open_as):
    system = live_server.system

    def tx():
        return transaction(system.sessions)

    case = Case.start(system, tx, nama=CASE)
    with tx() as s:
        system.tasks.claim(s, user(s, "tim"), case.task_id)

    # The Pimpinan Redaksi gives step 1, held by tim, to tim2.
    pimred = open_as("pimred")
    pimred.goto(f"/kasus/{case.instance_id}")
    expect(pimred.get_by_role("heading", level=1)).to_have_text(CASE)
    pimred.get_by_role("link", name="Alihkan…").click()
    expect(pimred.get_by_role("heading", level=1)).to_contain_text("Alihkan tugas")
    kepada = pimred.get_by_label("Kepada")
    expect(kepada.locator("option")).to_have_count(1)  # tim2 only: tim holds it, tim_lain is of another team
    kepada.select_option("tim2")
    pimred.get_by_label("Alasan (tidak wajib)").fill("Tim sedang bertugas ke luar kota.")
    pimred.get_by_role("button", name="Alihkan tugas").click()
    expect(pimred.get_by_role("alert").or_(pimred.get_by_role("status")).first).to_contain_text(
        "Tugas dialihkan kepada")
    timeline = pimred.locator("ol.timeline")
    expect(timeline).to_contain_text("mengalihkan langkah")
    expect(timeline).to_contain_text("Tim sedang bertugas ke luar kota.")
    with tx() as s:
        assert s.get(TaskRow, case.task_id).claimed_by == "tim2"

    # Wakil Pimpinan Redaksi comments; the line break is kept, the markup shown as text.
    wapimred = open_as("wapimred")
    wapimred.goto(f"/kasus/{case.instance_id}")
    wapimred.get_by_label("Tulis komentar").fill("Mohon foto panggung disertakan.\n<b>Terima kasih</b>")
    wapimred.get_by_role("button", name="Kirim komentar").click()
    comments = wapimred.locator("section.comments li.comment")
    expect(comments).to_have_count(1)
    expect(comments.first).to_contain_text("Mohon foto panggung disertakan.")
    expect(comments.first.locator("p.pre-wrap")).to_have_text("Mohon foto panggung disertakan.\n<b>Terima kasih</b>")
    expect(comments.first).to_contain_text("WIB")

    # tim2 hands in step 1 (the case gets its register number), then the Pimpinan Redaksi cancels it.
    case.do("tim2", "submit", claim=False)
    pimred.goto(f"/kasus/{case.instance_id}")
    pimred.get_by_role("link", name="Batalkan kasus…").click()
    expect(pimred.get_by_role("heading", level=1)).to_contain_text("Batalkan kasus")
    reason = pimred.get_by_label("Alasan pembatalan (wajib)")
    pimred.get_by_role("button", name="Ya, batalkan kasus").click()  # empty: the browser keeps the form
    expect(reason).to_be_visible()
    with tx() as s:
        assert s.get(Instance, case.instance_id).status == "running"
    reason.fill("Kegiatan ditunda oleh penyelenggara.")
    pimred.get_by_role("button", name="Ya, batalkan kasus").click()
    banner = pimred.locator(".case-cancelled")
    expect(banner).to_contain_text("Kasus ini dibatalkan")
    expect(banner).to_contain_text("Kegiatan ditunda oleh penyelenggara.")
    expect(pimred.get_by_role("link", name="Batalkan kasus…")).to_have_count(0)
    expect(pimred.get_by_role("link", name="Alihkan…")).to_have_count(0)

    pimred.goto("/kasus")
    row = pimred.get_by_role("row").filter(has_text=CASE)
    expect(row).to_contain_text("Dibatalkan")
    expect(row).to_contain_text("Kegiatan ditunda oleh penyelenggara.")

    pimred.goto("/laporan/register?bulan=2025-05")
    row = pimred.get_by_role("row").filter(has_text=CASE)
    expect(row).to_contain_text(re.compile("Dibatalkan"))
    expect(row).to_contain_text("Kegiatan ditunda oleh penyelenggara.")

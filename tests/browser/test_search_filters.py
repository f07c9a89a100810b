"""A member of Tim Pelaksana finds a case by words of its caption from the header's search box, orders the list,
saves the search as a filter, opens it again from its quick link, and deletes it."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from engine.db import transaction
from tests.factories import Case, step1_form

pytestmark = pytest.mark.browser


def _case_with_caption(server, nama: str, caption: str) -> Case:
    system = server.system

    def tx():
        return transaction(system.sessions)

    case = Case.start(system, tx, nama=nama)
    with tx() as s:
        form = {**step1_form(system, s, "tim"), "caption": caption}
    case.do("tim", form)
    return case


def test_search_by_caption_and_a_saved_filter(open_as, live_server):
    _case_with_caption(live_server, "Jalan Sehat Pemilu Damai", "Ribuan warga ikut jalan sehat #Rendangnagari")
    _case_with_caption(live_server, "Rapat Koordinasi Logistik", "Rapat logistik bersama PPK #KPUSumbar")
    tim = open_as("tim")
    tim.get_by_role("search", name="Pencarian cepat").get_by_role("searchbox").fill("ribuan rendang")
    tim.keyboard.press("Enter")
    tim.wait_for_url(re.compile(r"/kasus\?q=ribuan"))
    table = tim.get_by_role("table", name="Daftar kasus")
    expect(table.get_by_role("row")).to_have_count(2)  # the header and one case
    expect(table).to_contain_text("Jalan Sehat Pemilu Damai")
    expect(table.locator(".snippet mark")).to_have_text(["Ribuan", "Rendangnagari"])

    search = tim.get_by_role("search", name="Cari kasus")
    search.get_by_label("Urutkan menurut").select_option("activity_date")
    search.get_by_label("Arah").select_option("asc")
    search.get_by_role("button", name="Cari").click()
    tim.wait_for_url(re.compile(r"sort=activity_date"))
    tim.get_by_label("Simpan filter dan urutan ini sebagai").fill("Jalan sehat")
    tim.get_by_role("button", name="Simpan filter").click()
    expect(tim.get_by_text("Filter \u201cJalan sehat\u201d disimpan.")).to_be_visible()

    tim.goto("/kasus")
    # the whole list again (the live server may hold other tests' cases too)
    expect(tim.get_by_role("table", name="Daftar kasus")).to_contain_text("Rapat Koordinasi Logistik")
    tim.get_by_role("link", name="Jalan sehat", exact=True).click()
    tim.wait_for_url(re.compile(r"/kasus\?q=ribuan\+rendang&sort=activity_date&order=asc"))
    expect(tim.get_by_role("table", name="Daftar kasus")).to_contain_text("Jalan Sehat Pemilu Damai")
    expect(tim.get_by_label("Urutkan menurut")).to_have_value("activity_date")

    tim.get_by_role("button", name="Hapus filter Jalan sehat").click()
    expect(tim.get_by_text("Filter \u201cJalan sehat\u201d dihapus.")).to_be_visible()
    expect(tim.get_by_role("link", name="Jalan sehat", exact=True)).to_have_count(0)

"""Every page the roles use, at 360 × 800 (the field team's phones): the page never scrolls sideways (a wide table
may scroll inside its own container) and no two visible elements are drawn over each other
(tests/browser/layout.js says what is compared). Each page is photographed under test-artifacts/phone/."""
from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from engine.db import transaction
from engine.models import TaskRow
from process.deadlines import WIB
from tests.browser.conftest import serve_app
from tests.browser.steps import take_if_needed, textbox, upload_photos
from tests.factories import Case, user

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 800}
LAYOUT_JS = (Path(__file__).with_name("layout.js")).read_text()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    """A fresh server for this module: it adds an administrator and moves the clock."""
    with serve_app(tmp_path_factory.mktemp("phone-layout"), name="alur-phone-layout-server") as server:
        yield server


def _cases(server) -> dict[str, Case]:
    """A case waiting at each step (step 5 late, step 3 sent back by the Pimpinan Redaksi), one published."""
    system, clock = server.system, server.clock

    def tx():
        return transaction(system.sessions)

    with tx() as s:
        system.people.add_user(s, "root", "rahasia-root", ["admin"], full_name="Administrator Sistem Informasi")
    clock.set(datetime(2025, 5, 4, 9, 0, tzinfo=WIB))
    late = Case.start(system, tx, nama="Rapat Pleno Terbuka Rekapitulasi Hasil Penghitungan Suara Tingkat Provinsi",
                      tanggal="2025-05-04")
    for who, form in (("tim", "submit"), ("admin", "terima"), ("wapimred", "koreksi"), ("pimred", "setuju")):
        late.do(who, form)
    done = Case.start(system, tx, nama="Sosialisasi Pemilih Pemula SMA Negeri 1 Padang")
    for who, form in (("tim", "submit"), ("admin", "terima"), ("wapimred", "koreksi"), ("pimred", "setuju"),
                      ("admin", "unggah")):
        done.do(who, form)
    clock.set(datetime(2025, 5, 9, 10, 0, tzinfo=WIB))  # step 5 of "late" was due 7 May
    with tx() as s:
        system.timers.fire_due_timers(s)
    returned = Case.start(system, tx, nama="Bimbingan Teknis PPK se-Kota Padang", tanggal="2025-05-09")
    for who, form in (("tim", "submit"), ("admin", "terima"), ("wapimred", "koreksi"), ("pimred", "revisi")):
        returned.do(who, form)
    step2 = Case.start(system, tx, nama="Rapat Koordinasi Bawaslu", tanggal="2025-05-09")
    step2.do("tim", "submit")
    step3 = Case.start(system, tx, nama="Kunjungan Kerja ke KPU Kabupaten Pesisir Selatan", tanggal="2025-05-09")
    for who, form in (("tim", "submit"), ("admin", "terima")):
        step3.do(who, form)
    step4 = Case.start(system, tx, nama="Peluncuran Maskot Pilkada", tanggal="2025-05-09")
    for who, form in (("tim", "submit"), ("admin", "terima"), ("wapimred", "koreksi")):
        step4.do(who, form)
    step1 = Case.start(system, tx, nama="Sosialisasi di Nagari Koto Baru", tanggal="2025-05-09")
    return {"late": late, "done": done, "returned": returned, "step1": step1, "step2": step2, "step3": step3,
            "step4": step4}


class Checker:
    def __init__(self, artifacts):
        self.artifacts = artifacts
        self.problems: list[str] = []
        self.pages = 0

    def __call__(self, page, where: str) -> None:
        page.wait_for_load_state("load")
        result = page.evaluate(LAYOUT_JS)
        self.pages += 1
        found = []
        if result["scrollWidth"] > PHONE["width"]:
            found.append(f"scrolls sideways: {result['scrollWidth']} px wide")
        found.extend(f"wraps: {w}" for w in result["wrapped"])
        found.extend(f"overlap: {o}" for o in result["overlaps"])
        assert result["checked"] > 5, f"{where}: only {result['checked']} elements measured"
        slug = re.sub(r"[^a-z0-9]+", "-", where.lower()).strip("-")
        page.screenshot(path=str(self.artifacts / f"{slug}.png"), full_page=True)
        if found:
            self.problems.append(f"{where} ({page.url}):\n  " + "\n  ".join(found))


def _phone(open_as, who):
    return open_as(who, viewport=PHONE, is_mobile=True, has_touch=True)


def test_every_page_fits_a_phone(live_server, browser, open_as, photos, artifacts, diagram_bundle):
    cases = _cases(live_server)
    (artifacts / "phone").mkdir(exist_ok=True)
    check = Checker(artifacts / "phone")

    # Logged out: the login page.
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, is_mobile=True, has_touch=True,
                                  locale="id-ID")
    anonymous = context.new_page()
    anonymous.goto("/masuk")
    check(anonymous, "login")
    anonymous.get_by_label("Nama pengguna").fill("tim")
    anonymous.get_by_label("Kata sandi").fill("salah")
    anonymous.get_by_role("button", name="Masuk").click()
    expect(anonymous.get_by_text("Nama pengguna atau kata sandi salah.")).to_be_visible()
    check(anonymous, "login refused")
    context.close()

    # Tim Pelaksana: inbox tabs, the menu open, notifications, the new-case form, step 1 with files attached.
    tim = _phone(open_as, "tim")
    for tab in ("mine", "lane", "overdue"):
        tim.goto(f"/kotak-tugas?tab={tab}")
        check(tim, f"tim inbox {tab}")
    tim.get_by_role("button", name=re.compile("^Menu")).click()
    check(tim, "tim inbox with the menu open")
    tim.goto("/notifikasi")
    check(tim, "tim notifications")
    tim.goto("/kasus/baru")
    check(tim, "new case form")
    tim.get_by_role("button", name="Buat kasus dan buka langkah pertama").click()  # empty: refused
    check(tim, "new case form refused")
    tim.goto(f"/tugas/{cases['step1'].task_id}")
    take_if_needed(tim)
    check(tim, "step 1")
    upload_photos(tim, photos)
    textbox(tim, "Caption kegiatan").fill("Sosialisasi tahapan pemilihan bersama warga #KPUSumbar #PilkadaSumbar")
    check(tim, "step 1 with files attached")
    tim.get_by_role("button", name="Kirim", exact=True).click()  # no narasi: refused, shown again
    expect(tim.get_by_role("alert").first).to_be_visible()
    check(tim, "step 1 refused")
    tim.goto(f"/kasus/{cases['late'].instance_id}")
    expect(tim.locator("[data-bpmn-diagram] .djs-container")).to_be_visible()
    check(tim, "case page (late)")
    tim.goto(f"/kasus/{cases['done'].instance_id}")
    check(tim, "case page (published)")
    tim.goto("/kasus")
    check(tim, "case list")

    # Each later step, as the lane that works it.
    admin = _phone(open_as, "admin")
    for tab in ("mine", "lane", "overdue"):
        admin.goto(f"/kotak-tugas?tab={tab}")
        check(admin, f"admin medsos inbox {tab}")
    admin.goto(f"/tugas/{cases['step2'].task_id}")
    take_if_needed(admin)
    check(admin, "step 2")
    admin.goto("/kotak-tugas?tab=overdue")
    expect(admin.get_by_role("row").filter(has_text="Rapat Pleno Terbuka")).to_contain_text("Terlambat")
    admin.goto(f"/tugas/{cases['late'].task_id}")
    take_if_needed(admin)
    expect(admin.locator(".banner-late")).to_be_visible()
    check(admin, "step 5 (late)")
    wapimred = _phone(open_as, "wapimred")
    wapimred.goto(f"/tugas/{cases['step3'].task_id}")
    take_if_needed(wapimred)
    check(wapimred, "step 3")
    wapimred.goto(f"/tugas/{cases['returned'].task_id}")
    take_if_needed(wapimred)
    check(wapimred, "step 3 (sent back)")
    pimred = _phone(open_as, "pimred")
    pimred.goto(f"/tugas/{cases['step4'].task_id}")
    take_if_needed(pimred)
    check(pimred, "step 4")
    with transaction(live_server.system.sessions) as s:
        done_task = s.execute(select(TaskRow.id).where(TaskRow.instance_id == cases["done"].instance_id,
                                                       TaskRow.state == "completed")).scalars().first()
    pimred.goto(f"/tugas/{done_task}")
    check(pimred, "a finished task")
    pimred.goto("/notifikasi")
    check(pimred, "pimred notifications")

    # Reports and audit, as the auditor.
    auditor = _phone(open_as, "auditor")
    for where, url in (("reports", "/laporan"), ("register", "/laporan/register?dari=2025-05-01&sampai=2025-05-31"),
                       ("responses", "/laporan/tanggapan?dari=2025-05-01&sampai=2025-05-31"),
                       ("recap", "/laporan/rekap?dari=2025-05-01&sampai=2025-05-31"), ("exports", "/laporan/ekspor"),
                       ("audit", "/audit"), ("compliance", "/audit/kepatuhan?dari=2025-05-01&sampai=2025-05-31"),
                       ("replay", f"/audit/kasus/{cases['late'].instance_id}/replay?langkah=4")):
        auditor.goto(url)
        if where == "replay":
            expect(auditor.locator("[data-replay]")).to_have_attribute("data-shown", "4")
        check(auditor, f"auditor {where}")
    auditor.get_by_role("button", name="Verifikasi dengan eksekusi ulang").click()
    expect(auditor.locator(".tag-ok", has_text="cocok").first).to_be_visible()
    check(auditor, "auditor replay verified")  # "✓ cocok" on one line (layout.js: tags do not wrap)

    # The administrator's pages.
    root = _phone(open_as, "root")
    with transaction(live_server.system.sessions) as s:
        tim_id = user(s, "tim").id
    for where, url in (("users", "/admin/pengguna"), ("user", f"/admin/pengguna/{tim_id}"), ("teams", "/admin/tim"),
                       ("groups", "/admin/grup"), ("mail", "/admin/surel")):
        root.goto(url)
        check(root, f"admin {where}")
    root.goto("/admin/grup")
    root.locator("main a[href*='/admin/grup/']").first.click()
    expect(root).to_have_url(re.compile(r"/admin/grup/\d+"))
    check(root, "admin group")

    assert check.pages >= 35
    assert not check.problems, f"{len(check.problems)} of {check.pages} pages do not fit a 360 px phone:\n" + \
        "\n".join(check.problems)


def test_the_layout_check_finds_what_it_looks_for(browser):
    """layout.js on a made-up page: a wide block, two buttons on top of each other, a wrapped tag; and not an
    element over its own child, a screen-reader-only text, a closed <details>' content or a sticky bar."""
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.set_content("""<!doctype html><html><head><style>
        .visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
        .sticky { position: sticky; bottom: 0; background: #fff; }
      </style></head><body>
      <div style="width: 500px"><p>Lebar</p></div>
      <div style="position: relative; height: 60px">
        <button style="position: absolute; left: 0; top: 0">Satu</button>
        <button style="position: absolute; left: 10px; top: 10px">Dua</button>
      </div>
      <p style="width: 60px"><span class="tag">Terlambat sekali hari ini</span></p>
      <p><a href="#">Tautan <strong>tebal</strong></a><span class="visually-hidden">tersembunyi</span></p>
      <details><summary>Buka</summary><p>Isi yang tertutup</p></details><p>Sesudah details</p>
      <p class="sticky"><button>Kirim</button></p>
      </body></html>""")
    result = page.evaluate(LAYOUT_JS)
    context.close()
    assert result["scrollWidth"] > PHONE["width"]
    assert result["wrapped"] == ['<span.tag> "Terlambat sekali hari ini"']
    assert len(result["overlaps"]) == 1 and "Satu" in result["overlaps"][0] and "Dua" in result["overlaps"][0], \
        result["overlaps"]

"""An auditor replays a case with a revision round and overdue steps, event by event: the diagram's marked tasks
follow each step; verification by re-execution matches every action; and every write route refuses the auditor."""
from __future__ import annotations

from datetime import datetime

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from engine.db import transaction
from engine.models import EventRow
from process.deadlines import WIB
from tests.browser.conftest import serve_app
from tests.factories import Case, user
from tests.test_audit_web import BODIES, write_endpoints

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    """Like the session server in conftest.py, but fresh for this module: the clock moves days ahead here."""
    with serve_app(tmp_path_factory.mktemp("replay"), name="alur-replay-server") as server:
        yield server


def wib(*args) -> datetime:
    return datetime(*args, tzinfo=WIB)


def build_case(server) -> Case:
    """Through the service layer: a Pimpinan Redaksi "revisi", then step 3 overdue (fired by the worker) and
    steps 4–5 late, to published."""
    system, clock = server.system, server.clock

    def tx():
        return transaction(system.sessions)

    case = Case.start(system, tx, nama="Sosialisasi Pemilih di Pasar Raya")
    for who, form in (("tim", "submit"), ("admin", "terima"), ("wapimred", "koreksi"), ("pimred", "revisi")):
        clock.advance(hours=1)
        case.do(who, form)
    clock.set(wib(2025, 5, 8, 9, 0))  # step 3 was due 7 May 23:59:59 WIB
    with tx() as s:
        assert system.timers.fire_due_timers(s)
    for who, form in (("wapimred", "koreksi"), ("pimred", "setuju"), ("admin", "unggah")):
        clock.advance(hours=1)
        case.do(who, form)
    return case


def marked(page, marker: str) -> list[str]:
    return sorted(set(page.eval_on_selector_all(f".djs-element.{marker}", "els => els.map(e => e.dataset.elementId)")))


def test_auditor_replays_a_case_event_by_event(live_server, open_as, diagram_bundle, artifacts):
    case = build_case(live_server)
    auditor = open_as("auditor")
    auditor.get_by_role("navigation", name="Menu utama").get_by_role("link", name="Audit").click()
    expect(auditor.locator('[data-chain="ok"]')).to_be_visible()
    auditor.get_by_role("link", name=f"Putar ulang kasus #{case.instance_id}").click()
    root = auditor.locator("[data-replay]")
    expect(root).to_have_attribute("data-ready", "true")
    expect(root).to_have_attribute("data-shown", "1")
    total = int(root.get_attribute("data-total"))
    assert total > 30

    seen = []  # (n, type, active in the diagram, late in the diagram)
    for n in range(1, total + 1):
        if n > 1:
            auditor.get_by_role("link", name="Berikutnya").click()
            expect(root).to_have_attribute("data-shown", str(n))
        expect(root.locator("[data-replay-position]")).to_have_text(f"Kejadian {n} dari {total}")
        expect(auditor.locator("[data-replay-details] h2")).to_contain_text(f"Kejadian {n} dari {total}")
        step = auditor.evaluate("async (url) => (await fetch(url)).json()",
                                f"/audit/kasus/{case.instance_id}/replay/{n}.json")
        active, late = marked(auditor, "alur-active"), marked(auditor, "alur-late")
        assert active == step["active"], f"event {n} ({step['type']}): diagram {active}, step {step['active']}"
        assert late == step["overdue"] and marked(auditor, "alur-done") == step["completed"]
        seen.append((n, step["type"], active, late))
        if n == 8:
            auditor.screenshot(path=str(artifacts / "replay-step.png"), full_page=True)

    # Each step that changes the waiting tasks changes the diagram's highlighted tasks.
    changes = [(a, b) for a, b in zip(seen, seen[1:]) if a[2] != b[2]]
    assert len(changes) >= 10
    actives = [s[2] for s in seen]
    rounds = [i for i, a in enumerate(actives) if a == ["Task_Koreksi"] and (i == 0 or actives[i - 1] != a)]
    assert len(rounds) == 2, "the revision round puts step 3 back in the diagram"
    assert any(t == "overdue" and late == ["Task_Koreksi"] for _n, t, _a, late in seen)
    assert seen[-1][1] == "case_completed" and seen[-1][2] == []

    # The slider and "previous" move too; "play" steps on by itself.
    slider = auditor.get_by_label("Kejadian", exact=True)
    slider.fill("5")
    expect(root).to_have_attribute("data-shown", "5")
    auditor.get_by_role("link", name="Sebelumnya").click()
    expect(root).to_have_attribute("data-shown", "4")
    play = auditor.get_by_role("button", name="Putar")
    play.click()
    expect(root).to_have_attribute("data-shown", "5", timeout=5000)
    auditor.get_by_role("button", name="Jeda").click()
    expect(auditor.get_by_role("button", name="Putar")).to_have_attribute("aria-pressed", "false")

    # Verification by re-execution: every action re-executes as recorded.
    auditor.get_by_role("button", name="Verifikasi dengan eksekusi ulang").click()
    result = auditor.locator("[data-verification]")
    expect(result).to_have_attribute("data-verification", "match")
    rows = auditor.locator(".verification-table tbody tr")
    assert rows.count() >= 10
    expect(auditor.locator(".verification-table tr.mismatch")).to_have_count(0)
    expect(rows.filter(has_text="cocok")).to_have_count(rows.count())
    auditor.screenshot(path=str(artifacts / "replay-verified.png"), full_page=True)


def test_every_write_route_refuses_the_auditor_in_the_browser(live_server, open_as):
    system = live_server.system
    case = Case.start(system, lambda: transaction(system.sessions))
    with transaction(system.sessions) as s:
        user_id = user(s, "tim").id
        last = s.execute(select(func.max(EventRow.seq))).scalar()
    routes = write_endpoints(live_server.app, task_id=case.task_id, instance_id=case.instance_id, user_id=user_id)
    auditor = open_as("auditor")
    answers = auditor.evaluate(
        """async ([routes, bodies]) => {
          const csrf = document.querySelector('input[name="csrf_token"]').value;
          const login = await fetch("/api/v1/auth/token", {method: "POST",
            headers: {"Content-Type": "application/json"},
            body: JSON.stringify({username: "auditor", password: "rahasia-auditor"})});
          const {token} = await login.json();
          const out = {};
          for (const [endpoint, url] of routes) {
            const body = bodies[endpoint] || {};
            let response;
            if (url.startsWith("/api/")) {
              response = await fetch(url, {method: "POST", body: JSON.stringify(body),
                headers: {"Content-Type": "application/json", Authorization: `Bearer ${token}`}});
            } else {
              const form = new FormData();
              form.append("csrf_token", csrf);
              for (const [key, value] of Object.entries(body)) form.append(key, value);
              response = await fetch(url, {method: "POST", body: form, credentials: "same-origin", redirect: "manual"});
            }
            out[endpoint] = response.status;
          }
          return out;
        }""", [routes, BODIES])
    assert len(answers) == len(routes) >= 20
    assert {e: status for e, status in answers.items() if status != 403} == {}
    with transaction(system.sessions) as s:
        assert s.execute(select(func.max(EventRow.seq))).scalar() == last  # nothing was written


def test_audit_pages_have_no_serious_axe_violations_and_fit_a_phone(live_server, open_as, axe_script, artifacts):
    from tests.browser.conftest import PHONE
    from tests.browser.test_accessibility import _axe, _report

    system = live_server.system
    case = Case.start(system, lambda: transaction(system.sessions), nama="Rapat Pleno Terbuka")
    case.do("tim", "submit")
    # bypass_csp only so that axe itself can be injected; the pages are otherwise as served.
    page = open_as("auditor", bypass_csp=True, viewport=PHONE)
    found = {}
    for where, url in (("audit", "/audit"), ("replay", f"/audit/kasus/{case.instance_id}/replay?langkah=4"),
                       ("compliance", "/audit/kepatuhan?dari=2025-05-01&sampai=2025-05-31")):
        page.goto(url)
        if where == "replay":
            expect(page.locator("[data-replay]")).to_have_attribute("data-shown", "4")
        violations = _axe(page, axe_script, where)
        if violations:
            found[where] = violations
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{where}: the page is {width}px wide on a {PHONE['width']}px phone"
        page.screenshot(path=str(artifacts / f"audit-{where}-phone.png"), full_page=True)
    assert not found, "\n".join(_report(w, v) for w, v in found.items())

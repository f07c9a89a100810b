"""axe-core on the inbox and a task page: no violation of impact serious or critical."""
from __future__ import annotations

import json
import re

import pytest

from engine.db import transaction
from tests.factories import Case

BLOCKING = ("serious", "critical")

pytestmark = pytest.mark.browser


def _axe(page, axe_script, where: str) -> list[dict]:
    page.add_script_tag(path=str(axe_script))
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ["violations"]});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => ({target: n.target.join(" "), summary: n.failureSummary}))}));
    }""")
    minor = [f"{v['id']} ({v['impact']}, {len(v['nodes'])}x)" for v in result if v["impact"] not in BLOCKING]
    if minor:
        print(f"axe-core on {where}, not blocking: {', '.join(minor)}")
    return [v for v in result if v["impact"] in BLOCKING]


def _report(where: str, violations: list[dict]) -> str:
    lines = [f"axe-core on {where}: {len(violations)} serious/critical violation(s)"]
    for v in violations:
        lines.append(f"- [{v['impact']}] {v['id']}: {v['help']}")
        lines.extend(f"    {n['target']}\n      {n['summary']}" for n in v["nodes"][:5])
    return "\n".join(lines)


def test_inbox_and_task_page_have_no_serious_axe_violations(live_server, open_as, axe_script):
    system = live_server.system
    case = Case.start(system, lambda: transaction(system.sessions), nama="Aksesibilitas Rapat Pleno")
    case.do("tim", "submit")

    # bypass_csp only so that axe itself can be injected; the pages are otherwise as served.
    page = open_as("admin", bypass_csp=True)
    page.goto("/kotak-tugas?tab=lane")
    row = page.get_by_role("row").filter(has_text="Aksesibilitas Rapat Pleno")
    step = row.get_by_role("link", name=re.compile("Menerima hasil dokumentasi"))
    step.wait_for()
    problems = {"inbox": _axe(page, axe_script, "inbox")}

    step.click()
    page.locator("form").last.wait_for()
    problems["task page"] = _axe(page, axe_script, "task page")

    found = {where: v for where, v in problems.items() if v}
    for where, violations in found.items():
        print(_report(where, violations))
    assert not found, "\n".join(_report(w, v) for w, v in found.items()) + "\n" + json.dumps(found)[:2000]

"""20 clients race over real HTTP (gunicorn, 2 workers, PostgreSQL) to claim, then to complete, the same tasks:
exactly one wins each time, every other gets 409 with a clear message, nothing answers 5xx; afterwards every
case's projection agrees with its engine state and the audit chain verifies."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bench.livestack import ApiClient, StackUser
from engine.models import TaskRow
from process.deadlines import WIB
from process.messages import MESSAGES, render
from tests.integration.live import (
    CONFLICT_CODES,
    TERIMA_FORM,
    Tally,
    audit_verify,
    case_at_terima,
    events_per,
    projection_problems,
    race,
)

pytestmark = pytest.mark.live

CLIENTS = 20
TASKS = 10


def test_twenty_clients_race_to_claim_and_complete_the_same_tasks(live_stack, figures):
    stack = live_stack(web_workers=2)
    admins = [f"admin{i:02d}" for i in range(1, CLIENTS + 1)]
    stack.add_users([StackUser("tim", ["tim_pelaksana"], team="humas"), StackUser("pimred", ["pimred"]),
                     StackUser("wapimred", ["wapimred"]),
                     *[StackUser(name, ["admin_medsos"]) for name in admins]])
    stack.start_web()
    assert len(stack.web_pids()) >= 3, "gunicorn should run a master and at least 2 workers"

    tim = stack.client("tim")
    today = datetime.now(UTC).astimezone(WIB).date()
    cases = [case_at_terima(tim, f"Kegiatan balapan {n}", today) for n in range(1, TASKS + 1)]
    clients = [stack.client(name) for name in admins]

    claims, completes = Tally(), Tally()
    winners: dict[str, str] = {}
    for _case_id, task_id in cases:
        results = race(clients, lambda api, t=task_id: api.post(f"/tasks/{t}/claim"))
        for r in results:
            claims.add(r)
        won = [(admins[i], r) for i, r in enumerate(results) if r.ok]
        assert len(won) == 1, f"task {task_id}: {len(won)} successful claims"
        assert won[0][1].body["claimed_by"] == won[0][0]
        winners[task_id] = won[0][0]
        assert sorted(r.status for r in results if not r.ok) == [409] * (CLIENTS - 1), \
            f"task {task_id}: {[(r.status, r.body) for r in results if not r.ok]}"

    for _case_id, task_id in cases:
        # Twenty devices of the holder submit the same decision at once.
        token = clients[admins.index(winners[task_id])].token
        holders = [ApiClient(stack.base_url, token) for _ in range(CLIENTS)]
        results = race(holders, lambda api, t=task_id: api.post(f"/tasks/{t}/complete", dict(TERIMA_FORM)))
        for api in holders:
            api.close()
        for r in results:
            completes.add(r)
        won = [r for r in results if r.ok]
        assert len(won) == 1, f"task {task_id}: {len(won)} successful completions"
        assert [t["bpmn_id"] for t in won[0].body["ready"]] == ["Task_Koreksi"]
        assert sorted(r.status for r in results if not r.ok) == [409] * (CLIENTS - 1), \
            f"task {task_id}: {[(r.status, r.body) for r in results if not r.ok]}"

    for tally in (claims, completes):
        assert tally.server_errors == 0 and not tally.no_answer, (tally.statuses, tally.no_answer)
        for code, said in tally.messages.items():
            assert code in CONFLICT_CODES, f"unexpected error code {code}: {said}"
            for message, params in said:  # the catalogue's sentence, in Bahasa Indonesia (no Accept-Language)
                expected = render(code, json.loads(params), "id") if code in MESSAGES else None  # "conflict": HTTP's
                assert message and message == (expected or message), f"{code}: {message}"
    assert set(claims.codes) == {"task.already_claimed"}

    # The database says the same: one claim and one completion per task, by the winner.
    system = stack.system()
    with system.sessions() as session:
        rows = {r.id: r for r in session.execute(select(TaskRow).where(TaskRow.id.in_(winners))).scalars()}
    for task_id, winner in winners.items():
        assert (rows[task_id].state, rows[task_id].claimed_by, rows[task_id].completed_by) == \
            ("completed", winner, winner)
    case_ids = [c for c, _t in cases]
    claimed, completed = events_per(stack, "task_claimed"), events_per(stack, "task_completed")
    assert all(claimed[(c, t)] == 1 and completed[(c, t)] == 1 for c, t in cases)
    assert projection_problems(stack, case_ids) == []
    verified = audit_verify(stack)
    figures(f"race: {CLIENTS} clients x {TASKS} tasks, gunicorn {stack.web_workers} workers, PostgreSQL")
    for name, tally in (("claim", claims), ("complete", completes)):
        figures(f"race {name}: {tally.sent} requests sent, {tally.successes} successes, "
                f"{tally.statuses[409]} x 409 ({', '.join(f'{k} {v}' for k, v in sorted(tally.codes.items()))}), "
                f"{tally.server_errors} x 5xx, {len(tally.no_answer)} unanswered")
    figures(f"race: projection agrees with the engine for all {len(case_ids)} cases; {verified}")
    for api in [tim, *clients]:
        api.close()

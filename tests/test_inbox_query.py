"""The inbox query (process/inbox.py) reads index ranges and merges them; it must select and order exactly what
the plain definition of each tab says, on varied projection rows (lanes, teams, holders, deadlines, late marks)."""
from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from engine.models import Instance, TaskRow
from process.inbox import SCOPES, inbox, inbox_counts
from process.roles import LEGACY_GROUPS
from tests.factories import make_users, user

LANES = [*LEGACY_GROUPS.values(), "Lajur Lain", None]
GROUPS = [None, "humas", "teknis"]
#: The bundled diagram's lane told of every late step (alur:lane hearsOverdue).
ESCALATION_LANE = "Pimpinan Redaksi"
LATE_LANES = frozenset({ESCALATION_LANE})
HOLDERS = [None, None, None, "tim", "tim2", "admin", "pimred", "wapimred", "orang_lain"]


def _rows(now, rng: random.Random, instance_id: int, n: int) -> list[TaskRow]:
    rows = []
    for k in range(n):
        due = None if rng.random() < 0.15 else now + timedelta(hours=rng.randint(-72, 240))
        overdue = now - timedelta(hours=rng.randint(1, 48)) if due is not None and rng.random() < 0.2 else None
        lane = rng.choice(LANES)
        rows.append(TaskRow(
            id=f"00000000-0000-4000-8000-{k:012d}", instance_id=instance_id, bpmn_id=f"Task_{k % 5}",
            name=f"Langkah {k % 5}", lane=lane, group=rng.choice(GROUPS) if lane == "Tim Pelaksana" else None,
            state=rng.choice(["ready"] * 4 + ["completed", "cancelled"]), due_at=due, overdue_at=overdue,
            claimed_by=rng.choice(HOLDERS), created_at=now - timedelta(minutes=k),
            case_title=rng.choice(["Sosialisasi", "Rapat Pleno", "Bimtek KPPS"]) + f" {k}",
            case_date=date(2025, 5, 1) + timedelta(days=rng.randint(0, 30))))
    return rows


def _expected(rows: list[TaskRow], who, scope: str, now, q=None, date_from=None, date_to=None,
              heard=None) -> list[str]:
    """Each tab by its definition, row by row (each group of the bundled diagram works the lane of its name)."""
    lanes = {g.name for g in who.groups}
    team = who.team.code if who.team else None

    def in_my_lanes(r):
        return r.lane in lanes and (r.group is None or r.group == team)

    def keep(r):
        if r.state != "ready":
            return False
        if scope == "mine":
            ok = r.claimed_by == who.actor
        elif scope == "lane":
            ok = in_my_lanes(r) and r.claimed_by != who.actor  # free, or held by a colleague
        else:
            late = r.overdue_at is not None or (r.due_at is not None and r.due_at < now)
            hears = ESCALATION_LANE in lanes and (heard is None or r.lane in heard)
            ok = late and (hears or in_my_lanes(r) or r.claimed_by == who.actor)
        if q and q.lower() not in r.case_title.lower():
            ok = False
        if date_from and r.case_date < date_from or date_to and r.case_date > date_to:
            ok = False
        return ok

    chosen = [r for r in rows if keep(r)]
    chosen.sort(key=lambda r: (r.due_at is None, r.due_at or r.created_at, r.created_at))
    return [r.id for r in chosen]


@pytest.mark.parametrize("seed", [1, 2])
def test_every_tab_selects_and_orders_as_defined(system, tx, clock, seed):
    make_users(system, tx)
    now = clock.now()
    rng = random.Random(seed)
    with tx() as s:
        definition = system.cases.ensure_definition(s)
        instance = Instance(definition_id=definition.id, status="running", state="{}", serializer_version="x",
                            title="Kasus uji", created_at=now, updated_at=now)
        s.add(instance)
        s.flush()
        s.add_all(_rows(now, rng, instance.id, 160))
        # Someone in two groups works both lanes.
        system.people.add_user(s, "dua_grup", "rahasia-dua", groups=["admin_medsos", "wapimred"])
    with tx() as s:
        rows = s.query(TaskRow).all()
        # tim and tim2 share a team: their tabs have one shape (statements kept, process/inbox.py _shape) and
        # differ only in the values bound (who holds what); so do the two searches.
        for name in ("tim", "tim2", "tim_lain", "admin", "wapimred", "pimred", "owner", "dua_grup"):
            who = user(s, name)
            lanes = system.rules.lane_map(s).lanes_of(who)
            # heard: the escalation lane hears only of its own procedure's lanes (not "Lajur Lain", nor no lane)
            filters = [{}, {"q": "rapat"}, {"q": "bimtek"},
                       {"date_from": date(2025, 5, 10), "date_to": date(2025, 5, 20)},
                       {"heard": frozenset(LEGACY_GROUPS.values())}, {"q": "rapat", "heard": frozenset()}]
            for f in filters:
                counts = inbox_counts(s, who, now=now, lanes=lanes, overdue_lanes=LATE_LANES, **f)
                for scope in SCOPES:
                    expected = _expected(rows, who, scope, now, **f)
                    assert counts[scope] == len(expected), (name, scope, f)
                    got = [i.task_id for i in inbox(s, who, scope, now=now, lanes=lanes, overdue_lanes=LATE_LANES,
                                                    **f)]
                    assert got == expected, (name, scope, f)
                    limited = [i.task_id for i in inbox(s, who, scope, now=now, lanes=lanes, limit=5,
                                                        overdue_lanes=LATE_LANES, **f)]
                    assert limited == expected[:5], (name, scope, f)

"""A database with many waiting cases: the lane inbox (query and page) and the deadline timer sweep."""
from __future__ import annotations

import random
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from engine.db import transaction
from engine.models import Instance
from ops.simulation import SIM_USERS, Driver
from process.inbox import inbox, inbox_counts
from process.models import User

from .bulk import SHORTCUT, Cloner, make_templates
from .common import Timings, bench_system, ms

PASSWORD = "rahasia-bench-2025"
#: The lane inbox of every group of the bundled diagram; Tim Pelaksana's also filters on the user's team.
ROLES = ("tim_pelaksana", "admin_medsos", "wapimred", "pimred")


def _sweep(system) -> tuple[float, int]:
    """One deadline sweep as the worker runs it (one transaction); seconds and how many cases fired."""
    started = time.perf_counter()
    with transaction(system.sessions) as session:
        fired = system.timers.fire_due_timers(session)
    return time.perf_counter() - started, len(fired)


def sweep_none_due(system, runs: int) -> float:
    """Median ms of a sweep that finds nothing due."""
    _sweep(system)  # warm-up (and proof that nothing is due)
    samples = []
    for _ in range(runs):
        elapsed, fired = _sweep(system)
        if fired:
            raise RuntimeError(f"the none-due sweep fired {fired} case(s)")
        samples.append(elapsed)
    return ms(sorted(samples)[len(samples) // 2])


def sweep_due(system, batch: int, rounds: int) -> dict:
    """Move the clock so that exactly the next ``batch`` waiting timers are due, sweep, repeat."""
    clock = system.clock
    per_timer, fired_counts = [], []
    for _ in range(rounds):
        with system.sessions() as session:
            dues = session.execute(
                select(Instance.next_timer_at).where(Instance.status == "running", Instance.next_timer_at.is_not(None))
                .order_by(Instance.next_timer_at).limit(batch)).scalars().all()
        if len(dues) < batch:
            break
        clock.set(dues[-1] + timedelta(microseconds=1))
        elapsed, fired = _sweep(system)
        if fired:
            per_timer.append(elapsed / fired)
            fired_counts.append(fired)
    per_timer.sort()
    return {"ms_per_fired_timer": ms(per_timer[len(per_timer) // 2]) if per_timer else None,
            "fired_per_sweep": fired_counts}


def _users(system) -> dict[str, int]:
    with transaction(system.sessions) as session:
        ids = {}
        for role, username in SIM_USERS.items():
            user = session.execute(select(User).where(User.username == username)).scalar_one()
            system.people.reset_password(session, user, PASSWORD, actor="bench")
            ids[role] = user.id
    return ids


def inbox_query(system, user_ids: dict[str, int], samples: int) -> dict:
    """The lane tab's query (process/inbox.py) per role, and the three tab counts the page adds."""
    now = system.clock.now()
    query, counts, per_role = Timings(), Timings(), {}
    sizes = {}
    for role in ROLES:
        role_timings = Timings()
        with system.sessions() as session:
            user = session.get(User, user_ids[role])
            _ = user.roles, user.groups, user.team  # loaded before timing, as a request has them already
            lanes = system.rules.overdue_lanes(session)
            mine = system.rules.lane_map(session).lanes_of(user)
            inbox(session, user, "lane", now=now, lanes=mine)  # warm-up
            for _ in range(samples):
                with query(), role_timings():
                    items = inbox(session, user, "lane", now=now, lanes=mine)
                with counts():
                    tabs = inbox_counts(session, user, now=now, lanes=mine, overdue_lanes=lanes)
            sizes[role] = {"rows": len(items), **tabs}
        per_role[role] = round(role_timings.p_ms(95), 2)
    return {"p50": round(query.p_ms(50), 2), "p95": round(query.p_ms(95), 2), "p95_per_role": per_role,
            "counts_p95": round(counts.p_ms(95), 2), "tabs": sizes}


def inbox_page(system, samples: int) -> dict:
    """GET /kotak-tugas?tab=lane through the Flask test client (the whole request: user, counts, list, render)."""
    from webui import create_app

    app = create_app(system=system, config={"SECRET_KEY": "bench", "TESTING": True, "WTF_CSRF_ENABLED": False,
                                            "RATELIMIT_ENABLED": False})
    pages = Timings()
    for role in ROLES:
        client = app.test_client()
        response = client.post("/masuk", data={"username": SIM_USERS[role], "password": PASSWORD})
        if response.status_code != 302:
            raise RuntimeError(f"bench login of {SIM_USERS[role]} failed ({response.status_code})")
        client.get("/kotak-tugas?tab=lane")  # warm-up: templates compiled
        for _ in range(samples):
            with pages():
                response = client.get("/kotak-tugas?tab=lane")
            if response.status_code != 200:
                raise RuntimeError(f"inbox page answered {response.status_code}")
    return {"p50": round(pages.p_ms(50), 2), "p95": round(pages.p_ms(95), 2)}


#: How deep the deep inbox page lies: the page reached after following this many cursors (50 tasks a page).
DEEP_PAGES = 100


def inbox_deep_page(system, samples: int) -> dict:
    """GET /api/v1/tasks?scope=lane through the Flask test client (the whole request: token, count, page, JSON) per
    role: its first page, and a deep one (page :data:`DEEP_PAGES` + 1, or the last), reached by following the
    cursor (process/paging.py)."""
    from webui import create_app

    app = create_app(system=system, config={"SECRET_KEY": "bench", "TESTING": True, "WTF_CSRF_ENABLED": False,
                                            "RATELIMIT_ENABLED": False})
    first, deep, depth = Timings(), Timings(), {}
    for role in ROLES:
        client = app.test_client()
        answer = client.post("/api/v1/auth/token", json={"username": SIM_USERS[role], "password": PASSWORD})
        if answer.status_code != 200:
            raise RuntimeError(f"bench token of {SIM_USERS[role]} failed ({answer.status_code})")
        auth = {"Authorization": f"Bearer {answer.json['token']}"}
        url = "/api/v1/tasks?scope=lane&per_page=50"
        cursor, pages = None, 0
        for _ in range(DEEP_PAGES):  # the cursor of the deep page, by walking to it
            body = client.get(url + (f"&cursor={cursor}" if cursor else ""), headers=auth).json
            if body["next_cursor"] is None:
                break
            cursor, pages = body["next_cursor"], pages + 1
        depth[role] = {"page": pages + 1, "total": body["total"]}
        for timings, address in ((first, url), (deep, url + (f"&cursor={cursor}" if cursor else ""))):
            client.get(address, headers=auth)  # warm-up
            for _ in range(samples):
                with timings():
                    response = client.get(address, headers=auth)
                if response.status_code != 200:
                    raise RuntimeError(f"inbox API page answered {response.status_code}")
    both = Timings()
    both.samples = first.samples + deep.samples
    return {"p95": round(both.p_ms(95), 2), "first_p95": round(first.p_ms(95), 2),
            "deep_p95": round(deep.p_ms(95), 2), "depth": depth}


def run(workdir: Path, url: str, cases: int, *, quick: bool, log=print) -> dict:
    """Build ``cases`` waiting cases (a thousand first, for the flatness ratio) and measure."""
    runs = 15 if quick else 40
    system, _clock = bench_system(workdir, url)
    try:
        driver = Driver(system, random.Random(11))
        driver.ensure_users()
        user_ids = _users(system)
        templates = make_templates(driver, system)
        cloner = Cloner(system, templates)
        small = 1000
        started = time.perf_counter()
        cloner.add(small - len(templates))
        sweep_small = sweep_none_due(system, runs)
        cloner.add(cases - small)
        build_s = time.perf_counter() - started
        log(f"  {cases:,} waiting cases built in {build_s:.0f} s "
            f"({len(templates)} real templates, the rest bulk copies)")
        sweep_large = sweep_none_due(system, runs)
        query = inbox_query(system, user_ids, samples=10 if quick else 40)
        page = inbox_page(system, samples=5 if quick else 15)
        deep = inbox_deep_page(system, samples=5 if quick else 20)
        due = sweep_due(system, batch=100, rounds=2 if quick else 3)
    finally:
        system.dispose()
    return {
        "cases": cases,
        "build_s": round(build_s, 1),
        "shortcut": SHORTCUT,
        "inbox_p50_ms": query["p50"],
        "inbox_p95_ms": query["p95"],
        "inbox_p95_ms_per_role": query["p95_per_role"],
        "inbox_counts_p95_ms": query["counts_p95"],
        "inbox_tabs": query["tabs"],
        "inbox_page_p50_ms": page["p50"],
        "inbox_page_p95_ms": page["p95"],
        "inbox_deep_page_p95_ms": deep["p95"], "inbox_deep_page": deep,
        "sweep_none_due_ms_1k": sweep_small,
        "sweep_none_due_ms": sweep_large,
        "sweep_flatness_100k_vs_1k": round(sweep_large / sweep_small, 3),
        "sweep_ms_per_fired_timer": due["ms_per_fired_timer"],
        "sweep_fired_per_sweep": due["fired_per_sweep"],
    }

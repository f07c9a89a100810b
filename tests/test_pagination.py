"""Keyset pages (process/paging.py): following the cursor from the first page reaches every row of a list exactly
once, in the list's order, for every tab and order of the inbox and every order of the case list; on the service,
the API and the HTML pages. A cursor that is not one of the list is a 422 with a code and a message."""
from __future__ import annotations

import re
import uuid
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from engine.models import Instance, TaskRow
from process import paging
from process.casefile import case_list
from process.forms import FormInvalid
from process.inbox import SCOPES, inbox_counts, inbox_page
from process.roles import LEGACY_GROUPS
from process.sorting import DEFAULT_ORDER, ORDERS, SORTS, Sort
from tests.factories import Case, make_users, user

API = "/api/v1"
LANE = LEGACY_GROUPS["tim_pelaksana"]
LATE_LANES = frozenset({LEGACY_GROUPS["pimred"]})
LANES = [LANE, LEGACY_GROUPS["admin_medsos"], LEGACY_GROUPS["pimred"], None]
#: Few distinct values, so that many rows tie on the key (and on the key and the creation time): the id decides.
HOURS = [None, -30, -2, 5, 5, 48]
MINUTES = [1, 1, 7]
HOLDERS = [None, None, "tim", "tim2", "admin", "pimred"]


@pytest.fixture
def users(system, tx):
    make_users(system, tx)


def _id(k: int) -> str:
    return str(uuid.UUID(int=(k * 2654435761) % 2**128))  # ids not in insertion order


def _world(system, s, rows: list[tuple], now) -> list[int]:
    """Instances (changed at one of three moments) and task rows: ``rows`` of (instance, lane, group, hours to the
    deadline, minutes since created, holder, state, late, day offset)."""
    definition = system.cases.ensure_definition(s)
    ids = []
    for k in range(3):
        instance = Instance(definition_id=definition.id, status="running", state="{}", serializer_version="x",
                            title=f"Kasus {k}", created_at=now, updated_at=now - timedelta(minutes=10 * k),
                            group="humas")
        s.add(instance)
        s.flush()
        ids.append(instance.id)
    for k, (which, lane, group, hours, minutes, holder, state, late, day) in enumerate(rows):
        due = None if hours is None else now + timedelta(hours=hours)
        s.add(TaskRow(id=_id(k), instance_id=ids[which], bpmn_id="Task_1", name="Langkah", lane=lane, group=group,
                      state=state, due_at=due, overdue_at=now - timedelta(hours=1) if late and due else None,
                      claimed_by=holder, created_at=now - timedelta(minutes=minutes), case_title=f"Rapat {k % 3}",
                      case_date=None if day is None else date(2025, 5, 1) + timedelta(days=day)))
    s.flush()
    return ids


def _walk(fetch, per_page: int) -> list:
    """Every row of a list, page after page, following the cursor; the pages' totals all agree."""
    seen, cursor, totals = [], None, set()
    for _ in range(10_000):
        page = fetch(cursor, per_page)
        assert len(page.items) <= per_page
        seen += page.items
        totals.add(page.total)
        cursor = page.next_cursor
        if cursor is None:
            break
        assert len(page.items) == per_page  # only the last page is short
    assert len(totals) == 1
    return seen


_ROW = st.tuples(st.integers(0, 2), st.sampled_from(LANES), st.sampled_from([None, None, "humas", "teknis"]),
                 st.sampled_from(HOURS), st.sampled_from(MINUTES), st.sampled_from(HOLDERS),
                 st.sampled_from(["ready", "ready", "ready", "completed"]), st.booleans(),
                 st.sampled_from([None, 0, 0, 3]))
_SORTS = st.sampled_from([None, *[Sort(k, o) for k in SORTS["inbox"] for o in ORDERS]])


@settings(max_examples=100, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=st.lists(_ROW, min_size=0, max_size=40), who=st.sampled_from(["tim", "admin", "pimred"]),
       scope=st.sampled_from(SCOPES), sort=_SORTS, per_page=st.integers(1, 7))
def test_following_the_inbox_cursor_reaches_every_task_once(system, tx, clock, users, rows, who, scope, sort,
                                                            per_page):
    now = clock.now()
    with tx() as s:
        _world(system, s, rows, now)
        me = user(s, who)
        lanes = system.rules.lane_map(s).lanes_of(me)
        try:
            def fetch(cursor, n):
                return inbox_page(s, me, scope, now=now, lanes=lanes, overdue_lanes=LATE_LANES, sort=sort,
                                  cursor=cursor, per_page=n)

            whole = fetch(None, 10_000)
            assert whole.next_cursor is None
            walked = [i.task_id for i in _walk(fetch, per_page)]
            assert walked == [i.task_id for i in whole.items]  # the same rows in the same order, none twice
            assert len(set(walked)) == len(walked) == whole.total
            assert whole.total == inbox_counts(s, me, now=now, lanes=lanes, overdue_lanes=LATE_LANES)[scope]
            _check_order(whole.items, sort or Sort("deadline", "asc"), s)
        finally:
            s.execute(delete(TaskRow))
            s.execute(delete(Instance))


def _check_order(items, sort: Sort, s) -> None:
    """The list is in its documented order: the key (rows without one last), then the id, in one direction."""
    if sort == Sort("deadline", "asc"):
        keys = [(i.due_at is None, i.due_at or i.created_at, i.created_at, i.task_id) for i in items]
        assert keys == sorted(keys)
        return
    changed = {i.id: i.updated_at for i in s.query(Instance)}
    value = {"deadline": lambda i: i.due_at, "changed": lambda i: changed[i.instance_id],
             "activity_date": lambda i: i.activity_date}[sort.key]
    valued = [(value(i), i.task_id) for i in items if value(i) is not None]
    missing = [i.task_id for i in items if value(i) is None]
    assert valued == sorted(valued, reverse=sort.descending)
    assert missing == sorted(missing, reverse=sort.descending)
    assert [i.task_id for i in items] == [t for _v, t in valued] + missing


def test_a_lane_deeper_than_a_page_tie_on_everything(system, tx, clock, users):
    """Many free tasks with the same deadline and creation time: the id alone orders them, pages do not overlap."""
    now = clock.now()
    with tx() as s:
        _world(system, s, [(k % 3, LANE, None, 5, 1, None, "ready", False, 0) for k in range(57)]
               + [(0, LANE, "humas", None, 1, None, "ready", False, None) for _ in range(13)], now)
        me = user(s, "tim")
        lanes = system.rules.lane_map(s).lanes_of(me)
        for sort in [None, *[Sort(k, o) for k in SORTS["inbox"] for o in ORDERS]]:
            walked = _walk(lambda c, n, sort=sort: inbox_page(s, me, "lane", now=now, lanes=lanes, sort=sort,
                                                              cursor=c, per_page=n), 10)
            assert len(walked) == len({i.task_id for i in walked}) == 70, sort


def test_a_cursor_that_is_not_of_the_list_is_422(system, tx, clock, users):
    now = clock.now()
    with tx() as s:
        _world(system, s, [(0, LANE, None, 5, 1, None, "ready", False, 0) for _ in range(5)], now)
        me = user(s, "tim")
        lanes = system.rules.lane_map(s).lanes_of(me)
        first = inbox_page(s, me, "lane", now=now, lanes=lanes, per_page=2)
        other = paging.encode("inbox.lane.deadline.asc", (False, now, "x"))  # wrong shape
        naive = paging.encode("inbox.lane.deadline.asc", (False, now.replace(tzinfo=None), now, "x"))
        for bad in ("x", "!!", "e30", first.next_cursor[:-3], first.next_cursor + "A", "A" * 2000, other, naive,
                    paging.encode("inbox.lane.deadline.asc", (False, now, now, "a\x00b")),
                    paging.encode("inbox.lane.deadline.asc", (False, {"t": "0001-01-01T00:00:00+14:00"}, now, "x")),
                    "eyJ2IjoyLCJsIjoiaW5ib3gubGFuZS5kZWFkbGluZS5hc2MiLCJrIjpbXX0"):  # version 2
            with pytest.raises(FormInvalid) as refused:
                inbox_page(s, me, "lane", now=now, lanes=lanes, per_page=2, cursor=bad)
            (error,) = refused.value.errors
            assert (error.code, error.field) == ("cursor", "cursor") and "penanda halaman" in error.message, bad
        # A cursor of one tab or order is not one of another.
        for scope, sort in (("mine", None), ("lane", Sort("deadline", "desc")), ("lane", Sort("changed", "asc"))):
            with pytest.raises(FormInvalid):
                inbox_page(s, me, scope, now=now, lanes=lanes, per_page=2, sort=sort, cursor=first.next_cursor)


@pytest.mark.parametrize("key", SORTS["cases"])
def test_following_the_case_list_cursor_reaches_every_case_once(system, tx, clock, users, key):
    now = clock.now()
    with tx() as s:
        definition = system.cases.ensure_definition(s)
        for k in range(23):
            moment = now - timedelta(minutes=k % 4)  # ties on the key: the id decides
            s.add(Instance(definition_id=definition.id, status="running", state="{}", serializer_version="x",
                           title=f"Rapat koordinasi {k}", created_at=moment, updated_at=moment, group="humas",
                           business_date=None if k % 5 == 0 else date(2025, 5, 1 + k % 3)))
        s.flush()
        ids = [i.id for i in s.query(Instance)]
        for k, instance_id in enumerate(ids[::2]):
            s.add(TaskRow(id=_id(k), instance_id=instance_id, bpmn_id="Task_1", name="Langkah", lane=LANE,
                          state="ready", due_at=None if k % 3 == 0 else now + timedelta(hours=k % 2),
                          created_at=now, case_title="", case_date=None))
        s.flush()
        me = user(s, "auditor")
        for order in ORDERS:
            sort = Sort(key, order)

            def fetch(cursor, n, sort=sort):
                return case_list(s, me, system.rules, sort=sort, per_page=n, cursor=cursor)

            whole = fetch(None, 100)
            assert whole.total == len(ids) and whole.next_cursor is None
            for per_page in (1, 4, 7):
                walked = _walk(fetch, per_page)
                assert [c.instance.id for c in walked] == [c.instance.id for c in whole.items], (sort, per_page)
        with pytest.raises(FormInvalid):
            case_list(s, me, system.rules, sort=Sort(key, DEFAULT_ORDER[key]), cursor="bm90IGEgY3Vyc29y")


# ------------------------------------------------------------------------------------------------ API and HTML


def _token(client, who: str) -> dict:
    resp = client.post(f"{API}/auth/token", json={"username": who, "password": f"rahasia-{who}"})
    return {"Authorization": f"Bearer {resp.json['token']}"}


def _many_free_tasks(system, tx, clock, n: int) -> None:
    now = clock.now()
    with tx() as s:
        _world(system, s, [(k % 3, LANE, None if k % 2 else "humas", HOURS[k % len(HOURS)], k % 2, None, "ready",
                            False, 0) for k in range(n)], now)


def test_the_api_task_list_is_paged_by_cursor(system, tx, clock, users, app):
    _many_free_tasks(system, tx, clock, 23)
    client = app.test_client()
    auth = _token(client, "tim")
    for query in ("scope=lane", "scope=lane&sort=changed", "scope=lane&sort=activity_date&order=asc",
                  "scope=lane&sort=deadline&order=desc"):
        seen, cursor, pages = [], None, 0
        while True:
            resp = client.get(f"{API}/tasks?{query}&per_page=5" + (f"&cursor={cursor}" if cursor else ""),
                              headers=auth)
            assert resp.status_code == 200, resp.json
            body = resp.json
            assert body["total"] == 23 and body["per_page"] == 5
            seen += [t["id"] for t in body["items"]]
            pages += 1
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert pages == 5 and len(seen) == len(set(seen)) == 23, query
        whole = client.get(f"{API}/tasks?{query}&per_page=200", headers=auth).json
        assert [t["id"] for t in whole["items"]] == seen and whole["next_cursor"] is None
    default = client.get(f"{API}/tasks?scope=lane", headers=auth).json
    assert default["per_page"] == paging.DEFAULT_PER_PAGE and len(default["items"]) == 23
    for query, field in (("per_page=201", "per_page"), ("per_page=0", "per_page"), ("per_page=x", "per_page"),
                         ("cursor=x", "cursor"), ("cursor=%20", "cursor"), ("cursor=" + "A" * 1001, "cursor")):
        resp = client.get(f"{API}/tasks?scope=lane&{query}", headers=auth)
        assert resp.status_code == 422, query
        assert [f["field"] for f in resp.json["error"]["fields"]] == [field], query
    first = client.get(f"{API}/tasks?scope=lane&per_page=5", headers=auth).json
    resp = client.get(f"{API}/tasks?scope=lane&sort=changed&cursor={first['next_cursor']}", headers=auth)
    assert resp.status_code == 422 and resp.json["error"]["fields"][0]["code"] == "cursor"
    assert "penanda halaman" in resp.json["error"]["fields"][0]["message"]


def test_the_api_case_list_and_comments_are_paged_by_cursor(system, tx, clock, users, app):
    _many_free_tasks(system, tx, clock, 3)  # three cases
    client = app.test_client()
    auth = _token(client, "auditor")
    for query in ("", "&sort=deadline", "&sort=changed&order=asc", "&sort=activity_date"):
        seen, cursor = [], None
        while True:
            resp = client.get(f"{API}/cases?per_page=2{query}" + (f"&cursor={cursor}" if cursor else ""),
                              headers=auth)
            assert resp.status_code == 200, resp.json
            assert resp.json["total"] == 3
            seen += [c["id"] for c in resp.json["items"]]
            cursor = resp.json["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) == 3, query
    assert client.get(f"{API}/cases?per_page=101", headers=auth).status_code == 422
    assert client.get(f"{API}/cases?page=2&per_page=2", headers=auth).json["page"] == 2  # the old offset page
    with tx() as s:
        case_id = s.query(Instance.id).first()[0]
        for k in range(7):
            system.caseops.comment(s, user(s, "tim"), case_id, f"Komentar {k}")
    seen, cursor = [], None
    while True:
        resp = client.get(f"{API}/cases/{case_id}/comments?per_page=3" + (f"&cursor={cursor}" if cursor else ""),
                          headers=auth)
        assert resp.status_code == 200 and resp.json["total"] == 7
        seen += [c["text"] for c in resp.json["items"]]
        cursor = resp.json["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"Komentar {k}" for k in range(7)]
    assert client.get(f"{API}/cases/{case_id}/comments?cursor=zz", headers=auth).status_code == 422


def _next_link(html: str) -> str | None:
    return _link(html, "next")


def _link(html: str, rel: str) -> str | None:
    found = re.search(rf'href="([^"]+)" rel="{rel}"', html)
    return found[1].replace("&amp;", "&") if found else None


def test_following_the_inbox_pages_next_links_reaches_every_task_once(system, tx, clock, users, login,
                                                                      monkeypatch):
    import webui.inbox

    monkeypatch.setattr(webui.inbox, "PER_PAGE", 4)
    _many_free_tasks(system, tx, clock, 18)
    client = login("tim")
    url, seen, shown = "/kotak-tugas?tab=lane", [], []
    while url:
        page = client.get(url)
        assert page.status_code == 200
        seen += re.findall(r'href="/tugas/([0-9a-f-]{36})"', page.text)
        shown += re.findall(r"(\d+)–(\d+) dari 18 tugas", page.text)
        url = _next_link(page.text)
    assert len(seen) == len(set(seen)) == 18
    assert shown == [("1", "4"), ("5", "8"), ("9", "12"), ("13", "16"), ("17", "18")]
    assert "Halaman pertama" in page.text
    back, shown_back = [], []
    url = _link(page.text, "prev")
    while url:  # and back again, page by page, to the first one
        page = client.get(url)
        assert page.status_code == 200
        back = re.findall(r'href="/tugas/([0-9a-f-]{36})"', page.text) + back
        shown_back += re.findall(r"(\d+)–(\d+) dari 18 tugas", page.text)
        url = _link(page.text, "prev")
    assert back == seen[:-2] and shown_back == [("13", "16"), ("9", "12"), ("5", "8"), ("1", "4")]
    assert client.get("/kotak-tugas?tab=lane&kursor=rusak").status_code == 422


def test_following_the_case_list_next_links_reaches_every_case_once(system, tx, clock, users, login, monkeypatch):
    import webui.audit
    import webui.cases

    monkeypatch.setattr(webui.cases, "PER_PAGE", 2)
    monkeypatch.setattr(webui.audit, "PER_PAGE", 2)
    _many_free_tasks(system, tx, clock, 3)
    client = login("auditor")
    for query in ("", "&sort=deadline", "&sort=activity_date&order=asc"):
        url, seen = "/kasus?" + query, []
        while url:
            page = client.get(url)
            assert page.status_code == 200
            seen += re.findall(r'href="/kasus/(\d+)"', page.text)
            url = _next_link(page.text)
        assert len(seen) == len(set(seen)) == 3, query
    url, seen = "/audit", []  # the audit's case list too
    while url:
        page = client.get(url)
        assert page.status_code == 200
        seen += re.findall(r'href="/audit/kasus/(\d+)/replay"', page.text)
        url = _next_link(page.text)
    assert len(seen) == len(set(seen)) == 3


def test_a_search_is_paged_by_its_relevance_then_id(system, tx, users):
    """With ``q`` the list is ordered by how well a case matches (its rank, then its id): the cursor holds the rank."""
    names = ["Rapat koordinasi", "Rapat rapat koordinasi", "Rapat pleno", "Bimtek rapat", "Rapat", "Sosialisasi",
             "Rapat rapat rapat"]
    for name in names:
        Case.start(system, tx, nama=name)
    with tx() as s:
        me = user(s, "auditor")
        for sort in (None, Sort("relevance", "asc"), Sort("created", "asc")):
            def fetch(cursor, n, sort=sort):
                return case_list(s, me, system.rules, q="rapat", sort=sort, per_page=n, cursor=cursor)

            whole = fetch(None, 100)
            assert whole.total == 6 and len(whole.items) == 6
            for per_page in (1, 2, 4):
                walked = _walk(fetch, per_page)
                assert [c.instance.id for c in walked] == [c.instance.id for c in whole.items], (sort, per_page)


def test_an_undeclared_query_parameter_is_refused_by_name(client, system, tx):
    """What the OpenAPI document does not declare for an operation is a 422 naming it (a misspelt ``per_pge``
    would otherwise be ignored and the page not be the one asked for)."""
    from tests.factories import make_users
    from tests.test_api import Api

    make_users(system, tx)
    api = Api(client)
    resp = api.get("admin", "/tasks?scope=lane&per_pge=5")
    assert resp.status_code == 422, resp.json
    [error] = resp.json["error"]["fields"]
    assert error["field"] == "per_pge" and error["code"] == "unknown_parameter"
    assert "per_page" in error["params"]["options"]
    assert api.get("admin", "/tasks?scope=lane&per_page=5").status_code == 200
    assert api.get("admin", "/me?x=1").status_code == 422

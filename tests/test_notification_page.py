"""The notifications page is paged by a cursor (process/notification_page.py): however many notifications a user
has, every one is reachable, once, newest first; a deep page is read from ``ix_notification_user_created``."""
from __future__ import annotations

import html
import re
from datetime import timedelta

from sqlalchemy import insert, select

from process.models import Notification
from process.notification_page import notifications_page
from tests.factories import make_users, user
from tests.test_case_list_plans import _explain, _statements


def _add(tx, clock, username: str, n: int, *, ties: int = 3) -> list[int]:
    """``n`` notifications of ``username`` (``ties`` at a time share one creation time), plus as many of someone
    else's between them; their ids."""
    now = clock.now()
    with tx() as s:
        mine, other = user(s, username).id, user(s, "auditor").id
        rows = []
        for k in range(n):
            at = now - timedelta(minutes=k // ties)
            rows.append({"user_id": mine, "kind": "task_ready", "message": f"pesan {k}", "created_at": at})
            rows.append({"user_id": other, "kind": "task_ready", "message": f"lain {k}", "created_at": at})
        s.execute(insert(Notification), rows)
        return list(s.execute(select(Notification.id).where(Notification.user_id == mine)).scalars())


def test_every_notification_is_reached_once_in_order(system, tx, clock, login):
    make_users(system, tx)
    ids = _add(tx, clock, "admin", 130)
    client = login("admin")
    seen, url, pages = [], "/notifikasi", 0
    while url:
        page = client.get(url).get_data(as_text=True)
        pages += 1
        seen += [int(m) for m in re.findall(r"pesan (\d+)", page)]
        assert "lain " not in page  # never another user's
        found = re.search(r'href="([^"]+)" rel="next"', page)
        url = html.unescape(found.group(1)) if found else None
    assert pages == 3 and "101–130 dari 130 notifikasi" in page
    assert seen == sorted(range(130), key=lambda k: (k // 3, -k))  # newest first; a tie: the later id first
    assert len(ids) == 130


def test_a_cursor_of_another_list_is_refused(system, tx, clock, login):
    make_users(system, tx)
    _add(tx, clock, "admin", 3)
    assert login("admin").get("/notifikasi?kursor=rusak").status_code == 422


def test_a_deep_page_reads_the_index(system, tx, clock):
    make_users(system, tx)
    _add(tx, clock, "admin", 3000, ties=1)
    with tx() as s:
        if s.bind.dialect.name == "postgresql":
            s.connection().exec_driver_sql("ANALYZE notification")
        reader = user(s, "admin")
        first = notifications_page(s, reader, per_page=50)
        cursor = first.next_cursor
        for _ in range(20):
            cursor = notifications_page(s, reader, per_page=50, cursor=cursor).next_cursor
        with _statements(s.get_bind()) as sent:
            deep = notifications_page(s, reader, per_page=50, cursor=cursor)
        assert deep.total == 3000 and len(deep.items) == 50
        [(statement, parameters)] = [(st, p) for st, p in sent if "ORDER BY" in st]
        plan = _explain(s, statement, parameters)
        assert "ix_notification_user_created" in plan, plan
        if s.bind.dialect.name == "sqlite":
            assert "TEMP B-TREE" not in plan, plan
        else:
            assert "Sort" not in plan, plan

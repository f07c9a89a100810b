"""GET pages read in reading transactions, which on SQLite take no writer turn (engine/sqlite_turns.py, webui/db.py).

Every GET route of the url_map, with real ids for its arguments, as every role and anonymously, through the
browser pages and the API: none may take the writer turn, but the task page opened by the only person who could
hold the task (it claims it: a write transaction it asks for, ``webui.db.write_instead``). A GET view that starts
to write fails here (its statement would take the turn in the middle of its reading transaction, where SQLite may
refuse it under load) until it is made a POST, marked ``webui.db.writes`` or calls ``write_instead``."""
from __future__ import annotations

import itertools
import logging
import sys
from datetime import timedelta

import pytest
from flask import g, has_request_context, request
from sqlalchemy import select

from engine.sqlite_turns import WriterTurns
from process.models import UserSession
from tests.factories import make_users
from tests.fuzzing import ROLE_USERS, make_world
from tests.test_fuzz_html import _PARAM, _path, _real


@pytest.fixture
def sqlite_only(system):
    if system.db.dialect.name != "sqlite":
        pytest.skip("the writer turn is SQLite's")


@pytest.fixture
def turn_takes(monkeypatch):
    """Every take of a writer turn during a request: (method, path, how: 'begin' or 'upgrade', whether the request
    declared that it writes)."""
    takes: list[tuple[str, str, str]] = []
    take = WriterTurns.take

    def counting(self, *args, **kwargs):
        if has_request_context():
            declared = "declared" if g.get("alur_writing") else "undeclared"
            takes.append((request.method, request.full_path.rstrip("?"), _how(), declared))
        return take(self, *args, **kwargs)

    monkeypatch.setattr(WriterTurns, "take", counting)
    return takes


def _how() -> str:
    """'upgrade': a statement that writes took the turn inside a reading transaction; 'begin': a write transaction."""
    frame, names = sys._getframe(2), set()
    for _ in range(4):
        if frame is None:
            break
        names.add(frame.f_code.co_name)
        frame = frame.f_back
    return "upgrade" if "before_write" in names else "begin"


def _get_urls(app, world) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        params = _PARAM.findall(rule.rule)
        choices = [_real(conv, world) for conv, _name in params]
        for values in itertools.islice(itertools.product(*choices), 12):
            urls.append(_path(rule.rule, {name: v for (_conv, name), v in zip(params, values)}))
    return sorted(set(urls))


@pytest.mark.parametrize("identity", [None, *ROLE_USERS], ids=lambda i: i or "anonymous")
def test_no_get_page_takes_the_writer_turn(sqlite_only, app, system, tx, login, turn_takes, identity):
    world = make_world(system, tx)
    client = login(ROLE_USERS[identity]) if identity else app.test_client()
    headers = {}
    if identity:
        token = client.post("/api/v1/auth/token", json={"username": ROLE_USERS[identity],
                                                        "password": f"rahasia-{ROLE_USERS[identity]}"})
        headers = {"Authorization": f"Bearer {token.get_json()['token']}"}
    urls = _get_urls(app, world)
    assert len(urls) > 40 and "/kotak-tugas" in urls and any(u.startswith("/api/v1/cases/") for u in urls)
    turn_takes.clear()
    answered = {}
    for url in urls:
        resp = client.get(url, headers=headers if url.startswith("/api/") else {})
        answered[url] = resp.status_code
        resp.close()
        assert resp.status_code < 500, (url, resp.status_code)
    claims = [t for t in turn_takes if t[1].startswith("/tugas/")]
    assert [t for t in turn_takes if t not in claims] == [], turn_takes
    assert all(t[2:] == ("begin", "declared") for t in claims), claims
    assert len({t[1] for t in claims}) == len(claims), claims  # each task this role alone could hold: once
    if identity == "admin_medsos":  # the only one of the role: steps 2 and 5 of the world are claimed so
        assert claims
    assert sum(1 for s in answered.values() if s == 200) > (10 if identity else 1), answered
    if claims:
        for url in urls:  # the claim is made: every page only reads now
            client.get(url, headers=headers if url.startswith("/api/") else {}).close()
        assert turn_takes == claims


def test_a_reading_request_writes_the_last_seen_time_after_its_transaction(sqlite_only, system, tx, login, clock,
                                                                           turn_takes, caplog):
    make_users(system, tx)
    browser = login("tim")
    started = clock.now()
    clock.advance(minutes=5)
    turn_takes.clear()
    with caplog.at_level(logging.WARNING, logger="engine.db"):
        assert browser.get("/kotak-tugas").status_code == 200
    with system.readers() as s:
        assert s.execute(select(UserSession.last_seen_at)).scalar_one() == started + timedelta(minutes=5)
    # Written in a write transaction of its own after the page's (never an upgrade of the page's reading one).
    assert turn_takes == [("GET", "/kotak-tugas", "begin", "undeclared")]
    assert "a reading transaction writes" not in caplog.text


def test_a_get_view_marked_as_writing_gets_a_write_transaction(sqlite_only, app, system, turn_takes):
    from webui.db import db, writes

    @app.get("/_uji/menulis")
    @writes
    def writing_view():
        db().execute(select(UserSession.id)).all()
        return "ok"

    @app.get("/_uji/membaca")
    def reading_view():
        db().execute(select(UserSession.id)).all()
        return "ok"

    client = app.test_client()
    assert client.get("/_uji/membaca").status_code == 200 and turn_takes == []
    assert client.get("/_uji/menulis").status_code == 200
    assert turn_takes == [("GET", "/_uji/menulis", "begin", "declared")]

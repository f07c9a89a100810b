"""Every wait of a web request for the database ends before gunicorn's worker timeout (ALUR_REQUEST_TIMEOUT): a row
lock or the SQLite write turn held longer than the lock timeout, or a statement running longer than the statement
timeout, gives 503 with Retry-After and writes nothing; a lost race gives 409. Checked on PostgreSQL and on SQLite,
with the lock held by another connection or process."""
from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import OperationalError

from engine.db import make_engine, transaction
from engine.models import EventRow, TaskRow
from process.config import Settings
from process.system import build_system
from tests.factories import Case, make_users
from webui import create_app

ROOT = Path(__file__).resolve().parents[1]
REQUEST_TIMEOUT = 3  # seconds: a lock wait of 0.5 s, a statement of at most 1.5 s
#: Holds SQLite's write turn (and its lock) in another process until told, or for at most 20 s: a request that
#: waited without a limit would then go through, and the test fail instead of hanging.
TURN_HOLDER = """
import select, sys
from sqlalchemy import text
from engine.db import make_engine
eng = make_engine(sys.argv[1])
with eng.begin() as conn:
    conn.execute(text("SELECT 1"))
    print("holding", flush=True)
    select.select([sys.stdin], [], [], 20)
print("done", flush=True)
"""


def test_the_waits_are_derived_from_the_request_timeout():
    settings = Settings(database_url="sqlite://", files_dir=Path("/nonexistent"))
    assert settings.request_timeout == 60
    assert settings.database_waits("web") == settings.database_waits("worker") == (10.0, 30.0)
    assert settings.database_waits("cli") == (None, None)
    assert replace(settings, request_timeout=6).database_waits("web") == (1.0, 3.0)
    assert Settings.from_env(env={"ALUR_REQUEST_TIMEOUT": "30"}).request_timeout == 30
    for bad in ("0", "1", "abc", "2.5", "-5"):
        with pytest.raises(ValueError, match="ALUR_REQUEST_TIMEOUT"):
            Settings.from_env(env={"ALUR_REQUEST_TIMEOUT": bad})
    with pytest.raises(ValueError, match="purpose"):
        settings.database_waits("browser")


class _Failure(Exception):
    def __init__(self, sqlstate: str | None):
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


#: What each kind of database failure answers: a lost race is a conflict, anything else is "busy, try again".
SQLSTATES = {"40001": 409, "40P01": 409, "55P03": 503, "57014": 503, "08006": 503, None: 503}


@pytest.mark.parametrize("where", ["request", "commit"])
def test_each_kind_of_database_failure_has_its_answer_in_the_request_and_at_commit(app, where):
    """Raised by a statement of the request, or by its commit (where the event chain head is locked)."""
    from webui.db import db

    def view(sqlstate):
        def run():
            failure = OperationalError("SELECT 1", {}, _Failure(sqlstate))
            if where == "request":
                raise failure
            session = db()

            @event.listens_for(session, "before_commit", once=True)
            def _fail(_session):
                raise failure

            session.execute(select(1))
            return {"ok": True}
        return run

    for n, sqlstate in enumerate(SQLSTATES):
        app.add_url_rule(f"/api/v1/_test/{n}", f"_test_{n}", view(sqlstate))
    client = app.test_client()
    answers = {}
    for n, sqlstate in enumerate(SQLSTATES):
        resp = client.get(f"/api/v1/_test/{n}")
        answers[sqlstate] = (resp.status_code, resp.headers.get("Retry-After"))
        assert "coba lagi" in resp.get_json()["error"]["message"].lower()
    assert answers == {s: (status, "2" if status == 503 else None) for s, status in SQLSTATES.items()}


def _web_app(settings: Settings, clock):
    """The app as ``alur serve`` builds it (web waits), with a short request timeout."""
    system = build_system(replace(settings, request_timeout=REQUEST_TIMEOUT), clock, purpose="web")
    app = create_app(system=system, config={"SECRET_KEY": "test-secret", "TESTING": True,
                                            "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False})
    return system, app


def _token(client, username: str) -> dict:
    resp = client.post("/api/v1/auth/token", json={"username": username, "password": f"rahasia-{username}"})
    assert resp.status_code == 200, resp.get_json()
    return {"Authorization": f"Bearer {resp.get_json()['token']}"}


def _written(system) -> tuple:
    with transaction(system.sessions) as s:
        return (s.execute(select(func.count()).select_from(EventRow)).scalar(),
                s.execute(select(TaskRow.claimed_by, TaskRow.state).order_by(TaskRow.id)).all())


def test_postgresql_a_row_lock_held_too_long_answers_503_and_writes_nothing(pg_system, clock):
    tx = lambda: transaction(pg_system.sessions)  # noqa: E731
    make_users(pg_system, tx)
    case = Case.start(pg_system, tx)
    system, app = _web_app(pg_system.settings, clock)
    client = app.test_client()
    auth = _token(client, "tim")
    before = _written(system)
    holder = make_engine(pg_system.settings.database_url).connect()
    try:
        # Another transaction holds the case's row (an action in progress, a stuck session) for longer than any
        # request may wait; it ends itself after 20 s, so that a request that waited without a limit would go
        # through and the test fail rather than hang.
        holder.execute(text("SET idle_in_transaction_session_timeout = 20000"))
        holder.execute(text("SELECT id FROM instance WHERE id = :i FOR UPDATE"), {"i": case.instance_id})
        claim = client.post(f"/api/v1/tasks/{case.task_id}/claim", headers=auth)
        complete = client.post(f"/api/v1/tasks/{case.task_id}/complete", json={"_claim": True}, headers=auth)
        for resp in (claim, complete):
            assert (resp.status_code, resp.headers.get("Retry-After")) == (503, "2"), resp.get_json()
            assert resp.get_json()["error"]["code"] == "unavailable"
        assert _written(system) == before
    finally:
        holder.rollback()
        holder.close()
        holder.engine.dispose()
    assert client.post(f"/api/v1/tasks/{case.task_id}/claim", headers=auth).status_code == 200
    system.dispose()


def test_postgresql_a_statement_running_too_long_answers_503(pg_system, clock):
    from webui.db import db

    system, app = _web_app(pg_system.settings, clock)

    def slow():
        db().execute(text("SELECT pg_sleep(:s)"), {"s": 20})  # longer than the statement timeout
        return {"ok": True}

    app.add_url_rule("/api/v1/_test/slow", "_test_slow", slow)
    resp = app.test_client().get("/api/v1/_test/slow")
    assert (resp.status_code, resp.headers.get("Retry-After")) == (503, "2")
    system.dispose()


def test_sqlite_the_write_turn_held_too_long_by_another_process_answers_503_and_writes_nothing(settings, clock,
                                                                                             tmp_path):
    settings = replace(settings, database_url=f"sqlite:///{tmp_path / 'turn.db'}")
    with build_system(settings, clock) as setup:
        from engine.db import create_schema

        create_schema(setup.db)
        make_users(setup, lambda: transaction(setup.sessions))
        case = Case.start(setup, lambda: transaction(setup.sessions))
    system, app = _web_app(settings, clock)
    client = app.test_client()
    auth = _token(client, "tim")
    before = _written(system)
    holder = subprocess.Popen([sys.executable, "-c", TURN_HOLDER, settings.database_url], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "holding"
        resp = client.post(f"/api/v1/tasks/{case.task_id}/claim", headers=auth)
        assert (resp.status_code, resp.headers.get("Retry-After")) == (503, "2"), resp.get_json()
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "done"
    finally:
        holder.kill()
        holder.wait(10)
        holder.stdin.close()
        holder.stdout.close()
    assert _written(system) == before
    assert client.post(f"/api/v1/tasks/{case.task_id}/claim", headers=auth).status_code == 200
    system.dispose()

"""A row lock (PostgreSQL) or the write turn (SQLite) held longer than gunicorn's worker timeout: the request
answers 503 with Retry-After before that timeout, having written nothing, and gunicorn kills no worker (it used to
answer an empty 500 after the timeout); once the lock is let go the same request goes through."""
from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text

from bench.livestack import LocalStack, StackUser
from engine.db import make_engine
from engine.models import EventRow, TaskRow
from tests.integration.live import case_at_terima

pytestmark = pytest.mark.live

WORKER_TIMEOUT = 6  # seconds (ALUR_REQUEST_TIMEOUT): a lock wait of 1 s


def _written(stack) -> tuple:
    with stack.system().sessions() as session:
        return (session.execute(select(func.count()).select_from(EventRow)).scalar(),
                session.execute(select(TaskRow.claimed_by).order_by(TaskRow.id)).all())


def _hold(stack, case_id: int):
    """Another connection takes what the request needs and keeps it (a stuck transaction): the case's row on
    PostgreSQL (ending itself after 30 s, so an unbounded wait fails the test instead of hanging it), the whole
    database's write turn on SQLite."""
    engine = make_engine(stack.database_url)
    conn = engine.connect()
    if stack.dialect == "postgresql":
        conn.execute(text("SET idle_in_transaction_session_timeout = 30000"))
        conn.execute(text("SELECT id FROM instance WHERE id = :i FOR UPDATE"), {"i": case_id})
    else:
        conn.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the write turn, then SQLite's write lock
    return engine, conn


@pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
def test_a_lock_held_longer_than_the_worker_timeout_answers_503_not_an_empty_500(kind, request, tmp_path, figures):
    url = request.getfixturevalue("pg_server") if kind == "postgresql" else "sqlite:///"
    with LocalStack(url, tmp_path / "stack", env={"ALUR_REQUEST_TIMEOUT": str(WORKER_TIMEOUT)}) as stack:
        stack.add_users([StackUser("tim", ["tim_pelaksana"], team="humas"), StackUser("admin", ["admin_medsos"])])
        stack.start_web()
        tim, admin = stack.client("tim"), stack.client("admin", timeout=3 * WORKER_TIMEOUT)
        case_id, task_id = case_at_terima(tim, "Kegiatan terkunci", datetime.now(UTC).date())
        before = _written(stack)
        engine, holder = _hold(stack, case_id)
        try:
            started = time.monotonic()
            answer = admin.post(f"/tasks/{task_id}/claim")
            took = held_for = time.monotonic() - started
            while held_for < WORKER_TIMEOUT + 1:  # the lock outlives the worker timeout
                time.sleep(0.2)
                held_for = time.monotonic() - started
        finally:
            holder.rollback()
            holder.close()
            engine.dispose()
        assert (answer.status, answer.headers.get("Retry-After"), answer.error_code) == (503, "2", "unavailable"), \
            (answer.status, answer.body, answer.error)
        assert _written(stack) == before, "the refused request wrote nothing"
        again = admin.post(f"/tasks/{task_id}/claim")
        assert again.ok and again.body["claimed_by"] == "admin"
        log = stack.log_tail("web", 10_000)
        assert "WORKER TIMEOUT" not in log
        figures(f"timeouts ({kind}): a lock held {held_for:.1f} s, gunicorn worker timeout {WORKER_TIMEOUT} s: "
                f"the claim answered {answer.status} (Retry-After {answer.headers.get('Retry-After')}) after "
                f"{took:.2f} s, nothing written; the same claim after the lock went: {again.status}")
        for api in (tim, admin):
            api.close()

"""Liveness (/healthz: the process answers, no database) and readiness (/readyz: the database answers, with its
schema; 503 with Retry-After otherwise)."""
from __future__ import annotations

import pytest

from process.config import Settings
from process.system import build_system
from webui import create_app

CONFIG = {"SECRET_KEY": "test-secret", "TESTING": True, "RATELIMIT_ENABLED": False}


def test_ready_when_the_database_answers(client):
    assert client.get("/healthz").json == {"status": "ok"}
    resp = client.get("/readyz")
    assert resp.status_code == 200 and resp.json == {"status": "ready", "database": "ok"}


@pytest.mark.parametrize("url", [
    "postgresql://postgres@127.0.0.1:1/alur",  # nothing listens there: connection refused
    "sqlite:///{tmp}/gone/db/alur.db",  # a folder removed after start: the file cannot be opened
    "sqlite:///{tmp}/empty.db",  # a database without the schema (never initialised)
], ids=["postgresql-refused", "sqlite-missing", "no-schema"])
def test_not_ready_when_the_database_does_not_answer(tmp_path, url):
    url = url.format(tmp=tmp_path)
    with build_system(Settings(database_url=url, files_dir=tmp_path / "files")) as system:
        if "gone" in url:
            (tmp_path / "gone" / "db").rmdir()
            (tmp_path / "gone").rmdir()
        c = create_app(system=system, config=CONFIG).test_client()
        assert c.get("/healthz").status_code == 200  # alive: restarting it would not help
        resp = c.get("/readyz")
        assert resp.status_code == 503 and resp.headers["Retry-After"] == "2"
        assert resp.json == {"status": "unavailable", "database": "unreachable"}

"""Fixtures: a clean database per test (SQLite file, or PostgreSQL via ALUR_TEST_DATABASE_URL),
an injected manual clock, the SOP service and user factories."""
from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import jinja2
import pytest
from sqlalchemy import text

from engine.clock import ManualClock
from engine.db import create_schema, make_engine, transaction
from engine.models import Base
from process.config import Settings
from process.deadlines import WIB
from process.system import System, build_system
from tests.factories import make_users

ROOT = Path(__file__).resolve().parents[1]
DIAGRAM = ROOT / "bpmn" / "alur_pengunggahan.bpmn"
#: The OMG BPMN MIWG reference diagrams (CC BY 3.0; origin and licence in tests/data/bpmn-miwg/README.md).
MIWG = ROOT / "tests" / "data" / "bpmn-miwg"


#: The password hash method in this process's tests: one PBKDF2 round instead of werkzeug's default scrypt
#: (about 0.1 s a hash on CI, so 8 users per test cost most of the suite's time). Stored hashes name their method,
#: so checking them follows; processes the tests start (CLI subprocesses, live servers) keep the real method, and
#: tests/test_web_auth.py checks that the application's own hash is werkzeug's default.
TEST_PASSWORD_METHOD = "pbkdf2:sha256:1"


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hash():
    from functools import partial

    from werkzeug.security import generate_password_hash

    import process.people

    with pytest.MonkeyPatch.context() as mp:
        process.people._dummy_hash.cache_clear()
        mp.setattr(process.people, "generate_password_hash",
                   partial(generate_password_hash, method=TEST_PASSWORD_METHOD))
        yield
    process.people._dummy_hash.cache_clear()


class _SharedTemplateCode(jinja2.BytecodeCache):
    """Compiled templates kept in memory for the whole session, by template and source checksum: every test makes
    a Flask app of its own, and each app's Jinja environment would compile again every template it renders."""

    def __init__(self):
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket):
        if bucket.key in self.code:
            bucket.bytecode_from_string(self.code[bucket.key])

    def dump_bytecode(self, bucket):
        self.code[bucket.key] = bucket.bytecode_to_string()


@pytest.fixture(scope="session", autouse=True)
def _templates_compiled_once():
    """Every app of this process (they are made alike, by webui.create_app) shares one bytecode cache."""
    import flask

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(flask.Flask, "jinja_options", {**flask.Flask.jinja_options,
                                                  "bytecode_cache": _SharedTemplateCode()})
        yield


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("ALUR_TEST_DATABASE_URL")
    if url:
        eng = make_engine(url)
        Base.metadata.drop_all(eng)
        with eng.begin() as conn:  # a revision stamped by an earlier run would make migrations skip or repeat steps
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        eng.dispose()
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def _schema(database_url):
    eng = make_engine(database_url)
    create_schema(eng)
    yield eng
    eng.dispose()


def _drop_everything(eng) -> None:
    Base.metadata.drop_all(eng)
    with eng.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


@pytest.fixture
def empty_database_url(tmp_path):
    """An empty database of the kind under test, for the migration tests: a new SQLite file, or the PostgreSQL
    database of ALUR_TEST_DATABASE_URL emptied (and given the test schema again afterwards, for the tests after)."""
    configured = os.environ.get("ALUR_TEST_DATABASE_URL")
    if not configured or not configured.startswith("postgres"):
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    eng = make_engine(configured)
    _drop_everything(eng)
    try:
        yield configured
    finally:
        _drop_everything(eng)
        create_schema(eng)
        eng.dispose()


def _wipe(eng) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with eng.begin() as conn:
        if eng.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            for t in tables:
                conn.execute(text(f'DELETE FROM "{t}"'))
    create_schema(eng)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2025, 5, 6, 8, 0, tzinfo=WIB))


@pytest.fixture
def settings(database_url, tmp_path) -> Settings:
    return Settings(database_url=database_url, files_dir=tmp_path / "files")


@pytest.fixture
def system(_schema, settings, clock) -> System:
    _wipe(_schema)
    system = build_system(settings, clock)
    yield system
    system.dispose()


@pytest.fixture
def alur(system):
    return system


@pytest.fixture
def tx(system):
    """Run a block in its own transaction, like one request: ``with tx() as s: ...``."""
    return lambda: transaction(system.sessions)


@pytest.fixture
def app(system):
    """The Flask app on the test database; CSRF off here (tests/test_web_security.py turns it on)."""
    from webui import create_app

    return create_app(system=system, config={"SECRET_KEY": "test-secret", "TESTING": True,
                                             "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def login(app):
    """``login("tim")`` → a test client logged in as that user (password from tests/factories.py)."""

    def _login(username: str, password: str | None = None):
        c = app.test_client()
        resp = c.post("/masuk", data={"username": username, "password": password or f"rahasia-{username}"})
        assert resp.status_code == 302, resp.data[:500]
        return c

    return _login


@pytest.fixture
def admin_client(system, tx, login):
    """The factory users plus ``root``, the only holder of the ``admin`` role, logged in."""
    make_users(system, tx)
    with tx() as s:
        system.people.add_user(s, "root", "rahasia-root", ["admin"], full_name="Admin Sistem")
    return login("root")


@pytest.fixture
def cli(system, settings, monkeypatch):
    """``cli("user", "add", ...)`` runs the ``alur`` command line on the test database (click's runner)."""
    from click.testing import CliRunner

    from ops.cli import main

    monkeypatch.setenv("ALUR_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ALUR_FILES_DIR", str(settings.files_dir))
    runner = CliRunner()
    return lambda *args, **kw: runner.invoke(main, list(args), catch_exceptions=False, **kw)


@pytest.fixture
def english_app(system, tmp_path):
    """The app with the English catalogue compiled from the committed .po into a temporary folder (not the
    build's .mo), so a test sees exactly what the catalogue says."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    from webui import create_app
    from webui.extensions import babel

    po = ROOT / "webui" / "translations" / "en" / "LC_MESSAGES" / "messages.po"
    mo_dir = tmp_path / "translations" / "en" / "LC_MESSAGES"
    mo_dir.mkdir(parents=True)
    with open(po, "rb") as src, open(mo_dir / "messages.mo", "wb") as out:
        write_mo(out, read_po(src, locale="en"))
    app = create_app(system=system, config={
        "SECRET_KEY": "test-secret", "TESTING": True, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False,
        "BABEL_TRANSLATION_DIRECTORIES": str(tmp_path / "translations")})
    # Flask-Babel caches loaded catalogues per locale on the (process-wide) extension object, whatever the
    # app's translation directories: start and end with an empty cache.
    with app.app_context():
        babel.domain_instance.cache.clear()
    yield app
    with app.app_context():
        babel.domain_instance.cache.clear()


PG_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="session")
def pg_database(database_url):
    """A PostgreSQL database of its own for tests that need PostgreSQL's row locks whatever database the suite
    runs on (on the server of ALUR_TEST_DATABASE_URL when that is PostgreSQL, else at 127.0.0.1:5432), with the
    schema created; dropped at the end. Skipped when no PostgreSQL answers."""
    import uuid

    from sqlalchemy import create_engine

    server = database_url if database_url.startswith("postgres") else PG_SERVER_URL
    try:
        admin = create_engine(make_engine(server).url, isolation_level="AUTOCOMMIT",
                              connect_args={"connect_timeout": 3})
        admin.connect().close()
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        pytest.skip(f"PostgreSQL is not reachable: {type(exc).__name__}")
    name = f"alur_t_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_engine(server).url.set(database=name).render_as_string(hide_password=False)
    eng = make_engine(url)
    create_schema(eng)
    try:
        yield eng
    finally:
        eng.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_system(pg_database, tmp_path, clock) -> System:
    """Like ``system``, on the PostgreSQL database of ``pg_database`` (emptied first)."""
    _wipe(pg_database)
    url = pg_database.url.render_as_string(hide_password=False)
    system = build_system(Settings(database_url=url, files_dir=tmp_path / "files"), clock)
    yield system
    system.dispose()


def pytest_collection_modifyitems(config, items):
    """A test marked ``nodb`` is left out of the PostgreSQL pass of .ci/run: it must not use the suite's database."""
    wrong = [item.nodeid for item in items
             if item.get_closest_marker("nodb") and "database_url" in getattr(item, "fixturenames", ())]
    if wrong:
        raise pytest.UsageError("marked nodb but using the suite's database: " + ", ".join(wrong))


def pytest_terminal_summary(terminalreporter):
    """The generated walks (tests/test_fuzz_api.py, tests/test_fuzz_html.py) say how many cases they ran."""
    from tests.fuzzing import COUNTS, COVERAGE

    for name, count in sorted(COUNTS.items()):
        terminalreporter.write_line(f"{name}: {count} cases ran ({COVERAGE.get(name, '')})")

"""Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""
from __future__ import annotations

import os
import uuid

import pytest
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from engine.db import make_engine
from ops.schema import alembic_config, downgrade, schema_diff, upgrade


@pytest.fixture
def empty_url(tmp_path):
    """A brand-new empty database of the kind under test."""
    url = os.environ.get("ALUR_TEST_DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    name = f"alur_migr_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_engine(url).url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield str(make_engine(url).url.set(database=name).render_as_string(hide_password=False))
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _diff(engine) -> list:
    with engine.connect() as conn:
        return schema_diff(conn)


def test_upgrade_from_empty_matches_the_models(empty_url):
    engine = make_engine(empty_url)
    try:
        upgrade(engine)
        assert _diff(engine) == []
    finally:
        engine.dispose()


def test_each_revision_upgrades_from_its_predecessor_and_back(empty_url):
    script = ScriptDirectory.from_config(alembic_config(empty_url))
    revisions = list(reversed(list(script.walk_revisions())))
    engine = make_engine(empty_url)
    try:
        for rev in revisions:
            upgrade(engine, rev.revision)
            with engine.connect() as conn:
                assert MigrationContext.configure(conn).get_current_revision() == rev.revision
        downgrade(engine, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(engine)
        assert _diff(engine) == []
    finally:
        engine.dispose()


@pytest.mark.nodb
def test_partial_indexes_keep_the_models_conditions(tmp_path):
    """Alembic's comparison does not look at a partial index's WHERE: the SQL SQLite stores for every index of the
    migrated database is compared with what the models create."""
    from engine.models import Base

    def index_sql(engine) -> dict[str, str]:
        with engine.connect() as conn:
            return dict(conn.execute(text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")).all())

    migrated, modelled = (make_engine(f"sqlite:///{tmp_path / name}") for name in ("migrated.db", "modelled.db"))
    try:
        upgrade(migrated)
        Base.metadata.create_all(modelled)
        expected = index_sql(modelled)
        assert any(" WHERE " in sql for sql in expected.values())
        assert {name: " ".join(sql.replace('"', "").split()) for name, sql in index_sql(migrated).items()} == \
            {name: " ".join(sql.replace('"', "").split()) for name, sql in expected.items()}
    finally:
        migrated.dispose()
        modelled.dispose()

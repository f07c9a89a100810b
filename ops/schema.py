"""Schema changes go through Alembic (ops/migrations); `alur init-db` upgrades to the newest revision."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Engine

import process.models  # noqa: F401  (the SOP's tables belong to the same metadata)
from engine.db import ensure_chain_head
from engine.models import Base
from process.system import System

MIGRATIONS = Path(__file__).with_name("migrations")
FIRST_REVISION = "0001"


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Whether Alembic compares a database object with the models: not the full-text index of ``case_search``,
    which no model describes (process/models.py ``FULLTEXT_DDL``: SQLite's FTS5 table and its shadow tables,
    PostgreSQL's generated ``tsvector`` column and its GIN index)."""
    if type_ == "table" and name and name.startswith("case_search_fts"):
        return False
    if type_ == "column" and name == "words_tsv":
        return False
    return not (type_ == "index" and name == "ix_case_search_words_tsv")


def schema_diff(connection) -> list:
    """How the database on ``connection`` differs from the models (empty: it matches them)."""
    context = MigrationContext.configure(connection, opts={"include_object": include_object})
    return compare_metadata(context, Base.metadata)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to ``revision`` (all of it by default).

    A database made without migrations (tables but no ``alembic_version``: from before migrations existed,
    or by ``create_all`` in tests) is stamped as the newest revision if it has every table of the models,
    else as the first revision, then upgraded from there.
    """

    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        tables = set(inspect(connection).get_table_names())
        if "definition" in tables and "alembic_version" not in tables:
            complete = set(Base.metadata.tables) <= tables
            command.stamp(config, "head" if complete else FIRST_REVISION)
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str) -> None:
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def init_database(system: System) -> None:
    """Migrate the database to the newest schema (Alembic) and seed the event chain's head row."""
    upgrade(system.db)
    ensure_chain_head(system.db)

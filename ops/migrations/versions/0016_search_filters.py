"""the search index knows who may see a case; prefix indexes for the words being typed

Revision ID: 0016_search_filters
Revises: 0015_timer_due_index
Create Date: 2026-12-04 17:10:00

A search by a team member read every match in the index and then dropped the other teams' cases; a word every case
holds was counted and ranked in full (hundreds of milliseconds at 100,000 cases). ``case_search.words`` now ends
with two *filter words*, the case's team and its procedure (process/search.py ``team_word``, ``procedure_word``),
which a search adds to its query, so the index itself intersects them. On SQLite the FTS5 table is made again with
prefix indexes of two and three letters (the last word of a query is a prefix: "pem" would otherwise merge the
doclists of every word starting so). The rows' words are written again from their ``fields``; PostgreSQL's
generated ``tsvector`` follows by itself. Downgrading writes the words without the filter words and makes the FTS5
table as it was.
"""
from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

revision = '0016_search_filters'
down_revision = '0015_timer_due_index'
branch_labels = None
depends_on = None

FTS_TRIGGERS = ("case_search_ai", "case_search_ad", "case_search_au")


def _fts(prefix: str) -> list[str]:
    return [
        "DROP TRIGGER IF EXISTS case_search_au", "DROP TRIGGER IF EXISTS case_search_ad",
        "DROP TRIGGER IF EXISTS case_search_ai", "DROP TABLE IF EXISTS case_search_fts",
        "CREATE VIRTUAL TABLE case_search_fts USING fts5(words, content='case_search', content_rowid='instance_id',"
        f" tokenize='unicode61 remove_diacritics 2'{prefix})",
        "CREATE TRIGGER case_search_ai AFTER INSERT ON case_search BEGIN"
        " INSERT INTO case_search_fts(rowid, words) VALUES (new.instance_id, new.words); END",
        "CREATE TRIGGER case_search_ad AFTER DELETE ON case_search BEGIN"
        " INSERT INTO case_search_fts(case_search_fts, rowid, words) VALUES ('delete', old.instance_id, old.words);"
        " END",
        "CREATE TRIGGER case_search_au AFTER UPDATE ON case_search BEGIN"
        " INSERT INTO case_search_fts(case_search_fts, rowid, words) VALUES ('delete', old.instance_id, old.words);"
        " INSERT INTO case_search_fts(rowid, words) VALUES (new.instance_id, new.words); END",
    ]


def _remake(prefix: str, rewrite) -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    if sqlite:  # the index is rebuilt once at the end, not row by row through the triggers
        for trigger in FTS_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS case_search_fts")
    session = Session(bind=bind)
    rewrite(session)
    session.flush()
    if sqlite:
        for statement in _fts(prefix):
            op.execute(statement)
        op.execute("INSERT INTO case_search_fts(case_search_fts) VALUES ('rebuild')")


def upgrade() -> None:
    from process import search

    _remake(", prefix='2 3'", search.rewrite_words)


def _without_filters(session: Session) -> None:
    from process import search

    rows = session.execute(sa.text("SELECT instance_id, fields FROM case_search")).all()
    for instance_id, fields in rows:
        words = " ".join(w for v in json.loads(fields or "{}").values() for w in search.words_of(v))
        session.execute(sa.text("UPDATE case_search SET words = :w WHERE instance_id = :i"),
                        {"w": words, "i": instance_id})


def downgrade() -> None:
    _remake("", _without_filters)

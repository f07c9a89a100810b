"""case search index; saved filters

Revision ID: 0012_search
Revises: 0010
Create Date: 2026-12-04 13:10:00

``case_search`` holds what each case is found by (process/search.py): its name, register number, place and texts
as written (``fields``) and as plain words (``words``), indexed by an FTS5 table kept by triggers on SQLite and by
a generated ``tsvector`` column with a GIN index on PostgreSQL (process/models.py ``FULLTEXT_DDL``). The rows of
the cases that exist are written here from their event logs (as ``alur search reindex`` does). ``saved_filter``
keeps each user's named filters of the inbox and the case list. Downgrading drops both (the saved filters are lost;
the index is rebuilt by upgrading again).
"""
from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

import engine.models

revision = '0012_search'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    from process.models import FULLTEXT_DDL

    op.create_table('case_search',
    sa.Column('instance_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('fields', sa.Text(), nullable=False),
    sa.Column('words', sa.Text(), nullable=False),
    sa.Column('updated_at', engine.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['instance_id'], ['instance.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('instance_id')
    )
    for statement in FULLTEXT_DDL.get(op.get_bind().dialect.name, ()):
        op.execute(statement)
    op.create_table('saved_filter',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('view', sa.String(length=10), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('params', sa.Text(), nullable=False),
    sa.Column('created_at', engine.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'view', 'name', name='uq_saved_filter_user_view_name')
    )
    with op.batch_alter_table('saved_filter', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_saved_filter_user_id'), ['user_id'], unique=False)
    _backfill()


def _backfill() -> None:
    """The search rows of the cases there are (none in a new database)."""
    bind = op.get_bind()
    if not bind.execute(sa.text("SELECT 1 FROM instance LIMIT 1")).first():
        return
    from engine.clock import SystemClock
    from process import search
    from process.procedure import build_engine

    _engine, rules = build_engine(SystemClock(), 0)
    session = Session(bind=bind)
    search.reindex(session, rules, datetime.now(UTC))
    session.flush()


def downgrade() -> None:
    from process.models import FULLTEXT_DROP

    with op.batch_alter_table('saved_filter', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_saved_filter_user_id'))
    op.drop_table('saved_filter')
    for statement in FULLTEXT_DROP.get(op.get_bind().dialect.name, ()):
        op.execute(statement)
    op.drop_table('case_search')

"""the worker's timer queries read only what is due

Revision ID: 0015_timer_due_index
Revises: 0014_holders
Create Date: 2026-12-04 13:00:00

The worker asks, twice a second at most, "when is the next timer?" and "which cases are due now?". Both read
``ix_instance_status`` before: every running case, and the second sorted them. ``ix_instance_timer_due`` is a
partial index on (``next_timer_at``, ``id``) of the running cases with a timer waiting: the due time leads, so the
first question reads one entry and the second reads the due ones in order and stops. It replaces the plain
``ix_instance_next_timer_at``.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015_timer_due_index'
down_revision = '0014_holders'
branch_labels = None
depends_on = None

TIMER_WHERE = "status = 'running' AND next_timer_at IS NOT NULL"


def upgrade() -> None:
    op.drop_index('ix_instance_next_timer_at', table_name='instance')
    op.create_index('ix_instance_timer_due', 'instance', ['next_timer_at', 'id'], unique=False,
                    sqlite_where=sa.text(TIMER_WHERE), postgresql_where=sa.text(TIMER_WHERE))


def downgrade() -> None:
    op.drop_index('ix_instance_timer_due', table_name='instance')
    op.create_index('ix_instance_next_timer_at', 'instance', ['next_timer_at'], unique=False)

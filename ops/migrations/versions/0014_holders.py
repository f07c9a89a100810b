"""the team tab shows the team's tasks someone holds, from an index of its own

Revision ID: 0014_holders
Revises: 0013_uploads
Create Date: 2026-12-04 13:10:00

A case's first step is held by its creator from the start, and a step the case was sent back to by whoever handed
it in (issue 18): the team tab shows those too, with their holder. ``ix_task_held`` holds only the ready tasks
someone has taken, by lane and team in deadline order, as ``ix_task_queue`` does for those nobody has.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014_holders'
down_revision = '0013_uploads'
branch_labels = None
depends_on = None

HELD_WHERE = "state = 'ready' AND claimed_by IS NOT NULL"


def upgrade() -> None:
    op.create_index('ix_task_held', 'task', ['lane', 'group', 'due_at', 'created_at'], unique=False,
                    sqlite_where=sa.text(HELD_WHERE), postgresql_where=sa.text(HELD_WHERE))


def downgrade() -> None:
    op.drop_index('ix_task_held', table_name='task')

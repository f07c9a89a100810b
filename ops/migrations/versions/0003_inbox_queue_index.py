"""inbox indexes whose cost does not grow with the number of cases

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 11:45:00

The inbox read every ready task of a lane (or every ready task, for the overdue tab) and sorted them,
so its cost grew with the number of cases. Two partial indexes hold only what the tabs show, in
deadline order: ``ix_task_queue`` the ready tasks nobody has taken (lane tab), ``ix_task_late`` the
ready tasks marked overdue (overdue tab); ``ix_task_pending_due`` finds the ready tasks whose deadline
passed before the worker fired their timer. They replace ``ix_task_lane_state_due`` and ``ix_task_state_overdue``.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

QUEUE_WHERE = "state = 'ready' AND claimed_by IS NULL"
LATE_WHERE = "state = 'ready' AND overdue_at IS NOT NULL"
PENDING_WHERE = "state = 'ready' AND overdue_at IS NULL"


def upgrade() -> None:
    op.drop_index('ix_task_lane_state_due', table_name='task')
    op.drop_index('ix_task_state_overdue', table_name='task')
    op.create_index('ix_task_queue', 'task', ['lane', 'group', 'due_at', 'created_at'], unique=False,
                    sqlite_where=sa.text(QUEUE_WHERE), postgresql_where=sa.text(QUEUE_WHERE))
    op.create_index('ix_task_late', 'task', ['lane', 'group', 'due_at', 'created_at'], unique=False,
                    sqlite_where=sa.text(LATE_WHERE), postgresql_where=sa.text(LATE_WHERE))
    op.create_index('ix_task_pending_due', 'task', ['due_at'], unique=False,
                    sqlite_where=sa.text(PENDING_WHERE), postgresql_where=sa.text(PENDING_WHERE))


def downgrade() -> None:
    op.drop_index('ix_task_pending_due', table_name='task')
    op.drop_index('ix_task_late', table_name='task')
    op.drop_index('ix_task_queue', table_name='task')
    op.create_index('ix_task_state_overdue', 'task', ['state', 'overdue_at'], unique=False)
    op.create_index('ix_task_lane_state_due', 'task', ['lane', 'state', 'due_at'], unique=False)

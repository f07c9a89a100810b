"""the inbox's indexes end with the task id: a keyset page continues the whole order from the index

Revision ID: 0016_inbox_keyset_index
Revises: 0015_timer_due_index
Create Date: 2026-12-04 16:45:00

The inbox is paged by a cursor (process/paging.py): the next page is the tasks after the last one shown in the
order (lane, group, deadline, created, id). ``ix_task_queue``, ``ix_task_held`` and ``ix_task_late`` held the
order up to ``created_at`` only; tasks created in the same instant (bulk copies, or a step that opens several) were
sorted by id after the index was read, all of them. With the id as the last column the index holds the whole order
and a page reads only its own rows, however many tasks tie.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016_inbox_keyset_index'
down_revision = '0015_timer_due_index'
branch_labels = None
depends_on = None

WHERE = {
    "ix_task_queue": "state = 'ready' AND claimed_by IS NULL",
    "ix_task_held": "state = 'ready' AND claimed_by IS NOT NULL",
    "ix_task_late": "state = 'ready' AND overdue_at IS NOT NULL",
}


def _recreate(columns: list[str]) -> None:
    for name, where in WHERE.items():
        op.drop_index(name, table_name='task')
        op.create_index(name, 'task', columns, unique=False, sqlite_where=sa.text(where),
                        postgresql_where=sa.text(where))


def upgrade() -> None:
    _recreate(['lane', 'group', 'due_at', 'created_at', 'id'])


def downgrade() -> None:
    _recreate(['lane', 'group', 'due_at', 'created_at'])

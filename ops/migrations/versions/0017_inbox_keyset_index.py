"""the inbox's indexes hold the whole keyset order and cover a tab's count

Revision ID: 0017_inbox_keyset_index
Revises: 0016_search_filters
Create Date: 2026-12-04 16:45:00

The inbox is paged by a cursor (process/paging.py): the next page is the tasks after the last one shown in the
order (lane, group, deadline, created, id), and each page says how many tasks the tab holds.

* ``ix_task_queue``, ``ix_task_held`` and ``ix_task_late`` held the order up to ``created_at`` only: tasks created
  in the same instant (bulk copies, a step that opens several) were sorted by id after the index was read, all of
  them. The id now follows, so a page reads only its own rows however many tasks tie.
* Their condition's columns (``state``, ``claimed_by``; ``state``, ``overdue_at``) come last, so that the count of
  a tab is answered from the index alone: SQLite before 3.45 otherwise reads every row of the range from the table
  (50 ms for a lane of 25,000 waiting tasks instead of 2).
* ``ix_task_claimed_state`` becomes partial (``claimed_by IS NOT NULL``): with every finished task in it, SQLite
  took it for the free tasks' count ("claimed_by IS NULL") and read half the table.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0017_inbox_keyset_index'
down_revision = '0016_search_filters'
branch_labels = None
depends_on = None

ORDER = ['lane', 'group', 'due_at', 'created_at']
INDEXES = {
    # name: (condition, columns after the order)
    "ix_task_queue": ("state = 'ready' AND claimed_by IS NULL", ['id', 'state', 'claimed_by']),
    "ix_task_held": ("state = 'ready' AND claimed_by IS NOT NULL", ['id', 'state', 'claimed_by']),
    "ix_task_late": ("state = 'ready' AND overdue_at IS NOT NULL", ['id', 'state', 'overdue_at']),
}
CLAIMED_WHERE = "claimed_by IS NOT NULL"


def upgrade() -> None:
    for name, (where, more) in INDEXES.items():
        op.drop_index(name, table_name='task')
        op.create_index(name, 'task', ORDER + more, unique=False, sqlite_where=sa.text(where),
                        postgresql_where=sa.text(where))
    op.drop_index('ix_task_claimed_state', table_name='task')
    op.create_index('ix_task_claimed_state', 'task', ['claimed_by', 'state'], unique=False,
                    sqlite_where=sa.text(CLAIMED_WHERE), postgresql_where=sa.text(CLAIMED_WHERE))


def downgrade() -> None:
    op.drop_index('ix_task_claimed_state', table_name='task')
    op.create_index('ix_task_claimed_state', 'task', ['claimed_by', 'state'], unique=False)
    for name, (where, _more) in INDEXES.items():
        op.drop_index(name, table_name='task')
        op.create_index(name, 'task', ORDER, unique=False, sqlite_where=sa.text(where),
                        postgresql_where=sa.text(where))

"""the case list's default order is read from an index

Revision ID: 0018_case_list_order
Revises: 0017_inbox_keyset_index
Create Date: 2026-12-04 17:20:00

The case list is newest first (``created_at``, then ``id``) and paged by a cursor (process/paging.py). Without an
index on that order every page sorted all the cases the reader may see (117 ms at 100,000 cases on SQLite).
``ix_instance_created`` serves who sees every case; ``ix_instance_group_created`` a team's members, and replaces
``ix_instance_group`` (its first column), which also answered the team's count.
"""
from __future__ import annotations

from alembic import op

revision = '0018_case_list_order'
down_revision = '0017_inbox_keyset_index'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_instance_created', 'instance', ['created_at', 'id'], unique=False)
    op.create_index('ix_instance_group_created', 'instance', ['group', 'created_at', 'id'], unique=False)
    op.drop_index('ix_instance_group', table_name='instance')


def downgrade() -> None:
    op.create_index('ix_instance_group', 'instance', ['group'], unique=False)
    op.drop_index('ix_instance_group_created', table_name='instance')
    op.drop_index('ix_instance_created', table_name='instance')

"""the notifications page is read from an index, a page at a time

Revision ID: 0020_notification_page
Revises: 0018_case_list_order
Create Date: 2026-12-04 21:10:00

The notifications page showed a user's newest 200 notifications and nothing older. It is now paged by a cursor
(process/notification_page.py), newest first (``created_at``, then ``id``); ``ix_notification_user_created`` serves
that order for one user, so a deep page costs what the first does.
"""
from __future__ import annotations

from alembic import op

revision = '0020_notification_page'
down_revision = '0018_case_list_order'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_notification_user_created', 'notification', ['user_id', 'created_at', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_notification_user_created', table_name='notification')

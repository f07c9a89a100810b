"""marking notifications read finds the unread ones by their task or case

Revision ID: 0021_notification_unread
Revises: 0020_notification_page
Create Date: 2026-12-05 07:20:00

Every completion marks read the notifications about the tasks it finished, and opening a task or a case marks
read the reader's notifications about it. Those updates found their rows through ``ix_notification_user_read``
(every unread row of the reader) or, for a completion, by reading the whole table: a cost that grew with every
notification ever sent. Three partial indexes hold only the unread rows: ``ix_notification_task_unread`` by task
(then user), ``ix_notification_case_unread`` by case (then user) for the notifications about a whole case, and
``ix_notification_user_unread`` by user for the unread count and "mark all read", replacing
``ix_notification_user_read`` (which also held every read row).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0021_notification_unread'
down_revision = '0020_notification_page'
branch_labels = None
depends_on = None

UNREAD_WHERE = "read_at IS NULL"
TASK_UNREAD_WHERE = "read_at IS NULL AND task_id IS NOT NULL"
CASE_UNREAD_WHERE = "read_at IS NULL AND task_id IS NULL"


def upgrade() -> None:
    op.drop_index('ix_notification_user_read', table_name='notification')
    op.create_index('ix_notification_user_unread', 'notification', ['user_id'], unique=False,
                    sqlite_where=sa.text(UNREAD_WHERE), postgresql_where=sa.text(UNREAD_WHERE))
    op.create_index('ix_notification_task_unread', 'notification', ['task_id', 'user_id'], unique=False,
                    sqlite_where=sa.text(TASK_UNREAD_WHERE), postgresql_where=sa.text(TASK_UNREAD_WHERE))
    op.create_index('ix_notification_case_unread', 'notification', ['instance_id', 'user_id'], unique=False,
                    sqlite_where=sa.text(CASE_UNREAD_WHERE), postgresql_where=sa.text(CASE_UNREAD_WHERE))


def downgrade() -> None:
    op.drop_index('ix_notification_case_unread', table_name='notification')
    op.drop_index('ix_notification_task_unread', table_name='notification')
    op.drop_index('ix_notification_user_unread', table_name='notification')
    op.create_index('ix_notification_user_read', 'notification', ['user_id', 'read_at'], unique=False)

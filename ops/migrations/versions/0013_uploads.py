"""resumable uploads (tus)

Revision ID: 0013_uploads
Revises: 0012_search
Create Date: 2026-12-04 13:00:00

``upload_session``: one row per resumable upload under way (the tus protocol, process/resumable.py): its owner,
the task and field it is meant for, its declared length, when it expires, and once finished the id of the stored
file. The bytes received so far live in ``<files>/partial/<id>``. Downgrading drops the table (uploads under way
are lost; their partial files are then removed by hand or left to the files folder's owner).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.models

revision = '0013_uploads'
down_revision = '0012_search'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('upload_session',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('owner', sa.String(length=100), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('filetype', sa.String(length=100), nullable=False),
    sa.Column('task_id', sa.String(length=36), nullable=True),
    sa.Column('field', sa.String(length=100), nullable=True),
    sa.Column('length', sa.BigInteger(), nullable=False),
    sa.Column('created_at', engine.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', engine.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('file_id', sa.String(length=36), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_upload_session_owner', 'upload_session', ['owner'], unique=False)
    op.create_index('ix_upload_session_expires_at', 'upload_session', ['expires_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_upload_session_expires_at', table_name='upload_session')
    op.drop_index('ix_upload_session_owner', table_name='upload_session')
    op.drop_table('upload_session')

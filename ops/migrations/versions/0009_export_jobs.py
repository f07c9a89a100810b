"""export jobs: long records made by the worker as files

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 09:00:00

A year of records (thousands of cases) takes longer to render than a request may last. Such a download is asked for
as an export job (process/exportjobs.py), which the worker runs and whose file it keeps in the exports directory
(``ALUR_EXPORT_DIR``, by default ``exports/`` beside the uploads) for ``ALUR_EXPORT_KEEP_HOURS``. Downgrading drops
the table (the files left behind are not the database's: remove the exports directory by hand).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.models import UTCDateTime

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'export_job',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('format', sa.String(length=10), nullable=False),
        sa.Column('process_key', sa.String(length=200), nullable=True),
        sa.Column('period_start', sa.Date(), nullable=True),
        sa.Column('period_end', sa.Date(), nullable=True),
        sa.Column('basis', sa.String(length=20), nullable=True),
        sa.Column('instance_id', sa.Integer(), nullable=True),
        sa.Column('signers', sa.String(length=200), nullable=True),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('phase', sa.String(length=20), nullable=True),
        sa.Column('progress_done', sa.Integer(), nullable=False),
        sa.Column('progress_total', sa.Integer(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('error_code', sa.String(length=80), nullable=True),
        sa.Column('error_params', sa.Text(), nullable=True),
        sa.Column('file_name', sa.String(length=200), nullable=True),
        sa.Column('stored_name', sa.String(length=100), nullable=True),
        sa.Column('file_size', sa.Integer(), nullable=True),
        sa.Column('sha256', sa.String(length=64), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('started_at', UTCDateTime(), nullable=True),
        sa.Column('lease_until', UTCDateTime(), nullable=True),
        sa.Column('finished_at', UTCDateTime(), nullable=True),
        sa.Column('expires_at', UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_export_job_status', 'export_job', ['status', 'created_at'])
    op.create_index('ix_export_job_user', 'export_job', ['user_id', 'created_at'])


def downgrade() -> None:
    op.drop_index('ix_export_job_user', table_name='export_job')
    op.drop_index('ix_export_job_status', table_name='export_job')
    op.drop_table('export_job')

"""a user's NIP and official title; issued document numbers

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 21:30:00

The printed records are signed: each signature block names a user, printed with their official title
(``app_user.jabatan``) and their NIP (``app_user.nip``, 18 digits, checked by process/nip.py; unique among active
users, a partial index). A record's PDF is given a document number when it is first printed: ``issued_document``
keeps one row per record (kind, procedure, period, basis or case: ``record_key``), ``document_counter`` the last
sequence number per series and year (process/docnumbers.py). Downgrading drops both tables and both columns (the
numbers given out and the NIPs are lost with them).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.models

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('nip', sa.String(length=18), nullable=True))
        batch_op.add_column(sa.Column('jabatan', sa.String(length=200), server_default='', nullable=False))
    op.create_index('uq_app_user_nip_active', 'app_user', ['nip'], unique=True,
                    postgresql_where=sa.text('active'), sqlite_where=sa.text('active'))
    op.create_table('issued_document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('record_key', sa.String(length=400), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('process_key', sa.String(length=200), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=True),
    sa.Column('period_end', sa.Date(), nullable=True),
    sa.Column('basis', sa.String(length=20), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=True),
    sa.Column('series', sa.String(length=100), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=200), nullable=False),
    sa.Column('issued_at', engine.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('issued_by', sa.String(length=100), nullable=True),
    sa.Column('signer_ids', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('record_key', name='uq_issued_document_record'),
    sa.UniqueConstraint('series', 'year', 'seq', name='uq_issued_document_series_year_seq')
    )
    op.create_index('ix_issued_document_number', 'issued_document', ['number'], unique=False)
    op.create_table('document_counter',
    sa.Column('series', sa.String(length=100), nullable=False),
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last_seq', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('series', 'year')
    )


def downgrade() -> None:
    op.drop_table('document_counter')
    op.drop_index('ix_issued_document_number', table_name='issued_document')
    op.drop_table('issued_document')
    op.drop_index('uq_app_user_nip_active', table_name='app_user')
    if op.get_bind().dialect.name == 'sqlite':
        # Not a batch copy: dropping the old app_user would delete, by cascade, every row that refers to it (roles,
        # groups, notifications). SQLite drops a column in place (3.35+).
        op.execute('ALTER TABLE app_user DROP COLUMN jabatan')
        op.execute('ALTER TABLE app_user DROP COLUMN nip')
    else:
        with op.batch_alter_table('app_user', schema=None) as batch_op:
            batch_op.drop_column('jabatan')
            batch_op.drop_column('nip')

"""register numbers are unique by their procedure and sequence, not as text

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 18:00:00

A register entry is identified by its procedure, year and sequence number (``uq_register_key_year_seq``). The
written number was unique as text too, so two procedures whose formats write the same text (a second procedure left
with the configured format, say) made the second case's first submission fail for good: a case that cannot move.
The formats are now checked against each other when a procedure is deployed (``register.format_taken``); the text
keeps an index for the search by register number, no longer a uniqueness the database enforces. Downgrading is
refused while two entries share a number.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

#: Names SQLite's unnamed constraints by their column for the batch copy (0001 created the unique one unnamed).
_NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint('register_entry_number_key', 'register_entry', type_='unique')
    else:
        with op.batch_alter_table('register_entry', naming_convention=_NAMING) as batch_op:
            batch_op.drop_constraint('uq_register_entry_number', type_='unique')
    op.create_index('ix_register_entry_number', 'register_entry', ['number'])


def downgrade() -> None:
    shared = op.get_bind().execute(sa.text(
        "SELECT number FROM register_entry GROUP BY number HAVING COUNT(*) > 1 LIMIT 1")).scalar()
    if shared is not None:
        raise RuntimeError(f"register number {shared!r} is given to several cases: it cannot be unique again")
    op.drop_index('ix_register_entry_number', table_name='register_entry')
    if op.get_bind().dialect.name == "postgresql":
        op.create_unique_constraint('register_entry_number_key', 'register_entry', ['number'])
    else:
        with op.batch_alter_table('register_entry', naming_convention=_NAMING) as batch_op:
            batch_op.create_unique_constraint('uq_register_entry_number', ['number'])

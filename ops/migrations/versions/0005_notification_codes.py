"""notifications stored as a message code and its params, rendered in the reader's language

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 09:00:00

A notification used to be stored as one Indonesian sentence, so every reader saw it in Bahasa Indonesia. It is
now stored as a message code (process/messages.py) and its params (JSON), and rendered when it is read. Rows
written before keep their sentence in ``message`` (now nullable: new rows have none) and are shown as they are.
Downgrading fills ``message`` of the new rows with their Indonesian rendering, so no notification loses its text.
"""
from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.add_column(sa.Column('code', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('params', sa.Text(), nullable=True))
        batch_op.alter_column('message', existing_type=sa.Text(), nullable=True)


def downgrade() -> None:
    from process.messages import known, render

    conn = op.get_bind()
    table = sa.table('notification', sa.column('id', sa.Integer()), sa.column('message', sa.Text()),
                     sa.column('code', sa.String(80)), sa.column('params', sa.Text()))
    rows = conn.execute(sa.select(table.c.id, table.c.code, table.c.params).where(table.c.message.is_(None))).all()
    for row in rows:
        text = render(row.code, json.loads(row.params or "{}")) if known(row.code) else (row.code or "")
        conn.execute(table.update().where(table.c.id == row.id).values(message=text))
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.alter_column('message', existing_type=sa.Text(), nullable=False)
        batch_op.drop_column('params')
        batch_op.drop_column('code')

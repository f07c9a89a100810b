"""a register per procedure: entries and counters keyed by process id

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 12:00:00

Several procedures run side by side, each with its own register (numbered per procedure and year, in the format its
diagram declares on ``alur:register``). Entries get the process id of their case's version; counters are kept per
process id and year. Upgrading fills both from what is there: every entry made so far is of its case's procedure
(the SOP's, the only one that had a register), every counter of that procedure. Downgrading is refused while more
than one procedure has entries (their numbers would collide in one register); otherwise it puts things back.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

DEFAULT_KEY = "alur_pengunggahan"


def _key_of_entries() -> sa.ScalarSelect:
    entry = sa.table("register_entry", sa.column("instance_id", sa.Integer()))
    instance = sa.table("instance", sa.column("id", sa.Integer()), sa.column("definition_id", sa.Integer()))
    definition = sa.table("definition", sa.column("id", sa.Integer()), sa.column("process_key", sa.String()))
    return (sa.select(definition.c.process_key).select_from(instance.join(
        definition, definition.c.id == instance.c.definition_id)).where(instance.c.id == entry.c.instance_id)
        .scalar_subquery())


def upgrade() -> None:
    with op.batch_alter_table('register_entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('process_key', sa.String(length=200), nullable=True))
    entry = sa.table("register_entry", sa.column("process_key", sa.String()), sa.column("instance_id", sa.Integer()))
    op.execute(entry.update().values(process_key=sa.func.coalesce(_key_of_entries(), DEFAULT_KEY)))
    with op.batch_alter_table('register_entry', schema=None) as batch_op:
        batch_op.alter_column('process_key', existing_type=sa.String(length=200), nullable=False)
        batch_op.drop_constraint('uq_register_year_seq', type_='unique')
        batch_op.create_unique_constraint('uq_register_key_year_seq', ['process_key', 'year', 'seq'])

    # The counter's key changes: a new table, the old counts copied to the procedure that had them.
    op.create_table('register_counter_new',
                    sa.Column('process_key', sa.String(length=200), nullable=False),
                    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
                    sa.Column('last_seq', sa.Integer(), nullable=False),
                    sa.PrimaryKeyConstraint('process_key', 'year'))
    op.execute(sa.text("INSERT INTO register_counter_new (process_key, year, last_seq) "
                       "SELECT :key, year, last_seq FROM register_counter").bindparams(key=DEFAULT_KEY))
    op.drop_table('register_counter')
    op.rename_table('register_counter_new', 'register_counter')
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER INDEX register_counter_new_pkey RENAME TO register_counter_pkey")


def downgrade() -> None:
    conn = op.get_bind()
    keys = conn.execute(sa.text("SELECT COUNT(DISTINCT process_key) FROM register_entry")).scalar()
    if keys and keys > 1:
        raise RuntimeError("register entries of several procedures: their numbers would collide in one register")
    op.create_table('register_counter_old',
                    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
                    sa.Column('last_seq', sa.Integer(), nullable=False),
                    sa.PrimaryKeyConstraint('year'))
    op.execute("INSERT INTO register_counter_old (year, last_seq) "
               "SELECT year, MAX(last_seq) FROM register_counter GROUP BY year")
    op.drop_table('register_counter')
    op.rename_table('register_counter_old', 'register_counter')
    if conn.dialect.name == "postgresql":
        op.execute("ALTER INDEX register_counter_old_pkey RENAME TO register_counter_pkey")
    with op.batch_alter_table('register_entry', schema=None) as batch_op:
        batch_op.drop_constraint('uq_register_key_year_seq', type_='unique')
        batch_op.create_unique_constraint('uq_register_year_seq', ['year', 'seq'])
        batch_op.drop_column('process_key')

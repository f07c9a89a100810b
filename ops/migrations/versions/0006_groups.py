"""groups instead of a closed list of staff roles

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 09:00:00

Who works a lane of a diagram used to be one of four staff roles hard-wired to four lane names. It is now a group
(``app_group``: code, name) whose members (``user_group``) work the lanes that name it: by the ``alur:lane group`` code,
the ``camunda:candidateGroups`` of the lane's tasks, or the lane's own name (process/declarations.py LaneMap). Roles
(``user_role``) are left with the application's own: process_owner, auditor, admin.

Upgrading creates the four groups of the bundled diagram's lanes, each with the code of the role it replaces and the
name of its lane, and moves every ``user_role`` row of those roles into ``user_group``: each user keeps exactly the
lanes they worked. Downgrading moves the memberships of those four groups back into roles and drops both tables;
memberships of groups made since are lost with them (no role of before can hold them). The schema change writes no
event (the event log records what people do; the groups' later changes are events: group_created, group_changed).
"""
from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import engine.models

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

#: The staff roles of before, each the group of the same code named as its lane of the bundled diagram.
GROUPS = (
    ("tim_pelaksana", "Tim Pelaksana"),
    ("admin_medsos", "Admin Medsos"),
    ("wapimred", "Wakil Pimpinan Redaksi"),
    ("pimred", "Pimpinan Redaksi"),
)
CODES = tuple(code for code, _name in GROUPS)

_group = sa.table('app_group', sa.column('id', sa.Integer()), sa.column('code', sa.String(50)),
                  sa.column('name', sa.String(200)), sa.column('created_at', engine.models.UTCDateTime(timezone=True)))
_member = sa.table('user_group', sa.column('user_id', sa.Integer()), sa.column('group_id', sa.Integer()))
_role = sa.table('user_role', sa.column('id', sa.Integer()), sa.column('user_id', sa.Integer()),
                 sa.column('role', sa.String(40)))


def upgrade() -> None:
    op.create_table('app_group',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=50), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', engine.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_table('user_group',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['app_group.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'group_id', name='uq_user_group')
    )
    with op.batch_alter_table('user_group', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_group_group_id'), ['group_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_user_group_user_id'), ['user_id'], unique=False)

    conn = op.get_bind()
    now = datetime.now(UTC)
    conn.execute(_group.insert(), [{"code": code, "name": name, "created_at": now} for code, name in GROUPS])
    ids = dict(conn.execute(sa.select(_group.c.code, _group.c.id)).all())
    rows = conn.execute(sa.select(_role.c.user_id, _role.c.role).where(_role.c.role.in_(CODES))
                        .order_by(_role.c.user_id, _role.c.role)).all()
    if rows:
        conn.execute(_member.insert(), [{"user_id": user_id, "group_id": ids[role]} for user_id, role in rows])
    conn.execute(_role.delete().where(_role.c.role.in_(CODES)))


def downgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(_member.c.user_id, _group.c.code)
                        .join(_group, _group.c.id == _member.c.group_id).where(_group.c.code.in_(CODES))
                        .order_by(_member.c.user_id, _group.c.code)).all()
    held = set(conn.execute(sa.select(_role.c.user_id, _role.c.role).where(_role.c.role.in_(CODES))).all())
    back = [{"user_id": user_id, "role": code} for user_id, code in rows if (user_id, code) not in held]
    if back:
        conn.execute(_role.insert(), back)

    with op.batch_alter_table('user_group', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_group_user_id'))
        batch_op.drop_index(batch_op.f('ix_user_group_group_id'))

    op.drop_table('user_group')
    op.drop_table('app_group')

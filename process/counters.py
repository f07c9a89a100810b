"""A yearly counter row, locked while a number is taken (the register's entries, the printed records' numbers).

PostgreSQL locks the row (``FOR UPDATE``), so racing takers queue instead of colliding; SQLite's write lock
serialises them anyway. The first row of a series or year is made in a savepoint, in case two race for it.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session


def locked_counter(session: Session, model, **key):
    """The ``model`` row of ``key`` (its primary-key columns), locked; created at ``last_seq = 0`` when missing."""
    stmt = select(model).filter_by(**key).with_for_update()
    counter = session.execute(stmt).scalar_one_or_none()
    if counter is None:
        try:
            with session.begin_nested():
                session.add(model(**key, last_seq=0))
        except IntegrityError:
            pass
        counter = session.execute(stmt).scalar_one()
    return counter

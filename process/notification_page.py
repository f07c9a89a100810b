"""One user's notifications, newest first, a keyset page at a time (process/paging.py).

The page reads ``ix_notification_user_created`` (user, creation time, id) backwards from the cursor on, so an old
page costs what the first does; the total is the user's count. Nothing is capped: every notification stays
reachable however many a user has (the page used to stop at the newest 200).
"""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import paging
from .models import Notification, User
from .paging import DEFAULT_PER_PAGE, Page

VIEW = "notifications"
#: The cursor: the last row's creation time and id.
_CURSOR = ("t", "I")
_ORDER = (Notification.created_at, Notification.id)


def notifications_page(session: Session, user: User, *, per_page: int = DEFAULT_PER_PAGE,
                       cursor: str | None = None, field: str = "cursor") -> Page[Notification]:
    """The ``per_page`` notifications of ``user`` after ``cursor`` (None: the newest), newest first, ties by id;
    a cursor that is not one of this list is a 422 on ``field``."""
    after = paging.decode(cursor, VIEW, _CURSOR, field)
    where = [Notification.user_id == user.id]
    if after is not None:
        where.append(paging.beyond(_ORDER, after, descending=True))
    rows = session.execute(select(Notification).where(*where)
                           .order_by(Notification.created_at.desc(), Notification.id.desc())
                           .limit(per_page + 1)).scalars().all()
    next_cursor = None
    if len(rows) > per_page:
        last = rows[per_page - 1]
        next_cursor = paging.encode(VIEW, (last.created_at, last.id))
    total = session.execute(select(func.count()).select_from(Notification)
                            .where(Notification.user_id == user.id)).scalar_one()
    return Page(list(rows[:per_page]), total, next_cursor, per_page)

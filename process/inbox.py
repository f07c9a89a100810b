"""Read side of the inbox: queries on the task projection only (never a workflow load)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from engine.models import TaskRow

from .models import User
from .roles import ESCALATION_LANE, lanes_of

SCOPES = ("mine", "lane", "overdue")


@dataclass(frozen=True)
class InboxItem:
    task_id: str
    instance_id: int
    activity: str
    activity_date: date | None
    step: str
    bpmn_id: str
    lane: str | None
    due_at: datetime | None
    overdue: bool
    claimed_by: str | None
    created_at: datetime


def _ready_tasks(user: User, scope: str, *, now: datetime, q: str | None, date_from: date | None,
                 date_to: date | None):
    """The filtered query behind one inbox tab (no ordering, no limit)."""
    if scope not in SCOPES:
        raise ValueError(f"unknown inbox scope {scope!r}")
    lanes = lanes_of(user.roles)
    team = user.team.code if user.team else None
    stmt = select(TaskRow).where(TaskRow.state == "ready")
    in_my_lanes = and_(TaskRow.lane.in_(lanes), or_(TaskRow.group.is_(None), TaskRow.group == team))
    if scope == "mine":
        stmt = stmt.where(TaskRow.claimed_by == user.actor)
    elif scope == "lane":
        stmt = stmt.where(in_my_lanes, TaskRow.claimed_by.is_(None))
    else:
        late = or_(TaskRow.overdue_at.is_not(None), TaskRow.due_at < now)
        visible = or_(in_my_lanes, TaskRow.claimed_by == user.actor)
        if ESCALATION_LANE in lanes:  # Pimpinan Redaksi is told of every overdue step
            visible = TaskRow.id.is_not(None)
        stmt = stmt.where(late, visible)
    if q:
        stmt = stmt.where(TaskRow.case_title.ilike(f"%{q.strip()[:100]}%"))
    if date_from:
        stmt = stmt.where(TaskRow.case_date >= date_from)
    if date_to:
        stmt = stmt.where(TaskRow.case_date <= date_to)
    return stmt


def inbox(session: Session, user: User, scope: str, *, now: datetime, q: str | None = None,
          date_from: date | None = None, date_to: date | None = None, limit: int = 200) -> list[InboxItem]:
    """Ready tasks for ``user``: ``mine`` (held by them), ``lane`` (free in their lanes) or ``overdue``.

    Sorted by deadline, earliest first, tasks without one last.
    """
    stmt = _ready_tasks(user, scope, now=now, q=q, date_from=date_from, date_to=date_to)
    stmt = stmt.order_by(TaskRow.due_at.is_(None), TaskRow.due_at, TaskRow.created_at).limit(limit)
    return [
        InboxItem(task_id=r.id, instance_id=r.instance_id, activity=r.case_title, activity_date=r.case_date,
                  step=r.name, bpmn_id=r.bpmn_id, lane=r.lane, due_at=r.due_at,
                  overdue=bool(r.overdue_at or (r.due_at and r.due_at < now)), claimed_by=r.claimed_by,
                  created_at=r.created_at)
        for r in session.execute(stmt).scalars()
    ]


def inbox_counts(session: Session, user: User, *, now: datetime, q: str | None = None,
                 date_from: date | None = None, date_to: date | None = None) -> dict[str, int]:
    """How many tasks each inbox tab holds (same filters as :func:`inbox`, without its limit)."""
    counts = {}
    for scope in SCOPES:
        sub = _ready_tasks(user, scope, now=now, q=q, date_from=date_from, date_to=date_to).subquery()
        counts[scope] = session.execute(select(func.count()).select_from(sub)).scalar_one()
    return counts

"""Read side of the inbox: queries on the task projection only (never a workflow load).

The cost of a tab does not grow with the number of cases. Each tab is a union of disjoint parts, and
each part is one range of an index already in deadline order (see :func:`_parts`), so a part is read
only as far as the page needs and the parts are merged; counting reads the same ranges.
"""
from __future__ import annotations

import functools
import operator
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Integer, and_, bindparam, case, func, literal, or_, select
from sqlalchemy.orm import Session

from engine.models import Instance, TaskRow

from . import paging
from .inputs import contains
from .models import User
from .paging import DEFAULT_PER_PAGE, Page
from .sorting import ACTIVITY_DATE, CHANGED, DEADLINE, Sort

SCOPES = ("mine", "lane", "overdue")

#: What an inbox row shows (not the whole projection row).
_COLUMNS = (TaskRow.id, TaskRow.instance_id, TaskRow.case_title, TaskRow.case_date, TaskRow.name, TaskRow.bpmn_id,
            TaskRow.lane, TaskRow.due_at, TaskRow.overdue_at, TaskRow.claimed_by, TaskRow.created_at)
_ID, _DUE, _CREATED = (tuple(c.key for c in _COLUMNS).index(key) for key in ("id", "due_at", "created_at"))


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


#: Rendered into the SQL rather than bound, so the planners see that ``ix_task_queue``'s condition holds (with a
#: bound value SQLite cannot skip checking every row in the table, and a generic PostgreSQL plan cannot use it).
_READY = bindparam("ready_state", "ready", literal_execute=True)

# What differs between two users' requests of one shape (the same tab, lanes, team and kinds of filter) is bound:
# a shape's statements are built once and kept (:func:`_shape`), so a request neither builds SQL expressions nor
# computes their cache keys again (together about a third of an inbox request's time in the service).
_ACTOR = bindparam("b_actor", type_=TaskRow.claimed_by.type)
_NOW = bindparam("b_now", type_=TaskRow.due_at.type)
_TITLE = bindparam("b_title", type_=TaskRow.case_title.type)
_FROM = bindparam("b_from", type_=TaskRow.case_date.type)
_TO = bindparam("b_to", type_=TaskRow.case_date.type)
_LIMIT = bindparam("b_limit", type_=Integer)


def _lane_groups(user: User, lanes: Collection[str]) -> list[tuple[str, str | None]]:
    """Every (lane, group) whose free tasks the user, who works ``lanes``, may take: a task is for its whole lane (no
    group) or for one team of it."""
    team = user.team.code if user.team else None
    return [(lane, group) for lane in sorted(lanes) for group in ((None, team) if team else (None,))]


def _in_lane(lane: str, group: str | None) -> list:
    return [TaskRow.lane == lane, TaskRow.group.is_(None) if group is None else TaskRow.group == group]


@dataclass(frozen=True, eq=False)
class _Part:
    """Conditions selecting one range of an index; ``in_lane``: the range is of one lane and group. The statements
    reading it in the default order are kept with it (:meth:`deadline`)."""

    where: tuple
    in_lane: bool = False
    statements: dict = field(default_factory=dict, repr=False)

    def ordered(self, *order_by):
        # Within one lane and group the index is in deadline order. Naming the (constant) lane and group in the
        # ORDER BY lets PostgreSQL see that too: it does not count ``"group" IS NULL`` as fixing the column.
        prefix = (TaskRow.lane, TaskRow.group) if self.in_lane else ()
        return select(*_COLUMNS).where(*self.where).order_by(*prefix, *order_by)

    def deadline(self, with_due: bool, since: str | None):
        """The part in the default order, its tasks with a deadline or those without one, from the first or after a
        cursor (``since``: ``"due"`` or ``"none"``, where the cursor's row is), ``b_limit`` rows."""
        key = (with_due, since)
        statement = self.statements.get(key)
        if statement is None:
            where = [TaskRow.due_at.is_not(None) if with_due else TaskRow.due_at.is_(None)]
            if since is not None:
                where.append(_SINCE_DUE if since == "due" else _SINCE_NONE)
            statement = self.statements[key] = self.ordered(*_ORDER).where(*where).limit(_LIMIT)
        return statement


def _not_in_lane(lane: str, group: str | None):
    """Not (lane, group), where a missing lane or group counts as a different one (SQL's NOT of NULL is NULL)."""
    return or_(TaskRow.lane.is_distinct_from(lane),
               TaskRow.group.is_not(None) if group is None else TaskRow.group.is_distinct_from(group))


def _own_late_parts(lane_groups, outside=None) -> list[_Part]:
    """The late tasks of one's own lanes (``lane_groups``), and those one holds elsewhere (and ``outside``)."""
    ready = TaskRow.state == _READY
    marked, passed = TaskRow.overdue_at.is_not(None), and_(TaskRow.overdue_at.is_(None), TaskRow.due_at < _NOW)
    parts = [_Part((ready, *_in_lane(lane, group), marked), in_lane=True) for lane, group in lane_groups]
    parts += [_Part((ready, *_in_lane(lane, group), passed)) for lane, group in lane_groups]
    elsewhere = [_not_in_lane(lane, group) for lane, group in lane_groups]
    if outside is not None:
        elsewhere.append(outside)
    # "Late" as a CASE, which no index serves: the planners then start from the few tasks one holds rather
    # than from every late task (PostgreSQL would otherwise, misled by the many finished tasks one held).
    late = case((TaskRow.overdue_at.is_not(None), True), else_=TaskRow.due_at < _NOW)
    parts.append(_Part((ready, TaskRow.claimed_by == _ACTOR, late, *elsewhere)))
    return parts


def _parts(user: User, scope: str, *, now: datetime, q: str | None, date_from: date | None,
           date_to: date | None, lanes: Collection[str], overdue_lanes: frozenset[str] = frozenset(),
           heard: Collection[str] | None = None) -> tuple[tuple[_Part, ...], dict]:
    """The filter of one inbox tab as a union of disjoint parts, each one range of an index (:func:`_shape`), and
    the values its statements are run with."""
    key = _shape_key(user, scope, q=q, date_from=date_from, date_to=date_to, lanes=lanes,
                     overdue_lanes=overdue_lanes, heard=heard)
    return _shape(*key), _values(user, now, q, date_from, date_to)


def _shape_key(user: User, scope: str, *, q, date_from, date_to, lanes, overdue_lanes, heard) -> tuple:
    """What decides a tab's statements: the tab, the (lane, team) pairs, which filters are given, whether the user
    hears of every late step, and of which lanes."""
    if scope not in SCOPES:
        raise ValueError(f"unknown inbox scope {scope!r}")
    return (scope, tuple(_lane_groups(user, lanes)), (bool(q), date_from is not None, date_to is not None),
            bool(overdue_lanes & frozenset(lanes)), None if heard is None else tuple(sorted(heard)))


def _values(user: User, now: datetime, q: str | None, date_from: date | None, date_to: date | None) -> dict:
    return {"b_actor": user.actor, "b_now": now, "b_title": contains(q) if q else None, "b_from": date_from,
            "b_to": date_to}


@functools.lru_cache(maxsize=1024)
def _shape(scope: str, lane_groups: tuple, filters: tuple[bool, bool, bool], hears_late: bool,
           heard: tuple[str, ...] | None) -> tuple[_Part, ...]:
    """The parts of one shape of tab (built once, kept; the values are bound when run):

    * mine: the tasks one holds (``ix_task_claimed_state``);
    * lane: per (lane, group) one may work in (``lane_groups``: those one's groups work), the tasks nobody holds
      (``ix_task_queue``) and those someone else holds (``ix_task_held``: the team sees them, with their holder);
    * overdue: per (lane, group), those marked overdue (``ix_task_late``) and those whose deadline passed
      before the worker fired their timer (``ix_task_pending_due``); plus late tasks one holds in other lanes.
      Who works a lane that is told of every late step (``hears_late``: ``alur:lane hearsOverdue``) sees every
      lane's — of its own procedures when ``heard`` (:meth:`LaneMap.heard_lanes`) names their lanes.
    """
    ready = TaskRow.state == _READY
    marked, passed = TaskRow.overdue_at.is_not(None), and_(TaskRow.overdue_at.is_(None), TaskRow.due_at < _NOW)
    if scope == "mine":
        parts = [_Part((ready, TaskRow.claimed_by == _ACTOR))]
    elif scope == "lane":
        parts = [_Part((ready, TaskRow.claimed_by.is_(None), *_in_lane(lane, group)), in_lane=True)
                 for lane, group in lane_groups]
        parts += [_Part((ready, TaskRow.claimed_by.is_not(None), *_in_lane(lane, group),
                         TaskRow.claimed_by != _ACTOR), in_lane=True) for lane, group in lane_groups]
    elif hears_late:
        # Split on the lane only so that the planners read ``ix_task_late`` (SQLite ignores a partial index
        # none of whose columns the query constrains).
        if heard is None:
            parts = [_Part((ready, marked, TaskRow.lane.is_not(None))),
                     _Part((ready, marked, TaskRow.lane.is_(None))), _Part((ready, passed))]
        else:  # every lane of the procedures one hears of; elsewhere, one's own lanes and what one holds
            parts = [_Part((ready, marked, TaskRow.lane.in_(heard))), _Part((ready, passed, TaskRow.lane.in_(heard)))]
            parts += _own_late_parts([(lane, group) for lane, group in lane_groups if lane not in heard],
                                     outside=or_(TaskRow.lane.is_(None), TaskRow.lane.not_in(heard)))
    else:
        parts = _own_late_parts(lane_groups)
    has_q, has_from, has_to = filters
    extra = []
    if has_q:
        extra.append(TaskRow.case_title.ilike(_TITLE, escape="\\"))
    if has_from:
        extra.append(TaskRow.case_date >= _FROM)
    if has_to:
        extra.append(TaskRow.case_date <= _TO)
    return tuple(_Part(part.where + tuple(extra), part.in_lane) for part in parts)


def inbox(session: Session, user: User, scope: str, *, now: datetime, lanes: Collection[str], q: str | None = None,
          date_from: date | None = None, date_to: date | None = None, limit: int = 200,
          overdue_lanes: frozenset[str] = frozenset(), heard: Collection[str] | None = None,
          sort: Sort | None = None) -> list[InboxItem]:
    """The first page of :func:`inbox_page` (``limit`` tasks), without its total and cursor."""
    return inbox_page(session, user, scope, now=now, lanes=lanes, q=q, date_from=date_from, date_to=date_to,
                      per_page=limit, overdue_lanes=overdue_lanes, heard=heard, sort=sort, total=False).items


def inbox_page(session: Session, user: User, scope: str, *, now: datetime, lanes: Collection[str],
               q: str | None = None, date_from: date | None = None, date_to: date | None = None,
               per_page: int = DEFAULT_PER_PAGE, cursor: str | None = None,
               overdue_lanes: frozenset[str] = frozenset(), heard: Collection[str] | None = None,
               sort: Sort | None = None, total: bool = True) -> Page[InboxItem]:
    """Ready tasks for ``user``, who works ``lanes``: ``mine`` (held by them), ``lane`` (their lanes' tasks they do
    not hold: free, or held by a colleague) or ``overdue``; one page of ``per_page`` tasks after ``cursor``
    (process/paging.py; None: the first page), with the tab's total (unless ``total`` is false: then 0).

    Sorted by deadline, earliest first, tasks without one last (the default ``sort``); or as ``sort`` says
    (process/sorting.py): by deadline latest first, by the case's last change or by its activity date. Ties are
    broken by the task id, so that the order is total and a cursor continues it exactly.
    """
    sort = sort or Sort(DEADLINE, "asc")
    default = (sort.key, sort.order) == (DEADLINE, "asc")
    view = f"inbox.{scope}.{sort.key}.{sort.order}"
    after = paging.decode(cursor, view, _DEFAULT_CURSOR if default else _SORTED_CURSOR[sort.key])
    parts, values = _parts(user, scope, now=now, q=q, date_from=date_from, date_to=date_to, lanes=lanes,
                           overdue_lanes=overdue_lanes, heard=heard)
    connection = session.connection()
    if default:
        rows = _deadline_rows(connection, parts, values, per_page + 1, after)
    else:
        rows = _sorted_rows(connection, parts, values, sort, per_page + 1, after)
    items = []
    # Rows are unpacked, not read by name: attribute access on a row costs more than the query itself here.
    for task_id, instance_id, title, day, step, bpmn_id, lane, due_at, overdue_at, claimed_by, created_at, *_key \
            in rows[:per_page]:
        items.append(InboxItem(task_id=task_id, instance_id=instance_id, activity=title, activity_date=day,
                               step=step, bpmn_id=bpmn_id, lane=lane, due_at=due_at,
                               overdue=bool(overdue_at or (due_at and due_at < now)), claimed_by=claimed_by,
                               created_at=created_at))
    next_cursor = None
    if len(rows) > per_page:
        last = rows[per_page - 1]
        if default:
            values = (last[_DUE] is None, last[_DUE], last[_CREATED], last[_ID])
        else:
            values = (last[-2] is None, last[-2], last[_ID])
        next_cursor = paging.encode(view, values)
    count = 0
    if total:
        count = inbox_counts(session, user, now=now, lanes=lanes, q=q, date_from=date_from, date_to=date_to,
                             overdue_lanes=overdue_lanes, heard=heard, scopes=(scope,))[scope]
    return Page(items, count, next_cursor, per_page)


#: What the cursor of each order holds: whether the row has no deadline, its deadline, when it was created, its id
#: (the default order); whether it has no value of the key, the value, its id (any other order).
_DEFAULT_CURSOR = ("b", "t?", "t", "s")
_SORTED_CURSOR = {DEADLINE: ("b", "t?", "s"), CHANGED: ("b", "t?", "s"), ACTIVITY_DATE: ("b", "d?", "s")}
_ORDER = (TaskRow.due_at, TaskRow.created_at, TaskRow.id)


_AFTER = tuple(bindparam(f"b_after{n}", type_=column.type) for n, column in enumerate(_ORDER))
#: After a cursor among the tasks with a deadline / among those without one.
_SINCE_DUE, _SINCE_NONE = paging.beyond(_ORDER, _AFTER), paging.beyond(_ORDER[1:], _AFTER[1:])


def _deadline_rows(connection, parts: tuple[_Part, ...], values: dict, limit: int, after: tuple | None) -> list:
    """The default order: each part read in its index's (deadline, creation, id) order from the cursor ``after``
    on, only as far as ``limit``, merged."""
    rows = []
    values = {**values, "b_limit": limit}
    if after is not None:
        values.update(zip((param.key for param in _AFTER), after[1:]))
    if after is None or not after[0]:  # the page starts among the tasks with a deadline
        since = None if after is None else "due"
        for part in parts:  # each read in index order, only as far as ``limit``
            rows += connection.execute(part.deadline(True, since), values).all()
    if len(rows) < limit:  # tasks without a deadline come last: only needed when the page is not full
        since = None if after is None or not after[0] else "none"
        for part in parts:
            rows += connection.execute(part.deadline(False, since), values).all()
    rows.sort(key=_order)
    return rows


def _sorted_rows(connection, parts: tuple[_Part, ...], values: dict, sort: Sort, limit: int, after: tuple | None
                 ) -> list:
    """Any other order: each part's first ``limit`` rows by the key after the cursor ``after`` (rows without one
    last, then the task id, in the same direction), merged the same way. The last change is the case's
    (``instance.updated_at``)."""
    key = {DEADLINE: TaskRow.due_at, CHANGED: Instance.updated_at, ACTIVITY_DATE: TaskRow.case_date}[sort.key]
    direction = (lambda c: c.desc()) if sort.descending else (lambda c: c.asc())
    since = [] if after is None else [paging.after_nullable(key, TaskRow.id, after, sort.descending)]
    rows = []
    for part in parts:
        stmt = select(*_COLUMNS, key.label("sort_key"), TaskRow.id.label("sort_id")).where(*part.where, *since)
        if sort.key == CHANGED:
            stmt = stmt.join(Instance, Instance.id == TaskRow.instance_id)
        rows += connection.execute(stmt.order_by(key.is_(None), direction(key), direction(TaskRow.id))
                                   .limit(limit), values).all()
    valued = sorted((r for r in rows if r[-2] is not None), key=lambda r: (r[-2], r[-1]), reverse=sort.descending)
    missing = sorted((r for r in rows if r[-2] is None), key=lambda r: r[-1], reverse=sort.descending)
    return valued + missing


def _order(row) -> tuple:
    due_at, created_at = row[_DUE], row[_CREATED]
    return (due_at is None, due_at or created_at, created_at, row[_ID])


def inbox_counts(session: Session, user: User, *, now: datetime, lanes: Collection[str], q: str | None = None,
                 date_from: date | None = None, date_to: date | None = None,
                 overdue_lanes: frozenset[str] = frozenset(), heard: Collection[str] | None = None,
                 scopes: Collection[str] = SCOPES) -> dict[str, int]:
    """How many tasks each inbox tab (of ``scopes``) holds (same filters as :func:`inbox`, without its limit), in
    one statement.

    Each part is counted on its own (``SELECT count(*)`` of one index range, which the index alone answers).
    """
    keys = tuple(_shape_key(user, scope, q=q, date_from=date_from, date_to=date_to, lanes=lanes,
                            overdue_lanes=overdue_lanes, heard=heard) for scope in scopes)
    return dict(session.execute(_counts(keys), _values(user, now, q, date_from, date_to)).one()._mapping)


@functools.lru_cache(maxsize=1024)
def _counts(keys: tuple) -> object:
    """One statement counting the tabs of those shapes (built once, kept)."""
    totals = []
    for key in keys:
        counts = [select(func.count()).select_from(TaskRow).where(*part.where).scalar_subquery()
                  for part in _shape(*key)]
        totals.append(functools.reduce(operator.add, counts, literal(0)).label(key[0]))
    return select(*totals)

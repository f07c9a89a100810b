"""Read side of one case: its tasks, history, written responses and attachments."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Double, cast, func, select
from sqlalchemy.orm import Session

from engine import eventlog
from engine.models import Definition, Instance, TaskRow

from . import paging, search
from .declarations import Declarations, LaneMap, Rulebook
from .errors import NotPermitted
from .models import FileRecord, RegisterEntry, User
from .roles import VIEW_ALL_ROLES
from .search import Snippet
from .sorting import ACTIVITY_DATE, CHANGED, CREATED, DEADLINE, RELEVANCE, Sort


@dataclass(frozen=True)
class WrittenResponse:
    step: str
    bpmn_id: str
    lane: str | None
    actor: str | None
    at: datetime
    decision: str | None
    text: str


@dataclass(frozen=True)
class HistoryEvent:
    seq: int
    type: str
    at: datetime
    actor: str | None
    task_id: str | None
    data: dict
    #: The BPMN id of its task in the version the case runs on now (a migration may have mapped the recorded one).
    step_id: str | None = None


@dataclass
class CaseView:
    instance: Instance
    definition_version: int
    register_number: str | None
    tasks: list[TaskRow]
    history: list[HistoryEvent]
    responses: list[WrittenResponse]
    attachments: list[FileRecord]
    data: dict[str, Any] = field(default_factory=dict)  # the latest submitted values, by field
    first_submission: dict[str, Any] = field(default_factory=dict)  # each field's first submitted value
    #: The declarations of the case's version (step numbers, responses, texts, outcomes).
    rules: Declarations | None = None

    @property
    def activity_date(self) -> date | None:
        return self.instance.business_date


#: What :func:`case_scope` answers: every case, the user's team's cases, none.
ALL, TEAM, NONE = "all", "team", "none"


def case_scope(user: User, lane_map: LaneMap) -> str:
    """Which cases ``user`` sees: the application roles (process owner, auditor, administrator) every case; who works
    lanes every case too, unless every lane they work is team-scoped (``alur:lane teamScoped``): then their own
    team's; anyone else none."""
    if not user.active:
        return NONE
    if user.roles & VIEW_ALL_ROLES:
        return ALL
    lanes = lane_map.lanes_of(user)
    if not lanes:
        return NONE
    return TEAM if lane_map.team_only(lanes) else ALL


def can_view_case(user: User, instance: Instance, lane_map: LaneMap) -> bool:
    """Whether ``user`` sees the case (the rule of :func:`case_scope`)."""
    scope = case_scope(user, lane_map)
    if scope == TEAM:
        return user.team is not None and user.team.code == instance.group
    return scope == ALL


def _visible_instance(session: Session, user: User, instance_id: int, lane_map: LaneMap) -> Instance:
    from engine.errors import NotFound

    instance = session.get(Instance, instance_id)
    if instance is None:
        raise NotFound(f"no case {instance_id}", code="case.not_found", case=instance_id)
    if not can_view_case(user, instance, lane_map):
        raise NotPermitted(f"case {instance_id} is not visible to this user", code="case.not_visible")
    return instance


def case_view(session: Session, user: User, instance_id: int, rulebook: Rulebook) -> CaseView:
    instance = _visible_instance(session, user, instance_id, rulebook.lane_map(session))
    # The version number only: the row holds the diagram's XML (tens of KB), which the parsed spec has already.
    version = session.execute(select(Definition.version).where(Definition.id == instance.definition_id)).scalar_one()
    rules = rulebook.of_definition(session, instance.definition_id)
    entry = session.execute(select(RegisterEntry).where(RegisterEntry.instance_id == instance_id)).scalar_one_or_none()
    tasks = list(session.execute(select(TaskRow).where(TaskRow.instance_id == instance_id)
                                 .order_by(TaskRow.created_at)).scalars())
    history, responses = [], []
    data: dict[str, Any] = {}
    first_submission: dict[str, Any] = {}
    rows = [(row, eventlog.decode(row)) for row in eventlog.events_of(session, instance_id)]
    step_ids = eventlog.step_ids_now([(row.type, payload) for row, payload in rows])
    for (row, payload), step_id in zip(rows, step_ids, strict=True):
        history.append(HistoryEvent(row.seq, row.type, row.at, row.actor, row.task_id, payload, step_id))
        if row.type == "case_started":
            data.update(payload.get("data") or {})
        if row.type != "task_completed":
            continue
        submitted = payload.get("data") or {}
        data.update(submitted)
        bpmn_id = step_id
        for key, value in submitted.items():
            first_submission.setdefault(key, value)
        step = rules.step(bpmn_id)
        if step is not None and step.response is not None:
            decision_key, text_key = step.response
            responses.append(WrittenResponse(payload.get("name", bpmn_id), bpmn_id, payload.get("lane"), row.actor,
                                             row.at, submitted.get(decision_key), submitted.get(text_key) or ""))
    attachments = list(session.execute(select(FileRecord).where(FileRecord.instance_id == instance_id)
                                       .order_by(FileRecord.uploaded_at)).scalars())
    return CaseView(instance=instance, definition_version=version,
                    register_number=entry.number if entry else None, tasks=tasks, history=history,
                    responses=responses, attachments=attachments, data=data, first_submission=first_submission,
                    rules=rules)


# --------------------------------------------------------------------------------------------------
# Lists, outcomes, names and the diagram's marks
# --------------------------------------------------------------------------------------------------

#: How a case stands when its end event declares no outcome (or it has not ended): codes of this application.
GENERIC_OUTCOMES = ("berjalan", "selesai", "galat", "dibatalkan")


def case_outcome(instance: Instance, rules: Declarations) -> str:
    """``berjalan``, the code of the outcome its end event declares (``alur:outcome``, e.g. ``dipublikasikan``),
    ``selesai`` (an end without one), ``dibatalkan`` (cancelled: process/caseops.py) or ``galat``."""
    if instance.status == "running":
        return "berjalan"
    if instance.status == "cancelled":
        return "dibatalkan"
    if instance.status == "completed":
        outcome = rules.outcome(instance.end_event)
        return outcome.code if outcome is not None else "selesai"
    return "galat"


def outcome_labels(rules: Iterable[Declarations]) -> dict[str, str]:
    """``{outcome code: label}`` as the given versions declare them (the newest label of a code wins)."""
    return {o.code: o.label for decl in rules for o in decl.outcomes.values()}


def outcome_success(rules: Iterable[Declarations]) -> dict[str, bool]:
    """``{outcome code: whether it is a success}`` as the given versions declare them."""
    return {o.code: o.success for decl in rules for o in decl.outcomes.values()}


@dataclass(frozen=True)
class CaseSummary:
    instance: Instance
    register_number: str | None
    outcome: str
    current: list[TaskRow]
    procedure: str = ""  # the name of its procedure
    snippet: Snippet | None = None  # where a search's words occur in its texts


@dataclass(frozen=True)
class CasePage:
    items: list[CaseSummary]
    total: int
    page: int
    per_page: int
    sort: Sort | None = None
    #: Where the next page starts (process/paging.py); None on the last page.
    next_cursor: str | None = None
    #: A search matched more than ``total`` (process/search.py COUNT_MAX) cases: only that many were counted.
    more: bool = False
    #: A search in its default order listed the newest matches first, as too many matched to rank them.
    newest_first: bool = False

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_next(self) -> bool:
        return self.next_cursor is not None


#: What a case list cursor holds: whether the case has no value of the key, the value (of the kind of each key), and
#: the case id.
_CURSOR_KINDS = {CREATED: "t", CHANGED: "t", ACTIVITY_DATE: "d", DEADLINE: "t", RELEVANCE: "n"}


def case_list(session: Session, user: User, rulebook: Rulebook, *, q: str | None = None,
              procedure: str | None = None, page: int | None = None, per_page: int = 50, sort: Sort | None = None,
              cursor: str | None = None) -> CasePage:
    """The cases ``user`` may see (the rule of :func:`can_view_case`), one page; across every procedure unless
    ``procedure`` (a process id) is given. ``q`` finds a case by its name, register number, place and texts
    (process/search.py: every word, the last one as a prefix); each such case gets the snippet where they occur.
    ``sort``: newest first by default, best match first with ``q`` (newest first when more cases match than
    process/search.py ranks); see process/sorting.py.

    The page is the ``per_page`` cases after ``cursor`` (a keyset page, process/paging.py; None: the first page),
    or, only when ``page`` is given without a cursor, the ``page``-th by offset (kept for the API's old clients:
    its cost grows with the page number)."""
    page = max(1, page or 1) if cursor is None else 1
    searched = bool(search.query_words(q))
    if sort is None:
        sort = Sort(RELEVANCE if searched else CREATED, "desc")
    if sort.key == RELEVANCE and not searched:  # nothing searched: nothing to rank by
        sort = Sort(CREATED, sort.order)
    scope = case_scope(user, rulebook.lane_map(session))
    if scope == NONE or (q and q.strip() and not searched):  # a search without a letter or digit finds nothing
        paging.decode(cursor, _view(sort, searched), _cursor_kinds(sort, searched))
        return CasePage([], 0, page, per_page, sort)
    more = newest_first = False
    if searched and sort.key == RELEVANCE and sort.descending:
        instances, total, more, newest_first, next_cursor = _search_page(session, user, scope, q, procedure, sort,
                                                                         page, per_page, cursor)
    else:
        instances, total, more, next_cursor = _keyset_page(session, user, scope, q, procedure, sort, page,
                                                           per_page, cursor)
    ids = [i.id for i in instances]
    numbers, current = {}, {}
    if ids:
        numbers = dict(session.execute(select(RegisterEntry.instance_id, RegisterEntry.number)
                                       .where(RegisterEntry.instance_id.in_(ids))).all())
        for row in session.execute(select(TaskRow).where(TaskRow.instance_id.in_(ids), TaskRow.state == "ready")
                                   .order_by(TaskRow.created_at)).scalars():
            current.setdefault(row.instance_id, []).append(row)
    found_in = search.snippets(session, ids, q) if searched else {}
    rules = rulebook.of_instances(session, ids)
    items = [CaseSummary(i, numbers.get(i.id), case_outcome(i, rules[i.id]), current.get(i.id, []), rules[i.id].name,
                         found_in.get(i.id)) for i in instances]
    return CasePage(items, total, page, per_page, sort, next_cursor, more, newest_first)


def _view(sort: Sort, searched: bool) -> str:
    """Which list a cursor continues: the order, and for the default order of a search its own kind of page."""
    return f"cases.{sort.key}.{sort.order}" + (".found" if searched and sort.key == RELEVANCE else "")


def _cursor_kinds(sort: Sort, searched: bool) -> tuple[str, ...]:
    if searched and sort.key == RELEVANCE and sort.descending:
        return ("s", "I")  # process/search.py Found.next: ("rank", offset) or ("before", case id)
    return ("b", _CURSOR_KINDS[sort.key] + "?", "i")


def _search_page(session: Session, user: User, scope: str, q: str, procedure: str | None, sort: Sort,
                 page: int, per_page: int, cursor: str | None) -> tuple:
    """A search in its default order (process/search.py :func:`~process.search.find`): who sees what is in the
    index (the team's filter word), so the search reads only what the user may see."""
    view = _view(sort, True)
    start = paging.decode(cursor, view, _cursor_kinds(sort, True))
    if start is not None and start[0] not in ("rank", "before"):
        raise paging.refused()
    found = search.find(session, q, filters=_filters(user, scope, procedure), limit=per_page,
                        offset=(page - 1) * per_page, start=start)
    by_id = {i.id: i for i in session.execute(select(Instance).where(Instance.id.in_(found.ids))).scalars()}
    instances = [by_id[i] for i in found.ids if i in by_id]
    next_cursor = paging.encode(view, found.next) if found.next else None
    return instances, found.total, found.more, not found.ranked, next_cursor


def _filters(user: User, scope: str, procedure: str | None) -> tuple[str, ...]:
    return search.filter_words(team=(user.team.code if user.team else None) if scope == TEAM else False,
                               procedure=procedure)


def _keyset_page(session: Session, user: User, scope: str, q: str | None, procedure: str | None, sort: Sort,
                 page: int, per_page: int, cursor: str | None) -> tuple:
    """Every other page: the cases (joined to a search's matches, if any) in the order's key, then the id."""
    stmt, hit, more = select(Instance), None, False
    if search.query_words(q):
        filters = _filters(user, scope, procedure)
        total, more = search.count(session, q, filters)
        hit = search.matches(session, q, ranked=sort.key == RELEVANCE, filters=filters)
        stmt = stmt.join(hit, hit.c.instance_id == Instance.id)
    else:
        where = []
        if scope == TEAM:
            where.append(Instance.group == (user.team.code if user.team else None))
        if procedure:
            where.append(Instance.definition_id.in_(select(Definition.id)
                                                    .where(Definition.process_key == procedure)))
        stmt = stmt.where(*where)
        total = session.execute(select(func.count()).select_from(Instance).where(*where)).scalar_one()
    key, nullable = _case_key(sort, hit)
    view = _view(sort, hit is not None)
    after = paging.decode(cursor, view, _cursor_kinds(sort, hit is not None))
    if after is not None:
        if not nullable and after[0]:
            raise paging.refused()
        stmt = stmt.where(paging.after_nullable(key, Instance.id, after, sort.descending) if nullable
                          else paging.beyond((key, Instance.id), after[1:], sort.descending))
    found_rows = session.execute(stmt.add_columns(key.label("sort_key")).order_by(*_case_order(sort, hit))
                                 .offset((page - 1) * per_page).limit(per_page + 1)).all()
    instances = [row[0] for row in found_rows[:per_page]]
    next_cursor = None
    if len(found_rows) > per_page:
        last, value = found_rows[per_page - 1]
        next_cursor = paging.encode(view, (value is None, value, last.id))
    return instances, total, more, next_cursor


def _case_order(sort: Sort, hit) -> list:
    """ORDER BY of the case list: the key (rows without one last), then the id, both in the chosen direction."""
    key, nullable = _case_key(sort, hit)
    direction = (lambda c: c.desc()) if sort.descending else (lambda c: c.asc())
    return [*([key.is_(None)] if nullable else []), direction(key), direction(Instance.id)]


def _case_key(sort: Sort, hit) -> tuple:
    """What the case list orders by first, and whether a case may have no value of it."""
    if sort.key == RELEVANCE:
        # As a double: PostgreSQL's ts_rank is a real, whose shortest text (what the driver reads) is not its exact
        # value, and a cursor holding that text would compare unequal to the rank it came from.
        key = cast(hit.c.rank, Double)
    elif sort.key == DEADLINE:  # the earliest deadline of its waiting steps
        key = (select(func.min(TaskRow.due_at)).where(TaskRow.instance_id == Instance.id, TaskRow.state == "ready")
               .correlate(Instance).scalar_subquery())
    else:
        key = {CHANGED: Instance.updated_at, ACTIVITY_DATE: Instance.business_date,
               CREATED: Instance.created_at}[sort.key]
    return key, sort.key in (DEADLINE, ACTIVITY_DATE)


def display_names(session: Session, usernames) -> dict[str, str]:
    """``{username: display name}`` for the given actors (unknown ones are left out)."""
    wanted = {u for u in usernames if u}
    if not wanted:
        return {}
    users = session.execute(select(User).where(User.username.in_(wanted))).scalars().unique()
    return {u.username: u.display_name for u in users}


@dataclass(frozen=True)
class CaseDiagram:
    xml: str
    completed: list[str]
    active: list[str]
    overdue: list[str]


def case_diagram(session: Session, user: User, instance_id: int, rulebook: Rulebook, *, now: datetime
                 ) -> CaseDiagram:
    """The definition version's XML and which user tasks are done, waiting, or late (by BPMN id)."""
    instance = _visible_instance(session, user, instance_id, rulebook.lane_map(session))
    definition = session.get(Definition, instance.definition_id)
    tasks = session.execute(select(TaskRow).where(TaskRow.instance_id == instance_id)).scalars().all()
    completed = {t.bpmn_id for t in tasks if t.state == "completed"}
    active = {t.bpmn_id for t in tasks if t.state == "ready"}
    overdue = {t.bpmn_id for t in tasks
               if t.overdue_at is not None or (t.state == "ready" and t.due_at is not None and t.due_at < now)}
    return CaseDiagram(definition.xml, sorted(completed), sorted(active), sorted(overdue))

"""Read side of one case: its tasks, history, written responses and attachments."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import eventlog
from engine.models import Definition, Instance, TaskRow

from .contract import END_DIPUBLIKASIKAN, END_DITOLAK, TASK_KOREKSI, TASK_PUTUSKAN, TASK_SERAHKAN, TASK_TERIMA
from .errors import NotPermitted
from .models import FileRecord, RegisterEntry, User
from .roles import ALL_ROLES

#: Steps whose completion carries a written response ("tanggapan tertulis"): decision and text fields.
RESPONSE_FIELDS = {
    TASK_TERIMA: ("keputusan_admin", "tanggapan_admin"),
    TASK_KOREKSI: ("keputusan_wapimred", "tanggapan_wapimred"),
    TASK_PUTUSKAN: ("keputusan_pimred", "pertimbangan"),
}


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
    first_submission: dict[str, Any] = field(default_factory=dict)  # step 1 as first handed in

    @property
    def activity_date(self) -> date | None:
        return self.instance.business_date


def can_view_case(user: User, instance: Instance) -> bool:
    """Tim Pelaksana see their own team's cases; every other role of the office sees all cases."""
    if not user.active or not (user.roles & set(ALL_ROLES)):
        return False
    if user.roles - {"tim_pelaksana"}:
        return True
    return user.team is not None and user.team.code == instance.group


def _visible_instance(session: Session, user: User, instance_id: int) -> Instance:
    from engine.errors import NotFound

    instance = session.get(Instance, instance_id)
    if instance is None:
        raise NotFound(f"no case {instance_id}", code="case.not_found", case=instance_id)
    if not can_view_case(user, instance):
        raise NotPermitted(f"case {instance_id} is not visible to this user", code="case.not_visible")
    return instance


def case_view(session: Session, user: User, instance_id: int) -> CaseView:
    instance = _visible_instance(session, user, instance_id)
    definition = session.get(Definition, instance.definition_id)
    entry = session.execute(select(RegisterEntry).where(RegisterEntry.instance_id == instance_id)).scalar_one_or_none()
    tasks = list(session.execute(select(TaskRow).where(TaskRow.instance_id == instance_id)
                                 .order_by(TaskRow.created_at)).scalars())
    history, responses = [], []
    data: dict[str, Any] = {}
    first_submission: dict[str, Any] = {}
    for row in eventlog.events_of(session, instance_id):
        payload = eventlog.decode(row)
        history.append(HistoryEvent(row.seq, row.type, row.at, row.actor, row.task_id, payload))
        if row.type == "case_started":
            data.update(payload.get("data") or {})
        if row.type != "task_completed":
            continue
        submitted = payload.get("data") or {}
        data.update(submitted)
        bpmn_id = payload.get("bpmn_id")
        if bpmn_id == TASK_SERAHKAN and not first_submission:
            first_submission = dict(submitted)
        if bpmn_id in RESPONSE_FIELDS:
            decision_key, text_key = RESPONSE_FIELDS[bpmn_id]
            responses.append(WrittenResponse(payload.get("name", bpmn_id), bpmn_id, payload.get("lane"), row.actor,
                                             row.at, submitted.get(decision_key), submitted.get(text_key) or ""))
    attachments = list(session.execute(select(FileRecord).where(FileRecord.instance_id == instance_id)
                                       .order_by(FileRecord.uploaded_at)).scalars())
    return CaseView(instance=instance, definition_version=definition.version,
                    register_number=entry.number if entry else None, tasks=tasks, history=history,
                    responses=responses, attachments=attachments, data=data, first_submission=first_submission)


# --------------------------------------------------------------------------------------------------
# Lists, outcomes, names and the diagram's marks
# --------------------------------------------------------------------------------------------------

#: End events of the diagram that say how a finished case ended (the ids are part of the contract).
OUTCOME_OF_END = {END_DIPUBLIKASIKAN: "dipublikasikan", END_DITOLAK: "ditolak"}


def case_outcome(instance: Instance) -> str:
    """``berjalan``, ``dipublikasikan``, ``ditolak``, ``selesai`` (another end) or ``galat``."""
    if instance.status == "running":
        return "berjalan"
    if instance.status == "completed":
        return OUTCOME_OF_END.get(instance.end_event or "", "selesai")
    return "galat"


@dataclass(frozen=True)
class CaseSummary:
    instance: Instance
    register_number: str | None
    outcome: str
    current: list[TaskRow]


@dataclass(frozen=True)
class CasePage:
    items: list[CaseSummary]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def case_list(session: Session, user: User, *, q: str | None = None, page: int = 1,
              per_page: int = 50) -> CasePage:
    """The cases ``user`` may see (the rule of :func:`can_view_case`), newest first, one page."""
    page = max(1, page)
    stmt = select(Instance)
    if not user.active or not (user.roles & set(ALL_ROLES)):
        stmt = stmt.where(Instance.id.is_(None))
    elif not (user.roles - {"tim_pelaksana"}):
        stmt = stmt.where(Instance.group == (user.team.code if user.team else None))
    if q and q.strip():
        stmt = stmt.where(Instance.title.ilike(f"%{q.strip()[:100]}%"))
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    instances = list(session.execute(stmt.order_by(Instance.created_at.desc(), Instance.id.desc())
                                     .offset((page - 1) * per_page).limit(per_page)).scalars())
    ids = [i.id for i in instances]
    numbers, current = {}, {}
    if ids:
        numbers = dict(session.execute(select(RegisterEntry.instance_id, RegisterEntry.number)
                                       .where(RegisterEntry.instance_id.in_(ids))).all())
        for row in session.execute(select(TaskRow).where(TaskRow.instance_id.in_(ids), TaskRow.state == "ready")
                                   .order_by(TaskRow.created_at)).scalars():
            current.setdefault(row.instance_id, []).append(row)
    items = [CaseSummary(i, numbers.get(i.id), case_outcome(i), current.get(i.id, [])) for i in instances]
    return CasePage(items, total, page, per_page)


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


def case_diagram(session: Session, user: User, instance_id: int, *, now: datetime) -> CaseDiagram:
    """The definition version's XML and which user tasks are done, waiting, or late (by BPMN id)."""
    instance = _visible_instance(session, user, instance_id)
    definition = session.get(Definition, instance.definition_id)
    tasks = session.execute(select(TaskRow).where(TaskRow.instance_id == instance_id)).scalars().all()
    completed = {t.bpmn_id for t in tasks if t.state == "completed"}
    active = {t.bpmn_id for t in tasks if t.state == "ready"}
    overdue = {t.bpmn_id for t in tasks
               if t.overdue_at is not None or (t.state == "ready" and t.due_at is not None and t.due_at < now)}
    return CaseDiagram(definition.xml, sorted(completed), sorted(active), sorted(overdue))

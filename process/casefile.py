"""Read side of one case: its tasks, history, written responses and attachments."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import eventlog
from engine.models import Definition, Instance, TaskRow

from .errors import NotPermitted
from .models import FileRecord, RegisterEntry, User
from .roles import ALL_ROLES

#: Steps whose completion carries a written response ("tanggapan tertulis"): decision and text fields.
RESPONSE_FIELDS = {
    "Task_Terima": ("keputusan_admin", "tanggapan_admin"),
    "Task_Koreksi": ("keputusan_wapimred", "tanggapan_wapimred"),
    "Task_Putuskan": ("keputusan_pimred", "pertimbangan"),
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


def case_view(session: Session, user: User, instance_id: int) -> CaseView:
    from engine.errors import NotFound

    instance = session.get(Instance, instance_id)
    if instance is None:
        raise NotFound("Kasus tidak ditemukan.", instance_id=instance_id)
    if not can_view_case(user, instance):
        raise NotPermitted("Anda tidak berhak melihat kasus ini.")
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
        if bpmn_id == "Task_Serahkan" and not first_submission:
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

"""In-app notifications, written in the same transaction as the change that causes them."""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import insert
from sqlalchemy.orm import Session

from engine import eventlog
from engine.models import TaskRow
from engine.runtime import SYSTEM_ACTOR, ActionResult

from .deadlines import format_wib
from .models import Notification, User
from .roles import ESCALATION_LANE

if TYPE_CHECKING:
    from .services import Alur

#: Decisions that send the case back to the team, with the field holding the written response.
RETURNS = {
    "Task_Terima": ("keputusan_admin", "dikembalikan", "tanggapan_admin", "Admin Medsos"),
    "Task_Koreksi": ("keputusan_wapimred", "kembalikan", "tanggapan_wapimred", "Wakil Pimpinan Redaksi"),
    "Task_Putuskan": ("keputusan_pimred", "revisi", "pertimbangan", "Pimpinan Redaksi"),
}


def _notify(session: Session, recipients: list[tuple[int, str]], kind: str, message: str, row: TaskRow | None,
            now, exclude: User | None = None) -> None:
    """One notification per recipient ((id, username) pairs), inserted in bulk, each recorded as an event."""
    seen: set[int] = set()
    rows = []
    instance_id, task_id = (row.instance_id, row.id) if row else (None, None)
    for user_id, username in recipients:
        if user_id in seen or (exclude is not None and user_id == exclude.id):
            continue
        seen.add(user_id)
        rows.append({"user_id": user_id, "kind": kind, "message": message, "instance_id": instance_id,
                     "task_id": task_id, "created_at": now})
        # The history of record says who was told what (the message text stays in the notification).
        eventlog.append(session, type="notification_sent", at=now, actor=SYSTEM_ACTOR,
                        instance_id=instance_id, task_id=task_id,
                        data={"kind": kind, "recipient": username, "bpmn_id": row.bpmn_id if row else None})
    if rows:
        session.execute(insert(Notification), rows)


def after_action(session: Session, alur: Alur, result: ActionResult, *, actor: User | None,
                 submitted: dict | None = None, task: TaskRow | None = None) -> None:
    now = alur.clock.now()
    title = result.instance.title
    for row in result.ready:
        due = f" Batas waktu: {format_wib(row.due_at)}." if row.due_at else ""
        _notify(session, alur.recipients(session, row.lane, row.group), "task_ready",
                f"Tugas baru: {row.name} — {title}.{due}", row, now, exclude=actor)
    for row in result.overdue:
        message = f"Terlambat: {row.name} — {title} melewati batas waktu {format_wib(row.due_at)}." \
            if row.due_at else f"Terlambat: {row.name} — {title}."
        users = alur.recipients(session, row.lane, row.group) + alur.recipients(session, ESCALATION_LANE)
        _notify(session, users, "overdue", message, row, now)
    if task is not None and submitted is not None and task.bpmn_id in RETURNS:
        field, value, response, who = RETURNS[task.bpmn_id]
        if submitted.get(field) == value:
            back = [r for r in result.ready]
            for row in back:
                _notify(session, alur.recipients(session, row.lane, row.group), "returned",
                        f"Dikembalikan oleh {who}: {title}. Tanggapan: {submitted.get(response, '')}", row, now)


def delegated(session: Session, alur: Alur, row: TaskRow, target: User, *, by: User) -> None:
    _notify(session, [(target.id, target.username)], "delegated",
            f"{by.display_name} mendelegasikan tugas kepada Anda: {row.name} — {row.case_title}.", row,
            alur.clock.now())

"""Notifications, written in the same transaction as the change that causes them: in-app rows, and e-mails
in the outbox (:mod:`process.outbox`) for users with an address when SMTP is configured.

A notification is stored as a message code and its params (process/messages.py), never as a sentence: each
reader sees it in their own language when they read it (:func:`text_of`). Moments are stored as ISO text and a
"due in ..." as the seconds it was away when the notice was written, so both are written the reader's way too.
An e-mail is rendered once, when it is queued, in Bahasa Indonesia (an address has no language of its own)."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from engine import eventlog, wakeup
from engine.models import TaskRow
from engine.runtime import SYSTEM_ACTOR, ActionResult

from . import messages, outbox, timefmt
from .declarations import Declarations, Return
from .models import DeadlineReminder, Notification, User
from .people import People, Recipient


def text_of(notification: Notification, locale: str = messages.SOURCE_LOCALE, translations=None) -> str:
    """The notification in ``locale``; a row from before notifications had codes keeps its stored text."""
    if notification.code and messages.known(notification.code):
        params = json.loads(notification.params) if notification.params else {}
        return messages.render(notification.code, params, locale, translations)
    return notification.message or ""


def export_of(notification: Notification) -> int | None:
    """The export job a notification of one is about (``export_ready`` / ``export_failed``: process/exportjobs.py)."""
    if not notification.kind.startswith("export_") or not notification.params:
        return None
    value = json.loads(notification.params).get("export")
    return value if isinstance(value, int) else None


def _iso(moment: datetime | None) -> str | None:
    return timefmt.local(moment).isoformat() if moment is not None else None


#: Built once, at table level: the ORM's bulk-insert path costs several times what SQLite takes to run them.
_INSERT_NOTIFICATIONS = insert(Notification.__table__)
_INSERT_REMINDERS = insert(DeadlineReminder.__table__)


class _Batch:
    """The notifications and e-mails of one action, written with one INSERT each; recipients looked up once per
    lane and team."""

    def __init__(self, session: Session, people: People, now: datetime):
        self.session, self.people, self.now = session, people, now
        self.rows: list[dict] = []
        self.mails: list[dict] = []
        self._lanes: dict[tuple[str, str | None], list[Recipient]] = {}

    def lane(self, lane: str, group: str | None = None) -> list[Recipient]:
        key = (lane, group)
        if key not in self._lanes:
            self._lanes[key] = self.people.recipients(self.session, lane, group)
        return self._lanes[key]

    def holder(self, username: str) -> list[Recipient]:
        return self.people.recipients_by_username(self.session, [username])

    def notify(self, recipients: list[Recipient], kind: str, code: str, params: dict[str, Any],
               row: TaskRow | None, exclude: User | None = None, title: str = "") -> None:
        """One notification per recipient (message ``code`` with ``params``) and one event naming them all; plus
        an e-mail per recipient with an address when e-mail is configured."""
        seen: set[int] = set()
        told = []
        instance_id, task_id = (row.instance_id, row.id) if row else (None, None)
        settings = self.people.settings
        stored = json.dumps(params, ensure_ascii=False, sort_keys=True)
        message = None
        for r in recipients:
            if r.id in seen or (exclude is not None and r.id == exclude.id):
                continue
            seen.add(r.id)
            self.rows.append({"user_id": r.id, "kind": kind, "message": None, "code": code, "params": stored,
                              "instance_id": instance_id, "task_id": task_id, "created_at": self.now})
            if settings.mail is not None and r.email:
                if message is None:
                    message = messages.render(code, params)
                self.mails.append({
                    "user_id": r.id, "to_addr": r.email, "name": r.name, "kind": kind, "message": message,
                    "task": row.name if row else None, "title": title, "task_id": task_id,
                    "instance_id": instance_id, "created_at": self.now, "base_url": settings.base_url})
            told.append(r.username)
        if told:
            # The history of record says who was told what (the message stays in the notification).
            eventlog.append(self.session, type="notification_sent", at=self.now, actor=SYSTEM_ACTOR,
                            instance_id=instance_id, task_id=task_id,
                            data={"kind": kind, "recipients": told, "bpmn_id": row.bpmn_id if row else None})

    def write(self) -> None:
        if self.rows:
            self.session.connection().execute(_INSERT_NOTIFICATIONS, self.rows)
        outbox.enqueue(self.session, self.mails)
        self.rows, self.mails = [], []


def after_action(session: Session, people: People, result: ActionResult, *, actor: User | None,
                 rules: Declarations, submitted: dict | None = None, task: TaskRow | None = None,
                 returned: Return | None = None) -> None:
    """The notifications an action causes, by the case's declarations (``rules``: who hears of late steps;
    ``returned``: the return rule the completed ``task`` triggered). Nothing here needs the action's pending rows in
    the database, so they are flushed once, with these, at commit."""
    now = people.clock.now()
    title = result.instance.title
    sent_back = task is not None and submitted is not None and returned is not None
    with session.no_autoflush:
        batch = _Batch(session, people, now)
        for row in result.ready:
            if sent_back:
                continue  # told once, below: that it came back, and why
            params = {"task": row.name, "title": title}
            if row.due_at:
                params["due_at"] = _iso(row.due_at)
            # A task someone holds as it becomes ready (its case's creator: process/cases.py) is theirs alone.
            told = batch.holder(row.claimed_by) if row.claimed_by else batch.lane(row.lane, row.group)
            batch.notify(told, "task_ready",
                         "notice.task_ready_due" if row.due_at else "notice.task_ready", params, row,
                         exclude=actor, title=title)
        for row in result.overdue:
            params = {"task": row.name, "title": title}
            if row.due_at:
                params["due_at"] = _iso(row.due_at)
            told = batch.lane(row.lane, row.group)
            for lane in sorted(rules.overdue_lanes):
                told = told + batch.lane(lane)
            batch.notify(told, "overdue", "notice.overdue_due" if row.due_at else "notice.overdue", params, row,
                         title=title)
        if sent_back:
            for row in result.ready:
                batch.notify(batch.lane(row.lane, row.group), "returned", "notice.returned",
                             {"who": task.lane or "", "title": title,
                              "response": str(submitted.get(returned.response or "") or "")}, row, title=title)
        batch.write()
        schedule_reminders(session, people, result.ready, now)
    finished = [row.id for row in result.completed]
    if task is not None:
        finished.append(task.id)
    tasks_done(session, finished, now)


_N = Notification.__table__
#: Marking read, built once at table level (no ORM compilation per call); each finds its rows through a partial
#: index of the unread notifications (``ix_notification_task_unread``, ``ix_notification_case_unread``).
_READ_AT = bindparam("b_now", type_=_N.c.read_at.type)
_TASKS_DONE = (update(_N).where(_N.c.task_id.in_(bindparam("b_ids", expanding=True)), _N.c.read_at.is_(None))
               .values(read_at=_READ_AT))
_ABOUT_TASK = (_N.c.task_id == bindparam("b_task"), _N.c.user_id == bindparam("b_user"), _N.c.read_at.is_(None))
_ABOUT_CASE = (_N.c.instance_id == bindparam("b_case"), _N.c.user_id == bindparam("b_user"),
               _N.c.task_id.is_(None), _N.c.read_at.is_(None))
_TASK_SEEN = update(_N).where(*_ABOUT_TASK).values(read_at=_READ_AT)
_TASK_UNREAD = select(_N.c.id).where(*_ABOUT_TASK).limit(1)
_CASE_SEEN = update(_N).where(*_ABOUT_CASE).values(read_at=_READ_AT)
_CASE_UNREAD = select(_N.c.id).where(*_ABOUT_CASE).limit(1)


def tasks_done(session: Session, task_ids: list[str], now: datetime) -> None:
    """Notifications about tasks that are finished are read: nothing is left to do about them."""
    ids = sorted(set(task_ids))
    for start in range(0, len(ids), 500):
        session.execute(_TASKS_DONE, {"b_ids": ids[start:start + 500], "b_now": now})


def task_unread(session: Session, user: User, task_id: str) -> bool:
    """Whether the user has an unread notification about the task."""
    return session.execute(_TASK_UNREAD, {"b_task": task_id, "b_user": user.id}).first() is not None


def task_seen(session: Session, user: User, task_id: str, now: datetime) -> None:
    """The user opened the task: their notifications about it are read."""
    session.execute(_TASK_SEEN, {"b_task": task_id, "b_user": user.id, "b_now": now})


def case_unread(session: Session, user: User, instance_id: int) -> bool:
    """Whether the user has unread notifications about the case itself (a comment, a cancellation: no task)."""
    return session.execute(_CASE_UNREAD, {"b_case": instance_id, "b_user": user.id}).first() is not None


def case_seen(session: Session, user: User, instance_id: int, now: datetime) -> None:
    """The user opened the case's page: their notifications about the case itself (a comment, a cancellation: no
    task) are read."""
    session.execute(_CASE_SEEN, {"b_case": instance_id, "b_user": user.id, "b_now": now})


def delegated(session: Session, people: People, row: TaskRow, target: User, *, by: User) -> None:
    batch = _Batch(session, people, people.clock.now())
    batch.notify([Recipient(target.id, target.username, target.email, target.display_name)], "delegated",
                 "notice.delegated", {"by": by.display_name, "task": row.name, "title": row.case_title}, row,
                 title=row.case_title)
    batch.write()


def _recipients(people: People, session: Session, usernames) -> list[Recipient]:
    names = sorted({u for u in usernames if u})
    return people.recipients_by_username(session, names) if names else []


def reassigned(session: Session, people: People, row: TaskRow, target: User, previous: str | None, *, by: User,
               reason: str) -> None:
    """A lead gave a task to ``target``: they are told (with the reason), and so is who held it before."""
    batch = _Batch(session, people, people.clock.now())
    params = {"by": by.display_name, "task": row.name, "title": row.case_title, "reason": reason or "—"}
    batch.notify([Recipient(target.id, target.username, target.email, target.display_name)], "reassigned",
                 "notice.reassigned", params, row, exclude=by, title=row.case_title)
    if previous and previous != target.actor:
        batch.notify(_recipients(people, session, [previous]), "reassigned_away", "notice.reassigned_away",
                     {**params, "to": target.display_name}, row, exclude=by, title=row.case_title)
    batch.write()


def case_cancelled(session: Session, people: People, instance, holders: list[str], *, by: User, reason: str
                   ) -> None:
    """A case was cancelled: who held one of its waiting tasks is told, once, with the reason."""
    batch = _Batch(session, people, people.clock.now())
    batch.notify(_recipients(people, session, holders), "case_cancelled", "notice.case_cancelled",
                 {"by": by.display_name, "title": instance.title, "reason": reason}, _CaseOnly(instance.id),
                 exclude=by, title=instance.title)
    batch.write()


def commented(session: Session, people: People, instance, usernames: list[str], *, by: User, text: str) -> None:
    """A comment on a case: who holds its waiting tasks and who took part in it before are told, once each."""
    batch = _Batch(session, people, people.clock.now())
    short = text if len(text) <= 200 else text[:199] + "…"
    batch.notify(_recipients(people, session, usernames), "commented", "notice.commented",
                 {"by": by.display_name, "title": instance.title, "text": short}, _CaseOnly(instance.id),
                 exclude=by, title=instance.title)
    batch.write()


class _CaseOnly:
    """What a notification about a whole case (no task) refers to."""

    def __init__(self, instance_id: int):
        self.instance_id, self.id, self.name, self.bpmn_id = instance_id, None, None, None


def schedule_reminders(session: Session, people: People, ready: list[TaskRow], now: datetime) -> None:
    """A "deadline soon" reminder for each newly ready task whose deadline is further away than the lead time
    (a task that becomes ready closer to its deadline already says the deadline in its "new task" notice)."""
    lead = people.settings.reminder_lead
    rows = [{"task_id": row.id, "instance_id": row.instance_id, "remind_at": row.due_at - lead, "due_at": row.due_at}
            for row in ready if row.due_at is not None and row.due_at - lead > now]
    if rows:
        session.connection().execute(_INSERT_REMINDERS, rows)
        wakeup.soon(session)


def send_due_reminders(session: Session, people: People, now: datetime, limit: int = 200) -> int:
    """Send the reminders that are due (PostgreSQL: rows other workers hold are skipped). A reminder whose task
    is done, cancelled or already overdue is dropped. Returns how many reminders went out."""
    stmt = (select(DeadlineReminder, TaskRow).join(TaskRow, TaskRow.id == DeadlineReminder.task_id, isouter=True)
            .where(DeadlineReminder.remind_at <= now).order_by(DeadlineReminder.remind_at).limit(limit)
            .with_for_update(skip_locked=True, of=DeadlineReminder))
    sent, done = 0, []
    batch = _Batch(session, people, now)
    for reminder, row in session.execute(stmt).all():
        done.append(reminder.task_id)
        if row is None or row.state != "ready" or row.overdue_at is not None or row.due_at is None or \
                row.due_at <= now:
            continue
        if row.claimed_by:
            users = people.recipients_by_username(session, [row.claimed_by])
        else:
            users = batch.lane(row.lane, row.group)
        batch.notify(users, "deadline_soon", "notice.deadline_soon",
                     {"task": row.name, "title": row.case_title, "relative": timefmt.relative(row.due_at, now),
                      "due_at": _iso(row.due_at)}, row, title=row.case_title)
        sent += 1
    batch.write()
    if done:
        session.execute(delete(DeadlineReminder).where(DeadlineReminder.task_id.in_(done)))
    return sent


def next_reminder_at(session: Session) -> datetime | None:
    return session.execute(select(func.min(DeadlineReminder.remind_at))).scalar()

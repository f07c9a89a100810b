"""What a lead and the people of a case do besides working its steps: give a waiting task to someone else of its
lane (reassign), cancel a case with a written reason, and comment on a case.

Who leads a procedure is declared in its diagram (``alur:lane leads="true"``: the Pimpinan Redaksi's lane of the
bundled SOP) or holds the administrator role. Each operation is an event of the hash-chained log
(``task_reassigned``, ``case_cancelled``, ``case_commented``: the comment's text is in the hashed payload), is
shown in the case's history and replay, and tells the people concerned once each (process/notify.py).

* **Reassign**: a lead gives any waiting task, held or not, to an active person who works the task's lane (and,
  for a team-scoped lane, is of the case's team); the reason is optional.
* **Cancel**: a lead, or the person who opened the case while none of its steps has been handed in yet (a case
  opened by mistake is withdrawn by who opened it; once work has been handed in, only a lead ends it), cancels a
  running case with a written reason. Its waiting tasks end, its deadlines and reminders no longer fire, and the
  case refuses every further action (:func:`check_not_cancelled`).
* **Comment**: whoever sees the case, auditors excepted (they only read), writes a note that is not a return: plain
  text up to :data:`MAX_COMMENT` characters, line breaks kept.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from engine import eventlog
from engine.errors import NotFound, TaskNotReady
from engine.models import Definition, EventRow, Instance, TaskRow
from engine.persistence import lock_case
from engine.runtime import ActionResult, WorkflowEngine

from . import inputs, notify, paging
from .casefile import can_view_case
from .config import Settings
from .declarations import Rulebook
from .errors import BadRequest, NotPermitted
from .messages import message
from .models import DeadlineReminder, User
from .people import People, by_username

#: The longest comment, a cancellation's reason and a reassignment's reason (characters).
MAX_COMMENT = 2000
MAX_REASON = 1000
#: Who only reads: never writes a comment (nor anything else).
READ_ONLY_ROLE = "auditor"
#: The application role that leads every procedure (besides the lanes a diagram declares ``alur:lane leads``).
LEAD_ROLE = "admin"


@dataclass(frozen=True)
class Comment:
    seq: int | None  # its position in the event log (None until the transaction that wrote it commits)
    at: datetime
    actor: str | None
    text: str


@dataclass(frozen=True)
class Cancellation:
    at: datetime
    actor: str | None
    reason: str


def cancellations(session: Session, instance_ids) -> dict[int, Cancellation]:
    """``{case id: its cancellation}`` for the cancelled ones among ``instance_ids`` (read from the event log)."""
    ids = sorted({i for i in instance_ids if i is not None})
    found: dict[int, Cancellation] = {}
    for start in range(0, len(ids), 500):
        rows = session.execute(select(EventRow).where(EventRow.instance_id.in_(ids[start:start + 500]),
                                                      EventRow.type == "case_cancelled")).scalars()
        for row in rows:
            found[row.instance_id] = Cancellation(row.at, row.actor, str(eventlog.decode(row).get("reason") or ""))
    return found


def check_not_cancelled(session: Session, instance: Instance | None) -> None:
    """A cancelled case refuses every further action, saying so and why (HTTP 409)."""
    if instance is not None and instance.status == "cancelled":
        cancelled = cancellations(session, [instance.id]).get(instance.id)
        raise TaskNotReady(f"case {instance.id} is cancelled", code="case.cancelled", title=instance.title,
                           reason=cancelled.reason if cancelled else "")


def _text(value, label: str, max_length: int, *, required: bool) -> str:
    if value is None and not required:
        return ""
    try:
        text = inputs.multi_line(value if value is not None else "", max_length=max_length)
    except inputs.Refused as refused:
        raise refused.labelled(message(label)) from None
    if required and not text:
        raise inputs.Refused("required").labelled(message(label))
    return text


class CaseOps:
    def __init__(self, engine: WorkflowEngine, settings: Settings, people: People, rules: Rulebook):
        self.engine, self.settings, self.people, self.rules = engine, settings, people, rules
        self.clock = engine.clock

    # ------------------------------------------------------------------------------------------ who
    def process_key(self, session: Session, instance: Instance) -> str | None:
        return session.execute(select(Definition.process_key)
                               .where(Definition.id == instance.definition_id)).scalar()

    def is_lead(self, session: Session, user: User, instance: Instance) -> bool:
        """Whether ``user`` leads the case's procedure: the administrator, or who works a lane its newest version
        declares ``alur:lane leads``."""
        if not user.active:
            return False
        if LEAD_ROLE in user.roles:
            return True
        lane_map = self.rules.lane_map(session)
        return lane_map.leads_procedure(lane_map.lanes_of(user), self.process_key(session, instance))

    def may_cancel(self, session: Session, user: User, instance: Instance) -> bool:
        """A lead; or who opened the case, while none of its steps has been handed in."""
        if not user.active or instance.status != "running":
            return False
        if self.is_lead(session, user, instance):
            return True
        return instance.created_by == user.actor and self._nothing_handed_in(session, instance)

    def may_comment(self, session: Session, user: User, instance: Instance) -> bool:
        return (user.active and READ_ONLY_ROLE not in user.roles and instance.status != "cancelled"
                and can_view_case(user, instance, self.rules.lane_map(session)))

    @staticmethod
    def _nothing_handed_in(session: Session, instance: Instance) -> bool:
        return session.execute(select(TaskRow.id).where(TaskRow.instance_id == instance.id,
                                                        TaskRow.state == "completed").limit(1)).first() is None

    def _instance(self, session: Session, user: User, instance_id: int) -> Instance:
        instance = session.get(Instance, instance_id) if isinstance(instance_id, int) else None
        if instance is None:
            raise NotFound(f"no case {instance_id}", code="case.not_found", case=instance_id)
        if not can_view_case(user, instance, self.rules.lane_map(session)):
            raise NotPermitted(f"case {instance_id} is not visible to this user", code="case.not_visible")
        return instance

    # ------------------------------------------------------------------------------------- reassign
    def candidates(self, session: Session, row: TaskRow) -> list[User]:
        """Who a lead may give the task to: the active people of its lane (and team), its holder left out."""
        return [u for u in self.people.eligible_users(session, row.lane, row.group) if u.actor != row.claimed_by]

    def reassign(self, session: Session, user: User, task_id: str, to_username, reason=None) -> TaskRow:
        """A lead gives a waiting task to ``to_username`` (see the module doc); the new holder is told, and so is
        the one who held it."""
        row = session.get(TaskRow, task_id) if isinstance(task_id, str) else None
        if row is None:
            raise NotFound(f"no task {task_id!r}", code="task.not_found", task_id=task_id)
        instance = session.get(Instance, row.instance_id)
        if not self.is_lead(session, user, instance):
            raise NotPermitted("only a lead reassigns", code="task.reassign_not_lead")
        lock_case(session, case_id=instance.id)
        check_not_cancelled(session, instance)
        if row.state != "ready":
            raise TaskNotReady(f"task is {row.state}", code="task.reassign_not_ready", task=row.name)
        reason = _text(reason, "label.reason", MAX_REASON, required=False)
        if not isinstance(to_username, str) or not to_username.strip():
            raise BadRequest("no one chosen", code="task.choose_reassignee")
        target = by_username(session, to_username.strip())
        if target is None:
            raise BadRequest("unknown user", code="task.reassign_unknown_user", user=to_username.strip()[:100])
        if not target.active:
            raise BadRequest("inactive user", code="task.reassign_inactive", name=target.display_name)
        if row.lane not in self.rules.lane_map(session).lanes_of(target):
            raise BadRequest("not of the task's lane", code="task.reassign_outside_lane", name=target.display_name,
                             lane=row.lane or "")
        if row.group is not None and (target.team is None or target.team.code != row.group):
            raise BadRequest("not of the case's team", code="task.reassign_other_team", name=target.display_name)
        if row.claimed_by == target.actor:
            raise BadRequest("already the holder", code="task.reassign_same_holder", name=target.display_name)
        previous = row.claimed_by
        row = self.engine.reassign(session, row.id, user.actor, target.actor, reason)
        notify.reassigned(session, self.people, row, target, previous, by=user, reason=reason)
        return row

    # --------------------------------------------------------------------------------------- cancel
    def cancel(self, session: Session, user: User, instance_id: int, reason) -> ActionResult:
        """Cancel a running case with a written reason (see the module doc); who held its waiting tasks is told."""
        instance = self._instance(session, user, instance_id)
        lead = self.is_lead(session, user, instance)
        if not lead and not (user.active and instance.created_by == user.actor):
            raise NotPermitted("only a lead cancels", code="case.cancel_not_permitted")
        check_not_cancelled(session, instance)
        if instance.status != "running":
            raise TaskNotReady(f"case {instance.id} is {instance.status}", code="case.not_running")
        if not lead and not self._nothing_handed_in(session, instance):
            raise NotPermitted("work was handed in", code="case.cancel_handed_in")
        reason = _text(reason, "label.cancel_reason", MAX_REASON, required=True)
        result = self.engine.cancel(session, instance.id, actor=user.actor, reason=reason)
        holders = sorted({r.claimed_by for r in result.completed if r.claimed_by})
        notify.case_cancelled(session, self.people, instance, holders, by=user, reason=reason)
        notify.tasks_done(session, [r.id for r in result.completed], self.clock.now())
        # Its "deadline soon" reminders go too (the sweep would drop them unsent anyway: their tasks are not ready).
        session.execute(delete(DeadlineReminder).where(DeadlineReminder.instance_id == instance.id))
        return result

    def unread(self, session: Session, user: User, instance_id: int) -> bool:
        """Whether ``user`` has unread notifications about the case itself (read by :meth:`seen`)."""
        return notify.case_unread(session, user, instance_id)

    def seen(self, session: Session, user: User, instance_id: int) -> None:
        """``user`` opened the case's page: what they were told about the case itself is read."""
        notify.case_seen(session, user, instance_id, self.clock.now())

    # -------------------------------------------------------------------------------------- comments
    def comments(self, session: Session, user: User, instance_id: int) -> list[Comment]:
        """The case's comments, oldest first."""
        instance = self._instance(session, user, instance_id)
        return comments_of(session, instance.id)

    def comments_page(self, session: Session, user: User, instance_id: int, *, cursor: str | None = None,
                      per_page: int = paging.DEFAULT_PER_PAGE) -> paging.Page[Comment]:
        """The case's comments, oldest first, one keyset page (process/paging.py) after ``cursor``."""
        instance = self._instance(session, user, instance_id)
        where = [EventRow.instance_id == instance.id, EventRow.type == "case_commented"]
        after = paging.decode(cursor, "comments", ("I",))
        since = [] if after is None else [EventRow.seq > after[0]]
        rows = list(session.execute(select(EventRow).where(*where, *since).order_by(EventRow.seq)
                                    .limit(per_page + 1)).scalars())
        total = session.execute(select(func.count()).select_from(EventRow).where(*where)).scalar_one()
        items = [Comment(row.seq, row.at, row.actor, str(eventlog.decode(row).get("text") or ""))
                 for row in rows[:per_page]]
        more = paging.encode("comments", (rows[per_page - 1].seq,)) if len(rows) > per_page else None
        return paging.Page(items, total, more, per_page)

    def comment(self, session: Session, user: User, instance_id: int, text) -> Comment:
        """Add a comment to a case; the holders of its waiting tasks and who took part in it before are told,
        once each."""
        instance = self._instance(session, user, instance_id)
        if not user.active or READ_ONLY_ROLE in user.roles:
            raise NotPermitted("auditors only read", code="case.comment_read_only")
        lock_case(session, case_id=instance.id)  # a cancellation committing meanwhile is seen (PostgreSQL)
        check_not_cancelled(session, instance)
        text = _text(text, "label.comment", MAX_COMMENT, required=True)
        now = self.clock.now()
        appended = eventlog.append(session, type="case_commented", at=now, actor=user.actor, instance_id=instance.id,
                                   data={"text": text})
        notify.commented(session, self.people, instance, self._participants(session, instance), by=user,
                         text=text)
        return Comment(None, appended.at, user.actor, text)

    @staticmethod
    def _participants(session: Session, instance: Instance) -> list[str]:
        """Who holds a waiting task of the case, opened it, handed in one of its steps or commented on it."""
        people = {instance.created_by}
        for holder, done_by, state in session.execute(select(TaskRow.claimed_by, TaskRow.completed_by, TaskRow.state)
                                                      .where(TaskRow.instance_id == instance.id)):
            people.add(done_by)
            if state == "ready":
                people.add(holder)
        people |= set(session.execute(select(EventRow.actor).where(EventRow.instance_id == instance.id,
                                                                   EventRow.type == "case_commented")).scalars())
        return sorted(p for p in people if p and p != "system")


def comments_of(session: Session, instance_id: int) -> list[Comment]:
    rows = session.execute(select(EventRow).where(EventRow.instance_id == instance_id,
                                                  EventRow.type == "case_commented").order_by(EventRow.seq)).scalars()
    return [Comment(row.seq, row.at, row.actor, str(eventlog.decode(row).get("text") or "")) for row in rows]

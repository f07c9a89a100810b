"""Working on a task: open, claim, let go, delegate, complete; with the completeness rules, returns, register and
reference dates its diagram declares (process/declarations.py).

Who may do each of these is decided in process/permissions.py; the form a task asks for is the diagram's
(process/forms.py validates it); what a completed task sets off (the next tasks, notifications, reminders) is the
engine's and process/notify.py's.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import eventlog
from engine.errors import NotFound
from engine.forms import FormField
from engine.models import Instance, TaskRow
from engine.runtime import ActionResult, WorkflowEngine

from . import files, notify, search
from .caseops import check_not_cancelled
from .config import Settings
from .deadlines import stamp_fields
from .declarations import Declarations, Rulebook, Step
from .errors import BadRequest
from .files import resolver
from .forms import FieldError, FormInvalid, validate_form
from .models import User
from .people import People, by_username
from .permissions import check_may_act, check_may_complete, check_may_hold, may_act
from .register import ensure_entry


class Tasks:
    def __init__(self, engine: WorkflowEngine, settings: Settings, people: People, rules: Rulebook):
        self.engine, self.settings, self.people, self.rules = engine, settings, people, rules
        self.clock = engine.clock

    def task(self, session: Session, task_id: str) -> TaskRow:
        row = session.get(TaskRow, str(task_id)) if isinstance(task_id, str) else None
        if row is None:
            raise NotFound(f"no task {task_id!r}", code="task.not_found", task_id=task_id)
        return row

    def lanes_of(self, session: Session, user: User) -> frozenset[str]:
        """The lanes ``user``'s groups work (process/declarations.py LaneMap)."""
        return self.rules.lane_map(session).lanes_of(user)

    def open_task(self, session: Session, user: User, task_id: str) -> TaskRow:
        """Open a task to work on it: claimed implicitly when the user is the only one who could."""
        row = self.task(session, task_id)
        check_may_act(user, row, self.lanes_of(session, user))
        if row.state == "ready" and row.claimed_by is None:
            if len(self.people.eligible_users(session, row.lane, row.group)) == 1:
                self.engine.claim(session, row.id, user.actor)
        return row

    def _open_case(self, session: Session, row: TaskRow) -> None:
        """A task of a cancelled case is refused with the reason (process/caseops.py)."""
        check_not_cancelled(session, session.get(Instance, row.instance_id))

    def claim(self, session: Session, user: User, task_id: str) -> TaskRow:
        row = self.task(session, task_id)
        check_may_act(user, row, self.lanes_of(session, user))
        self._open_case(session, row)
        return self.engine.claim(session, row.id, user.actor)

    def unclaim(self, session: Session, user: User, task_id: str) -> TaskRow:
        row = self.task(session, task_id)
        check_may_act(user, row, self.lanes_of(session, user))
        self._open_case(session, row)
        return self.engine.unclaim(session, row.id, user.actor)

    def delegate(self, session: Session, user: User, task_id: str, to_username: str) -> TaskRow:
        row = self.task(session, task_id)
        check_may_act(user, row, self.lanes_of(session, user))
        self._open_case(session, row)
        check_may_hold(user, row)
        target = by_username(session, to_username)
        if target is None or not may_act(target, row, self.lanes_of(session, target)):
            raise BadRequest("delegate outside the lane", code="task.delegate_outside_lane")
        if target.id == user.id:
            raise BadRequest("delegate to oneself", code="task.delegate_self")
        row = self.engine.delegate(session, row.id, user.actor, target.actor)
        notify.delegated(session, self.people, row, target, by=user)
        return row

    def form_of(self, session: Session, row: TaskRow) -> list[FormField]:
        """The form the task's version of the diagram asks for."""
        instance = session.get(Instance, row.instance_id)
        parsed = self.engine.parsed_for(session, instance.definition_id)
        info = next((u for u in parsed.user_tasks if u.bpmn_id == row.bpmn_id), None)
        return list(info.form) if info else []

    def complete(self, session: Session, user: User, task_id: str, raw: Mapping[str, Any], *,
                 expected_version: int | None = None, claim: bool = False) -> ActionResult:
        """Validate and submit a task's form, after checking lane, team, claim and self-approval. With ``claim``,
        a task nobody holds is taken first, in the same transaction (one request instead of two; a task someone
        else holds is still refused)."""
        # The task and its case in one statement; the case is held for the whole action (the session's identity
        # map is weak, and the engine needs it again).
        try:
            row, instance = self.engine.task_and_case(session, task_id)
        except NotFound:
            raise NotFound(f"no task {task_id!r}", code="task.not_found", task_id=task_id) from None
        rules = self.rules.of_definition(session, instance.definition_id)
        step = rules.step(row.bpmn_id)
        lanes = self.lanes_of(session, user)
        check_may_act(user, row, lanes)
        check_not_cancelled(session, instance)
        if claim and row.claimed_by is None and row.state == "ready":
            check_may_act(user, row, lanes)
            self.engine.claim(session, row.id, user.actor)
        check_may_complete(session, user, row, lanes, step)
        now = self.clock.now()
        fields = self.form_of(session, row)
        cleaned = validate_form(fields, raw, files=resolver(session, row.instance_id, user.actor),
                                platforms=self.settings.platforms, now=now)
        returned, entry = None, None
        if step is not None:
            completeness_rules(step, cleaned, fields)
            if step.registers:
                entry = ensure_entry(session, row.instance_id, step.register_format or self.settings.register_format,
                                     now, rules.process_key)
                if step.register_field:
                    cleaned[step.register_field] = entry.number
            cleaned.update(stamp_fields(now, step.stamp_date, step.stamp_time))  # what later deadlines count from
            returned = step.return_for(cleaned)
        files.attach(session, row.instance_id, user.actor,
                     [ref["id"] for f in fields if f.type == "files" for ref in cleaned.get(f.id) or []])
        result = self.engine.complete(session, row.id, cleaned, actor=user.actor,
                                      expected_version=expected_version)
        search.update_case(session, instance, rules, cleaned, now, entry.number if entry is not None else None)
        if returned is not None:
            self._record_return(session, user, row, cleaned, returned, result)
            self._hand_back(session, result)
        notify.after_action(session, self.people, result, actor=user, rules=rules, submitted=cleaned, task=row,
                            returned=returned)
        return result

    def unread_about(self, session: Session, user: User, task_id: str) -> bool:
        """Whether ``user`` has an unread notification about the task."""
        return notify.task_unread(session, user, task_id)

    def seen(self, session: Session, user: User, task_id: str) -> None:
        """``user`` opened the task: their notifications about it are read."""
        notify.task_seen(session, user, task_id, self.clock.now())

    def rules_of(self, session: Session, row: TaskRow) -> Declarations:
        """The declarations of the task's version of its procedure."""
        return self.rules.of_instance(session, row.instance_id)

    def _hand_back(self, session: Session, result: ActionResult) -> None:
        """A step the case was sent back to goes to whoever last handed it in, while they are active and still
        work its lane (and team); otherwise it waits in the lane for anyone. The lane still sees it."""
        for new in result.ready:
            holder = last_completer(session, new.instance_id, new.bpmn_id)
            target = by_username(session, holder) if holder else None
            if target is not None and new.claimed_by is None and may_act(target, new,
                                                                         self.lanes_of(session, target)):
                self.engine.claim(session, new.id, target.actor, reason="returned")

    def _record_return(self, session: Session, user: User, row: TaskRow, cleaned: dict, rule, result: ActionResult
                       ) -> None:
        """A decision that sends the case back is an event of its own, with the written response."""
        eventlog.append(session, type="task_returned", at=self.clock.now(), actor=user.actor,
                        instance_id=row.instance_id, task_id=row.id,
                        data={"bpmn_id": row.bpmn_id, "name": row.name, "decision": rule.value,
                              "response": cleaned.get(rule.response or "") or "",
                              "to": [r.bpmn_id for r in result.ready]})


def last_completer(session: Session, instance_id: int, bpmn_id: str) -> str | None:
    """Who last completed the step ``bpmn_id`` in the case, if anyone did."""
    return session.execute(select(TaskRow.completed_by).where(
        TaskRow.instance_id == instance_id, TaskRow.bpmn_id == bpmn_id, TaskRow.state == "completed",
        TaskRow.completed_by.is_not(None)).order_by(TaskRow.completed_at.desc(), TaskRow.created_at.desc())
        .limit(1)).scalar()


def completeness_rules(step: Step, data: dict, fields: list[FormField]) -> None:
    """The step's declared completeness rules beyond the form's own constraints (``alur:require``): when a field has
    a value, other fields must be filled or ticked."""
    labels = {f.id: f.label for f in fields}
    errors = []
    for rule in step.requires:
        if data.get(rule.when) is None or str(data.get(rule.when)) != rule.equals:
            continue
        missing = [k for k in rule.fields if data.get(k) in (None, "", False, [], {})]
        if not missing:
            continue
        if rule.message:
            errors.append(FieldError.of("checklist", missing[0], None, "field.declared_rule", message=rule.message))
        else:
            option = next((label for f in fields if f.id == rule.when for o, label in f.options if o == rule.equals),
                          rule.equals)
            errors.append(FieldError.of("checklist", missing[0], None, "field.required_when",
                                        fields=", ".join(labels.get(k, k) for k in missing),
                                        field=labels.get(rule.when, rule.when), option=option))
    if errors:
        raise FormInvalid(errors)

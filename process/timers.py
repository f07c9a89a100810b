"""The background work of deadlines: firing due deadline timers (with their notifications), sending "deadline soon"
reminders, and when the worker next has something to do. The worker (ops/worker.py) calls these, each in a
transaction of its own.

A deadline itself is the diagram's: a timer boundary event whose expression (e.g.
``akhir_hari(tanggal_pengumpulan, 1)``) the engine evaluates with the functions of process/deadlines.py, from the
reference dates a case carries (written by the steps that declare ``alur:stamp``).
"""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from engine.db import lost_connection
from engine.errors import ExecutionFailed, InvalidData
from engine.runtime import ActionResult, WorkflowEngine

from . import notify, outbox
from .config import Settings
from .declarations import Rulebook
from .people import People

log = logging.getLogger(__name__)


class Timers:
    def __init__(self, engine: WorkflowEngine, settings: Settings, people: People, rules: Rulebook):
        self.engine, self.settings, self.people, self.rules = engine, settings, people, rules
        self.clock = engine.clock

    def fire_due_timers(self, session: Session, now: datetime | None = None, limit: int = 200) -> list[ActionResult]:
        """Fire the due deadline timers of up to ``limit`` cases in this transaction, with their notifications. A
        case that fails is rolled back alone (:meth:`fire_timers`), logged and left due."""
        now = now or self.clock.now()
        results = []
        for instance_id in self.due_case_ids(session, now, limit):
            try:
                result = self.fire_timers(session, instance_id, now)
            except Exception as exc:
                if lost_connection(exc):
                    raise
                log.warning("case %s: timers not fired, left for later", instance_id, exc_info=True)
                continue
            if result is not None:
                results.append(result)
        return results

    def due_case_ids(self, session: Session, now: datetime | None = None, limit: int = 200) -> list[int]:
        """Cases with a deadline timer due (earliest first, nothing locked), for :meth:`fire_timers`."""
        return self.engine.due_instance_ids(session, now or self.clock.now(), limit)

    def fire_timers(self, session: Session, instance_id: int, now: datetime | None = None) -> ActionResult | None:
        """Fire one case's due deadline timers, with their notifications; None when it is no longer due or someone
        else is acting on it (engine.runtime.WorkflowEngine.fire_timers). In a savepoint: when it raises, only this
        case is rolled back, and the caller's transaction can go on with other cases."""
        try:
            with session.begin_nested():
                result = self.engine.fire_timers(session, instance_id, now)
                if result is not None:
                    notify.after_action(session, self.people, result, actor=None,
                                        rules=self.rules.of_definition(session, result.instance.definition_id))
        except (ExecutionFailed, InvalidData) as exc:
            self.engine.mark_failed(session, instance_id, exc, now)
            return None
        return result

    def send_due_reminders(self, session: Session, now: datetime | None = None, limit: int = 200) -> int:
        """Send the "deadline in N hours" reminders that are due; how many went out."""
        return notify.send_due_reminders(session, self.people, now or self.clock.now(), limit)

    def next_wakeup(self, session: Session) -> datetime | None:
        """When the worker next has something to do: the earliest timer, reminder or e-mail (retry)."""
        times = [self.engine.next_timer_at(session), notify.next_reminder_at(session)]
        if self.settings.mail is not None:
            times.append(outbox.next_attempt_at(session))
        times = [t for t in times if t is not None]
        return min(times) if times else None

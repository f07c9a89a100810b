"""The background worker (`alur worker`): deadline timers, "deadline soon" reminders and the e-mail outbox.

Each unit of work is its own transaction: a batch of due timers, a batch of reminders, one e-mail. Timers come
first in every cycle, and e-mail sending stops after a time budget, so a slow mail server never delays a
deadline. Between cycles the worker sleeps until the next thing is due, at most ``interval`` seconds (work
written by the web processes meanwhile is picked up within that).

Any number of workers may run against PostgreSQL: due rows are taken with ``FOR UPDATE SKIP LOCKED``. On
SQLite the database's write lock serialises them, which is correct but gains nothing: run one.
"""
from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass, field

from engine.db import transaction
from process import outbox
from process.files import remove_stored
from process.mail import MailError, SmtpTransport

from .wiring import System

log = logging.getLogger(__name__)

#: Cases whose timers are fired per transaction.
TIMER_BATCH = 200
#: Seconds of e-mail sending per cycle before timers get their turn again.
MAIL_BUDGET = 0.5
#: Seconds between clean-ups of uploads no case uses (also done when the worker starts).
HOUSEKEEPING_EVERY = 3600.0


@dataclass
class CycleReport:
    fired: int = 0
    reminders: int = 0
    sent: int = 0
    failed: int = 0
    purged: int = 0
    errors: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.fired or self.reminders or self.sent or self.failed or self.purged)


class Worker:
    def __init__(self, system: System, *, interval: float = 0.5, transport: SmtpTransport | None = None):
        self.system = system
        self.interval = interval
        mail = system.settings.mail
        self.transport = transport or (SmtpTransport(mail) if mail is not None else None)
        self.stopping = threading.Event()
        self._housekeeping_at = 0.0

    # ------------------------------------------------------------------ one cycle
    def cycle(self) -> CycleReport:
        report = CycleReport()
        alur = self.system.alur
        while not self.stopping.is_set():
            with transaction(self.system.sessions) as session:
                fired = len(alur.fire_due_timers(session, limit=TIMER_BATCH))
            report.fired += fired
            if fired < TIMER_BATCH:
                break
        while not self.stopping.is_set():
            with transaction(self.system.sessions) as session:
                sent = alur.send_due_reminders(session, limit=TIMER_BATCH)
            report.reminders += sent
            if sent < TIMER_BATCH:
                break
        if self.transport is not None and self._mail_due():
            self._send_mail(report, time.monotonic() + MAIL_BUDGET)
        if time.monotonic() >= self._housekeeping_at:
            report.purged = self.housekeeping()
            self._housekeeping_at = time.monotonic() + HOUSEKEEPING_EVERY
        return report

    def housekeeping(self) -> int:
        """Remove uploads no case uses after the retention period, and files without a record; how many."""
        files_dir = self.system.settings.files_dir
        alur = self.system.alur
        removed = 0
        while not self.stopping.is_set():
            with transaction(self.system.sessions) as session:
                names = alur.purge_unattached_uploads(session)
            remove_stored(files_dir, names)  # after the commit: a rollback never loses a file still recorded
            removed += len(names)
            if not names:
                break
        with self.system.sessions() as session:
            stray = alur.stray_files(session)
        remove_stored(files_dir, stray)
        return removed + len(stray)

    def _mail_due(self) -> bool:
        with self.system.sessions() as session:
            due = outbox.next_attempt_at(session)
        return due is not None and due <= self.system.alur.clock.now()

    def _send_mail(self, report: CycleReport, until: float) -> None:
        while time.monotonic() < until and not self.stopping.is_set():
            try:
                self.transport.connect()  # outside any transaction: only the message itself is sent inside one
            except MailError as exc:
                report.errors.append(str(exc))
                log.warning("e-mail not sent: %s", exc)
                return
            outcome = self._send_one()
            if outcome is None:
                return
            if outcome:
                report.sent += 1
            else:
                report.failed += 1

    def _send_one(self) -> bool | None:
        """Send the next due e-mail. None: nothing due; True: sent; False: failed (noted on the row).

        The order of the steps is what makes each e-mail go once: see :mod:`process.mail`."""
        now = self.system.alur.clock.now()
        mail = self.system.settings.mail
        try:
            with transaction(self.system.sessions) as session:
                row = outbox.lock_next(session, now)
                if row is None:
                    return None
                outbox_id = row.id
                try:
                    self.transport.begin(outbox.message_of(row, mail))
                except MailError as exc:
                    outbox.record_failure(session, outbox_id, now, exc)
                    log.warning("e-mail %s to %s not sent: %s", outbox_id, row.to_addr, exc)
                    return False
                outbox.mark_sent(row, now)
                session.flush()  # the UPDATE is at the database; only COMMIT remains
                self.transport.end_data()
                # Leaving the block commits: the very next thing written after the end-of-data mark.
        except BaseException:
            self.transport.abort()
            raise
        try:
            self.transport.verdict()
        except MailError as exc:
            with transaction(self.system.sessions) as session:
                outbox.record_failure(session, outbox_id, now, exc, counted=True)
            log.warning("e-mail %s refused by the server: %s", outbox_id, exc)
            return False
        return True

    # ------------------------------------------------------------------ the loop
    def seconds_to_next(self) -> float:
        with self.system.sessions() as session:
            wake = self.system.alur.next_wakeup(session)
        if wake is None:
            return self.interval
        delta = (wake - self.system.alur.clock.now()).total_seconds()
        return max(0.0, min(self.interval, delta))

    def run(self, on_report=None) -> None:
        """Cycle until stopped (SIGTERM/SIGINT finish the cycle in progress, then return)."""
        while not self.stopping.is_set():
            try:
                report = self.cycle()
            except Exception:  # a database restart or a bug in one cycle must not end the worker
                log.exception("worker cycle failed; trying again")
                self.stopping.wait(min(5.0, max(self.interval, 1.0)))
                continue
            if report and on_report is not None:
                on_report(report)
            try:
                pause = self.seconds_to_next()
            except Exception:
                log.exception("cannot read the next due time")
                pause = self.interval
            if pause > 0:
                self.stopping.wait(pause)
        self.close()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def stop_on_signals(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())

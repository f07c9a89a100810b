"""The background worker (`alur worker`): deadline timers, "deadline soon" reminders and the e-mail outbox.

Each unit of work is its own transaction: one case's due timers, a batch of reminders, one e-mail. A case that
fails, or that someone is acting on, costs only itself: its transaction rolls back (or it is skipped) and the
other due cases go on; it is taken again in the next cycle. Timers come first in every cycle, and e-mail sending
stops after a time budget, so a slow mail server never delays a deadline. Between cycles the worker sleeps until
the next thing is due, at most ``interval`` seconds (work written by the web processes meanwhile is picked up
within that).

The worker is one process and starts none, so it leaves nothing behind when it is killed (``alur serve``'s gunicorn
workers die with their master: ops/serve.py).

**Export jobs** (records of large periods asked for as files: process/exportjobs.py) run in a second thread of the
worker, with sessions of its own, one job at a time; the main loop goes on firing timers meanwhile. A thread rather
than checking the timers between chunks of an export: the whole-document builders (``documents.to_pdf`` of a year:
over a minute) cannot be cut into chunks, and even a streaming writer would have to hand control back every few rows.
Rendering is Python and holds the GIL, but the interpreter switches threads every few milliseconds (and the database
calls release it), so a due timer waits milliseconds for its turn, not for the export. The main loop renews the lease
of the job its thread is running (every ``exportjobs.RENEW_EVERY`` seconds), so a job stays this worker's while the
process lives however long a phase takes without reporting; a worker killed with a job leaves it ``running`` with a
lease that runs out, and the next worker takes it again. The export thread sleeps until a job is queued or a lease
runs out (``exportjobs.next_due``), at most ``interval`` seconds, and the main loop wakes it when it sees a queued
job. On SIGTERM the thread is given a few seconds to finish; a job still running then is left to its lease.

Any number of workers may run against PostgreSQL: due rows are taken with ``SKIP LOCKED`` (a case another worker
or a request holds is left to it). On SQLite the database's write lock serialises them, which is correct but gains
nothing: run one.

What the worker only looks up (the due cases, the next due time, files no record names) it reads in reading
transactions (``System.readers``): on SQLite they take no writer turn, so the web's writers never wait for them.
An e-mail is sent inside its transaction on PostgreSQL (exactly once); on SQLite no transaction is open while the
SMTP server is talked to, as every page would wait for a slow server (at least once; see :mod:`process.mail`).
"""
from __future__ import annotations

import logging
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from engine import wakeup
from engine.db import lost_connection, transaction
from process import exportjobs, outbox, resumable
from process.files import remove_stored
from process.mail import MailError, SmtpTransport
from process.system import System

log = logging.getLogger(__name__)

#: Due cases looked up at a time (each is then fired in a transaction of its own).
TIMER_BATCH = 200
#: Seconds of timer firing per transaction: effects are visible and cases free again this soon, and a commit's
#: cost is shared by the cases fired in it.
TIMER_CHUNK = 0.1
#: Seconds before a cycle comes back to due cases someone else was acting on.
RETRY_HELD = 0.05
#: Seconds before a case whose timers failed to fire is tried again (doubling with each failure, at most 5 min).
RETRY_FAILED = 1.0
#: Seconds of e-mail sending per cycle before timers get their turn again.
MAIL_BUDGET = 0.5
#: Seconds between tries to record how a leased e-mail went (SQLite) while the database is busy.
RECORD_RETRY = 0.5
#: Seconds between clean-ups of uploads no case uses and of expired export files (also done when the worker starts).
HOUSEKEEPING_EVERY = 3600.0
#: Seconds a stopping worker waits for the export in progress before leaving it to its lease.
EXPORT_STOP_WAIT = 5.0
#: The default longest sleep (``alur worker --interval``): a safety net only, for due times written behind the
#: application's back; everything the application writes wakes the worker (engine.wakeup).
LONGEST_SLEEP = 60.0
#: Seconds added to a sleep until a due time, so that the time has passed (not almost) when the worker looks.
DUE_MARGIN = 0.005


@dataclass
class CycleReport:
    fired: int = 0
    reminders: int = 0
    sent: int = 0
    failed: int = 0
    purged: int = 0
    #: Due cases someone else was acting on (left for them, or for the next cycle).
    held: int = 0
    #: Due cases not tried in this cycle, waiting after a failure.
    waiting: int = 0
    errors: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.fired or self.reminders or self.sent or self.failed or self.purged)


class _Stopping(threading.Event):
    """The worker's stop flag; setting it also ends the sleep in progress."""

    def __init__(self, on_set):
        super().__init__()
        self._on_set = on_set

    def set(self) -> None:
        super().set()
        self._on_set()


class Worker:
    def __init__(self, system: System, *, interval: float = LONGEST_SLEEP, transport: SmtpTransport | None = None):
        self.system = system
        #: The longest sleep: the worker wakes at the next due time it knows of, when a commit tells it something is
        #: due sooner (engine.wakeup), and at the latest after this many seconds.
        self.interval = interval
        mail = system.settings.mail
        self.transport = transport or (SmtpTransport(mail) if mail is not None else None)
        self._listener: wakeup.Listener | None = None
        self.stopping = _Stopping(self._interrupt)
        self._housekeeping_at = 0.0
        #: Cases whose timers failed to fire: how often, and when to try again (time.monotonic()).
        self._failures: dict[int, int] = {}
        self._retry_at: dict[int, float] = {}
        #: PostgreSQL: each e-mail is sent once, inside its row's transaction; SQLite: claimed with a lease and
        #: sent outside any transaction (process.mail).
        self.exactly_once = system.db.dialect.name == "postgresql"
        #: The export job the export thread is running (its lease is renewed by the main loop), and when it was.
        self._export: exportjobs.Claim | None = None
        self._export_renewed = 0.0
        self._export_wake = threading.Event()
        self._export_thread: threading.Thread | None = None

    # ------------------------------------------------------------------ one cycle
    def cycle(self) -> CycleReport:
        report = CycleReport()
        system = self.system
        self._fire_timers(report)
        while not self.stopping.is_set():
            with transaction(self.system.sessions) as session:
                sent = system.timers.send_due_reminders(session, limit=TIMER_BATCH)
            report.reminders += sent
            if sent < TIMER_BATCH:
                break
        if self.transport is not None and self._mail_due():
            self._send_mail(report, time.monotonic() + MAIL_BUDGET)
        self._renew_export()
        if time.monotonic() >= self._housekeeping_at:
            report.purged = self.housekeeping()
            self._housekeeping_at = time.monotonic() + HOUSEKEEPING_EVERY
        return report

    def _fire_timers(self, report: CycleReport) -> None:
        """Fire the due cases' timers, in transactions of at most ``TIMER_CHUNK`` seconds of work; each case in a
        savepoint, so a case that fails is rolled back alone (and tried again after a pause of its own)."""
        system = self.system
        while not self.stopping.is_set():
            with self.system.readers() as session:
                listed = system.timers.due_case_ids(session, limit=TIMER_BATCH)
            now = time.monotonic()
            due = deque(i for i in listed if self._retry_at.get(i, 0.0) <= now)
            report.waiting += len(listed) - len(due)
            fired = report.fired
            while due and not self.stopping.is_set():
                with transaction(self.system.sessions) as session:
                    until = time.monotonic() + TIMER_CHUNK
                    while due and time.monotonic() < until and not self.stopping.is_set():
                        self._fire_case(session, due.popleft(), report)
            if len(listed) < TIMER_BATCH or report.fired == fired:
                return

    def _fire_case(self, session, instance_id: int, report: CycleReport) -> None:
        try:
            result = self.system.timers.fire_timers(session, instance_id)
        except Exception as exc:  # this case only (its savepoint is rolled back): again after a pause
            if lost_connection(exc):
                raise  # the database is gone, not this case: the cycle fails and is tried again
            failures = self._failures.get(instance_id, 0) + 1
            self._failures[instance_id] = failures
            self._retry_at[instance_id] = time.monotonic() + min(RETRY_FAILED * 2 ** (failures - 1), 300.0)
            log.warning("case %s: timers not fired (attempt %d), trying again later", instance_id, failures,
                        exc_info=True)
            report.errors.append(f"case {instance_id}: {exc}")
            return
        if result is None:
            report.held += 1
        else:
            report.fired += 1
            self._failures.pop(instance_id, None)
            self._retry_at.pop(instance_id, None)

    def housekeeping(self) -> int:
        """Remove uploads no case uses after the retention period, and files without a record; how many."""
        files_dir = self.system.settings.files_dir
        system = self.system
        removed = 0
        while not self.stopping.is_set():
            with transaction(self.system.sessions) as session:
                names = system.housekeeping.purge_unattached_uploads(session)
            remove_stored(files_dir, names)  # after the commit: a rollback never loses a file still recorded
            removed += len(names)
            if not names:
                break
        with self.system.readers() as session:
            stray = system.housekeeping.stray_files(session)
        remove_stored(files_dir, stray)
        return removed + len(stray) + self.purge_partial_uploads() + self.purge_exports()

    def purge_partial_uploads(self) -> int:
        """Forget resumable uploads left unfinished past their expiry, and partial files no upload names; how
        many."""
        system, removed = self.system, 0
        while not self.stopping.is_set():
            with transaction(system.sessions) as session:
                forgotten, paths = system.housekeeping.purge_expired_uploads(session)
            resumable.remove_partials(paths)  # after the commit, as for uploads
            removed += forgotten
            if not forgotten:
                break
        with system.readers() as session:
            stray = system.housekeeping.stray_partials(session)
        resumable.remove_partials(stray)
        return removed + len(stray)

    # ------------------------------------------------------------------ export jobs
    def purge_exports(self) -> int:
        """Remove the files of export jobs past their keeping time, and files of the exports folder no job names
        (older than the keeping time); how many."""
        settings, removed = self.system.settings, 0
        while not self.stopping.is_set():
            with transaction(self.system.sessions) as session:
                names = exportjobs.purge_expired(session, self.system.clock.now())
            exportjobs.remove_files(settings.exports_dir, names)  # after the commit, as for uploads
            removed += len(names)
            if not names:
                break
        with self.system.readers() as session:
            stray = exportjobs.stray_exports(session, settings.exports_dir, self.system.clock.now(),
                                             settings.export_keep)
        exportjobs.remove_files(settings.exports_dir, stray)
        return removed + len(stray)

    def run_exports(self, limit: int | None = None) -> int:
        """Run the export jobs there are now, one after another, in this thread (``alur worker --once``, tests);
        how many were taken."""
        taken = 0
        while not self.stopping.is_set() and (limit is None or taken < limit):
            if not self._run_one_export():
                break
            taken += 1
        return taken

    def _run_one_export(self) -> bool:
        with transaction(self.system.sessions) as session:
            mine = exportjobs.claim(session, self.system.clock.now())
        if mine is None:
            return False
        self._export, self._export_renewed = mine, time.monotonic()
        try:
            exportjobs.run(self.system, mine)
        finally:
            self._export = None
        return True

    def _renew_export(self) -> None:
        """Keep the lease of the job the export thread is running (main loop, every RENEW_EVERY seconds)."""
        mine = self._export
        if mine is None or time.monotonic() - self._export_renewed < exportjobs.RENEW_EVERY:
            return
        self._export_renewed = time.monotonic()
        with transaction(self.system.sessions) as session:
            exportjobs.renew(session, mine, self.system.clock.now())

    def seconds_to_export(self) -> float:
        """Seconds until the export thread has a job to take (0: one is queued), at most ``interval``."""
        now = self.system.clock.now()
        with self.system.readers() as session:
            due = exportjobs.next_due(session, now)
        if due is None:
            return self.interval
        return max(0.0, min(self.interval, (due - now).total_seconds()))

    def _export_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                if self._run_one_export():
                    continue
                pause = self.seconds_to_export()
            except Exception:  # a database restart must not end the thread; the job's lease brings it back
                log.exception("export job run failed; trying again")
                pause = min(5.0, max(self.interval, 1.0))
            self._export_wake.wait(pause if pause > 0 else self.interval)
            self._export_wake.clear()

    def start_exports(self) -> None:
        self._export_thread = threading.Thread(target=self._export_loop, name="alur-exports", daemon=True)
        self._export_thread.start()

    def _mail_due(self) -> bool:
        with self.system.readers() as session:
            due = outbox.next_attempt_at(session)
        return due is not None and due <= self.system.clock.now()

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
        """Send the next due e-mail. None: nothing due; True: sent; False: failed (noted on the row)."""
        return self._send_exactly_once() if self.exactly_once else self._send_leased()

    def _send_exactly_once(self) -> bool | None:
        """PostgreSQL: the order of the steps is what makes each e-mail go once: see :mod:`process.mail`."""
        now = self.system.clock.now()
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
                # The end-of-data mark goes out inside the commit, after the session's commit hooks, right
                # before the driver writes COMMIT: a death between the two is what sends a message twice.
                event.listen(session.connection(), "commit", lambda _conn: self.transport.end_data(), once=True)
                # Leaving the block commits.
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

    def _send_leased(self) -> bool | None:
        """SQLite: claim the row with a lease in a short transaction, talk to the SMTP server outside any
        transaction, then record how it went in another short one (see :mod:`process.mail`)."""
        now = self.system.clock.now()
        mail = self.system.settings.mail
        lease = outbox.lease_for(mail)
        with transaction(self.system.sessions) as session:
            row = outbox.lock_next(session, now)
            if row is None:
                return None
            outbox_id, to_addr = row.id, row.to_addr
            if row.attempts >= outbox.MAX_ATTEMPTS:  # its last attempt was begun and never told how it went
                outbox.record_failure(session, outbox_id, now, MailError(
                    f"given up: the worker stopped while sending it (attempt {row.attempts}; it may have arrived)"),
                    counted=True)
                log.warning("e-mail %s to %s given up after %d unfinished attempts", outbox_id, to_addr, row.attempts)
                return False
            try:
                msg = outbox.message_of(row, mail)
            except MailError as exc:
                outbox.record_failure(session, outbox_id, now, exc)
                log.warning("e-mail %s to %s not sent: %s", outbox_id, to_addr, exc)
                return False
            outbox.lease(row, now + lease)
        # The claim is committed: from here until the result is recorded no transaction is open.
        record_until = time.monotonic() + lease.total_seconds()
        try:
            self.transport.begin(msg)
            self.transport.end_data()
            self.transport.verdict()
        except MailError as exc:
            error = exc
            self._record(lambda s: outbox.record_failure(s, outbox_id, now, error, counted=True), record_until)
            log.warning("e-mail %s to %s not sent: %s", outbox_id, to_addr, error)
            return False
        except BaseException:
            self.transport.abort()  # the server drops what it has not seen the end of; the lease runs out
            raise
        self._record(lambda s: outbox.record_sent(s, outbox_id, now), record_until)
        return True

    def _record(self, work, until: float) -> None:
        """Record how a leased e-mail went, trying again while the database is busy: given up, the row is sent
        again when its lease runs out (a duplicate when the server had accepted it)."""
        while True:
            try:
                with transaction(self.system.sessions) as session:
                    work(session)
                return
            except OperationalError as exc:
                if lost_connection(exc) or time.monotonic() >= until:
                    raise
                log.warning("the result of an e-mail cannot be recorded yet, trying again: %s", exc)
                time.sleep(RECORD_RETRY)

    # ------------------------------------------------------------------ the loop
    def seconds_to_next(self) -> float:
        with self.system.readers() as session:
            wake = self.system.timers.next_wakeup(session)
            if self._export is None and self._export_thread is not None:
                due = exportjobs.next_due(session, self.system.clock.now())
                if due is not None and due <= self.system.clock.now():
                    self._export_wake.set()  # a job is queued (or a lease ran out): the export thread takes it now
        longest = self.interval
        if self._export is not None:  # the running export's lease is renewed by this loop
            longest = min(longest, exportjobs.RENEW_EVERY)
        if self._housekeeping_at:  # the hourly clean-up (due at the first cycle, which sets this)
            longest = min(longest, max(0.0, self._housekeeping_at - time.monotonic()))
        if wake is None:
            return longest
        delta = (wake - self.system.clock.now()).total_seconds()
        return max(0.0, min(longest, delta + DUE_MARGIN if delta > 0 else 0.0))

    def run(self, on_report=None) -> None:
        """Cycle until stopped (SIGTERM/SIGINT finish the cycle in progress, then return); export jobs run in a
        thread of their own meanwhile."""
        self.start_exports()
        self._listener = wakeup.Listener(self.system.db)
        log.info("worker: woken by %s, longest sleep %g s", self._listener.kind, self.interval)
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
            if report.held:  # due cases someone else was acting on: come back soon, without spinning
                pause = max(pause, min(RETRY_HELD, self.interval))
            elif report.errors or report.waiting:  # due cases waiting after a failure: not at once
                pause = max(pause, self.interval)
            if pause > 0 and not self.stopping.is_set():
                self._listener.wait(pause)
        self.close()

    def _interrupt(self) -> None:
        if self._listener is not None:
            self._listener.interrupt()

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        self._export_wake.set()
        if self._export_thread is not None:
            self._export_thread.join(EXPORT_STOP_WAIT)
        if self.transport is not None:
            self.transport.close()

    def stop_on_signals(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())

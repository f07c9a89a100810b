"""kill -9 in the middle of a load run (gunicorn with 2 workers, 2 `alur worker --loop`, PostgreSQL, e-mail to a
local SMTP server in this process): after restart no acknowledged action is lost, no case is half-written, the
audit chain verifies, each due timer fired exactly once and each e-mail arrived exactly once."""
from __future__ import annotations

import email
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from sqlalchemy import func, select

from bench.livestack import ApiClient, ApiResult, StackUser, free_port
from engine.db import transaction
from engine.models import Instance, TaskRow
from process.deadlines import WIB, end_of_day_plus
from process.models import FileRecord, Notification, OutboxMessage
from tests.factories import FORMS, unggah_form
from tests.integration.live import (
    PHOTOS,
    audit_verify,
    events_per,
    photo,
    projection_problems,
    running_due,
    step1_values,
)

pytestmark = pytest.mark.live

PROBE = Path(__file__).resolve().parents[1] / "data" / "timer_probe.bpmn"
THREADS = 4
LOAD_SECONDS = 24.0
KILL_ALL_AT = 7.0  # web processes and workers
KILL_WORKERS_AT = 15.0  # workers only, while the web keeps taking requests
MAX_CASES_PER_THREAD = 20
#: Each client pauses between requests, as people do, so the load spans the whole window and the kills hit it
#: (unpaced, four clients finish their cases before the first kill).
THINK_SECONDS = 0.08
MAX_REQUESTS_PER_THREAD = 400
PROBES = 40  # worker-fired timers due across the load window
DRAIN_TIMEOUT = 120
EOF_GRACE = 1.0  # seconds the SMTP server goes on reading after a client vanished

ROLE_OF_STEP = {"Task_Serahkan": "tim", "Task_Terima": "admin", "Task_Koreksi": "wapimred",
                "Task_Putuskan": "pimred", "Task_Unggah": "admin"}
USERS = {"tim1": ("tim_pelaksana", "humas"), "tim2": ("tim_pelaksana", "humas"), "admin1": ("admin_medsos", None),
         "admin2": ("admin_medsos", None), "wapimred1": ("wapimred", None), "pimred1": ("pimred", None),
         "pimred2": ("pimred", None)}


class _QueueingSMTP(SMTP):
    """aiosmtpd cancels a session as soon as it sees the client's end of the connection; usually it has read all
    that arrived before by then, but nothing guarantees it. A real MTA queues a message once its end-of-data
    mark has arrived, whether or not the client is still there to read the 250 reply, and the outbox relies on
    exactly that (a worker killed right after sending the mark). So: finish reading what arrived, then end."""

    def eof_received(self):
        self.loop.call_later(EOF_GRACE, self._end_session)
        return True  # keep the half-closed connection until what was received has been read

    def _end_session(self) -> None:
        if self.transport is not None:
            SMTP.eof_received(self)


class SinkController(Controller):
    def factory(self):
        return _QueueingSMTP(self.handler, **self.SMTP_kwargs)


class SmtpSink:
    """The SMTP server of the test: counts the messages it accepted by their X-Alur-Outbox-Id."""

    def __init__(self):
        self.received: Counter = Counter()
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        msg = email.message_from_bytes(envelope.original_content or envelope.content)
        with self.lock:
            self.received[msg.get("X-Alur-Outbox-Id")] += 1
        return "250 Message accepted for delivery"


class Ledger:
    """Every request of the load run and every action the server acknowledged (2xx), thread-safe."""

    def __init__(self):
        self.lock = threading.Lock()
        self.statuses: Counter = Counter()
        self.codes: Counter = Counter()
        self.cases: list[int] = []
        self.claims: list[tuple[str, str]] = []  # (task id, username)
        self.completions: list[tuple[str, str]] = []
        self.files: list[str] = []

    def record(self, result: ApiResult) -> None:
        with self.lock:
            self.statuses[result.status] += 1
            if result.status is not None and result.status >= 400:
                self.codes[(result.status, result.error_code)] += 1

    def ack(self, kind: str, item) -> None:
        with self.lock:
            getattr(self, kind).append(item)

    @property
    def sent(self) -> int:
        return sum(self.statuses.values())

    @property
    def acknowledged(self) -> int:
        return sum(n for s, n in self.statuses.items() if s is not None and 200 <= s < 300)


class Client:
    """One load thread: drives its own cases through the SOP via the API, one step after another, reading the
    case again after any request that got no answer (it may or may not have been done)."""

    def __init__(self, base_url: str, tokens: dict[str, str], n: int, ledger: Ledger, stop: threading.Event):
        self.apis = {name: ApiClient(base_url, token, timeout=20) for name, token in tokens.items()}
        self.users = {"tim": f"tim{1 + n % 2}", "admin": f"admin{1 + n % 2}", "wapimred": "wapimred1",
                      "pimred": f"pimred{1 + n % 2}"}
        self.n = n
        self.ledger = ledger
        self.stop = stop
        self.requests = 0
        self.activity_day = (datetime.now(UTC).astimezone(WIB) - timedelta(days=3)).date()

    def call(self, username: str, method: str, path: str, **kwargs) -> ApiResult:
        self.requests += 1
        result = self.apis[username].call(method, path, **kwargs)
        self.ledger.record(result)
        time.sleep(0.2 if result.status is None else THINK_SECONDS)  # down: do not spin; up: a person's pause
        return result

    def busy(self) -> bool:
        return not self.stop.is_set() and self.requests < MAX_REQUESTS_PER_THREAD

    def run(self) -> None:
        try:
            for k in range(MAX_CASES_PER_THREAD):
                if not self.busy():
                    return
                self.one_case(f"Kegiatan beban {self.n}-{k}")
        finally:
            for api in self.apis.values():
                api.close()

    def read_case(self, case_id: int) -> dict | None:
        while self.busy():
            result = self.call(self.users["tim"], "GET", f"/cases/{case_id}")
            if result.ok:
                return result.body
        return None

    def one_case(self, activity: str) -> None:
        tim = self.users["tim"]
        started = self.call(tim, "POST", "/cases", json={
            "nama_kegiatan": activity, "tanggal_kegiatan": self.activity_day.isoformat(), "tempat_kegiatan": "Padang"})
        if not started.ok:
            return  # unanswered: the case may exist; it is checked with all the others
        case_id = started.body["case_id"]
        self.ledger.ack("cases", case_id)
        for _step in range(20):
            case = self.read_case(case_id)
            if case is None or case["status"] != "running":
                return
            ready = [t for t in case["tasks"] if t["state"] == "ready"]
            if not ready:
                return
            task = ready[0]
            user = self.users[ROLE_OF_STEP[task["bpmn_id"]]]
            if task["claimed_by"] != user:
                claimed = self.call(user, "POST", f"/tasks/{task['id']}/claim")
                if not claimed.ok:
                    continue
                self.ledger.ack("claims", (task["id"], user))
            form = self.form(task["bpmn_id"], activity, user)
            if form is None:
                continue
            done = self.call(user, "POST", f"/tasks/{task['id']}/complete", json=form)
            if done.ok:
                self.ledger.ack("completions", (task["id"], user))

    def form(self, bpmn_id: str, activity: str, user: str) -> dict | None:
        """The form of a step; None when an upload it needs got no answer (the step is tried again)."""
        if bpmn_id == "Task_Serahkan":
            ids = []
            for i in range(PHOTOS):
                uploaded = self.call(user, "POST", "/files", files=photo(i))
                if not uploaded.ok:
                    return None
                self.ledger.ack("files", uploaded.body["id"])
                ids.append(uploaded.body["id"])
            return step1_values(activity, self.activity_day, ids)
        if bpmn_id == "Task_Unggah":
            return unggah_form(datetime.now(UTC))
        return dict(FORMS[{"Task_Terima": "terima", "Task_Koreksi": "koreksi", "Task_Putuskan": "setuju"}[bpmn_id]])


def test_kill9_of_web_and_workers_in_the_middle_of_a_load_run(live_stack, figures):
    sink, port = SmtpSink(), free_port()
    smtp = SinkController(sink, hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        _run(live_stack, sink, port, figures)
    finally:
        smtp.stop()


def _run(live_stack, sink: SmtpSink, smtp_port: int, figures) -> None:
    stack = live_stack(env={"ALUR_SMTP_HOST": "127.0.0.1", "ALUR_SMTP_PORT": str(smtp_port),
                            "ALUR_SMTP_SECURITY": "none", "ALUR_MAIL_FROM": "Alur Medsos <alur@kpu.test>"})
    stack.add_users([StackUser(name, [role], team=team, email=f"{name}@kpu.test") for name, (role, team) in
                     USERS.items()])
    system = stack.system()
    with transaction(system.sessions) as session:
        system.engine.deploy(session, PROBE.read_bytes(), actor="test")
    stack.start_web()
    tokens = {name: stack.client(name).token for name in USERS}

    # Timers the workers fire during the run, also while they are down (caught up after the restart).
    first = datetime.now(UTC) + timedelta(seconds=2)
    spread = (LOAD_SECONDS - 2) / PROBES
    with transaction(system.sessions) as session:
        probes = [system.engine.start(session, "timer_probe", actor="admin1", title=f"Uji {i}",
                                           data={"batas": (first + timedelta(seconds=i * spread)).isoformat()}
                                           ).instance.id for i in range(PROBES)]

    # The "deadline soon" reminders of steps 2-4 made ready before the first kill fall due while the workers are
    # down: the lead time is the distance from then to those steps' deadline (end of tomorrow, WIB).
    remind_at = datetime.now(UTC) + timedelta(seconds=KILL_ALL_AT + 0.5)
    due = end_of_day_plus(remind_at.astimezone(WIB).date(), 1)
    stack.extra_env["ALUR_REMINDER_HOURS"] = f"{(due - remind_at).total_seconds() / 3600:.6f}"
    stack.restart_web()
    stack.start_workers(2)

    ledger, stop = Ledger(), threading.Event()
    clients = [Client(stack.base_url, tokens, n, ledger, stop) for n in range(THREADS)]
    threads = [threading.Thread(target=c.run, daemon=True, name=f"load{c.n}") for c in clients]
    kills: list[datetime] = []
    t0 = time.monotonic()
    for t in threads:
        t.start()
    try:
        _sleep_until(t0 + KILL_ALL_AT)
        kills.append(datetime.now(UTC))
        stack.kill9_web()
        stack.kill9_workers()
        killed_at = time.monotonic() - t0
        time.sleep(1.0)
        stack.restart_web()
        stack.restart_workers()
        back_at = time.monotonic() - t0
        _sleep_until(t0 + KILL_WORKERS_AT)
        kills.append(datetime.now(UTC))
        stack.kill9_workers()
        time.sleep(0.5)
        stack.restart_workers()
        _sleep_until(t0 + LOAD_SECONDS)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a load thread did not stop"
    assert ledger.statuses[None] > 0 and ledger.acknowledged > 0, "the kill should have hit a running load"
    load_seconds = time.monotonic() - t0

    # Let the workers drain: every due timer fired, every e-mail out.
    drain_start = time.monotonic()
    while time.monotonic() < drain_start + DRAIN_TIMEOUT:
        if running_due(stack, datetime.now(UTC)) == 0 and _pending_mail(system) == 0:
            break
        time.sleep(0.5)
    drained = time.monotonic() - drain_start
    checked_at = datetime.now(UTC)
    stack.stop_workers()
    stack.stop_web()
    assert running_due(stack, checked_at) == 0, "due timers left unfired"
    assert _pending_mail(system) == 0, "e-mails left unsent"

    lost: list[str] = []
    with system.sessions() as session:
        instances = set(session.execute(select(Instance.id)).scalars())
        rows = {r.id: r for r in session.execute(select(TaskRow)).scalars()}
        files = set(session.execute(select(FileRecord.id)).scalars())
        outbox = {str(o.id): o for o in session.execute(select(OutboxMessage)).scalars()}
        notified = Counter(session.execute(select(Notification.user_id, Notification.kind, Notification.task_id)).all())
        running = session.execute(select(func.count()).select_from(Instance)
                                  .where(Instance.status == "running")).scalar()
    completed_events = events_per(stack, "task_completed")
    lost += [f"case {c}" for c in ledger.cases if c not in instances]
    lost += [f"claim of {t} by {u}" for t, u in ledger.claims if t not in rows or rows[t].claimed_by != u]
    lost += [f"completion of {t} by {u}" for t, u in ledger.completions
             if t not in rows or (rows[t].state, rows[t].completed_by) != ("completed", u)
             or completed_events[(rows[t].instance_id, t)] != 1]
    lost += [f"file {f}" for f in ledger.files if f not in files]
    assert lost == [], f"acknowledged actions lost: {lost[:20]}"

    problems = projection_problems(stack)
    assert problems == [], problems[:20]
    verified = audit_verify(stack)

    # Each timer due by now fired exactly once: while waiting (by a worker, or by the request that made the task
    # ready late) or just before a late completion; never for a task completed in time.
    fired, overdue = events_per(stack, "timer_fired"), events_per(stack, "overdue")
    expected = {(r.instance_id, r.id): int(r.due_at is not None and r.due_at <= checked_at
                                           and (r.completed_at is None or r.completed_at > r.due_at))
                for r in rows.values()}
    timers_wrong = {k: (fired.get(k, 0), overdue.get(k, 0), want) for k, want in expected.items()
                    if fired.get(k, 0) != want or overdue.get(k, 0) != want}
    assert timers_wrong == {}, f"(case, task): (timer_fired, overdue, expected) {list(timers_wrong.items())[:20]}"
    assert all(fired[(p, r.id)] == 1 for r in rows.values() for p in probes if r.instance_id == p)
    stray = set(fired) - set(expected)
    assert stray == set(), f"timer events for unknown tasks: {stray}"

    # Each e-mail arrived exactly once; each in-app notification exists once.
    missing = sorted(set(outbox) - set(sink.received), key=int)
    doubled = sorted(k for k, n in sink.received.items() if n > 1)
    phantom = sorted(set(sink.received) - set(outbox))
    unsent = [k for k, o in outbox.items() if o.sent_at is None or o.failed_at is not None]
    assert (missing, doubled, phantom, unsent) == ([], [], [], []), (
        f"missing {missing[:20]}, doubled {doubled[:20]}, unknown {phantom[:20]}, not sent {unsent[:20]}; "
        f"kills at {[k.isoformat() for k in kills]}; rows: "
        + "; ".join(f"#{k} sent_at {outbox[k].sent_at and outbox[k].sent_at.isoformat()} attempts "
                    f"{outbox[k].attempts} error {outbox[k].last_error}" for k in (missing + doubled + unsent)[:20]))
    repeated = [k for k, n in notified.items() if n > 1]
    assert repeated == [], f"notifications repeated: {repeated[:20]}"
    assert len(outbox) > 0 and sum(fired.values()) > PROBES

    server_errors = sum(n for s, n in ledger.statuses.items() if s is not None and s >= 500)
    answered_4xx = sum(n for s, n in ledger.statuses.items() if s is not None and 400 <= s < 500)
    retried = sum(1 for o in outbox.values() if o.attempts > 1)
    kinds = Counter(o.kind for o in outbox.values())
    figures(f"kill -9: load {load_seconds:.0f} s, {THREADS} client threads, gunicorn 2 workers + 2 workers; "
            f"web+workers killed at {killed_at:.1f} s, answering again at {back_at:.1f} s; workers killed again at "
            f"{KILL_WORKERS_AT:.0f} s; drained in {drained:.1f} s")
    figures(f"kill -9 requests: {ledger.sent} sent, {ledger.acknowledged} acknowledged, "
            f"{ledger.statuses[None]} unanswered (server down), {answered_4xx} x 4xx"
            f"{f' {dict(ledger.codes)}' if ledger.codes else ''}, "
            f"{server_errors} x 5xx; acknowledged actions: {len(ledger.cases)} cases started, "
            f"{len(ledger.claims)} claims, {len(ledger.completions)} completions, {len(ledger.files)} uploads; "
            f"lost 0")
    figures(f"kill -9 timers: {sum(fired.values())} fired ({PROBES} by workers on probe cases), "
            f"{sum(expected.values())} expected, doubled 0, missing 0; {len(instances)} cases "
            f"({running} still running), projections consistent; {verified}")
    figures(f"kill -9 e-mail: {len(outbox)} outbox rows ({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))}), "
            f"{sum(sink.received.values())} messages at the SMTP server, lost {len(missing)}, doubled {len(doubled)}; "
            f"{retried} needed more than one attempt")
    assert server_errors == 0, dict(ledger.codes)


def _pending_mail(system) -> int:
    with system.sessions() as session:
        return session.execute(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None))).scalar()


def _sleep_until(moment: float) -> None:
    delay = moment - time.monotonic()
    if delay > 0:
        time.sleep(delay)

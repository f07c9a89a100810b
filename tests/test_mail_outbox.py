"""E-mail through the transactional outbox, "deadline soon" reminders and the worker cycle.

A real SMTP server (aiosmtpd) runs on 127.0.0.1 in the test process; messages are counted by the outbox id
they carry. PostgreSQL sends each e-mail exactly once, inside its row's transaction (the kill -9 run in
tests/integration/test_kill.py); SQLite sends at least once, with no transaction open while the server is talked
to (process/mail.py)."""
from __future__ import annotations

import email
import socket
import sqlite3
import subprocess
import sys
import threading
from dataclasses import replace
from datetime import datetime, timedelta
from email.policy import default as default_policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select, update

from engine.models import EventRow
from ops.worker import Worker
from process import outbox
from process.config import MailSettings, Settings
from process.deadlines import WIB
from process.mail import SmtpTransport
from process.models import DeadlineReminder, Notification, OutboxMessage, User
from process.system import build_system
from tests.factories import Case, make_users, user


def wib(*args) -> datetime:
    return datetime(*args, tzinfo=WIB)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """aiosmtpd handler: keeps every accepted message; can refuse recipients or whole messages."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.refuse_rcpt: str | None = None  # e.g. "550 5.1.1 no such user" or "451 4.3.0 try later"
        self.refuse_data: str | None = None
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse_rcpt:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.refuse_data:
            return self.refuse_data
        with self.lock:
            self.messages.append(email.message_from_bytes(envelope.content, policy=default_policy))
        return "250 OK"

    def ids(self) -> list[int]:
        return [int(m["X-Alur-Outbox-Id"]) for m in self.messages]


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


@pytest.fixture
def mail_system(system, smtp, clock):
    """The system with e-mail on (plain SMTP to the local test server), on the same database and clock."""
    _inbox, port = smtp
    settings: Settings = replace(system.settings, mail=MailSettings(host="127.0.0.1", port=port, security="none",
                                                                    sender="Alur Medsos <alur@kpu-sumbar.go.id>"),
                                 base_url="https://alur.kpu-sumbar.go.id")
    mailing = build_system(settings, clock)
    yield mailing
    mailing.dispose()


def with_addresses(system, tx, *names):
    with tx() as s:
        for name in names:
            user(s, name).email = f"{name}@kpu-sumbar.go.id"


def drain(worker: Worker):
    """Cycles until one sends nothing (each cycle sends for a bounded time only); the summed report."""
    total = worker.cycle()
    while True:
        more = worker.cycle()
        for key in ("fired", "reminders", "sent", "failed"):
            setattr(total, key, getattr(total, key) + getattr(more, key))
        total.errors += more.errors
        if not more.sent and not more.failed:
            return total


def pending(tx) -> list[OutboxMessage]:
    with tx() as s:
        return list(s.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars())


def test_no_email_is_written_without_an_smtp_server(system, tx):
    make_users(system, tx)
    with_addresses(system, tx, "admin")
    Case.start(system, tx).do("tim", "submit")
    assert pending(tx) == []
    with tx() as s:  # the in-app notification is still there
        assert s.execute(select(func.count()).select_from(Notification)).scalar() > 0


def test_an_action_writes_its_emails_in_the_same_transaction(mail_system, tx):
    make_users(mail_system, tx)
    with_addresses(mail_system, tx, "admin")  # wapimred etc. have no address: in-app only
    case = Case.start(mail_system, tx)
    with pytest.raises(RuntimeError), tx() as s:  # an action that fails later in its transaction ...
        mail_system.tasks.claim(s, user(s, "tim"), case.task_id)
        from tests.factories import step1_form
        mail_system.tasks.complete(s, user(s, "tim"), case.task_id, step1_form(mail_system, s))
        assert len(list(s.execute(select(OutboxMessage)).scalars())) == 1
        raise RuntimeError("request failed after the action")
    assert pending(tx) == []  # ... leaves no e-mail behind
    case.do("tim", "submit")
    (row,) = pending(tx)
    assert row.to_addr == "admin@kpu-sumbar.go.id" and row.kind == "task_ready" and row.sent_at is None
    assert row.subject.startswith("[Alur Medsos] Tugas baru: ")
    assert "Yth. admin," in row.body and "Batas waktu" in row.body
    assert f"https://alur.kpu-sumbar.go.id/tugas/{case.task_id}" in row.body


def test_the_worker_sends_each_email_once(mail_system, tx, smtp):
    inbox, _port = smtp
    make_users(mail_system, tx)
    with_addresses(mail_system, tx, "admin", "tim", "tim2", "wapimred")
    case = Case.start(mail_system, tx)
    case.do("tim", "submit")
    case.do("admin", "admin_kembalikan")  # returned: tim and tim2 are told once, that it came back
    rows = pending(tx)  # + admin told of the submission (step 1 was tim's from the start: tim2 not told)
    assert sorted(r.kind for r in rows) == ["returned"] * 2 + ["task_ready"]

    worker = Worker(mail_system)
    report = drain(worker)
    assert report.sent == 3 and report.failed == 0
    assert sorted(inbox.ids()) == [r.id for r in rows]
    assert all(r.sent_at is not None and r.attempts == 1 for r in pending(tx))
    assert worker.cycle().sent == 0 and len(inbox.messages) == 3  # nothing twice

    returned = next(m for m in inbox.messages if "Dikembalikan" in m["Subject"])
    assert returned["Message-ID"] == f"<alur-outbox-{returned['X-Alur-Outbox-Id']}@kpu-sumbar.go.id>"
    body = returned.get_content()
    assert "Tanggapan: Foto kurang jelas." in body and "aplikasi prosedur kerja KPU Provinsi Sumatera Barat" in body
    assert returned["To"] in {"tim@kpu-sumbar.go.id", "tim2@kpu-sumbar.go.id"}
    worker.close()


def postgresql_only(system) -> None:
    if system.db.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's exactly-once protocol; SQLite sends at least once (the test_on_sqlite_... tests)")


def sqlite_only(system) -> None:
    if system.db.dialect.name != "sqlite":
        pytest.skip("SQLite's lease protocol; PostgreSQL sends exactly once")


def test_a_crash_before_the_commit_sends_nothing_and_the_email_goes_later(mail_system, tx, smtp, monkeypatch):
    postgresql_only(mail_system)
    inbox, _port = smtp
    make_users(mail_system, tx)
    with_addresses(mail_system, tx, "admin")
    Case.start(mail_system, tx).do("tim", "submit")
    worker = Worker(mail_system)

    def commit_fails(row, now):
        raise OSError("database went away while marking the e-mail sent")

    monkeypatch.setattr(outbox, "mark_sent", commit_fails)
    with pytest.raises(OSError):
        worker.cycle()  # the whole message reached the server, but not its end
    assert inbox.messages == []  # the server dropped the unfinished message
    (row,) = pending(tx)
    assert row.sent_at is None and row.attempts == 0

    monkeypatch.undo()
    assert worker.cycle().sent == 1
    assert inbox.ids() == [row.id]
    worker.close()


def test_refusals_are_retried_or_given_up(mail_system, tx, smtp, clock):
    inbox, _port = smtp
    make_users(mail_system, tx)
    with_addresses(mail_system, tx, "admin", "wapimred")
    case = Case.start(mail_system, tx)
    case.do("tim", "submit")
    worker = Worker(mail_system)

    inbox.refuse_rcpt = "451 4.3.0 mailbox busy, try later"
    report = worker.cycle()
    assert report.sent == 0 and report.failed == 1
    (row,) = pending(tx)
    assert row.failed_at is None and row.attempts == 1 and "451" in row.last_error
    assert row.next_attempt_at == clock.now() + timedelta(minutes=1)
    assert worker.cycle().failed == 0  # not due again yet

    inbox.refuse_rcpt = None
    inbox.refuse_data = "554 5.6.0 message refused"
    clock.advance(minutes=2)
    assert worker.cycle().failed == 1  # refused after "sent" was committed: taken back, given up (5xx)
    (row,) = pending(tx)
    assert row.sent_at is None and row.failed_at is not None and row.attempts == 2 and "554" in row.last_error
    clock.advance(hours=7)
    assert worker.cycle().failed == 0 and inbox.messages == []

    inbox.refuse_data = None
    case.do("admin", "terima")  # the next e-mail is unaffected
    assert worker.cycle().sent == 1 and len(inbox.messages) == 1
    with tx() as s:
        assert outbox.counts(s) == {"pending": 0, "sent": 1, "failed": 1}
    worker.close()


def test_an_unreachable_server_leaves_the_email_pending(mail_system, tx):
    make_users(mail_system, tx)
    with_addresses(mail_system, tx, "admin")
    Case.start(mail_system, tx).do("tim", "submit")
    gone = MailSettings(host="127.0.0.1", port=free_port(), security="none", timeout=2)
    report = Worker(mail_system, transport=SmtpTransport(gone)).cycle()
    assert report.sent == 0 and report.errors and "cannot reach the SMTP server" in report.errors[0]
    (row,) = pending(tx)
    assert row.sent_at is None and row.failed_at is None


def test_deadline_soon_reminder_to_the_lane_then_to_whoever_claimed(mail_system, tx, clock, smtp):
    inbox, _port = smtp
    make_users(mail_system, tx)
    with_addresses(mail_system, tx, "tim", "tim2")
    case = Case.start(mail_system, tx)  # Task_Serahkan due 2025-05-07 23:59:59 WIB
    with tx() as s:
        mail_system.tasks.unclaim(s, user(s, "tim"), case.task_id)  # its creator lets it go to the team
    with tx() as s:
        (reminder,) = s.execute(select(DeadlineReminder)).scalars()
        assert reminder.task_id == case.task_id and reminder.remind_at == wib(2025, 5, 7, 17, 59, 59)
    worker = Worker(mail_system)
    drain(worker)
    inbox.messages.clear()

    clock.set(wib(2025, 5, 7, 17, 59, 58))
    assert worker.cycle().reminders == 0
    clock.set(wib(2025, 5, 7, 18, 0))
    report = drain(worker)
    assert report.reminders == 1 and report.sent == 2  # the team's two members, nobody else
    assert {m["To"] for m in inbox.messages} == {"tim@kpu-sumbar.go.id", "tim2@kpu-sumbar.go.id"}
    assert all(m["Subject"].startswith("[Alur Medsos] Pengingat batas waktu: ") for m in inbox.messages)
    assert "5 jam lagi" in inbox.messages[0].get_content()
    with tx() as s:
        assert s.execute(select(func.count()).select_from(DeadlineReminder)).scalar() == 0
        kinds = s.execute(select(Notification.kind, func.count()).group_by(Notification.kind)).all()
        assert dict(kinds)["deadline_soon"] == 2
    assert worker.cycle().reminders == 0  # once

    # The next task: claimed before its reminder, so only the claimer is reminded.
    clock.set(wib(2025, 5, 7, 19, 0))
    case.do("tim", "submit")
    with_addresses(mail_system, tx, "admin")
    with tx() as s:
        mail_system.people.add_user(s, "admin2", "rahasia-admin2", ["admin_medsos"], email="admin2@kpu-sumbar.go.id")
        mail_system.tasks.claim(s, user(s, "admin"), case.task_id)
        (reminder,) = s.execute(select(DeadlineReminder)).scalars()
    inbox.messages.clear()
    clock.set(reminder.remind_at + timedelta(seconds=1))
    assert drain(worker).reminders == 1
    assert [m["To"] for m in inbox.messages if "Pengingat" in m["Subject"]] == ["admin@kpu-sumbar.go.id"]
    worker.close()


def test_no_reminder_for_a_task_done_in_time_or_already_late(mail_system, tx, clock):
    make_users(mail_system, tx)
    case = Case.start(mail_system, tx)
    case.do("tim", "submit")  # done before its reminder time; Task_Terima gets its own reminder
    with tx() as s:
        assert s.execute(select(func.count()).select_from(DeadlineReminder)).scalar() == 2
    clock.set(wib(2025, 5, 9, 12, 0))  # past both deadlines: the overdue notice says it, not a reminder
    worker = Worker(mail_system)
    report = worker.cycle()
    worker.close()
    assert report.fired == 1 and report.reminders == 0
    with tx() as s:
        assert s.execute(select(func.count()).select_from(DeadlineReminder)).scalar() == 0
        assert s.execute(select(func.count()).select_from(Notification)
                         .where(Notification.kind == "deadline_soon")).scalar() == 0


def test_reminder_lead_time_is_configurable_and_near_deadlines_get_none(system, tx, clock):
    make_users(system, tx)
    built = build_system(replace(system.settings, reminder_hours=48), clock)
    try:
        with tx() as s:  # due in 40 h: closer than 48 h, the "new task" notice carries the deadline
            from tests.factories import CaseInput
            built.cases.start_case(s, user(s, "tim"), CaseInput(nama_kegiatan="A", tanggal_kegiatan="2025-05-06",
                                                                tempat_kegiatan="Padang"))
            assert s.execute(select(func.count()).select_from(DeadlineReminder)).scalar() == 0
    finally:
        built.dispose()
    assert Settings.from_env(env={"ALUR_REMINDER_HOURS": "2.5"}).reminder_hours == 2.5
    with pytest.raises(ValueError, match="ALUR_REMINDER_HOURS"):
        Settings.from_env(env={"ALUR_REMINDER_HOURS": "enam"})


def test_mail_settings_from_the_environment():
    assert Settings.from_env(env={}).mail is None
    mail = Settings.from_env(env={"ALUR_SMTP_HOST": "smtp.kpu.go.id", "ALUR_SMTP_SECURITY": "ssl",
                                  "ALUR_SMTP_USER": "medsos", "ALUR_SMTP_PASSWORD": "x",
                                  "ALUR_MAIL_FROM": "Medsos <medsos@kpu.go.id>"}).mail
    assert (mail.host, mail.port, mail.security, mail.username, mail.sender) == \
        ("smtp.kpu.go.id", 465, "ssl", "medsos", "Medsos <medsos@kpu.go.id>")
    assert Settings.from_env(env={"ALUR_SMTP_HOST": "h"}).mail.port == 587
    with pytest.raises(ValueError, match="ALUR_SMTP_SECURITY"):
        Settings.from_env(env={"ALUR_SMTP_HOST": "h", "ALUR_SMTP_SECURITY": "tls13"})
    with pytest.raises(ValueError, match="ALUR_SMTP_PORT"):
        Settings.from_env(env={"ALUR_SMTP_HOST": "h", "ALUR_SMTP_PORT": "dua lima"})


def test_a_bad_address_is_refused_when_the_user_is_saved(system, tx):
    from process.errors import BadRequest
    from process.messages import error_text

    make_users(system, tx)
    with pytest.raises(BadRequest) as refused, tx() as s:
        system.people.add_user(s, "baru", "rahasia-baru", ["auditor"], email="bukan alamat")
    assert (refused.value.code, refused.value.params) == ("user.email_invalid", {"email": "bukan alamat"})
    assert "tidak sah" in error_text(refused.value, "id") and "not valid" in error_text(refused.value, "en")
    with pytest.raises(BadRequest) as refused, tx() as s:
        system.people.set_profile(s, user(s, "tim"), full_name="Tim", email="tim@")
    assert refused.value.code == "user.email_invalid"
    with tx() as s:
        assert s.execute(select(User).where(User.username == "baru")).scalar_one_or_none() is None


def test_the_worker_sleeps_until_the_next_due_time_but_never_longer_than_its_interval(system, tx, clock):
    make_users(system, tx)
    worker = Worker(system, interval=0.5)
    assert worker.seconds_to_next() == 0.5  # nothing waits
    Case.start(system, tx)
    assert worker.seconds_to_next() == 0.5  # the deadline is days away
    with tx() as s:
        s.execute(update(DeadlineReminder).values(remind_at=clock.now() + timedelta(seconds=0.2)))
    assert worker.seconds_to_next() == pytest.approx(0.2, abs=0.01)
    clock.advance(seconds=1)
    assert worker.seconds_to_next() == 0  # overdue work: no sleep


def test_worker_cli_once_reports_what_it_did(system, tx, clock, monkeypatch, tmp_path):
    from click.testing import CliRunner

    from ops.cli import main

    make_users(system, tx)
    Case.start(system, tx)
    clock.set(wib(2025, 5, 8, 0, 0, 1))
    with tx() as s:  # the CLI runs on the system clock: make the deadline already past for it
        from engine.models import Instance, TaskRow
        s.execute(update(Instance).values(next_timer_at=datetime(2000, 1, 1, tzinfo=WIB)))
        s.execute(update(TaskRow).values(due_at=datetime(2000, 1, 1, tzinfo=WIB)))
    env = {"ALUR_DATABASE_URL": system.settings.database_url, "ALUR_FILES_DIR": str(tmp_path)}
    result = CliRunner().invoke(main, ["worker", "--once"], env=env)
    assert result.exit_code == 0, result.output
    assert "1 case(s) with fired timers" in result.output
    with tx() as s:
        assert s.execute(select(func.count()).select_from(EventRow).where(EventRow.type == "overdue")).scalar() == 1
    result = CliRunner().invoke(main, ["worker", "--once"], env={**env, "ALUR_SMTP_HOST": "h",
                                                                  "ALUR_SMTP_SECURITY": "bogus"})
    assert result.exit_code != 0 and "ALUR_SMTP_SECURITY" in result.output


def test_the_administrator_sees_undelivered_mail_and_can_send_it_again(mail_system, tx, smtp, clock):
    from webui import create_app

    inbox, _port = smtp
    make_users(mail_system, tx)
    with_addresses(mail_system, tx, "admin")
    with tx() as s:
        mail_system.people.add_user(s, "root", "rahasia-root", ["admin"])
    Case.start(mail_system, tx).do("tim", "submit")
    inbox.refuse_rcpt = "550 5.1.1 mailbox unknown"
    worker = Worker(mail_system)
    assert drain(worker).failed == 1
    (row,) = pending(tx)

    app = create_app(system=mail_system, config={"SECRET_KEY": "t", "TESTING": True, "WTF_CSRF_ENABLED": False,
                                                 "RATELIMIT_ENABLED": False})
    c = app.test_client()
    assert c.post("/masuk", data={"username": "root", "password": "rahasia-root"}).status_code == 302
    page = c.get("/admin/surel").get_data(as_text=True)
    assert "admin@kpu-sumbar.go.id" in page and "550 5.1.1 mailbox unknown" in page and "Gagal" in page

    inbox.refuse_rcpt = None
    assert c.post(f"/admin/surel/{row.id}/ulang").status_code == 302
    assert drain(worker).sent == 1 and inbox.ids() == [row.id]
    assert "Semua surel sudah terkirim." in c.get("/admin/surel").get_data(as_text=True)
    assert c.post(f"/admin/surel/{row.id}/ulang").status_code == 302  # already sent: refused, nothing sent
    assert drain(worker).sent == 0
    with tx() as s:
        assert s.execute(select(func.count()).select_from(EventRow)
                         .where(EventRow.type == "email_requeued")).scalar() == 1
    staff = app.test_client()
    staff.post("/masuk", data={"username": "tim", "password": "rahasia-tim"})
    assert staff.get("/admin/surel").status_code == 403
    worker.close()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_and_login_against_a_server_with_a_verified_certificate(security, monkeypatch, tmp_path):
    """STARTTLS and implicit TLS, certificate checked against a CA (made by trustme), then AUTH LOGIN."""
    import ssl

    import trustme
    from aiosmtpd.smtp import AuthResult

    from process.mail import MailError, build_message

    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1", "localhost")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(server_ctx)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))  # ssl.create_default_context() trusts this CA

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == b"medsos" and auth_data.password == b"sandi-smtp"
        return AuthResult(success=ok)

    inbox = Inbox()
    port = free_port()
    options = {"authenticator": authenticator, "auth_required": True}
    if security == "starttls":
        controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=server_ctx,
                                require_starttls=True, server_hostname="localhost", **options)
    else:
        # aiosmtpd does not count implicit TLS as TLS for AUTH: allow it explicitly (the socket is TLS).
        controller = Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=server_ctx,
                                server_hostname="localhost", auth_require_tls=False, **options)
    controller.start()
    try:
        def send(password: str) -> None:
            transport = SmtpTransport(MailSettings(host="127.0.0.1", port=port, security=security,
                                                   username="medsos", password=password, timeout=2))
            try:
                transport.begin(build_message(outbox_id=7, sender="alur@kpu-sumbar.go.id", to="tim@kpu-sumbar.go.id",
                                              subject="Uji", body="Isi pesan.\n.titik di awal baris\n",
                                              created_at=datetime(2025, 5, 6, tzinfo=WIB)))
                transport.end_data()
                transport.verdict()
            finally:
                transport.close()

        with pytest.raises(MailError):  # refused (aiosmtpd then lets smtplib's next mechanism time out)
            send("salah")
        assert inbox.messages == []
        send("sandi-smtp")
        (msg,) = inbox.messages
        assert msg["X-Alur-Outbox-Id"] == "7" and ".titik di awal baris" in msg.get_content()
    finally:
        controller.stop()

    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "nothing.pem"))  # an untrusted certificate is refused
    other = Controller(Inbox(), hostname="127.0.0.1", port=free_port(), tls_context=server_ctx,
                       server_hostname="localhost") if security == "starttls" else \
        Controller(Inbox(), hostname="127.0.0.1", port=free_port(), ssl_context=server_ctx, server_hostname="localhost")
    other.start()
    try:
        transport = SmtpTransport(MailSettings(host="127.0.0.1", port=other.port, security=security, timeout=5))
        with pytest.raises(MailError, match="cannot reach|CERTIFICATE_VERIFY_FAILED|certificate"):
            transport.connect()
    finally:
        other.stop()


def test_a_message_that_cannot_be_built_fails_alone_and_never_holds_up_the_queue(mail_system, tx, smtp, clock):
    """Rows whose content cannot make an e-mail (a case named before the text rule existed with a line break and a
    Bcc header in it; an address no SMTP envelope can carry) come first in the queue: each becomes a failed row
    with its reason, shown on /admin/surel, and every e-mail after them is sent in the same run."""
    from webui import create_app

    inbox, _port = smtp
    make_users(mail_system, tx)
    with_addresses(mail_system, tx, "admin")
    with tx() as s:
        mail_system.people.add_user(s, "root", "rahasia-root", ["admin"])
    now = clock.now()
    poisoned = [{"user_id": None, "to_addr": "admin@kpu-sumbar.go.id", "name": "admin", "kind": "task_ready",
                 "message": "Tugas baru.", "task": "Langkah 2", "title": "Rapat\r\nBcc: x@example.org",
                 "task_id": None, "instance_id": None, "created_at": now - timedelta(minutes=5),
                 "base_url": "https://alur.kpu-sumbar.go.id"},
                {"user_id": None, "to_addr": "bü@kpu-sumbar.go.id", "name": "bu", "kind": "task_ready",
                 "message": "Tugas baru.", "task": "Langkah 2", "title": "Rapat", "task_id": None,
                 "instance_id": None, "created_at": now - timedelta(minutes=5),
                 "base_url": "https://alur.kpu-sumbar.go.id"}]
    with tx() as s:
        outbox.enqueue(s, poisoned)
    case = Case.start(mail_system, tx)
    case.do("tim", "submit")
    case.do("admin", "terima")
    good = [r.id for r in pending(tx) if r.id > 2]
    assert good

    worker = Worker(mail_system)
    report = drain(worker)
    assert report.failed == 2 and report.sent == len(good)
    assert sorted(inbox.ids()) == good  # everything after the poisoned rows went out
    bad = [r for r in pending(tx) if r.id <= 2]
    assert all(r.failed_at is not None and r.sent_at is None for r in bad)
    assert all("cannot be built" in r.last_error for r in bad)
    assert drain(worker).failed == 0  # given up for good: not tried on every cycle

    app = create_app(system=mail_system, config={"SECRET_KEY": "t", "TESTING": True, "WTF_CSRF_ENABLED": False,
                                                 "RATELIMIT_ENABLED": False})
    c = app.test_client()
    assert c.post("/masuk", data={"username": "root", "password": "rahasia-root"}).status_code == 302
    page = c.get("/admin/surel").get_data(as_text=True)
    assert page.count("the message cannot be built") == 2 and "bü@kpu-sumbar.go.id" in page
    worker.close()


MEASURED_MESSAGES = 100


def _ms(values: list[float]) -> str:
    values = sorted(values)
    return (f"median {1000 * values[len(values) // 2]:.3f} ms, p99 {1000 * values[int(0.99 * (len(values) - 1))]:.3f}"
            f" ms, max {1000 * values[-1]:.3f} ms")


def test_the_end_of_data_mark_goes_out_inside_the_commit_and_the_window_is_measured(mail_system, tx, smtp,
                                                                                    monkeypatch):
    """A message is sent twice only when the worker dies after the server has the end-of-data mark and before
    COMMIT reaches the database. The mark goes out inside the commit, after the session's commit hooks, right
    before the driver's commit call; the test measures that window for each of 100 messages (printed with -s):
    from the mark written to the commit called (the driver then writes COMMIT), and to the commit done (an upper
    bound: on PostgreSQL a COMMIT that has left the worker completes without it), and from the server's acceptance
    of the message to the commit done."""
    import time

    postgresql_only(mail_system)

    inbox, _port = smtp
    make_users(mail_system, tx)
    with tx() as s:
        admin = user(s, "admin")
        now = mail_system.clock.now()
        outbox.enqueue(s, [{"user_id": admin.id, "to_addr": "admin@kpu-sumbar.go.id", "name": "Admin",
                            "kind": "overdue", "message": f"Pesan {n}", "task": "Tugas", "title": "Kasus",
                            "task_id": None, "instance_id": None, "created_at": now, "base_url": "https://alur.test"}
                           for n in range(MEASURED_MESSAGES)])
    steps: list[tuple[str, float]] = []
    accepted: list[float] = []
    worker = Worker(mail_system)
    end_data, do_commit, handle = worker.transport.end_data, mail_system.db.dialect.do_commit, inbox.handle_DATA

    def mark_sent():
        end_data()
        steps.append(("end-of-data", time.perf_counter()))

    def commit(dbapi_connection):
        steps.append(("COMMIT", time.perf_counter()))
        do_commit(dbapi_connection)
        steps.append(("committed", time.perf_counter()))

    async def accept(server, session, envelope):
        accepted.append(time.perf_counter())
        return await handle(server, session, envelope)

    monkeypatch.setattr(worker.transport, "end_data", mark_sent)
    monkeypatch.setattr(mail_system.db.dialect, "do_commit", commit)
    monkeypatch.setattr(inbox, "handle_DATA", accept)
    hooks = lambda _session: steps.append(("commit hooks", time.perf_counter()))  # noqa: E731
    from sqlalchemy import event

    event.listen(mail_system.sessions, "before_commit", hooks)
    try:
        assert drain(worker).sent == MEASURED_MESSAGES
    finally:
        event.remove(mail_system.sessions, "before_commit", hooks)
        worker.close()
    assert len(inbox.messages) == len(accepted) == MEASURED_MESSAGES

    sends = []  # per message: (hooks, mark, commit called, commit done)
    for n, (name, at) in enumerate(steps):
        if name == "end-of-data":
            sends.append([steps[n - 1], (name, at), steps[n + 1], steps[n + 2]])
    assert [[name for name, _at in send] for send in sends] == \
        [["commit hooks", "end-of-data", "COMMIT", "committed"]] * MEASURED_MESSAGES
    to_call = [send[2][1] - send[1][1] for send in sends]
    to_done = [send[3][1] - send[1][1] for send in sends]
    acceptance = [send[3][1] - server for send, server in zip(sends, accepted)]
    print(f"\ne-mail duplicate window ({mail_system.db.dialect.name}, {MEASURED_MESSAGES} messages): end-of-data "
          f"written -> commit called: {_ms(to_call)}; -> commit done: {_ms(to_done)}; server accepted the message "
          f"-> commit done (negative: the commit was done first): {_ms(acceptance)}")


# ---------------------------------------------------------------------------------------------- SQLite: leases

TURN_PROBE = """
import sys
from sqlalchemy import text
from engine.db import make_engine
eng = make_engine(sys.argv[1], lock_timeout=0)  # no wait at all: neither for the turn nor in SQLite's busy handler
for _line in sys.stdin:
    try:
        with eng.begin() as conn:               # a write transaction: the turn, then BEGIN IMMEDIATE
            conn.execute(text("SELECT 1"))
        print("free", flush=True)
    except Exception as exc:
        print("taken: " + str(exc).splitlines()[0], flush=True)
"""


class ProbingInbox(Inbox):
    """Asks, while the worker waits for its answer to RCPT TO and to the message, whether another process could
    begin a write transaction on the database at that moment, and whether the worker has a connection out."""

    def __init__(self, database_url: str, engine):
        super().__init__()
        self.engine = engine
        self.probe = subprocess.Popen([sys.executable, "-c", TURN_PROBE, database_url], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parent.parent)
        self.seen: list[tuple[str, str, int]] = []

    def ask(self, when: str) -> None:
        self.probe.stdin.write("?\n")
        self.probe.stdin.flush()
        self.seen.append((when, self.probe.stdout.readline().strip(), self.engine.pool.checkedout()))

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.ask("RCPT TO")
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)

    async def handle_DATA(self, server, session, envelope):
        self.ask("message")
        return await super().handle_DATA(server, session, envelope)

    def close(self) -> None:
        self.probe.stdin.close()
        self.probe.wait(30)
        self.probe.stdout.close()


@pytest.fixture
def probing(system, clock):
    """(inbox, system with e-mail to it): a server that probes the database while the worker talks to it."""
    sqlite_only(system)
    inbox = ProbingInbox(system.settings.database_url, None)
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings = replace(system.settings, mail=MailSettings(host="127.0.0.1", port=controller.port, security="none",
                                                          sender="Alur Medsos <alur@kpu-sumbar.go.id>"))
    mailing = build_system(settings, clock)
    inbox.engine = mailing.db
    yield inbox, mailing
    controller.stop()
    inbox.close()
    mailing.dispose()


def test_on_sqlite_no_transaction_is_open_while_the_smtp_server_is_talked_to(probing, tx):
    """While the worker waits for the server (its answer to RCPT TO, and to the whole message), the worker has no
    connection out and another process begins a write transaction at once (the probe waits neither for the turn
    nor in SQLite's busy handler): a slow mail server stalls no page."""
    inbox, mailing = probing
    make_users(mailing, tx)
    with_addresses(mailing, tx, "admin", "tim2")
    case = Case.start(mailing, tx)
    case.do("tim", "submit")  # admin told of the submission ...
    case.do("admin", "admin_kembalikan")  # ... tim2 of the return (step 1 was tim's: tim2 not told of the case)
    worker = Worker(mailing)
    assert not worker.exactly_once
    assert drain(worker).sent == 2 and len(inbox.ids()) == 2
    assert inbox.seen == [("RCPT TO", "free", 0), ("message", "free", 0)] * 2
    assert all(r.sent_at is not None and r.attempts == 1 for r in pending(tx))
    worker.close()


def test_the_probe_sees_a_transaction_held_through_the_smtp_conversation(probing, tx):
    """The same probe against PostgreSQL's protocol run on SQLite (the row's transaction open while the message is
    sent): the write transaction of the other process is refused, and the worker has its connection out. What
    the test above rules out, shown to be visible."""
    inbox, mailing = probing
    make_users(mailing, tx)
    with_addresses(mailing, tx, "admin")
    Case.start(mailing, tx).do("tim", "submit")
    worker = Worker(mailing)
    worker.exactly_once = True
    assert drain(worker).sent == 1
    when, answer, connections = inbox.seen[0]
    assert when == "RCPT TO" and "database is locked" in answer and connections == 1, inbox.seen
    worker.close()


class Killed(BaseException):
    """The worker dies here (kill -9 leaves the same database and server behind: nothing more is written)."""


def _one_email(mailing, tx) -> None:
    make_users(mailing, tx)
    with_addresses(mailing, tx, "admin")
    Case.start(mailing, tx).do("tim", "submit")


def test_on_sqlite_a_worker_killed_before_the_end_of_the_message_sends_it_later_once(mail_system, tx, smtp, clock,
                                                                                     monkeypatch):
    sqlite_only(mail_system)
    inbox, _port = smtp
    _one_email(mail_system, tx)
    worker = Worker(mail_system)

    def dies():
        raise Killed

    monkeypatch.setattr(worker.transport, "end_data", dies)
    with pytest.raises(Killed):
        worker.cycle()
    assert inbox.messages == []  # the server dropped the message it never saw the end of
    (row,) = pending(tx)
    lease = outbox.lease_for(mail_system.settings.mail)
    assert row.sent_at is None and row.attempts == 1 and row.next_attempt_at == clock.now() + lease  # claimed
    monkeypatch.undo()
    assert worker.cycle().sent == 0  # still claimed by the dead worker
    clock.advance(seconds=lease.total_seconds())
    assert drain(worker).sent == 1 and inbox.ids() == [row.id]
    (row,) = pending(tx)
    assert row.sent_at == clock.now() and row.attempts == 2
    worker.close()


def test_on_sqlite_a_worker_killed_after_the_server_accepted_sends_a_duplicate_with_the_same_message_id(
        mail_system, tx, smtp, clock, monkeypatch):
    """At least once on SQLite: death between the server's acceptance and the record of it leaves the row claimed;
    once the lease runs out it goes again, and the copy carries the same Message-ID."""
    sqlite_only(mail_system)
    inbox, _port = smtp
    _one_email(mail_system, tx)
    worker = Worker(mail_system)
    verdict = worker.transport.verdict

    def accepted_then_dies():
        verdict()
        raise Killed

    monkeypatch.setattr(worker.transport, "verdict", accepted_then_dies)
    with pytest.raises(Killed):
        worker.cycle()
    monkeypatch.undo()
    (row,) = pending(tx)
    assert inbox.ids() == [row.id] and row.sent_at is None
    assert worker.cycle().sent == 0
    clock.advance(seconds=outbox.lease_for(mail_system.settings.mail).total_seconds())
    assert drain(worker).sent == 1
    assert inbox.ids() == [row.id, row.id]
    assert inbox.messages[0]["Message-ID"] == inbox.messages[1]["Message-ID"]
    worker.close()


def test_on_sqlite_an_email_whose_every_attempt_was_cut_off_is_given_up(mail_system, tx, smtp, clock):
    sqlite_only(mail_system)
    inbox, _port = smtp
    _one_email(mail_system, tx)
    with tx() as s:
        s.execute(update(OutboxMessage).values(attempts=outbox.MAX_ATTEMPTS))  # the last lease ran out
    worker = Worker(mail_system)
    assert worker.cycle().failed == 1 and inbox.messages == []
    (row,) = pending(tx)
    assert row.failed_at == clock.now() and "the worker stopped while sending it" in row.last_error
    worker.close()


def test_on_sqlite_a_busy_database_delays_the_record_of_a_sent_email_but_does_not_lose_it(mail_system, tx, smtp,
                                                                                          monkeypatch):
    """Recording "sent" meets a database that stays locked longer than the worker's lock timeout: it is tried
    again (not left to the lease, which would send the message a second time)."""
    from sqlalchemy.exc import OperationalError

    import ops.worker as worker_module

    sqlite_only(mail_system)
    inbox, _port = smtp
    _one_email(mail_system, tx)
    worker = Worker(mail_system)
    record_sent, tries = outbox.record_sent, []

    def locked_once(session, outbox_id, now):
        tries.append(outbox_id)
        if len(tries) == 1:
            raise OperationalError("UPDATE outbox", None, sqlite3.OperationalError("database is locked"))
        return record_sent(session, outbox_id, now)

    monkeypatch.setattr(outbox, "record_sent", locked_once)
    monkeypatch.setattr(worker_module, "RECORD_RETRY", 0.0)
    assert worker.cycle().sent == 1
    (row,) = pending(tx)
    assert tries == [row.id, row.id] and row.sent_at is not None and inbox.ids() == [row.id]
    assert worker.cycle().sent == 0 and len(inbox.messages) == 1
    worker.close()

"""E-mail notifications: messages from the catalogue (process/messages.py, in Bahasa Indonesia) and an SMTP
transport that delivers each outbox row once (PostgreSQL), or at least once (SQLite).

**PostgreSQL: exactly once.** It needs the outbox row and the SMTP server to agree, and neither side can commit for
the other. The worker locks the row and, inside that transaction: sends the envelope and the whole message except its
end-of-data mark (:meth:`SmtpTransport.begin`), writes "sent" to the database (flushed, not committed), writes
the end-of-data mark (:meth:`SmtpTransport.end_data`), and commits at once; only then does it read the
server's verdict (:meth:`SmtpTransport.verdict`) and, on a refusal, mark the row pending or failed again.

- Death before the end-of-data mark: the server drops the unfinished message (RFC 5321 §4.1.1.4 — a message
  counts only once its data has ended) and the transaction rolls back, so the row is sent again: nothing lost.
- Death after COMMIT was sent: PostgreSQL finishes a commit it has received even if the client is gone
  (SQLite's commit is a local write that either happened or not), and the message is complete at the server.
- Left: death in the few microseconds between writing the end-of-data mark and writing COMMIT, or a failing
  COMMIT, which makes the message go again (a duplicate, never a loss; its Message-ID is the same).

Committing before the end-of-data mark would be the other choice, but a client killed after sending COMMIT
does not stop that commit: the window would then span the COMMIT round trip and the WAL flush, milliseconds,
and what it loses is a message.

**SQLite: at least once, and no transaction open while the server is talked to.** On SQLite a write transaction
holds the only writer turn of the database (engine/sqlite_turns.py): a worker holding it through a slow SMTP
server (each step may take the 30 s timeout) would stall every request that writes. So the worker claims the row
in a short transaction of its own (:func:`process.outbox.lease`: the attempt counted, the row due again only when
the lease runs out, longer than sending can take), commits, sends the whole message and reads the verdict outside
any transaction, then records "sent" or the failure in another short transaction. A worker that dies after the
server accepted the message and before that record leaves the row claimed: once the lease runs out it is sent
again, a duplicate with the same Message-ID (the recipient's mail program can tell). One that dies earlier loses
nothing either: the server drops a message it has not seen the end of.
"""
from __future__ import annotations

import re
import smtplib
import ssl
import time
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, parseaddr

from . import messages
from .config import MailSettings

#: The language of e-mails: users have no language of their own stored, and the office works in Bahasa Indonesia.
MAIL_LOCALE = messages.SOURCE_LOCALE


def subject_for(kind: str, *, task: str | None, title: str) -> str:
    """The subject line of a notification of ``kind`` (``mail.subject.<kind>`` in the catalogue)."""
    code = f"mail.subject.{kind}" if messages.known(f"mail.subject.{kind}") else "mail.subject.other"
    return "[Alur Medsos] " + messages.render(code, {"task": task or "-", "title": title}, MAIL_LOCALE)


def body_for(*, name: str, message: str, base_url: str, task_id: str | None, instance_id: int | None) -> str:
    """The text of a notification e-mail: greeting, the notification (``message``, rendered), links, footer."""
    lines = [messages.render("mail.greeting", {"name": name}, MAIL_LOCALE), "", message, ""]
    if task_id:
        lines.append(messages.render("mail.open_task", {"url": f"{base_url}/tugas/{task_id}"}, MAIL_LOCALE))
    if instance_id:
        lines.append(messages.render("mail.open_case", {"url": f"{base_url}/kasus/{instance_id}"}, MAIL_LOCALE))
    lines += ["", "—\n" + messages.render("mail.footer", {}, MAIL_LOCALE) + "\n"]
    return "\n".join(lines)


def sender_domain(sender: str) -> str:
    address = parseaddr(sender)[1]
    return address.rpartition("@")[2] or "localhost"


def build_message(*, outbox_id: int, sender: str, to: str, subject: str, body: str, created_at) -> EmailMessage:
    """The e-mail of one outbox row; its Message-ID is derived from the row, so a copy is recognisable.

    Raises (``ValueError`` and others from the ``email`` package) when the content cannot make an e-mail: it is
    rendered here, completely, so that nothing about the row itself can fail later, while it is being sent."""
    for address in (sender, to):
        envelope = parseaddr(address)[1]
        if not envelope or not envelope.isascii():
            raise ValueError(f"address {address!r} cannot be used in an SMTP envelope")
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(created_at)
    msg["Message-ID"] = f"<alur-outbox-{outbox_id}@{sender_domain(sender)}>"
    msg["X-Alur-Outbox-Id"] = str(outbox_id)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(body)
    msg.as_bytes(policy=SMTP_POLICY)  # what the transport will send: fails now, not in the middle of sending
    return msg


def valid_address(value: str) -> bool:
    try:
        Address(addr_spec=value)
    except (ValueError, IndexError):
        return False
    return "@" in value


class MailError(Exception):
    """Sending failed. ``permanent``: the server refused for good (5xx), retrying will not help."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class SmtpTransport:
    """One reusable SMTP connection (STARTTLS, SSL or plain, with optional login) from :class:`MailSettings`."""

    #: Seconds after a successful command during which the connection is trusted without a NOOP.
    FRESH = 5.0

    def __init__(self, settings: MailSettings):
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None
        self._last_used = 0.0

    # -- connection
    def connect(self) -> None:
        """Open (or check) the connection, so that the part inside a transaction is only the message itself."""
        if self._smtp is not None:
            if time.monotonic() - self._last_used < self.FRESH:
                return  # used a moment ago: a lost connection shows up as an error on MAIL FROM instead
            try:
                if self._smtp.noop()[0] == 250:
                    self._last_used = time.monotonic()
                    return
            except (smtplib.SMTPException, OSError):
                pass
            self.close()
        s = self.settings
        smtp = None
        try:
            if s.security == "ssl":
                smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            smtp.ehlo()
            if s.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if s.username:
                smtp.login(s.username, s.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            smtp.close()
            raise MailError(f"SMTP login refused for {s.username}: {exc.smtp_code} {_text(exc.smtp_error)}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            if smtp is not None:
                smtp.close()
            raise MailError(f"cannot reach the SMTP server {s.host}:{s.port}: {exc}") from exc
        self._smtp = smtp
        self._last_used = time.monotonic()

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

    # -- sending, in two halves around the commit of "sent"
    def begin(self, msg: EmailMessage) -> None:
        """Send the envelope and the whole message except its end-of-data mark.

        Then either :meth:`end` (after committing "sent") or :meth:`abort` (the server discards it)."""
        self.connect()
        smtp = self._smtp
        sender = parseaddr(msg["From"])[1]
        recipient = parseaddr(msg["To"])[1]
        try:
            try:
                reply = smtp.mail(sender)
            except (smtplib.SMTPServerDisconnected, ConnectionError):
                self.abort()  # the server closed an idle connection: one new one
                self.connect()
                smtp = self._smtp
                reply = smtp.mail(sender)
            self._expect(reply, (250,), "MAIL FROM")
            self._expect(smtp.rcpt(recipient), (250, 251), f"RCPT TO {recipient}")
            self._expect(smtp.docmd("DATA"), (354,), "DATA")
            smtp.send(_dot_stuffed(msg.as_bytes(policy=SMTP_POLICY)))
        except MailError:
            self.abort()
            raise
        except (smtplib.SMTPException, OSError) as exc:
            self.abort()
            raise MailError(f"SMTP connection lost: {exc}") from exc

    def end_data(self) -> None:
        """Write the end-of-data mark, without waiting for the verdict (:meth:`verdict`)."""
        smtp = self._smtp
        if smtp is None:
            raise MailError("no message in progress")
        try:
            smtp.send(b".\r\n")
        except (smtplib.SMTPException, OSError) as exc:
            self.abort()
            raise MailError(f"SMTP connection lost before the end of the message: {exc}") from exc

    def verdict(self) -> None:
        """Read the server's answer to the message just ended; :class:`MailError` if it refused it."""
        smtp = self._smtp
        if smtp is None:
            raise MailError("no message in progress")
        try:
            self._expect(smtp.getreply(), (250,), "the message")
            self._last_used = time.monotonic()
        except MailError:
            self.abort()
            raise
        except (smtplib.SMTPException, OSError) as exc:
            self.abort()
            raise MailError(f"SMTP connection lost after the message: {exc}") from exc

    def abort(self) -> None:
        """Drop the connection without ending the message: the server discards what it received."""
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

    @staticmethod
    def _expect(reply: tuple[int, bytes], codes: tuple[int, ...], what: str) -> None:
        code, text = reply
        if code not in codes:
            raise MailError(f"SMTP server refused {what}: {code} {_text(text)}", permanent=500 <= code < 600)


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


_LEADING_DOT = re.compile(rb"^\.", re.MULTILINE)


def _dot_stuffed(data: bytes) -> bytes:
    """RFC 5321 §4.5.2 transparency, with the final CRLF the end-of-data mark follows."""
    data = _LEADING_DOT.sub(b"..", data)
    return data if data.endswith(b"\r\n") else data + b"\r\n"

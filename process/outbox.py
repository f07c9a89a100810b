"""The transactional outbox of e-mail notifications: rows written with the change that causes them, sent by the
worker (see :mod:`process.mail` for how a row and the SMTP server agree on "sent once" on PostgreSQL, and on
"sent at least once" with a lease on SQLite)."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from engine import eventlog, wakeup

from .config import MailSettings
from .mail import MailError, body_for, build_message, subject_for
from .models import OutboxMessage

#: After this many failed attempts a message is given up (kept, with its last error, for the administrator).
MAX_ATTEMPTS = 8


def retry_delay(attempts: int) -> timedelta:
    """1, 2, 4 … minutes after each failed attempt, at most 6 hours."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 360))


#: Built once, at table level (the ORM's bulk-insert path costs more than the insert).
_INSERT = insert(OutboxMessage.__table__)


def enqueue(session: Session, rows: list[dict]) -> None:
    """Insert outbox rows in bulk. Each dict: user_id, to_addr, name, kind, message, task, title, task_id,
    instance_id, created_at, base_url."""
    if not rows:
        return
    wakeup.soon(session)  # due at once: the worker sends it without waiting for its next planned wake-up
    session.connection().execute(_INSERT, [{
        "user_id": r["user_id"], "to_addr": r["to_addr"], "kind": r["kind"], "instance_id": r["instance_id"],
        "subject": subject_for(r["kind"], task=r["task"], title=r["title"])[:300],
        "body": body_for(name=r["name"], message=r["message"], base_url=r["base_url"], task_id=r["task_id"],
                         instance_id=r["instance_id"]),
        "created_at": r["created_at"], "next_attempt_at": r["created_at"], "attempts": 0,
    } for r in rows])


def _pending(now: datetime):
    return (OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None),
            OutboxMessage.next_attempt_at <= now)


def lock_next(session: Session, now: datetime) -> OutboxMessage | None:
    """The oldest message due for sending, locked for this transaction (PostgreSQL: other workers skip it)."""
    stmt = (select(OutboxMessage).where(*_pending(now)).order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(1).with_for_update(skip_locked=True))
    return session.execute(stmt).scalar_one_or_none()


#: SMTP round trips one message may need, each waiting at most the transport's timeout before it fails: a new
#: connection (connect and greeting, EHLO, STARTTLS, EHLO, AUTH LOGIN's two) and the message (MAIL FROM, RCPT TO,
#: DATA, the data, the end-of-data mark and its verdict), with room to spare.
LEASE_ROUND_TRIPS = 16


def lease_for(mail: MailSettings) -> timedelta:
    """How long a row claimed for sending on SQLite stays the claimer's (:func:`lease`): longer than sending one
    message can take before the transport gives up (8 minutes with the default 30 s timeout)."""
    return timedelta(seconds=LEASE_ROUND_TRIPS * mail.timeout)


def lease(row: OutboxMessage, until: datetime) -> None:
    """Claim a due row for one attempt (SQLite, committed before the SMTP server is talked to): the attempt is
    counted now, and the row is due again at ``until``, for another worker, should this one never say how it went
    (killed while sending). :func:`record_sent` or :func:`record_failure` (``counted=True``) ends the claim."""
    row.attempts += 1
    row.next_attempt_at = until


def record_sent(session: Session, outbox_id: int, now: datetime) -> OutboxMessage:
    """The server accepted the message of a row claimed with :func:`lease` (its attempt is counted already)."""
    row = session.get(OutboxMessage, outbox_id, with_for_update=True)
    row.sent_at = now
    row.last_error = None
    return row


def message_of(row: OutboxMessage, mail: MailSettings):
    """The e-mail of a row, or :class:`MailError` (permanent) when the row's content cannot make one: a subject
    with a line break, an address the SMTP envelope cannot carry, anything the ``email`` package refuses. Such a
    row is recorded as failed with the reason and never holds up the rows after it."""
    try:
        return build_message(outbox_id=row.id, sender=mail.sender, to=row.to_addr, subject=row.subject,
                             body=row.body, created_at=row.created_at)
    except Exception as exc:  # noqa: BLE001 - whatever the content makes the email package raise
        raise MailError(f"the message cannot be built: {type(exc).__name__}: {exc}", permanent=True) from exc


def mark_sent(row: OutboxMessage, now: datetime) -> None:
    row.sent_at = now
    row.attempts += 1
    row.last_error = None


def record_failure(session: Session, outbox_id: int, now: datetime, error: MailError, *,
                   counted: bool = False) -> OutboxMessage:
    """Note a failed attempt: pending again after a back-off, or given up when permanent or tried too often.

    ``counted``: the attempt was already counted by :func:`mark_sent` (the server refused after the commit) or
    :func:`lease`."""
    row = session.get(OutboxMessage, outbox_id, with_for_update=True)
    row.sent_at = None
    if not counted:
        row.attempts += 1
    row.last_error = str(error)[:2000]
    if error.permanent or row.attempts >= MAX_ATTEMPTS:
        row.failed_at = now
    else:
        row.next_attempt_at = now + retry_delay(row.attempts)
    return row


def next_attempt_at(session: Session) -> datetime | None:
    return session.execute(select(func.min(OutboxMessage.next_attempt_at))
                           .where(OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None))).scalar()


def counts(session: Session) -> dict[str, int]:
    pending = session.execute(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None))).scalar()
    failed = session.execute(select(func.count()).select_from(OutboxMessage)
                             .where(OutboxMessage.failed_at.is_not(None))).scalar()
    sent = session.execute(select(func.count()).select_from(OutboxMessage)
                           .where(OutboxMessage.sent_at.is_not(None))).scalar()
    return {"pending": pending, "sent": sent, "failed": failed}


def problems(session: Session, limit: int = 100) -> list[OutboxMessage]:
    """Messages not (yet) delivered: given up first, then those waiting for a retry, newest first."""
    stmt = (select(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
            .order_by(OutboxMessage.failed_at.is_(None), OutboxMessage.id.desc()).limit(limit))
    return list(session.execute(stmt).scalars())


def requeue(session: Session, outbox_id: int, now: datetime, *, actor: str) -> OutboxMessage | None:
    """Send a given-up (or waiting) message again now, on an administrator's request (recorded in the event
    log). None when there is no such undelivered message."""
    row = session.get(OutboxMessage, outbox_id, with_for_update=True)
    if row is None or row.sent_at is not None:
        return None
    row.failed_at = None
    row.next_attempt_at = now
    row.attempts = 0
    eventlog.append(session, type="email_requeued", at=now, actor=actor, instance_id=row.instance_id,
                    data={"outbox_id": row.id, "to": row.to_addr})
    return row

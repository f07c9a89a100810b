"""Logins and API tokens as rows, so that they can be ended server-side.

A browser's session cookie and an API token each carry a random secret (``open_session``); the ``user_session``
row is keyed by its SHA-256. Every request looks its secret up in the one statement that loads the user with their
roles, groups and team (``session_user``): a row that has ended, or a user who is not active, lets nothing in. The
row's ``last_seen_at`` is written at most every ``TOUCH_EVERY``; in a reading transaction (a GET page) that write is
done after it, in a short write transaction of its own (``engine.db.write_after_reading``). Ending rows:
``end_session`` (logout), ``end_sessions_of`` (password reset, deactivation: every row of the user).
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, insert, or_, select, update
from sqlalchemy.orm import Session, joinedload

from engine.db import write_after_reading

from .models import User, UserSession

WEB = "web"
API = "api"
KINDS = (WEB, API)
#: ``last_seen_at`` is written at most this often per session (a write per request would cost every request).
TOUCH_EVERY = timedelta(minutes=5)
#: Ended rows, and token rows older than this, are removed when their user opens a new session.
KEEP_ENDED = timedelta(days=7)
#: More than any token lives (12 hours); see ``webui.auth.TOKEN_MAX_AGE``.
KEEP_TOKENS = timedelta(days=7)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def open_session(session: Session, user: User, kind: str, now: datetime) -> str:
    """A new session of ``user`` (``web`` or ``api``); returns its secret, which only the client keeps."""
    if kind not in KINDS:
        raise ValueError(f"unknown session kind {kind!r}")
    # Tidy this user's rows that can never let anyone in again (bounded by the user's own logins).
    session.execute(delete(UserSession).where(
        UserSession.user_id == user.id,
        or_(UserSession.ended_at < now - KEEP_ENDED,
            (UserSession.kind == API) & (UserSession.created_at < now - KEEP_TOKENS))))
    secret = secrets.token_urlsafe(32)
    session.execute(insert(UserSession).values(id=digest(secret), user_id=user.id, kind=kind, created_at=now,
                                               last_seen_at=now))
    return secret


#: Built once: every request runs it. The user, their roles and groups (joined) and team (joined by the
#: relationship), and their session's last-seen time, through the session row's primary key.
_SESSION_USER = (select(User, UserSession.last_seen_at)
                 .join(UserSession, UserSession.user_id == User.id)
                 .options(joinedload(User.role_rows), joinedload(User.groups))
                 .where(UserSession.id == bindparam("sid"), UserSession.kind == bindparam("kind"),
                        UserSession.ended_at.is_(None), User.active.is_(True)))
_TOUCH = (update(UserSession).where(UserSession.id == bindparam("sid"))
          .values(last_seen_at=bindparam("now")).execution_options(synchronize_session=False))


def session_user(session: Session, secret: str, kind: str, now: datetime) -> User | None:
    """The active user of an open session with that secret, or None."""
    if not secret or len(secret) > 200:
        return None
    sid = digest(secret)
    row = session.execute(_SESSION_USER, {"sid": sid, "kind": kind}).unique().one_or_none()
    if row is None:
        return None
    user, last_seen = row
    if now - last_seen >= TOUCH_EVERY:
        # A page that only reads stays a reading transaction (no SQLite writer turn): the touch is written after it.
        write_after_reading(session, lambda writing: writing.execute(_TOUCH, {"sid": sid, "now": now}))
    return user


def end_session(session: Session, secret: str, now: datetime, reason: str) -> bool:
    """End one session (logout); False when it had ended already or never existed."""
    result = session.execute(update(UserSession).where(UserSession.id == digest(secret or ""),
                                                       UserSession.ended_at.is_(None))
                             .values(ended_at=now, end_reason=reason).execution_options(synchronize_session=False))
    return result.rowcount > 0


def end_sessions_of(session: Session, user_id: int, now: datetime, reason: str, *, keep: str | None = None) -> int:
    """End every open session and token of a user, but the one whose secret is ``keep``; how many ended."""
    where = [UserSession.user_id == user_id, UserSession.ended_at.is_(None)]
    if keep:
        where.append(UserSession.id != digest(keep))
    result = session.execute(update(UserSession).where(*where).values(ended_at=now, end_reason=reason)
                             .execution_options(synchronize_session=False))
    return result.rowcount

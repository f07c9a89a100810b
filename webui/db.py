"""One database transaction per request: opened on first use, committed when the response is a
success, rolled back otherwise (and always on an exception).

A GET, HEAD or OPTIONS request only reads, so its transaction is a reading one (``System.readers``): on SQLite it
takes no writer turn and never waits for a writer (engine/sqlite_turns.py). A view that answers GET and writes all
the same is marked :func:`writes` and gets a write transaction; one that finds out only while it runs calls
:func:`write_instead`. Bookkeeping a read brings about (a login's last-seen
time) is written after the reading transaction, in a short write transaction of its own
(``engine.db.write_after_reading``); a failure there is logged and never spoils the page already answered.
tests/test_sqlite_readers.py walks every GET page as each role and fails when one takes the writer turn."""
from __future__ import annotations

import logging

from flask import Flask, current_app, g, request
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from engine.db import is_reading, run_writes_after_reading, writes_after_reading
from process.system import System

log = logging.getLogger(__name__)

#: Methods whose requests read only (RFC 9110 §9.2.1 "safe" methods).
READING_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def system() -> System:
    return current_app.extensions["alur"]


def writes(view):
    """Mark a view that writes although it answers GET: its request gets a write transaction."""
    view.alur_writes = True
    return view


def reading_request() -> bool:
    if request.method not in READING_METHODS:
        return False
    view = current_app.view_functions.get(request.endpoint)
    return not getattr(view, "alur_writes", False)


def db() -> Session:
    if "db" not in g:
        s = system()
        if reading_request():
            g.db = s.readers()
        else:
            g.db = s.sessions()
            g.alur_writing = True
    return g.db


def write_instead() -> Session:
    """For a GET view that finds it has to write after all (the task page claims a task for the only person who
    could hold it, when they open it): the request's reading transaction ends and a write transaction takes its
    place; the view loads again what it writes through. What the reading one loaded stays usable as loaded
    (detached: the session is closed, not rolled back, so nothing is expired)."""
    session = g.get("db")
    if session is None or not is_reading(session):
        return db()
    later = writes_after_reading(session)
    session.close()
    g.db = writing = system().sessions()
    g.alur_writing = True
    for work in later:
        work(writing)
    return writing


def discard() -> None:
    """Roll back the request's transaction now, when there is one: an error answer writes nothing, and the page
    that says so may read again (the layout counts unread notifications) even after a statement failed, which
    leaves a PostgreSQL transaction unable to run another until it ends."""
    session = g.get("db")
    if session is not None:
        session.rollback()


def _writes_after_reading(session: Session) -> None:
    try:
        run_writes_after_reading(session, system().sessions)
    except SQLAlchemyError as exc:  # bookkeeping only (done on a later request): the page stands
        log.warning("bookkeeping after a reading request not written: %s", exc)


def init_app(app: Flask) -> None:
    @app.after_request
    def _finish(response):
        session = g.get("db")
        if session is None:
            return response
        if response.status_code >= 400:
            session.rollback()
            return response
        try:
            session.commit()  # the event chain head is locked here, last (engine/eventlog.py)
        except SQLAlchemyError as exc:
            session.rollback()
            from .errors import conflict_response, database_error_response

            if isinstance(exc, OperationalError):  # could not commit now (a lock timeout, the server gone): 503
                return database_error_response(exc)
            log.exception("commit failed")
            return conflict_response()
        return response

    @app.teardown_request
    def _close(exc):
        session = g.pop("db", None)
        if session is not None:
            if exc is not None:
                session.rollback()
            session.close()
            _writes_after_reading(session)

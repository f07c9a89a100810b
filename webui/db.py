"""One database transaction per request: opened on first use, committed when the response is a
success, rolled back otherwise (and always on an exception)."""
from __future__ import annotations

import logging

from flask import Flask, current_app, g
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from process.system import System

log = logging.getLogger(__name__)


def system() -> System:
    return current_app.extensions["alur"]


def db() -> Session:
    if "db" not in g:
        g.db = system().sessions()
    return g.db


def discard() -> None:
    """Roll back the request's transaction now, when there is one: an error answer writes nothing, and the page
    that says so may read again (the layout counts unread notifications) even after a statement failed, which
    leaves a PostgreSQL transaction unable to run another until it ends."""
    session = g.get("db")
    if session is not None:
        session.rollback()


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

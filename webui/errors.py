"""Typed errors → HTTP, in one place. JSON under /api/, an HTML page elsewhere; never a 500 for bad input."""
from __future__ import annotations

import logging

from flask import Flask, jsonify, make_response, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from engine.errors import (
    AlreadyClaimed,
    EngineError,
    ExecutionFailed,
    InvalidData,
    InvalidDefinition,
    MigrationRefused,
    NotFound,
    StaleInstance,
    TaskNotReady,
)
from process.errors import BadRequest, Conflict, NotClaimed, NotPermitted, TooLarge
from process.forms import FormInvalid

from . import bodies, i18n
from . import db as request_db
from .problems import problems_json

log = logging.getLogger(__name__)

#: The HTTP status of each error class; the most specific class wins. The message comes from the error's code
#: (process/messages.py, in the user's language: webui/i18n.py), never from here.
STATUS = [
    (TooLarge, 413),
    (NotFound, 404),
    (NotPermitted, 403),
    (NotClaimed, 409),
    (Conflict, 409),
    (AlreadyClaimed, 409),
    (TaskNotReady, 409),
    (StaleInstance, 409),
    (InvalidDefinition, 422),
    (MigrationRefused, 422),
    (InvalidData, 422),
    (ExecutionFailed, 422),
    (BadRequest, 422),
]

HTTP_MESSAGES = {
    400: _l("Permintaan tidak valid."),
    401: _l("Silakan masuk terlebih dahulu."),
    403: _l("Anda tidak berhak membuka halaman ini."),
    404: _l("Halaman tidak ditemukan."),
    405: _l("Metode tidak diizinkan."),
    409: _l("Terjadi konflik dengan perubahan lain. Muat ulang lalu coba lagi."),
    413: _l("Berkas terlalu besar."),
    422: _l("Data tidak dapat diproses."),
    429: _l("Terlalu banyak percobaan. Tunggu sebentar lalu coba lagi."),
    500: _l("Terjadi kesalahan pada server."),
    503: _l("Server sedang sibuk atau basis data tidak dapat dihubungi. Tidak ada yang tersimpan; coba lagi "
            "sebentar lagi."),
}

#: PostgreSQL SQLSTATEs of a transaction that lost a race with another one: 409, reload and try again (the other's
#: change may alter what the person wants to do).
CONFLICT_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock detected
#: Every other database failure means the database could not serve the request in time: no connection free in the
#: pool, the server down or restarting, a row lock (or SQLite's write turn) held longer than the lock timeout
#: (55P03 lock_not_available, "database is locked"), a statement cancelled by the statement timeout (57014
#: query_canceled). Nobody changed anything the request relied on, the request itself is not wrong, and it wrote
#: nothing: 503 with Retry-After, try the same again. A lock timeout used to count as a lost race (409), but it
#: is no race: the holder is busy (or stuck), the same request will go through once it lets go.
#: Seconds a client should wait before sending the same request again.
RETRY_AFTER = 2


def wants_json() -> bool:
    """The API, and the pages' own scripts (they ask for JSON only), get errors as JSON; browsers get a page."""
    if request.path.startswith("/api/"):
        return True
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"


def error_response(status: int, code: str, message: str, fields: list[dict] | None = None,
                   params: dict | None = None, kind: str | None = None):
    """The answer to a refused request: ``{"error": {"code", "type", "message", "params"[, "fields"]}}`` as JSON,
    else the error page. ``code`` names the message (process/messages.py), ``params`` are the values in it
    (JSON-friendly), for clients that write their own text; ``type`` is the kind of error (the error class's own
    code: ``stale_instance``, ``not_claimed`` ...), the same for every message of that kind."""
    request_db.discard()
    if wants_json():
        body = {"error": {"code": code, "type": kind or code, "message": str(message),
                          "params": plain(params or {})}}
        if fields:
            body["error"]["fields"] = fields
        return jsonify(body), status
    return render_template("errors/error.html", status=status, code=code, message=message, fields=fields), status


def plain(value):
    """Params as JSON: nested messages, lists and texts as they are; anything else (a datetime) as text."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def request_too_large() -> TooLarge:
    """For a body over its endpoint's limit (webui/bodies.py): refused before it was read when its length was declared
    (that length is shown), else as soon as reading passed the limit (the size is not known)."""
    kind = bodies.body_kind(request.endpoint)
    _cap, limit = bodies.limits(kind)
    size = request.content_length
    what = {"upload": "file", "diagram": "diagram"}.get(kind, "request")
    return TooLarge("request body over its limit", size=size if size and size > limit else None, limit=limit,
                    kind=what)


def engine_error_response(exc: EngineError, fields: list[dict] | None = None):
    """The answer to an engine or SOP error: its status, its message in the user's language, its code and params."""
    status, message = engine_error_message(exc)
    return error_response(status, exc.code, message, fields, exc.params, type(exc).code)


def status_of(exc: EngineError) -> int:
    return next((status for cls, status in STATUS if isinstance(exc, cls)), 422)


def engine_error_message(exc: EngineError) -> tuple[int, str]:
    """The HTTP status of ``exc`` and its message in the user's language."""
    return status_of(exc), i18n.error_text(exc)


def form_errors(exc: FormInvalid) -> list[dict]:
    return [{"field": e.field, "code": e.code, "message": i18n.field_text(e), "params": plain(dict(e.params))}
            for e in exc.errors]


def conflict_response():
    # A response object (not a tuple): also returned by the after-request hook that commits (webui/db.py).
    return make_response(error_response(409, "conflict", HTTP_MESSAGES[409]))


def database_error_response(exc: Exception):
    """The answer to a failed database operation of a request (whose transaction is rolled back): 409 for a lost
    race, 503 with Retry-After for anything that makes the database unable to serve it now (see above)."""
    if isinstance(exc, (IntegrityError, StaleDataError)):
        # Two requests raced for the same row (a register number, a claim, a case's version): the loser gets a
        # clear 409 and can simply try again; nothing half-written stays (rollback).
        log.info("write conflict: %s", exc)
        return conflict_response()
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None)
    if sqlstate in CONFLICT_SQLSTATES:
        log.info("write conflict: %s", exc)
        return conflict_response()
    log.warning("database unavailable: %s", exc)
    response = make_response(error_response(503, "unavailable", HTTP_MESSAGES[503]))
    response.headers["Retry-After"] = str(RETRY_AFTER)
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(EngineError)
    def _engine_error(exc: EngineError):
        fields = None
        if isinstance(exc, (InvalidDefinition, MigrationRefused)):
            fields = problems_json(exc.problems)
        return engine_error_response(exc, fields)

    @app.errorhandler(FormInvalid)
    def _form_invalid(exc: FormInvalid):
        return error_response(422, "form_invalid", i18n.text("form_invalid"), form_errors(exc))

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):
        return error_response(400, "csrf", _l("Formulir kedaluwarsa atau tidak sah. Muat ulang halaman lalu "
                                              "kirim kembali."))

    @app.errorhandler(IntegrityError)
    @app.errorhandler(StaleDataError)
    @app.errorhandler(PoolTimeout)
    @app.errorhandler(OperationalError)
    def _database_error(exc):
        # The request's transaction is rolled back (webui/db.py): never a 500 for these.
        return database_error_response(exc)

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc: RequestEntityTooLarge):
        return engine_error_response(request_too_large())

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        status = exc.code or 500
        message = HTTP_MESSAGES.get(status, exc.description)
        return error_response(status, exc.name.lower().replace(" ", "_"), message)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return error_response(500, "internal", HTTP_MESSAGES[500])

"""Typed errors → HTTP, in one place. JSON under /api/, an HTML page elsewhere; never a 500 for bad input."""
from __future__ import annotations

import logging

from flask import Flask, jsonify, make_response, render_template, request
from flask_babel import get_locale
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
from process.errors import BadRequest, NotClaimed, NotPermitted, TooLarge
from process.forms import FormInvalid

from . import bodies, refusals
from . import db as request_db
from .problems import problems_json

log = logging.getLogger(__name__)

#: (status, message in the user's language) per error class; the most specific class wins.
STATUS = [
    (TooLarge, 413, _l("Berkas terlalu besar.")),
    (NotFound, 404, _l("Data yang diminta tidak ditemukan.")),
    (NotPermitted, 403, _l("Anda tidak berhak melakukan tindakan ini.")),
    (NotClaimed, 409, _l("Tugas ini harus Anda ambil terlebih dahulu, atau sedang dipegang orang lain.")),
    (AlreadyClaimed, 409, _l("Tugas ini sudah diambil orang lain.")),
    (TaskNotReady, 409, _l("Tugas ini sudah tidak menunggu tindakan.")),
    (StaleInstance, 409, _l("Kasus ini baru saja diubah orang lain. Muat ulang halaman lalu coba lagi.")),
    (InvalidDefinition, 422, _l("Diagram tidak dapat diterima.")),
    (MigrationRefused, 422, _l("Kasus tidak dapat dipindahkan ke versi itu.")),
    (InvalidData, 422, _l("Data tidak dapat diterima.")),
    (ExecutionFailed, 422, _l("Proses tidak dapat dilanjutkan dengan data ini.")),
    (BadRequest, 422, _l("Permintaan tidak dapat diproses.")),
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


#: What was too large, in the user's language (process.errors.TooLarge.kind).
TOO_LARGE_WHAT = {"image": _l("Foto ini"), "file": _l("Berkas ini"), "diagram": _l("Diagram ini"),
                  "request": _l("Isi permintaan ini")}


def size_text(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{max(1, n // 1024)} KB"


def too_large_message(size: int | None, limit: int, kind: str) -> str:
    """One message for everything over its limit: the size when it is known, and the limit."""
    what = TOO_LARGE_WHAT.get(kind, TOO_LARGE_WHAT["request"])
    if size is None:
        return _l("%(what)s terlalu besar: lebih dari %(limit)s.", what=what, limit=size_text(limit))
    return _l("%(what)s terlalu besar: %(size)s; batasnya %(limit)s.", what=what, size=size_text(size),
              limit=size_text(limit))


def error_response(status: int, code: str, message: str, fields: list[dict] | None = None):
    request_db.discard()
    if wants_json():
        body = {"error": {"code": code, "message": str(message)}}
        if fields:
            body["error"]["fields"] = fields
        return jsonify(body), status
    return render_template("errors/error.html", status=status, code=code, message=message, fields=fields), status


def request_too_large_message() -> str:
    """For a body over its endpoint's limit (webui/bodies.py): refused before it was read when its length was declared
    (that length is shown), else as soon as reading passed the limit (the size is not known)."""
    kind = bodies.body_kind(request.endpoint)
    _cap, limit = bodies.limits(kind)
    size = request.content_length
    what = {"upload": "file", "diagram": "diagram"}.get(kind, "request")
    return str(too_large_message(size if size and size > limit else None, limit, what))


def engine_error_message(exc: EngineError) -> tuple[int, str]:
    if isinstance(exc, TooLarge):
        return 413, str(too_large_message(exc.size, exc.limit, exc.kind))
    for cls, status, generic in STATUS:
        if isinstance(exc, cls):
            translated = refusals.error_message(exc)  # an input rule's refusal, in the user's language
            if translated:
                return status, translated
            # An error whose message is written for the person acting (in Bahasa Indonesia) says so itself
            # (``for_people``); every other message is for logs, and the person gets the class's own text.
            if getattr(exc, "for_people", False) and str(get_locale()) == "id":
                return status, exc.message
            return status, str(generic)
    return 422, str(HTTP_MESSAGES[422])


def form_errors(exc: FormInvalid) -> list[dict]:
    return [{"field": e.field, "code": e.code, "message": refusals.field_message(e)} for e in exc.errors]


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
        status, message = engine_error_message(exc)
        fields = None
        if isinstance(exc, (InvalidDefinition, MigrationRefused)):
            fields = problems_json(exc.problems)
        return error_response(status, exc.code, message, fields)

    @app.errorhandler(FormInvalid)
    def _form_invalid(exc: FormInvalid):
        return error_response(422, "form_invalid", str(exc), form_errors(exc))

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
        return error_response(413, "too_large", request_too_large_message())

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        status = exc.code or 500
        message = HTTP_MESSAGES.get(status, exc.description)
        return error_response(status, exc.name.lower().replace(" ", "_"), message)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return error_response(500, "internal", HTTP_MESSAGES[500])

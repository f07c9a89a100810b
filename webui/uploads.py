"""Resumable uploads over HTTP: the tus 1.0.0 protocol (core, creation, termination, expiration;
https://tus.io/protocols/resumable-upload), for the task forms' file fields (Uppy's tus plugin, frontend/uploads.js).

    OPTIONS /berkas/unggah              what this server speaks (Tus-Version, Tus-Extension, Tus-Max-Size)
    POST    /berkas/unggah              announce an upload: Upload-Length, Upload-Metadata (filename, filetype, task,
                                        field) → 201, Location
    HEAD    /berkas/unggah/<id>         where it stands: Upload-Offset, Upload-Length, Upload-Expires
    PATCH   /berkas/unggah/<id>         a piece at Upload-Offset (application/offset+octet-stream) → 204, the new
                                        Upload-Offset; with the last byte the file is checked and stored
    DELETE  /berkas/unggah/<id>         give it up
    GET     /berkas/unggah/<id>         (JSON, not tus) the stored file once complete: id, name, thumbnail URL

POST on an upload's URL with ``X-HTTP-Method-Override: PATCH`` (or DELETE) is that method, as the protocol allows.
Each person sees only their own uploads (anyone else's is 404); staff only may upload (403, as for /berkas). The
session cookie authenticates, the page's CSRF token comes in ``X-CSRFToken`` (Flask-WTF checks POST, PATCH and
DELETE). Refusals are JSON ``{"error": {...}}`` with a message in the user's language, as for /berkas.

Hand-written: the Flask tus packages on PyPI (Flask-Tus, Flask-Tus-Cont) are unmaintained since 2020 and keep
their state in Redis; here the state is a database row and the partial file (process/resumable.py), and the
finished file goes through the application's own checks and ownership rules.
"""
from __future__ import annotations

import base64
import binascii
import logging
from datetime import UTC
from email.utils import format_datetime

from flask import Blueprint, jsonify, make_response, request, url_for
from flask_login import login_required
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge

from engine.errors import EngineError
from process import resumable
from process.errors import BadRequest, NotPermitted, TooLarge
from process.resumable import Busy, OffsetMismatch, UploadGone

from . import errors
from .access import me, my_lanes
from .bodies import accepts_body
from .db import db, system
from .files import file_json

log = logging.getLogger(__name__)

bp = Blueprint("uploads", __name__)

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,termination,expiration"
OCTETS = "application/offset+octet-stream"
STATUS = [(TooLarge, 413), (UploadGone, 404), (OffsetMismatch, 409), (Busy, 423), (NotPermitted, 403),
          (BadRequest, 422)]


class _Refused(BadRequest):
    """A request that does not follow the protocol (400, or the status given)."""

    def __init__(self, status: int, message: str, code: str, **params):
        super().__init__(message, code=code, **params)
        self.status = status


def _error(exc: EngineError):
    status = getattr(exc, "status", None) or next((s for cls, s in STATUS if isinstance(exc, cls)), 422)
    message = errors.engine_error_message(exc)[1]
    response = jsonify({"error": {"code": exc.code, "type": type(exc).code, "message": str(message),
                                  "params": errors.plain(exc.params)}})
    response.status_code = status
    if status == 412:
        response.headers["Tus-Version"] = TUS_VERSION
    return response


@bp.errorhandler(EngineError)
def _engine_error(exc: EngineError):
    return _error(exc)


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc):
    return _error(errors.request_too_large())


@bp.after_request
def _tus_headers(response):
    response.headers["Tus-Resumable"] = TUS_VERSION
    response.headers["Cache-Control"] = "no-store"
    return response


def _settings():
    return system().settings


def _largest() -> int:
    settings = _settings()
    return resumable.largest_upload(settings.max_image_bytes, settings.max_other_bytes)


def _staff():
    """The user, when they may upload at all (a lane of the SOP's steps); auditors and the like get 403."""
    user = me()
    if not my_lanes():
        raise NotPermitted("only staff upload files", code="upload.staff_only")
    return user


def _check_version() -> None:
    if request.headers.get("Tus-Resumable") != TUS_VERSION:
        raise _Refused(412, "unsupported tus version", "upload.tus_version")


def _number(name: str, code: str) -> int:
    raw = (request.headers.get(name) or "").strip()
    if not raw.isdigit() or len(raw) > 18:
        raise _Refused(400, f"{name} missing or not a whole number", code)
    return int(raw)


def metadata(header: str | None) -> dict[str, str]:
    """``Upload-Metadata``: comma-separated ``key base64(value)`` pairs (a key alone has an empty value)."""
    out: dict[str, str] = {}
    for pair in (header or "").split(","):
        pair = pair.strip()
        if not pair:
            continue
        key, _sep, value = pair.partition(" ")
        try:
            out[key] = base64.b64decode(value.strip(), validate=True).decode("utf-8") if value.strip() else ""
        except (binascii.Error, UnicodeDecodeError):
            raise _Refused(400, "unreadable Upload-Metadata", "upload.metadata") from None
    return out


def _expires(upload) -> str:
    return format_datetime(resumable.expires(_settings().files_dir, upload).astimezone(UTC), usegmt=True)


@bp.route("/berkas/unggah", methods=["OPTIONS"], provide_automatic_options=False)
@login_required
def options():
    response = _empty(204)
    response.headers.update({"Tus-Version": TUS_VERSION, "Tus-Extension": EXTENSIONS,
                             "Tus-Max-Size": str(_largest())})
    return response


def _empty(status: int):
    return make_response("", status)


@bp.post("/berkas/unggah")
@login_required
def create():
    """Announce an upload. The length is checked against the limits before a byte is sent (413)."""
    user = _staff()
    _check_version()
    if request.headers.get("Upload-Defer-Length"):
        raise _Refused(400, "Upload-Defer-Length is not supported", "upload.length_missing")
    length = _number("Upload-Length", "upload.length_missing")
    meta = metadata(request.headers.get("Upload-Metadata"))
    settings = _settings()
    upload = resumable.create(db(), settings.files_dir, owner=user.actor, length=length,
                              filename=meta.get("filename") or meta.get("name") or "",
                              filetype=meta.get("filetype") or meta.get("type") or "",
                              task_id=meta.get("task"), field=meta.get("field"), now=system().clock.now(),
                              max_image_bytes=settings.max_image_bytes, max_other_bytes=settings.max_other_bytes)
    db().flush()
    response = _empty(201)
    response.headers["Location"] = url_for(".resource", upload_id=upload.id)
    response.headers["Upload-Expires"] = _expires(upload)
    return response


def _find(upload_id: str):
    """The user's upload, looked up in a short reading transaction of its own: a piece may take minutes to arrive,
    and no write transaction (on SQLite: the writer's turn) is held while it does."""
    user = me()
    with system().readers() as session:
        return resumable.find(session, upload_id, user.actor)


@bp.route("/berkas/unggah/<uid:upload_id>", methods=["GET", "POST", "PATCH", "DELETE"])
@login_required
@accepts_body("upload")
def resource(upload_id: str):
    method = request.method
    if method == "POST":
        _staff()  # before anything else: the auditor gets 403 whatever the method said
        method = (request.headers.get("X-HTTP-Method-Override") or "").upper()
        if method not in ("PATCH", "DELETE"):
            return errors.error_response(405, "method_not_allowed", errors.HTTP_MESSAGES[405])
    if method == "PATCH":
        return _patch(upload_id)
    if method == "DELETE":
        return _delete(upload_id)
    if method == "HEAD":
        return _head(upload_id)
    return _status(upload_id)


def _head(upload_id: str):
    _check_version()
    upload = _find(upload_id)
    response = _empty(200)
    response.headers["Upload-Offset"] = str(resumable.offset(_settings().files_dir, upload))
    response.headers["Upload-Length"] = str(upload.length)
    if upload.file_id is None:
        response.headers["Upload-Expires"] = _expires(upload)
    return response


def _status(upload_id: str):
    """Not tus: the page's script asks here for the stored file once the upload is complete."""
    upload = _find(upload_id)
    offset = resumable.offset(_settings().files_dir, upload)
    record = resumable.finished_file(db(), upload)
    return jsonify({"id": upload.id, "offset": offset, "length": upload.length,
                    "file": file_json(record) if record is not None else None})


def _patch(upload_id: str):
    _staff()
    _check_version()
    if request.mimetype != OCTETS:
        raise _Refused(415, "wrong content type", "upload.content_type")
    at = _number("Upload-Offset", "upload.offset_missing")
    upload = _find(upload_id)
    settings = _settings()
    written = resumable.append(settings.files_dir, upload, at, request.stream.read,
                               declared=request.content_length,
                               disconnected=(ClientDisconnected, ConnectionError, TimeoutError))
    if written.cut_off:
        log.info("upload %s cut off at %s of %s bytes", upload.id, written.offset, upload.length)
    if written.complete:
        checked = resumable.check_complete(settings.files_dir, upload, max_image_bytes=settings.max_image_bytes,
                                           max_other_bytes=settings.max_other_bytes,
                                           max_image_pixels=settings.max_image_pixels)
        session = db()
        row = resumable.find(session, upload.id, upload.owner)
        resumable.store_complete(session, settings.files_dir, row, checked, now=system().clock.now())
        session.flush()
    response = _empty(204)
    response.headers["Upload-Offset"] = str(written.offset)
    if not written.complete:
        response.headers["Upload-Expires"] = _expires(upload)
    return response


def _delete(upload_id: str):
    _staff()
    _check_version()
    session = db()
    upload = resumable.find(session, upload_id, me().actor)
    resumable.terminate(session, _settings().files_dir, upload)
    session.flush()
    return _empty(204)

"""Uploads and file serving. Files are checked by content (process/files.py), stored outside the web root
under random names, and served only to logged-in users who may see the case they belong to (or, before
they belong to one, to the person who uploaded them). Anyone else gets 404: existence is not revealed."""
from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path

from flask import Blueprint, abort, jsonify, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import login_required
from PIL import UnidentifiedImageError
from werkzeug.exceptions import RequestEntityTooLarge

from engine.errors import EngineError
from engine.models import Instance
from process.casefile import can_view_case
from process.errors import BadRequest
from process.files import file_path, store_file, thumbnail
from process.models import FileRecord

from . import errors
from .access import lane_map, me, my_lanes
from .bodies import accepts_body
from .db import db, system

log = logging.getLogger(__name__)

bp = Blueprint("files", __name__)

STATIC_DIR = Path(__file__).with_name("static")
#: Icons shown instead of a thumbnail for files that are not photos.
ICONS = {"video": "img/berkas-video.svg", "document": "img/berkas-dokumen.svg"}
DEFAULT_ICON = "img/berkas.svg"
#: Served files never run anything, even if a browser were to sniff them as HTML.
FILE_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
CACHE = "private, max-age=3600"


def _json_error(status: int, code: str, message: str, params: dict | None = None, kind: str | None = None):
    """Always JSON (the page's upload script reads it), in the shape of webui/errors.py error_response."""
    return jsonify({"error": {"code": code, "type": kind or code, "message": str(message),
                              "params": errors.plain(params or {})}}), status


def _engine_error(exc: EngineError):
    status, message = errors.engine_error_message(exc)
    return _json_error(status, exc.code, message, exc.params, type(exc).code)


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc):
    return _engine_error(errors.request_too_large())


@bp.post("/berkas")
@login_required
@accepts_body("upload")
def upload():
    """One file (multipart field ``file``) → 201 with its id, or a JSON error (403, 413, 422)."""
    user = me()
    if not my_lanes():
        return _json_error(403, "forbidden", _("Hanya petugas yang mengerjakan tugas yang dapat mengunggah berkas."))
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _json_error(422, "no_file", _("Tidak ada berkas yang dikirim (kolom 'file')."))
    settings = system().settings
    data = upload.read()  # the request's limit bounds it (webui/bodies.py)
    try:
        # Over its kind's limit (a photo over ALUR_MAX_IMAGE_MB): TooLarge, a 413 with the size and the limit.
        record = store_file(db(), settings.files_dir, data, upload.filename, uploaded_by=user.actor,
                            now=system().clock.now(), max_image_bytes=settings.max_image_bytes,
                            max_other_bytes=settings.max_other_bytes,
                            max_image_pixels=settings.max_image_pixels)
        db().flush()
    except BadRequest as exc:
        return _engine_error(exc)
    return jsonify(file_json(record)), 201


def file_json(record: FileRecord) -> dict:
    """A stored upload as the page's script takes it (this answer, and a finished resumable upload's)."""
    return {"id": record.id, "sha256": record.sha256, "name": record.original_name, "kind": record.kind,
            "mime": record.mime, "size": record.size,
            "url": url_for("files.download", file_id=record.id),
            "thumbnail_url": url_for("files.thumbnail", file_id=record.id)}


def visible_file(file_id: str) -> FileRecord:
    """The file if this user may see it: attached to a case they may view, or their own unattached upload."""
    try:
        uuid.UUID(file_id)
    except ValueError:
        abort(404)
    record = db().get(FileRecord, file_id)
    if record is None:
        abort(404)
    user = me()
    if record.instance_id is not None:
        instance = db().get(Instance, record.instance_id)
        allowed = instance is not None and can_view_case(user, instance, lane_map())
    else:
        allowed = record.uploaded_by == user.actor
    if not allowed:
        abort(404)
    return record


def _private(response):
    response.headers["Cache-Control"] = CACHE
    response.headers.pop("Expires", None)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = FILE_CSP
    return response


@bp.get("/berkas/<uid:file_id>")
@login_required
def download(file_id: str):
    record = visible_file(file_id)
    path = file_path(system().settings.files_dir, record)
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype=record.mime, as_attachment=record.kind != "image",
                         download_name=record.original_name, etag=record.sha256, conditional=True)
    return _private(response)


def _thumbnail_path(record: FileRecord) -> Path:
    return system().settings.files_dir / f"{record.stored_name}.thumb.jpg"


@bp.get("/berkas/<uid:file_id>/thumb", endpoint="thumbnail")
@login_required
def thumbnail_view(file_id: str):
    record = visible_file(file_id)
    if record.kind == "image":
        thumb = _thumbnail_path(record)
        if not thumb.is_file():
            source = file_path(system().settings.files_dir, record)
            if not source.is_file():
                abort(404)
            try:
                data = thumbnail(source.read_bytes(), max_pixels=system().settings.max_image_pixels)
            except (BadRequest, OSError, ValueError, SyntaxError, UnidentifiedImageError):
                log.warning("no thumbnail for file %s", record.id)
                data = None
            if data is not None:
                tmp = thumb.with_name(f"{thumb.name}.{uuid.uuid4().hex}.part")
                tmp.write_bytes(data)
                os.replace(tmp, thumb)
        if thumb.is_file():
            return _private(send_file(thumb, mimetype="image/jpeg", etag=f"{record.sha256}-thumb", conditional=True))
    icon = STATIC_DIR / ICONS.get(record.kind, DEFAULT_ICON)
    return _private(send_file(icon, mimetype="image/svg+xml", conditional=True))


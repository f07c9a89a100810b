"""No request carries a NUL character (U+0000) into the application.

PostgreSQL's text cannot hold NUL: a query string, a form field or a JSON string with one, used in any statement
(a search box, a login name, a delegation target, a case title), ends in a DataError. SQLite would store it, so the
same input would also mean different things on the two databases. One check at the door, before any view: a query
value or name, a form value or name, or a string (or key) anywhere in a JSON body with a NUL is a 400 that says so.
The per-field text rules (process/inputs.py) still apply to what they cover, with their own messages; this is the
floor beneath them for every other value a view may read.
"""
from __future__ import annotations

from typing import Any

from flask import Flask, request
from flask_babel import lazy_gettext as _l

from .bodies import body_kind

NUL = "\x00"
MESSAGE = _l("Permintaan ini berisi karakter NUL (U+0000), yang tidak dapat disimpan. Hapus karakter itu lalu "
             "kirim lagi.")


def _has_nul(value: Any, depth: int = 0) -> bool:
    if isinstance(value, str):
        return NUL in value
    if depth > 64:  # JSON nesting this deep is refused by the views anyway; do not recurse without end
        return False
    if isinstance(value, dict):
        return any(_has_nul(k, depth + 1) or _has_nul(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v, depth + 1) for v in value)
    return False


#: Bodies read as a form: anything else is left to its view (a diagram is raw XML, read as it is; parsing it as a
#: form here would consume it, and reading it before the view checks who asks would answer 413 before 403).
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def carries_nul() -> bool:
    """Whether the current request's query, form or JSON body has a NUL anywhere (files are not looked into)."""
    form = request.form if request.mimetype in FORM_TYPES and body_kind(request.endpoint) != "diagram" else None
    for multi in (request.args, form):
        if multi is None:
            continue
        for key, values in multi.lists():
            if _has_nul(key) or any(_has_nul(v) for v in values):  # a multipart part may come without a name
                return True
    if request.is_json and body_kind(request.endpoint) != "diagram":
        try:
            document = request.get_json(silent=True)
        except RecursionError:  # nested past the parser's depth: the view refuses it as not a JSON object
            return False
        return _has_nul(document)
    return False


def init_app(app: Flask) -> None:
    from .errors import error_response

    @app.before_request
    def _refuse_nul():
        if carries_nul():
            return error_response(400, "nul_character", MESSAGE)
        return None

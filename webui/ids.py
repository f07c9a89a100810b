"""The one id rule of the web layer: what a number naming a row (a case, a version, a user, a page, a step) and
a task or file id may look like, wherever a request carries one.

- In a **path**: the URL converters ``<id:...>`` (an integer 1..2147483647) and ``<uid:...>`` (a task or file id,
  i.e. a UUID as SpiffWorkflow and the upload store write it) are registered by the app factory. Anything else does
  not match the rule, so the answer is a 404, before a view or the database sees it.
- In a **query string**: :func:`query_id` (page numbers included): absent or empty gives the default, anything
  else that is not an id is a 422 naming the parameter.
- In a **JSON body or form**: :func:`body_ids`: a 422 naming the field.

2147483647 is the largest value of PostgreSQL's ``integer`` (SQLite's holds more): every id column fits it, so an
id outside the range names nothing, and is never sent to the database (where it would be a DataError on
PostgreSQL, an OverflowError on SQLite beyond 2**63).
"""
from __future__ import annotations

import re
from typing import Any

from flask import Flask, request
from werkzeug.routing import BaseConverter

from process.forms import FieldError, FormInvalid

MAX_ID = 2**31 - 1


def _up_to(limit: int) -> str:
    """A regular expression matching exactly the decimal numbers 1..``limit`` (no sign, no leading zero).

    The range is in the pattern itself, not checked after a match: a path converter that refuses a value it matched
    makes Werkzeug answer 405 instead of 404 when another method's rule has the same path."""
    top = str(limit)
    shorter = [f"[1-9][0-9]{{0,{len(top) - 2}}}"] if len(top) > 1 else []
    same_length = []
    for i, digit in enumerate(top):
        low = 1 if i == 0 else 0
        if int(digit) > low:
            rest = len(top) - i - 1
            same_length.append(f"{top[:i]}[{low}-{int(digit) - 1}]" + (f"[0-9]{{{rest}}}" if rest else ""))
    return "(?:" + "|".join([*shorter, *same_length, top]) + ")"


#: An id as text: 1..2147483647, no sign, no leading zero, no spaces.
ID_TEXT = _up_to(MAX_ID)
#: A task or file id as text: a UUID in its canonical 8-4-4-4-12 form (either case; stored lower-case).
UID_TEXT = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_ID_RE = re.compile(ID_TEXT)
_UID_RE = re.compile(UID_TEXT)

#: For the OpenAPI document: the same bounds as JSON Schema.
ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
UID_SCHEMA = {"type": "string", "pattern": f"^{UID_TEXT}$", "minLength": 36, "maxLength": 36,
              "description": "UUID, mis. 3f2b9c1e-8a41-4c5d-9e0f-1a2b3c4d5e6f"}


def as_id(value: Any) -> int | None:
    """``value`` as an id (an int, or its text: digits without sign or leading zero), or None if it is none."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        if not _ID_RE.fullmatch(value):
            return None
        value = int(value)
    if not isinstance(value, int):
        return None
    return value if 1 <= value <= MAX_ID else None


def as_uid(value: Any) -> str | None:
    """``value`` as a task or file id (lower-case), or None."""
    if isinstance(value, str) and _UID_RE.fullmatch(value):
        return value.lower()
    return None


class IdConverter(BaseConverter):
    """``<id:name>``: an integer id 1..2147483647; anything else does not match (404)."""

    regex = ID_TEXT
    part_isolating = True

    def to_python(self, value: str) -> int:
        return int(value)  # the pattern holds only 1..MAX_ID

    def to_url(self, value: Any) -> str:
        return str(int(value))


class UidConverter(BaseConverter):
    """``<uid:name>``: a task or file id (UUID text); anything else does not match (404)."""

    regex = UID_TEXT
    part_isolating = True

    def to_python(self, value: str) -> str:
        return value.lower()

    def to_url(self, value: Any) -> str:
        return str(value)


def init_app(app: Flask) -> None:
    """Register the converters; call before any blueprint is registered."""
    app.url_map.converters["id"] = IdConverter
    app.url_map.converters["uid"] = UidConverter


def _id_problem(name: str) -> FieldError:
    return FieldError.of("id", name, name, max=MAX_ID)


def query_id(name: str, default: int | None = None) -> int | None:
    """The id (or page or step number) in query parameter ``name``; ``default`` when it is absent or empty,
    a 422 naming the parameter when it is anything but a number 1..2147483647."""
    raw = request.args.get(name)
    if raw is None or not raw.strip():
        return default
    number = as_id(raw.strip())
    if number is None:
        raise FormInvalid([_id_problem(name)])
    return number


def query_procedure(known, default: str | None) -> str | None:
    """The procedure in ``?prosedur=<process id>`` when it is one of ``known``, else ``default``: a procedure not (or
    no longer) deployed is no error, the page shows its default."""
    wanted = (request.args.get("prosedur") or "").strip()[:200]
    return wanted if wanted and wanted in set(known) else default


def body_ids(field: str, values: Any, *, max_items: int, text: bool = False) -> list[int]:
    """The ids in a JSON body's list ``field`` (JSON integers; ``text=True``: a form's strings), duplicates
    dropped, in order; a 422 naming the field when it is not a list of 1..``max_items`` ids."""
    problem = FieldError.of("id", field, field, "field.id_list", max=MAX_ID, n=max_items)
    if not isinstance(values, list) or not 1 <= len(values) <= max_items:
        raise FormInvalid([problem])
    ids: list[int] = []
    for value in values:
        if isinstance(value, str) != text:
            raise FormInvalid([problem])
        number = as_id(value.strip() if text else value)
        if number is None:
            raise FormInvalid([problem])
        if number not in ids:
            ids.append(number)
    return ids

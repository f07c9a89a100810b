"""Keyset pages of a list: an opaque cursor, a page size with a maximum, and the total.

A list is in a total, stable order (its key, rows without a value last, then the id: process/sorting.py). A page
is the first ``per_page`` rows *after* the last row of the page before, which the cursor names: the values the
list orders by and the id of that row. Reading a page then costs the same however deep it lies (an index is read
from the cursor on, never skipped through as an OFFSET would), and a row inserted or removed meanwhile neither
hides another row nor shows one twice.

The cursor is urlsafe base64 (without padding) of a small JSON object: ``v`` (the format's version), ``l`` (which
list in which order it continues: a cursor of one order is refused by another), ``k`` (the values). It is not a
secret and not signed: a changed but well-formed cursor only starts a page elsewhere in the same list, under the
same filters and permissions. Anything else (not base64, not JSON, another version or list, a value of the wrong
kind) is a 422 with the code ``cursor`` on the field ``cursor``.
"""
from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import and_, or_

from .forms import FieldError, FormInvalid

VERSION = 1
#: A cursor longer than this is refused before it is decoded.
MAX_CURSOR = 1000
#: The page size of a list when none is asked for, and the most one may ask for.
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 200
#: ... of the case list, whose rows carry their waiting steps.
MAX_CASES_PER_PAGE = 100
#: Characters of a cursor (urlsafe base64 without padding).
_CURSOR_RE = re.compile(r"^[A-Za-z0-9_-]+$")
_TEXT_RE = re.compile(r"^[^\x00-\x1f\x7f]{0,200}$")
#: Ids and whole numbers a cursor may hold (a 32-bit column on PostgreSQL refuses more).
_INT_LIMIT = 2**31

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: its rows, how many the whole list holds, and the cursor of the next page (None: last)."""

    items: list[T]
    total: int
    next_cursor: str | None
    per_page: int


def refused(field: str = "cursor") -> FormInvalid:
    return FormInvalid([FieldError.of("cursor", field, field, "field.cursor")])


def _dump(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("a cursor cannot hold a value that is not finite")
    return value


def encode(view: str, values: Sequence[Any]) -> str:
    """The cursor of the row whose order values (key values, then its id) are ``values`` in list ``view``."""
    raw = json.dumps({"v": VERSION, "l": view, "k": [_dump(v) for v in values]}, separators=(",", ":"),
                     ensure_ascii=True)
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode("ascii")


def _load(value: Any, kind: str) -> Any:
    """``value`` as the kind the list expects; ValueError otherwise. Kinds: ``b`` (yes/no), ``t`` (an aware
    date and time), ``d`` (a date), ``i`` (a whole number of 32 bits; ``I``: 64 bits), ``s`` (a short text), ``n``
    (a finite number); a trailing ``?``: or nothing (null)."""
    if kind.endswith("?"):
        if value is None:
            return None
        kind = kind[:-1]
    if kind == "b" and isinstance(value, bool):
        return value
    if kind == "t" and isinstance(value, dict) and set(value) == {"t"} and isinstance(value["t"], str):
        parsed = datetime.fromisoformat(value["t"][:40])
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            raise ValueError("a naive date and time")
        parsed.astimezone(UTC)  # out of range (year 1 at +14:00) raises here
        return parsed
    if kind == "d" and isinstance(value, dict) and set(value) == {"d"} and isinstance(value["d"], str):
        return date.fromisoformat(value["d"][:12])
    if kind == "i" and isinstance(value, int) and not isinstance(value, bool) and -_INT_LIMIT < value < _INT_LIMIT:
        return value
    if kind == "I" and isinstance(value, int) and not isinstance(value, bool) and -2**63 < value < 2**63:
        return value
    if kind == "s" and isinstance(value, str) and _TEXT_RE.match(value):
        return value
    if kind == "n" and isinstance(value, (int, float)) and not isinstance(value, bool) \
            and math.isfinite(value) and abs(value) < 1e300:
        return value
    raise ValueError(f"not a {kind}")


def looks_like_cursor(text: str) -> bool:
    """Whether ``text`` is made of a cursor's characters and not too long (whether it decodes is another matter)."""
    return len(text) <= MAX_CURSOR and bool(_CURSOR_RE.match(text))


def decode(cursor: str | None, view: str, kinds: Sequence[str], field: str = "cursor") -> tuple | None:
    """The values a cursor of list ``view`` holds, each of its kind (see :func:`_load`); None for no cursor (the
    first page). A cursor that is not one of this list is a :class:`FormInvalid` (422)."""
    if not cursor:
        return None
    if len(cursor) > MAX_CURSOR or not _CURSOR_RE.match(cursor):
        raise refused(field)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw.decode("utf-8"))
        if not isinstance(data, dict) or data.get("v") != VERSION or data.get("l") != view:
            raise ValueError("another list or version")
        values = data.get("k")
        if not isinstance(values, list) or len(values) != len(kinds):
            raise ValueError("another shape")
        return tuple(_load(v, k) for v, k in zip(values, kinds, strict=True))
    except (ValueError, TypeError, OverflowError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise refused(field) from None


def beyond(columns: Sequence, values: Sequence, descending: bool = False):
    """``(columns) > (values)`` in the list's order (``<`` when ``descending``), none of them null, written so that
    the first column bounds an index range: ``c1 >= v1 AND (c1 > v1 OR (rest) > (rest))``."""
    first, value = columns[0], values[0]
    strictly = first < value if descending else first > value
    if len(columns) == 1:
        return strictly
    at_least = first <= value if descending else first >= value
    return and_(at_least, or_(strictly, beyond(columns[1:], values[1:], descending)))


def after_nullable(key, id_column, cursor: tuple, descending: bool):
    """Rows after the cursor ``(key is null, key, id)`` in the order ``key IS NULL, key, id`` (both in the
    direction ``descending`` says): rows with a key first, then those without one."""
    missing, value, ident = cursor
    if missing:
        return and_(key.is_(None), id_column < ident if descending else id_column > ident)
    return or_(key.is_(None), and_(key.is_not(None), beyond((key, id_column), (value, ident), descending)))


def page_range(start: int, shown: int, total: int | None) -> tuple[int, int]:
    """The first and last row numbers (from 1) of a page showing ``shown`` rows from row ``start`` (as the page's
    address says; rows added or removed meanwhile may move it: it is kept within the total, when it is known)."""
    if not shown:
        return 0, 0
    last = max(start, 1) + shown - 1
    if total is not None:
        last = min(last, max(total, shown))
    return last - shown + 1, last

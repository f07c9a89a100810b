"""Saved filters: a user's named filter and order of the inbox or the case list, shown as quick links.

A filter is the page's query parameters (``PARAMS``), checked when it is saved: a parameter the page does not
read is refused, and so is a value the page would refuse (an unknown tab or order, an unreadable date). Names are
unique per user and list; a user keeps at most :data:`MAX_PER_VIEW` per list."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.errors import NotFound

from .errors import BadRequest, Conflict
from .inbox import SCOPES
from .models import SavedFilter, User
from .sorting import parse_sort

VIEWS = ("inbox", "cases")
#: The query parameters each list reads (as the HTML pages name them).
PARAMS = {"inbox": ("tab", "q", "dari", "sampai", "sort", "order"),
          "cases": ("q", "prosedur", "sort", "order")}
MAX_NAME = 80
MAX_PER_VIEW = 30
_LIMITS = {"q": 100, "prosedur": 200}
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Saved:
    id: int
    view: str
    name: str
    params: dict[str, str]
    created_at: datetime


def _saved(row: SavedFilter) -> Saved:
    return Saved(row.id, row.view, row.name, json.loads(row.params or "{}"), row.created_at)


def check_view(view: Any) -> str:
    if view not in VIEWS:
        raise BadRequest(f"unknown view {str(view)[:40]!r}", code="saved_filter.view_unknown", value=str(view)[:40])
    return view


def clean_params(view: str, params: Any) -> dict[str, str]:
    """The parameters of a filter of ``view``, checked; empty ones dropped."""
    if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
        raise BadRequest("filter parameters are not an object of strings", code="saved_filter.params_not_object")
    allowed = PARAMS[view]
    for name in params:
        if name not in allowed:
            raise BadRequest(f"unknown parameter {str(name)[:40]!r}", code="saved_filter.param_unknown",
                             name=str(name)[:40], options=list(allowed))
    out = {k: v.strip() for k, v in params.items() if v.strip()}
    for name, value in out.items():
        if len(value) > _LIMITS.get(name, 40) or _CONTROL_RE.search(value) or not _valid(name, value):
            raise BadRequest(f"invalid value of {name}", code="saved_filter.param_invalid", name=name)
    parse_sort(view, out.get("sort"), out.get("order"), default="deadline" if view == "inbox" else "created")
    return {k: out[k] for k in allowed if k in out}


def _valid(name: str, value: str) -> bool:
    if name == "tab":
        return value in SCOPES
    if name in ("dari", "sampai"):
        try:
            date.fromisoformat(value)
        except ValueError:
            return False
        return len(value) == 10
    return True


def filters(session: Session, user: User, view: str | None = None) -> list[Saved]:
    """The user's saved filters (of one list when ``view`` is given), by name."""
    stmt = select(SavedFilter).where(SavedFilter.user_id == user.id)
    if view is not None:
        stmt = stmt.where(SavedFilter.view == view)
    return [_saved(r) for r in session.execute(stmt.order_by(SavedFilter.view, SavedFilter.name,
                                                             SavedFilter.id)).scalars()]


def save(session: Session, user: User, view: Any, name: Any, params: Any, now: datetime) -> Saved:
    """Save a filter of ``view`` under ``name`` (a 409 when the user has one of that name for the list)."""
    view = check_view(view)
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > MAX_NAME or _CONTROL_RE.search(name):
        raise BadRequest("filter name missing or invalid", code="saved_filter.name_required", n=MAX_NAME)
    cleaned = clean_params(view, params)
    mine = (SavedFilter.user_id == user.id, SavedFilter.view == view)
    if session.execute(select(SavedFilter.id).where(*mine, SavedFilter.name == name)).first() is not None:
        raise Conflict(f"a filter named {name!r} exists", code="saved_filter.duplicate", name=name)
    if session.execute(select(func.count()).select_from(SavedFilter).where(*mine)).scalar_one() >= MAX_PER_VIEW:
        raise BadRequest("too many saved filters", code="saved_filter.too_many", n=MAX_PER_VIEW)
    row = SavedFilter(user_id=user.id, view=view, name=name, params=json.dumps(cleaned, ensure_ascii=False),
                      created_at=now)
    session.add(row)
    session.flush()
    return _saved(row)


def delete(session: Session, user: User, filter_id: int) -> Saved:
    """Delete one of the user's own filters (another's is as unknown as a missing one: 404)."""
    row = session.get(SavedFilter, filter_id)
    if row is None or row.user_id != user.id:
        raise NotFound(f"no saved filter {filter_id}", code="saved_filter.not_found")
    saved = _saved(row)
    session.delete(row)
    session.flush()
    return saved

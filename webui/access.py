"""Who is logged in, and named access rules for views.

Roles say what the application lets one do (process owner, auditor, administrator); groups say which lanes of the
diagrams one works (process/declarations.py LaneMap), and from them who opens cases, sees which cases, the records and
the audit pages. The lane map and the user's lanes are read once per request (``flask.g``).
"""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import abort, g
from flask_login import UserMixin, current_user, login_required

from process import casefile, permissions
from process.declarations import LaneMap
from process.models import User

from .db import db, system


class LoginUser(UserMixin):
    """Flask-Login's view of a :class:`process.models.User` (the process layer knows no Flask)."""

    def __init__(self, user: User, session_id: str):
        self.user = user
        #: The secret of this login's ``user_session`` row (process/sessions.py): what the session cookie carries.
        self.session_id = session_id

    def get_id(self) -> str:
        return self.session_id

    @property
    def is_active(self) -> bool:
        return self.user.active


def me() -> User:
    return current_user.user


def my_session_id() -> str:
    """The secret of this request's login (the session row it opens)."""
    return current_user.session_id


def lane_map() -> LaneMap:
    """Which groups work which lane, as the stored versions say (read once per request)."""
    if "alur_lane_map" not in g:
        g.alur_lane_map = system().rules.lane_map(db())
    return g.alur_lane_map


def lanes_of(user: User) -> frozenset[str]:
    """The lanes ``user``'s groups work."""
    return lane_map().lanes_of(user)


def my_lanes() -> frozenset[str]:
    """The lanes the logged-in user (or the API token's) works."""
    return lanes_of(acting_user())


def acting_user() -> User:
    """The session's user, or the bearer token's on the API."""
    from flask import request

    if request.blueprint == "api":
        return g.api_user
    return me()


def may_start_case(user: User | None = None) -> bool:
    """Whether the user works the lane of the start event of one of the procedures (opens its cases)."""
    user, lanes = user or acting_user(), lane_map()
    return any(permissions.may_start(user, lanes, key) for key in lanes.starts)


def sees_all_cases(user: User | None = None) -> bool:
    """Whether the user sees every case (an application role, or a lane that is not team-scoped)."""
    return casefile.case_scope(user or acting_user(), lane_map()) == casefile.ALL


def sees_records(user: User | None = None) -> bool:
    """The records of a period cover every team's cases: auditors, administrators and who sees every case through
    the lanes they work (not the process owner's role alone)."""
    user = user or acting_user()
    if user.roles & {"auditor", "admin"}:
        return True
    lanes = lanes_of(user)
    return bool(lanes) and not lane_map().team_only(lanes)


def sees_audit(user: User | None = None) -> bool:
    """Auditors, administrators, and who works a lane told of every late step (the SOP's editor-in-chief)."""
    user = user or acting_user()
    return bool(user.roles & {"auditor", "admin"}) or lane_map().hears_of_overdue(lanes_of(user))


def access_required(check: Callable[[], bool]):
    """Only users for whom ``check()`` holds; 403 otherwise."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not check():
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def role_required(*roles: str):
    """Only users holding at least one of ``roles``; 403 otherwise."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not (me().roles & set(roles)):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator

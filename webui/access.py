"""Who is logged in, and named access rules for views."""
from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import UserMixin, current_user, login_required

from process.models import User


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

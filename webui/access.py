"""Who is logged in, and named access rules for views."""
from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import UserMixin, current_user, login_required

from process.models import User


class LoginUser(UserMixin):
    """Flask-Login's view of a :class:`process.models.User` (the process layer knows no Flask)."""

    def __init__(self, user: User):
        self.user = user

    def get_id(self) -> str:
        # The password hash's tail is part of the id: a password reset ends every other session.
        return f"{self.user.id}:{self.user.password_hash[-12:]}"

    @property
    def is_active(self) -> bool:
        return self.user.active


def me() -> User:
    return current_user.user


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

"""Errors of the SOP layer; messages are for the person acting, in Bahasa Indonesia."""
from __future__ import annotations

from engine.errors import EngineError


class SopError(EngineError):
    """An error of the SOP layer: its message is written for the person acting, in Bahasa Indonesia."""

    for_people = True


class NotPermitted(SopError):
    """The user's role, team or history does not allow this action (HTTP 403)."""

    code = "not_permitted"


class NotClaimed(SopError):
    """The task must be held by the user first (HTTP 409)."""

    code = "not_claimed"


class SelfApproval(NotPermitted):
    code = "self_approval"


class BadRequest(SopError):
    """Input that is not a form error but still wrong (HTTP 422)."""

    code = "bad_request"


class TooLarge(BadRequest):
    """A file or request body over its limit (HTTP 413). ``size`` in bytes, None when it is not known (reading stopped
    at the limit); ``kind``: image, file, diagram or request."""

    code = "too_large"

    def __init__(self, message: str, *, size: int | None, limit: int, kind: str = "file"):
        super().__init__(message, size=size, limit=limit, kind=kind)
        self.size, self.limit, self.kind = size, limit, kind

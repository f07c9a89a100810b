"""Errors of the SOP layer. Like the engine's, each carries a code and parameters (engine/errors.py); the texts
are in process/messages.py."""
from __future__ import annotations

from engine.errors import EngineError


class SopError(EngineError):
    """An error of the SOP layer: a rule of the SOP or of this application refused what the person asked."""


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
    at the limit); ``kind``: image, file, diagram or request. The message says both sizes (``upload.too_large``,
    or ``upload.too_large_unknown`` without the size)."""

    code = "too_large"

    def __init__(self, message: str, *, size: int | None, limit: int, kind: str = "file"):
        params = {"what": {"code": f"upload.what.{kind}"}, "limit_bytes": limit}
        if size is not None:
            params["size_bytes"] = size
        super().__init__(message, code="upload.too_large" if size is not None else "upload.too_large_unknown",
                         **params)
        self.size, self.limit, self.kind = size, limit, kind


class Conflict(SopError):
    """What was asked clashes with what exists (HTTP 409), e.g. a second saved filter of the same name."""

    code = "conflict"

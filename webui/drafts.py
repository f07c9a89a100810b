"""Unsent form drafts (webui/static/js/drafts.js keeps them in the browser's localStorage, per user and form).

The server only says when a draft is done with: a form that was accepted names its draft key here, and the next
page rendered (after the redirect) carries the keys on ``<body data-drafts-done>``, whereupon the script drops
them. A submission refused by validation is re-rendered without this, so its draft stays."""
from __future__ import annotations

from flask import session

_SESSION_KEY = "drafts_done"


def task_key(task_id: str) -> str:
    """The draft key of a task's form (``data-draft`` on the form)."""
    return f"task:{task_id}"


def new_case_key(procedure: str) -> str:
    """The draft key of a procedure's new-case form."""
    return f"new-case:{procedure}"


def done(key: str) -> None:
    """The form of ``key`` was accepted: its draft goes once the next page loads."""
    keys = [k for k in session.get(_SESSION_KEY, []) if k != key]
    session[_SESSION_KEY] = [*keys, key][-20:]


def take_done() -> list[str]:
    """The keys of the drafts to drop, said once (the base template calls this)."""
    return session.pop(_SESSION_KEY, None) or []

"""One family of typed errors; the web layer maps each to an HTTP status in one place.

An error is never a sentence for people. It carries a ``code`` (dotted and specific, e.g. ``task.not_ready``) and
the ``params`` its message needs; process/messages.py holds the one catalogue of codes and renders them in the
reader's language, for the web pages, the API and the command line alike. ``str(exc)`` (the first argument) is
an English line for logs. A class's own ``code`` (``not_found``, ``task_not_ready`` ...) is the generic one: the
catalogue has a text for each, used when an error names no specific code."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""

    code = "engine_error"

    def __init__(self, message: str = "", *, code: str | None = None, **params: Any):
        super().__init__(message or code or self.code)
        #: The log line (English). People read the message of ``code`` (without one: the class's generic text).
        self.message = message
        if code is not None:
            self.code = code
        self.params: dict[str, Any] = params


class NotFound(EngineError):
    code = "not_found"


class TaskNotReady(EngineError):
    code = "task_not_ready"


class StaleInstance(EngineError):
    """Someone else saved the instance since it was loaded (optimistic lock)."""

    code = "stale_instance"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a diagram (or with moving a case to another version of it).

    Never a sentence: the element it belongs to (None: the whole diagram), a ``code`` and the values its message
    needs (``params``: texts from the diagram, numbers, ids). The web layer renders it in the user's language through
    one table of codes (webui/problems.py). ``element_name`` and ``element_type`` (the BPMN tag, e.g. ``userTask``)
    are filled in from the diagram so that the message can name the element the way the owner sees it."""

    element_id: str | None
    code: str
    params: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    element_name: str | None = None
    element_type: str | None = None
    #: "error" stops a deploy; "warning" is shown and does not.
    severity: str = "error"

    def named(self, name: str | None, type_: str | None) -> Problem:
        return replace(self, element_name=self.element_name or name, element_type=self.element_type or type_)

    def as_dict(self) -> dict[str, Any]:
        return {"element_id": self.element_id, "element_name": self.element_name,
                "element_type": self.element_type, "code": self.code, "params": dict(self.params),
                "severity": self.severity}


class InvalidDefinition(EngineError):
    """A diagram that cannot be deployed. ``problems`` lists every :class:`Problem` found."""

    code = "invalid_definition"

    def __init__(self, message: str, problems: list[Problem] | None = None, *, code: str = "invalid_definition"):
        super().__init__(message, code=code)
        self.problems: list[Problem] = list(problems or [])

    def __str__(self) -> str:
        if not self.problems:
            return self.message
        lines = "; ".join(f"{p.element_id or '-'}: {p.code} {p.params}" for p in self.problems)
        return f"{self.message}: {lines}"


class MigrationRefused(EngineError):
    """A case that cannot move to another version; ``problems`` say why (codes, as for a diagram)."""

    code = "migration_refused"

    def __init__(self, message: str, problems: list[Problem], *, code: str = "migration_refused", **params: Any):
        super().__init__(message, code=code, **params)
        self.problems = list(problems)


class ExecutionFailed(EngineError):
    """The workflow could not advance (e.g. an expression failed at run time)."""

    code = "execution_failed"


class ChainBroken(EngineError):
    code = "chain_broken"


class AlreadyClaimed(EngineError):
    code = "already_claimed"


class InvalidData(EngineError):
    """Task data the engine will not store (e.g. a key that is not a plain identifier)."""

    code = "invalid_data"

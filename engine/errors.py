"""One family of typed errors; the web layer maps each to an HTTP status in one place."""
from __future__ import annotations


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""

    code = "engine_error"

    def __init__(self, message: str, **context):
        super().__init__(message)
        self.message = message
        self.context = context


class NotFound(EngineError):
    code = "not_found"


class TaskNotReady(EngineError):
    code = "task_not_ready"


class StaleInstance(EngineError):
    """Someone else saved the instance since it was loaded (optimistic lock)."""

    code = "stale_instance"


class InvalidDefinition(EngineError):
    """A diagram that cannot be deployed. ``problems`` lists ``(element_id, message)`` pairs."""

    code = "invalid_definition"

    def __init__(self, message: str, problems: list[tuple[str | None, str]] | None = None):
        super().__init__(message, problems=problems or [])
        self.problems = problems or []

    def __str__(self) -> str:
        if not self.problems:
            return self.message
        lines = "; ".join(f"{eid or '-'}: {msg}" for eid, msg in self.problems)
        return f"{self.message}: {lines}"


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

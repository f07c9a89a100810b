"""Process owners: validate, deploy and migrate the procedures' diagrams (role ``process_owner`` only). A diagram
whose process id is new becomes a new procedure when deployed; it never replaces another."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.changes import summarize_changes
from engine.definitions import check_warnings, harden_and_parse
from engine.errors import EngineError, MigrationRefused, NotFound, Problem
from engine.models import Definition, Instance
from engine.runtime import MigrationCheck

from .declarations import rule_changes
from .errors import NotPermitted
from .models import User

OWNER_ROLE = "process_owner"
#: Codes of the problems this module reports itself (a diagram of another process id is a new procedure: none).
MODELING_CODES: frozenset[str] = frozenset()


@dataclass
class ValidationReport:
    process_key: str
    warnings: list[Problem] = field(default_factory=list)


def _require_owner(user: User) -> None:
    if OWNER_ROLE not in user.roles or not user.active:
        raise NotPermitted("only the process owner validates, deploys or migrates", code="modeling.owner_only")


def validate(system, user: User, xml: bytes | str) -> ValidationReport:
    """Check a diagram without deploying it; raises InvalidDefinition with every problem. Warnings (things that do
    not stop a deploy: engine.definitions.check_warnings) come with the report."""
    _require_owner(user)
    parsed = system.engine.validate(xml)
    return ValidationReport(parsed.process_key, check_warnings(harden_and_parse(xml)))


def deploy(session: Session, system, user: User, xml: bytes | str) -> tuple[Definition, dict]:
    """A valid diagram becomes the next version; the change summary against the newest one is kept. The content of
    an older version becomes a new version too (a rollback, recorded as such: engine.runtime.WorkflowEngine.deploy);
    the newest version's own content changes nothing."""
    _require_owner(user)
    parsed = system.engine.validate(xml)
    try:
        previous = system.engine.latest(session, parsed.process_key)
    except NotFound:
        previous = None
    summary = summarize_changes(previous.xml if previous else None, xml)
    rules = rule_changes(system.rules.of_definition(session, previous.id) if previous else None,
                         system.rules.of(parsed))
    if rules:
        summary["rules"] = rules
    definition = system.engine.deploy(session, xml, actor=user.actor, summary=summary)
    return definition, summary_of(definition)  # as stored: a rollback says which version it restores


def versions(session: Session, process_key: str) -> list[Definition]:
    return list(session.execute(select(Definition).where(Definition.process_key == process_key)
                                .order_by(Definition.version.desc())).scalars())


def version(session: Session, process_key: str, number: int) -> Definition:
    definition = session.execute(select(Definition).where(Definition.process_key == process_key,
                                                          Definition.version == number)).scalar_one_or_none()
    if definition is None:
        raise NotFound(f"no version {number}", code="definition.version_not_found", version=number)
    return definition


def summary_of(definition: Definition) -> dict:
    return json.loads(definition.summary) if definition.summary else {}


def migration_plan(session: Session, system, user: User, target: Definition) -> list[MigrationCheck]:
    """Every running case on an older version, with whether it can move and why not. Cases move forward only: to
    return to an older version's content, deploy it again (it becomes the newest version) and move them there."""
    _require_owner(user)
    older = session.execute(
        select(Instance).join(Definition, Instance.definition_id == Definition.id)
        .where(Instance.status == "running", Definition.process_key == target.process_key,
               Definition.version < target.version).order_by(Instance.id)).scalars()
    return [system.engine.check_migration(session, instance, target) for instance in older]


def migrate(session: Session, system, user: User, target: Definition, instance_ids: list[int]) -> dict:
    """Move the given cases; each moves whole or not at all (a savepoint each). Returns ``moved`` (case ids) and
    ``refused`` (``{"case_id", "problems"}``, the problems coded as for a diagram)."""
    _require_owner(user)
    moved, refused = [], []
    for instance_id in sorted(instance_ids):  # several cases are locked in ascending id (engine.persistence)
        try:
            with session.begin_nested():
                system.engine.migrate(session, instance_id, target, actor=user.actor)
            moved.append(instance_id)
        except MigrationRefused as exc:  # reported per case; the others still move
            refused.append({"case_id": instance_id, "problems": exc.problems})
        except EngineError:  # changed meanwhile, or the case could not go on in the new version
            refused.append({"case_id": instance_id,
                            "problems": [Problem(None, "migration.failed", {"version": target.version})]})
    return {"moved": moved, "refused": refused}

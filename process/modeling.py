"""Process owners: validate, deploy and migrate diagrams of this SOP (role ``process_owner`` only)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.changes import summarize_changes
from engine.definitions import BPMN_NS, harden_and_parse
from engine.errors import EngineError, NotFound
from engine.models import Definition, Instance
from engine.runtime import MigrationCheck

from .errors import NotPermitted
from .models import User

OWNER_ROLE = "process_owner"
_DI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"


@dataclass
class ValidationReport:
    process_key: str
    warnings: list[dict] = field(default_factory=list)  # {"element_id", "message"}


def _require_owner(user: User) -> None:
    if OWNER_ROLE not in user.roles or not user.active:
        raise NotPermitted("Hanya pemilik proses yang dapat memvalidasi, menerapkan atau memigrasikan diagram.")


def _warnings(xml: bytes | str) -> list[dict]:
    """Things that do not stop a deploy but that an owner should fix (the browser's bpmnlint says more)."""
    tree = harden_and_parse(xml)
    with_di = {s.get("bpmnElement") for s in tree.iter(f"{{{_DI_NS}}}BPMNShape", f"{{{_DI_NS}}}BPMNEdge")}
    warnings = []
    process = tree.getroot().find(f"{{{BPMN_NS}}}process")
    for node in (process.iter() if process is not None else ()):
        if not isinstance(node.tag, str):
            continue
        name = etree.QName(node).localname
        eid = node.get("id")
        if eid and name in ("userTask", "exclusiveGateway", "startEvent", "endEvent", "boundaryEvent",
                            "intermediateThrowEvent", "sequenceFlow") and eid not in with_di:
            warnings.append({"element_id": eid, "message": f"{name} has no diagram shape; it will not be drawn"})
        if name == "userTask" and not (node.get("name") or "").strip():
            warnings.append({"element_id": eid, "message": "user task without a name"})
    return warnings


def validate(alur, user: User, xml: bytes | str) -> ValidationReport:
    """Check a diagram without deploying it; raises InvalidDefinition with every problem."""
    _require_owner(user)
    parsed = alur.engine.validate(xml)
    return ValidationReport(parsed.process_key, _warnings(xml))


def deploy(session: Session, alur, user: User, xml: bytes | str) -> tuple[Definition, dict]:
    """A valid diagram becomes the next version; the change summary against the newest one is kept."""
    _require_owner(user)
    parsed = alur.engine.validate(xml)
    try:
        previous = alur.engine.latest(session, parsed.process_key)
    except NotFound:
        previous = None
    summary = summarize_changes(previous.xml if previous else None, xml)
    definition = alur.engine.deploy(session, xml, actor=user.actor, summary=summary)
    return definition, summary


def versions(session: Session, process_key: str) -> list[Definition]:
    return list(session.execute(select(Definition).where(Definition.process_key == process_key)
                                .order_by(Definition.version.desc())).scalars())


def version(session: Session, process_key: str, number: int) -> Definition:
    definition = session.execute(select(Definition).where(Definition.process_key == process_key,
                                                          Definition.version == number)).scalar_one_or_none()
    if definition is None:
        raise NotFound(f"Versi {number} tidak ada.", version=number)
    return definition


def summary_of(definition: Definition) -> dict:
    return json.loads(definition.summary) if definition.summary else {}


def migration_plan(session: Session, alur, user: User, target: Definition) -> list[MigrationCheck]:
    """Every running case on an older version, with whether it can move and why not."""
    _require_owner(user)
    older = session.execute(
        select(Instance).join(Definition, Instance.definition_id == Definition.id)
        .where(Instance.status == "running", Definition.process_key == target.process_key,
               Definition.version != target.version).order_by(Instance.id)).scalars()
    return [alur.engine.check_migration(session, instance, target) for instance in older]


def migrate(session: Session, alur, user: User, target: Definition, instance_ids: list[int]) -> dict:
    """Move the given cases; each moves whole or not at all (a savepoint each). Returns moved/refused."""
    _require_owner(user)
    moved, refused = [], []
    for instance_id in sorted(instance_ids):  # several cases are locked in ascending id (engine.runtime)
        try:
            with session.begin_nested():
                alur.engine.migrate(session, instance_id, target, actor=user.actor)
            moved.append(instance_id)
        except EngineError as exc:  # reported per case; the others still move
            refused.append({"case_id": instance_id, "reason": exc.message})
    return {"moved": moved, "refused": refused}

"""Process owners: validate, deploy and migrate the procedures' diagrams (role ``process_owner`` only). A diagram
whose process id is new becomes a new procedure when deployed; it never replaces another.

Validating and deploying also checks what only the database knows: that a group works each lane with a user task
(``lane.no_group``, naming the group that would: the owner may create it, :func:`add_group`, and an administrator then
adds its members), and warns of a lane whose groups have no active member (``lane.group_empty``).
"""
from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.changes import summarize_changes
from engine.definitions import check_warnings, harden_and_parse
from engine.errors import EngineError, InvalidDefinition, MigrationRefused, NotFound, Problem
from engine.models import Definition, Instance
from engine.runtime import MigrationCheck

from . import inputs
from .declarations import Declarations, LaneRule, lane_key, read_declarations, rule_changes
from .errors import NotPermitted
from .models import Group, User

OWNER_ROLE = "process_owner"
#: Codes of the problems this module reports itself (a diagram of another process id is a new procedure).
MODELING_CODES = frozenset({"lane.no_group", "lane.group_empty"})


@dataclass
class ValidationReport:
    process_key: str
    warnings: list[Problem] = field(default_factory=list)


def _require_owner(user: User) -> None:
    if OWNER_ROLE not in user.roles or not user.active:
        raise NotPermitted("only the process owner validates, deploys or migrates", code="modeling.owner_only")


def suggested_group_code(lane: LaneRule) -> str:
    """The code of the group that would work ``lane``: the one it names, else one made of its name."""
    for code in sorted(lane.group_codes):
        try:
            return inputs.group_code(code)
        except inputs.Refused:
            continue
    ascii_name = unicodedata.normalize("NFKD", lane.name).encode("ascii", "ignore").decode().lower()
    code = re.sub(r"[^a-z0-9]+", "_", ascii_name).strip("_")
    if not code[:1].isalpha():
        code = f"grup_{code}".rstrip("_")
    return code[:50].rstrip("_")


def lane_group_problems(session: Session, system, decl: Declarations, task_lanes=()) -> list[Problem]:
    """Each lane with a user task (``task_lanes``: as the engine read them, besides the XML's own) that no group works
    — an error, ``lane.no_group``, naming the group code that would — and each whose groups have no active member (a
    warning, ``lane.group_empty``)."""
    groups = session.execute(select(Group.id, Group.code, Group.name).order_by(Group.name)).all()
    with_tasks = {lane_key(lane) for lane in task_lanes if lane}
    problems = []
    for lane in decl.lanes.values():
        if not (lane.has_tasks or lane_key(lane.name) in with_tasks):
            continue
        working = [g for g in groups if g.code in lane.group_codes or lane_key(g.name) == lane_key(lane.name)]
        if not working:
            problems.append(Problem(lane.element_id, "lane.no_group",
                                    {"lane": lane.name, "group": suggested_group_code(lane)}).named(lane.name, "lane"))
        elif not system.people.active_members(session, [g.id for g in working]):
            problems.append(Problem(lane.element_id, "lane.group_empty",
                                    {"lane": lane.name, "groups": ", ".join(g.name for g in working)},
                                    severity="warning").named(lane.name, "lane"))
    return problems


def ensure_lane_groups(session: Session, system, *, actor: str | None = None) -> list[tuple[Group, LaneRule]]:
    """Every lane with a user task, in the newest version of every procedure, with the group that works it: an
    existing one (by code or by name), else one created with the code the lane names (:func:`suggested_group_code`)
    and the lane's name. ``alur init-db`` runs this, so a bundled procedure's lanes have their groups (an
    administrator then adds the members)."""
    found: list[tuple[Group, LaneRule]] = []
    for procedure in system.cases.procedures(session):
        decl = system.rules.latest(session, procedure.key)
        for lane in (decl.lanes.values() if decl is not None else ()):
            if not lane.has_tasks:
                continue
            groups = session.execute(select(Group).order_by(Group.code)).scalars().all()
            working = [g for g in groups if g.code in lane.group_codes or lane_key(g.name) == lane_key(lane.name)]
            group = working[0] if working else system.people.add_group(session, suggested_group_code(lane),
                                                                       lane.name, actor=actor)
            found.append((group, lane))
    return found


def _checked(session: Session, system, xml: bytes | str):
    """The parsed diagram, with the lane check; InvalidDefinition with every problem found (the lane check runs on the
    XML itself when the engine refuses the diagram, so that the owner sees them all at once)."""
    try:
        parsed = system.engine.validate(xml)
    except InvalidDefinition as exc:
        try:
            decl = read_declarations(harden_and_parse(xml).getroot(), "", "")
        except (EngineError, ValueError):  # a file lxml cannot read: its own problems say so
            raise exc from None
        exc.problems += [p for p in lane_group_problems(session, system, decl) if p.severity == "error"]
        raise
    lanes = lane_group_problems(session, system, system.rules.of(parsed), [u.lane for u in parsed.user_tasks])
    errors = [p for p in lanes if p.severity == "error"]
    if errors:
        raise InvalidDefinition("diagram refused", errors)
    return parsed, lanes


def validate(system, user: User, xml: bytes | str, session: Session | None = None) -> ValidationReport:
    """Check a diagram without deploying it; raises InvalidDefinition with every problem. Warnings (things that do
    not stop a deploy: engine.definitions.check_warnings, a lane whose groups have no active member) come with the
    report. ``session``: the request's (one is opened to read the groups otherwise)."""
    _require_owner(user)
    if session is None:
        with system.readers() as reading:
            return validate(system, user, xml, reading)
    parsed, lanes = _checked(session, system, xml)
    return ValidationReport(parsed.process_key, check_warnings(harden_and_parse(xml)) + lanes)


def add_group(session: Session, system, user: User, code: str, name: str) -> Group:
    """A process owner creates the group a lane needs (``lane.no_group``); administrators then add its members."""
    _require_owner(user)
    return system.people.add_group(session, code, name, by=user)


def deploy(session: Session, system, user: User, xml: bytes | str) -> tuple[Definition, dict]:
    """A valid diagram becomes the next version; the change summary against the newest one is kept. The content of
    an older version becomes a new version too (a rollback, recorded as such: engine.runtime.WorkflowEngine.deploy);
    the newest version's own content changes nothing."""
    _require_owner(user)
    parsed, _lanes = _checked(session, system, xml)
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

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

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.changes import summarize_changes
from engine.definitions import check_warnings, harden_and_parse
from engine.errors import EngineError, InvalidDefinition, MigrationRefused, NotFound, Problem
from engine.models import Definition, Instance
from engine.runtime import MigrationCheck

from . import inputs, paging
from .declarations import Declarations, LaneRule, lane_key, read_declarations, rule_changes
from .errors import NotPermitted
from .models import Group, User
from .register import formats_collide

OWNER_ROLE = "process_owner"
#: Codes of the problems this module reports itself (a diagram of another process id is a new procedure).
MODELING_CODES = frozenset({"lane.no_group", "lane.group_empty", "register.format_taken"})


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


def register_format_problems(session: Session, system, decl: Declarations) -> list[Problem]:
    """The register of a procedure numbers its own cases; another procedure's register (any of its versions, the
    configured format standing in where a step declares none) that could write one of the same numbers is refused
    (``register.format_taken``): two cases of one office with one register number is a record nobody can cite,
    and the owner, not a case, must meet that."""
    step = decl.register_step
    if step is None:
        return []
    default = system.settings.register_format
    mine = step.register_format or default
    for other in system.rules.all_versions(session):
        theirs = other.register_step
        if other.process_key == decl.process_key or theirs is None:
            continue
        if formats_collide(mine, theirs.register_format or default):
            return [Problem(step.bpmn_id, "register.format_taken",
                            {"format": mine[:100], "procedure": (other.name or other.process_key)[:200]})
                    .named(step.name, "userTask")]
    return []


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
    decl = system.rules.of(parsed)
    lanes = lane_group_problems(session, system, decl, [u.lane for u in parsed.user_tasks])
    errors = [p for p in lanes if p.severity == "error"] + register_format_problems(session, system, decl)
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


def versions_page(session: Session, process_key: str, *, cursor: str | None = None,
                  per_page: int = paging.DEFAULT_PER_PAGE) -> paging.Page[Definition]:
    """The versions of a procedure, newest first, one keyset page (process/paging.py) after ``cursor``."""
    where = [Definition.process_key == process_key]
    after = paging.decode(cursor, "definitions", ("i",))
    since = [] if after is None else [Definition.version < after[0]]
    rows = list(session.execute(select(Definition).where(*where, *since).order_by(Definition.version.desc())
                                .limit(per_page + 1)).scalars())
    total = session.execute(select(func.count()).select_from(Definition).where(*where)).scalar_one()
    more = paging.encode("definitions", (rows[per_page - 1].version,)) if len(rows) > per_page else None
    return paging.Page(rows[:per_page], total, more, per_page)


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


def migrate(session: Session, system, user: User, target: Definition, instance_ids: list[int],
            mapping: dict[str, str] | None = None, keep: list[str] | None = None) -> dict:
    """Move the given cases; each moves whole or not at all (a savepoint each). Returns ``moved`` (case ids) and
    ``refused`` (``{"case_id", "problems"}``, the problems coded as for a diagram).

    ``mapping`` ({old task id: new task id}) is the plan's explicit choice, per waiting task whose id the target
    lacks, of the task it becomes there; nothing is guessed. It is checked as a whole first (each old id a task one
    of the cases waits on and the target lacks, each new id a task of the target of the same kind and lane): a bad
    entry refuses the whole request (MigrationRefused ``plan.mapping_invalid``), nothing moves. A case
    waiting on a removed task the mapping leaves out is refused, naming that task.

    A step a case has already *completed* whose id the target lacks is mapped the same way (its history then
    carries the new id, so the target's rules naming that step, such as ``alur:separate``, see it), or listed
    in ``keep``: its history keeps the old id, and the target's rules do not see it. A case with such a step in
    neither is refused, naming the step (``migration.completed_unmapped``): nothing is left to a guess."""
    _require_owner(user)
    mapping, keep = dict(mapping or {}), sorted(set(keep or ()))
    ids = sorted(instance_ids)  # several cases are locked in ascending id (engine.persistence)
    if mapping or keep:
        removed = [task for check in _checks(session, system, target, ids) for task in check.removed]
        problems = system.engine.mapping_problems(target, mapping, removed, keep)
        if problems:
            raise MigrationRefused("the migration plan's mapping cannot be used", problems,
                                   code="plan.mapping_invalid")
    moved, refused = [], []
    for instance_id in ids:
        try:
            with session.begin_nested():
                system.engine.migrate(session, instance_id, target, actor=user.actor, mapping=mapping, keep=keep)
            moved.append(instance_id)
        except MigrationRefused as exc:  # reported per case; the others still move
            refused.append({"case_id": instance_id, "problems": exc.problems})
        except EngineError:  # changed meanwhile, or the case could not go on in the new version
            refused.append({"case_id": instance_id,
                            "problems": [Problem(None, "migration.failed", {"version": target.version})]})
    return {"moved": moved, "refused": refused}


def _checks(session: Session, system, target: Definition, instance_ids: list[int]) -> list[MigrationCheck]:
    """The pre-check of each of these cases that exists (one that does not is refused when it is moved)."""
    found = session.execute(select(Instance).where(Instance.id.in_(instance_ids)).order_by(Instance.id)).scalars()
    return [system.engine.check_migration(session, instance, target) for instance in found]


def mapping_choices(session: Session, system, target: Definition, plan: list[MigrationCheck]) -> list[dict]:
    """For each task some case of ``plan`` waits on, or has completed, whose id ``target`` lacks: the task
    (``task``: a RemovedTask), the cases having it (``cases``; of those, ``waiting`` and ``completed``), the
    tasks of ``target`` it may be mapped to (``choices``: MappingChoice, each with whether it has the same name:
    a hint, never a choice made for the owner), its step number in the case's version (``number``) and, for a
    completed one, the rules of ``target`` that would not see its history if it is kept under its old id
    (``unseen``: see :func:`rules_naming`)."""
    steps: dict[str, dict] = {}
    rules = system.rules.of_definition(session, target.id)
    for check in plan:
        instance = session.get(Instance, check.instance_id)
        old_rules = system.rules.of_definition(session, instance.definition_id)
        for task in check.removed:
            if task.bpmn_id not in steps:
                choices = system.engine.mapping_choices(target, task)
                steps[task.bpmn_id] = {"task": task, "cases": [], "waiting": [], "completed": [],
                                       "choices": choices, "number": old_rules.number(task.bpmn_id),
                                       "unseen": rules_naming(rules, [c.bpmn_id for c in choices])}
            entry = steps[task.bpmn_id]
            entry["cases"].append(check.instance_id)
            entry["waiting" if task.waiting else "completed"].append(check.instance_id)
    return list(steps.values())


def rules_naming(rules: Declarations, steps: list[str]) -> list[dict]:
    """The rules of a version that read the case's history of one of ``steps`` (element ids), which a completion
    kept under an old id escapes: ``alur:separate from`` (``kind`` "separate": whoever completed ``step`` may not
    complete ``at``) and the step's written response (``kind`` "response": listed on the case page and in the
    Tanggapan Tertulis record). Each with the step numbers (``step``, ``at``) and short names."""
    out: list[dict] = []
    wanted = set(steps)
    for step in rules.steps.values():
        for other in step.separate_from:
            if other in wanted:
                out.append({"kind": "separate", "step": rules.number(other), "step_name": _step_name(rules, other),
                            "at": step.number, "at_name": step.short})
    for bpmn_id in steps:
        step = rules.step(bpmn_id)
        if step is not None and step.response is not None:
            out.append({"kind": "response", "step": step.number, "step_name": step.short, "at": step.number,
                        "at_name": step.short})
    return out


def _step_name(rules: Declarations, bpmn_id: str) -> str:
    step = rules.step(bpmn_id)
    return step.short if step is not None else bpmn_id

"""The procedures as the engine runs them: the deploy-time checks of this application (tasks in lanes, forms it can
show, declarations that point to what is there; that a group works each lane needs the database:
process/modeling.py), the engine wired with the WIB deadline functions and each diagram's team-scoped lanes, and the
bundled diagram deployed when no version exists yet."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.clock import Clock
from engine.definitions import BPMN_NS, ParsedDefinition, harden_and_parse
from engine.errors import NotFound, Problem
from engine.expressions import DEFAULT_FUNCTIONS
from engine.models import Definition
from engine.runtime import WorkflowEngine

from .config import Settings
from .deadlines import timer_functions
from .declarations import DECLARATION_CODES, Rulebook, declaration_problems
from .forms import FORM_DEFINITION_CODES, form_definition_problems

#: Codes of the problems :func:`sop_checks` reports (the web layer has a message for each).
SOP_CODES = frozenset({"sop.task_not_in_lane", "sop.task_without_form"}) | FORM_DEFINITION_CODES | DECLARATION_CODES


def sop_checks(parsed: ParsedDefinition) -> list[Problem]:
    """Deploy-time rules of this application: each user task in a lane (the group that works it is checked against
    the database by process/modeling.py), with a form it can show; and every ``alur:`` declaration pointing to what
    is there (process/declarations.py)."""
    problems: list[Problem] = []
    for info in parsed.user_tasks:
        if info.lane is None:
            problems.append(Problem(info.bpmn_id, "sop.task_not_in_lane"))
        if not info.form:
            problems.append(Problem(info.bpmn_id, "sop.task_without_form"))
        for code, params in form_definition_problems(list(info.form)):
            problems.append(Problem(info.bpmn_id, code, params))
    return problems + declaration_problems(parsed)


def build_engine(clock: Clock, warm_cases: int = 256,
                 bundled=Settings.diagram_path.parent) -> tuple[WorkflowEngine, Rulebook]:
    """The engine wired for this application (WIB date helpers, each diagram's team lanes, the deploy checks) and
    the rulebook that reads each version's declarations (``bundled``: where the bundled diagrams are, which lend
    theirs to versions from before the declarations)."""
    holder: list[Rulebook] = []
    engine = WorkflowEngine(clock=clock, functions=DEFAULT_FUNCTIONS.merged(timer_functions()),
                            group_lanes=lambda parsed: holder[0].of(parsed).team_lanes, extra_checks=(sop_checks,),
                            warm_cases=warm_cases)
    holder.append(Rulebook(engine, bundled))
    return engine, holder[0]


def bundled_diagrams(settings: Settings) -> list[Path]:
    """The diagrams shipped with the application: the default procedure's first, then the others of its folder."""
    others = sorted(p for p in settings.diagram_path.parent.glob("*.bpmn") if p != settings.diagram_path)
    return [settings.diagram_path, *others]


def ensure_definitions(session: Session, engine: WorkflowEngine, settings: Settings,
                       actor: str | None = "system") -> None:
    """Deploy each bundled diagram whose procedure has no version yet (a new procedure shipped with an upgrade
    starts with it; one a process owner already changed keeps its versions). One query when all are there."""
    bundled = [(path, _process_key_of(path)) for path in bundled_diagrams(settings)]
    keys = set(session.execute(select(Definition.process_key).where(
        Definition.process_key.in_([k for _p, k in bundled if k]))).scalars()) if bundled else set()
    for path, key in bundled:
        if key and key not in keys:
            engine.deploy(session, path.read_bytes(), actor=actor, summary={"note": "versi awal (bawaan)"})
            keys.add(key)


_KEYS: dict[tuple[Path, float], str | None] = {}


def _process_key_of(path: Path) -> str | None:
    """The executable process id of a bundled diagram (read once per file version)."""
    stamp = (path, path.stat().st_mtime)
    if stamp not in _KEYS:
        _KEYS[stamp] = _read_key(path.read_bytes())
    return _KEYS[stamp]


def _read_key(xml: bytes) -> str | None:
    root = harden_and_parse(xml).getroot()
    process = next((p for p in root.iter(f"{{{BPMN_NS}}}process")
                    if p.get("isExecutable", "false").strip().lower() == "true"), None)
    return process.get("id") if process is not None else None


def ensure_definition(session: Session, engine: WorkflowEngine, settings: Settings,
                      actor: str | None = "system") -> Definition:
    """Deploy the bundled diagrams whose procedure has no version yet; the default procedure's latest version."""
    ensure_definitions(session, engine, settings, actor)
    try:
        return engine.latest(session, settings.process_key)
    except NotFound:
        xml = settings.diagram_path.read_bytes()
        return engine.deploy(session, xml, actor=actor, summary={"note": "versi awal (bawaan)"})

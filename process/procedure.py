"""The procedures as the engine runs them: the deploy-time checks of this application (tasks in lanes, forms it can
show, declarations that point to what is there; that a group works each lane needs the database:
process/modeling.py), the engine wired with the WIB deadline functions and each diagram's team-scoped lanes, and the
bundled diagram deployed when no version exists yet."""
from __future__ import annotations

from sqlalchemy.orm import Session

from engine.clock import Clock
from engine.definitions import ParsedDefinition
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


def ensure_definition(session: Session, engine: WorkflowEngine, settings: Settings,
                      actor: str | None = "system") -> Definition:
    """Deploy the bundled diagram when no version of the process exists yet; the latest version otherwise."""
    try:
        return engine.latest(session, settings.process_key)
    except NotFound:
        xml = settings.diagram_path.read_bytes()
        return engine.deploy(session, xml, actor=actor, summary={"note": "versi awal (bawaan)"})

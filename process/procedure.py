"""The procedure as the engine runs it: this SOP's deploy-time checks, the engine wired with the WIB deadline
functions and team lanes, and the bundled diagram deployed when no version exists yet."""
from __future__ import annotations

from functools import partial

from sqlalchemy.orm import Session

from engine.clock import Clock
from engine.definitions import ParsedDefinition
from engine.errors import NotFound, Problem
from engine.expressions import DEFAULT_FUNCTIONS
from engine.models import Definition
from engine.runtime import WorkflowEngine

from .config import Settings
from .contract import CONTRACT_CODES, contract_problems
from .deadlines import timer_functions
from .forms import FORM_DEFINITION_CODES, form_definition_problems
from .roles import LANE_ROLES, TEAM_LANES

#: Codes of the problems :func:`sop_checks` reports (the web layer has a message for each).
SOP_CODES = frozenset({"sop.task_not_in_lane", "sop.task_lane_unknown", "sop.task_without_form",
                       "sop.task_without_deadline"}) | FORM_DEFINITION_CODES | CONTRACT_CODES


def sop_checks(parsed: ParsedDefinition, process_key: str = Settings.process_key) -> list[Problem]:
    """Deploy-time rules of this SOP: each user task in a lane mapped to a role, a form, a deadline; and, for the
    SOP's own process (``process_key``), every element, field and option its rules are keyed on
    (process/contract.py). Another process (the timer probe of the live tests) has none of the SOP's steps."""
    problems: list[Problem] = []
    lanes = ", ".join(LANE_ROLES)
    for info in parsed.user_tasks:
        if info.lane is None:
            problems.append(Problem(info.bpmn_id, "sop.task_not_in_lane", {"lanes": lanes}))
        elif info.lane not in LANE_ROLES:
            problems.append(Problem(info.bpmn_id, "sop.task_lane_unknown", {"lane": info.lane, "lanes": lanes}))
        if not info.form:
            problems.append(Problem(info.bpmn_id, "sop.task_without_form"))
        for code, params in form_definition_problems(list(info.form)):
            problems.append(Problem(info.bpmn_id, code, params))
        if info.deadline is None:
            problems.append(Problem(info.bpmn_id, "sop.task_without_deadline"))
    if parsed.process_key == process_key:
        problems += contract_problems(parsed)
    return problems


def build_engine(clock: Clock, warm_cases: int = 256, process_key: str = Settings.process_key) -> WorkflowEngine:
    """The engine wired for this SOP: WIB date helpers, team lanes, SOP deploy checks."""
    return WorkflowEngine(clock=clock, functions=DEFAULT_FUNCTIONS.merged(timer_functions()),
                          group_lanes=TEAM_LANES, extra_checks=(partial(sop_checks, process_key=process_key),),
                          warm_cases=warm_cases)


def ensure_definition(session: Session, engine: WorkflowEngine, settings: Settings,
                      actor: str | None = "system") -> Definition:
    """Deploy the bundled diagram when no version of the process exists yet; the latest version otherwise."""
    try:
        return engine.latest(session, settings.process_key)
    except NotFound:
        xml = settings.diagram_path.read_bytes()
        return engine.deploy(session, xml, actor=actor, summary={"note": "versi awal (bawaan)"})

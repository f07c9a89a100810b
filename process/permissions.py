"""Who may do what to which case: the checks every action makes before the engine is touched.

A user works the tasks of the lanes their roles give them (process/roles.py), and of a team lane only their own
team's cases. Claiming, unclaiming, delegating and opening a task need :func:`check_may_act`; completing it needs
:func:`check_may_complete` as well (the task still waiting, held by the user, and the self-approval rule).
"""
from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from engine.errors import TaskNotReady
from engine.models import TaskRow

from .declarations import Step
from .errors import NotClaimed, NotPermitted, SelfApproval
from .models import Team, User
from .roles import lanes_of

#: The name of a step of the case the user completed, among the given ones (segregation of duties); built once.
_COMPLETED_BY = (select(TaskRow.name).where(TaskRow.instance_id == bindparam("instance_id"),
                                            TaskRow.bpmn_id.in_(bindparam("steps", expanding=True)),
                                            TaskRow.state == "completed",
                                            TaskRow.completed_by == bindparam("actor")).limit(1))


def may_act(user: User, row: TaskRow) -> bool:
    """Whether ``user`` may work on the task (its lane, its team): what the inbox and the task page show."""
    return user.active and row.lane in lanes_of(user.roles) and (
        row.group is None or (user.team is not None and user.team.code == row.group))


def check_may_act(user: User, row: TaskRow) -> None:
    """:func:`may_act`, refusing with the reason."""
    if not user.active:
        raise NotPermitted("inactive account", code="user.inactive")
    if row.lane not in lanes_of(user.roles):
        raise NotPermitted(f"task of lane {row.lane!r}", code="task.wrong_lane", lane=row.lane)
    if row.group is not None and (user.team is None or user.team.code != row.group):
        raise NotPermitted("task of another team", code="task.other_team")


def check_may_complete(session: Session, user: User, row: TaskRow, step: Step | None = None) -> None:
    """Role, team, readiness, claim and the step's segregation of duties (``alur:separate``), before anything is
    stored."""
    check_may_act(user, row)
    if row.state != "ready":
        raise TaskNotReady(f"task is {row.state}", code="task.waiting_no_more")
    if row.claimed_by != user.actor:
        if row.claimed_by is None:
            raise NotClaimed("task not claimed", code="task.claim_first")
        raise NotClaimed("task held by someone else", code="task.held_by_other")
    if step is not None and step.separate_from:
        done = completed_by(session, row.instance_id, user, step.separate_from)
        if done is not None:
            raise SelfApproval("segregation of duties", code="task.self_approval", step=done)


def check_may_hold(user: User, row: TaskRow) -> None:
    """A task held by someone else is theirs until they let it go (delegating it is theirs to do)."""
    if row.claimed_by not in (None, user.actor):
        raise NotClaimed("task held by someone else", code="task.held_by_other")


def check_may_start(user: User) -> None:
    """Only a team that runs activities opens cases (checked before the case's details are)."""
    if "tim_pelaksana" not in user.roles:
        raise NotPermitted("only a team opens cases", code="case.start_team_only")


def check_in_team(user: User, team: Team) -> None:
    """A case is opened by a member of the team that ran the activity."""
    if user.team is None or user.team.code != team.code:
        raise NotPermitted(f"not a member of team {team.code!r}", code="case.not_team_member", team=team.name)


def completed_by(session: Session, instance_id: int, user: User, steps) -> str | None:
    """The name of one of ``steps`` (element ids) that ``user`` completed in the case, if any."""
    return session.execute(_COMPLETED_BY, {"instance_id": instance_id, "actor": user.actor,
                                           "steps": list(steps)}).scalar()

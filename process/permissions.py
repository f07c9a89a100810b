"""Who may do what to which case: the checks every action makes before the engine is touched.

A user works the tasks of the lanes their groups work (process/declarations.py :class:`LaneMap`: ``lanes`` below is
``rules.lane_map(session).lanes_of(user)``), and of a team lane only their own team's cases. Claiming, unclaiming,
delegating and opening a task need :func:`check_may_act`; completing it needs :func:`check_may_complete` as well (the
task still waiting, held by the user, and the self-approval rule). Cases are opened by who works the lane of the
procedure's start event (:func:`check_may_start`).
"""
from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from engine.errors import TaskNotReady
from engine.models import TaskRow

from .declarations import LaneMap, Step
from .errors import NotClaimed, NotPermitted, SelfApproval
from .models import Team, User

#: The name of a step of the case the user completed, among the given ones (segregation of duties); built once.
_COMPLETED_BY = (select(TaskRow.name).where(TaskRow.instance_id == bindparam("instance_id"),
                                            TaskRow.bpmn_id.in_(bindparam("steps", expanding=True)),
                                            TaskRow.state == "completed",
                                            TaskRow.completed_by == bindparam("actor")).limit(1))


def may_act(user: User, row: TaskRow, lanes: Collection[str]) -> bool:
    """Whether ``user``, who works ``lanes``, may work on the task (its lane, its team): what the inbox and the task
    page show."""
    return user.active and row.lane in lanes and (
        row.group is None or (user.team is not None and user.team.code == row.group))


def check_may_act(user: User, row: TaskRow, lanes: Collection[str]) -> None:
    """:func:`may_act`, refusing with the reason."""
    if not user.active:
        raise NotPermitted("inactive account", code="user.inactive")
    if row.lane not in lanes:
        raise NotPermitted(f"task of lane {row.lane!r}", code="task.wrong_lane", lane=row.lane)
    if row.group is not None and (user.team is None or user.team.code != row.group):
        raise NotPermitted("task of another team", code="task.other_team")


def check_may_complete(session: Session, user: User, row: TaskRow, lanes: Collection[str],
                       step: Step | None = None) -> None:
    """Lane, team, readiness, claim and the step's segregation of duties (``alur:separate``), before anything is
    stored."""
    check_may_act(user, row, lanes)
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


def may_start(user: User, lane_map: LaneMap, process_key: str) -> bool:
    """Whether ``user`` opens cases of ``process_key``: they work the lane of its start event."""
    return user.active and lane_map.may_start(lane_map.lanes_of(user), process_key)


def check_may_start(user: User, lane_map: LaneMap, process_key: str) -> None:
    """Only who works the lane of the procedure's start event opens its cases (checked before the case's details
    are)."""
    if not may_start(user, lane_map, process_key):
        lane = lane_map.start_lane(process_key)
        if lane is None:
            raise NotPermitted("only who works the procedure's lanes opens cases", code="case.start_no_lane")
        raise NotPermitted(f"only who works lane {lane!r} opens cases", code="case.start_not_in_lane", lane=lane)


def check_in_team(user: User, team: Team) -> None:
    """A case is opened by a member of the team that ran the activity."""
    if user.team is None or user.team.code != team.code:
        raise NotPermitted(f"not a member of team {team.code!r}", code="case.not_team_member", team=team.name)


def completed_by(session: Session, instance_id: int, user: User, steps) -> str | None:
    """The name of one of ``steps`` (element ids) that ``user`` completed in the case, if any."""
    return session.execute(_COMPLETED_BY, {"instance_id": instance_id, "actor": user.actor,
                                           "steps": list(steps)}).scalar()

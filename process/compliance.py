"""Compliance with the SOP's deadlines, from the task projection (no workflow is loaded).

* Per step and period: how many deadlines fell in the period, how many were met, the on-time rate,
  and how late the late ones were (median and worst). A task counts once its outcome is known: it was
  completed, or it is still waiting past its deadline (then it is late by "until now"). Tasks still
  within their deadline, cancelled tasks and every step of a cancelled case do not count. Periods are
  calendar months or ISO weeks of the deadline's WIB date.
* Per case: the collision a procedure may build in, between the last step's deadline and the review's. In SOP
  21/2025 step 5 is due at the end of activity day + 1, steps 2–4 at the end of submission day + 1, so the
  review's allowance reaches to (or past) the upload deadline; the report shows by how much, and whether the
  last step was already late when it began. Every deadline is the diagram's (nothing assumed here): the last
  step's before it is reached is its timer expression evaluated on the case's declared date.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import Definition, Instance, TaskRow

from .deadlines import WIB
from .declarations import Declarations, Rulebook, Step

GRANULARITIES = ("month", "week")


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, WIB)


def period_of(due: datetime, granularity: str) -> tuple[str, date]:
    """The period key and first day of a deadline's WIB date (``2025-05`` or ``2025-W19``)."""
    day = due.astimezone(WIB).date()
    if granularity == "week":
        year, week, weekday = day.isocalendar()
        return f"{year}-W{week:02d}", day - timedelta(days=weekday - 1)
    return f"{day.year}-{day.month:02d}", day.replace(day=1)


@dataclass
class StepStats:
    """Deadlines of one step in one period (``period`` is ``None`` for the whole range)."""

    step: int
    bpmn_id: str
    name: str
    period: str | None
    period_start: date | None
    count: int = 0
    on_time: int = 0
    late: int = 0
    still_open: int = 0  # late and still waiting; counted late by "until now"
    lateness: list[timedelta] = field(default_factory=list, repr=False)

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.count if self.count else None

    @property
    def median_late(self) -> timedelta | None:
        if not self.lateness:
            return None
        return timedelta(seconds=statistics.median(d.total_seconds() for d in self.lateness))

    @property
    def worst_late(self) -> timedelta | None:
        return max(self.lateness) if self.lateness else None

    def add(self, task: TaskRow, now: datetime) -> None:
        self.count += 1
        if task.state == "completed" and task.completed_at is not None:
            if task.completed_at <= task.due_at:
                self.on_time += 1
                return
            self.late += 1
            self.lateness.append(task.completed_at - task.due_at)
        else:
            self.late += 1
            self.still_open += 1
            self.lateness.append(now - task.due_at)


@dataclass
class ComplianceReport:
    date_from: date
    date_to: date
    granularity: str
    periods: list[tuple[str, date]]
    rows: list[StepStats]  # per step and period, steps in SOP order, periods in time order
    totals: list[StepStats]  # per step over the whole range

    def row(self, bpmn_id: str, period: str) -> StepStats | None:
        return next((r for r in self.rows if r.bpmn_id == bpmn_id and r.period == period), None)


def _counted(task: TaskRow, now: datetime) -> bool:
    if task.due_at is None or task.state == "cancelled":
        return False
    return task.state == "completed" or task.due_at < now


#: Cancelled cases (process/caseops.py) count nowhere: neither their steps done on time nor their late ones (the
#: compliance page says so).
_CANCELLED = select(Instance.id).where(Instance.status == "cancelled")


def _of_procedure(procedure: str):
    """The cases of one procedure (a process id), as a subquery of instance ids."""
    return select(Instance.id).where(Instance.definition_id.in_(
        select(Definition.id).where(Definition.process_key == procedure)))


def compliance(session: Session, *, rulebook: Rulebook, date_from: date, date_to: date, now: datetime,
               granularity: str = "month", names: dict[str, str] | None = None,
               procedure: str | None = None) -> ComplianceReport:
    """On-time rate and lateness per numbered step (``alur:step number``) and period, for deadlines from
    ``date_from`` to ``date_to``, of one procedure (a process id; every one when None). A step is known by its
    element id; its number is the one of the newest version that numbers it."""
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {GRANULARITIES}")
    versions = [d for d in rulebook.all_versions(session) if procedure is None or d.process_key == procedure]
    step_of: dict[str, int] = {}
    for decl in versions:  # oldest first: the newest version's number wins
        step_of.update({s.bpmn_id: s.number for s in decl.numbered})
    labels = {s.bpmn_id: s.name for decl in versions for s in decl.numbered}
    tasks = session.execute(
        select(TaskRow).where(TaskRow.bpmn_id.in_(list(step_of)), TaskRow.due_at.is_not(None),
                              TaskRow.due_at >= _day_start(date_from),
                              TaskRow.due_at < _day_start(date_to + timedelta(days=1)),
                              TaskRow.instance_id.not_in(_CANCELLED),
                              *([TaskRow.instance_id.in_(_of_procedure(procedure))] if procedure else []))
        .order_by(TaskRow.due_at)).scalars().all() if step_of else []
    names = dict(names or {})
    for task in tasks:
        names.setdefault(task.bpmn_id, task.name)
    by_key: dict[tuple[str, str], StepStats] = {}
    totals = {b: StepStats(n, b, names.get(b, labels.get(b, b)), None, None) for b, n in step_of.items()}
    periods: dict[str, date] = {}
    for task in tasks:
        if not _counted(task, now):
            continue
        key, start = period_of(task.due_at, granularity)
        periods[key] = start
        stats = by_key.get((task.bpmn_id, key))
        if stats is None:
            stats = by_key[(task.bpmn_id, key)] = StepStats(step_of[task.bpmn_id], task.bpmn_id,
                                                            names.get(task.bpmn_id, task.bpmn_id), key, start)
        stats.add(task, now)
        totals[task.bpmn_id].add(task, now)
    ordered = sorted(periods.items(), key=lambda kv: kv[1])
    rows = sorted(by_key.values(), key=lambda r: (r.step, r.period_start))
    return ComplianceReport(date_from, date_to, granularity, ordered, rows,
                            sorted(totals.values(), key=lambda r: r.step))


# ------------------------------------------------------------------------------------------------
# The last step / review steps collision per case (steps 5 and 2–4 in SOP 21/2025)
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseCollision:
    instance_id: int
    title: str
    activity_date: date | None
    submitted_at: datetime | None  # the last hand-in of step 1 (after returns)
    upload_due: datetime | None  # step 5: end of activity day + 1
    review_due: datetime | None  # steps 2–4: end of submission day + 1 (the latest round's)
    decided_at: datetime | None  # the last decision of step 4
    upload_started: datetime | None
    upload_done: datetime | None

    @property
    def collides(self) -> bool:
        """The review may use time up to (or past) the upload deadline: step 5 has none of its own."""
        return self.upload_due is not None and self.review_due is not None and self.review_due >= self.upload_due

    @property
    def overlap(self) -> timedelta | None:
        """How far the review's deadline reaches past the upload deadline (0 when they are equal)."""
        if self.upload_due is None or self.review_due is None:
            return None
        return self.review_due - self.upload_due

    @property
    def started_late(self) -> bool:
        """Step 5 became ready only after its own deadline had passed."""
        return self.upload_started is not None and self.upload_due is not None and \
            self.upload_started > self.upload_due

    @property
    def margin(self) -> timedelta | None:
        """Time left for step 5 between the decision and the upload deadline (negative: none)."""
        if self.upload_due is None or self.decided_at is None:
            return None
        return self.upload_due - self.decided_at


@dataclass(frozen=True)
class CollisionSteps:
    """Which numbered steps of a version hand in, review, decide and upload (:func:`collision_steps`)."""

    submit: Step
    review: tuple[Step, ...]
    decide: Step | None
    upload: Step


def collision_steps(decl: Declarations) -> CollisionSteps | None:
    """By the numbered steps: the hand-in is the step that numbers the register (else the first), the upload the last
    step, the review the steps between, the decision the last of those that decides (a response with a decision
    field, a return or a refusal; else the last of them). ``None`` with fewer than three numbered steps."""
    numbered = decl.numbered
    if len(numbered) < 3:
        return None
    register = decl.register_step
    submit = register if register is not None else numbered[0]
    review = tuple(s for s in numbered[:-1] if s.bpmn_id != submit.bpmn_id)
    deciding = [s for s in review if (s.response and s.response[0]) or s.returns or s.rejects]
    decide = deciding[-1] if deciding else (review[-1] if review else None)
    return CollisionSteps(submit, review, decide, numbered[-1])


def collisions(session: Session, *, rulebook: Rulebook, date_from: date, date_to: date,
               procedure: str | None = None) -> list[CaseCollision]:
    """Every case whose activity date is in the range, with both deadlines of the collision, by the steps of the
    case's version (:func:`collision_steps`), of one procedure (a process id; every one when None)."""
    instances = session.execute(
        select(Instance).where(Instance.business_date >= date_from, Instance.business_date <= date_to,
                               Instance.status != "cancelled",
                               *([Instance.id.in_(_of_procedure(procedure))] if procedure else []))
        .order_by(Instance.business_date, Instance.id)).scalars().all()
    if not instances:
        return []
    tasks: dict[int, list[TaskRow]] = {}
    for row in session.execute(select(TaskRow).where(TaskRow.instance_id.in_([i.id for i in instances]))
                               .order_by(TaskRow.created_at)).scalars():
        tasks.setdefault(row.instance_id, []).append(row)
    rules = rulebook.of_instances(session, [i.id for i in instances])
    out = []
    for instance in instances:
        rows = tasks.get(instance.id, [])
        steps = collision_steps(rules[instance.id])
        if steps is None:
            continue  # no hand-in, review and upload to collide
        submit_step, upload_step = steps.submit.bpmn_id, steps.upload.bpmn_id
        review_steps = [s.bpmn_id for s in steps.review]
        decide_step = steps.decide.bpmn_id if steps.decide is not None else None
        submits = [r for r in rows if r.bpmn_id == submit_step and r.state == "completed"]
        submitted_at = submits[-1].completed_at if submits else None
        uploads = [r for r in rows if r.bpmn_id == upload_step and r.state != "cancelled"]
        upload = uploads[-1] if uploads else None
        # Before the upload step is reached, its deadline as the diagram would set it from what the case knows.
        upload_due = upload.due_at if upload is not None and upload.due_at else \
            rulebook.projected_due(session, instance, upload_step)
        reviews = [r for r in rows if r.bpmn_id in review_steps and r.due_at is not None]
        review_due = max((r.due_at for r in reviews), default=None)
        decisions = [r for r in rows if r.bpmn_id == decide_step and r.state == "completed"]
        out.append(CaseCollision(
            instance.id, instance.title, instance.business_date, submitted_at, upload_due, review_due,
            decisions[-1].completed_at if decisions else None, upload.created_at if upload else None,
            upload.completed_at if upload is not None and upload.state == "completed" else None))
    return out

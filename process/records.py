"""A procedure's records for a period, read from the register, the task projection and the event log (titled as
its diagram declares; the SOP's in brackets).

* **Register** (Register Dokumentasi dan Konten, output of step 1): one numbered entry per case, dated when the
  step that declares ``alur:register`` was first completed.
* **Tanggapan Tertulis** (output of steps 2-4): the written responses (``alur:response``), per case.
* **Rekapitulasi** (Rekapitulasi Konten Media Sosial, output of step 5): every post, per platform, of the cases whose
  step with ``alur:record kind="posts"`` was completed in the period, measured against the step's deadline.

A period is a range of calendar days in WIB, both ends included: a case registered at 23:59 WIB on the
last day is in, one registered at 00:00 WIB the next day is not. Nothing here knows Flask; labels for
people are added by the callers (documents in Bahasa Indonesia, pages in the user's language).
"""
from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from engine import eventlog
from engine.models import EventRow, Instance, TaskRow

from . import timefmt
from .casefile import case_outcome, display_names
from .deadlines import WIB
from .declarations import Declarations, Rulebook, Step
from .models import RegisterEntry, Team

#: Ids per IN (...) clause: well below SQLite's and PostgreSQL's parameter limits.
_CHUNK = 500

#: The office's records are written in Bahasa Indonesia, whatever the reader's language.
RECORD_LOCALE = "id"


# --------------------------------------------------------------------------------------------------
# Periods
# --------------------------------------------------------------------------------------------------


def tanggal_id(day: date) -> str:
    """``"6 Mei 2025"``: a date as the office's records write it (Babel, Bahasa Indonesia)."""
    return timefmt.format_date(day, RECORD_LOCALE)


@dataclass(frozen=True)
class Period:
    """Calendar days ``start`` … ``end`` in WIB, both included."""

    start: date
    end: date

    def __post_init__(self):
        if self.end < self.start:
            raise ValueError("akhir periode tidak boleh sebelum awalnya")

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        return cls(date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1]))

    @classmethod
    def year(cls, year: int) -> Period:
        return cls(date(year, 1, 1), date(year, 12, 31))

    @classmethod
    def this_month(cls, now: datetime) -> Period:
        today = now.astimezone(WIB).date()
        return cls.month(today.year, today.month)

    @classmethod
    def last_month(cls, now: datetime) -> Period:
        first = now.astimezone(WIB).date().replace(day=1)
        before = first - timedelta(days=1)
        return cls.month(before.year, before.month)

    @classmethod
    def this_year(cls, now: datetime) -> Period:
        return cls.year(now.astimezone(WIB).year)

    @property
    def starts_at(self) -> datetime:
        """00:00 WIB of the first day (aware)."""
        return datetime.combine(self.start, time(0), WIB)

    @property
    def ends_before(self) -> datetime:
        """00:00 WIB of the day after the last day (aware): the first instant outside."""
        return datetime.combine(self.end + timedelta(days=1), time(0), WIB)

    def contains(self, moment: datetime) -> bool:
        return self.starts_at <= moment < self.ends_before

    @property
    def is_month(self) -> bool:
        return self == Period.month(self.start.year, self.start.month)

    @property
    def is_year(self) -> bool:
        return self == Period.year(self.start.year)

    @property
    def label(self) -> str:
        """How the period is printed on a record: ``"Mei 2025"``, ``"Tahun 2025"``, or a range."""
        if self.is_month:
            return timefmt.format_month(self.start.year, self.start.month, RECORD_LOCALE)
        if self.is_year:
            return f"Tahun {self.start.year}"
        if self.start == self.end:
            return tanggal_id(self.start)
        return f"{tanggal_id(self.start)} s.d. {tanggal_id(self.end)}"

    @property
    def slug(self) -> str:
        """For file names: ``2025-05``, ``2025`` or ``2025-05-01_2025-05-20``."""
        if self.is_month:
            return f"{self.start.year:04d}-{self.start.month:02d}"
        if self.is_year:
            return f"{self.start.year:04d}"
        return f"{self.start.isoformat()}_{self.end.isoformat()}"


# --------------------------------------------------------------------------------------------------
# Shared reading of the event log
# --------------------------------------------------------------------------------------------------


def _chunks(ids: Sequence[int]) -> Iterable[list[int]]:
    ids = list(ids)
    for i in range(0, len(ids), _CHUNK):
        yield ids[i:i + _CHUNK]


def _case_events(session: Session, instance_ids: Sequence[int], types: tuple[str, ...]) -> dict[int, list]:
    """The events of the given types of each case, in log order: rows of the columns the records read (instance_id,
    type, actor, at, payload), not ORM objects (a year's register reads tens of thousands)."""
    found: dict[int, list] = defaultdict(list)
    columns = (EventRow.instance_id, EventRow.type, EventRow.actor, EventRow.at, EventRow.payload)
    for chunk in _chunks(instance_ids):
        rows = session.execute(select(*columns).where(EventRow.instance_id.in_(chunk), EventRow.type.in_(types))
                               .order_by(EventRow.seq))
        for row in rows:
            found[row.instance_id].append(row)
    return found


def _team_names(session: Session) -> dict[str, str]:
    return dict(session.execute(select(Team.code, Team.name)).all())


def _current_steps(session: Session, instance_ids: Sequence[int]) -> dict[int, list[str]]:
    current: dict[int, list[str]] = defaultdict(list)
    for chunk in _chunks(instance_ids):
        for row in session.execute(select(TaskRow).where(TaskRow.instance_id.in_(chunk), TaskRow.state == "ready")
                                   .order_by(TaskRow.created_at)).scalars():
            current[row.instance_id].append(row.name)
    return current


#: Cases are read without their workflow state (tens of kilobytes each, which no record reads).
_NO_STATE = defer(Instance.state)


def _names(session: Session, usernames: Iterable[str | None], known: dict) -> dict:
    """Display names of ``usernames``, added to ``known`` (those of earlier chunks are not read again)."""
    missing = {u for u in usernames if u and u not in known}
    if missing:
        known.update(display_names(session, missing))
    return known


# --------------------------------------------------------------------------------------------------
# Register Dokumentasi dan Konten
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegisterRow:
    number: str
    seq: int
    year: int
    registered_at: datetime  # first hand-in of step 1 (aware UTC)
    instance_id: int
    activity: str
    activity_date: date | None
    place: str
    team_code: str | None
    team_name: str | None
    submitted_by: str | None  # username of the first hand-in
    submitted_by_name: str | None
    submissions: int  # how often step 1 was handed in (returns make it more than one)
    photos: int  # in the latest hand-in
    other_files: int
    outcome: str  # casefile.case_outcome: berjalan | an outcome code its version declares | selesai | galat
    current_steps: tuple[str, ...] = ()
    rules: Declarations | None = None  # of the case's version: how its outcome is named
    #: The case data the register's extra columns show (``alur:register columns``): the start form's values, then
    #: the latest completion of the register step's.
    fields: dict = field(default_factory=dict)
    #: The register step's deadline for its first hand-in (None: the step has none).
    due_at: datetime | None = None
    #: What the register step's form requires that the latest hand-in left empty or short of its minimum number of
    #: files (field labels; a hand-in through the form always has them, a case of an older version may not).
    missing: tuple[str, ...] = ()
    #: The optional fields of the register step's form the latest hand-in left empty (e.g. the video).
    without: tuple[str, ...] = ()
    #: Why the case was cancelled (process/caseops.py), when it was.
    cancel_reason: str | None = None

    @property
    def late(self) -> bool | None:
        """Whether the first hand-in came after the register step's deadline (None: no deadline)."""
        return None if self.due_at is None else self.registered_at > self.due_at

    @property
    def late_by(self) -> timedelta | None:
        return self.registered_at - self.due_at if self.late else None


def register_rows(session: Session, period: Period, rulebook: Rulebook, process_key: str | None = None
                  ) -> list[RegisterRow]:
    """The register entries dated in ``period`` (of one procedure's register, or of all), in numbering order."""
    stmt = (select(RegisterEntry, Instance).join(Instance, Instance.id == RegisterEntry.instance_id)
            .where(RegisterEntry.created_at >= period.starts_at, RegisterEntry.created_at < period.ends_before)
            .options(_NO_STATE))
    if process_key is not None:
        stmt = stmt.where(RegisterEntry.process_key == process_key)
    pairs = session.execute(stmt.order_by(RegisterEntry.created_at, RegisterEntry.year, RegisterEntry.seq)).all()
    rows: list[RegisterRow] = []
    names: dict = {}
    for start in range(0, len(pairs), _CHUNK):  # a chunk of cases at a time: their events are let go after it
        rows += _register_rows(session, pairs[start:start + _CHUNK], rulebook, names)
    return rows


def _register_rows(session: Session, pairs, rulebook: Rulebook, names: dict | None = None) -> list[RegisterRow]:
    """Each entry with the facts of its case: the hand-ins are the completions of the step its version numbers the
    register at (``alur:register``), the place is the field its version declares (``alur:procedure place``)."""
    ids = [instance.id for _, instance in pairs]
    rules = rulebook.of_instances(session, ids)
    events = _case_events(session, ids, ("case_started", "task_completed", "case_migrated", "case_cancelled"))
    teams = _team_names(session)
    current = _current_steps(session, ids)
    dues = _first_dues(session, ids, {i: d.register_step.bpmn_id for i, d in rules.items()
                                      if d.register_step is not None})
    facts = {}
    actors = set()
    for instance_id in ids:
        started: dict = {}
        cancelled: str | None = None
        submissions: list[tuple[str | None, dict]] = []
        register_step = rules[instance_id].register_step
        rows = [(row, eventlog.decode(row)) for row in events.pop(instance_id, [])]
        step_ids = eventlog.step_ids_now([(row.type, payload) for row, payload in rows])
        for (row, payload), step_id in zip(rows, step_ids, strict=True):
            if row.type == "case_started":
                started = payload.get("data") or {}
            elif row.type == "case_cancelled":
                cancelled = str(payload.get("reason") or "")
            elif row.type == "task_completed" and register_step is not None and step_id == register_step.bpmn_id:
                submissions.append((row.actor, payload.get("data") or {}))
        first_actor = submissions[0][0] if submissions else None
        latest = submissions[-1][1] if submissions else {}
        actors.add(first_actor)
        facts[instance_id] = (started, submissions, first_actor, latest, cancelled)
    names = _names(session, actors, {} if names is None else names)
    rows = []
    for entry, instance in pairs:
        started, submissions, first_actor, latest, cancelled = facts[instance.id]
        decl = rules[instance.id]
        place = decl.place_field or ""
        register_id = decl.register_step.bpmn_id if decl.register_step is not None else None
        photos, other_files = decl.file_counts(register_id, latest)
        rows.append(RegisterRow(
            number=entry.number, seq=entry.seq, year=entry.year, registered_at=entry.created_at,
            instance_id=instance.id, activity=instance.title,
            activity_date=instance.business_date,
            place=str(latest.get(place) or started.get(place) or "") if place else "",
            team_code=instance.group, team_name=teams.get(instance.group or "", instance.group),
            submitted_by=first_actor, submitted_by_name=names.get(first_actor or "", first_actor),
            submissions=len(submissions), photos=photos, other_files=other_files,
            outcome=case_outcome(instance, decl),
            current_steps=tuple(current.get(instance.id, [])), rules=decl,
            fields={k: v for k in (decl.register_step.register_columns if decl.register_step else ())
                    if (v := latest.get(k, started.get(k))) is not None},
            due_at=dues.get(instance.id), missing=_missing(decl, register_id, latest, True),
            without=_missing(decl, register_id, latest, False), cancel_reason=cancelled))
    return rows


def _first_dues(session: Session, ids: Sequence[int], step_of: dict[int, str]) -> dict[int, datetime]:
    """``{case: deadline}`` of the first task of each case's register step (the step-1 deadline of the SOP)."""
    dues: dict[int, datetime] = {}
    for chunk in _chunks(ids):
        rows = session.execute(select(TaskRow.instance_id, TaskRow.bpmn_id, TaskRow.due_at)
                               .where(TaskRow.instance_id.in_(chunk)).order_by(TaskRow.created_at, TaskRow.id))
        for instance_id, bpmn_id, due_at in rows:
            if step_of.get(instance_id) == bpmn_id and instance_id not in dues and due_at is not None:
                dues[instance_id] = due_at
    return dues


def _missing(decl: Declarations, bpmn_id: str | None, data: dict, required: bool) -> tuple[str, ...]:
    """The register step's (``required``: required, else optional) fields the hand-in left empty, or with fewer
    files than the form's minimum."""
    missing = []
    for f in decl.forms.get(bpmn_id or "", ()):
        needed = bool(f.required or f.constraints.get("min_files") or f.constraints.get("min_posts"))
        if f.readonly or needed != required:
            continue
        value = data.get(f.id)
        if f.type in ("files", "posts"):
            least = f.constraints.get("min_files" if f.type == "files" else "min_posts", "")
            if len(value or []) < (int(least) if least.isdigit() else 1):
                missing.append(f.label)
        elif f.type != "boolean" and (value is None or str(value).strip() == ""):
            missing.append(f.label)
    return tuple(missing)


# --------------------------------------------------------------------------------------------------
# Tanggapan Tertulis
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResponseRow:
    step: int | None  # 2, 3 or 4
    step_name: str
    bpmn_id: str
    decision: str | None  # the form's value: diterima, dikembalikan, lanjut, kembalikan, setuju, revisi, tolak
    text: str
    actor: str | None
    name: str | None  # display name of the actor
    lane: str | None  # the diagram's lane, i.e. the role that wrote it
    at: datetime
    late: bool  # written after the step's deadline


@dataclass(frozen=True, slots=True)
class CaseResponses:
    instance_id: int
    number: str | None
    registered_at: datetime | None
    activity: str
    activity_date: date | None
    team_name: str | None
    outcome: str
    responses: list[ResponseRow] = field(default_factory=list)
    rules: Declarations | None = None  # of the case's version: how its decisions and outcome are named


#: What puts a case's written responses in a period: the case's registration (all its responses), or the
#: responses' own dates (only those written in the period, of any case).
RESPONSE_BASES = ("register", "tanggapan")
#: What puts a post in a period: its upload time (as the admin gave it; else when the step was completed), or the
#: completion of the upload step.
RECAP_BASES = ("unggah", "selesai")


def written_responses(session: Session, period: Period | None = None, *, rulebook: Rulebook,
                      instance_id: int | None = None, process_key: str | None = None,
                      basis: str = "register") -> list[CaseResponses]:
    """The written responses (of the steps that declare ``alur:response``), per case: of the cases registered in
    ``period`` (``basis="register"``, in register order), or those written in ``period`` (``basis="tanggapan"``,
    per case in register order, unregistered cases last), or of one case (``instance_id``, registered or not)."""
    if basis not in RESPONSE_BASES:
        raise ValueError(f"unknown basis {basis!r}")
    within = None
    if instance_id is not None:
        instance = session.get(Instance, instance_id)
        if instance is None:
            return []
        entry = session.execute(select(RegisterEntry).where(RegisterEntry.instance_id == instance_id)
                                ).scalar_one_or_none()
        cases = [(entry, instance)]
    elif period is not None and basis == "tanggapan":
        within = period
        cases = _cases_responding_in(session, period, rulebook, process_key)
    elif period is not None:
        stmt = (select(RegisterEntry, Instance).join(Instance, Instance.id == RegisterEntry.instance_id)
                .where(RegisterEntry.created_at >= period.starts_at, RegisterEntry.created_at < period.ends_before)
                .options(_NO_STATE))
        if process_key is not None:
            stmt = stmt.where(RegisterEntry.process_key == process_key)
        cases = session.execute(stmt.order_by(RegisterEntry.created_at, RegisterEntry.year, RegisterEntry.seq)).all()
    else:
        raise ValueError("give a period or a case")
    teams = _team_names(session)
    names: dict = {}
    result = []
    for start in range(0, len(cases), _CHUNK):  # a chunk of cases at a time: their events are let go after it
        result += _case_responses(session, cases[start:start + _CHUNK], rulebook, within, teams, names)
    return result


def _case_responses(session: Session, cases, rulebook: Rulebook, within: Period | None, teams: dict,
                    names: dict) -> list[CaseResponses]:
    """The written responses of (register entry or None, case) pairs, from their events."""
    ids = [instance.id for _, instance in cases]
    rules = rulebook.of_instances(session, ids)
    events = _case_events(session, ids, ("task_completed", "case_migrated"))
    names = _names(session, {row.actor for rows in events.values() for row in rows if row.type == "task_completed"},
                   names)
    result = []
    for entry, instance in cases:
        responses = []
        decl = rules[instance.id]
        rows = [(row, eventlog.decode(row)) for row in events.pop(instance.id, [])]
        step_ids = eventlog.step_ids_now([(row.type, payload) for row, payload in rows])
        for (row, payload), bpmn_id in zip(rows, step_ids, strict=True):
            if row.type != "task_completed":
                continue
            step = decl.step(bpmn_id)
            if step is None or step.response is None or (within is not None and not within.contains(row.at)):
                continue
            submitted = payload.get("data") or {}
            decision_key, text_key = step.response
            responses.append(ResponseRow(
                step=step.number, step_name=payload.get("name") or bpmn_id, bpmn_id=bpmn_id,
                decision=submitted.get(decision_key), text=str(submitted.get(text_key) or ""), actor=row.actor,
                name=names.get(row.actor or "", row.actor), lane=payload.get("lane"), at=row.at,
                late=bool(payload.get("late"))))
        result.append(CaseResponses(
            instance_id=instance.id, number=entry.number if entry else None,
            registered_at=entry.created_at if entry else None, activity=instance.title,
            activity_date=instance.business_date, team_name=teams.get(instance.group or "", instance.group),
            outcome=case_outcome(instance, decl), responses=responses, rules=decl))
    return result


def _cases_responding_in(session: Session, period: Period, rulebook: Rulebook, process_key: str | None):
    """(register entry or None, case) of the cases with a written response in ``period``: registered ones in
    register order, then the others by case number."""
    response_ids = sorted({s.bpmn_id for decl in rulebook.all_versions(session)
                           if process_key is None or decl.process_key == process_key
                           for s in decl.steps.values() if s.response is not None})
    if not response_ids:
        return []
    ids = sorted(set(session.execute(
        select(EventRow.instance_id).join(TaskRow, TaskRow.id == EventRow.task_id)
        .where(EventRow.type == "task_completed", TaskRow.bpmn_id.in_(response_ids),
               EventRow.at >= period.starts_at, EventRow.at < period.ends_before)).scalars()))
    if process_key is not None:
        ids = [i for i, decl in rulebook.of_instances(session, ids).items() if decl.process_key == process_key]
    pairs = []
    for chunk in _chunks(sorted(ids)):
        pairs += session.execute(select(RegisterEntry, Instance).select_from(Instance)
                                 .outerjoin(RegisterEntry, RegisterEntry.instance_id == Instance.id)
                                 .where(Instance.id.in_(chunk)).options(_NO_STATE)).all()
    far = datetime.max.replace(tzinfo=WIB)
    return sorted(pairs, key=lambda p: (p[0] is None, p[0].created_at if p[0] else far,
                                        p[0].seq if p[0] else 0, p[1].id))


# --------------------------------------------------------------------------------------------------
# Rekapitulasi Konten Media Sosial
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PostRow:
    instance_id: int
    number: str | None
    activity: str
    activity_date: date | None
    platform: str
    url: str
    posted_at: datetime | None  # the time the admin gave for the post
    recorded_at: datetime  # when step 5 was completed
    actor: str | None
    name: str | None
    due_at: datetime | None  # the step-5 deadline
    on_time: bool | None  # None: the step had no deadline

    @property
    def uploaded_at(self) -> datetime:
        """The time the recap judges and dates the post by: the time the admin gave, else the recording."""
        return self.posted_at or self.recorded_at

    @property
    def apart(self) -> bool:
        """The upload time the admin gave and the recording (completion of the step) are more than a day apart:
        the records show both."""
        return self.posted_at is not None and abs(self.recorded_at - self.posted_at) > timedelta(days=1)

    @property
    def lateness(self) -> timedelta | None:
        """How long after the deadline the post went up (None when on time or unknown)."""
        if self.on_time is not False:
            return None
        return (self.posted_at or self.recorded_at) - self.due_at


@dataclass(frozen=True)
class PlatformTotal:
    platform: str
    posts: int
    on_time: int
    late: int

    @property
    def unknown(self) -> int:
        return self.posts - self.on_time - self.late


@dataclass(frozen=True)
class Recap:
    period: Period
    posts: list[PostRow]
    totals: list[PlatformTotal]  # one per platform (configured ones first, also when 0)
    cases: int  # cases with a post in the period (by the basis)
    #: The upload step as the versions of those cases number and name it ('6 “Pengunggahan”'; the newest version's
    #: when there is no case), each way once.
    steps: tuple[str, ...] = ()
    basis: str = "unggah"  # RECAP_BASES

    @property
    def total(self) -> PlatformTotal:
        return PlatformTotal("", sum(t.posts for t in self.totals), sum(t.on_time for t in self.totals),
                             sum(t.late for t in self.totals))


def _posted_at(value) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment.replace(tzinfo=WIB) if moment.tzinfo is None else moment


#: With ``basis="unggah"``, completions of the upload step read before the period's start: a post is dated by the
#: time the admin gave, which comes before its recording; one given more than this after it is not found.
UPLOAD_LOOKBACK = timedelta(days=31)


def recap(session: Session, period: Period, rulebook: Rulebook, platforms: Sequence[str] = (),
          basis: str = "unggah") -> Recap:
    """Every post uploaded in ``period`` (``basis="unggah"``: by the time the admin gave for it, else when the
    upload step was completed), or every post of the cases whose upload step (the step that declares
    ``alur:record kind="posts"``, step 5 of the SOP) was completed in ``period`` (``basis="selesai"``).

    One definition of on time: a post is on time when its upload time (the time given for it or, when missing,
    the completion of the step) is not after the step's deadline ("H+1 setelah kegiatan berlangsung"). Where the
    time given and the completion are more than a day apart (:attr:`PostRow.apart`) the records show both.
    """
    if basis not in RECAP_BASES:
        raise ValueError(f"unknown basis {basis!r}")
    upload_ids = sorted({s.bpmn_id for decl in rulebook.all_versions(session) for s in decl.steps_with("posts")})
    since = period.starts_at - UPLOAD_LOOKBACK if basis == "unggah" else period.starts_at
    stmt = (select(EventRow, TaskRow).join(TaskRow, TaskRow.id == EventRow.task_id)
            .where(EventRow.type == "task_completed", TaskRow.bpmn_id.in_(upload_ids), EventRow.at >= since))
    if basis == "selesai":
        stmt = stmt.where(EventRow.at < period.ends_before)
    completions = session.execute(stmt.order_by(EventRow.seq)).all() if upload_ids else []
    rules = rulebook.of_instances(session, {event.instance_id for event, _ in completions})
    completions = [(e, t) for e, t in completions
                   if (step := rules[e.instance_id].step(t.bpmn_id)) is not None and step.record_field("posts")]
    if basis == "unggah":
        completions = [(e, t) for e, t in completions if _posts_in(e, rules[e.instance_id].step(t.bpmn_id), period)]
    ids = sorted({event.instance_id for event, _ in completions})
    instances = {}
    numbers = {}
    for chunk in _chunks(ids):
        instances.update({i.id: i for i in session.execute(select(Instance).where(Instance.id.in_(chunk))
                                                           .options(_NO_STATE)).scalars()})
        numbers.update(dict(session.execute(select(RegisterEntry.instance_id, RegisterEntry.number)
                                            .where(RegisterEntry.instance_id.in_(chunk))).all()))
    names = display_names(session, {event.actor for event, _ in completions})
    posts = []
    for event, task in completions:
        instance = instances[event.instance_id]
        payload = eventlog.decode(event)
        posts_field = rules[event.instance_id].step(task.bpmn_id).record_field("posts")
        for item in (payload.get("data") or {}).get(posts_field) or []:
            posted = _posted_at(item.get("waktu"))
            if basis == "unggah" and not period.contains(posted or event.at):
                continue
            posts.append(PostRow(
                instance_id=instance.id, number=numbers.get(instance.id), activity=instance.title,
                activity_date=instance.business_date, platform=str(item.get("platform") or ""),
                url=str(item.get("url") or ""), posted_at=posted, recorded_at=event.at, actor=event.actor,
                name=names.get(event.actor or "", event.actor), due_at=task.due_at,
                on_time=None if task.due_at is None else (posted or event.at) <= task.due_at))
    order = {p: i for i, p in enumerate(platforms)}
    posts.sort(key=lambda p: (order.get(p.platform, len(order)), p.platform, p.posted_at or p.recorded_at,
                              p.instance_id))
    counts: dict[str, list[int]] = {p: [0, 0, 0] for p in platforms}
    for post in posts:
        c = counts.setdefault(post.platform, [0, 0, 0])
        c[0] += 1
        c[1] += post.on_time is True
        c[2] += post.on_time is False
    totals = [PlatformTotal(p, *c) for p, c in counts.items()]
    declared = [rules[i] for i in ids] or [d for d in rulebook.all_versions(session) if d.steps_with("posts")][-1:]
    return Recap(period=period, posts=posts, totals=totals, cases=len({p.instance_id for p in posts}),
                 steps=_step_names(s for decl in declared for s in decl.steps_with("posts")), basis=basis)


def _posts_in(event: EventRow, step: Step, period: Period) -> bool:
    """Whether a completion of the upload step lists a post uploaded in ``period``."""
    items = (eventlog.decode(event).get("data") or {}).get(step.record_field("posts")) or []
    return any(period.contains(_posted_at(item.get("waktu")) or event.at) for item in items)


def _step_names(steps: Iterable[Step]) -> tuple[str, ...]:
    """Each step as 'number “short name”', or its short name when it has no number; each once, in number order."""
    named = sorted({(s.number or 0, s.short) for s in steps})
    return tuple(f"{n} \u201c{short}\u201d" if n else f"\u201c{short}\u201d" for n, short in named)

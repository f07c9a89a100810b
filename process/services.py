"""The SOP's services: who may do what to which case, checked before the engine is touched.

Every function takes the caller's session and never commits: a request, a CLI command or a test owns
the transaction, so a refused action leaves the database as it was.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, partial
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from engine import eventlog
from engine.clock import Clock
from engine.db import lost_connection
from engine.definitions import ParsedDefinition
from engine.errors import ExecutionFailed, InvalidData, NotFound, Problem, TaskNotReady
from engine.expressions import DEFAULT_FUNCTIONS
from engine.forms import FormField
from engine.models import Definition, Instance, TaskRow
from engine.runtime import ActionResult, WorkflowEngine

from . import files, inputs, notify, outbox, sessions
from .config import Settings
from .contract import (
    CONTRACT_CODES,
    TASK_KOREKSI,
    TASK_PUTUSKAN,
    TASK_SERAHKAN,
    TASK_TERIMA,
    TASK_UNGGAH,
    contract_problems,
)
from .deadlines import WIB, timer_functions
from .errors import BadRequest, NotClaimed, NotPermitted, SelfApproval
from .files import resolver
from .forms import FORM_DEFINITION_CODES, FieldError, FormInvalid, form_definition_problems, validate_form
from .mail import valid_address
from .models import Team, User, UserRole
from .register import ensure_entry
from .roles import LANE_ROLES, TEAM_LANES, check_role, lanes_of

log = logging.getLogger(__name__)

#: The SOP's steps by BPMN element id (the diagram's ids are part of the contract, like its lanes: process/contract.py).
STEP_OF = {TASK_SERAHKAN: 1, TASK_TERIMA: 2, TASK_KOREKSI: 3, TASK_PUTUSKAN: 4, TASK_UNGGAH: 5}
SUBMIT_TASK = TASK_SERAHKAN
DECIDE_TASK = TASK_PUTUSKAN
#: Whether the user submitted the case's documentation (the self-approval rule); built once, run on every decision.
_SUBMITTED_BY = (select(TaskRow.id).where(TaskRow.instance_id == bindparam("instance_id"),
                                          TaskRow.bpmn_id == SUBMIT_TASK, TaskRow.state == "completed",
                                          TaskRow.completed_by == bindparam("actor")).limit(1))


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


def hash_password(password: str) -> str:
    return generate_password_hash(password)


@dataclass(frozen=True)
class CaseInput:
    nama_kegiatan: str
    tanggal_kegiatan: str
    tempat_kegiatan: str
    tim: str | None = None


class Alur:
    """Application service of SOP 21/2025 over the generic engine."""

    def __init__(self, engine: WorkflowEngine, settings: Settings):
        self.engine = engine
        self.settings = settings
        self.clock = engine.clock

    # ----------------------------------------------------------------- definitions
    def ensure_definition(self, session: Session, actor: str | None = "system") -> Definition:
        """Deploy the bundled diagram when no version of the process exists yet."""
        try:
            return self.engine.latest(session, self.settings.process_key)
        except NotFound:
            xml = self.settings.diagram_path.read_bytes()
            return self.engine.deploy(session, xml, actor=actor, summary={"note": "versi awal (bawaan)"})

    # ----------------------------------------------------------------------- users
    def add_user(self, session: Session, username: str, password: str, roles, *, full_name: str = "",
                 team_code: str | None = None, email: str | None = None, actor: str | None = None) -> User:
        username = _checked(inputs.username, username, "Nama pengguna")
        full_name = _checked(lambda v: inputs.name(v, required=False), full_name, "Nama lengkap")
        if len(password or "") < 8:
            raise BadRequest("Kata sandi minimal 8 karakter.")
        roles = sorted({check_role(r) for r in roles})
        if not roles:
            raise BadRequest("Setiap pengguna perlu setidaknya satu peran.")
        if self.username_taken(session, username):
            raise BadRequest(f"Nama pengguna '{username}' sudah dipakai.", username=username)
        email = self._checked_email(email)
        team = self.team(session, team_code) if team_code else None
        now = self.clock.now()
        user = User(username=username, full_name=full_name, email=email, password_hash=hash_password(password),
                    active=True, team=team, created_at=now, role_rows=[UserRole(role=r) for r in roles])
        session.add(user)
        session.flush()
        eventlog.append(session, type="user_created", at=now, actor=actor, data={
            "username": username, "roles": roles, "team": team_code})
        return user

    @staticmethod
    def username_taken(session: Session, username: str) -> bool:
        """Whether an account answers to this username (compared folded: accounts made before usernames were
        folded to lower case still count)."""
        folded = inputs.fold_username(username)
        return session.execute(select(User.id).where(func.lower(User.username) == folded)).first() is not None

    def team(self, session: Session, code: str, *, create: bool = False, name: str | None = None) -> Team:
        code = code.strip() if isinstance(code, str) else code
        team = session.execute(select(Team).where(Team.code == code)).scalar_one_or_none()
        if team is None:
            if not create:
                raise BadRequest(f"Tim '{code}' tidak dikenal.", team=code)
            code = _checked(inputs.team_code, code, "Kode tim")
            team = Team(code=code, name=_checked(inputs.name, name or code, "Nama tim"))
            session.add(team)
            session.flush()
        return team

    # ------------------------------------------------------------ user administration
    # Each change is an event in the log of record; ``by`` is the acting user (None for the CLI, then
    # ``actor`` names it). Nobody can lock themselves out: no self-deactivation, no dropping one's own admin.

    @staticmethod
    def find_user(session: Session, username: str) -> User:
        user = _by_username(session, username)
        if user is None:
            raise NotFound(f"Pengguna '{username}' tidak ditemukan.", username=username)
        return user

    def add_team(self, session: Session, code: str, name: str, *, actor: str | None = None) -> Team:
        code = _checked(inputs.team_code, code, "Kode tim")
        name = _checked(inputs.name, name, "Nama tim")
        if session.execute(select(Team).where(Team.code == code)).scalar_one_or_none():
            raise BadRequest(f"Kode tim '{code}' sudah dipakai.")
        team = self.team(session, code, create=True, name=name)
        eventlog.append(session, type="team_created", at=self.clock.now(), actor=actor,
                        data={"code": code, "name": name})
        return team

    def set_active(self, session: Session, target: User, active: bool, *, by: User | None = None,
                   actor: str | None = None) -> User:
        """Deactivate (every session and token of the user stops working) or reactivate an account."""
        if not active and by is not None and by.id == target.id:
            raise NotPermitted("Anda tidak dapat menonaktifkan akun Anda sendiri.")
        if target.active == bool(active):
            return target
        target.active = bool(active)
        data: dict[str, Any] = {"username": target.username}
        if not active:
            # Tasks the user holds go back to their lanes, or nobody else could take them.
            # By case id: a transaction that locks several cases takes them in ascending order (engine.runtime).
            held = session.execute(select(TaskRow.id).where(TaskRow.claimed_by == target.actor,
                                                            TaskRow.state == "ready")
                                   .order_by(TaskRow.instance_id, TaskRow.id)).scalars().all()
            for task_id in held:
                self.engine.unclaim(session, task_id, target.actor)
            data["released_tasks"] = list(held)
            # Every login and API token of the account ends now, and stays ended if it is reactivated.
            data["sessions_ended"] = sessions.end_sessions_of(session, target.id, self.clock.now(), "deactivated")
        eventlog.append(session, type="user_activated" if active else "user_deactivated", at=self.clock.now(),
                        actor=by.actor if by else actor, data=data)
        return target

    def deactivate(self, session: Session, target: User, *, by: User | None = None,
                   actor: str | None = None) -> User:
        return self.set_active(session, target, False, by=by, actor=actor)

    def activate(self, session: Session, target: User, *, by: User | None = None, actor: str | None = None) -> User:
        return self.set_active(session, target, True, by=by, actor=actor)

    def reset_password(self, session: Session, target: User, password: str, *, by: User | None = None,
                       actor: str | None = None, keep_session: str | None = None) -> User:
        """Set a new password and end every session and API token of the user, but ``keep_session`` (the secret
        of the session doing it, when a user resets their own password)."""
        if len(password or "") < 8:
            raise BadRequest("Kata sandi minimal 8 karakter.")
        target.password_hash = hash_password(password)
        now = self.clock.now()
        ended = sessions.end_sessions_of(session, target.id, now, "password_reset", keep=keep_session)
        eventlog.append(session, type="password_reset", at=now, actor=by.actor if by else actor,
                        data={"username": target.username, "sessions_ended": ended})
        return target

    def set_roles(self, session: Session, target: User, roles, *, by: User | None = None,
                  actor: str | None = None) -> User:
        new = sorted({check_role(r) for r in roles})
        if not new:
            raise BadRequest("Setiap pengguna perlu setidaknya satu peran.")
        if by is not None and by.id == target.id and "admin" in target.roles and "admin" not in new:
            raise NotPermitted("Anda tidak dapat mencabut peran Administrator dari akun Anda sendiri.")
        old = sorted(target.roles)
        if new == old:
            return target
        keep = [row for row in target.role_rows if row.role in new]
        target.role_rows = keep + [UserRole(role=r) for r in new if r not in old]
        session.flush()
        eventlog.append(session, type="role_changed", at=self.clock.now(), actor=by.actor if by else actor,
                        data={"username": target.username, "from": old, "to": new})
        return target

    def set_team(self, session: Session, target: User, team_code: str | None, *, by: User | None = None,
                 actor: str | None = None) -> User:
        team = self.team(session, team_code) if team_code else None
        old = target.team.code if target.team else None
        if old == (team.code if team else None):
            return target
        target.team = team
        session.flush()
        eventlog.append(session, type="team_changed", at=self.clock.now(), actor=by.actor if by else actor,
                        data={"username": target.username, "from": old, "to": team.code if team else None})
        return target

    def set_profile(self, session: Session, target: User, *, full_name: str, email: str | None,
                    by: User | None = None, actor: str | None = None) -> User:
        full_name = _checked(lambda v: inputs.name(v, required=False), full_name, "Nama lengkap")
        email = self._checked_email(email)
        changed = {k: v for k, v in (("full_name", full_name), ("email", email)) if getattr(target, k) != v}
        if not changed:
            return target
        for key, value in changed.items():
            setattr(target, key, value)
        eventlog.append(session, type="profile_changed", at=self.clock.now(), actor=by.actor if by else actor,
                        data={"username": target.username, "fields": sorted(changed)})
        return target

    @staticmethod
    def _checked_email(email: str | None) -> str | None:
        email = _checked(inputs.single_line, email or "", "Surel") or None
        if email is not None and (len(email) > 200 or not valid_address(email)):
            raise BadRequest(f"Alamat surel '{email[:200]}' tidak sah (contoh: nama@kpu.go.id).")
        return email

    #: Built once: every request runs it (a statement built per call costs more than SQLite takes to run it).
    _USER = select(User).options(joinedload(User.role_rows)).where(User.id == bindparam("user_id"))

    @classmethod
    def user(cls, session: Session, user_id: int) -> User | None:
        """The user with that id, their roles and team in one statement (every request needs all three)."""
        return session.execute(cls._USER, {"user_id": user_id}).unique().scalar_one_or_none()

    # -------------------------------------------------------------- sessions and tokens
    def open_session(self, session: Session, user: User, kind: str = sessions.WEB) -> str:
        """A new login (``web``) or API token (``api``) of ``user``: the secret its cookie or token carries."""
        return sessions.open_session(session, user, kind, self.clock.now())

    def session_user(self, session: Session, secret: str, kind: str = sessions.WEB) -> User | None:
        """The active user of the open session with that secret, with roles and team (one statement), or None."""
        return sessions.session_user(session, secret, kind, self.clock.now())

    def end_session(self, session: Session, secret: str, reason: str = "logout") -> bool:
        return sessions.end_session(session, secret, self.clock.now(), reason)

    @staticmethod
    def authenticate(session: Session, username: str, password: str) -> User | None:
        user = _by_username(session, username)
        # Check a hash even for unknown users so timing does not tell which usernames exist.
        hashed = user.password_hash if user is not None else _dummy_hash()
        ok = check_password_hash(hashed, password or "")
        return user if ok and user is not None and user.active else None

    # ----------------------------------------------------------------------- cases
    def start_case(self, session: Session, user: User, case: CaseInput) -> ActionResult:
        """Open a case for an activity; its first task goes to the team that ran it."""
        if "tim_pelaksana" not in user.roles:
            raise NotPermitted("Hanya Tim Pelaksana yang dapat membuat kasus baru.")
        errors = []
        today = self.clock.now().astimezone(WIB).date()
        checked = {}
        for key, label, rule in (("nama_kegiatan", "Nama kegiatan", inputs.name),
                                 ("tanggal_kegiatan", "Tanggal kegiatan", lambda v: inputs.entry_date(v, today)),
                                 ("tempat_kegiatan", "Tempat kegiatan", inputs.name)):
            try:
                checked[key] = rule(getattr(case, key))
            except inputs.Refused as refused:
                errors.append(FieldError(refused.code, key, f"{label}: {refused.message}", refused.params))
        nama, tanggal, tempat = (checked.get(k) for k in ("nama_kegiatan", "tanggal_kegiatan", "tempat_kegiatan"))
        team_code = case.tim or (user.team.code if user.team else None)
        if not team_code:
            errors.append(FieldError("required", "tim", "Tim: wajib dipilih."))
        if errors:
            raise FormInvalid(errors)
        team = self.team(session, team_code)
        if user.team is None or user.team.code != team.code:
            raise NotPermitted(f"Anda bukan anggota tim '{team.name}'.")
        self.ensure_definition(session)
        data = {"nama_kegiatan": nama, "tanggal_kegiatan": tanggal.isoformat(), "tempat_kegiatan": tempat,
                "tim": team.code}
        result = self.engine.start(session, self.settings.process_key, data=data, actor=user.actor,
                                   title=nama, business_date=tanggal, group=team.code)
        notify.after_action(session, self, result, actor=user)
        return result

    # ----------------------------------------------------------------------- tasks
    def task(self, session: Session, task_id: str) -> TaskRow:
        row = session.get(TaskRow, str(task_id)) if isinstance(task_id, str) else None
        if row is None:
            raise NotFound("Tugas tidak ditemukan.", task_id=task_id)
        return row

    def may_act(self, user: User, row: TaskRow) -> bool:
        return user.active and row.lane in lanes_of(user.roles) and (
            row.group is None or (user.team is not None and user.team.code == row.group))

    def check_may_act(self, user: User, row: TaskRow) -> None:
        if not user.active:
            raise NotPermitted("Akun Anda tidak aktif.")
        if row.lane not in lanes_of(user.roles):
            raise NotPermitted(f"Tugas ini untuk {row.lane}; peran Anda tidak termasuk.")
        if row.group is not None and (user.team is None or user.team.code != row.group):
            raise NotPermitted("Tugas ini hanya untuk anggota tim pelaksana kegiatan tersebut.")

    def eligible_users(self, session: Session, lane: str, group: str | None = None) -> list[User]:
        role = LANE_ROLES.get(lane)
        if role is None:
            return []
        stmt = (select(User).join(UserRole).where(UserRole.role == role, User.active.is_(True))
                .order_by(User.username))
        users = list(session.execute(stmt).scalars().unique())
        if group is not None:
            users = [u for u in users if u.team is not None and u.team.code == group]
        return users

    _RECIPIENT_COLUMNS = (User.id, User.username, User.email, User.full_name)
    # Table-level (no ORM entity in the result): run on every action, where the ORM's handling of a select cost
    # as much as running it.
    _USERS, _ROLES, _TEAMS = User.__table__, UserRole.__table__, Team.__table__
    _LANE_USERS = (select(_USERS.c.id, _USERS.c.username, _USERS.c.email, _USERS.c.full_name)
                   .select_from(_USERS.join(_ROLES, _ROLES.c.user_id == _USERS.c.id))
                   .where(_ROLES.c.role == bindparam("role"), _USERS.c.active.is_(True))
                   .order_by(_USERS.c.username))
    _TEAM_USERS = (_LANE_USERS.join_from(_USERS, _TEAMS, _TEAMS.c.id == _USERS.c.team_id)
                   .where(_TEAMS.c.code == bindparam("team")))

    def recipients(self, session: Session, lane: str, group: str | None = None) -> list[notify.Recipient]:
        """The active users who work in ``lane`` (and ``group``): one light query, for notifications on every
        action."""
        role = LANE_ROLES.get(lane)
        if role is None:
            return []
        connection = session.connection()  # table-level: no ORM entity is involved
        found = connection.execute(self._LANE_USERS, {"role": role}) if group is None else \
            connection.execute(self._TEAM_USERS, {"role": role, "team": group})
        return [notify.Recipient(uid, name, email, full or name) for uid, name, email, full in found]

    def recipients_by_username(self, session: Session, usernames: list[str]) -> list[notify.Recipient]:
        stmt = select(*self._RECIPIENT_COLUMNS).where(User.username.in_(usernames), User.active.is_(True))
        return [notify.Recipient(uid, name, email, full or name) for uid, name, email, full in session.execute(stmt)]

    @property
    def reminder_lead(self) -> timedelta:
        return timedelta(hours=self.settings.reminder_hours)

    def open_task(self, session: Session, user: User, task_id: str) -> TaskRow:
        """Open a task to work on it: claimed implicitly when the user is the only one who could."""
        row = self.task(session, task_id)
        self.check_may_act(user, row)
        if row.state == "ready" and row.claimed_by is None:
            if len(self.eligible_users(session, row.lane, row.group)) == 1:
                self.engine.claim(session, row.id, user.actor)
        return row

    def claim(self, session: Session, user: User, task_id: str) -> TaskRow:
        row = self.task(session, task_id)
        self.check_may_act(user, row)
        return self.engine.claim(session, row.id, user.actor)

    def unclaim(self, session: Session, user: User, task_id: str) -> TaskRow:
        row = self.task(session, task_id)
        self.check_may_act(user, row)
        return self.engine.unclaim(session, row.id, user.actor)

    def delegate(self, session: Session, user: User, task_id: str, to_username: str) -> TaskRow:
        row = self.task(session, task_id)
        self.check_may_act(user, row)
        if row.claimed_by not in (None, user.actor):
            raise NotClaimed("Tugas ini sedang dipegang orang lain.")
        target = _by_username(session, to_username)
        if target is None or not self.may_act(target, row):
            raise BadRequest("Tugas hanya dapat didelegasikan kepada anggota lain dari lajur yang sama.")
        if target.id == user.id:
            raise BadRequest("Tugas tidak dapat didelegasikan kepada diri sendiri.")
        row = self.engine.delegate(session, row.id, user.actor, target.actor)
        notify.delegated(session, self, row, target, by=user)
        return row

    def check_may_complete(self, session: Session, user: User, row: TaskRow) -> None:
        """Role, team, readiness, claim and the self-approval rule, before anything is stored."""
        self.check_may_act(user, row)
        if row.state != "ready":
            raise TaskNotReady("Tugas ini sudah tidak menunggu (sudah diselesaikan atau dibatalkan).")
        if row.claimed_by != user.actor:
            if row.claimed_by is None:
                raise NotClaimed("Ambil tugas ini terlebih dahulu sebelum menyelesaikannya.")
            raise NotClaimed("Tugas ini sedang dipegang orang lain.")
        if row.bpmn_id == DECIDE_TASK and self._submitted_by(session, row.instance_id, user):
            raise SelfApproval("Anda menyerahkan dokumentasi kasus ini, jadi tidak dapat memutuskannya sendiri.")

    def form_of(self, session: Session, row: TaskRow) -> list[FormField]:
        instance = session.get(Instance, row.instance_id)
        parsed = self.engine.parsed_for(session, instance.definition_id)
        info = next((u for u in parsed.user_tasks if u.bpmn_id == row.bpmn_id), None)
        return list(info.form) if info else []

    def complete(self, session: Session, user: User, task_id: str, raw: Mapping[str, Any], *,
                 expected_version: int | None = None, claim: bool = False) -> ActionResult:
        """Validate and submit a task's form, after checking role, team, claim and self-approval. With ``claim``,
        a task nobody holds is taken first, in the same transaction (one request instead of two; a task someone
        else holds is still refused)."""
        # The task and its case in one statement; the case is held for the whole action (the session's identity
        # map is weak, and the engine needs it again).
        try:
            row, _instance = self.engine.task_and_case(session, task_id)
        except NotFound:
            raise NotFound("Tugas tidak ditemukan.", task_id=task_id) from None
        if claim and row.claimed_by is None and row.state == "ready":
            self.check_may_act(user, row)
            self.engine.claim(session, row.id, user.actor)
        self.check_may_complete(session, user, row)
        now = self.clock.now()
        fields = self.form_of(session, row)
        cleaned = validate_form(fields, raw, files=resolver(session, row.instance_id, user.actor),
                                platforms=self.settings.platforms, now=now)
        self._sop_rules(row, cleaned)
        if row.bpmn_id == SUBMIT_TASK:
            entry = ensure_entry(session, row.instance_id, self.settings.register_format, now)
            cleaned["nomor_register"] = entry.number
            cleaned["tanggal_pengumpulan"] = now.astimezone(WIB).date().isoformat()
            cleaned["waktu_pengumpulan"] = now.astimezone(WIB).isoformat()
        files.attach(session, row.instance_id, user.actor,
                     [ref["id"] for f in fields if f.type == "files" for ref in cleaned.get(f.id) or []])
        result = self.engine.complete(session, row.id, cleaned, actor=user.actor,
                                      expected_version=expected_version)
        self._record_return(session, user, row, cleaned, result)
        notify.after_action(session, self, result, actor=user, submitted=cleaned, task=row)
        return result

    def _record_return(self, session: Session, user: User, row: TaskRow, cleaned: dict,
                       result: ActionResult) -> None:
        """A decision that sends the case back is an event of its own, with the written response."""
        rule = notify.RETURNS.get(row.bpmn_id)
        if rule is None:
            return
        field, value, response, _who = rule
        if cleaned.get(field) != value:
            return
        eventlog.append(session, type="task_returned", at=self.clock.now(), actor=user.actor,
                        instance_id=row.instance_id, task_id=row.id,
                        data={"bpmn_id": row.bpmn_id, "name": row.name, "decision": value,
                              "response": cleaned.get(response) or "", "to": [r.bpmn_id for r in result.ready]})

    def fire_due_timers(self, session: Session, now: datetime | None = None, limit: int = 200) -> list[ActionResult]:
        """Fire the due deadline timers of up to ``limit`` cases in this transaction, with their notifications. A
        case that fails is rolled back alone (:meth:`fire_timers`), logged and left due."""
        now = now or self.clock.now()
        results = []
        for instance_id in self.due_case_ids(session, now, limit):
            try:
                result = self.fire_timers(session, instance_id, now)
            except Exception as exc:
                if lost_connection(exc):
                    raise
                log.warning("case %s: timers not fired, left for later", instance_id, exc_info=True)
                continue
            if result is not None:
                results.append(result)
        return results

    def due_case_ids(self, session: Session, now: datetime | None = None, limit: int = 200) -> list[int]:
        """Cases with a deadline timer due (earliest first, nothing locked), for :meth:`fire_timers`."""
        return self.engine.due_instance_ids(session, now or self.clock.now(), limit)

    def fire_timers(self, session: Session, instance_id: int, now: datetime | None = None) -> ActionResult | None:
        """Fire one case's due deadline timers, with their notifications; None when it is no longer due or someone
        else is acting on it (engine.runtime.WorkflowEngine.fire_timers). In a savepoint: when it raises, only this
        case is rolled back, and the caller's transaction can go on with other cases."""
        try:
            with session.begin_nested():
                result = self.engine.fire_timers(session, instance_id, now)
                if result is not None:
                    notify.after_action(session, self, result, actor=None)
        except (ExecutionFailed, InvalidData) as exc:
            self.engine.mark_failed(session, instance_id, exc, now)
            return None
        return result

    def send_due_reminders(self, session: Session, now: datetime | None = None, limit: int = 200) -> int:
        """Send the "deadline in N hours" reminders that are due; how many went out."""
        return notify.send_due_reminders(session, self, now or self.clock.now(), limit)

    def purge_unattached_uploads(self, session: Session, limit: int = 500) -> list[str]:
        """Forget uploads that no case uses after the retention period; the stored names to remove after the
        commit (see :func:`process.files.purge_unattached`)."""
        return files.purge_unattached(session, self.clock.now(),
                                      timedelta(days=self.settings.upload_retention_days), limit)

    def stray_files(self, session: Session) -> list[str]:
        return files.stray_files(session, self.settings.files_dir, self.clock.now(),
                                 timedelta(days=self.settings.upload_retention_days))

    def next_wakeup(self, session: Session) -> datetime | None:
        """When the worker next has something to do: the earliest timer, reminder or e-mail (retry)."""
        times = [self.engine.next_timer_at(session), notify.next_reminder_at(session)]
        if self.settings.mail is not None:
            times.append(outbox.next_attempt_at(session))
        times = [t for t in times if t is not None]
        return min(times) if times else None

    # --------------------------------------------------------------------- helpers
    @staticmethod
    def _sop_rules(row: TaskRow, data: dict) -> None:
        errors = []
        if row.bpmn_id == TASK_TERIMA and data.get("keputusan_admin") == "diterima":
            missing = [k for k in ("cek_foto", "cek_narasi", "cek_caption") if not data.get(k)]
            if missing:
                errors.append(FieldError("checklist", missing[0], "Kelengkapan belum semua dicentang: "
                                         "dokumentasi yang belum lengkap harus dikembalikan."))
        if row.bpmn_id == TASK_KOREKSI and data.get("keputusan_wapimred") == "lanjut" and \
                not data.get("konten_valid"):
            errors.append(FieldError("checklist", "konten_valid", "Konten harus dinyatakan sesuai kebutuhan "
                                     "dan valid sebelum diteruskan."))
        if errors:
            raise FormInvalid(errors)

    @staticmethod
    def _submitted_by(session: Session, instance_id: int, user: User) -> bool:
        return session.execute(_SUBMITTED_BY, {"instance_id": instance_id, "actor": user.actor}).first() is not None



def _checked(rule, value, label: str):
    """``rule(value)``, a refusal carrying the field's label (for a message standing alone)."""
    try:
        return rule(value)
    except inputs.Refused as refused:
        raise refused.labelled(label) from None


def _by_username(session: Session, username: str) -> User | None:
    """The account a typed username names: folded to lower case, as usernames are stored (an older account
    with upper-case letters is found by the same folded comparison)."""
    folded = inputs.fold_username(username)
    if not folded:
        return None
    user = session.execute(select(User).where(User.username == folded)).scalar_one_or_none()
    if user is None:
        found = session.execute(select(User).where(func.lower(User.username) == folded)).scalars().all()
        user = found[0] if len(found) == 1 else None
    return user


@cache
def _dummy_hash() -> str:
    return generate_password_hash("dummy-password-for-timing")

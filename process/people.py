"""People: accounts, teams, groups, logins and API tokens, and who works in which lane.

An account holds application roles (process owner, auditor, administrator: process/roles.py) and is a member of
groups; a group works the lanes of the diagrams that name it (process/declarations.py :class:`LaneMap`). Every change
to an account or a group is an event in the log of record; ``by`` is the acting user (None for the CLI, then
``actor`` names it). Nobody can lock themselves out: no self-deactivation, no dropping one's own admin role.
Functions take the caller's session and never commit (a request, a CLI command or a test owns the transaction).
"""
from __future__ import annotations

from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from engine import eventlog
from engine.errors import NotFound
from engine.models import TaskRow
from engine.runtime import WorkflowEngine

from . import inputs, sessions
from . import nip as nip_rules
from .config import Settings
from .declarations import Rulebook, lane_key
from .errors import BadRequest, NotPermitted
from .mail import valid_address
from .messages import message
from .models import Group, Team, User, UserGroup, UserRole
from .roles import LEGACY_GROUPS, check_role, split_roles

#: The shortest password an account may have.
MIN_PASSWORD = 8


class Recipient(NamedTuple):
    """Someone to notify: in the app (``id``), and by e-mail when they have an address."""

    id: int
    username: str
    email: str | None
    name: str


def hash_password(password: str) -> str:
    return generate_password_hash(password)


class People:
    """Accounts and teams of one system (``engine`` releases the tasks of a deactivated account)."""

    def __init__(self, engine: WorkflowEngine, settings: Settings, rules: Rulebook | None = None):
        self.engine = engine
        self.settings = settings
        self.clock = engine.clock
        #: Which groups work which lane (process/declarations.py); without it nobody works any lane.
        self.rules = rules

    # ----------------------------------------------------------------------- users
    def add_user(self, session: Session, username: str, password: str, roles=(), *, groups=(), full_name: str = "",
                 team_code: str | None = None, email: str | None = None, nip: str | None = None,
                 jabatan: str = "", actor: str | None = None) -> User:
        """A new account with application ``roles`` and member of ``groups`` (codes); it needs one or the other. A
        staff role of before groups given as a role (``admin_medsos``) is taken as the group of that code (created
        with its lane's name when missing): deprecated, for old scripts."""
        username = _checked(inputs.username, username, message("label.username"))
        full_name = _checked(lambda v: inputs.name(v, required=False), full_name, message("label.full_name"))
        if len(password or "") < MIN_PASSWORD:
            raise BadRequest("password too short", code="user.password_too_short", n=MIN_PASSWORD)
        roles, legacy = split_roles(roles)
        roles = sorted({check_role(r) for r in roles})
        members = [self.ensure_group(session, code, LEGACY_GROUPS[code], actor=actor) for code in legacy]
        members += [self.find_group(session, code) for code in groups]
        members = sorted({g.id: g for g in members}.values(), key=lambda g: g.code)
        if not roles and not members:
            raise BadRequest("a user needs a role or a group", code="user.no_role")
        if self.username_taken(session, username):
            raise BadRequest(f"username {username!r} is taken", code="user.username_taken", username=username)
        email = self._checked_email(email)
        nip, jabatan = self._checked_official(session, nip, jabatan)
        team = self.team(session, team_code) if team_code else None
        now = self.clock.now()
        user = User(username=username, full_name=full_name, email=email, password_hash=hash_password(password),
                    active=True, team=team, created_at=now, role_rows=[UserRole(role=r) for r in roles],
                    groups=members, nip=nip, jabatan=jabatan)
        session.add(user)
        session.flush()
        eventlog.append(session, type="user_created", at=now, actor=actor, data={
            "username": username, "roles": roles, "groups": [g.code for g in members], "team": team_code})
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
                raise BadRequest(f"no team {code!r}", code="team.unknown", team=code)
            code = _checked(inputs.team_code, code, message("label.team_code"))
            team = Team(code=code, name=_checked(inputs.name, name or code, message("label.team_name")))
            session.add(team)
            session.flush()
        return team

    # ------------------------------------------------------------ user administration

    @staticmethod
    def find_user(session: Session, username: str) -> User:
        user = by_username(session, username)
        if user is None:
            raise NotFound(f"no user {username!r}", code="user.unknown", username=username)
        return user

    def add_team(self, session: Session, code: str, name: str, *, actor: str | None = None) -> Team:
        code = _checked(inputs.team_code, code, message("label.team_code"))
        name = _checked(inputs.name, name, message("label.team_name"))
        if session.execute(select(Team).where(Team.code == code)).scalar_one_or_none():
            raise BadRequest(f"team code {code!r} is taken", code="team.code_taken", team=code)
        team = self.team(session, code, create=True, name=name)
        eventlog.append(session, type="team_created", at=self.clock.now(), actor=actor,
                        data={"code": code, "name": name})
        return team

    def set_active(self, session: Session, target: User, active: bool, *, by: User | None = None,
                   actor: str | None = None) -> User:
        """Deactivate (every session and token of the user stops working) or reactivate an account."""
        if not active and by is not None and by.id == target.id:
            raise NotPermitted("one may not deactivate oneself", code="user.self_deactivate")
        if target.active == bool(active):
            return target
        if active and target.nip:  # the NIP may have been given to another account meanwhile
            self._check_nip_free(session, target.nip, other_than=target.id)
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
        if len(password or "") < MIN_PASSWORD:
            raise BadRequest("password too short", code="user.password_too_short", n=MIN_PASSWORD)
        target.password_hash = hash_password(password)
        now = self.clock.now()
        ended = sessions.end_sessions_of(session, target.id, now, "password_reset", keep=keep_session)
        eventlog.append(session, type="password_reset", at=now, actor=by.actor if by else actor,
                        data={"username": target.username, "sessions_ended": ended})
        return target

    def set_roles(self, session: Session, target: User, roles, *, by: User | None = None,
                  actor: str | None = None) -> User:
        """The user's application roles (the account keeps a role or a group)."""
        return self.set_membership(session, target, roles, target.group_codes, by=by, actor=actor)

    def set_groups(self, session: Session, target: User, codes, *, by: User | None = None,
                   actor: str | None = None) -> User:
        """The groups the user is a member of (the account keeps a role or a group)."""
        return self.set_membership(session, target, target.roles, codes, by=by, actor=actor)

    def set_membership(self, session: Session, target: User, roles, codes, *, by: User | None = None,
                       actor: str | None = None) -> User:
        """The user's roles and groups in one change: a ``role_changed`` and a ``group_changed`` event for what
        changed."""
        new_roles = sorted({check_role(r) for r in roles})
        groups = {g.code: g for g in (self.find_group(session, c) for c in codes)}
        if not new_roles and not groups:
            raise BadRequest("a user needs a role or a group", code="user.no_role")
        if by is not None and by.id == target.id and "admin" in target.roles and "admin" not in new_roles:
            raise NotPermitted("one may not drop one's own admin role", code="user.self_unadmin")
        who = by.actor if by else actor
        old_roles = sorted(target.roles)
        if new_roles != old_roles:
            keep = [row for row in target.role_rows if row.role in new_roles]
            target.role_rows = keep + [UserRole(role=r) for r in new_roles if r not in old_roles]
            session.flush()
            eventlog.append(session, type="role_changed", at=self.clock.now(), actor=who,
                            data={"username": target.username, "from": old_roles, "to": new_roles})
        old_groups = sorted(target.group_codes)
        if sorted(groups) != old_groups:
            target.groups = [groups[c] for c in sorted(groups)]
            session.flush()
            eventlog.append(session, type="group_changed", at=self.clock.now(), actor=who,
                            data={"username": target.username, "from": old_groups, "to": sorted(groups)})
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
        full_name = _checked(lambda v: inputs.name(v, required=False), full_name, message("label.full_name"))
        email = self._checked_email(email)
        changed = {k: v for k, v in (("full_name", full_name), ("email", email)) if getattr(target, k) != v}
        if not changed:
            return target
        for key, value in changed.items():
            setattr(target, key, value)
        eventlog.append(session, type="profile_changed", at=self.clock.now(), actor=by.actor if by else actor,
                        data={"username": target.username, "fields": sorted(changed)})
        return target

    def set_official(self, session: Session, target: User, *, nip: str | None, jabatan: str | None,
                     by: User | None = None, actor: str | None = None) -> User:
        """The user's NIP (None or empty: not a civil servant) and official title, as a signature prints them
        (process/nip.py checks the NIP; no other active user may have it). A ``profile_changed`` event names the
        fields that changed."""
        nip, jabatan = self._checked_official(session, nip, jabatan, other_than=target.id)
        changed = {k: v for k, v in (("nip", nip), ("jabatan", jabatan)) if (getattr(target, k) or None) != (v or None)}
        if not changed:
            return target
        for key, value in changed.items():
            setattr(target, key, value)
        session.flush()
        eventlog.append(session, type="profile_changed", at=self.clock.now(), actor=by.actor if by else actor,
                        data={"username": target.username, "fields": sorted(changed)})
        return target

    def _checked_official(self, session: Session, nip: str | None, jabatan: str | None, *,
                          other_than: int | None = None) -> tuple[str | None, str]:
        nip = _checked(nip_rules.nip, nip, message("label.nip"))
        jabatan = _checked(nip_rules.jabatan, jabatan, message("label.jabatan"))
        if nip is not None:
            self._check_nip_free(session, nip, other_than=other_than)
        return nip, jabatan

    @staticmethod
    def _check_nip_free(session: Session, nip: str, *, other_than: int | None = None) -> None:
        """BadRequest ``user.nip_taken`` when an active user other than ``other_than`` has ``nip``."""
        stmt = select(User.username).where(User.nip == nip, User.active.is_(True))
        if other_than is not None:
            stmt = stmt.where(User.id != other_than)
        holder = session.execute(stmt).scalars().first()
        if holder is not None:
            raise BadRequest("the NIP is another active user's", code="user.nip_taken",
                             nip=nip_rules.printed(nip), username=holder)

    @staticmethod
    def _checked_email(email: str | None) -> str | None:
        email = _checked(inputs.single_line, email or "", message("label.email")) or None
        if email is not None and (len(email) > 200 or not valid_address(email)):
            raise BadRequest("e-mail address refused", code="user.email_invalid", email=email[:200])
        return email

    # ------------------------------------------------------------------------------- groups
    @staticmethod
    def groups(session: Session) -> list[Group]:
        """Every group, by name."""
        return list(session.execute(select(Group).order_by(Group.name, Group.code)).scalars())

    @staticmethod
    def find_group(session: Session, code: str) -> Group:
        group = session.execute(select(Group).where(Group.code == (code or "").strip())).scalar_one_or_none() \
            if isinstance(code, str) else None
        if group is None:
            raise BadRequest(f"no group {code!r}", code="group.unknown", group=str(code)[:50])
        return group

    def _check_group_name(self, session: Session, name: str, *, other_than: int | None = None) -> str:
        name = _checked(inputs.name, name, message("label.group_name"))
        key = lane_key(name)
        for gid, code, existing in session.execute(select(Group.id, Group.code, Group.name)):
            if gid != other_than and lane_key(existing) == key:
                raise BadRequest(f"group name {name!r} is taken", code="group.name_taken", name=name, group=code)
        return name

    def add_group(self, session: Session, code: str, name: str, *, by: User | None = None,
                  actor: str | None = None) -> Group:
        """A new group: ``code`` (lower-case letter first, then letters, digits, ``_``) and a ``name`` no other group
        has (a lane of the same name is worked by it)."""
        code = _checked(inputs.group_code, code, message("label.group_code"))
        if session.execute(select(Group.id).where(Group.code == code)).first() is not None:
            raise BadRequest(f"group code {code!r} is taken", code="group.code_taken", group=code)
        name = self._check_group_name(session, name)
        now = self.clock.now()
        group = Group(code=code, name=name, created_at=now)
        session.add(group)
        session.flush()
        eventlog.append(session, type="group_created", at=now, actor=by.actor if by else actor,
                        data={"code": code, "name": name})
        return group

    def ensure_group(self, session: Session, code: str, name: str, *, actor: str | None = None) -> Group:
        """The group ``code``, created with ``name`` when there is none."""
        found = session.execute(select(Group).where(Group.code == code)).scalar_one_or_none()
        return found if found is not None else self.add_group(session, code, name, actor=actor)

    def rename_group(self, session: Session, group: Group, name: str, *, by: User | None = None,
                     actor: str | None = None) -> Group:
        """A new name (lanes of that name are worked by the group from now on; its code stays)."""
        name = self._check_group_name(session, name, other_than=group.id)
        if name == group.name:
            return group
        old, group.name = group.name, name
        session.flush()
        eventlog.append(session, type="group_renamed", at=self.clock.now(), actor=by.actor if by else actor,
                        data={"code": group.code, "from": old, "to": name})
        return group

    @staticmethod
    def members(session: Session, group: Group) -> list[User]:
        """The members of ``group``, by username."""
        return list(session.execute(select(User).join(UserGroup, UserGroup.user_id == User.id)
                                    .where(UserGroup.group_id == group.id).order_by(User.username)).scalars())

    def change_members(self, session: Session, group: Group, *, add=(), remove=(), by: User | None = None,
                       actor: str | None = None) -> list[User]:
        """Add and remove members of ``group`` (usernames); each user whose groups change is a ``group_changed``
        event. Returns the members after the change."""
        for username, joins in [(u, True) for u in add] + [(u, False) for u in remove]:
            target = self.find_user(session, username)
            codes = set(target.group_codes)
            codes = codes | {group.code} if joins else codes - {group.code}
            self.set_membership(session, target, target.roles, sorted(codes), by=by, actor=actor)
        return self.members(session, group)

    def lane_groups(self, session: Session, lane: str | None) -> list[Group]:
        """The groups that work ``lane``: those the diagrams name for it, and the one named as the lane."""
        if lane is None or self.rules is None:
            return []
        lane_map = self.rules.lane_map(session)
        return [g for g in self.groups(session) if lane_map.works(lane, g.code, g.name)]

    def active_members(self, session: Session, group_ids) -> int:
        """How many active users are members of one of the groups."""
        ids = list(group_ids)
        if not ids:
            return 0
        return session.execute(select(func.count(func.distinct(UserGroup.user_id)))
                               .join(User, User.id == UserGroup.user_id)
                               .where(UserGroup.group_id.in_(ids), User.active.is_(True))).scalar_one()

    #: Built once: every request runs it (a statement built per call costs more than SQLite takes to run it).
    _USER = select(User).options(joinedload(User.role_rows), joinedload(User.groups)) \
        .where(User.id == bindparam("user_id"))

    @classmethod
    def user(cls, session: Session, user_id: int) -> User | None:
        """The user with that id, their roles, groups and team in one statement (every request needs them)."""
        return session.execute(cls._USER, {"user_id": user_id}).unique().scalar_one_or_none()

    # -------------------------------------------------------------- sessions and tokens
    def open_session(self, session: Session, user: User, kind: str = sessions.WEB) -> str:
        """A new login (``web``) or API token (``api``) of ``user``: the secret its cookie or token carries."""
        return sessions.open_session(session, user, kind, self.clock.now())

    def session_user(self, session: Session, secret: str, kind: str = sessions.WEB) -> User | None:
        """The active user of the open session with that secret, with roles, groups and team (one statement), or
        None."""
        return sessions.session_user(session, secret, kind, self.clock.now())

    def end_session(self, session: Session, secret: str, reason: str = "logout") -> bool:
        return sessions.end_session(session, secret, self.clock.now(), reason)

    @staticmethod
    def authenticate(session: Session, username: str, password: str) -> User | None:
        user = by_username(session, username)
        # Check a hash even for unknown users so timing does not tell which usernames exist.
        hashed = user.password_hash if user is not None else _dummy_hash()
        ok = check_password_hash(hashed, password or "")
        return user if ok and user is not None and user.active else None

    # ------------------------------------------------------------------ who works in a lane
    # Table-level (no ORM entity in the result): run on every action, where the ORM's handling of a select cost
    # as much as running it.
    _USERS, _MEMBERS, _GROUPS, _TEAMS = User.__table__, UserGroup.__table__, Group.__table__, Team.__table__
    _ALL_GROUPS = select(_GROUPS.c.id, _GROUPS.c.code, _GROUPS.c.name)

    def _lane_group_ids(self, session: Session, lane: str | None) -> list[int]:
        """The ids of the groups that work ``lane`` (the group table is small: read whole, matched here)."""
        if lane is None or self.rules is None:
            return []
        lane_map = self.rules.lane_map(session)
        codes, key = lane_map.group_codes(lane), lane_key(lane)
        return [gid for gid, code, name in session.connection().execute(self._ALL_GROUPS)
                if code in codes or lane_key(name) == key]

    _IN_GROUPS = _USERS.c.id.in_(select(_MEMBERS.c.user_id)
                                 .where(_MEMBERS.c.group_id.in_(bindparam("groups", expanding=True))))

    def eligible_users(self, session: Session, lane: str, group: str | None = None) -> list[User]:
        """The active users who may work a task of ``lane`` (and of team ``group``), by username."""
        ids = self._lane_group_ids(session, lane)
        if not ids:
            return []
        stmt = select(User).where(User.id.in_(select(UserGroup.user_id).where(UserGroup.group_id.in_(ids))),
                                  User.active.is_(True)).order_by(User.username)
        users = list(session.execute(stmt).scalars().unique())
        if group is not None:
            users = [u for u in users if u.team is not None and u.team.code == group]
        return users

    _RECIPIENT_COLUMNS = (User.id, User.username, User.email, User.full_name)
    _LANE_USERS = (select(_USERS.c.id, _USERS.c.username, _USERS.c.email, _USERS.c.full_name)
                   .where(_IN_GROUPS, _USERS.c.active.is_(True)).order_by(_USERS.c.username))
    _TEAM_USERS = (_LANE_USERS.join_from(_USERS, _TEAMS, _TEAMS.c.id == _USERS.c.team_id)
                   .where(_TEAMS.c.code == bindparam("team")))

    def recipients(self, session: Session, lane: str, group: str | None = None) -> list[Recipient]:
        """The active users who work in ``lane`` (and ``group``): two light queries, for notifications on every
        action."""
        ids = self._lane_group_ids(session, lane)
        if not ids:
            return []
        connection = session.connection()  # table-level: no ORM entity is involved
        found = connection.execute(self._LANE_USERS, {"groups": ids}) if group is None else \
            connection.execute(self._TEAM_USERS, {"groups": ids, "team": group})
        return [Recipient(uid, name, email, full or name) for uid, name, email, full in found]

    def recipients_by_username(self, session: Session, usernames: list[str]) -> list[Recipient]:
        stmt = select(*self._RECIPIENT_COLUMNS).where(User.username.in_(usernames), User.active.is_(True))
        return [Recipient(uid, name, email, full or name) for uid, name, email, full in session.execute(stmt)]


def _checked(rule, value, label: dict):
    """``rule(value)``, a refusal carrying the field's label (for a message standing alone)."""
    try:
        return rule(value)
    except inputs.Refused as refused:
        raise refused.labelled(label) from None


def by_username(session: Session, username: str) -> User | None:
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

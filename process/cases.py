"""Opening a case of a procedure: the start form its diagram declares (the start event's ``camunda:formData``)
validated like any task form, the case named and dated by the fields its declarations name (``alur:procedure title
date team``), the team's membership checked, the first task given to the team that opened it.

Several procedures run side by side: each process id deployed is one, with its own versions; the bundled diagrams
(``bpmn/*.bpmn``) are deployed when their procedure has no version yet."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.definitions import ParsedDefinition
from engine.errors import NotFound
from engine.models import Definition
from engine.runtime import ActionResult, WorkflowEngine

from . import inputs, notify, search
from .config import Settings
from .declarations import Declarations, Rulebook
from .forms import FieldError, FormInvalid, validate_form
from .messages import message
from .models import User
from .people import People
from .permissions import check_in_team, check_may_start, may_act
from .procedure import ensure_definitions

#: The key of a start body that names the procedure (the API's ``procedure``; the default procedure without it).
PROCEDURE_KEY = "procedure"


@dataclass(frozen=True)
class Procedure:
    """One procedure as people see it: its process id, name, newest version, start form and declarations."""

    key: str
    name: str
    version: int
    definition_id: int
    parsed: ParsedDefinition
    rules: Declarations

    @property
    def start_form(self):
        return self.parsed.start_form

    @property
    def needs_team(self) -> bool:
        """Whether a case of it belongs to a team (it names a team field, or has lanes only the team works)."""
        return self.rules.needs_team


class Cases:
    def __init__(self, engine: WorkflowEngine, settings: Settings, people: People, rules: Rulebook):
        self.engine, self.settings, self.people, self.rules = engine, settings, people, rules
        self.clock = engine.clock

    def ensure_definition(self, session: Session, actor: str | None = "system") -> Definition:
        """Deploy the bundled diagrams whose procedure has no version yet; the default procedure's newest version."""
        ensure_definitions(session, self.engine, self.settings, actor)
        return self.engine.latest(session, self.settings.process_key)

    def procedures(self, session: Session, *, deploy: bool = False) -> list[Procedure]:
        """Every procedure deployed, the default one first, then by name (``deploy``: the bundled ones missing are
        deployed first; ``alur init`` does that, so a reading request need not)."""
        if deploy:
            ensure_definitions(session, self.engine, self.settings)
        newest = (select(Definition.process_key, func.max(Definition.version).label("version"))
                  .group_by(Definition.process_key).subquery())
        rows = session.execute(select(Definition).join(newest, (Definition.process_key == newest.c.process_key)
                                                       & (Definition.version == newest.c.version))).scalars().all()
        found = [self._procedure(d) for d in rows]
        return sorted(found, key=lambda p: (p.key != self.settings.process_key, p.name.lower(), p.key))

    def procedure(self, session: Session, key: str | None = None, *, deploy: bool = False) -> Procedure:
        """The procedure ``key`` (the default one when not given); NotFound naming the key otherwise."""
        key = key or self.settings.process_key
        if deploy:
            ensure_definitions(session, self.engine, self.settings)
        try:
            definition = self.engine.latest(session, key)
        except NotFound:
            raise NotFound(f"no procedure {key!r}", code="procedure.unknown", procedure=str(key)[:100]) from None
        return self._procedure(definition)

    def _procedure(self, definition: Definition) -> Procedure:
        parsed = self.engine.parsed(definition)
        return Procedure(definition.process_key, parsed.name or definition.process_key, definition.version,
                         definition.id, parsed, self.rules.of(parsed))

    def start_case(self, session: Session, user: User, data: Mapping[str, Any], *,
                   procedure: str | None = None, chosen: Procedure | None = None) -> ActionResult:
        """Open a case of ``procedure`` (the default one when not given) with the start form's ``data``; its first
        task goes to the team that opened it. ``chosen``: that procedure as :meth:`procedure` gave it earlier in
        this transaction (its newest version, deployed), not looked up again."""
        if chosen is None or chosen.key != (procedure or self.settings.process_key):
            chosen = self.procedure(session, procedure, deploy=True)
        check_may_start(user, self.rules.lane_map(session), chosen.key)
        rules = chosen.rules
        raw = dict(data)
        team_key = rules.team_key
        team_code = raw.pop(team_key, None) if chosen.needs_team else None
        errors: list[FieldError] = []
        cleaned: dict[str, Any] = {}
        try:
            cleaned = validate_form(list(chosen.start_form), raw, files=lambda _id: None,
                                    platforms=self.settings.platforms, now=self.clock.now())
        except FormInvalid as invalid:
            errors += invalid.errors
        labels = {f.id: f.label for f in chosen.start_form}
        for fid in {rules.title_field, rules.place_field} - {None}:  # what names the case: a name, with a letter
            if cleaned.get(fid):
                try:
                    inputs.name(cleaned[fid])
                except inputs.Refused as refused:
                    errors.append(FieldError.of(refused.code, fid, labels.get(fid, fid), refused.message_key,
                                                **refused.params))
        team = None
        if chosen.needs_team:
            team_code = team_code or (user.team.code if user.team else None)
            if not team_code:
                errors.append(FieldError.of("required", team_key, message("label.team"), "field.required_choice"))
        if errors:
            raise FormInvalid(errors)
        if team_code:
            team = self.people.team(session, str(team_code))
            check_in_team(user, team)
            if rules.team_field:
                cleaned[rules.team_field] = team.code
        title = str(cleaned.get(rules.title_field) or "") if rules.title_field else ""
        day = cleaned.get(rules.date_field) if rules.date_field else None
        result = self.engine.start(session, chosen.key, data=cleaned, actor=user.actor,
                                   title=title or chosen.name, business_date=date.fromisoformat(day) if day else None,
                                   group=team.code if team is not None else None, definition_id=chosen.definition_id)
        search.index_case(session, result.instance, rules, cleaned, self.clock.now())
        lanes = self.rules.lane_map(session).lanes_of(user)
        for row in result.ready:  # the creator holds the first step when it is theirs to do
            if row.claimed_by is None and may_act(user, row, lanes):
                self.engine.claim(session, row.id, user.actor, reason="case_started")
        notify.after_action(session, self.people, result, actor=user, rules=rules)
        return result

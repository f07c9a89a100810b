"""Opening a case: the activity's details checked, the team's membership checked, the first task given to the
team that ran the activity."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from engine.models import Definition
from engine.runtime import ActionResult, WorkflowEngine

from . import inputs, notify
from .config import Settings
from .deadlines import WIB
from .declarations import Rulebook
from .forms import FieldError, FormInvalid
from .messages import message
from .models import User
from .people import People
from .permissions import check_in_team, check_may_start
from .procedure import ensure_definition


@dataclass(frozen=True)
class CaseInput:
    nama_kegiatan: str
    tanggal_kegiatan: str
    tempat_kegiatan: str
    tim: str | None = None


class Cases:
    def __init__(self, engine: WorkflowEngine, settings: Settings, people: People, rules: Rulebook):
        self.engine, self.settings, self.people, self.rules = engine, settings, people, rules
        self.clock = engine.clock

    def ensure_definition(self, session: Session, actor: str | None = "system") -> Definition:
        """Deploy the bundled diagram when no version of the process exists yet."""
        return ensure_definition(session, self.engine, self.settings, actor)

    def start_case(self, session: Session, user: User, case: CaseInput) -> ActionResult:
        """Open a case for an activity; its first task goes to the team that ran it."""
        check_may_start(user, self.rules.lane_map(session), self.settings.process_key)
        errors = []
        today = self.clock.now().astimezone(WIB).date()
        checked = {}
        for key, label, rule in (("nama_kegiatan", "label.activity_name", inputs.name),
                                 ("tanggal_kegiatan", "label.activity_date", lambda v: inputs.entry_date(v, today)),
                                 ("tempat_kegiatan", "label.activity_place", inputs.name)):
            try:
                checked[key] = rule(getattr(case, key))
            except inputs.Refused as refused:
                errors.append(FieldError.of(refused.code, key, message(label), refused.message_key, **refused.params))
        nama, tanggal, tempat = (checked.get(k) for k in ("nama_kegiatan", "tanggal_kegiatan", "tempat_kegiatan"))
        team_code = case.tim or (user.team.code if user.team else None)
        if not team_code:
            errors.append(FieldError.of("required", "tim", message("label.team"), "field.required_choice"))
        if errors:
            raise FormInvalid(errors)
        team = self.people.team(session, team_code)
        check_in_team(user, team)
        self.ensure_definition(session)
        data = {"nama_kegiatan": nama, "tanggal_kegiatan": tanggal.isoformat(), "tempat_kegiatan": tempat,
                "tim": team.code}
        result = self.engine.start(session, self.settings.process_key, data=data, actor=user.actor,
                                   title=nama, business_date=tanggal, group=team.code)
        notify.after_action(session, self.people, result, actor=user,
                            rules=self.rules.of_definition(session, result.instance.definition_id))
        return result

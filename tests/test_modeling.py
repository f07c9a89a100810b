"""Process owners validate, deploy and migrate; nobody else can."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.errors import InvalidDefinition
from engine.models import EventRow, Instance
from process import modeling
from process.errors import NotPermitted
from tests.conftest import DIAGRAM
from tests.factories import Case, make_users, user
from tests.test_definitions import diagram_with, set_condition
from tests.test_migration import version2, without_step5


@pytest.mark.parametrize("name", ["tim", "admin", "wapimred", "pimred", "auditor"])
def test_only_process_owners(system, tx, name):
    make_users(system, tx)
    with tx() as s, pytest.raises(NotPermitted):
        modeling.validate(system, user(s, name), DIAGRAM.read_bytes())
    with tx() as s, pytest.raises(NotPermitted):
        modeling.deploy(s, system, user(s, name), version2())


def test_validate_reports_problems_with_element_ids(system, tx):
    make_users(system, tx)
    with tx() as s:
        report = modeling.validate(system, user(s, "owner"), DIAGRAM.read_bytes())
        assert report.process_key == "alur_pengunggahan" and report.warnings == []
        with pytest.raises(InvalidDefinition) as info:
            modeling.validate(system, user(s, "owner"), diagram_with(set_condition("Flow_Setuju", "x.y")))
        assert ("Flow_Setuju" in [p.element_id for p in info.value.problems])


def test_deploy_records_summary_and_event_and_migrates(system, tx):
    make_users(system, tx)
    waiting = Case.start(system, tx)
    at_step5 = Case.start(system, tx)
    for who, form in (("tim", "submit"), ("admin", "terima"), ("wapimred", "koreksi"), ("pimred", "setuju")):
        at_step5.do(who, form)
    with tx() as s:
        v2, summary = modeling.deploy(s, system, user(s, "owner"), version2())
        assert v2.version == 2 and {r["id"] for r in summary["changed"]} == {"Task_Koreksi", "Timer_Koreksi"}
        assert modeling.summary_of(v2) == summary
        v2, _summary = modeling.deploy(s, system, user(s, "owner"), without_step5())  # its rules go with it
        plan = {c.instance_id: c for c in modeling.migration_plan(s, system, user(s, "owner"), v2)}
        assert plan[waiting.instance_id].can_move and not plan[at_step5.instance_id].can_move
    with tx() as s:
        outcome = modeling.migrate(s, system, user(s, "owner"), v2,
                                   [waiting.instance_id, at_step5.instance_id])
        assert outcome["moved"] == [waiting.instance_id]
        assert outcome["refused"][0]["case_id"] == at_step5.instance_id
        assert {p.code for p in outcome["refused"][0]["problems"]} == {"migration.task_removed"}
    with tx() as s:
        assert s.get(Instance, waiting.instance_id).definition_id == v2.id
        assert s.get(Instance, at_step5.instance_id).definition_id != v2.id
        deployed = s.execute(select(EventRow).where(EventRow.type == "definition_deployed")
                             .order_by(EventRow.seq.desc())).scalars().first()
        assert deployed.actor == "owner"

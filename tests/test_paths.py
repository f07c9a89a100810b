"""Every path of the SOP diagram, through the service layer."""
from __future__ import annotations

from sqlalchemy import select

from engine import eventlog
from engine.models import EventRow, Instance, TaskRow
from process.models import Notification, RegisterEntry
from tests.factories import Case, make_users


def _instance(tx, case) -> Instance:
    with tx() as s:
        return s.get(Instance, case.instance_id)


def test_happy_path_publishes(system, tx):
    make_users(system, tx)
    case = Case.start(system, tx)
    assert case.task().bpmn_id == "Task_Serahkan"
    assert case.do("tim", "submit") == ["Task_Terima"]
    assert case.do("admin", "terima") == ["Task_Koreksi"]
    assert case.do("wapimred", "koreksi") == ["Task_Putuskan"]
    assert case.do("pimred", "setuju") == ["Task_Unggah"]
    assert case.do("admin", "unggah") == []
    inst = _instance(tx, case)
    assert inst.status == "completed" and inst.end_event == "EndEvent_Dipublikasikan"
    with tx() as s:
        entry = s.execute(select(RegisterEntry)).scalar_one()
        assert entry.number == "001/REG-MEDSOS/V/2025"
        rows = s.execute(select(TaskRow).where(TaskRow.instance_id == inst.id)).scalars().all()
        assert sorted(r.state for r in rows) == ["completed"] * 5
        assert eventlog.verify(s).ok


def test_returned_by_admin_goes_back_to_the_team(system, tx):
    make_users(system, tx)
    case = Case.start(system, tx)
    case.do("tim", "submit")
    assert case.do("admin", "admin_kembalikan") == ["Task_Serahkan"]
    row = case.task()
    assert row.group == "humas" and row.lane == "Tim Pelaksana"
    with tx() as s:
        kinds = {n.kind for n in s.execute(select(Notification)).scalars()}
        assert "returned" in kinds
    assert case.do("tim", "submit") == ["Task_Terima"]
    case.do("admin", "terima")
    case.do("wapimred", "koreksi")
    case.do("pimred", "setuju")
    case.do("admin", "unggah")
    assert _instance(tx, case).end_event == "EndEvent_Dipublikasikan"


def test_returned_by_wapimred(system, tx):
    make_users(system, tx)
    case = Case.start(system, tx)
    case.do("tim", "submit")
    case.do("admin", "terima")
    assert case.do("wapimred", "wapimred_kembalikan") == ["Task_Serahkan"]
    assert case.do("tim", "submit") == ["Task_Terima"]  # the returned step went back to tim, who handed it in
    case.do("admin", "terima")
    case.do("wapimred", "koreksi")
    case.do("pimred", "setuju")
    case.do("admin", "unggah")
    assert _instance(tx, case).status == "completed"


def test_revisi_loops_back_to_wapimred(system, tx):
    make_users(system, tx)
    case = Case.start(system, tx)
    case.do("tim", "submit")
    case.do("admin", "terima")
    case.do("wapimred", "koreksi")
    assert case.do("pimred", "revisi") == ["Task_Koreksi"]
    assert case.do("wapimred", "koreksi") == ["Task_Putuskan"]
    assert case.do("pimred", "setuju") == ["Task_Unggah"]
    case.do("admin", "unggah")
    assert _instance(tx, case).end_event == "EndEvent_Dipublikasikan"
    with tx() as s:
        decisions = [eventlog.decode(e)["data"].get("keputusan_pimred") for e in s.execute(
            select(EventRow).where(EventRow.type == "task_completed")).scalars()]
        assert [d for d in decisions if d] == ["revisi", "setuju"]


def test_tolak_ends_unpublished(system, tx):
    make_users(system, tx)
    case = Case.start(system, tx)
    case.do("tim", "submit")
    case.do("admin", "terima")
    case.do("wapimred", "koreksi")
    assert case.do("pimred", "tolak") == []
    inst = _instance(tx, case)
    assert inst.status == "completed" and inst.end_event == "EndEvent_Ditolak"
    assert inst.next_timer_at is None

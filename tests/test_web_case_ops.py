"""The HTML pages of reassigning, cancelling and commenting (webui/cases.py), and their JSON API (webui/api.py)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from engine import eventlog
from engine.models import EventRow, Instance, TaskRow
from process.models import Notification
from process.records import Period, register_rows
from tests.factories import Case, make_users, user


@pytest.fixture
def users(system, tx):
    make_users(system, tx)
    with tx() as s:
        system.people.add_user(s, "root", "rahasia-root", ["admin"], full_name="Admin Sistem")


@pytest.fixture
def case(system, tx, users) -> Case:
    return Case.start(system, tx)


def token(client, who):
    return {"Authorization": "Bearer " + client.post("/api/v1/auth/token", json={
        "username": who, "password": f"rahasia-{who}"}).get_json()["token"]}


def of_type(tx, instance_id, type_):
    with tx() as s:
        return [eventlog.decode(r) for r in s.execute(select(EventRow).where(
            EventRow.instance_id == instance_id, EventRow.type == type_).order_by(EventRow.seq)).scalars()]


# ------------------------------------------------------------------------------------------------- HTML
def test_the_pimred_reassigns_from_the_case_page(system, tx, case, login):
    with tx() as s:
        system.tasks.claim(s, user(s, "tim"), case.task_id)
    c = login("pimred")
    page = c.get(f"/kasus/{case.instance_id}").get_data(as_text=True)
    assert f"/tugas/{case.task_id}/alihkan" in page
    form = c.get(f"/tugas/{case.task_id}/alihkan").get_data(as_text=True)
    assert 'value="tim2"' in form and 'value="tim"' not in form  # the holder is not offered
    assert 'value="tim_lain"' not in form and 'value="admin"' not in form  # another team, another lane
    resp = c.post(f"/tugas/{case.task_id}/alihkan", data={"kepada": "tim_lain", "alasan": ""})
    assert resp.status_code == 422 and "bukan anggota tim kasus ini" in resp.get_data(as_text=True)
    resp = c.post(f"/tugas/{case.task_id}/alihkan", data={"kepada": "tim2", "alasan": "Cuti"})
    assert resp.status_code == 302
    assert case.task().claimed_by == "tim2"
    page = c.get(f"/kasus/{case.instance_id}").get_data(as_text=True)
    assert "mengalihkan langkah" in page and "Cuti" in page
    # Who is not a lead neither sees the link nor gets through.
    tim = login("tim")
    assert "/alihkan" not in tim.get(f"/kasus/{case.instance_id}").get_data(as_text=True)
    assert tim.get(f"/tugas/{case.task_id}/alihkan").status_code == 403
    assert tim.post(f"/tugas/{case.task_id}/alihkan", data={"kepada": "tim"}).status_code == 403


def test_cancel_with_a_reason_then_the_case_shows_cancelled_everywhere(system, tx, clock, case, login):
    case.do("tim", "submit")  # registered at step 1
    c = login("pimred")
    page = c.get(f"/kasus/{case.instance_id}").get_data(as_text=True)
    assert f"/kasus/{case.instance_id}/batalkan" in page
    confirm = c.get(f"/kasus/{case.instance_id}/batalkan").get_data(as_text=True)
    assert 'name="alasan"' in confirm and "required" in confirm
    resp = c.post(f"/kasus/{case.instance_id}/batalkan", data={"alasan": "  "})
    assert resp.status_code == 422 and "wajib diisi" in resp.get_data(as_text=True)
    with tx() as s:
        assert s.get(Instance, case.instance_id).status == "running"
    resp = c.post(f"/kasus/{case.instance_id}/batalkan", data={"alasan": "Kegiatan <ditunda>."})
    assert resp.status_code == 302
    page = c.get(f"/kasus/{case.instance_id}").get_data(as_text=True)
    assert "Kasus ini dibatalkan" in page and "Kegiatan &lt;ditunda&gt;." in page
    assert "Kegiatan <ditunda>" not in page
    assert f"/kasus/{case.instance_id}/batalkan" not in page and 'name="komentar"' not in page
    listing = c.get("/kasus").get_data(as_text=True)
    assert "Dibatalkan" in listing and "Kegiatan &lt;ditunda&gt;." in listing
    with tx() as s:
        [row] = register_rows(s, Period.month(2025, 5), system.rules)
        assert row.outcome == "dibatalkan" and row.cancel_reason == "Kegiatan <ditunda>."
    register = c.get("/laporan/register", query_string={"bulan": "2025-05"}).get_data(as_text=True)
    assert "Dibatalkan" in register and "Kegiatan &lt;ditunda&gt;." in register
    # Every further action is refused with the reason.
    resp = login("admin").post(f"/tugas/{case.task_id}/ambil")
    assert resp.status_code == 409 and "sudah dibatalkan" in resp.get_data(as_text=True)
    assert c.post(f"/kasus/{case.instance_id}/batalkan", data={"alasan": "Lagi"}).status_code == 409
    replay = login("auditor").get(f"/audit/kasus/{case.instance_id}/replay").get_data(as_text=True)
    assert "membatalkan kasus" in replay


def test_comments_are_escaped_keep_line_breaks_and_refuse_the_auditor(system, tx, case, login):
    c = login("wapimred")
    resp = c.post(f"/kasus/{case.instance_id}/komentar", data={"komentar": "Baris satu\r\n<script>x</script>"})
    assert resp.status_code == 302
    page = c.get(f"/kasus/{case.instance_id}").get_data(as_text=True)
    assert '<p class="pre-wrap">Baris satu\n&lt;script&gt;x&lt;/script&gt;</p>' in page
    assert "WIB" in page[page.index('id="komentar-title"'):]
    resp = c.post(f"/kasus/{case.instance_id}/komentar", data={"komentar": ""})
    assert resp.status_code == 422 and "wajib diisi" in resp.get_data(as_text=True)
    auditor = login("auditor")
    assert 'name="komentar"' not in auditor.get(f"/kasus/{case.instance_id}").get_data(as_text=True)
    assert auditor.post(f"/kasus/{case.instance_id}/komentar", data={"komentar": "x"}).status_code == 403
    assert len(of_type(tx, case.instance_id, "case_commented")) == 1
    # tim (who opened the case) was told once; opening the case page reads it.
    with tx() as s:
        told = s.execute(select(Notification).where(Notification.user_id == user(s, "tim").id,
                                                    Notification.kind == "commented")).scalars().all()
        assert len(told) == 1 and told[0].read_at is None
    login("tim").get(f"/kasus/{case.instance_id}")
    with tx() as s:
        assert s.get(Notification, told[0].id).read_at is not None


# -------------------------------------------------------------------------------------------------- API
def test_api_reassign_cancel_and_comments(system, tx, case, client):
    pimred, tim, auditor = token(client, "pimred"), token(client, "tim"), token(client, "auditor")
    resp = client.post(f"/api/v1/tasks/{case.task_id}/reassign", json={"to": "tim2", "reason": "Cuti"},
                       headers=tim)
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "task.reassign_not_lead"
    resp = client.post(f"/api/v1/tasks/{case.task_id}/reassign", json={"to": "admin"}, headers=pimred)
    assert resp.status_code == 422 and resp.get_json()["error"]["code"] == "task.reassign_outside_lane"
    resp = client.post(f"/api/v1/tasks/{case.task_id}/reassign", json={"to": "tim2", "reason": "Cuti"},
                       headers=pimred)
    assert resp.status_code == 200 and resp.get_json()["claimed_by"] == "tim2"

    resp = client.post(f"/api/v1/cases/{case.instance_id}/comments", json={"text": "Mohon dicek\nlagi"},
                       headers=tim)
    assert resp.status_code == 201
    assert resp.get_json()["author"] == "tim" and resp.get_json()["text"] == "Mohon dicek\nlagi"
    assert client.post(f"/api/v1/cases/{case.instance_id}/comments", json={"text": "x"},
                       headers=auditor).status_code == 403
    resp = client.post(f"/api/v1/cases/{case.instance_id}/comments", json={"text": "x" * 2001}, headers=tim)
    assert resp.status_code == 422
    listed = client.get(f"/api/v1/cases/{case.instance_id}/comments", headers=auditor)
    assert listed.status_code == 200
    assert [(c["author"], c["text"]) for c in listed.get_json()["items"]] == [("tim", "Mohon dicek\nlagi")]

    resp = client.post(f"/api/v1/cases/{case.instance_id}/cancel", json={}, headers=pimred)
    assert resp.status_code == 422
    resp = client.post(f"/api/v1/cases/{case.instance_id}/cancel", json={"reason": "Batal."}, headers=auditor)
    assert resp.status_code == 403
    resp = client.post(f"/api/v1/cases/{case.instance_id}/cancel", json={"reason": "Batal."}, headers=pimred)
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "cancelled" and body["cancel_reason"] == "Batal."
    got = client.get(f"/api/v1/cases/{case.instance_id}", headers=tim).get_json()
    assert got["status"] == "cancelled"
    resp = client.post(f"/api/v1/tasks/{case.task_id}/claim", headers=token(client, "tim2"))
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "case.cancelled"
    with tx() as s:
        assert s.get(TaskRow, case.task_id).state == "cancelled"

"""An upload belongs to its uploader until a form they submit attaches it to a case: nobody else (another team,
the same team, another role) may attach it, see it or download it before that; afterwards it is the case's, seen
by whoever may see the case. Through the HTML form, the JSON API and the service."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from process.forms import FormInvalid
from process.models import FileRecord
from tests.factories import Case, make_users, step1_form, user
from tests.test_api import Api, snapshot, step1
from tests.test_web_tasks import STEP1, fetch, html, lock_version, upload_photos


@pytest.fixture
def users(system, tx):
    make_users(system, tx)


def _attached(system, ids) -> dict[str, int | None]:
    with system.sessions() as s:
        return {r.id: r.instance_id for r in s.execute(select(FileRecord).where(FileRecord.id.in_(ids))).scalars()}


@pytest.mark.parametrize("thief", ["tim_lain", "tim2"])  # another team; the same team
def test_someone_elses_upload_cannot_be_attached_over_the_web(system, tx, users, login, thief):
    ids = upload_photos(login("tim"))  # tim's uploads, not yet part of any case
    case = Case.start(system, tx, who=thief)
    client = login(thief)
    client.post(f"/tugas/{case.task_id}/ambil")
    version = lock_version(html(client.get(f"/tugas/{case.task_id}")))
    before = snapshot(system)
    resp = client.post(f"/tugas/{case.task_id}", data={**STEP1, "foto": ids, "lock_version": version})
    assert resp.status_code == 422 and "berkas ke-1 tidak ditemukan" in html(resp)
    assert snapshot(system) == before and set(_attached(system, ids).values()) == {None}


@pytest.mark.parametrize("thief", ["tim_lain", "tim2"])
def test_someone_elses_upload_cannot_be_attached_through_the_api(system, tx, users, app, thief):
    api = Api(app.test_client())
    photos = api.upload_photos("tim")
    case_id, task_id = api.new_case(thief)
    api.post(thief, f"/tasks/{task_id}/claim")
    before = snapshot(system)
    resp = api.post(thief, f"/tasks/{task_id}/complete", json=step1(photos))
    assert resp.status_code == 422
    assert "file_missing" in {f["code"] for f in resp.json["error"]["fields"]}
    assert snapshot(system) == before
    # nor in the service itself
    with pytest.raises(FormInvalid), tx() as s:
        system.tasks.complete(s, user(s, thief), task_id, step1(photos))
    # the uploader can
    own_case, own_task = api.new_case("tim")
    assert api.act("tim", own_task, step1(photos))["status"] == "running"
    assert set(_attached(system, [p["id"] for p in photos]).values()) == {own_case}
    assert case_id != own_case


def test_before_it_is_attached_only_the_uploader_sees_it(system, tx, users, login):
    tim = login("tim")
    ids = upload_photos(tim)
    for who in ("tim2", "tim_lain", "admin", "auditor", "pimred"):
        other = login(who)
        for url in (f"/berkas/{ids[0]}", f"/berkas/{ids[0]}/thumb"):
            assert fetch(other, url).status_code == 404, (who, url)
    assert fetch(tim, f"/berkas/{ids[0]}").status_code == 200
    # once attached, the case's readers see it (the team, the review lanes)
    case = Case.start(system, tx)
    with tx() as s:
        form = step1_form(system, s, "tim", photos=0)
        system.tasks.claim(s, user(s, "tim"), case.task_id)
        system.tasks.complete(s, user(s, "tim"), case.task_id, {**form, "foto": ids})
    assert set(_attached(system, ids).values()) == {case.instance_id}
    assert fetch(login("tim2"), f"/berkas/{ids[0]}").status_code == 200
    assert fetch(login("admin"), f"/berkas/{ids[0]}").status_code == 200
    assert fetch(login("tim_lain"), f"/berkas/{ids[0]}").status_code == 404


def test_an_attached_file_cannot_move_to_another_case(system, tx, users, app):
    api = Api(app.test_client())
    photos = api.upload_photos("tim")
    first, task = api.new_case("tim")
    api.act("tim", task, step1(photos))
    _second, task2 = api.new_case("tim", nama="Kegiatan kedua")
    api.post("tim", f"/tasks/{task2}/claim")
    resp = api.post("tim", f"/tasks/{task2}/complete", json=step1(photos))
    assert resp.status_code == 422 and "file_missing" in {f["code"] for f in resp.json["error"]["fields"]}
    assert set(_attached(system, [p["id"] for p in photos]).values()) == {first}

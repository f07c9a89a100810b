"""The JSON API (/api/v1): the SOP walked end to end, and every rule refused with the right status while
the database (and the files folder) stays exactly as it was."""
from __future__ import annotations

import hashlib
import io
import os
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, ValidationError
from openapi_spec_validator import validate as validate_openapi
from PIL import Image
from sqlalchemy import select

from process.config import Settings
from process.models import FileRecord
from process.system import build_system
from tests.factories import FORMS, NARASI, make_users, png, user
from webui import create_app
from webui.extensions import limiter

API = "/api/v1"
SHELL_SCRIPT = b"#!/bin/sh\nrm -rf /\n"
STEP1_REQUIRED = {"nama_kegiatan", "tanggal_kegiatan", "tempat_kegiatan", "foto", "narasi", "caption",
                  "catatan_sumber"}


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


class Api:
    """A test client that speaks to the API as one user or another (one bearer token per user)."""

    def __init__(self, client):
        self.client = client
        self.tokens: dict[str, str] = {}

    def token(self, who: str) -> str:
        if who not in self.tokens:
            resp = self.client.post(f"{API}/auth/token", json={"username": who, "password": f"rahasia-{who}"})
            assert resp.status_code == 200, resp.json
            assert resp.json["token_type"] == "Bearer" and resp.json["expires_in"] > 0
            self.tokens[who] = resp.json["token"]
        return self.tokens[who]

    def headers(self, who: str | None, extra: dict | None = None) -> dict:
        headers = {"Authorization": f"Bearer {self.token(who)}"} if who else {}
        headers.update(extra or {})
        return headers

    def get(self, who: str | None, path: str, **kw):
        return self.client.get(API + path, headers=self.headers(who, kw.pop("headers", None)), **kw)

    def post(self, who: str | None, path: str, **kw):
        return self.client.post(API + path, headers=self.headers(who, kw.pop("headers", None)), **kw)

    def upload(self, who: str, data: bytes, name: str):
        return self.post(who, "/files", data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")

    def upload_photos(self, who: str, n: int = 4) -> list[dict]:
        out = []
        for i in range(n):
            data = png((i * 50 % 256, 90, 20 + i))
            resp = self.upload(who, data, f"foto-{i}.png")
            assert resp.status_code == 201, resp.json
            assert resp.json["kind"] == "image" and resp.json["mime"] == "image/png"
            assert resp.json["sha256"] == hashlib.sha256(data).hexdigest() and resp.json["size"] == len(data)
            out.append(resp.json)
        return out

    def new_case(self, who: str = "tim", nama: str = "Sosialisasi Pemilih Pemula") -> tuple[int, str]:
        resp = self.post(who, "/cases", json={"nama_kegiatan": nama, "tanggal_kegiatan": "2025-05-06",
                                              "tempat_kegiatan": "Padang"})
        assert resp.status_code == 201, resp.json
        return resp.json["case_id"], resp.json["task_id"]

    def act(self, who: str, task_id: str, form: dict, *, claim: bool = True, headers: dict | None = None) -> dict:
        """Claim (unless told not to) and complete a task; returns the completion's body."""
        if claim:
            resp = self.post(who, f"/tasks/{task_id}/claim")
            assert resp.status_code == 200, resp.json
            assert resp.json["claimed_by"] == who
        resp = self.post(who, f"/tasks/{task_id}/complete", json=form, headers=headers)
        assert resp.status_code == 200, resp.json
        return resp.json


def step1(photos: list[dict], **overrides) -> dict:
    form = {"nama_kegiatan": "Sosialisasi Pemilih Pemula", "tanggal_kegiatan": "2025-05-06",
            "tempat_kegiatan": "Padang", "foto": [p["id"] for p in photos], "lampiran": [], "narasi": NARASI,
            "caption": "Sosialisasi #KPUSumbar", "catatan_sumber": "Foto oleh tim humas, diverifikasi ketua divisi."}
    form.update(overrides)
    return form


def unggah(system) -> dict:
    return {"publikasi": [{"platform": "Instagram", "url": "https://www.instagram.com/p/abc123/",
                           "waktu": system.clock.now().isoformat()}], "catatan_unggah": "Terunggah."}


def snapshot(system) -> dict:
    """Every row of every table and every stored file, to prove a refused request changed nothing. (Not the
    logins and tokens, nor the rate-limit counters: the helper's lazy token request writes those.)"""
    from engine.models import Base

    with system.sessions() as s:
        rows = {t.name: sorted(map(repr, s.execute(t.select()).all())) for t in Base.metadata.sorted_tables
                if t.name not in ("user_session", "rate_limit")}
    files_dir = Path(system.settings.files_dir)
    rows["<files>"] = sorted(str(p.relative_to(files_dir)) for p in files_dir.rglob("*")) if files_dir.exists() else []
    return rows


def refused(system, request, status: int, code: str | None = None):
    """Run ``request()``, expect a JSON error with ``status`` (and ``code``), and nothing changed."""
    before = snapshot(system)
    resp = request()
    assert resp.status_code == status, resp.get_data(as_text=True)[:1000]
    assert resp.is_json, resp.get_data(as_text=True)[:300]
    error = resp.json["error"]
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["params"], dict) and isinstance(error["type"], str), error
    if code is not None:  # a specific code (dotted), or the error's type
        assert (error["code"] if "." in code else error["type"]) == code, error
    assert snapshot(system) == before
    return resp


def conforms(doc: dict, schema: dict, instance) -> None:
    """``instance`` is valid against a schema of the OpenAPI document (refs resolved within it)."""
    root = {"components": doc["components"], **schema}
    Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(instance)


def component(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


@pytest.fixture
def api(app, system, tx) -> Api:
    make_users(system, tx)
    return Api(app.test_client())


def _case_at_step4(api: Api, system, submitter: str = "tim") -> tuple[int, str]:
    photos = api.upload_photos(submitter)
    case_id, task_id = api.new_case(submitter)
    task_id = api.act(submitter, task_id, step1(photos))["ready"][0]["id"]
    task_id = api.act("admin", task_id, FORMS["terima"])["ready"][0]["id"]
    task_id = api.act("wapimred", task_id, FORMS["koreksi"])["ready"][0]["id"]
    return case_id, task_id


# --------------------------------------------------------------------------------------------------
# Walks
# --------------------------------------------------------------------------------------------------


def test_full_walk_with_revisi_to_published(api, system):
    doc = api.client.get(f"{API}/openapi.json").json
    photos = api.upload_photos("tim")

    resp = api.post("tim", "/cases", json={"nama_kegiatan": "Sosialisasi Pemilih Pemula",
                                           "tanggal_kegiatan": "2025-05-06", "tempat_kegiatan": "Padang"})
    assert resp.status_code == 201
    conforms(doc, component("CaseCreated"), resp.json)
    case_id, task_id = resp.json["case_id"], resp.json["task_id"]
    assert resp.headers["Location"].endswith(f"{API}/cases/{case_id}")

    # Step 1 is its creator's from the start; the rest of the team sees it in its lane, with who holds it.
    lane = api.get("tim2", "/tasks?scope=lane").json["items"]
    assert [t["id"] for t in lane] == [task_id]
    conforms(doc, component("TaskPage"), api.get("tim2", "/tasks?scope=lane").json)
    assert lane[0]["due_at"].endswith("+07:00") and lane[0]["overdue"] is False
    assert lane[0]["bpmn_id"] == "Task_Serahkan" and lane[0]["claimed_by"] == "tim"
    assert api.get("tim_lain", "/tasks?scope=lane").json["items"] == []
    assert [t["id"] for t in api.get("tim", "/tasks").json["items"]] == [task_id]  # default scope: mine
    assert api.post("tim", f"/tasks/{task_id}/claim").status_code == 200  # taking it again changes nothing
    assert api.post("tim2", f"/tasks/{task_id}/claim").status_code == 409
    assert [t["id"] for t in api.get("tim", "/tasks?scope=mine").json["items"]] == [task_id]
    assert api.get("tim", "/tasks?scope=lane").json["items"] == []

    detail = api.get("tim", f"/tasks/{task_id}")
    assert detail.status_code == 200
    conforms(doc, component("TaskDetail"), detail.json)
    assert {f["id"] for f in detail.json["form"] if f["required"]} == STEP1_REQUIRED
    assert detail.json["values"]["nama_kegiatan"] == "Sosialisasi Pemilih Pemula"
    assert detail.json["values"]["foto"] == [] and detail.json["may_act"] is True
    assert detail.headers["ETag"] == f'"{detail.json["lock_version"]}"'

    # Step 1, with the lock version seen on the task page (If-Match).
    done = api.act("tim", task_id, step1(photos), claim=False, headers={"If-Match": detail.headers["ETag"]})
    conforms(doc, component("CompleteResult"), done)
    assert [t["bpmn_id"] for t in done["ready"]] == ["Task_Terima"]
    task_id = done["ready"][0]["id"]

    # Step 2: the register number is shown, read-only.
    assert [t["id"] for t in api.get("admin", "/tasks?scope=lane").json["items"]] == [task_id]
    terima = api.get("admin", f"/tasks/{task_id}").json
    assert terima["values"]["nomor_register"] == "001/REG-MEDSOS/V/2025"
    assert next(f for f in terima["form"] if f["id"] == "nomor_register")["readonly"] is True
    done = api.act("admin", task_id, {**FORMS["terima"], "_version": terima["lock_version"]})
    task_id = done["ready"][0]["id"]
    assert done["ready"][0]["bpmn_id"] == "Task_Koreksi"

    task_id = api.act("wapimred", task_id, FORMS["koreksi"])["ready"][0]["id"]
    done = api.act("pimred", task_id, FORMS["revisi"])
    assert [t["bpmn_id"] for t in done["ready"]] == ["Task_Koreksi"]  # the revisi round
    task_id = api.act("wapimred", done["ready"][0]["id"], FORMS["koreksi"])["ready"][0]["id"]
    done = api.act("pimred", task_id, FORMS["setuju"])
    assert [t["bpmn_id"] for t in done["ready"]] == ["Task_Unggah"]
    done = api.act("admin", done["ready"][0]["id"], unggah(system))
    assert done["ready"] == [] and done["status"] == "completed"
    assert done["end_event"] == "EndEvent_Dipublikasikan"

    case = api.get("tim", f"/cases/{case_id}")
    assert case.status_code == 200
    conforms(doc, component("CaseView"), case.json)
    body = case.json
    assert body["status"] == "completed" and body["end_event"] == "EndEvent_Dipublikasikan"
    assert body["register_number"] == "001/REG-MEDSOS/V/2025" and body["team"] == "humas"
    assert body["activity"] == "Sosialisasi Pemilih Pemula" and body["activity_date"] == "2025-05-06"
    assert case.headers["ETag"] == f'"{body["lock_version"]}"'
    assert [r["decision"] for r in body["responses"]] == ["diterima", "lanjut", "revisi", "lanjut", "setuju"]
    assert body["responses"][2]["text"] == FORMS["revisi"]["pertimbangan"]
    assert body["responses"][2]["actor"] == "pimred"
    assert sorted(a["sha256"] for a in body["attachments"]) == sorted(p["sha256"] for p in photos)
    assert {a["kind"] for a in body["attachments"]} == {"image"}
    assert [t["state"] for t in body["tasks"]] == ["completed"] * 7
    types = [e["type"] for e in body["history"]]
    assert types[0] == "case_started" and types.count("task_completed") == 7
    assert body["data"]["publikasi"][0]["platform"] == "Instagram"
    # Every office role may read the case; the team's own members too.
    for who in ("admin", "wapimred", "pimred", "auditor", "tim2"):
        assert api.get(who, f"/cases/{case_id}").status_code == 200


def test_second_case_ends_in_tolak(api, system):
    case_id, task_id = _case_at_step4(api, system, submitter="tim2")
    done = api.act("pimred", task_id, FORMS["tolak"])
    assert done["ready"] == [] and done["end_event"] == "EndEvent_Ditolak"
    body = api.get("tim", f"/cases/{case_id}").json
    assert body["status"] == "completed" and body["end_event"] == "EndEvent_Ditolak"
    assert body["responses"][-1]["decision"] == "tolak"
    assert body["responses"][-1]["text"] == FORMS["tolak"]["pertimbangan"]
    assert api.get("admin", "/tasks?scope=lane").json["items"] == []


def test_unclaim_delegate_and_inbox_filters(api, system):
    _case_id, task_id = api.new_case("tim", nama="Rapat Pleno Terbuka")
    api.new_case("tim", nama="Sosialisasi Pemilih Pemula")
    # Both are held by their creator; the rest of the team sees them in its lane.
    pleno = api.get("tim2", "/tasks?scope=lane&q=pleno").json["items"]
    assert {t["activity"] for t in pleno} == {"Rapat Pleno Terbuka"}
    assert len(api.get("tim2", "/tasks?scope=lane&from=2025-05-06&to=2025-05-06").json["items"]) == 2
    assert api.get("tim2", "/tasks?scope=lane&from=2025-05-07").json["items"] == []
    assert {t["activity"] for t in api.get("tim", "/tasks?scope=mine&q=pleno").json["items"]} == {"Rapat Pleno Terbuka"}

    assert api.post("tim", f"/tasks/{task_id}/claim").json["claimed_by"] == "tim"
    assert api.post("tim", f"/tasks/{task_id}/claim").json["claimed_by"] == "tim"  # idempotent for the holder
    assert api.post("tim", f"/tasks/{task_id}/unclaim").json["claimed_by"] is None
    resp = api.post("tim", f"/tasks/{task_id}/delegate", json={"to": "tim2"})
    assert resp.status_code == 200 and resp.json["claimed_by"] == "tim2"
    assert [t["id"] for t in api.get("tim2", "/tasks").json["items"]] == [task_id]
    # Only to another member of the same lane (and team).
    for target in ("admin", "tim_lain", "nobody"):
        refused(system, lambda t=target: api.post("tim2", f"/tasks/{task_id}/delegate", json={"to": t}), 422)
    refused(system, lambda: api.post("tim2", f"/tasks/{task_id}/delegate", json={}), 422, "form_invalid")

    overdue_before = api.get("pimred", "/tasks?scope=overdue").json["items"]
    assert overdue_before == []
    system.clock.advance(days=3)  # past the H+1 23.59 WIB deadline of step 1
    late = api.get("pimred", "/tasks?scope=overdue").json["items"]
    assert len(late) == 2 and all(t["overdue"] for t in late)


# --------------------------------------------------------------------------------------------------
# Authentication
# --------------------------------------------------------------------------------------------------


def test_no_token_or_a_bad_token_is_401(api, system, tx, app, login):
    api.token("tim")
    for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Bearer rusak.token.ini"},
                    {"Authorization": f"Basic {api.token('tim')}"}, {"Authorization": api.token("tim")}):
        resp = refused(system, lambda h=headers: api.client.get(f"{API}/tasks", headers=h), 401, "unauthorized")
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        refused(system, lambda h=headers: api.client.post(f"{API}/cases", headers=h, json={
            "nama_kegiatan": "X", "tanggal_kegiatan": "2025-05-06", "tempat_kegiatan": "Padang"}), 401)

    # A token signed with another key.
    other = create_app(system=system, config={"SECRET_KEY": "another-secret", "TESTING": True,
                                              "RATELIMIT_ENABLED": False})
    foreign = other.test_client().post(f"{API}/auth/token", json={"username": "tim", "password": "rahasia-tim"})
    refused(system, lambda: api.client.get(f"{API}/tasks", headers={
        "Authorization": f"Bearer {foreign.json['token']}"}), 401)

    # The session cookie of a logged-in browser does not authenticate the API (so CSRF cannot matter).
    browser = login("tim")
    refused(system, lambda: browser.get(f"{API}/tasks"), 401)
    refused(system, lambda: browser.post(f"{API}/cases", json={
        "nama_kegiatan": "X", "tanggal_kegiatan": "2025-05-06", "tempat_kegiatan": "Padang"}), 401)

    # A deactivated user's token stops working at once.
    token = api.token("tim2")
    assert api.get("tim2", "/me").json["username"] == "tim2"
    with tx() as s:
        user(s, "tim2").active = False
    refused(system, lambda: api.client.get(f"{API}/tasks", headers={"Authorization": f"Bearer {token}"}), 401)


def test_token_endpoint_does_not_enumerate_users(api, system):
    wrong = refused(system, lambda: api.client.post(f"{API}/auth/token",
                                                    json={"username": "tim", "password": "salah-sekali"}), 401)
    unknown = refused(system, lambda: api.client.post(f"{API}/auth/token",
                                                      json={"username": "tidak-ada", "password": "salah-sekali"}), 401)
    assert wrong.json == unknown.json and wrong.json["error"]["code"] == "invalid_credentials"
    missing = refused(system, lambda: api.client.post(f"{API}/auth/token", json={}), 422, "form_invalid")
    assert {f["field"] for f in missing.json["error"]["fields"]} == {"username", "password"}
    refused(system, lambda: api.client.post(f"{API}/auth/token", data="username=tim&password=x",
                                            content_type="application/x-www-form-urlencoded"), 422, "api.not_json")
    refused(system, lambda: api.client.post(f"{API}/auth/token", json=["tim", "rahasia-tim"]), 422)
    refused(system, lambda: api.client.post(f"{API}/auth/token", json={"username": "tim", "password": 12345678}), 422)


def test_token_endpoint_is_rate_limited(system, tx):
    make_users(system, tx)
    previous = limiter.enabled
    try:
        app = create_app(system=system, config={"SECRET_KEY": "test-secret", "TESTING": True,
                                                "RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": "memory://"})
        client = app.test_client()
        statuses = [client.post(f"{API}/auth/token", json={"username": "tim", "password": "salah"}).status_code
                    for _ in range(10)]
        assert statuses == [401] * 10
        resp = client.post(f"{API}/auth/token", json={"username": "tim", "password": "rahasia-tim"})
        assert resp.status_code == 429 and resp.json["error"]["message"]
    finally:
        limiter.enabled = previous


# --------------------------------------------------------------------------------------------------
# Rules refused
# --------------------------------------------------------------------------------------------------


def test_wrong_role_or_team_is_403(api, system):
    case_id, task_id = api.new_case("tim")
    refused(system, lambda: api.post("admin", f"/tasks/{task_id}/claim"), 403, "task.wrong_lane")
    refused(system, lambda: api.post("tim_lain", f"/tasks/{task_id}/claim"), 403, "task.other_team")
    refused(system, lambda: api.post("auditor", f"/tasks/{task_id}/claim"), 403)
    refused(system, lambda: api.post("admin", f"/tasks/{task_id}/complete", json={}), 403)
    refused(system, lambda: api.get("tim_lain", f"/tasks/{task_id}"), 403)
    refused(system, lambda: api.get("tim_lain", f"/cases/{case_id}"), 403)
    refused(system, lambda: api.post("admin", "/cases", json={
        "nama_kegiatan": "X", "tanggal_kegiatan": "2025-05-06", "tempat_kegiatan": "Padang"}), 403)
    refused(system, lambda: api.post("tim_lain", "/cases", json={
        "nama_kegiatan": "X", "tanggal_kegiatan": "2025-05-06", "tempat_kegiatan": "Padang", "tim": "humas"}), 403)
    refused(system, lambda: api.upload("auditor", png(), "foto.png"), 403)
    # Reading is allowed to the office (not acting): may_act says so.
    assert api.get("admin", f"/tasks/{task_id}").json["may_act"] is False


def test_not_claimed_or_claimed_by_someone_else_is_409(api, system):
    photos = api.upload_photos("tim")
    _case_id, task_id = api.new_case("tim")
    assert api.post("tim", f"/tasks/{task_id}/unclaim").status_code == 200  # its creator lets it go
    refused(system, lambda: api.post("tim", f"/tasks/{task_id}/complete", json=step1(photos)), 409,
            "task.claim_first")
    assert api.post("tim", f"/tasks/{task_id}/claim").status_code == 200
    refused(system, lambda: api.post("tim2", f"/tasks/{task_id}/claim"), 409, "task.already_claimed")
    refused(system, lambda: api.post("tim2", f"/tasks/{task_id}/complete", json=step1(photos)), 409,
            "task.held_by_other")
    refused(system, lambda: api.post("tim2", f"/tasks/{task_id}/unclaim"), 409)
    refused(system, lambda: api.post("tim2", f"/tasks/{task_id}/delegate", json={"to": "tim2"}), 409)


def test_claim_and_complete_in_one_request(api, system, tx):
    """``_claim: true`` takes a task nobody holds and completes it in one transaction; every rule of a claim still
    applies, and a task someone else holds is not taken from them."""
    photos = api.upload_photos("tim")
    case_id, task_id = api.new_case("tim")
    refused(system, lambda: api.post("tim", f"/tasks/{task_id}/complete", json={**step1(photos), "_claim": "ya"}),
            422, "form_invalid")
    refused(system, lambda: api.post("tim_lain", f"/tasks/{task_id}/complete",
                                     json={**step1(photos), "_claim": True}), 403)
    # An invalid form takes nothing either: the claim is part of the refused transaction.
    refused(system, lambda: api.post("tim", f"/tasks/{task_id}/complete", json={"_claim": True}), 422)
    done = api.post("tim", f"/tasks/{task_id}/complete", json={**step1(photos), "_claim": True})
    assert done.status_code == 200, done.json
    history = [(e["type"], e["actor"]) for e in api.get("tim", f"/cases/{case_id}").json["history"]]
    assert history.index(("task_claimed", "tim")) < history.index(("task_completed", "tim"))
    (terima,) = done.json["ready"]
    assert api.post("admin", f"/tasks/{terima['id']}/claim").status_code == 200
    with tx() as s:
        system.people.add_user(s, "admin2", "rahasia-admin2", ["admin_medsos"])
    refused(system, lambda: api.post("admin2", f"/tasks/{terima['id']}/complete",
                                     json={**FORMS["terima"], "_claim": True}), 409, "not_claimed")
    refused(system, lambda: api.post("wapimred", f"/tasks/{terima['id']}/complete",
                                     json={**FORMS["terima"], "_claim": True}), 403)
    # Already held by the one completing: _claim changes nothing.
    assert api.post("admin", f"/tasks/{terima['id']}/complete", json={**FORMS["terima"], "_claim": True}).status_code \
        == 200


def test_self_approval_is_403(api, system, tx):
    with tx() as s:
        system.people.add_user(s, "ganda", "rahasia-ganda", ["tim_pelaksana", "pimred"], team_code="humas")
    _case_id, task_id = _case_at_step4(api, system, submitter="ganda")
    assert api.post("ganda", f"/tasks/{task_id}/claim").status_code == 200
    refused(system, lambda: api.post("ganda", f"/tasks/{task_id}/complete", json=FORMS["setuju"]), 403,
            "task.self_approval")
    # The other Pimpinan Redaksi may decide once ganda lets go.
    assert api.post("ganda", f"/tasks/{task_id}/unclaim").status_code == 200
    assert api.act("pimred", task_id, FORMS["setuju"])["ready"][0]["bpmn_id"] == "Task_Unggah"


def test_invalid_forms_are_422_listing_every_field(api, system):
    photos = api.upload_photos("tim")
    _case_id, task_id = api.new_case("tim")
    api.post("tim", f"/tasks/{task_id}/claim")

    empty = refused(system, lambda: api.post("tim", f"/tasks/{task_id}/complete", json={}), 422, "form_invalid")
    fields = empty.json["error"]["fields"]
    assert {f["field"] for f in fields if f["code"] == "required"} == STEP1_REQUIRED
    assert all(f["message"] for f in fields)

    three = refused(system, lambda: api.post("tim", f"/tasks/{task_id}/complete", json=step1(
        photos[:3], narasi="pendek", tanggal_kegiatan="besok", caption="")), 422)
    codes = {(f["field"], f["code"]) for f in three.json["error"]["fields"]}
    assert {("foto", "min_files"), ("narasi", "minlength"), ("tanggal_kegiatan", "date"),
            ("caption", "required")} <= codes

    dunder = refused(system, lambda: api.post("tim", f"/tasks/{task_id}/complete",
                                              json={**step1(photos), "__builtins__": {"open": 1}}), 422)
    assert [(f["field"], f["code"]) for f in dunder.json["error"]["fields"]] == [("__builtins__", "field_name")]
    unknown = refused(system, lambda: api.post("tim", f"/tasks/{task_id}/complete",
                                               json={**step1(photos), "hapus_semua": True}), 422)
    assert unknown.json["error"]["fields"][0]["code"] == "unknown_field"

    bad_case = refused(system, lambda: api.post("tim", "/cases", json={"nama_kegiatan": "", "tempat_kegiatan": 5,
                                                                       "tanggal_kegiatan": "kemarin"}), 422)
    assert {f["field"] for f in bad_case.json["error"]["fields"]} == {"nama_kegiatan", "tanggal_kegiatan",
                                                                       "tempat_kegiatan"}  # every field at once
    bad_case = refused(system, lambda: api.post("tim", "/cases", json={"nama_kegiatan": "",
                                                                       "tanggal_kegiatan": "kemarin"}), 422)
    assert {f["field"] for f in bad_case.json["error"]["fields"]} == {"nama_kegiatan", "tanggal_kegiatan",
                                                                       "tempat_kegiatan"}
    refused(system, lambda: api.get("tim", "/tasks?scope=semua"), 422, "form_invalid")
    refused(system, lambda: api.get("tim", "/tasks?scope=lane&from=06-05-2025"), 422)


def test_non_json_bodies_are_422(api, system):
    photos = api.upload_photos("tim")
    _case_id, task_id = api.new_case("tim")
    api.post("tim", f"/tasks/{task_id}/claim")
    url = f"/tasks/{task_id}/complete"
    refused(system, lambda: api.post("tim", url, data="narasi=halo", content_type="text/plain"), 422, "api.not_json")
    refused(system, lambda: api.post("tim", url, data="{not json", content_type="application/json"), 422)
    refused(system, lambda: api.post("tim", url, json=[step1(photos)]), 422)
    refused(system, lambda: api.post("tim", url, json="teks"), 422)
    refused(system, lambda: api.post("tim", url, data="[" * 100_000, content_type="application/json"), 422)
    refused(system, lambda: api.post("tim", "/cases", data={"nama_kegiatan": "X"}), 422, "api.not_json")
    refused(system, lambda: api.post("tim", f"/tasks/{task_id}/delegate", data="tim2"), 422)


def test_unknown_things_are_404_and_wrong_methods_405(api, system):
    for task_id in ("tidak-ada", "00000000-0000-0000-0000-000000000000"):
        refused(system, lambda t=task_id: api.post("tim", f"/tasks/{t}/claim"), 404, "not_found")
        refused(system, lambda t=task_id: api.post("tim", f"/tasks/{t}/complete", json={}), 404)
        refused(system, lambda t=task_id: api.get("tim", f"/tasks/{t}"), 404)
    refused(system, lambda: api.get("tim", "/cases/999999"), 404)
    refused(system, lambda: api.get("tim", "/tidak-ada"), 404)
    refused(system, lambda: api.client.put(f"{API}/cases", headers=api.headers("tim", None)), 405)


def test_finished_task_and_stale_version_are_409(api, system):
    photos = api.upload_photos("tim")
    case_id, task_id = api.new_case("tim")
    api.post("tim", f"/tasks/{task_id}/claim")
    version = api.get("tim", f"/cases/{case_id}").json["lock_version"]
    url = f"/tasks/{task_id}/complete"
    refused(system, lambda: api.post("tim", url, json={**step1(photos), "_version": version - 1}), 409,
            "case.changed")
    refused(system, lambda: api.post("tim", url, json=step1(photos), headers={"If-Match": f'"{version + 5}"'}), 409)
    refused(system, lambda: api.post("tim", url, json={**step1(photos), "_version": "baru"}), 422)
    refused(system, lambda: api.post("tim", url, json=step1(photos), headers={"If-Match": "kemarin"}), 422)
    refused(system, lambda: api.post("tim", url, json={**step1(photos), "_version": version},
                                     headers={"If-Match": f'"{version + 1}"'}), 422)

    done = api.act("tim", task_id, {**step1(photos), "_version": version}, claim=False)
    assert done["lock_version"] > version
    refused(system, lambda: api.post("tim", url, json=step1(photos)), 409, "task_not_ready")
    refused(system, lambda: api.post("tim", f"/tasks/{task_id}/claim"), 409)
    # The stored photos now belong to this case; another case cannot take them.
    _other_case, other_task = api.new_case("tim")
    api.post("tim", f"/tasks/{other_task}/claim")
    stolen = refused(system, lambda: api.post("tim", f"/tasks/{other_task}/complete", json=step1(photos)), 422)
    assert {f["code"] for f in stolen.json["error"]["fields"]} >= {"file_missing"}


# --------------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------------


def test_a_script_named_like_a_photo_is_refused(api, system):
    for name in ("photo.jpg", "foto.png", "x.heic"):
        resp = refused(system, lambda n=name: api.upload("tim", SHELL_SCRIPT, n), 422, "upload.unsupported")
        assert "tidak didukung" in resp.json["error"]["message"]
    refused(system, lambda: api.upload("tim", b"", "kosong.jpg"), 422)
    missing = refused(system, lambda: api.post("tim", "/files", data={"lain": "x"},
                                               content_type="multipart/form-data"), 422, "form_invalid")
    assert missing.json["error"]["fields"][0]["field"] == "file"
    refused(system, lambda: api.post("tim", "/files", json={"file": "aGFsbw=="}), 422)
    with system.sessions() as s:
        assert s.execute(select(FileRecord)).all() == []


def test_file_name_with_dotdot_is_stored_harmlessly(api, system):
    files_dir = Path(system.settings.files_dir).resolve()
    for name in ("../../../etc/passwd.png", "..\\..\\windows\\evil.png", "../.."):
        resp = api.upload("tim", png(), name)
        assert resp.status_code == 201, resp.json
        assert "/" not in resp.json["name"] and "\\" not in resp.json["name"] and ".." not in resp.json["name"]
        with system.sessions() as s:
            record = s.get(FileRecord, resp.json["id"])
            stored = (files_dir / record.stored_name).resolve()
            assert stored.parent == files_dir and stored.read_bytes() == png()
            assert record.original_name == resp.json["name"]
    assert [p.name for p in files_dir.parent.iterdir() if p.name in ("etc", "windows", "passwd.png")] == []
    with system.sessions() as s:
        names = sorted(r.original_name for r in s.execute(select(FileRecord)).scalars())
    # (the multipart encoding may already drop the backslashes; either way no folder survives)
    assert names[:2] == ["berkas", "passwd.png"] and names[2].endswith("evil.png")


def _noise_png(side: int) -> bytes:
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, "PNG")
    return out.getvalue()


def test_oversize_files_are_refused(system, tx, clock, tmp_path):
    make_users(system, tx)
    small = Settings(database_url=system.settings.database_url, files_dir=tmp_path / "small-files",
                     max_image_bytes=1000, max_other_bytes=5000)
    with build_system(small, clock) as small_system:
        app = create_app(system=small_system, config={"SECRET_KEY": "test-secret", "TESTING": True,
                                                      "RATELIMIT_ENABLED": False, "MAX_CONTENT_LENGTH": 50_000})
        api = Api(app.test_client())
        assert api.upload("tim", png(), "kecil.png").status_code == 201  # under the limit
        big_photo = _noise_png(40)
        assert 1000 < len(big_photo) < 50_000
        # 413 for everything over its limit, with the real size (tests/test_body_limits.py has the rest).
        resp = refused(small_system, lambda: api.upload("tim", big_photo, "besar.png"), 413, "upload.too_large")
        assert resp.json["error"]["message"] == f"Foto ini terlalu besar: {len(big_photo) // 1024} KB; batasnya 1 KB."
        huge = refused(small_system, lambda: api.upload("tim", _noise_png(150), "raksasa.png"), 413,
                       "upload.too_large")
        assert "terlalu besar" in huge.json["error"]["message"]
        with small_system.sessions() as s:
            assert [r.original_name for r in s.execute(select(FileRecord)).scalars()] == ["kecil.png"]
        assert len(list((tmp_path / "small-files").iterdir())) == 1


# --------------------------------------------------------------------------------------------------
# OpenAPI
# --------------------------------------------------------------------------------------------------


def test_openapi_document_is_valid_and_describes_each_step(api, system, app):
    resp = api.client.get(f"{API}/openapi.json")  # public: no token
    assert resp.status_code == 200 and resp.is_json
    doc = resp.json
    validate_openapi(doc)
    assert doc["openapi"].startswith("3.1")
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": "Token dari POST /auth/token"}
    assert doc["security"] == [{"bearerAuth": []}]
    assert "Error" in doc["components"]["schemas"]

    # Every API route is documented, and nothing else.
    routes = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix(API))
              for rule in app.url_map.iter_rules() if rule.rule.startswith(API + "/")}
    assert set(doc["paths"]) == routes
    assert doc["paths"]["/auth/token"]["post"]["security"] == []

    schemas = doc["components"]["schemas"]
    foto = schemas["Form_Task_Serahkan"]["properties"]["foto"]
    assert foto["type"] == "array" and foto["minItems"] == 4 and foto["maxItems"] == 30
    assert foto["items"]["type"] == "string"
    assert set(schemas["Form_Task_Serahkan"]["required"]) == STEP1_REQUIRED
    assert schemas["Form_Task_Serahkan"]["properties"]["narasi"]["minLength"] == 50
    assert schemas["Form_Task_Terima"]["properties"]["nomor_register"]["readOnly"] is True
    assert "nomor_register" not in schemas["Form_Task_Terima"]["required"]
    assert schemas["Form_Task_Putuskan"]["properties"]["keputusan_pimred"]["enum"] == ["setuju", "revisi", "revisi_tim",
                                                                                       "tolak"]
    assert schemas["Form_Task_Serahkan"]["properties"]["tanggal_kegiatan"]["format"] == "date"
    assert schemas["Form_Task_Serahkan"]["properties"]["foto"]["description"].startswith("Minimal 4 foto")
    assert schemas["Post"]["properties"]["platform"]["enum"] == list(system.settings.platforms)
    publikasi = schemas["Form_Task_Unggah"]["properties"]["publikasi"]
    assert publikasi["minItems"] == 1 and publikasi["items"] == component("Post")

    one_of = doc["paths"]["/tasks/{task_id}/complete"]["post"]["requestBody"]["content"]["application/json"][
        "schema"]["anyOf"]
    one_of = [o for o in one_of if "__" not in o["$ref"]]  # the main procedure's steps (the others: Form_<key>__…)
    assert [o["$ref"].rsplit("/", 1)[1] for o in one_of] == [
        "Form_Task_Serahkan", "Form_Task_Terima", "Form_Task_Koreksi", "Form_Task_Putuskan", "Form_Task_Unggah"]
    assert all(o["description"].startswith("Langkah ") for o in one_of)

    # The payloads the walks send are exactly one step's form each; an empty one is none.
    photos = [{"id": "3f2b0c1e-8a4d-4c1e-9f00-000000000001"}, {"id": "3f2b0c1e-8a4d-4c1e-9f00-000000000002"},
              {"id": "3f2b0c1e-8a4d-4c1e-9f00-000000000003"}, {"id": "3f2b0c1e-8a4d-4c1e-9f00-000000000004"}]
    body_schema = {"oneOf": one_of}  # one procedure: each payload is exactly one step's form
    for name, payload in [("Form_Task_Serahkan", step1(photos)), ("Form_Task_Terima", FORMS["terima"]),
                          ("Form_Task_Koreksi", FORMS["koreksi"]), ("Form_Task_Putuskan", FORMS["revisi"]),
                          ("Form_Task_Unggah", unggah(system))]:
        conforms(doc, component(name), payload)
        conforms(doc, body_schema, {**payload, "_version": 3})
    with pytest.raises(ValidationError):
        conforms(doc, component("Form_Task_Serahkan"), step1(photos[:3]))
    with pytest.raises(ValidationError):
        conforms(doc, body_schema, {})


def test_openapi_without_a_deployed_definition_uses_the_bundled_diagram(client):
    doc = client.get(f"{API}/openapi.json").json
    validate_openapi(doc)
    assert doc["components"]["schemas"]["Form_Task_Serahkan"]["properties"]["foto"]["minItems"] == 4


def test_case_list_spans_procedures_and_finds_by_register_number(api, system, tx):
    """GET /cases: every procedure's cases, each named; ``q`` finds a title or a register number by its words (``%``
    and ``_`` are no wildcards); ``procedure`` narrows to one; paging with a total; bad parameters are 422."""
    from tests.conftest import DIAGRAM

    xml = (DIAGRAM.read_text(encoding="utf-8").replace('id="alur_pengunggahan"', 'id="proses_lain"')
           .replace('processRef="alur_pengunggahan"', 'processRef="proses_lain"')
           .replace('name="Alur Pengunggahan Konten Media Sosial"', 'name="Prosedur Lain"', 1)
           .replace('<alur:register field="nomor_register"',
                    '<alur:register field="nomor_register" format="{seq:02d}/LAIN/{year}"'))
    with tx() as s:
        system.engine.deploy(s, xml.encode(), actor="owner")
    photos = api.upload_photos("tim")
    sop_id, task_id = api.new_case("tim", nama="Sosialisasi 100% Pemilih")
    api.act("tim", task_id, step1(photos, nama_kegiatan="Sosialisasi 100% Pemilih"))
    resp = api.post("tim", "/cases", json={"procedure": "proses_lain", "nama_kegiatan": "Rapat Pleno",
                                          "tanggal_kegiatan": "2025-05-06", "tempat_kegiatan": "Padang"})
    assert resp.status_code == 201, resp.json
    other_id = resp.json["case_id"]
    api.act("tim", resp.json["task_id"], step1(api.upload_photos("tim"), nama_kegiatan="Rapat Pleno"))

    listed = api.get("auditor", "/cases")
    assert listed.status_code == 200, listed.json
    doc = api.client.get(f"{API}/openapi.json").json
    conforms(doc, component("CasePage"), listed.json)
    by_id = {c["id"]: c for c in listed.json["items"]}
    assert listed.json["total"] == 2 and set(by_id) == {sop_id, other_id}
    assert by_id[other_id]["procedure"] == "proses_lain" and by_id[sop_id]["procedure"] == "alur_pengunggahan"
    assert by_id[other_id]["register_number"].endswith("/LAIN/2025")
    assert by_id[sop_id]["register_number"].startswith("001/REG-MEDSOS/")

    def ids(query: str) -> list[int]:
        resp = api.get("auditor", "/cases" + query)
        assert resp.status_code == 200, resp.json
        return [c["id"] for c in resp.json["items"]]

    assert ids("?q=LAIN") == [other_id]  # by register number
    assert ids("?q=pleno") == [other_id]  # by title, any case
    assert ids("?q=100%25") == [sop_id]  # "100%": the word 100 (the % is no wildcard, and no word)
    assert ids("?q=%25") == [] and ids("?q=_") == []  # no letter or digit: nothing to find
    assert ids("?procedure=alur_pengunggahan") == [sop_id]
    assert ids("?per_page=1") == [other_id] and ids("?per_page=1&page=2") == [sop_id]
    assert api.get("tim_lain", "/cases").json["total"] == 0  # another team's cases stay hidden
    for query, field in (("?procedure=tidak_ada", "procedure"), ("?per_page=101", "per_page"),
                         ("?page=0", "page"), ("?page=x", "page"), ("?q=" + "a" * 101, "q")):
        resp = api.get("auditor", "/cases" + query)
        assert resp.status_code == 422 and resp.json["error"]["fields"][0]["field"] == field, (query, resp.json)


def test_openapi_describes_every_procedure(api, system, tx):
    """A second procedure's steps and start form are in the document under their own names (so clients and the fuzzer
    see them), and the bodies it takes conform: its start form with ``procedure``, its steps' forms."""
    from tests.conftest import DIAGRAM

    xml = (DIAGRAM.read_text(encoding="utf-8").replace('id="alur_pengunggahan"', 'id="proses_lain"')
           .replace('processRef="alur_pengunggahan"', 'processRef="proses_lain"')
           .replace('name="Alur Pengunggahan Konten Media Sosial"', 'name="Prosedur Lain"', 1)
           .replace('id="tempat_kegiatan"', 'id="lokasi"'))
    with tx() as s:
        system.engine.deploy(s, xml.encode(), actor="owner")
    doc = api.client.get(f"{API}/openapi.json").json
    validate_openapi(doc)
    schemas = doc["components"]["schemas"]
    assert "Form_Task_Serahkan" in schemas and "Form_proses_lain__Task_Serahkan" in schemas
    assert "lokasi" in schemas["Form_proses_lain__Task_Serahkan"]["properties"]
    assert "Prosedur: Prosedur Lain" in schemas["Form_proses_lain__Task_Serahkan"]["description"]
    other = schemas["CaseInput_proses_lain"]
    assert "procedure" in other["required"] and "lokasi" in other["properties"]
    body = doc["paths"]["/cases"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    start = {"nama_kegiatan": "Rapat", "tanggal_kegiatan": "2025-05-06", "lokasi": "Padang"}
    conforms(doc, body, {**start, "procedure": "proses_lain"})
    with pytest.raises(ValidationError):  # the main procedure's form has no "lokasi"; the other needs "procedure"
        conforms(doc, body, start)
    resp = api.post("tim", "/cases", json={**start, "procedure": "proses_lain"})
    assert resp.status_code == 201, resp.json
    assert "Prosedur Lain versi 1" in doc["info"]["description"]

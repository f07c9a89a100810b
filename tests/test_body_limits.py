"""One rule for bodies (webui/bodies.py): over its limit is a 413 everywhere — web and API, files, diagrams, forms
and JSON — with the real size when it is known, and a body is never read further than its limit (a chunked body
without Content-Length included). Nothing is written by a refused request."""
from __future__ import annotations

import dataclasses
import io

import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app
from werkzeug.wrappers import Response

from tests.factories import Case, make_users, png
from tests.test_api import API, snapshot
from tests.test_web_tasks import noise_png

MB = 1024 * 1024


@pytest.fixture
def small_app(system, settings, clock, tx):
    """Photos up to 2 KB, other files up to 4 KB, a multipart request up to 64 KB, forms and JSON up to 8 KB."""
    from process.system import build_system
    from webui import create_app

    make_users(system, tx)
    small = build_system(dataclasses.replace(settings, max_image_bytes=2048, max_other_bytes=4096), clock)
    yield create_app(system=small, config={"SECRET_KEY": "test-secret", "TESTING": True, "WTF_CSRF_ENABLED": False,
                                           "RATELIMIT_ENABLED": False, "MAX_CONTENT_LENGTH": 64 * 1024,
                                           "ALUR_MAX_FORM_BYTES": 8 * 1024})
    small.dispose()


class Endless(io.RawIOBase):
    """A request body that never ends; counts what the app read of it."""

    def __init__(self, head: bytes = b""):
        self.head, self.read_bytes = head, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = len(buffer)
        chunk = (self.head + b" " * n)[:n] if self.read_bytes == 0 else b" " * n
        buffer[:n] = chunk
        self.read_bytes += n
        return n


def chunked(app, path: str, stream, headers: dict) -> Response:
    """POST ``stream`` as a server hands on a ``Transfer-Encoding: chunked`` body: no CONTENT_LENGTH, and
    ``wsgi.input_terminated`` set (gunicorn and Werkzeug's server do). Straight to the WSGI app: the test client
    would measure the stream first."""
    environ = EnvironBuilder(path=path, method="POST", headers=headers).get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ.update({"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": stream, "wsgi.input_terminated": True})
    app_iter, status, response_headers = run_wsgi_app(app, environ, buffered=True)
    return Response(app_iter, status=status, headers=response_headers)


def token(app, who: str) -> dict:
    resp = app.test_client().post(f"{API}/auth/token", json={"username": who, "password": f"rahasia-{who}"})
    return {"Authorization": f"Bearer {resp.json['token']}"}


def too_large(resp, message: str) -> None:
    assert resp.status_code == 413, resp.get_data(as_text=True)[:500]
    error = resp.json["error"] if resp.is_json else None
    assert error is not None and error["message"] == message and error["type"] == "too_large", resp.json
    assert error["code"] in ("upload.too_large", "upload.too_large_unknown") and "limit_bytes" in error["params"]


def test_files_over_their_limit_are_413_with_their_size_web_and_api(system, small_app):
    before = snapshot(system)
    api = small_app.test_client()
    auth = token(small_app, "tim")
    web = small_app.test_client()
    assert web.post("/masuk", data={"username": "tim", "password": "rahasia-tim"}).status_code == 302
    photo = noise_png((36, 36))  # over the photo limit (2 KB), under the other one (4 KB)
    big = noise_png((64, 64))  # over both, under the request limit
    huge = noise_png((200, 200))  # over the request limit (64 KB)
    assert 2048 < len(photo) < 4096 < len(big) < 64 * 1024 < len(huge)

    def send(client, path, data, headers=None):
        return client.post(path, data={"file": (io.BytesIO(data), "x.png")}, content_type="multipart/form-data",
                           headers=headers or {})

    for client, path, headers in ((api, f"{API}/files", auth), (web, "/berkas", None)):
        for data in (photo, big):
            resp = send(client, path, data, headers)
            too_large(resp, f"Foto ini terlalu besar: {len(data) // 1024} KB; batasnya 2 KB.")
        resp = send(client, path, huge, headers)  # refused on its declared length, before reading it
        too_large(resp, f"Berkas ini terlalu besar: {resp.request.content_length // 1024} KB; batasnya 4 KB.")
    assert snapshot(system) == before
    assert send(api, f"{API}/files", png(), auth).status_code == 201  # under the limits


def test_step_form_with_a_photo_over_the_limit_is_413(system, tx, small_app):
    case = Case.start(system, tx)
    web = small_app.test_client()
    assert web.post("/masuk", data={"username": "tim", "password": "rahasia-tim"}).status_code == 302
    assert web.post(f"/tugas/{case.task_id}/ambil").status_code == 302
    before = snapshot(system)
    photo = noise_png((36, 36))
    resp = web.post(f"/tugas/{case.task_id}", data={"foto": (io.BytesIO(photo), "besar.png")},
                    content_type="multipart/form-data")
    assert resp.status_code == 413  # the form is shown again, with the reason at the field
    assert f"besar.png: Foto ini terlalu besar: {len(photo) // 1024} KB; batasnya 2 KB." in resp.text
    assert snapshot(system) == before


def test_diagrams_over_the_limit_are_413_web_and_api(system, app, tx, login):
    make_users(system, tx)
    before = snapshot(system)
    big = b"<definitions" + b" " * (3 * MB) + b"/>"
    auth = token(app, "owner")
    for path in ("/definitions/validate", "/definitions"):
        resp = app.test_client().post(API + path, data=big, headers={**auth, "Content-Type": "application/xml"})
        too_large(resp, "Diagram ini terlalu besar: 3,0 MB; batasnya 2,0 MB.")
    owner = login("owner")
    for path in ("/proses/validasi", "/proses/terapkan"):  # the modeler's own calls ask for JSON
        resp = owner.post(path, data=big, headers={"Content-Type": "application/xml", "Accept": "application/json"})
        too_large(resp, "Diagram ini terlalu besar: 3,0 MB; batasnya 2,0 MB.")
    page = owner.post("/proses/validasi", data=big, headers={"Content-Type": "application/xml"})
    assert page.status_code == 413 and "Diagram ini terlalu besar: 3,0 MB; batasnya 2,0 MB." in page.text
    assert snapshot(system) == before


def test_a_chunked_body_is_read_no_further_than_its_limit(system, app, small_app):
    before = snapshot(system)
    owner = token(app, "owner")
    for path in ("/definitions/validate", "/definitions"):
        body = Endless(b"<definitions ")
        resp = chunked(app, API + path, body, {**owner, "Content-Type": "application/xml"})
        too_large(resp, "Diagram ini terlalu besar: lebih dari 2,0 MB.")
        assert 2 * MB < body.read_bytes <= 2 * MB + 64 * 1024, body.read_bytes
    tim = token(small_app, "tim")
    body = Endless(b'{"nama_kegiatan": "')
    resp = chunked(small_app, f"{API}/cases", body, {**tim, "Content-Type": "application/json"})
    too_large(resp, "Isi permintaan ini terlalu besar: lebih dari 8 KB.")
    assert body.read_bytes <= 8 * 1024 + 64 * 1024, body.read_bytes
    body = Endless(b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.png\"\r\n\r\n")
    resp = chunked(small_app, f"{API}/files", body,
                   {**tim, "Content-Type": "multipart/form-data; boundary=b"})
    too_large(resp, "Berkas ini terlalu besar: lebih dari 4 KB.")
    assert body.read_bytes <= 64 * 1024 + 64 * 1024, body.read_bytes
    assert snapshot(system) == before


def test_forms_and_json_over_their_limit_are_413(system, small_app):
    before = snapshot(system)
    resp = small_app.test_client().post(f"{API}/cases", json={"nama_kegiatan": "x" * 20_000},
                                        headers=token(small_app, "tim"))
    too_large(resp, "Isi permintaan ini terlalu besar: 19 KB; batasnya 8 KB.")
    page = small_app.test_client().post("/masuk", data={"username": "tim", "password": "x" * 20_000})
    assert page.status_code == 413 and "Isi permintaan ini terlalu besar: 19 KB; batasnya 8 KB." in page.text
    assert snapshot(system) == before


def test_the_413_message_in_english(system, tx, english_app):
    make_users(system, tx)
    c = english_app.test_client()
    resp = c.post(f"{API}/definitions", data=b"<definitions" + b" " * (3 * MB) + b"/>",
                  headers={**token(english_app, "owner"), "Content-Type": "application/xml", "Accept-Language": "en"})
    assert resp.status_code == 413
    assert resp.json["error"]["message"] == "This diagram is too large: 3.0 MB; the limit is 2.0 MB."

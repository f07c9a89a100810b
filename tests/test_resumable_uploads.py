"""Resumable uploads (tus 1.0.0, webui/uploads.py, process/resumable.py): announced, sent in pieces, resumed after a
piece cut off, refused up front when too large, checked when complete like every upload, each person's own."""
from __future__ import annotations

import base64
import hashlib
import io
import os
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ops.worker import Worker
from process.models import FileRecord, UploadSession
from process.resumable import partial_dir
from tests.factories import Case, make_users, png
from tests.test_web_tasks import STEP1, fetch, html, lock_version

URL = "/berkas/unggah"
TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = "application/offset+octet-stream"


@pytest.fixture
def users(system, tx):
    make_users(system, tx)


def mp4(size: int) -> bytes:
    """A file that starts as an MP4 does (an ``ftyp`` box), padded to ``size`` bytes with varied bytes."""
    head = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    body = hashlib.sha256(b"seed").digest() * (size // 32 + 1)
    return (head + body)[:size]


def meta(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def create(client, data: bytes, name: str = "video.mp4", filetype: str = "video/mp4", length: int | None = None):
    return client.post(URL, headers={**TUS, "Upload-Length": str(len(data) if length is None else length),
                                     "Upload-Metadata": meta(filename=name, filetype=filetype, field="foto")})


def patch(client, location: str, data: bytes, offset: int, **kw):
    headers = {**TUS, "Upload-Offset": str(offset), "Content-Type": OCTETS, **kw.pop("headers", {})}
    return client.patch(location, data=data, headers=headers, **kw)


def head(client, location: str):
    return client.head(location, headers=TUS)


def offset_of(client, location: str) -> int:
    resp = head(client, location)
    assert resp.status_code == 200, resp.status_code
    return int(resp.headers["Upload-Offset"])


def files_count(system) -> int:
    with system.sessions() as s:
        return s.execute(select(func.count()).select_from(FileRecord)).scalar()


def test_options_say_what_the_server_speaks(users, login, system):
    resp = login("tim").options(URL)
    assert resp.status_code == 204
    assert resp.headers["Tus-Resumable"] == "1.0.0" and resp.headers["Tus-Version"] == "1.0.0"
    assert set(resp.headers["Tus-Extension"].split(",")) == {"creation", "termination", "expiration"}
    assert int(resp.headers["Tus-Max-Size"]) == max(system.settings.max_image_bytes, system.settings.max_other_bytes)


def test_created_sent_in_pieces_then_stored_as_an_ordinary_upload(users, login, system):
    tim = login("tim")
    data = mp4(300_000)
    resp = create(tim, data, name="VID_20250506_0412.mp4")
    assert resp.status_code == 201 and resp.headers["Tus-Resumable"] == "1.0.0" and "Upload-Expires" in resp.headers
    location = resp.headers["Location"]
    assert location.startswith(URL + "/")
    assert offset_of(tim, location) == 0
    assert int(head(tim, location).headers["Upload-Length"]) == len(data)
    sent = 0
    for size in (100_000, 100_000, 100_000):
        resp = patch(tim, location, data[sent:sent + size], sent)
        assert resp.status_code == 204, resp.data
        sent += size
        assert int(resp.headers["Upload-Offset"]) == sent == offset_of(tim, location)
    body = tim.get(location).get_json()
    assert body["offset"] == body["length"] == len(data)
    stored = body["file"]
    assert stored["kind"] == "video" and stored["mime"] == "video/mp4" and stored["name"] == "VID_20250506_0412.mp4"
    assert stored["sha256"] == hashlib.sha256(data).hexdigest() and stored["size"] == len(data)
    with system.sessions() as s:
        record = s.get(FileRecord, stored["id"])
        assert record.uploaded_by == "tim" and record.instance_id is None
    assert (system.settings.files_dir / record.stored_name).read_bytes() == data
    assert not any(partial_dir(system.settings.files_dir).iterdir())  # the partial became the stored file
    assert fetch(tim, f"/berkas/{stored['id']}").status_code == 200
    # a finished upload still answers HEAD (a sender that missed the last answer learns it is complete)
    assert offset_of(tim, location) == len(data)
    assert patch(tim, location, b"x", len(data)).status_code == 409


def test_a_piece_cut_off_keeps_what_arrived_and_the_upload_resumes_there(users, login, system):
    tim = login("tim")
    data = mp4(400_000)
    location = create(tim, data).headers["Location"]
    # the connection drops after 150,000 of the 400,000 bytes the request announced
    resp = tim.patch(location, input_stream=io.BytesIO(data[:150_000]),
                     headers={**TUS, "Upload-Offset": "0", "Content-Type": OCTETS,
                              "Content-Length": str(len(data))})
    assert offset_of(tim, location) == 150_000, resp.status_code
    # a retry from zero is refused: the sender asks (HEAD) and goes on from there
    assert patch(tim, location, data, 0).status_code == 409
    resp = patch(tim, location, data[150_000:], 150_000)
    assert resp.status_code == 204 and int(resp.headers["Upload-Offset"]) == len(data)
    stored = tim.get(location).get_json()["file"]
    assert stored["sha256"] == hashlib.sha256(data).hexdigest()


def test_offset_mismatch_is_409_and_writes_nothing(users, login):
    tim = login("tim")
    data = mp4(50_000)
    location = create(tim, data).headers["Location"]
    assert patch(tim, location, data[:10_000], 0).status_code == 204
    resp = patch(tim, location, data[20_000:30_000], 20_000)
    assert resp.status_code == 409 and "10000" in resp.get_json()["error"]["message"].replace(".", "")
    assert offset_of(tim, location) == 10_000


def test_too_large_is_refused_before_a_byte_is_sent(users, login, system):
    tim = login("tim")
    largest = max(system.settings.max_image_bytes, system.settings.max_other_bytes)
    resp = create(tim, b"", length=largest + 1)
    assert resp.status_code == 413 and "terlalu besar" in resp.get_json()["error"]["message"]
    # a photo (as the sender says) over the photo limit, though within the video limit
    resp = create(tim, b"", name="IMG_1.jpg", filetype="image/jpeg", length=system.settings.max_image_bytes + 1)
    assert resp.status_code == 413 and "Foto ini" in resp.get_json()["error"]["message"]
    with system.sessions() as s:
        assert s.execute(select(func.count()).select_from(UploadSession)).scalar() == 0
    # a piece past the announced length
    location = create(tim, mp4(1000)).headers["Location"]
    assert patch(tim, location, mp4(2000), 0).status_code == 413
    assert offset_of(tim, location) == 0


def test_a_photo_lying_about_its_type_is_checked_by_content(users, login, system):
    """A photo announced as a video still gets the photo limit when it is complete."""
    tim = login("tim")
    big = png(size=(16, 16)) + b"\0" * (system.settings.max_image_bytes + 10 - len(png(size=(16, 16))))
    location = create(tim, big, name="x.mp4", filetype="video/mp4").headers["Location"]
    resp = patch(tim, location, big, 0)
    assert resp.status_code == 413 and "Foto ini" in resp.get_json()["error"]["message"]
    assert head(tim, location).status_code == 404
    assert not any(partial_dir(system.settings.files_dir).iterdir())


def test_bad_content_is_refused_when_complete_with_a_message_and_nothing_kept(users, login, system):
    tim = login("tim")
    data = b"MZ" + os.urandom(30_000)  # a Windows program, whatever its name says
    location = create(tim, data, name="foto.jpg", filetype="image/jpeg").headers["Location"]
    before = files_count(system)
    assert patch(tim, location, data[:20_000], 0).status_code == 204
    resp = patch(tim, location, data[20_000:], 20_000)
    assert resp.status_code == 422
    assert "Jenis berkas tidak didukung" in resp.get_json()["error"]["message"]
    assert files_count(system) == before
    assert not any(partial_dir(system.settings.files_dir).iterdir())
    assert [p for p in system.settings.files_dir.iterdir() if p.is_file()] == []
    assert head(tim, location).status_code == 404


def test_only_the_owner_sees_or_touches_an_upload(users, login):
    tim = login("tim")
    data = mp4(20_000)
    location = create(tim, data).headers["Location"]
    assert patch(tim, location, data[:5_000], 0).status_code == 204
    for who in ("tim2", "tim_lain", "pimred"):
        other = login(who)
        assert head(other, location).status_code == 404, who
        assert other.get(location).status_code == 404, who
        assert patch(other, location, data[5_000:], 5_000).status_code == 404, who
        assert other.delete(location, headers=TUS).status_code == 404, who
    assert offset_of(tim, location) == 5_000
    assert head(tim, URL + "/00000000-0000-4000-8000-000000000000").status_code == 404


def test_the_auditor_may_not_upload(users, login):
    auditor = login("auditor")
    assert create(auditor, mp4(1000)).status_code == 403
    location = create(login("tim"), mp4(1000)).headers["Location"]
    assert patch(auditor, location, mp4(1000), 0).status_code == 403
    assert auditor.delete(location, headers=TUS).status_code == 403
    assert auditor.post(location, headers={**TUS, "X-HTTP-Method-Override": "PATCH"}).status_code == 403


def test_protocol_errors_say_what_is_wrong(users, login):
    tim = login("tim")
    resp = tim.post(URL, headers={"Upload-Length": "10"})
    assert resp.status_code == 412 and resp.headers["Tus-Version"] == "1.0.0"
    assert tim.post(URL, headers={**TUS}).status_code == 400
    assert tim.post(URL, headers={**TUS, "Upload-Length": "-5"}).status_code == 400
    assert tim.post(URL, headers={**TUS, "Upload-Length": "0"}).status_code == 422
    resp = tim.post(URL, headers={**TUS, "Upload-Length": "10", "Upload-Metadata": "filename ***"})
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "upload.metadata"
    location = create(tim, mp4(100)).headers["Location"]
    resp = tim.patch(location, data=b"x", headers={**TUS, "Upload-Offset": "0", "Content-Type": "text/plain"})
    assert resp.status_code == 415
    assert tim.patch(location, data=b"x", headers={**TUS, "Content-Type": OCTETS}).status_code == 400
    # the method override of the protocol
    resp = tim.post(location, data=mp4(100), headers={**TUS, "X-HTTP-Method-Override": "PATCH",
                                                      "Upload-Offset": "0", "Content-Type": OCTETS})
    assert resp.status_code == 204 and resp.headers["Upload-Offset"] == "100"
    assert tim.post(location, headers=TUS).status_code == 405


def test_terminated_uploads_are_gone(users, login, system):
    tim = login("tim")
    location = create(tim, mp4(1000)).headers["Location"]
    assert patch(tim, location, mp4(1000)[:500], 0).status_code == 204
    assert tim.delete(location, headers=TUS).status_code == 204
    assert head(tim, location).status_code == 404
    assert not any(partial_dir(system.settings.files_dir).iterdir())


def test_a_finished_upload_is_attached_by_the_form_like_any_other(users, login, system, tx):
    case = Case.start(system, tx)
    tim = login("tim")
    tim.post(f"/tugas/{case.task_id}/ambil")
    ids = []
    for i in range(4):
        data = png((i * 40, 90, 10))
        location = create(tim, data, name=f"IMG_{i}.png", filetype="image/png").headers["Location"]
        assert patch(tim, location, data, 0).status_code == 204
        ids.append(tim.get(location).get_json()["file"]["id"])
    version = lock_version(html(tim.get(f"/tugas/{case.task_id}")))
    resp = tim.post(f"/tugas/{case.task_id}", data={**STEP1, "foto": ids, "lock_version": version})
    assert resp.status_code == 302, html(resp)[:2000]
    with system.sessions() as s:
        assert {r.instance_id for r in s.execute(select(FileRecord).where(FileRecord.id.in_(ids))).scalars()} \
            == {case.instance_id}


def test_housekeeping_forgets_abandoned_uploads(users, login, system, clock):
    tim = login("tim")
    data = mp4(10_000)
    abandoned = create(tim, data).headers["Location"]
    assert patch(tim, abandoned, data[:4_000], 0).status_code == 204
    finished = create(tim, data).headers["Location"]
    assert patch(tim, finished, data, 0).status_code == 204
    file_id = tim.get(finished).get_json()["file"]["id"]
    stray = partial_dir(system.settings.files_dir) / "left-over"
    stray.write_bytes(b"a creation rolled back")
    partial = partial_dir(system.settings.files_dir) / abandoned.rsplit("/", 1)[1]
    worker = Worker(system)
    clock.advance(hours=2)
    assert worker.purge_partial_uploads() == 0 and partial.exists()
    clock.advance(days=1)
    past = (clock.now() - timedelta(days=2)).timestamp()
    for path in (partial, stray):
        os.utime(path, (past, past))
    assert worker.purge_partial_uploads() == 3  # two rows, one stray file
    assert not partial.exists() and not stray.exists()
    with system.sessions() as s:
        assert s.execute(select(func.count()).select_from(UploadSession)).scalar() == 0
        assert s.get(FileRecord, file_id) is not None  # the finished file is an ordinary upload
    assert head(tim, abandoned).status_code == 404


def test_a_recent_piece_keeps_an_upload(users, login, system, clock):
    tim = login("tim")
    data = mp4(10_000)
    location = create(tim, data).headers["Location"]
    clock.advance(days=2)
    partial = partial_dir(system.settings.files_dir) / location.rsplit("/", 1)[1]
    now = clock.now().timestamp()
    os.utime(partial, (now, now))  # a piece just arrived
    assert Worker(system).purge_partial_uploads() == 0
    assert offset_of(tim, location) == 0

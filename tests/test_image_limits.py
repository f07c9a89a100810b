"""Photos are bounded in pixels, not only in bytes: a photo whose header declares more than the configured limit
(``ALUR_MAX_IMAGE_MEGAPIXELS``) is refused from its header, before anything is decoded, with a 422 that says its
size and the limit in megapixels: through the upload endpoint of the web pages, the JSON API and the task form
without JavaScript; PNG, JPEG, WebP and HEIC alike. Pillow's process-wide ``Image.MAX_IMAGE_PIXELS`` plays no part
(pytest turns its warning into an error, so a path through ``Image.open`` would show)."""
from __future__ import annotations

import dataclasses
import io
import struct
import zlib

import pytest
from PIL import Image

from process.files import ImageTooLarge, sniff, thumbnail
from process.models import FileRecord
from process.system import build_system
from tests.factories import Case, make_users, png
from tests.test_api import Api, refused, snapshot
from tests.test_web_tasks import STEP1, html, lock_version, stored_files, upload
from webui import create_app


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(width: int, height: int) -> bytes:
    """A PNG of about 100 bytes whose header says ``width`` × ``height`` (its pixel data is a stub)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + _chunk(b"IEND", b""))


def blank_png(width: int, height: int) -> bytes:
    """A real, complete 1-bit PNG of ``width`` × ``height`` white pixels: huge, but compressed to a few hundred KB."""
    row = b"\0" + b"\xff" * ((width + 7) // 8)
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


def encoded(fmt: str, size=(300, 200)) -> bytes:
    out = io.BytesIO()
    img = Image.new("RGB", size, (20, 120, 200))
    if fmt == "HEIF":
        import pillow_heif

        pillow_heif.from_pillow(img).save(out, format="HEIF")
    else:
        img.save(out, fmt)
    return out.getvalue()


BOMB = png_declaring(16320, 12240)  # 199.8 megapixels in 100-odd bytes
BIG = blank_png(12000, 12000)  # 144 megapixels, a complete image


def test_the_test_images_are_what_they_claim():
    assert len(BOMB) < 200 and len(BIG) < 600_000
    assert Image.MAX_IMAGE_PIXELS is not None  # Pillow's own guard is left as it is


@pytest.fixture
def users(system, tx):
    make_users(system, tx)


@pytest.mark.parametrize(("data", "size", "megapixels"), [(BOMB, "16320 × 12240", "199,8"),
                                                          (BIG, "12000 × 12000", "144")])
def test_web_upload_refuses_with_the_size_in_megapixels(system, users, login, data, size, megapixels):
    tim = login("tim")
    before = snapshot(system)
    resp = upload(tim, data, "kamera.png")
    assert resp.status_code == 422, resp.get_data(as_text=True)[:500]
    error = resp.get_json()["error"]
    assert error["code"] == "upload.image_too_large" and error["type"] == "image_too_large"
    assert size in error["message"] and f"{megapixels} megapiksel" in error["message"]
    assert "batasnya 64 megapiksel" in error["message"]
    assert snapshot(system) == before and stored_files(system) == []


@pytest.mark.parametrize("data", [BOMB, BIG])
def test_api_upload_refuses_over_the_pixel_limit(system, users, app, data):
    api = Api(app.test_client())
    refused(system, lambda: api.upload("tim", data, "kamera.png"), 422, "upload.image_too_large")


def test_task_form_without_javascript_refuses_it_and_keeps_nothing(system, tx, users, login):
    case = Case.start(system, tx)
    tim = login("tim")
    tim.post(f"/tugas/{case.task_id}/ambil")
    version = lock_version(html(tim.get(f"/tugas/{case.task_id}")))
    before = snapshot(system)
    photos = [(io.BytesIO(BOMB), "bom.png")] + [(io.BytesIO(png((i, 2, 3))), f"f{i}.png") for i in range(4)]
    resp = tim.post(f"/tugas/{case.task_id}", data={**STEP1, "foto": photos, "lock_version": version},
                    content_type="multipart/form-data")
    assert resp.status_code == 422
    assert "bom.png" in html(resp) and "16320 × 12240 piksel" in html(resp)
    assert snapshot(system) == before and stored_files(system) == []


@pytest.fixture
def tight(system, settings, clock):
    """The same database with a limit of 0.05 megapixels (``ALUR_MAX_IMAGE_MEGAPIXELS=0.05``)."""
    small = build_system(dataclasses.replace(settings, max_image_pixels=50_000), clock)
    yield create_app(system=small, config={"SECRET_KEY": "test-secret", "TESTING": True,
                                           "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False})
    small.dispose()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "HEIF"])
def test_the_limit_is_configurable_and_holds_for_every_photo_format(system, users, login, tight, fmt):
    within, over = encoded(fmt, (200, 200)), encoded(fmt, (300, 200))  # 0.04 and 0.06 megapixels
    client = tight.test_client()
    assert client.post("/masuk", data={"username": "tim", "password": "rahasia-tim"}).status_code == 302
    resp = upload(client, over, f"foto.{fmt.lower()}")
    assert resp.status_code == 422 and "300 × 200 piksel (0,06 megapiksel), batasnya 0,05" in \
        resp.get_json()["error"]["message"]
    assert upload(client, within, f"foto.{fmt.lower()}").status_code == 201
    assert upload(login("tim"), over, f"foto.{fmt.lower()}").status_code == 201  # the default limit: 64 MP
    api = Api(tight.test_client())
    assert api.upload("tim", over, "foto").status_code == 422


def test_the_limit_is_read_from_the_environment():
    from process.config import Settings

    assert Settings.from_env(env={"ALUR_MAX_IMAGE_MEGAPIXELS": "12.5"}).max_image_pixels == 12_500_000
    assert Settings.from_env(env={}).max_image_pixels == 64_000_000
    for bad in ("banyak", "0", "-3"):
        with pytest.raises(ValueError, match="ALUR_MAX_IMAGE_MEGAPIXELS"):
            Settings.from_env(env={"ALUR_MAX_IMAGE_MEGAPIXELS": bad})


def test_pillows_global_limit_plays_no_part():
    """A limit above Pillow's own (89 MP warns, 179 MP raises): the header is read without ``Image.open``, so
    neither its warning (an error under pytest) nor its exception appears; the application's limit decides."""
    with pytest.raises(ImageTooLarge):
        sniff(BOMB, max_pixels=150_000_000)
    assert sniff(png_declaring(10_000, 10_000), max_pixels=150_000_000) == ("image", "image/png")  # 100 MP
    with pytest.raises(ImageTooLarge):
        sniff(png_declaring(10_000, 10_000), max_pixels=99_999_999)


def test_a_thumbnail_never_decodes_a_photo_over_the_limit(system, users, login, tx):
    """A photo stored before the limit was lowered: its thumbnail is the generic icon, nothing is decoded."""
    import uuid

    data = encoded("PNG", (400, 300))
    with pytest.raises(ImageTooLarge):
        thumbnail(data, max_pixels=100_000)
    assert thumbnail(data)[:2] == b"\xff\xd8"
    small = dataclasses.replace(system.settings, max_image_pixels=100_000)
    small_system = build_system(small, system.clock)
    app = create_app(system=small_system, config={"SECRET_KEY": "test-secret", "TESTING": True,
                                                  "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False})
    try:
        client = app.test_client()
        client.post("/masuk", data={"username": "tim", "password": "rahasia-tim"})
        small.files_dir.mkdir(parents=True, exist_ok=True)
        (small.files_dir / "lama").write_bytes(data)
        file_id = str(uuid.uuid4())
        with tx() as s:
            s.add(FileRecord(id=file_id, sha256="0" * 64, size=len(data), mime="image/png", kind="image",
                             original_name="lama.png", stored_name="lama", uploaded_by="tim",
                             uploaded_at=system.clock.now()))
        resp = client.get(f"/berkas/{file_id}/thumb")
        assert resp.status_code == 200 and resp.mimetype == "image/svg+xml"
        resp.close()
    finally:
        small_system.dispose()


def test_the_refusal_in_english(system, users, english_app):
    client = english_app.test_client()
    assert client.post("/masuk", data={"username": "tim", "password": "rahasia-tim"}).status_code == 302
    client.get("/bahasa/en")
    resp = upload(client, BOMB, "bomb.png")
    assert resp.status_code == 422
    message = resp.get_json()["error"]["message"]
    assert "Photo too large: 16320 × 12240 pixels (199.8 megapixels)" in message and "64 megapixels" in message

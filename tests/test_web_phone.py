"""Installable on a phone's home screen (webui/pwa.py, webui/static/icons/), and the server's half of unsent
form drafts (webui/drafts.py: which drafts the page after an accepted form tells the browser to drop)."""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

from PIL import Image

from tests.factories import Case, make_users

STATIC = Path(__file__).resolve().parents[1] / "webui" / "static"


def _attr(html: str, tag_pattern: str, attr: str) -> str:
    tag = re.search(tag_pattern, html)
    assert tag, f"no {tag_pattern!r} in the page"
    value = re.search(rf'{attr}="([^"]*)"', tag.group(0))
    assert value, f"{tag.group(0)} has no {attr}"
    return value.group(1)


def test_manifest_is_served_and_describes_the_app(client):
    resp = client.get("/manifest.webmanifest")  # browsers fetch it without the session cookie
    assert resp.status_code == 200
    assert resp.mimetype == "application/manifest+json"
    data = json.loads(resp.get_data(as_text=True))
    assert data["name"] == "Alur Medsos — KPU Sumbar"
    assert data["short_name"] and len(data["short_name"]) <= 12
    assert data["start_url"] == "/" and data["display"] == "standalone" and data["lang"] == "id"
    for colour in (data["theme_color"], data["background_color"]):
        assert re.fullmatch(r"#[0-9a-f]{6}", colour), colour
    css = (STATIC / "css" / "app.css").read_text()
    assert data["theme_color"] in css and data["background_color"] in css, "colours not from the app's palette"

    purposes = set()
    sizes = set()
    for icon in data["icons"]:
        got = client.get(icon["src"])
        assert got.status_code == 200, icon["src"]
        assert got.mimetype == icon["type"] == "image/png"
        with Image.open(io.BytesIO(got.data)) as img:
            assert img.format == "PNG"
            assert f"{img.width}x{img.height}" == icon["sizes"], icon
        purposes.add(icon["purpose"])
        sizes.add(icon["sizes"])
        got.close()
    assert {"192x192", "512x512"} <= sizes
    assert {"any", "maskable"} <= purposes


def test_maskable_icon_keeps_its_mark_in_the_safe_zone():
    """Outside the central circle of radius 40 % every pixel is the background: a phone may crop it to a circle."""
    with Image.open(STATIC / "icons" / "icon-maskable-512.png") as opened:
        img = opened.convert("RGB")
    background = img.getpixel((0, 0))
    size = img.width
    centre, radius = size / 2, size * .4
    for x in range(0, size, 4):
        for y in range(0, size, 4):
            if (x - centre) ** 2 + (y - centre) ** 2 > radius ** 2:
                assert img.getpixel((x, y)) == background, (x, y)
    assert any(img.getpixel((x, y)) != background for x in range(0, size, 8) for y in range(0, size, 8))


def test_pages_link_the_manifest_and_icons(client, system, tx, login):
    make_users(system, tx)
    pages = {"login": client.get("/masuk").get_data(as_text=True),
             "inbox": login("tim").get("/kotak-tugas").get_data(as_text=True)}
    for where, html in pages.items():
        assert _attr(html, r'<link rel="manifest"[^>]*>', "href") == "/manifest.webmanifest", where
        touch = _attr(html, r'<link rel="apple-touch-icon"[^>]*>', "href")
        with Image.open(STATIC / touch.removeprefix("/static/")) as img:
            assert img.size == (180, 180), where
        assert _attr(html, r'<meta name="theme-color"[^>]*>', "content") == "#a4161a", where


def test_body_names_the_user_for_drafts_only_when_logged_in(client, system, tx, login):
    make_users(system, tx)
    assert "data-user-id" not in client.get("/masuk").get_data(as_text=True)
    html = login("tim").get("/kotak-tugas").get_data(as_text=True)
    user_id = _attr(html, r"<body[^>]*>", "data-user-id")
    assert user_id.isdigit()
    other = _attr(login("admin").get("/kotak-tugas").get_data(as_text=True), r"<body[^>]*>", "data-user-id")
    assert other != user_id


def test_accepted_task_form_tells_the_next_page_to_drop_its_draft(system, tx, login):
    make_users(system, tx)
    case = Case.start(system, tx, nama="Draf Rapat Pleno")
    tim = login("tim")
    task_url = f"/tugas/{case.task_id}"
    assert tim.post(f"{task_url}/ambil").status_code == 302
    page = tim.get(task_url).get_data(as_text=True)
    assert f'data-draft="task:{case.task_id}"' in page

    refused = tim.post(task_url, data={"narasi": "baru setengah"})  # the form is shown again: the draft stays
    assert refused.status_code == 422
    assert "data-drafts-done" not in refused.get_data(as_text=True)
    assert "data-drafts-done" not in tim.get("/kotak-tugas").get_data(as_text=True)

    with tx() as s:
        from tests.factories import step1_form
        form = step1_form(system, s)
    sent = tim.post(task_url, data={**{k: v for k, v in form.items() if k != "foto"}, "foto": form["foto"]})
    assert sent.status_code == 302, sent.get_data(as_text=True)[:2000]
    after = tim.get(sent.headers["Location"]).get_data(as_text=True)
    assert _attr(after, r"<body[^>]*>", "data-drafts-done") == f"task:{case.task_id}"
    assert "data-drafts-done" not in tim.get("/kotak-tugas").get_data(as_text=True)  # said once


def test_new_case_form_keeps_a_draft_until_the_case_is_made(system, tx, login):
    make_users(system, tx)
    tim = login("tim")
    form = tim.get("/kasus/baru").get_data(as_text=True)
    key = _attr(form, r"<form[^>]*data-draft[^>]*>", "data-draft")
    assert key.startswith("new-case:")
    refused = tim.post("/kasus/baru", data={"prosedur": key.removeprefix("new-case:"), "nama_kegiatan": ""})
    assert refused.status_code == 422
    made = tim.post("/kasus/baru", data={"prosedur": key.removeprefix("new-case:"), "nama_kegiatan": "Rapat Draf",
                                          "tanggal_kegiatan": "2025-05-06", "tempat_kegiatan": "Padang",
                                          "tim": "humas"})
    assert made.status_code == 302, made.get_data(as_text=True)[:2000]
    assert _attr(tim.get(made.headers["Location"]).get_data(as_text=True), r"<body[^>]*>",
                 "data-drafts-done") == key

"""Login, logout, language, security headers."""
from __future__ import annotations

from tests.factories import make_users


def test_login_page_and_headers(client):
    resp = client.get("/masuk")
    assert resp.status_code == 200
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert b"Masuk" in resp.data


def test_login_wrong_password_and_unknown_user_look_the_same(system, tx, client):
    make_users(system, tx)
    a = client.post("/masuk", data={"username": "tim", "password": "salah-sekali"})
    b = client.post("/masuk", data={"username": "tidak-ada", "password": "salah-sekali"})
    assert a.status_code == b.status_code == 401
    assert a.data.replace(b'value="tim"', b'value="tidak-ada"') == b.data


def test_login_sets_hardened_cookie(system, tx, client):
    make_users(system, tx)
    resp = client.post("/masuk", data={"username": "tim", "password": "rahasia-tim"})
    assert resp.status_code == 302
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_english_selectable(english_app):
    client = english_app.test_client()
    client.get("/bahasa/en")
    page = client.get("/masuk").get_data(as_text=True)
    assert 'lang="en"' in page and "Log in" in page

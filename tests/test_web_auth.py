"""Login, logout, language, security headers."""
from __future__ import annotations

import json

from tests.factories import make_users


def test_login_page_and_headers(client):
    resp = client.get("/masuk")
    assert resp.status_code == 200
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert b"Masuk" in resp.data


def test_the_application_hashes_passwords_with_werkzeugs_default_scrypt(system, tx, monkeypatch):
    """The other tests hash with one cheap round (tests/conftest.py, TEST_PASSWORD_METHOD); the application's own
    hash, for the stored password and the unknown user's comparison alike, is werkzeug's default."""
    from werkzeug import security

    import process.people as people

    monkeypatch.setattr(people, "generate_password_hash", security.generate_password_hash)
    people._dummy_hash.cache_clear()
    try:
        with tx() as s:
            hashed = system.people.add_user(s, "sari", "kata-sandi-sari", ["auditor"]).password_hash
        assert hashed.startswith("scrypt:") and people._dummy_hash().startswith("scrypt:")
        assert people.check_password_hash(hashed, "kata-sandi-sari")
    finally:
        people._dummy_hash.cache_clear()


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


# ------------------------------------------------------------------ sessions end server-side
API = "/api/v1"


def _copy(client, app):
    """Another browser holding a copy of ``client``'s session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def _logged_in(client) -> bool:
    resp = client.get("/kotak-tugas")
    assert resp.status_code in (200, 302), resp.status_code
    return resp.status_code == 200 or "/masuk" not in resp.headers["Location"]


def _token(app, username: str) -> str:
    resp = app.test_client().post(f"{API}/auth/token", json={"username": username, "password": f"rahasia-{username}"})
    assert resp.status_code == 200, resp.json
    return resp.json["token"]


def _token_works(app, token: str) -> bool:
    status = app.test_client().get(f"{API}/me", headers={"Authorization": f"Bearer {token}"}).status_code
    assert status in (200, 401)
    return status == 200


def _events(system, type_):
    from sqlalchemy import select

    from engine.models import EventRow

    with system.sessions() as s:
        return s.execute(select(EventRow).where(EventRow.type == type_)).scalars().all()


def test_a_copied_cookie_stops_working_after_logout(system, tx, app, login):
    make_users(system, tx)
    browser = login("tim")
    thief = _copy(browser, app)
    assert _logged_in(thief)
    assert browser.post("/keluar").status_code == 302
    resp = thief.get("/kotak-tugas")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/masuk")
    assert not _logged_in(browser)
    # Logging in again opens a new session; the ended one stays ended.
    again = login("tim")
    assert _logged_in(again) and not _logged_in(thief)


def test_a_remember_cookie_of_an_ended_login_lets_nobody_in(system, tx, app, login):
    from flask_login.utils import encode_cookie

    make_users(system, tx)
    browser = login("tim")
    with browser.session_transaction() as sess:
        login_id = sess["_user_id"]
    with app.test_request_context():
        remember = encode_cookie(login_id)
    assert browser.post("/keluar").status_code == 302
    stranger = app.test_client()
    stranger.set_cookie("remember_token", remember)
    assert not _logged_in(stranger)


def test_a_second_login_in_the_same_browser_ends_the_first(system, tx, app, login):
    make_users(system, tx)
    browser = login("tim")
    thief = _copy(browser, app)
    assert browser.post("/masuk", data={"username": "tim2", "password": "rahasia-tim2"}).status_code == 302
    assert _logged_in(browser) and not _logged_in(thief)


def test_password_reset_by_an_admin_ends_every_session_and_token_of_that_user_only(system, tx, app, login):
    make_users(system, tx)
    with tx() as s:
        system.people.add_user(s, "root", "rahasia-root", ["admin"])
    phone, laptop, colleague = login("tim"), login("tim"), login("tim2")
    token, colleague_token = _token(app, "tim"), _token(app, "tim2")
    admin, admin_elsewhere = login("root"), login("root")
    with system.sessions() as s:
        from tests.factories import user

        tim_id, root_id = user(s, "tim").id, user(s, "root").id
    assert admin.post(f"/admin/pengguna/{tim_id}/sandi").status_code == 200
    assert not _logged_in(phone) and not _logged_in(laptop) and not _token_works(app, token)
    assert _logged_in(colleague) and _token_works(app, colleague_token)
    (event,) = _events(system, "password_reset")
    assert json.loads(event.payload)["sessions_ended"] == 3
    # Their own password: this session stays, every other one of theirs ends.
    assert admin.post(f"/admin/pengguna/{root_id}/sandi").status_code == 200
    assert _logged_in(admin) and not _logged_in(admin_elsewhere)
    assert _logged_in(colleague)


def test_password_change_from_the_command_line_ends_every_session(system, tx, app, login):
    make_users(system, tx)
    browser, token = login("tim"), _token(app, "tim")
    with tx() as s:
        from tests.factories import user

        system.people.reset_password(s, user(s, "tim"), "sandi-baru-tim", actor="cli")
    assert not _logged_in(browser) and not _token_works(app, token)
    assert _logged_in(login("tim", "sandi-baru-tim"))


def test_deactivation_ends_every_session_and_token_for_good(system, tx, app, login):
    make_users(system, tx)
    with tx() as s:
        system.people.add_user(s, "root", "rahasia-root", ["admin"])
    phone, laptop, colleague = login("tim"), login("tim"), login("tim2")
    token, colleague_token = _token(app, "tim"), _token(app, "tim2")
    admin = login("root")
    with system.sessions() as s:
        from tests.factories import user

        tim_id = user(s, "tim").id
    assert admin.post(f"/admin/pengguna/{tim_id}/status", data={"active": "0"}).status_code == 302
    assert not _logged_in(phone) and not _logged_in(laptop) and not _token_works(app, token)
    (event,) = _events(system, "user_deactivated")
    assert json.loads(event.payload)["sessions_ended"] == 3  # what the administrator reads in the log
    # Reactivated: the account can log in again, but nothing opened before the deactivation comes back.
    assert admin.post(f"/admin/pengguna/{tim_id}/status", data={"active": "1"}).status_code == 302
    assert not _logged_in(phone) and not _logged_in(laptop) and not _token_works(app, token)
    assert _logged_in(login("tim")) and _token_works(app, _token(app, "tim"))
    assert _logged_in(colleague) and _token_works(app, colleague_token) and _logged_in(admin)


def test_one_statement_loads_the_user_of_a_request(system, tx, app, login):
    """The session check costs no extra round trip: the user, their roles, team and session in one SELECT."""
    from sqlalchemy import event

    make_users(system, tx)
    browser, token = login("tim"), _token(app, "tim")
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(system.db, "before_cursor_execute", record)
    try:
        for client, headers, url in ((browser, {}, "/notifikasi"),
                                     (app.test_client(), {"Authorization": f"Bearer {token}"}, f"{API}/me")):
            statements.clear()
            assert client.get(url, headers=headers).status_code == 200
            loads = [s for s in statements if "user_session" in s]
            assert len(loads) == 1 and "app_user" in loads[0] and "user_role" in loads[0], loads
    finally:
        event.remove(system.db, "before_cursor_execute", record)


def test_last_seen_is_written_at_most_every_five_minutes(system, tx, app, login, clock):
    from datetime import timedelta

    from sqlalchemy import select

    from process.models import UserSession

    make_users(system, tx)
    browser = login("tim")
    started = clock.now()

    def last_seen():
        with system.sessions() as s:
            return s.execute(select(UserSession.last_seen_at)).scalar_one()

    clock.advance(minutes=4)
    assert _logged_in(browser) and last_seen() == started  # a request reads, and writes nothing
    clock.advance(minutes=1)
    assert _logged_in(browser) and last_seen() == started + timedelta(minutes=5)

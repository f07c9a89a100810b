"""Security of the HTML app with its real settings: CSRF on, login rate limit, no user enumeration, hardened
cookies, and a CSP that the pages actually keep (no inline scripts, no inline event handlers)."""
from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select

from process.models import User
from tests.factories import make_users

CSRF_FIELD = re.compile(rb'name="csrf_token" type="hidden" value="[^"]*"|'
                        rb'type="hidden" name="csrf_token" value="[^"]*"|name="csrf_token" value="[^"]*"')


def _make_app(system, **config):
    from webui import create_app

    return create_app(system=system, config={"SECRET_KEY": "test-secret", "TESTING": True,
                                             "RATELIMIT_ENABLED": False, **config})


@pytest.fixture
def secure_app(system, tx):
    """Like the ``app`` fixture, but with CSRF protection on (the default)."""
    make_users(system, tx)
    with tx() as s:
        system.people.add_user(s, "root", "rahasia-root", ["admin"])
    return _make_app(system)


def _token(page: bytes) -> str:
    m = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        rb'value="([^"]+)"[^>]*name="csrf_token"', page)
    assert m, page[:1500]
    return m[1].decode()


def _login(app, username: str):
    c = app.test_client()
    token = _token(c.get("/masuk").data)
    resp = c.post("/masuk", data={"username": username, "password": f"rahasia-{username}", "csrf_token": token})
    assert resp.status_code == 302, resp.data[:800]
    return c


def _users(system) -> int:
    with system.sessions() as s:
        return s.execute(select(func.count(User.id))).scalar()


# ---------------------------------------------------------------------------- CSRF
def test_login_without_csrf_token_is_400_with_a_message(secure_app):
    c = secure_app.test_client()
    resp = c.post("/masuk", data={"username": "tim", "password": "rahasia-tim"})
    assert resp.status_code == 400
    assert "Formulir kedaluwarsa atau tidak sah" in resp.get_data(as_text=True)
    # Still anonymous.
    assert c.get("/admin/pengguna").status_code == 302


def test_login_with_csrf_token_works(secure_app):
    _login(secure_app, "tim")


def test_admin_form_without_or_with_a_wrong_token_is_refused_and_changes_nothing(system, secure_app):
    c = _login(secure_app, "root")
    form = {"username": "baru", "roles": ["auditor"], "team": ""}
    before = _users(system)
    missing = c.post("/admin/pengguna", data=form)
    assert missing.status_code == 400 and "Formulir kedaluwarsa" in missing.get_data(as_text=True)
    wrong = c.post("/admin/pengguna", data={**form, "csrf_token": "bukan-token"})
    assert wrong.status_code == 400
    with system.sessions() as s:
        tim_id = s.execute(select(User.id).where(User.username == "tim")).scalar()
    assert c.post(f"/admin/pengguna/{tim_id}/status", data={"active": "0"}).status_code == 400
    assert c.post(f"/admin/pengguna/{tim_id}/sandi").status_code == 400
    assert c.post("/admin/tim", data={"code": "x", "name": "X"}).status_code == 400
    assert _users(system) == before
    with system.sessions() as s:
        assert s.execute(select(User).where(User.username == "tim")).scalar_one().active
    # The same form with the page's token goes through: the refusals above were about the token only.
    token = _token(c.get("/admin/pengguna").data)
    assert c.post("/admin/pengguna", data={**form, "csrf_token": token}).status_code == 201
    assert _users(system) == before + 1


def test_logout_needs_the_token(secure_app):
    c = _login(secure_app, "tim")
    assert c.post("/keluar").status_code == 400
    assert c.get("/admin/pengguna").status_code == 403  # still logged in


# ---------------------------------------------------------------------- rate limit
def test_login_is_rate_limited(system, tx):
    make_users(system, tx)
    app = _make_app(system, RATELIMIT_ENABLED=True, WTF_CSRF_ENABLED=False)
    c = app.test_client()
    codes = [c.post("/masuk", data={"username": "tim", "password": f"salah-{i}"}).status_code for i in range(10)]
    assert codes == [401] * 10
    blocked = c.post("/masuk", data={"username": "tim", "password": "salah-lagi"})
    assert blocked.status_code == 429
    assert "Terlalu banyak percobaan" in blocked.get_data(as_text=True)
    # The right password does not get through either while the limit holds.
    assert c.post("/masuk", data={"username": "tim", "password": "rahasia-tim"}).status_code == 429
    assert c.get("/masuk").status_code == 200  # only POSTs count


# ------------------------------------------------------------------ enumeration
def _normalised(resp) -> bytes:
    return CSRF_FIELD.sub(b"csrf", resp.data)


def test_unknown_user_wrong_password_and_inactive_user_look_the_same(system, tx, secure_app, monkeypatch):
    with tx() as s:
        from tests.factories import user

        system.people.deactivate(s, user(s, "tim2"), actor="test")
    c = secure_app.test_client()

    def attempt(username, password):
        token = _token(c.get("/masuk").data)
        return c.post("/masuk", data={"username": username, "password": password, "csrf_token": token})

    wrong = attempt("tim", "salah-sekali")
    unknown = attempt("tidak-ada", "salah-sekali")
    inactive = attempt("tim2", "rahasia-tim2")
    assert wrong.status_code == unknown.status_code == inactive.status_code == 401
    assert _normalised(wrong).replace(b'value="tim"', b'value="X"') == \
        _normalised(unknown).replace(b'value="tidak-ada"', b'value="X"') == \
        _normalised(inactive).replace(b'value="tim2"', b'value="X"')
    assert {k for k in wrong.headers.keys() if k != "Set-Cookie"} == \
        {k for k in unknown.headers.keys() if k != "Set-Cookie"}

    # One password hash is checked whether or not the user exists (the timing does not tell either).
    import process.people as people

    calls = []
    real = people.check_password_hash
    monkeypatch.setattr(people, "check_password_hash", lambda h, p: calls.append(h) or real(h, p))
    attempt("tidak-ada", "salah-sekali")
    attempt("tim", "salah-sekali")
    assert len(calls) == 2


# ---------------------------------------------------------------------- cookies
def test_session_cookie_is_httponly_and_lax(secure_app):
    c = secure_app.test_client()
    resp = c.get("/masuk")
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_session_cookie_is_secure_over_https(system, tx, monkeypatch):
    monkeypatch.setenv("ALUR_HTTPS", "1")
    make_users(system, tx)
    app = _make_app(system)
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["SESSION_COOKIE_HTTPONLY"]
    c = app.test_client()
    cookie = c.get("/masuk", base_url="https://localhost").headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


# -------------------------------------------------------------------------- CSP
class _ScriptFinder(HTMLParser):
    """Collects what the CSP forbids: inline scripts, on* handler attributes, javascript: URLs."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.scripts = 0
        self._in_inline_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name, value in attrs.items():
            if re.fullmatch(r"on[a-z]+", name):
                self.problems.append(f"<{tag} {name}=...> inline event handler")
            if name in ("href", "src", "action", "formaction") and (value or "").strip().lower().startswith(
                    "javascript:"):
                self.problems.append(f"<{tag} {name}={value!r}>")
        if tag == "script":
            self.scripts += 1
            if not attrs.get("src"):
                self.problems.append("<script> without src (inline script)")
            elif attrs.get("type") not in ("module", None, "text/javascript"):
                self.problems.append(f"<script type={attrs.get('type')!r}>")


def _check_page(resp, where: str) -> None:
    assert resp.status_code < 500, f"{where}: {resp.status_code}"
    csp = resp.headers.get("Content-Security-Policy", "")
    directives = {d.strip().split(" ")[0]: d.strip() for d in csp.split(";") if d.strip()}
    assert "script-src" in directives, f"{where}: no script-src in CSP {csp!r}"
    assert "'unsafe-inline'" not in directives["script-src"], f"{where}: {directives['script-src']}"
    assert "object-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert resp.headers.get("X-Content-Type-Options") == "nosniff"
    if not resp.mimetype == "text/html":
        return
    html = resp.get_data(as_text=True)
    finder = _ScriptFinder()
    finder.feed(html)
    assert not finder.problems, f"{where}: {finder.problems}"
    # A regex as well, so that malformed markup the parser skips is caught too.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html, re.I), f"{where}: inline <script>"
    assert not re.search(r"<[a-z][^>]*\son[a-z]+\s*=", html, re.I), f"{where}: inline handler"


def test_login_and_error_pages_keep_the_csp(secure_app):
    c = secure_app.test_client()
    _check_page(c.get("/masuk"), "/masuk")
    _check_page(c.post("/masuk", data={}), "POST /masuk without token")
    _check_page(c.get("/tidak-ada"), "404 page")
    c.get("/bahasa/en")
    _check_page(c.get("/masuk"), "/masuk (en)")


def test_admin_pages_keep_the_csp(system, secure_app):
    c = _login(secure_app, "root")
    with system.sessions() as s:
        tim_id = s.execute(select(User.id).where(User.username == "tim")).scalar()
    for url in ("/admin/pengguna", "/admin/tim", f"/admin/pengguna/{tim_id}"):
        _check_page(c.get(url), url)
    token = _token(c.get("/admin/pengguna").data)
    _check_page(c.post("/admin/pengguna", data={"username": "", "csrf_token": token}), "422 create user")
    created = c.post("/admin/pengguna", data={"username": "baru", "roles": ["auditor"], "team": "",
                                              "csrf_token": token})
    assert created.status_code == 201
    _check_page(created, "password shown")
    _check_page(c.post(f"/admin/pengguna/{tim_id}/sandi", data={"csrf_token": token}), "password reset")


def _argument_free_get_routes(app) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and not rule.arguments and rule.endpoint != "static":
            urls.append(rule.rule)
    return sorted(set(urls))


@pytest.mark.parametrize("who", ["root", "tim", "admin", "pimred", "auditor", None])
def test_every_page_without_arguments_renders_without_inline_scripts(system, secure_app, who):
    c = _login(secure_app, who) if who else secure_app.test_client()
    urls = _argument_free_get_routes(secure_app)
    assert "/admin/pengguna" in urls and "/masuk" in urls
    for url in urls:
        resp = c.get(url)
        _check_page(resp, f"{url} as {who}")


def test_database_trouble_is_a_503_or_a_409_never_a_500(app):
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    class Serialization(Exception):
        sqlstate = "40001"

    def raising(exc):
        def view():
            raise exc
        return view

    problems = {"pool": (PoolTimeout("QueuePool limit of size 2 overflow 3 reached"), 503),
                "down": (OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused")), 503),
                "race": (OperationalError("UPDATE instance", {}, Serialization("could not serialize")), 409)}
    for name, (exc, _status) in problems.items():
        app.add_url_rule(f"/_test/{name}", f"_test_{name}", raising(exc))
    client = app.test_client()
    for name, (_exc, status) in problems.items():
        resp = client.get(f"/_test/{name}")
        assert resp.status_code == status, name
        assert "coba lagi" in resp.get_data(as_text=True).lower()
        if status == 503:
            assert resp.headers["Retry-After"] == "2"


# --------------------------------------------------------------------------------------------------
# NUL at the door (webui/request_text.py), and error pages after a failed statement
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method, path, kwargs", [
    ("get", "/kasus?q=a%00b", {}),
    ("get", "/kotak-tugas?q=%00", {}),
    ("get", "/audit?q=%00", {}),
    ("post", "/kasus/baru", {"data": {"nama_kegiatan": "Rapat\x00", "tanggal_kegiatan": "2025-05-06",
                                      "tempat_kegiatan": "Padang"}}),
    ("post", "/masuk", {"data": {"username": "tim\x00", "password": "x"}}),
    ("post", "/api/v1/auth/token", {"json": {"username": "tim\x00", "password": "x"}}),
    ("post", "/api/v1/cases", {"json": {"nama_kegiatan": "Rapat", "tanggal_kegiatan": "2025-05-06",
                                        "tempat_kegiatan": "Padang", "\x00": 1}}),
])
def test_a_nul_anywhere_in_a_request_is_a_400_that_says_so(app, system, tx, login, method, path, kwargs):
    """PostgreSQL's text cannot hold NUL: a search box, a login name or a JSON key with one was a 500 there (and
    stored as-is on SQLite). On both databases it is now refused before any view runs, and nothing is written."""
    from tests.factories import make_users

    make_users(system, tx)
    client = login("tim")
    resp = getattr(client, method)(path, **kwargs)
    assert resp.status_code == 400, resp.get_data(as_text=True)[:300]
    assert "NUL" in resp.get_data(as_text=True)


def test_the_error_page_renders_after_a_failed_statement(app, system, tx, login):
    """A statement that fails leaves a PostgreSQL transaction unable to run another; the error page (whose layout
    counts the user's unread notifications) used to fail in turn, and the person got a bare 500 instead of the
    page. The transaction is rolled back before any error page is made."""
    from sqlalchemy import text

    from tests.factories import make_users
    from webui.db import db

    def broken():
        db().execute(text("SELECT no_such_column FROM task"))
        return "unreachable"

    app.add_url_rule("/_broken_statement", "broken_statement", broken)
    make_users(system, tx)
    resp = login("tim").get("/_broken_statement")
    assert resp.status_code in (500, 503)
    page = resp.get_data(as_text=True)
    assert "<html" in page and ("Terjadi kesalahan pada server" in page or "Server sedang sibuk" in page)

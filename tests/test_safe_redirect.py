"""Open redirects: every redirect whose target comes from the request (``?next=`` after a login, the Referer of
the language switch) goes through one rule, ``webui.auth.local_target``. Whatever a client sends, the Location it
gets back is the default page or a path on this site, read the way a browser reads it (tabs and newlines
dropped, backslashes taken as slashes) and resolved against the app's origin."""
from __future__ import annotations

from urllib.parse import quote, urljoin, urlsplit

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.factories import make_users

ORIGIN = "http://localhost/"
DEFAULT = "/kotak-tugas"

#: Pieces that hostile targets are made of: schemes, slashes and backslashes, what browsers drop (tab, newline,
#: leading control characters and spaces), encodings of them, other hosts and this one.
PIECES = ["/", "//", "\\", "/\\", "\\/", "///", "\t", "\n", "\r", " ", "\x00", "\x0b", "\x1f", "\x7f", "%09",
          "%2F", "%5C", "%2f", "@", ":", "?", "#", ".", "..", "/.", "./", "/..", "evil.example", "evil.example:80",
          "localhost", "http:", "https:", "HTTP:", "javascript:", "data:", "mailto:", "ftp:", "//evil.example",
          "http://evil.example", "http://localhost", "https://localhost", "http://localhost@evil.example",
          "kotak-tugas", "kasus", "\u3000", "\uff0f", "\u2044", "\u00a0", "é"]
targets = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=4)), max_size=8).map("".join)
#: A header cannot carry a line break (the HTTP client refuses it); everything else can be sent as a Referer.
header_values = targets.map(lambda v: v.replace("\n", "").replace("\r", ""))


def browser_reads(location: str) -> str:
    """What a browser makes of a Location header (WHATWG URL parsing, the parts that matter for the host)."""
    url = location.strip("".join(map(chr, range(0x21))))
    url = url.replace("\t", "").replace("\n", "").replace("\r", "")
    return urljoin(ORIGIN, url.replace("\\", "/"))


def assert_same_origin(location: str) -> None:
    resolved = urlsplit(browser_reads(location))
    assert (resolved.scheme, resolved.netloc) == ("http", "localhost"), (location, resolved)


@pytest.fixture
def users(system, tx, monkeypatch):
    # A cheap password hash: each generated example logs in, and scrypt costs a third of a second.
    from werkzeug.security import generate_password_hash

    import process.people

    monkeypatch.setattr(process.people, "hash_password", lambda p: generate_password_hash(p, "pbkdf2:sha256:1"))
    make_users(system, tx)


def _login_with_next(client, target: str):
    resp = client.post("/masuk?next=" + quote(target, safe=""), data={"username": "tim", "password": "rahasia-tim"})
    if "\x00" in target:  # refused at the door (webui/request_text.py): no login, no redirect at all
        assert resp.status_code == 400, resp.data[:300]
        return None
    assert resp.status_code == 302, resp.data[:300]
    return resp.headers["Location"]


def test_the_reported_tab_target_goes_to_the_default_page(users, app):
    assert _login_with_next(app.test_client(), "/\t/evil.example/") == DEFAULT


@pytest.mark.parametrize("target", ["//evil.example/", "/\\evil.example", "\\\\evil.example", "/\t/evil.example",
                                    "/\n/evil.example", " //evil.example", "\x00//evil.example", "http://evil.example/",
                                    "https:evil.example", "http:\\\\evil.example", "javascript:alert(1)",
                                    "http://localhost//evil.example/", "kasus", ""])
def test_known_hostile_targets_go_to_the_default_page(users, app, target):
    assert _login_with_next(app.test_client(), target) == (None if "\x00" in target else DEFAULT)


@pytest.mark.parametrize("target, expected", [("/kasus/5", "/kasus/5"), ("/kasus?q=a%20b#x", "/kasus?q=a%20b#x"),
                                              ("http://localhost/laporan?x=1", "/laporan?x=1")])
def test_a_path_on_this_site_is_kept(users, app, target, expected):
    assert _login_with_next(app.test_client(), target) == expected


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(target=targets)
@example(target="/\t/evil.example/")
@example(target="/\\/evil.example/")
def test_after_login_the_location_is_this_site_whatever_next_says(users, app, target):
    location = _login_with_next(app.test_client(), target)
    if location is not None:
        assert_same_origin(location)


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(referer=header_values)
@example(referer="//evil.example/")
@example(referer="/\\evil.example/")
def test_the_language_switch_goes_back_only_to_this_site(app, referer):
    resp = app.test_client().get("/bahasa/en", headers={"Referer": referer})
    assert resp.status_code == 302
    assert_same_origin(resp.headers["Location"])

"""The English catalogue covers every message of the web app and of the catalogue of codes (process/messages.py),
and the app speaks English with it.

A new ``_("...")`` without an English translation fails here; the failure lists the strings and where they are.
"""
from __future__ import annotations

from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
PO = ROOT / "webui" / "translations" / "en" / "LC_MESSAGES" / "messages.po"
#: The keywords given to ``pybabel extract`` (see babel.cfg): lazy_gettext is imported as ``_l``.
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
#: Where msgids are marked: the web app, and the process layer's catalogue of codes.
SOURCES = ("webui", "process")
UPDATE_HINT = ("update the catalogue: .venv/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o "
               "/tmp/messages.pot webui process && .venv/bin/pybabel update -i /tmp/messages.pot "
               "-d webui/translations, "
               "then translate in " + str(PO.relative_to(ROOT)))


def extracted() -> dict[tuple[str | tuple, str | None], list[str]]:
    """(msgid, context) → places, exactly as pybabel extract sees them."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    found: dict = {}
    for source in SOURCES:
        for filename, lineno, message, _comments, context in extract_from_dir(
                ROOT / source, method_map, options_map, keywords=KEYWORDS):
            key = (message if isinstance(message, str) else tuple(message), context)
            found.setdefault(key, []).append(f"{source}/{filename}:{lineno}")
    return found


def catalogue():
    with open(PO, "rb") as fh:
        return read_po(fh, locale="en")


def test_every_message_has_an_english_translation():
    found = extracted()
    assert len(found) > 100  # the extraction itself works
    cat = catalogue()
    missing = []
    for (message, context), places in sorted(found.items(), key=lambda kv: kv[1][0]):
        msgid = message[0] if isinstance(message, tuple) else message
        if not msgid:
            continue
        entry = cat.get(msgid, context=context)
        strings = entry.string if entry is not None and isinstance(entry.string, tuple) else (
            (entry.string,) if entry is not None else ("",))
        if entry is None or entry.fuzzy or not all(s and s.strip() for s in strings):
            missing.append(f"  {places[0]}: {msgid!r}" + (" (fuzzy)" if entry is not None and entry.fuzzy else ""))
    assert not missing, (f"{len(missing)} message(s) without an English translation:\n" + "\n".join(missing)
                         + "\n" + UPDATE_HINT)


def test_translations_keep_their_placeholders():
    problems = [f"  {m.id!r}: {'; '.join(str(e) for e in errors)}" for m, errors in catalogue().check() if errors]
    assert not problems, "translations whose %(...)s placeholders differ from the msgid:\n" + "\n".join(problems)


def test_login_page_in_english(english_app):
    c = english_app.test_client()
    assert "<h1>Masuk</h1>" in c.get("/masuk").get_data(as_text=True)  # Bahasa Indonesia by default
    c.get("/bahasa/en")
    html = c.get("/masuk").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "<h1>Log in</h1>" in html and ">Username</label>" in html and ">Password</label>" in html
    wrong = c.post("/masuk", data={"username": "siapa", "password": "salah-sekali"})
    assert wrong.status_code == 401 and "Incorrect username or password." in wrong.get_data(as_text=True)


def test_admin_pages_and_role_names_in_english(english_app, system, tx):
    with tx() as s:
        system.cases.ensure_definition(s)
        system.people.add_user(s, "root", "rahasia-root", ["admin"])
    c = english_app.test_client()
    assert c.post("/masuk", data={"username": "root", "password": "rahasia-root"}).status_code == 302
    c.get("/bahasa/en")
    html = c.get("/admin/pengguna").get_data(as_text=True)
    assert "<h1>Users</h1>" in html and "Administrator" in html and "Process Owner" in html
    assert ">Groups</legend>" in html
    resp = c.post("/admin/pengguna", data={"username": "", "roles": [], "team": ""})
    assert resp.status_code == 422
    text = resp.get_data(as_text=True)
    assert "Username is required." in text and "Choose at least one role or group." in text

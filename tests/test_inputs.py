"""One rule for text, names, usernames and dates (process/inputs.py), and every door gives its answer: the web
forms, the JSON API, the command line and the diagram's form fields. Property-based: hypothesis generates the
values (control characters, line and paragraph separators, invisible format characters, surrogates, look-alike
letters, any date from year 1 to 9999) and each entry point must agree with the rule, and never answer 5xx."""
from __future__ import annotations

import itertools
import unicodedata
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from engine.models import Instance
from process import inputs
from process.forms import FormInvalid, validate_form
from process.models import Team, User
from tests.factories import NARASI, Case, make_users, user
from tests.test_api import Api

TODAY = date(2025, 5, 6)  # the test clock's day (tests/conftest.py)
API = "/api/v1"

#: Characters the rules are about, mixed into ordinary text.
HOSTILE = ("\r", "\n", "\t", "\x00", "\x08", "\x1b", "\x7f", "\x85", "\x9b", "\u2028", "\u2029", "\u200b",
           "\u200c", "\u200d", "\u202e", "\u2066", "\ufeff", "\u00ad", "\ufffe", "\U0010ffff", "\U000e0067",
           "\u0301", " ", "\u00a0", "=", "@", "-")
HTTP_SAFE = st.text(alphabet=st.one_of(st.sampled_from(HOSTILE), st.characters(exclude_categories=("Cs",))),
                    max_size=24)
#: For the JSON API and the services: lone surrogates too (JSON can carry "\ud800").
ANY_TEXT = st.text(alphabet=st.one_of(st.sampled_from(HOSTILE + ("\ud800", "\udfff")),
                                      st.characters(exclude_categories=())), max_size=24)
LETTERS = st.text(alphabet=st.characters(categories=("Lu", "Ll")), min_size=1, max_size=8)
NAMES = st.one_of(HTTP_SAFE, st.builds(lambda a, h, b: a + h + b, LETTERS, st.sampled_from(HOSTILE), LETTERS))
#: Usernames: the alphabet, upper case, spaces, accents and look-alikes from other scripts (Cyrillic а/е/о/і,
#: Greek ο, the Kelvin sign, fullwidth letters, dotless ı).
USERNAMES = st.text(alphabet=st.sampled_from(list("abcdeiklmnosz019._-ABKZ ") + [
    "\u0430", "\u0435", "\u043e", "\u0456", "\u03bf", "\u212a", "\uff41", "\u0131", "\u00e9", "\u200b", "\r"]),
    min_size=1, max_size=12)
ANY_DAY = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))
NEAR_EDGES = st.sampled_from([TODAY + timedelta(days=d) for d in (-367, -366, 0, 366, 367)]
                             + [date(2023, 12, 31), date(2024, 1, 1), date(1, 1, 1), date(9999, 12, 31)])
DAYS = st.one_of(ANY_DAY, NEAR_EDGES)

SLOW = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                       HealthCheck.too_slow])


def forbidden(ch: str, *, multiline: bool) -> bool:
    """The rule restated: what no text may contain."""
    category = unicodedata.category(ch)
    if multiline and ch in "\n\t\r\x85\u2028\u2029":
        return False
    cp = ord(ch)
    return category in ("Cc", "Zl", "Zp", "Cs") or 0xFDD0 <= cp <= 0xFDEF or (cp & 0xFFFE) == 0xFFFE


def outcome(rule, value):
    """(True, cleaned value) or (False, refusal code)."""
    try:
        return True, rule(value)
    except inputs.Refused as refused:
        return False, refused.code


# --------------------------------------------------------------------------------------------------
# The rules themselves
# --------------------------------------------------------------------------------------------------


@given(ANY_TEXT)
def test_single_line_refuses_exactly_the_forbidden_characters(value):
    ok, out = outcome(inputs.single_line, value)
    assert ok == (not any(forbidden(ch, multiline=False) for ch in value)), (value, out)
    if ok:
        assert not any(forbidden(ch, multiline=False) for ch in out)
        assert all(unicodedata.category(ch) != "Cf" or ch in "\u200c\u200d" or 0xE0020 <= ord(ch) < 0xE0080
                   for ch in out)  # invisible format characters are gone
        assert out == out.strip() and unicodedata.is_normalized("NFC", out)
        assert inputs.single_line(out) == out  # cleaning is idempotent


@given(ANY_TEXT)
def test_multi_line_keeps_line_breaks_and_refuses_other_controls(value):
    ok, out = outcome(inputs.multi_line, value)
    assert ok == (not any(forbidden(ch, multiline=True) for ch in value)), (value, out)
    if ok:
        assert "\r" not in out and "\u2028" not in out and "\x85" not in out  # all line breaks are LF
        assert not any(forbidden(ch, multiline=True) for ch in out)
        assert inputs.multi_line(out) == out


@given(ANY_TEXT)
def test_a_name_needs_a_visible_letter_or_digit(value):
    ok, out = outcome(inputs.name, value)
    single_ok, single = outcome(inputs.single_line, value)
    assert ok == (single_ok and any(unicodedata.category(ch)[0] in "LN" for ch in single))
    if ok:
        assert out == single


def test_names_made_of_invisible_characters_are_refused():
    for value in ("\u200b\u200b\u200b", "\ufeff", "\u200d", "\u00ad \u2060", "\u202e\u202c", " \u3000 "):
        with pytest.raises(inputs.Refused) as info:
            inputs.name(value)
        assert info.value.code in ("required", "no_letter"), value


@given(USERNAMES)
def test_usernames_are_lower_case_ascii_and_fold_upper_case(value):
    ok, out = outcome(inputs.username, value)
    stripped = value.strip()
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789._-")
    expected = bool(stripped) and stripped.isascii() and set(stripped.lower()) <= allowed and \
        stripped[0].isalnum() and len(stripped) <= inputs.MAX_USERNAME
    assert ok == expected, (value, out)
    if ok:
        assert out == stripped.lower() and out.isascii()
        assert inputs.username(out.upper()) == out


@given(DAYS)
def test_the_date_windows(day):
    entry_ok, _ = outcome(lambda v: inputs.entry_date(v, TODAY), day.isoformat())
    assert entry_ok == (abs((day - TODAY).days) <= inputs.ENTRY_WINDOW_DAYS)
    query_ok, _ = outcome(lambda v: inputs.query_date(v, TODAY), day.isoformat())
    assert query_ok == (inputs.EARLIEST_DAY <= day <= TODAY + timedelta(days=inputs.ENTRY_WINDOW_DAYS))


@pytest.mark.parametrize("text", ["20250506", "2025-W19-2", "2025-05-06T00:00", "06-05-2025", "2025-5-6",
                                  "２０２５-05-06", "2025-02-30", "", " "])
def test_only_iso_calendar_days_are_dates(text):
    with pytest.raises(inputs.Refused) as info:
        inputs.parse_day(text)
    assert info.value.code == "date"


def test_a_time_at_the_end_of_the_calendar_is_refused_not_an_overflow():
    from engine.forms import FormField

    fields = [FormField(id="waktu", label="Waktu", type="datetime")]
    from datetime import datetime

    from process.deadlines import WIB
    for value in ("9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59"):
        with pytest.raises(FormInvalid) as info:
            validate_form(fields, {"waktu": value}, files=lambda _: None, platforms=(),
                          now=datetime(2025, 5, 6, 8, tzinfo=WIB))
        assert info.value.errors[0].code == "date_window"


# --------------------------------------------------------------------------------------------------
# Every entry point agrees with the rules
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def users(system, tx):
    make_users(system, tx)


def _cases(system) -> list[tuple[str, str]]:
    with system.sessions() as s:
        return [(i.title, i.business_date.isoformat()) for i in s.execute(select(Instance)).scalars()]


def refusal(*values: str) -> int:
    """How HTTP refuses: a NUL anywhere in the request at the door (400, webui/request_text.py), else the rule (422)."""
    return 400 if any("\x00" in v for v in values) else 422


@SLOW
@given(nama=NAMES, tempat=NAMES)
def test_new_case_web_form_and_api_answer_as_the_name_rule(system, users, login, app, nama, tempat):
    api = Api(app.test_client())
    web = login("tim")
    ok = outcome(inputs.name, nama)[0] and outcome(inputs.name, tempat)[0] and len(inputs.name(nama)) <= 200 \
        and len(inputs.name(tempat)) <= 200
    before = len(_cases(system))
    form = {"nama_kegiatan": nama, "tanggal_kegiatan": "2025-05-06", "tempat_kegiatan": tempat, "tim": "humas"}
    page = web.post("/kasus/baru", data=form)
    assert page.status_code == (302 if ok else refusal(nama, tempat)), page.get_data(as_text=True)[:500]
    resp = api.post("tim", "/cases", json={k: v for k, v in form.items() if k != "tim"})
    assert resp.status_code == (201 if ok else refusal(nama, tempat)), resp.json
    after = _cases(system)
    assert len(after) == before + (2 if ok else 0)
    if ok:
        assert after[-1][0] == after[-2][0] == inputs.name(nama)


@SLOW
@given(nama=ANY_TEXT, tempat=ANY_TEXT)
def test_the_service_and_the_api_refuse_what_http_forms_cannot_send(system, users, tx, app, nama, tempat):
    """Lone surrogates and every other character, through JSON and straight into the service."""
    from process.forms import FormInvalid as Invalid
    from tests.factories import CaseInput

    api = Api(app.test_client())
    ok = all(outcome(inputs.name, v)[0] and len(inputs.name(v)) <= 200 for v in (nama, tempat))
    resp = api.post("tim", "/cases", json={"nama_kegiatan": nama, "tanggal_kegiatan": "2025-05-06",
                                          "tempat_kegiatan": tempat})
    assert resp.status_code == (201 if ok else refusal(nama, tempat)), resp.json
    try:
        with tx() as s:
            system.cases.start_case(s, user(s, "tim"), CaseInput(nama, "2025-05-06", tempat))
        assert ok
    except Invalid as invalid:
        assert not ok and {e.field for e in invalid.errors} <= {"nama_kegiatan", "tempat_kegiatan"}


@pytest.fixture
def step1_task(system, tx, users):
    case = Case.start(system, tx)
    with tx() as s:
        system.tasks.claim(s, user(s, "tim"), case.task_id)
    return case.task_id


def _expect_field_error(value) -> bool:
    """A required one-line field: refused by the text rule, or nothing visible left."""
    ok, out = outcome(inputs.single_line, value)
    return not ok or out == ""


def _expect_text_error(value) -> bool:
    """Inside a multi-line text that is long enough anyway."""
    return not outcome(inputs.multi_line, value)[0]


@SLOW
@given(nama=HTTP_SAFE, narasi=HTTP_SAFE)
def test_diagram_fields_answer_as_the_text_rule_on_the_web_and_the_api(system, app, login, step1_task, nama,
                                                                       narasi):
    """The step-1 form (fields of the diagram): ``nama_kegiatan`` is one line, ``narasi`` several. No photo is
    sent, so the form is always refused; what matters is whether these two fields are among the refused."""
    api = Api(app.test_client())
    form = {"nama_kegiatan": nama, "tanggal_kegiatan": "2025-05-06", "tempat_kegiatan": "Padang", "foto": [],
            "narasi": NARASI + narasi + NARASI, "caption": "Caption", "catatan_sumber": "Sumber."}
    resp = api.post("tim", f"/tasks/{step1_task}/complete", json=form)
    if refusal(nama, narasi) == 400:  # refused at the door, before any field is looked at
        assert resp.status_code == 400, resp.json
        assert login("tim").post(f"/tugas/{step1_task}", data={**form, "foto": ""}).status_code == 400
        return
    assert resp.status_code == 422, resp.json
    refused = {f["field"] for f in resp.json["error"]["fields"]}
    assert ("nama_kegiatan" in refused) == _expect_field_error(nama)
    assert ("narasi" in refused) == _expect_text_error(narasi)
    page = login("tim").post(f"/tugas/{step1_task}", data={**form, "foto": ""})
    assert page.status_code == 422
    text = page.get_data(as_text=True)
    assert ('href="#f-nama_kegiatan"' in text) == _expect_field_error(nama)
    assert ('href="#f-narasi"' in text) == _expect_text_error(narasi)


_serial = itertools.count()


@pytest.fixture
def admin(system, tx, login, users):
    with tx() as s:
        system.people.add_user(s, "root", "rahasia-root", ["admin"])
    return login("root")


def _usernames(system) -> set[str]:
    with system.sessions() as s:
        return set(s.execute(select(User.username)).scalars())


@SLOW
@given(username=USERNAMES, full_name=HTTP_SAFE)
def test_admin_form_and_cli_answer_as_the_name_and_username_rules(system, admin, cli, username, full_name):
    taken = _usernames(system)
    user_ok, folded = outcome(inputs.username, username)
    name_ok, name = outcome(lambda v: inputs.name(v, required=False), full_name)
    ok = user_ok and name_ok and len(name) <= 200 and folded not in taken
    resp = admin.post("/admin/pengguna", data={"username": username, "full_name": full_name,
                                               "roles": ["auditor"], "team": ""})
    assert resp.status_code == (201 if ok else refusal(username, full_name)), resp.get_data(as_text=True)[:800]
    if ok:
        assert _usernames(system) == taken | {folded}
        taken.add(folded)
    # The same values through the command line, for an account that does not exist yet.
    fresh = f"{username}{next(_serial)}" if user_ok else username
    fresh_ok = outcome(inputs.username, fresh)[0] and inputs.fold_username(fresh) not in taken
    out = cli("user", "add", fresh, "--role", "auditor", "--full-name", full_name, "--password-stdin",
              input="kata-sandi-panjang\n")
    assert (out.exit_code == 0) == (fresh_ok and name_ok and len(name) <= 200), out.output
    if out.exit_code == 0:
        with system.sessions() as s:
            made = s.execute(select(User).where(User.username == inputs.username(fresh))).scalar_one()
            assert made.full_name == name


@SLOW
@given(code=USERNAMES, name=HTTP_SAFE)
def test_team_form_and_cli_answer_as_the_team_rules(system, admin, cli, code, name):
    with system.sessions() as s:
        codes = set(s.execute(select(Team.code)).scalars())
    code_ok, clean_code = outcome(inputs.team_code, code)
    name_ok, clean_name = outcome(inputs.name, name)
    ok = code_ok and name_ok and len(clean_name) <= 200 and len(clean_code) <= 50 and clean_code not in codes
    resp = admin.post("/admin/tim", data={"code": code, "name": name})
    assert resp.status_code == (302 if ok else refusal(code, name)), resp.get_data(as_text=True)[:800]
    # The command line makes a team from its code alone (the code is its name).
    fresh = f"{code}{next(_serial)}"
    fresh_ok = outcome(inputs.team_code, fresh)[0] and len(fresh.strip()) <= 50
    out = cli("user", "add", f"anggota{next(_serial)}", "--role", "tim_pelaksana", "--team", fresh,
              "--password-stdin", input="kata-sandi-panjang\n")
    assert (out.exit_code == 0) == fresh_ok, out.output


@SLOW
@given(typed=USERNAMES)
@example(typed="TIM").via("upper case folds")
@example(typed=" Tim ").via("trimmed and folded")
@example(typed="t\u0456m").via("Cyrillic i: another name")
@example(typed="\u0074\u0131m").via("dotless i: another name")
def test_logging_in_by_api_and_web_folds_case_and_nothing_else(system, users, app, login, typed):
    """``tim`` exists; the API token and the login form accept exactly what folds to it."""
    folded = inputs.fold_username(typed)
    expected = folded == "tim"
    client = app.test_client()
    resp = client.post(f"{API}/auth/token", json={"username": typed, "password": "rahasia-tim"})
    assert resp.status_code == (200 if expected else 401 if typed.strip() else 422), resp.json
    page = app.test_client().post("/masuk", data={"username": typed, "password": "rahasia-tim"})
    assert (page.status_code == 302) == expected


def test_look_alike_usernames_are_refused_everywhere(system, admin, cli, tx):
    for look_alike in ("\u0430dmin", "r\u043eot", "t\u0456m", "\u212aelvin", "ADM\u0130N", "adm\u0131n"):
        assert admin.post("/admin/pengguna", data={"username": look_alike, "roles": ["auditor"], "team": ""}
                          ).status_code == 422
        out = cli("user", "add", look_alike, "--role", "auditor", "--password-stdin", input="kata-sandi-panjang\n")
        assert out.exit_code != 0 and "huruf a–z" in out.output
        with pytest.raises(inputs.Refused), tx() as s:
            system.people.add_user(s, look_alike, "kata-sandi-panjang", ["auditor"])
    # Upper case is folded, so "Tim" is the same account as "tim", whichever door it comes by.
    assert admin.post("/admin/pengguna", data={"username": "TIM", "roles": ["auditor"], "team": ""}
                      ).status_code == 422
    assert cli("user", "add", "Tim", "--role", "auditor", "--password-stdin",
               input="kata-sandi-panjang\n").exit_code != 0


# --------------------------------------------------------------------------------------------------
# One date rule
# --------------------------------------------------------------------------------------------------


def _in_entry_window(day: date) -> bool:
    return abs((day - TODAY).days) <= inputs.ENTRY_WINDOW_DAYS


@SLOW
@given(day=DAYS)
def test_activity_dates_answer_as_the_date_rule_at_every_door(system, app, login, step1_task, day):
    ok = _in_entry_window(day)
    api = Api(app.test_client())
    form = {"nama_kegiatan": "Rapat", "tanggal_kegiatan": day.isoformat(), "tempat_kegiatan": "Padang"}
    assert login("tim").post("/kasus/baru", data={**form, "tim": "humas"}).status_code == (302 if ok else 422)
    resp = api.post("tim", "/cases", json=form)
    assert resp.status_code == (201 if ok else 422), resp.json
    if not ok:
        assert resp.json["error"]["fields"][0]["code"] == "date_window"
    # The date field of the diagram's step-1 form (no photos: refused anyway; is the date among the refused?)
    resp = api.post("tim", f"/tasks/{step1_task}/complete", json={**form, "foto": []})
    assert resp.status_code == 422
    assert ("tanggal_kegiatan" in {f["field"] for f in resp.json["error"]["fields"]}) == (not ok)


@SLOW
@given(start=DAYS, end=DAYS)
def test_report_periods_and_filters_answer_as_the_date_rule(system, users, login, app, start, end):
    def fine(day):
        return inputs.EARLIEST_DAY <= day <= TODAY + timedelta(days=inputs.ENTRY_WINDOW_DAYS)

    ok = fine(start) and fine(end) and start <= end
    auditor = login("auditor")
    period = {"dari": start.isoformat(), "sampai": end.isoformat()}
    for path in ("/laporan/register", "/laporan/rekap", "/laporan/tanggapan", "/laporan/log.csv"):
        resp = auditor.get(path, query_string=period)
        assert resp.status_code == (200 if ok else 422), (path, resp.status_code)
    resp = auditor.get("/laporan/register", query_string={**period, "format": "csv"})
    assert resp.status_code == (200 if ok else 422)
    # Pages whose filter falls back with a message: never a 5xx.
    assert auditor.get("/audit/kepatuhan", query_string=period).status_code == 200
    assert login("tim").get("/kotak-tugas", query_string=period).status_code == 200
    api = Api(app.test_client())
    resp = api.get("tim", "/tasks", query_string={"scope": "lane", "from": start.isoformat(), "to": end.isoformat()})
    assert resp.status_code == (200 if fine(start) and fine(end) else 422), resp.json


def test_a_year_9999_activity_is_refused_on_the_step_one_form(system, app, step1_task):
    api = Api(app.test_client())
    for day in ("9999-12-31", "0001-01-01"):
        resp = api.post("tim", f"/tasks/{step1_task}/complete",
                        json={"tanggal_kegiatan": day, "nama_kegiatan": "Rapat", "foto": []})
        (error,) = [f for f in resp.json["error"]["fields"] if f["field"] == "tanggal_kegiatan"]
        assert error["code"] == "date_window" and "2024-05-05" in error["message"]


def test_refusals_are_in_english_for_english_readers(system, users, english_app):
    client = english_app.test_client()
    assert client.post("/masuk", data={"username": "tim", "password": "rahasia-tim"}).status_code == 302
    client.get("/bahasa/en")
    page = client.post("/kasus/baru", data={"nama_kegiatan": "Rapat\r\nBcc: x@example.org",
                                             "tanggal_kegiatan": "9999-12-31", "tempat_kegiatan": "\u200b\u00ad",
                                             "tim": "humas"})
    assert page.status_code == 422
    text = page.get_data(as_text=True)
    assert "must be a single line" in text and "must be between 2024-05-05 and 2026-05-07" in text
    assert "is required" in text or "required" in text

"""Issue 17, "Nobody signs": a user's NIP and official title, a signer chosen per signature block of a printed
record, and the record's document number (issued with its first PDF, re-used when it is printed again)."""
from __future__ import annotations

import io
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlalchemy import func, select

from process import docnumbers, documents
from process.config import Settings, document_number_format_ok
from process.deadlines import WIB
from process.errors import BadRequest
from process.inputs import Refused
from process.models import IssuedDocument, User
from process.nip import nip, printed
from process.records import Period
from tests.factories import make_users, user
from tests.test_documents import assert_no_blank_page, pdf_pages
from tests.test_lock_order import _waiting_for_a_lock

MAY = {"dari": "2025-05-01", "sampai": "2025-05-31"}
JUNE = {"dari": "2025-06-01", "sampai": "2025-06-30"}
SEKRETARIS = "Sekretaris KPU Provinsi Sumatera Barat"
NIP = "19870412 201001 2 003"


# ------------------------------------------------------------------------------------------------ NIP
@st.composite
def valid_nips(draw) -> str:
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=date(2010, 12, 31)))
    first = (born.year + 18) * 12 + born.month - 1  # the month of the 18th birthday, as a month count
    month = draw(st.integers(min_value=first, max_value=max(first, 2040 * 12)))
    year, month = divmod(month, 12)
    sex = draw(st.sampled_from("12"))
    seq = draw(st.integers(min_value=1, max_value=999))
    return f"{born:%Y%m%d}{year:04d}{month + 1:02d}{sex}{seq:03d}"


@settings(max_examples=200, deadline=None, derandomize=True)
@given(valid_nips())
def test_every_valid_nip_passes_with_or_without_spaces(digits):
    assert nip(digits) == digits
    assert nip(printed(digits)) == digits and printed(digits).count(" ") == 3


def _refusal(value) -> str:
    with pytest.raises(Refused) as caught:
        nip(value)
    return caught.value.code


@settings(max_examples=200, deadline=None, derandomize=True)
@given(valid_nips(), st.data())
def test_a_corrupted_nip_is_refused_by_the_part_that_is_wrong(digits, data):
    # the birth date: month 00 or 13+, or a day the month does not have
    month = data.draw(st.sampled_from(["00", "13", "19", "99"]))
    assert _refusal(digits[:4] + month + digits[6:]) == "nip_birth"
    day = data.draw(st.sampled_from(["00", "32", "99"]))
    assert _refusal(digits[:6] + day + digits[8:]) == "nip_birth"
    # the appointment's month
    month = data.draw(st.sampled_from(["00", "13", "21", "99"]))
    assert _refusal(digits[:12] + month + digits[14:]) == "nip_appointment"
    # the sex digit
    sex = data.draw(st.sampled_from("03456789"))
    assert _refusal(digits[:14] + sex + digits[15:]) == "nip_sex"
    # the length: a digit more or less, a letter in place of one
    cut = data.draw(st.integers(min_value=0, max_value=17))
    assert _refusal(digits[:cut] + digits[cut + 1:]) == "nip_length"
    assert _refusal(digits[:cut] + "7" + digits[cut:]) == "nip_length"
    assert _refusal(digits[:cut] + "x" + digits[cut + 1:]) == "nip_length"


def test_nip_rules_beyond_the_digits():
    assert nip("") is None and nip("   ") is None and nip(None) is None
    assert _refusal("20100101 202712 1 001") == "nip_age"  # appointed at 17
    assert nip("20100101 202801 1 001") == "201001012028011001"  # the month of the 18th birthday
    assert _refusal("19870229 201001 2 003") == "nip_birth"  # 1987 is no leap year
    assert _refusal("18991231 201001 2 003") == "nip_birth"
    assert _refusal("19870412 201001 2 000") == "nip_sequence"
    assert _refusal("１９８７０４１２２０１００１２００３") == "nip_length"  # full-width digits


# -------------------------------------------------------------------------------------- user admin


def _user(system, name: str) -> User:
    with system.sessions() as s:
        return user(s, name)


def _edit(name: str, **extra) -> dict:
    groups = {"tim": ["tim_pelaksana"], "admin": ["admin_medsos"], "pimred": ["pimred"]}[name]
    return {"full_name": "", "email": "", "groups": groups, "team": "humas" if name == "tim" else "", **extra}


def test_admin_sets_and_clears_nip_and_title(system, admin_client):
    pimred = _user(system, "pimred")
    resp = admin_client.post(f"/admin/pengguna/{pimred.id}", data=_edit("pimred", nip=NIP, jabatan=SEKRETARIS))
    assert resp.status_code == 302
    pimred = _user(system, "pimred")
    assert (pimred.nip, pimred.jabatan) == ("198704122010012003", SEKRETARIS)
    page = admin_client.get(f"/admin/pengguna/{pimred.id}").get_data(as_text=True)
    assert f'value="{NIP}"' in page and SEKRETARIS in page
    assert admin_client.post(f"/admin/pengguna/{pimred.id}", data=_edit("pimred")).status_code == 302
    assert (_user(system, "pimred").nip, _user(system, "pimred").jabatan) == (None, "")


@pytest.mark.parametrize("value, message", [
    ("19870412 201001 3 003", "angka ke-15 (jenis kelamin) harus 1 atau 2"),
    ("19871312 201001 2 003", "delapan angka pertama (19871312) harus tanggal lahir yang sah"),
    ("1987041220100120", "harus 18 angka"),
    ("20100101 202001 1 001", "setelah ulang tahun ke-18"),
])
def test_admin_refuses_a_wrong_nip_inline(system, admin_client, value, message):
    pimred = _user(system, "pimred")
    resp = admin_client.post(f"/admin/pengguna/{pimred.id}", data=_edit("pimred", nip=value))
    assert resp.status_code == 422 and message in resp.get_data(as_text=True)
    assert _user(system, "pimred").nip is None


def test_a_nip_is_one_active_users(system, tx, admin_client):
    admin, pimred = _user(system, "admin"), _user(system, "pimred")
    assert admin_client.post(f"/admin/pengguna/{admin.id}", data=_edit("admin", nip=NIP)).status_code == 302
    resp = admin_client.post(f"/admin/pengguna/{pimred.id}", data=_edit("pimred", nip=NIP, jabatan=SEKRETARIS))
    assert resp.status_code == 422 and "sudah dipakai oleh pengguna aktif “admin”" in resp.get_data(as_text=True)
    assert (_user(system, "pimred").nip, _user(system, "pimred").jabatan) == (None, "")
    # A new account cannot take it either; once its holder is deactivated it is free.
    resp = admin_client.post("/admin/pengguna", data={"username": "baru", "roles": ["auditor"], "team": "",
                                                      "nip": NIP})
    assert resp.status_code == 422 and "sudah dipakai" in resp.get_data(as_text=True)
    with tx() as s:
        system.people.deactivate(s, user(s, "admin"), actor="test")
    assert admin_client.post(f"/admin/pengguna/{pimred.id}", data=_edit("pimred", nip=NIP)).status_code == 302
    # ... and the old holder cannot come back with it while someone else has it.
    with tx() as s, pytest.raises(BadRequest) as caught:
        system.people.activate(s, user(s, "admin"), actor="test")
    assert caught.value.code == "user.nip_taken"


def test_cli_and_api_know_the_nip(system, tx, cli, login):
    make_users(system, tx)
    result = cli("user", "official", "pimred", "--nip", NIP, "--jabatan", SEKRETARIS)
    assert result.exit_code == 0, result.output
    assert _user(system, "pimred").nip == "198704122010012003"
    result = cli("user", "official", "admin", "--nip", "19870412 201001 5 003")
    assert result.exit_code != 0 and "jenis kelamin" in result.output
    result = cli("user", "add", "sekre", "--role", "auditor", "--password-stdin", "--nip", "19740310 199303 1 002",
                 "--jabatan", SEKRETARIS, input="rahasia-sekre\n")
    assert result.exit_code == 0, result.output
    assert _user(system, "sekre").nip == "197403101993031002"


# ------------------------------------------------------------------------------------------ signers
@pytest.fixture
def signed(system, tx, login):
    """The factory users; pimred a civil servant with a name no cp1252 font has."""
    make_users(system, tx)
    with tx() as s:
        system.people.set_profile(s, user(s, "pimred"), full_name="Şəki Nurhayati", email=None, actor="test")
        system.people.set_official(s, user(s, "pimred"), nip=NIP, jabatan=SEKRETARIS, actor="test")
        system.people.set_profile(s, user(s, "wapimred"), full_name="Wakil Redaksi", email=None, actor="test")
        ids = {name: user(s, name).id for name in ("auditor", "admin", "wapimred", "pimred", "tim")}
    return ids, login("auditor")


def test_the_record_page_offers_a_signer_per_block_with_sensible_defaults(signed):
    ids, c = signed
    page = c.get("/laporan/register", query_string=MAY).get_data(as_text=True)
    for field, heading in (("ttd1", "Dibuat oleh"), ("ttd2", "Diperiksa oleh"), ("ttd3", "Mengetahui")):
        assert f'<select id="{field}" name="{field}">' in page and heading in page
    # who prints signs "Dibuat oleh"; the others default to a member of the block's lane
    assert f"ttd1={ids['auditor']}&amp;ttd2={ids['wapimred']}&amp;ttd3={ids['pimred']}" in page
    assert f'<option value="{ids["pimred"]}" selected>Şəki Nurhayati — {SEKRETARIS}</option>' in page
    # a choice is kept in the download links; an empty one leaves the block to be filled in by hand
    page = c.get("/laporan/register", query_string={**MAY, "ttd1": ids["admin"], "ttd2": ""}).get_data(as_text=True)
    assert f"ttd1={ids['admin']}&amp;ttd2=&amp;ttd3={ids['pimred']}" in page


@pytest.mark.parametrize("value", ["999999", "abc", "-1", "1e3"])
def test_an_unknown_signer_is_422_with_a_message(signed, value):
    _ids, c = signed
    for fmt in (None, "pdf"):
        resp = c.get("/laporan/register", query_string={**MAY, "ttd2": value, **({"format": fmt} if fmt else {})})
        assert resp.status_code == 422
        assert "Penanda tangan Diperiksa oleh tidak dikenal" in resp.get_data(as_text=True)


def test_an_inactive_user_cannot_sign(system, tx, signed):
    ids, c = signed
    with tx() as s:
        system.people.deactivate(s, user(s, "admin"), actor="test")
    resp = c.get("/laporan/rekap", query_string={**MAY, "ttd1": ids["admin"], "format": "pdf"})
    assert resp.status_code == 422
    with system.sessions() as s:
        assert s.execute(select(func.count(IssuedDocument.id))).scalar() == 0  # nothing issued


def test_the_pdf_prints_name_title_and_nip_of_each_signer(signed):
    ids, c = signed
    resp = c.get("/laporan/register", query_string={**MAY, "format": "pdf", "ttd1": ids["auditor"], "ttd2": "",
                                                    "ttd3": ids["pimred"]})
    assert resp.status_code == 200 and resp.content_type == "application/pdf"
    pages = pdf_pages(resp.data)
    last = pages[-1]
    assert "Şəki Nurhayati" in last and SEKRETARIS in last and f"NIP. {NIP}" in last
    assert "auditor" in last  # a user without a full name signs with their username, without a NIP line
    assert last.count("NIP.") == 2  # the pimred's, and the dotted line of the block left blank
    assert "Nomor: 001/REG-MEDSOS/V/2025" in pages[0]
    assert_no_blank_page(resp.data)


def test_a_signer_in_the_document_model_prints_any_script():
    doc = documents.Document("register", "Register", "Periode: Mei 2025", "register-2025-05",
                             documents.Table((documents.Column("No.", 1, "int"),), [(1,)]),
                             datetime(2025, 6, 2, 9, tzinfo=WIB), signatures=(("Mengetahui,", "Sekretaris"),),
                             signers=(documents.Signer("Şəki Nurhayati", SEKRETARIS, "198704122010012003"),),
                             number="007/REG-MEDSOS/VI/2025",
                             number_note="Cetak ulang — pertama diterbitkan 1 Juni 2025")
    data = documents.to_pdf(doc)
    text = " ".join(pdf_pages(data))
    assert "Şəki Nurhayati" in text and "\ufffd" not in text and "?" not in text
    assert f"NIP. {NIP}" in text and SEKRETARIS in text
    assert "Nomor: 007/REG-MEDSOS/VI/2025" in text and "Cetak ulang — pertama diterbitkan 1 Juni 2025" in text
    unsigned = documents.to_pdf(documents.Document(**{**doc.__dict__, "signers": (documents.Signer("Tanpa NIP"),)}))
    assert "NIP." not in " ".join(pdf_pages(unsigned))


# ------------------------------------------------------------------------------------ document numbers
def _number(resp) -> str:
    first = pdf_pages(resp.data)[0]
    return first.split("Nomor: ", 1)[1].split(" ", 1)[0]


def test_numbers_run_per_series_and_year_and_a_reprint_reuses_its_number(system, signed, clock):
    _ids, c = signed
    pdf = {"format": "pdf"}
    may = c.get("/laporan/register", query_string={**MAY, **pdf})
    assert _number(may) == "001/REG-MEDSOS/V/2025" and "Cetak ulang" not in pdf_pages(may.data)[0]
    assert _number(c.get("/laporan/register", query_string={**JUNE, **pdf})) == "002/REG-MEDSOS/V/2025"
    assert _number(c.get("/laporan/rekap", query_string={**MAY, **pdf})) == "001/RKP-MEDSOS/V/2025"
    # the same period read another way is another record
    assert _number(c.get("/laporan/rekap", query_string={**MAY, "menurut": "selesai", **pdf})) == \
        "002/RKP-MEDSOS/V/2025"
    assert _number(c.get("/laporan/tanggapan", query_string={**MAY, **pdf})) == "001/TGP-MEDSOS/V/2025"
    # printed again a week later (other signers): the same number, as a re-print of the first issue
    clock.set(datetime(2025, 5, 13, 9, tzinfo=WIB))
    again = c.get("/laporan/register", query_string={**MAY, **pdf, "ttd1": ""})
    assert _number(again) == "001/REG-MEDSOS/V/2025"
    assert "Cetak ulang — pertama diterbitkan 6 Mei 2025" in pdf_pages(again.data)[0]
    # the spreadsheet shows the number, and issues none
    ws = load_workbook(io.BytesIO(c.get("/laporan/register", query_string={**MAY, "format": "xlsx"}).data)).active
    assert ws["A5"].value.startswith("Nomor: 001/REG-MEDSOS/V/2025 — Dicetak:")
    ws = load_workbook(io.BytesIO(c.get("/laporan/register", query_string={
        "dari": "2025-04-01", "sampai": "2025-04-30", "format": "xlsx"}).data)).active
    assert ws["A5"].value.startswith("Dicetak:")
    # a new year starts the series again
    clock.set(datetime(2026, 1, 5, 9, tzinfo=WIB))
    assert _number(c.get("/laporan/register", query_string={"dari": "2025-12-01", "sampai": "2025-12-31",
                                                           **pdf})) == "001/REG-MEDSOS/I/2026"
    with system.sessions() as s:
        rows = s.execute(select(IssuedDocument).order_by(IssuedDocument.id)).scalars().all()
    assert [r.number for r in rows] == ["001/REG-MEDSOS/V/2025", "002/REG-MEDSOS/V/2025", "001/RKP-MEDSOS/V/2025",
                                        "002/RKP-MEDSOS/V/2025", "001/TGP-MEDSOS/V/2025", "001/REG-MEDSOS/I/2026"]
    first = rows[0]
    assert (first.kind, first.process_key, first.period_start, first.period_end, first.issued_by) == (
        "register", "alur_pengunggahan", date(2025, 5, 1), date(2025, 5, 31), "auditor")
    assert first.signer_ids.startswith(f"[{signed[0]['auditor']}, ")


def test_a_format_without_the_code_numbers_every_record_in_one_series(system, tx, clock):
    now = datetime(2025, 5, 6, 9, tzinfo=WIB)
    fmt = "{seq}/KPU-SB/{tahun}"
    with tx() as s:
        a = docnumbers.issue(s, docnumbers.Record("register", "p", Period.month(2025, 5)), fmt=fmt,
                             kode="REG-X", now=now, by="x")
        b = docnumbers.issue(s, docnumbers.Record("rekap", "p", Period.month(2025, 5), "unggah"), fmt=fmt,
                             kode="RKP-X", now=now, by="x")
        again = docnumbers.issue(s, docnumbers.Record("register", "p", Period.month(2025, 5)), fmt=fmt,
                                 kode="REG-X", now=now + timedelta(days=3), by="y")
    assert (a.number, b.number, again.number) == ("1/KPU-SB/2025", "2/KPU-SB/2025", "1/KPU-SB/2025")
    assert not a.reprint and again.reprint and again.issued_at == now


@pytest.mark.parametrize("fmt, ok", [
    ("{seq:03d}/{kode}/{bulan_romawi}/{tahun}", True), ("{seq}/{tahun}", True), ("{seq}/{bulan}/{tahun}", True),
    ("{kode}/{tahun}", False), ("{seq}/{kode}", False), ("{seq}/{year}", False), ("{seq}/{tahun}/{x}", False),
    ("{seq:q}/{tahun}", False), ("{seq}/{tahun", False),
])
def test_the_number_format_is_checked_at_start_up(tmp_path, fmt, ok):
    assert document_number_format_ok(fmt) is ok
    env = {"ALUR_DOCUMENT_NUMBER_FORMAT": fmt, "ALUR_INSTANCE_DIR": str(tmp_path)}
    if ok:
        assert Settings.from_env(env=env).document_number_format == fmt
    else:
        with pytest.raises(ValueError, match="ALUR_DOCUMENT_NUMBER_FORMAT"):
            Settings.from_env(env=env)


def test_two_first_prints_of_one_record_at_once_take_one_number(pg_system):
    """PostgreSQL: the second waits for the counter's row lock, then finds the record issued and prints it as a
    re-print; no number is skipped."""
    import threading

    record = docnumbers.Record("register", "p", Period.month(2025, 5))
    now = datetime(2025, 5, 6, 9, tzinfo=WIB)
    fmt = "{seq:03d}/{kode}/{tahun}"
    first = pg_system.sessions()
    result: dict = {}

    def second():
        with pg_system.sessions() as s:
            result["found"] = docnumbers.issue(s, record, fmt=fmt, kode="REG", now=now, by="b")
            s.commit()

    try:
        issued = docnumbers.issue(first, record, fmt=fmt, kode="REG", now=now, by="a")  # holds the counter's lock
        thread = threading.Thread(target=second)
        thread.start()
        assert _waiting_for_a_lock(pg_system)
        first.commit()
    finally:
        first.close()
    thread.join(30)
    assert issued.number == result["found"].number == "001/REG/2025" and result["found"].reprint
    with pg_system.sessions() as s:
        fresh = docnumbers.issue(s, docnumbers.Record("register", "p", Period.month(2025, 6)), fmt=fmt, kode="REG",
                                 now=now, by="c")
    assert fresh.number == "002/REG/2025"

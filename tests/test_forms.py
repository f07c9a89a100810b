from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from engine.forms import FormField
from process.deadlines import WIB
from process.forms import (
    FieldError,
    FileRef,
    FormInvalid,
    blank_form_values,
    form_definition_problems,
    validate_form,
)
from process.messages import field_text

pytestmark = pytest.mark.nodb  # form field parsing and checks: no database

PLATFORMS = ("instagram", "facebook", "x", "youtube", "tiktok")
NOW = datetime(2025, 5, 7, 10, 0, tzinfo=WIB)

FILES = {
    f"img{i}": FileRef(id=f"img{i}", sha256=f"{i:064x}", kind="image") for i in range(1, 7)
} | {
    "vid1": FileRef(id="vid1", sha256="f" * 64, kind="video"),
    "doc1": FileRef(id="doc1", sha256="d" * 64, kind="document"),
}


def resolve(file_id: str) -> FileRef | None:
    return FILES.get(file_id)


def run(fields, raw, **kw):
    kw.setdefault("files", resolve)
    kw.setdefault("platforms", PLATFORMS)
    kw.setdefault("now", NOW)
    return validate_form(fields, raw, **kw)


def errors_of(fields, raw, **kw) -> list[FieldError]:
    with pytest.raises(FormInvalid) as info:
        run(fields, raw, **kw)
    return info.value.errors


def codes(errors) -> list[tuple[str, str]]:
    return [(e.field, e.code) for e in errors]


def F(id, type="string", label=None, **kw) -> FormField:
    return FormField(id=id, label=label or id.replace("_", " ").capitalize(), type=type, **kw)


# --- string / text -------------------------------------------------------------------------------


def test_string_ok_and_stripped():
    fields = [F("judul", constraints={"minlength": "3", "maxlength": "10"})]
    assert run(fields, {"judul": "  Rapat  "}) == {"judul": "Rapat"}


@pytest.mark.parametrize(
    ("value", "code"),
    [("ab", "minlength"), ("a" * 11, "maxlength"), ("dua\nbaris", "multiline"), (12345, "type"),
     ("nul\x00", "control_char")],
)
def test_string_failures(value, code):
    fields = [F("judul", label="Judul berita", constraints={"minlength": "3", "maxlength": "10"})]
    (err,) = errors_of(fields, {"judul": value})
    assert (err.field, err.code) == ("judul", code)
    assert err.message.startswith("Judul berita: ")


def test_text_allows_newlines_and_normalises_crlf():
    fields = [F("narasi", "text", constraints={"minlength": "5"})]
    assert run(fields, {"narasi": " Baris satu\r\nBaris dua \n"}) == {"narasi": "Baris satu\nBaris dua"}


def test_text_minlength():
    fields = [F("narasi", "text", label="Narasi berita", constraints={"minlength": "20"})]
    (err,) = errors_of(fields, {"narasi": "pendek"})
    assert err.code == "minlength"
    assert "minimal 20 karakter" in err.message


# --- required / optional -------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "", "   ", []])
def test_required_missing(value):
    fields = [F("judul", label="Judul", required=True)]
    (err,) = errors_of(fields, {"judul": value})
    assert err == FieldError("required", "judul", "Judul: wajib diisi.")
    (err,) = errors_of(fields, {})
    assert err.code == "required"


def test_all_errors_are_collected():
    fields = [
        F("judul", label="Judul berita", required=True),
        F("narasi", "text", label="Narasi berita", required=True),
        F("keterangan", label="Keterangan kegiatan", required=True),
        F("catatan", "text"),
    ]
    with pytest.raises(FormInvalid) as info:
        run(fields, {"catatan": "ok"})
    errors = info.value.errors
    assert codes(errors) == [("judul", "required"), ("narasi", "required"), ("keterangan", "required")]
    assert [field_text(e) for e in errors] == [
        "Judul berita: wajib diisi.", "Narasi berita: wajib diisi.", "Keterangan kegiatan: wajib diisi."]
    # The label is the diagram's own; the sentence is in the reader's language.
    assert [field_text(e, "en") for e in errors] == [
        "Judul berita: required.", "Narasi berita: required.", "Keterangan kegiatan: required."]


def test_errors_of_different_kinds_are_collected_together():
    fields = [F("jumlah", "long", constraints={"min": "1"}), F("tautan", "url"), F("judul", required=True)]
    errors = errors_of(fields, {"jumlah": "0", "tautan": "ftp://x", "asing": "1"})
    assert sorted(codes(errors)) == sorted(
        [("asing", "unknown_field"), ("jumlah", "min"), ("tautan", "url"), ("judul", "required")]
    )


def test_optional_empty_values():
    fields = [
        F("judul"), F("jumlah", "long"), F("setuju", "boolean"), F("foto", "files"),
        F("unggahan", "posts"), F("tanggal", "date"),
    ]
    assert run(fields, {}) == {
        "judul": None, "jumlah": None, "setuju": False, "foto": [], "unggahan": [], "tanggal": None,
    }


# --- unknown / readonly / field names ------------------------------------------------------------


def test_unknown_field():
    (err,) = errors_of([F("judul")], {"judul": "x", "tambahan": "y"})
    assert err == FieldError("unknown_field", "tambahan", "tambahan: field tidak dikenal.")


@pytest.mark.parametrize("key", ["__class__", "Judul", "1abc", "a-b", "a" * 70, "", 5])
def test_bad_field_name(key):
    (err,) = errors_of([F("judul")], {"judul": "x", key: "y"})
    assert err.code == "field_name"


def test_readonly_ignored_and_not_returned():
    fields = [F("nomor_register", readonly=True), F("judul", required=True)]
    assert run(fields, {"nomor_register": "HACK", "judul": "x"}) == {"judul": "x"}
    assert run(fields, {"judul": "x"}) == {"judul": "x"}


def test_required_readonly_is_not_asked_for():
    fields = [F("nomor_register", readonly=True, required=True), F("judul")]
    assert run(fields, {}) == {"judul": None}


# --- long ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [("4", 4), (" 7 ", 7), (5, 5), ("+3", 3), (6.0, 6)])
def test_long_ok(value, expected):
    fields = [F("jumlah", "long", constraints={"min": "1", "max": "10"})]
    assert run(fields, {"jumlah": value}) == {"jumlah": expected}


@pytest.mark.parametrize(
    ("value", "code"),
    [("0", "min"), ("11", "max"), ("abc", "type"), ("1.5", "type"), (1.5, "type"), (True, "type"),
     ("9" * 40, "max"), ([1], "type")],
)
def test_long_failures(value, code):
    fields = [F("jumlah", "long", constraints={"min": "1", "max": "10"})]
    (err,) = errors_of(fields, {"jumlah": value})
    assert err.code == code


# --- boolean -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), (False, False), ("on", True), ("true", True), ("TRUE", True), ("1", True),
     ("false", False), ("0", False), (1, True), (0, False)],
)
def test_boolean_ok(value, expected):
    assert run([F("publik", "boolean")], {"publik": value}) == {"publik": expected}


def test_boolean_bad_value():
    (err,) = errors_of([F("publik", "boolean")], {"publik": "mungkin"})
    assert err.code == "type"


@pytest.mark.parametrize("raw", [{}, {"valid": "false"}, {"valid": False}, {"valid": "0"}])
def test_required_boolean_must_be_checked(raw):
    fields = [F("valid", "boolean", label="Konten sesuai kebutuhan dan valid", required=True)]
    (err,) = errors_of(fields, raw)
    assert err == FieldError("required", "valid", "Konten sesuai kebutuhan dan valid: harus dicentang.")
    assert run(fields, {"valid": "on"}) == {"valid": True}


# --- date / datetime -----------------------------------------------------------------------------


def test_date_ok():
    fields = [F("tanggal_kegiatan", "date")]
    assert run(fields, {"tanggal_kegiatan": "2025-05-06"}) == {"tanggal_kegiatan": "2025-05-06"}
    assert run(fields, {"tanggal_kegiatan": date(2025, 5, 6)}) == {"tanggal_kegiatan": "2025-05-06"}


@pytest.mark.parametrize("value", ["06-05-2025", "2025-02-30", "2025-5-6", "2025-05-06T10:00", 20250506])
def test_date_failures(value):
    (err,) = errors_of([F("tanggal_kegiatan", "date")], {"tanggal_kegiatan": value})
    assert err.code == "date"


def test_date_min_max():
    fields = [F("tanggal", "date", constraints={"min": "2025-01-01", "max": "2025-12-31"})]
    assert errors_of(fields, {"tanggal": "2024-12-31"})[0].code == "min"
    assert errors_of(fields, {"tanggal": "2026-01-01"})[0].code == "max"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-05-06T14:30", "2025-05-06T14:30:00+07:00"),  # naive = WIB (datetime-local input)
        ("2025-05-06T14:30:15+07:00", "2025-05-06T14:30:15+07:00"),
        ("2025-05-06T07:30:00Z", "2025-05-06T14:30:00+07:00"),
        ("2025-05-06 07:30:00+00:00", "2025-05-06T14:30:00+07:00"),
        (datetime(2025, 5, 6, 7, 30, tzinfo=UTC), "2025-05-06T14:30:00+07:00"),
    ],
)
def test_datetime_ok(value, expected):
    assert run([F("mulai", "datetime")], {"mulai": value}) == {"mulai": expected}


@pytest.mark.parametrize("value", ["2025-05-06", "besok", "2025-05-06T25:00", 1746500000])
def test_datetime_failures(value):
    (err,) = errors_of([F("mulai", "datetime")], {"mulai": value})
    assert err.code == "datetime"


# --- enum ----------------------------------------------------------------------------------------

KEPUTUSAN = F(
    "keputusan", "enum", label="Keputusan", required=True,
    options=(("setuju", "Setuju"), ("revisi", "Revisi"), ("tolak", "Tolak")),
)


def test_enum_ok():
    assert run([KEPUTUSAN], {"keputusan": "revisi"}) == {"keputusan": "revisi"}


@pytest.mark.parametrize("value", ["Setuju", "hapus", 1, ["setuju"]])
def test_enum_failures(value):
    (err,) = errors_of([KEPUTUSAN], {"keputusan": value})
    assert err.code == "enum"
    assert "Setuju, Revisi, Tolak" in err.message


# --- url -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["https://www.instagram.com/p/abc/", "http://kpu-sumbarprov.go.id/berita?id=1", " https://x.com/a "]
)
def test_url_ok(value):
    assert run([F("tautan", "url")], {"tautan": value}) == {"tautan": value.strip()}


@pytest.mark.parametrize(
    "value",
    ["javascript:alert(1)", "ftp://host/file", "https://", "www.instagram.com/p/abc", "https://a b.com/",
     "https://user:pw@host.com/", "https://host.com:99999/", "https://x.com/" + "a" * 2000, 42],
)
def test_url_failures(value):
    (err,) = errors_of([F("tautan", "url")], {"tautan": value})
    assert err.code == "url"


# --- files ---------------------------------------------------------------------------------------

FOTO = F(
    "foto", "files", label="Foto dokumentasi (minimal 4)", required=True,
    constraints={"min_files": "4", "max_files": "5", "accept": "image"},
)


def test_files_ok_store_only_id_and_hash():
    cleaned = run([FOTO], {"foto": ["img1", "img2", "img3", "img4"]})
    assert cleaned == {"foto": [{"id": f"img{i}", "sha256": f"{i:064x}"} for i in range(1, 5)]}


def test_files_accept_previously_stored_values():
    stored = [{"id": f"img{i}", "sha256": "whatever"} for i in range(1, 5)]
    cleaned = run([FOTO], {"foto": stored})
    assert cleaned["foto"][0] == {"id": "img1", "sha256": f"{1:064x}"}  # hash re-resolved


def test_files_too_few():
    (err,) = errors_of([FOTO], {"foto": ["img1", "img2"]})
    assert err == FieldError("min_files", "foto", "Foto dokumentasi (minimal 4): minimal 4 berkas.")


def test_files_too_many():
    (err,) = errors_of([FOTO], {"foto": [f"img{i}" for i in range(1, 7)]})
    assert err.code == "max_files"


def test_files_all_problems_reported():
    errors = errors_of([FOTO], {"foto": ["img1", "img1", "hilang", "vid1", ""]})
    assert [e.code for e in errors] == [
        "file_duplicate", "file_missing", "file_kind", "file_id", "min_files",
    ]
    assert all(e.field == "foto" for e in errors)
    assert "tidak ditemukan" in errors[1].message


def test_files_required_and_type():
    assert errors_of([FOTO], {"foto": []})[0].code == "required"
    assert errors_of([FOTO], {"foto": "img1"})[0].code == "type"


def test_files_without_accept_take_any_kind():
    fields = [F("lampiran", "files")]
    cleaned = run(fields, {"lampiran": ["vid1", "doc1"]})
    assert [f["id"] for f in cleaned["lampiran"]] == ["vid1", "doc1"]


def test_files_accept_list():
    fields = [F("media", "files", constraints={"accept": "image,video"})]
    assert len(run(fields, {"media": ["img1", "vid1"]})["media"]) == 2
    assert errors_of(fields, {"media": ["doc1"]})[0].code == "file_kind"


# --- posts ---------------------------------------------------------------------------------------

UNGGAHAN = F("unggahan", "posts", label="Tautan unggahan", required=True)


def test_posts_ok():
    raw = {
        "unggahan": [
            {"platform": "instagram", "url": "https://www.instagram.com/p/abc/", "waktu": "2025-05-07T09:15"},
            {"platform": "x", "url": "https://x.com/kpusumbar/status/1", "waktu": "2025-05-07T02:00:00Z"},
            {"platform": "", "url": "", "waktu": ""},  # empty row left in the form: skipped
        ]
    }
    assert run([UNGGAHAN], raw) == {
        "unggahan": [
            {"platform": "instagram", "url": "https://www.instagram.com/p/abc/", "waktu": "2025-05-07T09:15:00+07:00"},
            {"platform": "x", "url": "https://x.com/kpusumbar/status/1", "waktu": "2025-05-07T09:00:00+07:00"},
        ]
    }


def test_posts_required():
    assert errors_of([UNGGAHAN], {"unggahan": []})[0].code == "required"
    assert errors_of([UNGGAHAN], {})[0].code == "required"
    (err,) = errors_of([UNGGAHAN], {"unggahan": [{"platform": "", "url": "", "waktu": ""}]})
    assert err.code == "required"


def test_posts_problems_all_reported():
    raw = {
        "unggahan": [
            {"platform": "instagram", "url": "https://instagram.com/p/1", "waktu": "2025-05-07T09:00"},
            {"platform": "instagram", "url": "https://instagram.com/p/2", "waktu": "2025-05-07T09:00"},
            {"platform": "myspace", "url": "ftp://x", "waktu": "kemarin"},
            {"platform": "facebook", "url": "https://facebook.com/p/1", "waktu": "2025-05-09T10:00"},
            {"platform": "tiktok", "url": "https://tiktok.com/1", "waktu": "2025-05-07T09:00", "extra": 1},
            "bukan objek",
        ]
    }
    errors = errors_of([UNGGAHAN], raw)
    assert [e.code for e in errors] == [
        "post_duplicate", "post_platform", "post_url", "post_waktu", "post_future", "post", "post",
    ]
    assert all(e.field == "unggahan" and e.message.startswith("Tautan unggahan: unggahan ") for e in errors)
    # A row whose platform is known is named by it; the others by their position.
    assert [e.message.split(": ")[1].removesuffix(" tidak sah.") for e in errors] == [
        "unggahan ke-2", "unggahan ke-3", "unggahan ke-3", "unggahan ke-3", "unggahan facebook", "unggahan ke-5",
        "unggahan ke-6"]


def test_posts_future_tolerance_and_no_now():
    post = {"platform": "youtube", "url": "https://youtube.com/watch?v=1", "waktu": "2025-05-08T09:59"}
    assert run([UNGGAHAN], {"unggahan": [post]})["unggahan"][0]["waktu"] == "2025-05-08T09:59:00+07:00"
    far = dict(post, waktu="2030-01-01T00:00")
    assert errors_of([UNGGAHAN], {"unggahan": [far]})[0].code == "post_future"
    assert run([UNGGAHAN], {"unggahan": [far]}, now=None)["unggahan"][0]["waktu"].startswith("2030")


def test_posts_missing_parts():
    errors = errors_of([UNGGAHAN], {"unggahan": [{"platform": "instagram"}]})
    assert [e.code for e in errors] == ["post_url", "post_waktu"]


def test_posts_type():
    assert errors_of([UNGGAHAN], {"unggahan": "https://x.com"})[0].code == "type"


# --- definition problems & misc ------------------------------------------------------------------


def test_broken_definition_raises_value_error():
    with pytest.raises(ValueError):
        run([F("a", "gambar")], {})
    with pytest.raises(ValueError):
        run([F("a", "long", constraints={"min": "satu"})], {"a": "1"})
    with pytest.raises(TypeError):
        run([F("a")], ["a"])


def test_form_definition_problems():
    assert form_definition_problems([FOTO, UNGGAHAN, KEPUTUSAN]) == []
    problems = form_definition_problems(
        [F("a", "gambar"), F("b", "long", constraints={"min": "x"}), F("c", "enum"),
         F("d", "files", constraints={"accept": "pdf"}), F("e", constraints={"pattern": "x"})]
    )
    assert len(problems) == 5


def test_form_invalid_str_lists_everything():
    exc = FormInvalid([FieldError.of("required", "a", "A"), FieldError.of("min", "b", "B", n=1)])
    assert str(exc) == "form invalid: a: required {}; b: min {'n': 1}"


def test_a_nested_problem_is_rendered_in_the_readers_language():
    posts = F("unggahan", "posts", label="Tautan unggahan")
    post = {"platform": PLATFORMS[0], "url": "ftp://x", "waktu": NOW.isoformat()}
    (err,) = errors_of([posts], {"unggahan": [post]})
    assert field_text(err) == f"Tautan unggahan: unggahan {PLATFORMS[0]}: tautan harus diawali http:// atau https://."
    assert field_text(err, "en") == (f"Tautan unggahan: {PLATFORMS[0]} post: the link must begin with http:// or "
                                     "https://.")


# --- blank_form_values ---------------------------------------------------------------------------


def test_blank_form_values():
    fields = [
        F("judul"), F("jumlah", "long", default="4"), F("setuju", "boolean", default="true"),
        F("foto", "files"), F("unggahan", "posts"), F("nomor_register", readonly=True),
        F("keputusan", "enum", options=(("setuju", "Setuju"),), default="setuju"), F("catatan", "text"),
    ]
    data = {"judul": "Rapat pleno", "foto": [{"id": "img1", "sha256": "a"}], "nomor_register": "REG-7",
            "catatan": None, "lain": 1}
    values = blank_form_values(fields, data)
    assert values == {
        "judul": "Rapat pleno", "jumlah": 4, "setuju": True, "foto": [{"id": "img1", "sha256": "a"}],
        "unggahan": [], "nomor_register": "REG-7", "keputusan": "setuju", "catatan": "",
    }
    values["foto"].append("x")
    assert data["foto"] == [{"id": "img1", "sha256": "a"}]  # a copy

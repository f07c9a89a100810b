"""The one catalogue of codes (process/messages.py): every code the source can raise has a message there, with an
English translation; errors are rendered from their code in the reader's language, never by looking at their text.

The codes are collected from the source with the ``ast`` module, so a new ``raise NotFound(..., code="x.y")`` or a
new ``_Invalid("rule", "field.key")`` without a catalogue entry fails here, and so does a new raise of an engine
error that names no code at all.
"""
from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

import engine.errors
from process import messages
from process.errors import BadRequest, NotClaimed, TooLarge
from process.files import ImageTooLarge
from process.forms import FILE_KINDS, FieldError
from process.inputs import Refused
from process.messages import MESSAGES, error_text, field_text, render
from webui.problems import MESSAGES as PROBLEM_MESSAGES

pytestmark = pytest.mark.nodb  # the message catalogue, read from the source with ast: no database

ROOT = Path(__file__).resolve().parents[1]
PO = ROOT / "webui" / "translations" / "en" / "LC_MESSAGES" / "messages.po"
#: Where codes are raised.
SOURCES = [p for folder in ("engine", "process", "webui") for p in sorted((ROOT / folder).glob("*.py"))]
#: Calls whose first argument is a rule and second (optional) the key of its sentence.
RULE_CALLS = {"Refused", "_Invalid"}
#: Calls whose first argument is a message code.
MESSAGE_CALLS = {"render", "text", "message"}
#: Error classes whose constructor always names a code (no ``code=`` needed at the raise).
ALWAYS_CODED = {"Refused", "InvalidDefinition", "MigrationRefused", "TooLarge"}


def _engine_error_names() -> set[str]:
    import process.files
    import process.inputs
    import webui.api

    names = set()
    for module in (engine.errors, process.errors, process.inputs, process.files, webui.api):
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and issubclass(obj, engine.errors.EngineError):
                names.add(name)
    return names


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _constant(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def collected() -> tuple[dict[str, list[str]], list[str]]:
    """(code → places it is written, raises of an engine error that name no code)."""
    codes: dict[str, list[str]] = {}
    uncoded: list[str] = []
    error_names = _engine_error_names()
    for path in SOURCES:
        where = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                name = _name(node.exc.func)
                if name in error_names and name not in ALWAYS_CODED and \
                        not any(k.arg == "code" for k in node.exc.keywords):
                    uncoded.append(f"{where}:{node.lineno}: raise {name}(...) without code=")
            if not isinstance(node, ast.Call):
                continue
            name, place = _name(node.func), f"{where}:{node.lineno}"
            found = [_constant(k.value) for k in node.keywords if k.arg in ("code", "key")]
            if name in RULE_CALLS and node.args and _constant(node.args[0]):
                key = _constant(node.args[1]) if len(node.args) > 1 else None
                found.append(key or ("field." + _constant(node.args[0]) if len(node.args) < 2 else None))
            if name == "of" and isinstance(node.func, ast.Attribute) and _name(node.func.value) == "FieldError":
                key = _constant(node.args[3]) if len(node.args) > 3 else None
                found.append(key or (f"field.{_constant(node.args[0])}" if len(node.args) <= 3 else None))
            if name in MESSAGE_CALLS and node.args:
                found.append(_constant(node.args[0]))
            for code in found:
                if code:
                    codes.setdefault(code, []).append(place)
    return codes, uncoded


def test_every_code_raised_is_in_the_catalogue():
    codes, _uncoded = collected()
    assert len(codes) > 80  # the collection itself works
    # A diagram's problems (engine.errors.Problem) have their own table, tests/test_problems.py.
    missing = [f"  {places[0]}: {code}" for code, places in sorted(codes.items())
               if code not in MESSAGES and code not in PROBLEM_MESSAGES]
    assert not missing, "codes without a message in process/messages.py:\n" + "\n".join(missing)


def test_every_raise_of_an_engine_error_names_a_code():
    _codes, uncoded = collected()
    assert not uncoded, "errors raised without a code (add code=... and a message):\n" + "\n".join(uncoded)


def test_the_code_families_built_at_run_time_are_in_the_catalogue():
    families = ([f"upload.what.{k}" for k in ("image", "file", "diagram", "request")]
                + [f"file_kind.{k}" for k in FILE_KINDS]
                + [f"field.list_{w}" for w in ("files", "posts")] + [f"field.max_items_{w}" for w in ("files", "posts")]
                + [f"mail.subject.{k}" for k in ("task_ready", "delegated", "deadline_soon", "overdue", "returned")]
                + [f"notice.{k}" for k in ("task_ready", "task_ready_due", "overdue", "overdue_due", "returned",
                                           "delegated", "deadline_soon")])
    assert [f for f in families if f not in MESSAGES] == []


def test_every_message_has_an_english_translation_that_keeps_its_placeholders():
    with open(PO, "rb") as fh:
        catalogue = read_po(fh, locale="en")
    untranslated = []
    for code, msgid in MESSAGES.items():
        entry = catalogue.get(msgid)
        if entry is None or not entry.string or entry.fuzzy:
            untranslated.append(code)
    assert not untranslated, f"messages without an English translation in {PO.name}: {untranslated}"
    for code in MESSAGES:  # renders in both languages, whatever params are missing
        assert render(code, {}, "id") and render(code, {}, "en")


def test_an_error_is_rendered_from_its_code_in_each_language():
    exc = NotClaimed("task 'x' is not held", code="task.not_held", task="Koreksi konten")
    assert str(exc) == "task 'x' is not held"  # the log line stays English
    assert error_text(exc, "id") == "Tugas \u201cKoreksi konten\u201d tidak sedang Anda pegang."
    assert error_text(exc, "en") == "You are not holding the task \u201cKoreksi konten\u201d."


def test_parameters_are_written_the_readers_way():
    big = TooLarge("too big", size=3 * 1024 * 1024, limit=2 * 1024 * 1024, kind="diagram")
    assert error_text(big, "id") == "Diagram ini terlalu besar: 3,0 MB; batasnya 2,0 MB."
    assert error_text(big, "en") == "This diagram is too large: 3.0 MB; the limit is 2.0 MB."
    photo = ImageTooLarge("x", code="upload.image_too_large", width=20000, height=9990, megapixels=199.8,
                          max_megapixels=40.0)
    assert "(199,8 megapiksel)" in error_text(photo, "id") and "199.8 megapixels" in error_text(photo, "en")


def test_a_refusal_names_its_field_in_front():
    refused = Refused("maxlength", n=5, length=9).labelled("Username")
    assert refused.message == "Username: maksimal 5 karakter (sekarang 9)."
    assert error_text(refused, "en") == "Username: at most 5 characters (now 9)."
    err = FieldError.of("enum", "scope", "scope", options=["mine", "lane"])
    assert field_text(err, "en") == "scope: not a valid choice (choose one of: mine, lane)."


@pytest.mark.parametrize("locale", ["id", "en"])
def test_an_unknown_code_is_never_shown_raw(locale):
    exc = BadRequest("x", code="nobody.wrote.this")
    assert error_text(exc, locale) == render("bad_request", {}, locale)


def test_an_error_without_a_code_reads_as_its_class_in_every_language():
    exc = BadRequest("a log line only")
    assert error_text(exc, "id") == render("bad_request", {}, "id")
    assert error_text(exc, "en") == "The request cannot be processed."


def test_the_command_line_language_comes_from_the_environment():
    assert messages.locale_from_env({"ALUR_LANG": "en", "LANG": "id_ID.UTF-8"}) == "en"
    assert messages.locale_from_env({"LANG": "en_US.UTF-8"}) == "en"
    assert messages.locale_from_env({"LANG": "C.UTF-8"}) == "id"
    assert messages.locale_from_env({}) == "id"

"""Server-side validation of a user task's form (the SOP's "lembar kerja").

The engine describes a form as a list of :class:`engine.forms.FormField`; this module checks what a
person submitted against it and returns the cleaned values that go into the task data. Every problem
is collected (not just the first) and reported as a rule code with its parameters and the field's label; the
sentences are in process/messages.py (``field.<rule>``, or a more specific key when a rule has several).

Rules in short:

* The result has exactly the non-readonly fields. Unknown keys are refused (``unknown_field``), keys
  that are not valid field ids are refused (``field_name``), readonly fields in the payload are
  ignored silently (their values come from the process, not from the person).
* Constraints apply to non-empty values only; an empty optional field is stored as ``None`` (scalars),
  ``False`` (boolean) or ``[]`` (files, posts).
* Files are referred to by id and resolved through a callback; only ``{"id", "sha256"}`` is stored,
  never file contents.
"""
from __future__ import annotations

import copy
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from engine.forms import FIELD_ID_RE, FormField

from . import inputs, messages
from .deadlines import WIB

__all__ = [
    "FIELD_TYPES",
    "FieldError",
    "FileRef",
    "FormInvalid",
    "blank_form_values",
    "form_definition_problems",
    "validate_form",
]

FIELD_TYPES = frozenset(
    {"string", "text", "long", "boolean", "date", "datetime", "enum", "url", "files", "posts"}
)

#: Constraint names understood per type (besides required/readonly, which the engine lifts out).
_CONSTRAINTS: dict[str, frozenset[str]] = {
    "string": frozenset({"minlength", "maxlength"}),
    "text": frozenset({"minlength", "maxlength"}),
    "long": frozenset({"min", "max"}),
    "boolean": frozenset(),
    "date": frozenset({"min", "max"}),
    "datetime": frozenset(),
    "enum": frozenset(),
    "url": frozenset({"maxlength"}),
    "files": frozenset({"min_files", "max_files", "accept"}),
    "posts": frozenset({"min_posts", "max_posts"}),
}

MAX_URL_LENGTH = 2000
#: Hard caps whatever the form says, so a payload cannot make us do unbounded work.
MAX_TEXT_LENGTH = 100_000
MAX_LIST_ITEMS = 100
MAX_LONG_DIGITS = 18
#: How far in the future a post's "waktu" may lie (clock skew, time zones of the person's phone).
POST_FUTURE_TOLERANCE = timedelta(days=1)

FILE_KINDS = frozenset({"image", "video", "document", "other"})


def _kind_label(kind: str) -> dict[str, Any] | str:
    """A file kind as a part of a message (its words in process/messages.py)."""
    return messages.message(f"file_kind.{kind}") if kind in FILE_KINDS else kind

_TRUE = frozenset({"true", "on", "1"})
_FALSE = frozenset({"false", "off", "0"})
_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_LONG_RE = re.compile(r"^[+-]?\d+$")


# --------------------------------------------------------------------------------------------------
# Public types
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldError:
    """One problem with one field. ``code`` names the rule (what API clients see), ``key`` the sentence in
    process/messages.py (None: ``field.<code>``), ``params`` fill it, ``label`` is the field's label as the form
    names it. ``message`` is the whole in Bahasa Indonesia, for logs and for the legacy callers that build one
    themselves; people read :func:`process.messages.field_text`."""

    code: str
    field: str
    message: str
    #: What fills the message in, e.g. ``{"n": 200}`` for ``maxlength``.
    params: Mapping[str, Any] = field(default_factory=dict, compare=False)
    key: str | None = field(default=None, compare=False)
    label: str | dict | None = field(default=None, compare=False)  # a text, or a label's message

    @classmethod
    def of(cls, code: str, field_id: str, label: str | dict | None, key: str | None = None,
           **params: Any) -> FieldError:
        """A field error whose Indonesian ``message`` is rendered from the catalogue."""
        text = messages.render(key or f"field.{code}", params)
        shown = messages.render_message(label) if messages.is_message(label) else label
        return cls(code, field_id, f"{shown}: {text}" if shown else text, params, key, label)


class FormInvalid(Exception):
    """The submitted form has one or more problems; ``errors`` lists all of them."""

    def __init__(self, errors: Sequence[FieldError]):
        self.errors: list[FieldError] = list(errors)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "form invalid: " + "; ".join(f"{e.field}: {e.key or e.code} {dict(e.params)}" for e in self.errors)


@dataclass(frozen=True)
class FileRef:
    id: str
    sha256: str
    kind: str  # "image" | "video" | "document" | "other"


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


class _Invalid(Exception):
    """One problem with one field's value (internal; collected into FieldErrors): the rule's code, the key of its
    sentence (None: ``field.<code>``) and the sentence's parameters."""

    def __init__(self, code: str, key: str | None = None, **params: Any):
        super().__init__(key or code)
        self.code = code
        self.key = key
        self.params = params

    @classmethod
    def of(cls, refused: inputs.Refused) -> _Invalid:
        return cls(refused.code, refused.message_key, **refused.params)

    def as_message(self) -> dict[str, Any]:
        """This problem as a part of another message (process/messages.py)."""
        return messages.message(self.key or f"field.{self.code}", **self.params)


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):  # nothing visible: only spaces and invisible format characters
        return all(ch.isspace() or unicodedata.category(ch) == "Cf" for ch in value)
    if isinstance(value, (list, tuple)):
        return len(value) == 0
    return False


class FormDefinitionError(ValueError):
    """A form definition this application cannot use; ``code`` and ``params`` say which and why (the deploy check
    reports them as coded problems, :func:`form_definition_problems`)."""

    def __init__(self, message: str, code: str, **params: Any):
        super().__init__(message)
        self.code = code
        self.params = params


#: Codes of :func:`form_definition_problems` (the web layer has a message for each).
FORM_DEFINITION_CODES = frozenset({"form.field_type_unknown", "form.constraint_unknown", "form.enum_without_options",
                                   "form.constraint_not_integer", "form.constraint_not_date", "form.accept_unknown"})


def _int_constraint(f: FormField, name: str) -> int | None:
    raw = f.constraints.get(name)
    if raw is None or str(raw).strip() == "":
        return None
    try:
        return int(str(raw).strip())
    except ValueError:
        raise FormDefinitionError(f"field {f.id!r}: constraint {name}={raw!r} is not an integer",
                                  "form.constraint_not_integer", field=f.id, constraint=name,
                                  value=str(raw)[:40]) from None


def _date_constraint(f: FormField, name: str) -> date | None:
    raw = f.constraints.get(name)
    if raw is None or str(raw).strip() == "":
        return None
    try:
        return date.fromisoformat(str(raw).strip())
    except ValueError:
        raise FormDefinitionError(f"field {f.id!r}: constraint {name}={raw!r} is not an ISO date",
                                  "form.constraint_not_date", field=f.id, constraint=name,
                                  value=str(raw)[:40]) from None


def _clean_str(f: FormField, value: Any, *, multiline: bool) -> str:
    """The text rule of :mod:`process.inputs` (one line, or several) with the field's own length limits."""
    maxlength = _int_constraint(f, "maxlength")
    if maxlength is None or maxlength > MAX_TEXT_LENGTH:
        maxlength = MAX_TEXT_LENGTH
    clean = inputs.multi_line if multiline else inputs.single_line
    try:
        return clean(value, max_length=maxlength, min_length=_int_constraint(f, "minlength"))
    except inputs.Refused as refused:
        raise _Invalid.of(refused) from None


def _in_window(day: date, ctx: _Context | None) -> None:
    """The date rule (:func:`process.inputs.entry_date`): within a year of today, when today is known."""
    if ctx is not None and ctx.now is not None:
        try:
            inputs.within(day, inputs.entry_window(ctx.now.date()))
        except inputs.Refused as refused:
            raise _Invalid.of(refused) from None


def _parse_datetime_wib(value: Any, ctx: _Context | None = None) -> datetime:
    """An ISO datetime (naive = WIB) as an aware WIB datetime, whole seconds, on a day the date rule allows."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        text = value.strip()
        if not _DATETIME_RE.match(text):
            raise _Invalid("datetime")
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise _Invalid("datetime", "field.datetime_invalid") from None
    else:
        raise _Invalid("datetime")
    try:
        dt = dt.replace(tzinfo=WIB) if dt.tzinfo is None else dt.astimezone(WIB)
    except OverflowError:  # a moment at the very end of the calendar, moved into WIB
        raise _Invalid("date_window", "field.datetime_range") from None
    _in_window(dt.date(), ctx)
    return dt.replace(microsecond=0)


def _clean_url(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid("url")
    if len(value) > 4 * MAX_URL_LENGTH:
        raise _Invalid("url", "field.url_too_long", n=MAX_URL_LENGTH)
    try:
        text = inputs.single_line(value)
    except inputs.Refused:
        raise _Invalid("url", "field.url_spaces") from None
    if len(text) > MAX_URL_LENGTH:
        raise _Invalid("url", "field.url_too_long", n=MAX_URL_LENGTH)
    if any(ch.isspace() for ch in text):
        raise _Invalid("url", "field.url_spaces")
    try:
        parts = urlsplit(text)
        host = parts.hostname
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError:
        raise _Invalid("url", "field.url_invalid") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise _Invalid("url", "field.url_scheme")
    if not host:
        raise _Invalid("url", "field.url_host")
    if parts.username is not None or parts.password is not None:
        raise _Invalid("url", "field.url_credentials")
    return text


# --------------------------------------------------------------------------------------------------
# Per type
# --------------------------------------------------------------------------------------------------


def _clean_string(f: FormField, value: Any, ctx: _Context) -> str:
    return _clean_str(f, value, multiline=False)


def _clean_text(f: FormField, value: Any, ctx: _Context) -> str:
    return _clean_str(f, value, multiline=True)


def _clean_long(f: FormField, value: Any, ctx: _Context) -> int:
    if isinstance(value, bool):
        raise _Invalid("type", "field.integer")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and _LONG_RE.match(value.strip()):
        digits = value.strip().lstrip("+-")
        if len(digits) > MAX_LONG_DIGITS:
            raise _Invalid("max", "field.integer_too_large")
        number = int(value.strip())
    else:
        raise _Invalid("type", "field.integer")
    low, high = _int_constraint(f, "min"), _int_constraint(f, "max")
    if low is not None and number < low:
        raise _Invalid("min", n=low)
    if high is not None and number > high:
        raise _Invalid("max", n=high)
    return number


def _clean_boolean(f: FormField, value: Any, ctx: _Context) -> bool:
    if isinstance(value, bool):
        result = value
    elif isinstance(value, int) and value in (0, 1):
        result = bool(value)
    elif isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        result = value.strip().lower() in _TRUE
    else:
        raise _Invalid("type", "field.boolean")
    if f.required and not result:
        raise _Invalid("required", "field.required_checkbox")
    return result


def _clean_date(f: FormField, value: Any, ctx: _Context) -> str:
    try:
        day = inputs.parse_day(value)
    except inputs.Refused as refused:
        raise _Invalid.of(refused) from None
    _in_window(day, ctx)
    low, high = _date_constraint(f, "min"), _date_constraint(f, "max")
    if low is not None and day < low:
        raise _Invalid("min", "field.min_date", date=low.isoformat())
    if high is not None and day > high:
        raise _Invalid("max", "field.max_date", date=high.isoformat())
    return day.isoformat()


def _clean_datetime(f: FormField, value: Any, ctx: _Context) -> str:
    return _parse_datetime_wib(value, ctx).isoformat()


def _clean_enum(f: FormField, value: Any, ctx: _Context) -> str:
    allowed = [opt_id for opt_id, _ in f.options]
    if isinstance(value, str) and value.strip() in allowed:
        return value.strip()
    raise _Invalid("enum", options=[label for _, label in f.options])


def _clean_url_field(f: FormField, value: Any, ctx: _Context) -> str:
    text = _clean_url(value)
    maxlength = _int_constraint(f, "maxlength")
    if maxlength is not None and len(text) > maxlength:
        raise _Invalid("maxlength", n=maxlength, length=len(text))
    return text


def _accepted_kinds(f: FormField) -> frozenset[str] | None:
    raw = (f.constraints.get("accept") or "").strip()
    if not raw or raw.lower() == "any":
        return None
    kinds = frozenset(k.strip().lower() for k in raw.split(",") if k.strip())
    unknown = kinds - FILE_KINDS
    if unknown:
        raise FormDefinitionError(f"field {f.id!r}: accept={raw!r} names unknown kinds {sorted(unknown)}",
                                  "form.accept_unknown", field=f.id, kinds=", ".join(sorted(unknown)),
                                  known=", ".join(sorted(FILE_KINDS)))
    return kinds


def _list_value(value: Any, what: str) -> list[Any]:
    """``value`` as a list of files or posts (``what``)."""
    if not isinstance(value, (list, tuple)):
        raise _Invalid("type", f"field.list_{what}")
    if len(value) > MAX_LIST_ITEMS:
        raise _Invalid("max_items", f"field.max_items_{what}", n=MAX_LIST_ITEMS)
    return list(value)


def _clean_files(f: FormField, value: Any, ctx: _Context) -> list[dict[str, str]]:
    items = _list_value(value, "files")
    accept = _accepted_kinds(f)
    problems: list[_Invalid] = []
    seen: set[str] = set()
    cleaned: list[dict[str, str]] = []
    for number, item in enumerate(items, start=1):
        # A previously stored value ({"id", "sha256"}) may be sent back as is; the id is re-resolved.
        file_id = item.get("id") if isinstance(item, Mapping) else item
        if not isinstance(file_id, str) or not file_id.strip():
            problems.append(_Invalid("file_id", number=number))
            continue
        file_id = file_id.strip()
        if file_id in seen:
            problems.append(_Invalid("file_duplicate", number=number))
            continue
        seen.add(file_id)
        ref = ctx.files(file_id)
        if ref is None:
            problems.append(_Invalid("file_missing", number=number))
            continue
        if accept is not None and ref.kind not in accept:
            problems.append(_Invalid("file_kind", number=number, kind=_kind_label(ref.kind),
                                     accepted=[_kind_label(k) for k in sorted(accept)]))
            continue
        cleaned.append({"id": ref.id, "sha256": ref.sha256})
    count = len(cleaned)  # usable files only
    min_files, max_files = _int_constraint(f, "min_files"), _int_constraint(f, "max_files")
    if min_files is not None and count < min_files:
        problems.append(_Invalid("min_files", n=min_files))
    if max_files is not None and count > max_files:
        problems.append(_Invalid("max_files", n=max_files))
    if problems:
        raise _Many(problems)
    return cleaned


_POST_KEYS = frozenset({"platform", "url", "waktu"})


def _post_platform(item: Mapping, number: int, platforms: list[str], seen: set[str],
                   problems: list[_Invalid]) -> str | None:
    """The post's platform, or None with the problem noted (missing, unknown, or listed twice)."""
    platform = item.get("platform")
    platform = platform.strip() if isinstance(platform, str) else platform
    if _is_empty(platform):
        problems.append(_Invalid("post_platform", "field.post_platform_required", number=number))
    elif platform not in platforms:
        problems.append(_Invalid("post_platform", number=number, platforms=platforms))
    elif platform in seen:
        problems.append(_Invalid("post_duplicate", number=number, platform=platform))
    else:
        seen.add(platform)
        return platform
    return None


def _post_problem(code: str, key: str, number: int, platform: str | None, **params: Any) -> _Invalid:
    """A problem of one post row, named by its platform when that is known ("unggahan Instagram: …"), else by its
    position ("unggahan ke-3: …")."""
    if platform:
        return _Invalid(code, f"{key}_on", platform=platform, number=number, **params)
    return _Invalid(code, key, number=number, **params)


def _post_url(item: Mapping, number: int, problems: list[_Invalid], platform: str | None = None) -> str | None:
    if _is_empty(item.get("url")):
        problems.append(_post_problem("post_url", "field.post_url_required", number, platform))
        return None
    try:
        return _clean_url(item.get("url"))
    except _Invalid as exc:
        problems.append(_post_problem("post_url", "field.post_url", number, platform, problem=exc.as_message()))
        return None


def _post_time(item: Mapping, number: int, ctx: _Context, problems: list[_Invalid],
               platform: str | None = None) -> datetime | None:
    """When the post went up (WIB): not in the future, within the window of dates that may become data."""
    if _is_empty(item.get("waktu")):
        problems.append(_post_problem("post_waktu", "field.post_waktu_required", number, platform))
        return None
    try:
        waktu = _parse_datetime_wib(item.get("waktu"))
        if ctx.now is not None and waktu > ctx.now + POST_FUTURE_TOLERANCE:
            problems.append(_post_problem("post_future", "field.post_future", number, platform))
            return None
        _in_window(waktu.date(), ctx)
        return waktu
    except _Invalid as exc:
        problems.append(_post_problem("post_waktu", "field.post_waktu", number, platform, problem=exc.as_message()))
        return None


def _clean_post(item: Any, number: int, ctx: _Context, seen: set[str],
                problems: list[_Invalid]) -> dict[str, str] | None:
    """One row of the posts list, cleaned; None for an empty row, or with its problems noted."""
    if not isinstance(item, Mapping):
        problems.append(_Invalid("post", number=number))
        return None
    if all(_is_empty(item.get(k)) for k in _POST_KEYS) and set(item) <= _POST_KEYS:
        return None  # an empty row left in the form
    extra = sorted(str(k) for k in item if k not in _POST_KEYS)
    if extra:
        problems.append(_Invalid("post", "field.post_keys", number=number, keys=extra))
        return None
    # Each part is checked (and its problem noted) even when another is wrong: the person sees them all at once.
    platform = _post_platform(item, number, list(ctx.platforms), seen, problems)
    named = item.get("platform").strip() if isinstance(item.get("platform"), str) else None
    named = named if named in ctx.platforms else None  # the row's platform, to name it by in its other problems
    url = _post_url(item, number, problems, named)
    waktu = _post_time(item, number, ctx, problems, named)
    if platform is None or url is None or waktu is None:
        return None
    return {"platform": platform, "url": url, "waktu": waktu.isoformat()}


def _clean_posts(f: FormField, value: Any, ctx: _Context) -> list[dict[str, str]]:
    items = _list_value(value, "posts")
    problems: list[_Invalid] = []
    seen_platforms: set[str] = set()
    cleaned = [post for number, item in enumerate(items, start=1)
               if (post := _clean_post(item, number, ctx, seen_platforms, problems)) is not None]
    if not problems:
        if f.required and not cleaned:
            raise _Invalid("required", "field.required_post")
        low, high = _int_constraint(f, "min_posts"), _int_constraint(f, "max_posts")
        if low is not None and cleaned and len(cleaned) < low:
            problems.append(_Invalid("min_posts", n=low))
        if high is not None and len(cleaned) > high:
            problems.append(_Invalid("max_posts", n=high))
    if problems:
        raise _Many(problems)
    return cleaned


class _Many(Exception):
    def __init__(self, problems: list[_Invalid]):
        super().__init__("; ".join(p.key or p.code for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class _Context:
    files: Callable[[str], FileRef | None]
    platforms: Sequence[str]
    now: datetime | None


_CLEANERS: dict[str, Callable[[FormField, Any, _Context], Any]] = {
    "string": _clean_string,
    "text": _clean_text,
    "long": _clean_long,
    "boolean": _clean_boolean,
    "date": _clean_date,
    "datetime": _clean_datetime,
    "enum": _clean_enum,
    "url": _clean_url_field,
    "files": _clean_files,
    "posts": _clean_posts,
}


def _empty_value(f: FormField) -> Any:
    if f.type == "boolean":
        return False
    if f.type in ("files", "posts"):
        return []
    return None


# --------------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------------


def form_definition_problems(fields: Sequence[FormField]) -> list[tuple[str, dict[str, Any]]]:
    """Problems of the form *definition* (bad types, constraints, options) as ``(code, params)``; empty when fine.
    Field ids are the engine's check (engine.definitions.check_forms).

    :func:`validate_form` raises ``ValueError`` for these; this lets a deploy step report them early.
    """
    problems: list[tuple[str, dict[str, Any]]] = []
    for f in fields:
        if f.type not in FIELD_TYPES:
            problems.append(("form.field_type_unknown", {"field": f.id or "", "type": str(f.type)[:40],
                                                         "types": ", ".join(sorted(FIELD_TYPES))}))
            continue
        unknown = sorted(set(f.constraints) - _CONSTRAINTS[f.type])
        if unknown:
            problems.append(("form.constraint_unknown", {"field": f.id or "", "type": f.type,
                                                         "constraints": ", ".join(unknown),
                                                         "known": ", ".join(sorted(_CONSTRAINTS[f.type]))}))
        if f.type == "enum" and not f.options:
            problems.append(("form.enum_without_options", {"field": f.id or ""}))
        try:
            for name in ("minlength", "maxlength", "min_files", "max_files", "min_posts", "max_posts"):
                _int_constraint(f, name)
            if f.type == "long":
                _int_constraint(f, "min")
                _int_constraint(f, "max")
            if f.type == "date":
                _date_constraint(f, "min")
                _date_constraint(f, "max")
            if f.type == "files":
                _accepted_kinds(f)
        except FormDefinitionError as exc:
            problems.append((exc.code, exc.params))
    return problems


def _fields_by_id(fields: list[FormField]) -> dict[str, FormField]:
    """The form's fields by id; a broken definition (unknown type, an id used twice) raises ``ValueError``."""
    by_id: dict[str, FormField] = {}
    for f in fields:
        if f.type not in _CLEANERS:
            raise ValueError(f"field {f.id!r}: unknown type {f.type!r}")
        if f.id in by_id:
            raise ValueError(f"field {f.id!r}: id used twice in the form")
        by_id[f.id] = f
    return by_id


def _unknown_keys(raw: Mapping[str, Any], by_id: Mapping[str, FormField]) -> list[FieldError]:
    """A refusal for each submitted key that is not a field of the form (or not a field name at all)."""
    errors: list[FieldError] = []
    for key in raw:
        if not isinstance(key, str) or not FIELD_ID_RE.match(key):
            errors.append(FieldError.of("field_name", str(key)[:70], repr(key)[:70]))
        elif key not in by_id:
            errors.append(FieldError.of("unknown_field", key, key))
    return errors


def validate_form(
    fields: list[FormField],
    raw: Mapping[str, Any],
    *,
    files: Callable[[str], FileRef | None],
    platforms: Sequence[str],
    now: datetime | None = None,
) -> dict[str, Any]:
    """Check a submitted form; return the cleaned values of exactly the non-readonly fields.

    Raises :class:`FormInvalid` with *all* problems found. ``files(id)`` resolves an uploaded file
    (``None`` when unknown); ``platforms`` are the configured social-media platform ids; ``now``
    (aware, or naive = WIB) bounds how far in the future a post's time may be. A broken form
    definition (unknown type, non-numeric constraint) raises ``ValueError``.
    """
    if not isinstance(raw, Mapping):
        raise TypeError(f"raw must be a mapping, not {type(raw).__name__}")
    by_id = _fields_by_id(fields)
    if now is not None:
        now = now.replace(tzinfo=WIB) if now.tzinfo is None else now.astimezone(WIB)
    ctx = _Context(files=files, platforms=tuple(platforms), now=now)

    errors = _unknown_keys(raw, by_id)

    cleaned: dict[str, Any] = {}
    for f in fields:
        if f.readonly:
            continue
        value = raw.get(f.id)
        if _is_empty(value):
            if f.required:
                key = "field.required_checkbox" if f.type == "boolean" else None
                errors.append(FieldError.of("required", f.id, f.label, key))
            else:
                cleaned[f.id] = _empty_value(f)
            continue
        try:
            cleaned[f.id] = _CLEANERS[f.type](f, value, ctx)
        except _Invalid as exc:
            errors.append(FieldError.of(exc.code, f.id, f.label, exc.key, **exc.params))
        except _Many as many:
            errors.extend(FieldError.of(p.code, f.id, f.label, p.key, **p.params) for p in many.problems)

    if errors:
        raise FormInvalid(errors)
    return cleaned


def blank_form_values(fields: Sequence[FormField], data: Mapping[str, Any]) -> dict[str, Any]:
    """The current value of every field (readonly ones too) for pre-filling the form.

    Taken from the task data when present, else from the field's default, else an empty value
    (``""`` for scalar types, ``False`` for booleans, ``[]`` for files and posts). Values are copies:
    changing them does not change the task data.
    """
    values: dict[str, Any] = {}
    for f in fields:
        if f.id in data and data[f.id] is not None:
            values[f.id] = copy.deepcopy(data[f.id])
        elif f.default not in (None, ""):
            values[f.id] = _default_value(f)
        elif f.type == "boolean":
            values[f.id] = False
        elif f.type in ("files", "posts"):
            values[f.id] = []
        else:
            values[f.id] = ""
    return values


def _default_value(f: FormField) -> Any:
    default = str(f.default).strip()
    if f.type == "boolean":
        return default.lower() in _TRUE
    if f.type == "long" and _LONG_RE.match(default):
        return int(default)
    if f.type in ("files", "posts"):
        return []
    return f.default

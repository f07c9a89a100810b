"""The rules every value a person or a client types must pass, whatever the door it comes in by: a web form,
the JSON API, the command line or a form field of the diagram. Each rule is here once; the services and the form
validation call it, so every entry point gives the same answer.

* **Text.** Normalised to NFC and trimmed. Format characters that show nothing (zero-width spaces, byte-order
  marks, soft hyphens, direction overrides) are removed, except the joiners that emoji and some scripts need
  (ZWJ, ZWNJ, emoji tag characters). Refused: control characters (C0 and C1, so also CR, LF and TAB), the
  Unicode line and paragraph separators, lone surrogates and noncharacters. A multi-line text (a narrative, a
  written response) keeps its line breaks (CR LF, CR, NEL and the Unicode separators become LF) and tabs, and
  refuses every other control character.
* **Names** (of a case, a place, a team, a person): a single-line text with at least one letter or digit, so a
  name cannot be empty to the eye.
* **Usernames**: lower-case ASCII letters, digits, ``.``, ``_`` and ``-``, beginning with a letter or digit;
  upper case is folded to lower case. Look-alike letters from other scripts (Cyrillic ``а`` for Latin ``a``)
  are outside the alphabet, so two accounts can never look the same. **Team codes**: the same without ``.``.
* **Dates**: ``TTTT-BB-HH`` only. A date that becomes data (an activity's date, a date field of the diagram, a
  time in a form) lies within :data:`ENTRY_WINDOW_DAYS` of today (WIB); a date that selects data (a report's
  period, a filter) lies between :data:`EARLIEST_DAY` and the latest date any data can have (today plus the
  same window). Nothing outside can be stored, so nothing outside needs to be looked for.

A value that breaks a rule raises :class:`Refused` with the rule's code and the parameters of its message; the
sentence is in process/messages.py (without the field's label, which the caller puts in front).
"""
from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, timedelta
from typing import Any

from . import messages
from .errors import BadRequest

#: A date that becomes data lies at most this many days before or after today (WIB).
ENTRY_WINDOW_DAYS = 366
#: No record of SOP 21/2025 can be dated earlier: the SOP took effect in 2025 and an activity is documented
#: within a year of it. A report or filter reaching further back is a mistake, not a question.
EARLIEST_DAY = date(2024, 1, 1)

MAX_NAME = 200
MAX_USERNAME = 100
MAX_TEAM_CODE = 50

#: Format characters kept: the joiners (ZWNJ, ZWJ) and the emoji tag characters (subdivision flags).
_KEPT_FORMAT = frozenset({"\u200c", "\u200d"} | {chr(c) for c in range(0xE0020, 0xE0080)})
#: Line breaks a multi-line text may contain, all stored as LF.
_LINE_BREAKS = re.compile("\r\n|[\r\x85\u2028\u2029]")
_USERNAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]*")
_TEAM_CODE_RE = re.compile(r"[a-z0-9][a-z0-9_-]*")
_GROUP_CODE_RE = re.compile(r"[a-z][a-z0-9_]*")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


class Refused(BadRequest):
    """A value that breaks one of these rules. ``code`` names the rule (what API clients see per field),
    ``message_key`` the sentence of process/messages.py (``field.<rule>`` unless a rule has several), ``params``
    fill it. ``message`` is that sentence in Bahasa Indonesia, without the field's label (what
    process/services.py puts into its form errors)."""

    def __init__(self, code: str, key: str | None = None, **params: Any):
        key = key or f"field.{code}"
        super().__init__(f"value refused by the rule {code!r} ({key})", code=code, **params)
        self.message_key = key
        self.message = messages.render(key, {k: v for k, v in params.items() if k != "label"})

    def labelled(self, label: str | dict) -> Refused:
        """The same refusal with the field's label in front, for a message standing alone: a text already in the
        reader's language, or a label's message (``messages.message("label.username")``) rendered in theirs."""
        refused = Refused(self.code, self.message_key, **{**self.params, "label": label})
        refused.message = f"{messages.render_message(label) if messages.is_message(label) else label}: {self.message}"
        return refused


def _noncharacter(cp: int) -> bool:
    return 0xFDD0 <= cp <= 0xFDEF or (cp & 0xFFFE) == 0xFFFE


#: Names of the control characters people meet (Python's unicodedata has no names for controls).
_CONTROL_NAMES = {"\x00": "NULL", "\t": "TAB", "\n": "LINE FEED", "\x0b": "VERTICAL TAB", "\x0c": "FORM FEED",
                  "\r": "CARRIAGE RETURN", "\x1b": "ESCAPE", "\x7f": "DELETE", "\x85": "NEXT LINE"}


def _describe(ch: str) -> dict[str, str]:
    name = _CONTROL_NAMES.get(ch) or unicodedata.name(ch, "CONTROL" if unicodedata.category(ch) == "Cc" else "?")
    return {"char": f"U+{ord(ch):04X}", "char_name": name}


def _clean(value: Any, *, multiline: bool) -> str:
    if not isinstance(value, str):
        raise Refused("type")
    text = _LINE_BREAKS.sub("\n", value) if multiline else value
    kept = []
    for ch in text:
        category = unicodedata.category(ch)
        if category == "Cf":
            if ch in _KEPT_FORMAT:
                kept.append(ch)
            continue  # invisible: removed
        if category == "Cc":
            if multiline and ch in "\n\t":
                kept.append(ch)
                continue
            if ch in "\r\n\x85":
                raise Refused("multiline", **_describe(ch))
            raise Refused("control_char", **_describe(ch))
        if category in ("Zl", "Zp"):
            raise Refused("multiline", **_describe(ch))
        if category == "Cs" or (category == "Cn" and _noncharacter(ord(ch))):
            raise Refused("invalid_char", **_describe(ch))
        kept.append(ch)
    # NFC after the invisible characters are gone (one between a letter and its accent kept them apart).
    return unicodedata.normalize("NFC", "".join(kept)).strip()


def _length(text: str, max_length: int | None, min_length: int | None = None) -> str:
    if min_length is not None and len(text) < min_length:
        raise Refused("minlength", n=min_length, length=len(text))
    if max_length is not None and len(text) > max_length:
        raise Refused("maxlength", n=max_length, length=len(text))
    return text


def single_line(value: Any, *, max_length: int | None = None, min_length: int | None = None) -> str:
    """One line of text (a title, a place, a form's ``string`` field), cleaned; :class:`Refused` otherwise.
    May be empty: whether it must be filled in is the caller's rule."""
    return _length(_clean(value, multiline=False), max_length, min_length)


def multi_line(value: Any, *, max_length: int | None = None, min_length: int | None = None) -> str:
    """Text with line breaks (a narrative, a written response), cleaned; line breaks become LF."""
    return _length(_clean(value, multiline=True), max_length, min_length)


def name(value: Any, *, max_length: int = MAX_NAME, required: bool = True) -> str:
    """A name (of a case, a place, a team, a person): one line with at least one letter or digit. With
    ``required=False`` an empty value gives ``""``."""
    text = single_line(value if value is not None else "", max_length=max_length)
    if not text:
        if required:
            raise Refused("required")
        return ""
    if not any(unicodedata.category(ch)[0] in "LN" for ch in text):
        raise Refused("no_letter")
    return text


def fold_username(value: Any) -> str:
    """How a typed username is looked up: trimmed, ASCII upper case folded to lower case, nothing else changed
    (``str.lower`` would also fold the Kelvin sign into a ``k``)."""
    if not isinstance(value, str):
        return ""
    return "".join(ch.lower() if ch.isascii() else ch for ch in value.strip())


def username(value: Any) -> str:
    """A new account's username, folded to lower case; :class:`Refused` outside the alphabet."""
    text = fold_username(value)
    if not text:
        raise Refused("required")
    if len(text) > MAX_USERNAME:
        raise Refused("maxlength", n=MAX_USERNAME, length=len(text))
    if not _USERNAME_RE.fullmatch(text):
        raise Refused("username")
    return text


def _code(value: Any, pattern, refusal: str) -> str:
    """A code typed by an administrator: trimmed, at most MAX_TEAM_CODE characters, matching ``pattern``."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise Refused("required")
    if len(text) > MAX_TEAM_CODE:
        raise Refused("maxlength", n=MAX_TEAM_CODE, length=len(text))
    if not pattern.fullmatch(text):
        raise Refused(refusal)
    return text


def team_code(value: Any) -> str:
    """A team's code: lower-case ASCII letters, digits, ``_`` and ``-``."""
    return _code(value, _TEAM_CODE_RE, "team_code")


def group_code(value: Any) -> str:
    """A group's code: a lower-case ASCII letter, then lower-case letters, digits and ``_`` (at most 50)."""
    return _code(value, _GROUP_CODE_RE, "group_code")


# --------------------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------------------


def entry_window(today: date) -> tuple[date, date]:
    """The first and last day a date that becomes data may be (today in WIB)."""
    span = timedelta(days=ENTRY_WINDOW_DAYS)
    return today - span, today + span


def query_window(today: date) -> tuple[date, date]:
    """The first and last day a report period or a filter may name."""
    return EARLIEST_DAY, today + timedelta(days=ENTRY_WINDOW_DAYS)


def parse_day(value: Any) -> date:
    """A calendar day written ``TTTT-BB-HH`` (a :class:`date` is taken as it is)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    text = value.strip() if isinstance(value, str) else None
    if not text or not _DATE_RE.fullmatch(text):
        raise Refused("date")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Refused("date", "field.date_invalid") from None


def within(day: date, window: tuple[date, date]) -> date:
    first, last = window
    if not first <= day <= last:
        raise Refused("date_window", first=first.isoformat(), last=last.isoformat())
    return day


def entry_date(value: Any, today: date) -> date:
    """A date that becomes data (an activity's date, a date field of a form)."""
    return within(parse_day(value), entry_window(today))


def query_date(value: Any, today: date) -> date:
    """A date that selects data (one end of a report period or of a filter)."""
    return within(parse_day(value), query_window(today))


def contains(text: str) -> str:
    """A LIKE pattern that finds ``text`` anywhere, its own ``%`` and ``_`` taken literally (escape ``\\``)."""
    return "%" + re.sub(r"([\\%_])", r"\\\1", text.strip()[:100]) + "%"

"""The one translation layer (process/messages.py, process/timefmt.py) in the request's language.

The process layer renders a code with its params for a locale and a catalogue; here the locale is the one
Flask-Babel selected for the request (webui/auth.py select_locale) and the catalogue the one Flask-Babel loaded
for the app (BABEL_TRANSLATION_DIRECTORIES), so the pages, the JSON answers and the messages they carry agree.
Templates get the date and time functions as globals (``when``, ``when_short``, ``day``, ``relative``)."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import Flask
from flask_babel import get_locale, get_translations

from process import messages, timefmt


def locale() -> str:
    current = get_locale()
    return str(current) if current is not None and str(current) in messages.LOCALES else messages.SOURCE_LOCALE


def text(code: str, **params: Any) -> str:
    """The message ``code`` in the request's language."""
    return messages.render(code, params, locale(), get_translations())


def message(value: dict) -> str:
    """A stored message (``{"code", "params"}``) in the request's language."""
    return messages.render_message(value, locale(), get_translations())


def error_text(exc: Exception) -> str:
    return messages.error_text(exc, locale(), get_translations())


def field_text(err, label: str | None = None) -> str:
    return messages.field_text(err, locale(), get_translations(), label)


def when(moment: datetime | str | None) -> str:
    """A moment in full, in WIB (``Rabu, 02 Desember 2026 21.48 WIB``); ``—`` for none."""
    return timefmt.format_datetime(moment, locale()) if moment else "\u2014"


def when_short(moment: datetime | str | None) -> str:
    """A moment for a table row (``2 Des 2026 21.48 WIB``); ``—`` for none."""
    return timefmt.format_datetime_short(moment, locale()) if moment else "\u2014"


def day(value: date | datetime | None) -> str:
    return timefmt.format_date(value, locale()) if value else "\u2014"


def relative(due: datetime, now: datetime) -> str:
    return timefmt.humanize_delta(due, now, locale(), get_translations())


def number(value: int | float) -> str:
    """A number as the language writes it (``1.000`` in Bahasa Indonesia, ``1,000`` in English)."""
    from babel.numbers import format_decimal

    return format_decimal(value, locale=locale())


def init_app(app: Flask) -> None:
    app.jinja_env.filters["number"] = number
    app.jinja_env.globals.update(when=when, when_short=when_short, day=day, relative=relative,
                                 stored_message=message)

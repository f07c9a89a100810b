"""Moments, days, months, sizes and durations as people read them, in their language, through Babel.

Every time the application shows is in the office's time zone (:data:`TZ`, Asia/Jakarta: WIB). The words and the
order (day and month names, 24-hour ``21.48`` or ``9:48 PM``) are the locale's, from Babel's CLDR data, never a
table of our own; the zone's label is the one Babel gives (``WIB`` in Bahasa Indonesia). The web pages use these
through webui/i18n.py in the reader's language; the office's own records (PDF and XLSX documents, process/documents.py)
use them with ``"id"``: they are the office's records, in Bahasa Indonesia.
"""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel import dates
from babel.numbers import format_decimal
from babel.support import NullTranslations
from babel.units import format_unit

#: The office's time zone (WIB, UTC+7, no daylight saving).
TZ = ZoneInfo("Asia/Jakarta")
#: The languages the application speaks (process/messages.py LOCALES; not imported, messages imports this).
LOCALES = ("id", "en")


def _spoken(locale: str) -> str:
    if locale not in LOCALES:
        raise ValueError(f"unsupported locale {locale!r} (choose one of {', '.join(LOCALES)})")
    return locale


def local(moment: datetime | str) -> datetime:
    """``moment`` in :data:`TZ` (aware ones converted, naive ones read as WIB wall-clock time; ISO text parsed)."""
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment.strip())
        except ValueError:
            raise ValueError(f"not a moment: {moment!r}") from None
    if not isinstance(moment, datetime):
        raise ValueError(f"not a datetime: {type(moment).__name__}")  # noqa: TRY004
    return moment.replace(tzinfo=TZ) if moment.tzinfo is None else moment.astimezone(TZ)


def zone_label(moment: datetime, locale: str) -> str:
    return dates.format_datetime(moment, "z", tzinfo=TZ, locale=locale)


def format_datetime(moment: datetime | str, locale: str = "id") -> str:
    """``Rabu, 02 Desember 2026 21.48 WIB`` / ``Wednesday, December 2, 2026, 9:48 PM +0700``: the locale's full
    date and short time, joined the locale's way, and the zone."""
    moment, locale = local(moment), _spoken(locale)
    joined = dates.get_datetime_format("medium", locale=locale).format(
        dates.format_time(moment, "short", tzinfo=TZ, locale=locale),
        dates.format_date(moment.date(), "full", locale=locale))
    return f"{joined} {zone_label(moment, locale)}"


def format_datetime_short(moment: datetime | str, locale: str = "id") -> str:
    """``2 Des 2026 21.48 WIB`` / ``Dec 2, 2026, 9:48 PM +0700``: for tables with many moments."""
    moment = local(moment)
    joined = dates.get_datetime_format("medium", locale=locale).format(
        dates.format_time(moment, "short", tzinfo=TZ, locale=locale),
        dates.format_date(moment.date(), "medium", locale=locale))
    return f"{joined} {zone_label(moment, locale)}"


def format_time(moment: datetime | str, locale: str = "id") -> str:
    """``21.48`` / ``9:48 PM`` (in WIB)."""
    return dates.format_time(local(moment), "short", tzinfo=TZ, locale=locale)


def format_date(day: date | datetime, locale: str = "id") -> str:
    """``2 Desember 2026`` / ``December 2, 2026`` (a datetime: its day in WIB)."""
    if isinstance(day, datetime):
        day = local(day).date()
    return dates.format_date(day, "long", locale=locale)


def format_month(year: int, month: int, locale: str = "id") -> str:
    """``Desember 2026`` / ``December 2026``."""
    return dates.format_skeleton("yMMMM", date(year, month, 1), locale=locale)


def format_size(n: int, locale: str = "id") -> str:
    """``1,5 MB`` / ``1.5 MB``; ``KB`` below one megabyte (at least 1 KB)."""
    if n >= 1024 * 1024:
        return f"{format_decimal(round(n / (1024 * 1024), 1), '#,##0.0', locale=locale)} MB"
    return f"{format_decimal(max(1, n // 1024), locale=locale)} KB"


def format_span(seconds: float, locale: str = "id", translations: NullTranslations | None = None) -> str:
    """A duration in its largest whole unit, rounded down: ``2 jam`` / ``2 hours``, ``1 hari`` / ``1 day``; under
    a minute, "less than 1 minute" in the locale's words."""
    from .messages import render

    seconds = int(abs(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    for amount, unit in ((days, "duration-day"), (hours, "duration-hour"), (minutes, "duration-minute")):
        if amount:
            return format_unit(amount, unit, length="long", locale=locale)
    return render("time.less_than_a_minute", {}, locale, translations)


def humanize_delta(due: datetime, now: datetime, locale: str = "id",
                   translations: NullTranslations | None = None) -> str:
    """How far ``due`` is from ``now``: ``2 jam lagi`` / ``in 2 hours``, ``terlambat 5 jam`` / ``5 hours overdue``
    (the largest whole unit, rounded down). Naive datetimes are read as WIB."""
    from .messages import render

    seconds = (local(due) - local(now)).total_seconds()
    _spoken(locale)
    return render("time.overdue" if seconds < 0 else "time.in", {"span_seconds": abs(seconds)}, locale, translations)


def relative(due: datetime, now: datetime) -> dict:
    """:func:`humanize_delta` as a message parameter (process/messages.py), to be rendered in the reader's
    language when it is read."""
    seconds = int((local(due) - local(now)).total_seconds())
    return {"code": "time.overdue" if seconds < 0 else "time.in", "params": {"span_seconds": abs(seconds)}}

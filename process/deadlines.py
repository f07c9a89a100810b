"""Deadlines of SOP 21/2025 ("H+n") in WIB (how they are shown to people: process/timefmt.py).

The SOP counts **calendar days** in WIB: "H+1" is the end (23:59:59 WIB) of the day after the
reference day (the activity day or the submission day). A working-day count is available per
deadline (``working_days=True``); it skips Saturdays, Sundays, Indonesian national holidays and
*cuti bersama* as known to the ``holidays`` package:

* category ``public``: the national holidays (Tahun Baru, Imlek, Nyepi, Idul Fitri, Waisak, ...).
* category ``government``: the *cuti bersama* (joint leave days of civil servants, set each year by
  SKB 3 Menteri / Keppres). The package lists them per year from published decrees, so years not yet
  decreed (typically more than a year ahead) have no cuti bersama, and Islamic/lunar holidays of far
  future years are estimates. Regional holidays (e.g. Sumatera Barat only) are not covered.

Nothing here imports Flask or the web layer; the timer functions are handed to the engine's
expression registry (see :func:`timer_functions`).
"""
from __future__ import annotations

import functools
from datetime import date, datetime, time, timedelta

import holidays

from engine.expressions import FunctionRegistry

from .timefmt import TZ

__all__ = [
    "MAX_DAYS",
    "WIB",
    "akhir_hari",
    "akhir_hari_kerja",
    "end_of_day_plus",
    "is_working_day",
    "stamp_fields",
    "timer_functions",
]

#: The office's time zone, in which the SOP counts its days.
WIB = TZ

#: Largest n accepted for "H+n" (the SOP uses 1; anything beyond two months is a modelling mistake).
MAX_DAYS = 60

#: Holiday categories of ``holidays.country_holidays("ID")`` treated as non-working days:
#: ``public`` = national holidays, ``government`` = cuti bersama (joint leave).
_HOLIDAY_CATEGORIES = ("public", "government")

_END_OF_DAY = time(23, 59, 59)


# --------------------------------------------------------------------------------------------------
# Parsing the reference day
# --------------------------------------------------------------------------------------------------


def _to_wib(dt: datetime) -> datetime:
    """An aware datetime in WIB; a naive one is read as WIB wall-clock time."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=WIB)
    return dt.astimezone(WIB)


def _reference_date(day: date | datetime | str) -> date:
    """The WIB calendar date of ``day`` (ISO date/datetime string, date or datetime)."""
    if isinstance(day, datetime):
        return _to_wib(day).date()
    if isinstance(day, date):
        return day
    if isinstance(day, str):
        text = day.strip()
        if not text:
            raise ValueError("tanggal kosong; harap isi tanggal ISO, mis. '2025-12-31'")
        try:
            if len(text) == 10:
                return date.fromisoformat(text)
            return _to_wib(datetime.fromisoformat(text)).date()
        except ValueError:
            raise ValueError(
                f"tanggal tidak sah: {day!r}; harap gunakan format ISO, mis. '2025-12-31' "
                "atau '2025-12-31T10:00:00+07:00'"
            ) from None
    raise ValueError(
        f"tanggal harus berupa teks ISO, date atau datetime, bukan {type(day).__name__}"
    )


def _check_n(n: object) -> int:
    # bool is an int subclass; "H+True" is a mistake, not 1.
    if isinstance(n, bool) or not isinstance(n, int):
        # ValueError on purpose (also below): the expression registry reports ValueErrors to modellers.
        raise ValueError(f"jumlah hari harus bilangan bulat, bukan {type(n).__name__}")  # noqa: TRY004
    if not 0 <= n <= MAX_DAYS:
        raise ValueError(f"jumlah hari harus antara 0 dan {MAX_DAYS}, bukan {n}")
    return n


# --------------------------------------------------------------------------------------------------
# Working days
# --------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def _non_working_days(year: int) -> frozenset[date]:
    """National holidays and cuti bersama of ``year`` (see the module docstring for coverage)."""
    calendar = holidays.country_holidays("ID", years=year, categories=_HOLIDAY_CATEGORIES)
    return frozenset(calendar.keys())


def is_working_day(day: date) -> bool:
    """Monday–Friday and neither a national holiday nor a cuti bersama day."""
    if isinstance(day, datetime):
        day = _to_wib(day).date()
    return day.weekday() < 5 and day not in _non_working_days(day.year)


# --------------------------------------------------------------------------------------------------
# H+n
# --------------------------------------------------------------------------------------------------


def end_of_day_plus(day: date | datetime | str, n: int, *, working_days: bool = False) -> datetime:
    """The end (23:59:59 WIB, aware) of the n-th day after ``day``.

    ``day`` is an ISO date (``"2025-12-31"``), an ISO datetime (aware ones are converted to WIB
    first, naive ones are read as WIB), a ``date`` or a ``datetime``. With ``working_days`` only
    working days (:func:`is_working_day`) are counted; ``n == 0`` is always the end of ``day``
    itself. ``n`` must be within 0..60 (``ValueError`` otherwise).

    >>> end_of_day_plus("2025-12-31", 1).isoformat()
    '2026-01-01T23:59:59+07:00'
    """
    n = _check_n(n)
    current = _reference_date(day)
    if working_days:
        remaining = n
        while remaining:
            current += timedelta(days=1)
            if is_working_day(current):
                remaining -= 1
    else:
        current += timedelta(days=n)
    return datetime.combine(current, _END_OF_DAY, tzinfo=WIB)


def _timer_call(func: str, tanggal: object, n: object, *, working_days: bool) -> str:
    """Run a timer function with strict argument checks; errors name the function."""
    try:
        if not isinstance(tanggal, (str, date)):
            raise ValueError(  # noqa: TRY004
                f"tanggal harus teks ISO atau tanggal, bukan {type(tanggal).__name__}"
            )
        return end_of_day_plus(tanggal, n, working_days=working_days).isoformat()  # type: ignore[arg-type]
    except ValueError as exc:
        raise ValueError(f"{func}(tanggal, n): {exc}") from None


def akhir_hari(tanggal: str | date, n: int) -> str:
    """Timer expression: end of calendar day H+n in WIB as an ISO string.

    ``akhir_hari("2025-12-31", 1)`` → ``"2026-01-01T23:59:59+07:00"``.
    """
    return _timer_call("akhir_hari", tanggal, n, working_days=False)


def akhir_hari_kerja(tanggal: str | date, n: int) -> str:
    """Timer expression: end of working day H+n (no weekends, holidays, cuti bersama) in WIB."""
    return _timer_call("akhir_hari_kerja", tanggal, n, working_days=True)


def timer_functions() -> FunctionRegistry:
    """The vetted deadline functions for the engine's expression registry.

    Only the two functions below; combine with the engine's defaults as needed, e.g.
    ``DEFAULT_FUNCTIONS.merged(timer_functions())``.
    """
    registry = FunctionRegistry()
    registry.register(
        "akhir_hari",
        akhir_hari,
        doc="akhir_hari(tanggal, n): akhir hari (23:59:59 WIB) ke-n setelah tanggal, hari kalender.",
        returns="datetime",
    )
    registry.register(
        "akhir_hari_kerja",
        akhir_hari_kerja,
        doc=(
            "akhir_hari_kerja(tanggal, n): akhir hari kerja ke-n setelah tanggal "
            "(tanpa Sabtu, Minggu, libur nasional, cuti bersama), 23:59:59 WIB."
        ),
        returns="datetime",
    )
    return registry


def stamp_fields(now: datetime, date_field: str | None, time_field: str | None) -> dict[str, str]:
    """The reference dates a step writes into its case when it is completed (its ``alur:stamp`` declaration), which
    later deadlines count from: the SOP's timer expressions read the day the documentation was handed in (e.g.
    ``akhir_hari(tanggal_pengumpulan, 1)``). Written again at every completion, so a returned and resubmitted case
    counts from the latest one. The day is the WIB date (``YYYY-MM-DD``), the time an ISO moment in WIB."""
    local = _to_wib(now)
    out = {}
    if date_field:
        out[date_field] = local.date().isoformat()
    if time_field:
        out[time_field] = local.isoformat()
    return out

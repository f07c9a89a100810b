from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import holidays
import pytest

from process.deadlines import (
    WIB,
    akhir_hari,
    akhir_hari_kerja,
    end_of_day_plus,
    is_working_day,
    timer_functions,
)
from process.timefmt import format_datetime, humanize_delta

pytestmark = pytest.mark.nodb  # date arithmetic and text (process.deadlines, process.timefmt): no database


def _id_holidays(year: int):
    return holidays.country_holidays("ID", years=year, categories=("public", "government"))


# --- calendar days -------------------------------------------------------------------------------


def test_h_plus_1_across_new_year():
    due = end_of_day_plus("2025-12-31", 1)
    assert due.isoformat() == "2026-01-01T23:59:59+07:00"
    assert due.tzinfo is WIB


@pytest.mark.parametrize(
    ("day", "n", "expected"),
    [
        ("2025-01-31", 1, "2025-02-01T23:59:59+07:00"),  # month end
        ("2028-02-28", 1, "2028-02-29T23:59:59+07:00"),  # leap year
        ("2025-02-28", 1, "2025-03-01T23:59:59+07:00"),  # not a leap year
        ("2025-05-06", 0, "2025-05-06T23:59:59+07:00"),  # H+0 = end of the day itself
        ("2025-05-06", 60, "2025-07-05T23:59:59+07:00"),
    ],
)
def test_calendar_days(day, n, expected):
    assert end_of_day_plus(day, n).isoformat() == expected


def test_aware_utc_datetime_is_converted_to_wib_first():
    # 2025-05-06 18:30 UTC is 2025-05-07 01:30 WIB, so H+1 is the end of 8 May.
    moment = datetime(2025, 5, 6, 18, 30, tzinfo=UTC)
    assert end_of_day_plus(moment, 1).isoformat() == "2025-05-08T23:59:59+07:00"
    assert end_of_day_plus("2025-05-06T18:30:00Z", 1).isoformat() == "2025-05-08T23:59:59+07:00"
    assert end_of_day_plus("2025-05-06T18:30:00+00:00", 1).isoformat() == "2025-05-08T23:59:59+07:00"


def test_naive_datetime_is_read_as_wib():
    assert end_of_day_plus("2025-05-06T23:30:00", 1).isoformat() == "2025-05-07T23:59:59+07:00"
    assert end_of_day_plus(datetime(2025, 5, 6, 0, 5), 1).isoformat() == "2025-05-07T23:59:59+07:00"


def test_date_object():
    assert end_of_day_plus(date(2025, 12, 31), 1).isoformat() == "2026-01-01T23:59:59+07:00"


# --- working days --------------------------------------------------------------------------------


def test_working_day_over_a_plain_weekend():
    # Friday 10 Oct 2025 -> Monday 13 Oct 2025 (no holiday around it).
    assert date(2025, 10, 10).weekday() == 4
    assert date(2025, 10, 13) not in _id_holidays(2025)
    assert end_of_day_plus("2025-10-10", 1, working_days=True).isoformat() == "2025-10-13T23:59:59+07:00"
    # Calendar counting would land on the Saturday.
    assert end_of_day_plus("2025-10-10", 1).isoformat() == "2025-10-11T23:59:59+07:00"


def test_independence_day_weekend():
    # Saturday 16 Aug 2025; 17 Aug is Sunday and Independence Day. The package (and SKB 3 Menteri
    # 2025) also has Monday 18 Aug 2025 as cuti bersama, so the next working day is Tuesday 19 Aug.
    assert date(2025, 8, 16).weekday() == 5
    calendar = _id_holidays(2025)
    assert date(2025, 8, 17) in calendar
    assert date(2025, 8, 18) in calendar  # cuti bersama, category "government"
    assert date(2025, 8, 18) not in holidays.country_holidays("ID", years=2025)  # not a public holiday
    due = end_of_day_plus("2025-08-16", 1, working_days=True)
    assert due.date() == date(2025, 8, 19)
    assert akhir_hari_kerja("2025-08-16", 1) == "2025-08-19T23:59:59+07:00"


def test_working_days_over_christmas_consult_the_package():
    calendar = _id_holidays(2025)
    assert date(2025, 12, 25) in calendar  # Christmas is certain
    # Expected: the first weekday after 24 Dec that the package does not list as holiday/cuti bersama.
    day = date(2025, 12, 24)
    while True:
        day += timedelta(days=1)
        if day.weekday() < 5 and day not in calendar:
            break
    assert day > date(2025, 12, 25)
    assert end_of_day_plus("2025-12-24", 1, working_days=True).date() == day


def test_working_days_count_each_working_day():
    # Monday 6 Oct 2025 + 5 working days = Monday 13 Oct 2025.
    assert end_of_day_plus("2025-10-06", 5, working_days=True).date() == date(2025, 10, 13)
    assert end_of_day_plus("2025-10-06", 0, working_days=True).date() == date(2025, 10, 6)


def test_working_days_across_year_end():
    # Wednesday 31 Dec 2025 + 1 working day: 1 Jan 2026 is New Year's Day -> Friday 2 Jan 2026
    # unless the package lists it as cuti bersama.
    calendar = _id_holidays(2026)
    assert date(2026, 1, 1) in calendar
    expected = date(2026, 1, 2) if date(2026, 1, 2) not in calendar else date(2026, 1, 5)
    assert end_of_day_plus("2025-12-31", 1, working_days=True).date() == expected


def test_is_working_day():
    assert is_working_day(date(2025, 10, 13))
    assert not is_working_day(date(2025, 10, 11))  # Saturday
    assert not is_working_day(date(2025, 12, 25))  # Christmas


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [-1, 61, 1000, 1.0, "1", None, True])
def test_bad_n(n):
    with pytest.raises(ValueError):
        end_of_day_plus("2025-01-01", n)


@pytest.mark.parametrize("day", ["", "kemarin", "2025-13-01", "2025-02-30", 20250101, None, ["2025-01-01"]])
def test_bad_day(day):
    with pytest.raises(ValueError):
        end_of_day_plus(day, 1)


# --- timer functions -----------------------------------------------------------------------------


def test_akhir_hari():
    assert akhir_hari("2025-12-31", 1) == "2026-01-01T23:59:59+07:00"
    assert akhir_hari(date(2025, 12, 31), 1) == "2026-01-01T23:59:59+07:00"
    assert akhir_hari("2025-05-06T18:30:00Z", 1) == "2025-05-08T23:59:59+07:00"
    assert akhir_hari_kerja("2025-10-10", 1) == "2025-10-13T23:59:59+07:00"


@pytest.mark.parametrize("func", [akhir_hari, akhir_hari_kerja])
@pytest.mark.parametrize(
    ("tanggal", "n"),
    [(20251231, 1), (None, 1), ("2025-12-31", "1"), ("2025-12-31", 1.5), ("2025-12-31", -1),
     ("2025-12-31", 61), ("bukan tanggal", 1), ("2025-12-31", True)],
)
def test_timer_functions_reject_bad_arguments(func, tanggal, n):
    with pytest.raises(ValueError, match=func.__name__):
        func(tanggal, n)


def test_timer_functions_registry():
    from engine.expressions import DEFAULT_FUNCTIONS, ISO_TIMER_VALUE, FunctionRegistry, evaluate

    registry = timer_functions()
    assert isinstance(registry, FunctionRegistry)
    assert registry.names() == {"akhir_hari", "akhir_hari_kerja"}
    functions = DEFAULT_FUNCTIONS.merged(registry)
    data = {"tanggal_kegiatan": "2025-12-31", "dikirim_pada": "2025-10-10T16:00:00+07:00"}
    due = evaluate("akhir_hari(tanggal_kegiatan, 1)", data, functions)
    assert due == "2026-01-01T23:59:59+07:00"
    assert ISO_TIMER_VALUE.fullmatch(due)
    assert evaluate("akhir_hari_kerja(dikirim_pada, 1)", data, functions) == "2025-10-13T23:59:59+07:00"
    with pytest.raises(ValueError, match="akhir_hari"):
        evaluate("akhir_hari(tanggal_kegiatan, 99)", data, functions)


# --- humanize_delta ------------------------------------------------------------------------------

NOW = datetime(2025, 5, 6, 10, 0, tzinfo=WIB)


@pytest.mark.parametrize(
    ("delta", "id_text", "en_text"),
    [
        (timedelta(hours=2), "2 jam lagi", "in 2 hours"),
        (timedelta(hours=2, minutes=59), "2 jam lagi", "in 2 hours"),
        (timedelta(minutes=35), "35 menit lagi", "in 35 minutes"),
        (timedelta(days=3, hours=5), "3 hari lagi", "in 3 days"),
        (timedelta(days=1), "1 hari lagi", "in 1 day"),
        (timedelta(hours=1), "1 jam lagi", "in 1 hour"),
        (timedelta(minutes=1), "1 menit lagi", "in 1 minute"),
        (timedelta(seconds=59), "kurang dari 1 menit lagi", "in less than 1 minute"),
        (timedelta(0), "kurang dari 1 menit lagi", "in less than 1 minute"),
        (-timedelta(hours=5), "terlambat 5 jam", "5 hours overdue"),
        (-timedelta(days=2, hours=23), "terlambat 2 hari", "2 days overdue"),
        (-timedelta(minutes=1), "terlambat 1 menit", "1 minute overdue"),
        (-timedelta(seconds=30), "terlambat kurang dari 1 menit", "less than 1 minute overdue"),
    ],
)
def test_humanize_delta(delta, id_text, en_text):
    assert humanize_delta(NOW + delta, NOW) == id_text
    assert humanize_delta(NOW + delta, NOW, locale="id") == id_text
    assert humanize_delta(NOW + delta, NOW, locale="en") == en_text


def test_humanize_delta_mixed_time_zones_and_naive():
    due = end_of_day_plus("2025-05-06", 0)  # 23:59:59 WIB = 16:59:59 UTC
    now_utc = datetime(2025, 5, 6, 14, 59, 59, tzinfo=UTC)
    assert humanize_delta(due, now_utc) == "2 jam lagi"
    assert humanize_delta(due, datetime(2025, 5, 6, 21, 59, 59)) == "2 jam lagi"  # naive = WIB


def test_humanize_delta_bad_locale():
    with pytest.raises(ValueError):
        humanize_delta(NOW, NOW, locale="fr")


# --- format_wib ----------------------------------------------------------------------------------


def test_format_datetime():
    assert format_datetime(end_of_day_plus("2025-12-31", 1)) == "Kamis, 01 Januari 2026 23.59 WIB"
    assert format_datetime(datetime(2025, 5, 6, 18, 30, tzinfo=UTC)) == "Rabu, 07 Mei 2025 01.30 WIB"
    assert format_datetime(datetime(2025, 8, 17, 8, 5)) == "Minggu, 17 Agustus 2025 08.05 WIB"
    assert format_datetime("2026-01-01T23:59:59+07:00") == "Kamis, 01 Januari 2026 23.59 WIB"
    # English: Babel's words and order, the same moment in WIB (UTC+7).
    assert format_datetime("2026-01-01T23:59:59+07:00", "en") == "Thursday, January 1, 2026, 11:59\u202fPM +0700"


def test_format_datetime_bad_input():
    with pytest.raises(ValueError):
        format_datetime("bukan waktu")
    with pytest.raises(ValueError):
        format_datetime(date(2025, 1, 1))
    with pytest.raises(ValueError):
        format_datetime("2026-01-01T23:59:59+07:00", "fr")

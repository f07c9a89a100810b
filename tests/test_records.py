"""The SOP's three records for a period: exactly the cases of the period (WIB days, both ends included),
register numbering, written responses with names and roles, and the recap's on-time flags."""
from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest

from process.deadlines import WIB
from process.records import Period, recap, register_rows, written_responses
from process.register import register_number
from tests.factories import make_users, user
from tests.records_scenario import SopCase, at, build

MAY = Period.month(2025, 5)
JUNE = Period.month(2025, 6)


@pytest.fixture
def sc(system, tx, clock):
    return build(system, tx, clock)


# ------------------------------------------------------------------------------------------- periods
def test_period_bounds_are_wib_days():
    p = Period(date(2025, 5, 31), date(2025, 5, 31))
    assert p.contains(datetime(2025, 5, 31, 0, 0, tzinfo=WIB))
    assert p.contains(datetime(2025, 5, 31, 23, 59, 59, 999999, tzinfo=WIB))
    assert not p.contains(datetime(2025, 6, 1, 0, 0, tzinfo=WIB))
    assert not p.contains(datetime(2025, 5, 30, 23, 59, 59, tzinfo=WIB))
    # 16:59 UTC is 23:59 WIB: still the 31st; 17:00 UTC is already 1 June in WIB.
    assert p.contains(datetime(2025, 5, 31, 16, 59, tzinfo=UTC))
    assert not p.contains(datetime(2025, 5, 31, 17, 0, tzinfo=UTC))


def test_period_presets_labels_and_slugs():
    now = datetime(2025, 1, 15, 10, 0, tzinfo=WIB)
    assert Period.this_month(now) == Period(date(2025, 1, 1), date(2025, 1, 31))
    assert Period.last_month(now) == Period(date(2024, 12, 1), date(2024, 12, 31))
    assert Period.this_year(now) == Period(date(2025, 1, 1), date(2025, 12, 31))
    assert Period.month(2024, 2).end == date(2024, 2, 29)
    # 31 Jan 20:00 UTC is already 1 February in WIB.
    assert Period.this_month(datetime(2025, 1, 31, 20, 0, tzinfo=UTC)).start == date(2025, 2, 1)
    assert (MAY.label, MAY.slug) == ("Mei 2025", "2025-05")
    assert (Period.year(2025).label, Period.year(2025).slug) == ("Tahun 2025", "2025")
    custom = Period(date(2025, 5, 1), date(2025, 5, 20))
    assert (custom.label, custom.slug) == ("1 Mei 2025 s.d. 20 Mei 2025", "2025-05-01_2025-05-20")
    with pytest.raises(ValueError):
        Period(date(2025, 5, 2), date(2025, 5, 1))


# ------------------------------------------------------------------------------------------ register
def test_register_has_exactly_the_cases_of_the_period(system, sc, tx):
    with tx() as s:
        may = register_rows(s, MAY, system.rules)
        june = register_rows(s, JUNE, system.rules)
        last_day = register_rows(s, Period(date(2025, 5, 31), date(2025, 5, 31)), system.rules)
        first_day = register_rows(s, Period(date(2025, 6, 1), date(2025, 6, 1)), system.rules)
        both = register_rows(s, Period(date(2025, 5, 1), date(2025, 6, 30)), system.rules)
    assert [r.instance_id for r in may] == sc.may
    assert [r.instance_id for r in june] == sc.june
    # handed in at 23:59 WIB on 31 May: in May; at 00:00 WIB on 1 June: in June.
    assert [r.instance_id for r in last_day] == [sc.batas.instance_id]
    assert [r.instance_id for r in first_day] == [sc.juni.instance_id]
    assert [r.instance_id for r in both] == sc.may + sc.june


def test_register_numbers_and_fields(system, sc, tx):
    with tx() as s:
        rows = register_rows(s, Period(date(2025, 5, 1), date(2025, 6, 30)), system.rules)
    assert [r.number for r in rows] == ["001/REG-MEDSOS/V/2025", "002/REG-MEDSOS/V/2025", "003/REG-MEDSOS/V/2025",
                                        "004/REG-MEDSOS/VI/2025"]
    first = rows[0]
    assert first.registered_at == at(5, 6, 9)
    assert (first.activity, first.activity_date, first.place) == ("Sosialisasi Pemilih Pemula", date(2025, 5, 6),
                                                                  "Padang")
    assert (first.team_code, first.team_name, first.submitted_by) == ("humas", "Divisi Humas", "tim")
    assert (first.photos, first.other_files, first.submissions, first.outcome) == (4, 0, 1, "dipublikasikan")
    juni = rows[3]
    assert juni.registered_at == at(6, 1, 0)
    assert juni.submissions == 2  # returned once by Admin Medsos, handed in again: still one entry
    assert juni.outcome == "ditolak"


def test_register_shows_the_current_step_of_a_running_case(system, tx, clock):
    make_users(system, tx)
    case = SopCase.open(system, tx, "Rapat Pleno", "2025-05-06")
    case.do("tim", "submit")
    with tx() as s:
        (row,) = register_rows(s, MAY, system.rules)
    assert row.outcome == "berjalan"
    assert row.current_steps == ("Menerima hasil dokumentasi kegiatan dan konten berita",)


def test_register_number_format_is_configuration(system, tx, clock):
    assert register_number("{seq:03d}/REG-MEDSOS/{month_roman}/{year}", 1, at(5, 6, 9)) == "001/REG-MEDSOS/V/2025"
    assert register_number("{seq:03d}/REG-MEDSOS/{month_roman}/{year}", 12, at(12, 31, 23, 59)) == \
        "012/REG-MEDSOS/XII/2025"
    # 31 Dec 17:30 UTC is already 1 January in WIB: the month and year of the number follow WIB.
    assert register_number("{seq:03d}/REG-MEDSOS/{month_roman}/{year}", 1,
                           datetime(2025, 12, 31, 17, 30, tzinfo=UTC)) == "001/REG-MEDSOS/I/2026"
    system.tasks.settings = dataclasses.replace(system.settings, register_format="REG-{year}-{month:02d}-{seq:04d}")
    make_users(system, tx)
    case = SopCase.open(system, tx, "Rapat Pleno", "2025-05-06")
    case.do("tim", "submit")
    with tx() as s:
        assert [r.number for r in register_rows(s, MAY, system.rules)] == ["REG-2025-05-0001"]


# ------------------------------------------------------------------------------- written responses
def test_written_responses_of_the_period(system, sc, tx):
    with tx() as s:
        may = written_responses(s, MAY, rulebook=system.rules)
        june = written_responses(s, JUNE, rulebook=system.rules)
    assert [c.instance_id for c in may] == sc.may
    assert [c.instance_id for c in june] == sc.june
    first = may[0]
    assert first.number == "001/REG-MEDSOS/V/2025"
    assert [(r.step, r.decision, r.actor, r.lane) for r in first.responses] == [
        (2, "diterima", "admin", "Admin Medsos"), (3, "lanjut", "wapimred", "Wakil Pimpinan Redaksi"),
        (4, "setuju", "pimred", "Pimpinan Redaksi")]
    assert [r.text for r in first.responses] == ["Dokumentasi lengkap.", "Sudah dikoreksi.", "Layak diunggah."]
    assert [r.at for r in first.responses] == [at(5, 6, 10), at(5, 6, 11), at(5, 6, 12)]
    (juni,) = june
    assert [(r.step, r.decision) for r in juni.responses] == [(2, "dikembalikan"), (2, "diterima"), (3, "lanjut"),
                                                              (4, "tolak")]
    assert juni.responses[0].text == "Foto kurang jelas."
    assert juni.outcome == "ditolak"


def test_written_responses_use_display_names(sc, system, tx):
    with tx() as s:
        user(s, "pimred").full_name = "Dra. Yuliani"
    with tx() as s:
        (case,) = written_responses(s, rulebook=system.rules, instance_id=sc.mei.instance_id)
    assert case.responses[-1].name == "Dra. Yuliani"
    assert case.responses[0].name == "admin"  # no full name: the username


def test_written_responses_of_one_case_ignore_the_period(system, sc, tx):
    with tx() as s:
        (case,) = written_responses(s, rulebook=system.rules, instance_id=sc.juni.instance_id)
        assert written_responses(s, rulebook=system.rules, instance_id=999999) == []
    assert case.number == "004/REG-MEDSOS/VI/2025" and len(case.responses) == 4


# ------------------------------------------------------------------------------------------- recap
def test_recap_has_the_cases_whose_step_5_ended_in_the_period(sc, system, tx):
    platforms = system.settings.platforms
    with tx() as s:
        may = recap(s, MAY, system.rules, platforms)
        june = recap(s, JUNE, system.rules, platforms)
        last_day = recap(s, Period(date(2025, 5, 31), date(2025, 5, 31)), system.rules, platforms)
    # published 31 May 23:59:59 WIB: May; published 1 June 00:00 WIB: June. The rejected case has no posts.
    assert [p.instance_id for p in may.posts] == [sc.mei.instance_id, sc.akhir.instance_id]
    assert [p.instance_id for p in june.posts] == [sc.batas.instance_id]
    assert [p.instance_id for p in last_day.posts] == [sc.akhir.instance_id]
    assert (may.cases, june.cases) == (2, 1)
    post = may.posts[0]
    assert (post.platform, post.url, post.actor) == ("Instagram", "https://www.instagram.com/p/abc123/", "admin")
    assert post.number == "001/REG-MEDSOS/V/2025"


def test_recap_on_time_flags_against_the_step_5_deadline(sc, system, tx):
    with tx() as s:
        may = recap(s, MAY, system.rules, system.settings.platforms)
        june = recap(s, JUNE, system.rules, system.settings.platforms)
    mei, akhir = may.posts
    # Step 5 is due at the end of the activity day + 1 (WIB).
    assert mei.due_at == datetime(2025, 5, 7, 23, 59, 59, tzinfo=WIB)
    assert (mei.on_time, mei.lateness) == (True, None)
    assert akhir.due_at == datetime(2025, 5, 31, 23, 59, 59, tzinfo=WIB)
    assert akhir.posted_at == at(5, 31, 23, 59, 59) and akhir.on_time is True  # the last second counts
    (late,) = june.posts
    assert late.on_time is False and late.lateness == timedelta(seconds=1)


def test_recap_totals_per_platform(sc, system, tx):
    with tx() as s:
        both = recap(s, Period(date(2025, 5, 1), date(2025, 6, 30)), system.rules, system.settings.platforms)
    totals = {t.platform: (t.posts, t.on_time, t.late) for t in both.totals}
    assert list(totals) == list(system.settings.platforms)  # every configured platform, in order
    assert totals["Instagram"] == (3, 2, 1)
    assert totals["Facebook"] == (0, 0, 0)
    assert (both.total.posts, both.total.on_time, both.total.late) == (3, 2, 1)


def test_recap_several_platforms_and_post_times(system, tx, clock):
    make_users(system, tx)
    clock.set(at(5, 6, 8))
    case = SopCase.open(system, tx, "Debat Publik", "2025-05-06")
    for hour, who, form in ((9, "tim", "submit"), (10, "admin", "terima"), (11, "wapimred", "koreksi"),
                            (12, "pimred", "setuju")):
        clock.set(at(5, 6, hour))
        case.do(who, form)
    clock.set(at(5, 8, 9))  # recorded a day after the deadline ...
    case.do("admin", {"publikasi": [
        {"platform": "Facebook", "url": "https://facebook.com/kpusumbar/posts/1", "waktu": "2025-05-07T20:00"},
        {"platform": "Instagram", "url": "https://instagram.com/p/2", "waktu": "2025-05-08T08:00:00+07:00"},
    ], "catatan_unggah": "Facebook diunggah kemarin malam."})
    with tx() as s:
        result = recap(s, MAY, system.rules, system.settings.platforms)
    assert [p.platform for p in result.posts] == ["Instagram", "Facebook"]  # configured platform order
    instagram, facebook = result.posts
    assert facebook.on_time is True  # ... but Facebook went up on time (the time given for the post counts)
    assert instagram.on_time is False and instagram.lateness == timedelta(hours=8, seconds=1)
    assert facebook.recorded_at == at(5, 8, 9)
    totals = {t.platform: (t.posts, t.on_time, t.late) for t in result.totals}
    assert totals["Instagram"] == (1, 0, 1) and totals["Facebook"] == (1, 1, 0)


def test_empty_period(sc, system, tx):
    empty = Period.month(2025, 4)
    with tx() as s:
        assert register_rows(s, empty, system.rules) == []
        assert written_responses(s, empty, rulebook=system.rules) == []
        result = recap(s, empty, system.rules, system.settings.platforms)
    assert result.posts == [] and result.total.posts == 0 and len(result.totals) == len(system.settings.platforms)


def test_each_procedure_numbers_its_own_register_in_its_own_format(system, tx, clock):
    """A second procedure (the SOP under another process id, its register numbered "{seq:02d}/LAIN/{year}") counts
    from 1 beside the SOP's register; each register lists only its own entries."""
    from tests.conftest import DIAGRAM
    from tests.factories import Case, make_users

    make_users(system, tx)
    xml = (DIAGRAM.read_text(encoding="utf-8").replace('id="alur_pengunggahan"', 'id="proses_lain"')
           .replace('processRef="alur_pengunggahan"', 'processRef="proses_lain"')
           .replace('<alur:register field="nomor_register" title=',
                    '<alur:register field="nomor_register" format="{seq:02d}/LAIN/{year}" title='))
    with tx() as s:
        system.engine.deploy(s, xml.encode(), actor="owner")
    sop = Case.start(system, tx)
    sop.do("tim", "submit")
    with tx() as s:
        from tests.factories import CaseInput, user
        result = system.cases.start_case(s, user(s, "tim"), CaseInput("Lain", "2025-05-06", "Padang"),
                                         procedure="proses_lain")
        other = Case(system, tx, result.instance.id, result.ready[0].id)
    other.do("tim", "submit")
    period = Period(date(2025, 5, 1), date(2025, 5, 31))
    with tx() as s:
        assert [r.number for r in register_rows(s, period, system.rules, "alur_pengunggahan")] == [
            "001/REG-MEDSOS/V/2025"]
        assert [r.number for r in register_rows(s, period, system.rules, "proses_lain")] == ["01/LAIN/2025"]
        assert len(register_rows(s, period, system.rules)) == 2

"""Register numbers never stop a case: each procedure's format is checked against every other procedure's when it is
deployed (two formats that could write one number are refused, naming the other procedure), a format must write the
year as well as the sequence number (numbering starts again each year), and the database identifies an entry by its
procedure, year and sequence number — the written number is indexed for search, not unique (migration 0008, on
SQLite and on PostgreSQL)."""
from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import MetaData, insert, select, text

from engine.db import make_engine
from engine.errors import InvalidDefinition
from ops.schema import downgrade, schema_diff, upgrade
from process import modeling
from process.config import Settings
from process.models import RegisterEntry
from process.register import formats_collide
from tests.conftest import DIAGRAM
from tests.factories import Case, CaseInput, make_users, user

OTHER = 'id="proses_lain"'


def _second_procedure(register: str) -> bytes:
    """The SOP's diagram as another procedure (process id ``proses_lain``), its register declared as ``register``
    (the attributes after ``field="nomor_register"``)."""
    xml = (DIAGRAM.read_text(encoding="utf-8").replace('id="alur_pengunggahan"', OTHER)
           .replace('processRef="alur_pengunggahan"', 'processRef="proses_lain"')
           .replace('name="Alur Pengunggahan Konten Media Sosial"', 'name="Prosedur Lain"', 1)
           .replace('<alur:register field="nomor_register"', f'<alur:register field="nomor_register"{register}'))
    assert OTHER in xml
    return xml.encode()


def _refusal(system, tx, xml: bytes) -> list[tuple[str, dict]]:
    with pytest.raises(InvalidDefinition) as info, tx() as s:
        modeling.deploy(s, system, user(s, "owner"), xml)
    return [(p.code, dict(p.params)) for p in info.value.problems]


@pytest.mark.parametrize("register", ["", ' format="{seq:03d}/REG-MEDSOS/{month_roman}/{year}"',
                                      ' format="{seq}/REG-MEDSOS/{month_roman}/{year}"'])
def test_a_second_procedure_numbering_like_the_first_is_refused(system, tx, register):
    """No format (the configured one, as the SOP's), the same, or one writing the same numbers unpadded: refused."""
    make_users(system, tx)
    problems = _refusal(system, tx, _second_procedure(register))
    assert ("register.format_taken", {"format": (register[9:-1] or system.settings.register_format),
                                      "procedure": "Alur Pengunggahan Konten Media Sosial"}) in problems


def test_a_procedure_of_its_own_format_deploys_and_both_registers_count_from_one(system, tx):
    make_users(system, tx)
    with tx() as s:
        modeling.deploy(s, system, user(s, "owner"), _second_procedure(' format="{seq:03d}/LAIN/{month_roman}/{year}"'))
        # a new version of it with another format of its own: not a collision with itself
        modeling.deploy(s, system, user(s, "owner"), _second_procedure(' format="{seq:02d}/LAIN/{year}"'))
    sop = Case.start(system, tx)
    sop.do("tim", "submit")
    with tx() as s:
        result = system.cases.start_case(s, user(s, "tim"), CaseInput("Lain", "2025-05-06", "Padang"),
                                         procedure="proses_lain")
    Case(system, tx, result.instance.id, result.ready[0].id).do("tim", "submit")
    with tx() as s:
        numbers = dict(s.execute(select(RegisterEntry.process_key, RegisterEntry.number)).tuples().all())
    assert numbers == {"alur_pengunggahan": "001/REG-MEDSOS/V/2025", "proses_lain": "01/LAIN/2025"}


def test_a_format_without_the_year_is_refused(system, tx):
    make_users(system, tx)
    problems = _refusal(system, tx, _second_procedure(' format="{seq:03d}/LAIN"'))
    assert ("decl.register_format", {"format": "{seq:03d}/LAIN"}) in problems


def test_the_configured_format_must_write_sequence_and_year(tmp_path):
    with pytest.raises(ValueError, match="ALUR_REGISTER_FORMAT"):
        Settings.from_env(tmp_path, {"ALUR_REGISTER_FORMAT": "{seq:03d}/REG"})
    with pytest.raises(ValueError, match="ALUR_REGISTER_FORMAT"):
        Settings.from_env(tmp_path, {"ALUR_REGISTER_FORMAT": "{nomor}/{year}"})
    assert Settings.from_env(tmp_path, {"ALUR_REGISTER_FORMAT": "REG-{year}-{seq:04d}"}).register_format


_others = st.lists(st.sampled_from(["{month}", "{month_roman}", "/", "-", "A", "REG", "PPID", "."]), max_size=4)
#: Valid formats: a sequence number and a year among other parts, in any order.
_formats = (st.tuples(st.sampled_from(["{seq}", "{seq:03d}", "{seq:02d}"]), _others)
            .flatmap(lambda t: st.permutations([t[0], "{year}", *t[1]])).map("".join))


@settings(deadline=None, max_examples=60)  # each example renders thousands of numbers
@given(_formats)
def test_a_format_collides_with_itself_and_with_a_prefixless_twin(fmt):
    assert formats_collide(fmt, fmt)
    assert formats_collide(fmt, fmt.replace("{seq:03d}", "{seq}").replace("{seq:02d}", "{seq}")) or (
        "{seq:03d}" not in fmt and "{seq:02d}" not in fmt)


@settings(deadline=None, max_examples=60)
@given(_formats, _formats)
def test_formats_that_differ_in_a_fixed_word_do_not_collide(a, b):
    assert not formats_collide(f"X{a}", f"Y{b}")  # the first character differs in every number


# ------------------------------------------------------------------------------------------------ migration 0008


def _entry(engine, key: str, seq: int, number: str, instance_id: int) -> None:
    meta = MetaData()
    meta.reflect(engine, only=["register_entry"])
    with engine.begin() as conn:
        conn.execute(insert(meta.tables["register_entry"]).values(
            process_key=key, instance_id=instance_id, year=2025, seq=seq, number=number,
            created_at=datetime(2025, 5, 6, 3)))


def test_migration_0008_keeps_entries_and_lets_two_procedures_share_a_written_number(empty_database_url):
    engine = make_engine(empty_database_url)
    try:
        upgrade(engine, "0007")
        _entry(engine, "alur_pengunggahan", 1, "001/X/2025", 1)
        with pytest.raises(Exception):  # noqa: B017 - the unique constraint of 0001..0007, whatever the driver's class
            _entry(engine, "proses_lain", 1, "001/X/2025", 2)
        upgrade(engine)
        with engine.connect() as conn:
            assert schema_diff(conn) == []
        _entry(engine, "proses_lain", 1, "001/X/2025", 2)
        with pytest.raises(RuntimeError, match="001/X/2025"):
            downgrade(engine, "0007")
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM register_entry WHERE process_key = 'proses_lain'"))
        downgrade(engine, "0007")
        with engine.begin() as conn:
            assert conn.execute(text("SELECT number FROM register_entry")).scalars().all() == ["001/X/2025"]
        upgrade(engine)
    finally:
        engine.dispose()

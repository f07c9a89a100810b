"""Migration 0006 (groups instead of staff roles), from the schema before it with data, on SQLite and on PostgreSQL
(the database of ALUR_TEST_DATABASE_URL when it is one): every user keeps exactly the lanes they worked and can still
act on their tasks after the upgrade; the downgrade gives the roles back as they were."""
from __future__ import annotations

from datetime import date

from sqlalchemy import MetaData, insert, inspect, select, text

from engine.db import ensure_chain_head, make_engine, transaction
from ops.schema import downgrade, schema_diff, upgrade
from process.config import Settings
from process.people import hash_password
from process.procedure import ensure_definition
from process.system import build_system
from tests.factories import Case, CaseInput, user

#: The accounts before the migration: username → (roles, team).
BEFORE = {
    "tim": ({"tim_pelaksana"}, "humas"),
    "admin": ({"admin_medsos"}, None),
    "wapimred": ({"wapimred", "auditor"}, None),
    "pimred": ({"pimred"}, None),
    "owner": ({"process_owner"}, None),
}
#: The lane each staff role worked (process/roles.py before groups).
ROLE_LANES = {"tim_pelaksana": "Tim Pelaksana", "admin_medsos": "Admin Medsos", "wapimred": "Wakil Pimpinan Redaksi",
              "pimred": "Pimpinan Redaksi"}


def _rows(engine, table: str) -> set[tuple]:
    meta = MetaData()
    meta.reflect(engine, only=[table])
    t = meta.tables[table]
    with engine.connect() as conn:
        return {tuple(r) for r in conn.execute(select(*[c for c in t.c if c.name != "id"]))}


def _fill_at_0005(engine, system) -> tuple[int, str]:
    """Accounts with staff roles, written as the schema of 0005 holds them, and a case waiting on step 1, started by
    the engine alone (the SOP layer's accounts need the groups)."""
    meta = MetaData()
    meta.reflect(engine, only=["team", "app_user", "user_role"])
    team, users, roles = (meta.tables[n] for n in ("team", "app_user", "user_role"))
    with engine.begin() as conn:
        conn.execute(insert(team).values(code="humas", name="Divisi Humas"))
        team_id = conn.execute(select(team.c.id)).scalar_one()
        for name, (held, team_code) in BEFORE.items():
            uid = conn.execute(insert(users).values(
                username=name, full_name="", password_hash=hash_password(f"rahasia-{name}"), active=True,
                team_id=team_id if team_code else None, created_at=system.clock.now()).returning(users.c.id)
            ).scalar_one()
            for role in sorted(held):
                conn.execute(insert(roles).values(user_id=uid, role=role))
    ensure_chain_head(engine)
    with transaction(system.sessions) as session:
        ensure_definition(session, system.engine, system.settings)
        result = system.engine.start(session, system.settings.process_key, actor="tim", title="Sosialisasi",
                                     business_date=date(2025, 5, 6), group="humas",
                                     data={"nama_kegiatan": "Sosialisasi", "tanggal_kegiatan": "2025-05-06",
                                           "tempat_kegiatan": "Padang", "tim": "humas"})
        return result.instance.id, result.ready[0].id


def test_staff_roles_become_groups_and_come_back(empty_database_url, tmp_path, clock):
    url = empty_database_url
    engine = make_engine(url)
    settings = Settings(database_url=url, files_dir=tmp_path / "files")
    try:
        upgrade(engine, "0005")
        with build_system(settings, clock) as before:
            instance_id, task_id = _fill_at_0005(engine, before)
        roles_before = _rows(engine, "user_role")

        upgrade(engine)  # 0006 (groups) and 0007 (a register per procedure)
        assert {"app_group", "user_group"} <= set(inspect(engine).get_table_names())
        with build_system(settings, clock) as system:
            tx = lambda: transaction(system.sessions)  # noqa: E731 - as tests/conftest.py's tx
            with tx() as s:
                groups = {g.code: g.name for g in system.people.groups(s)}
                assert groups == ROLE_LANES
                lane_map = system.rules.lane_map(s)
                for name, (held, _team) in BEFORE.items():
                    u = user(s, name)
                    assert u.roles == held - set(ROLE_LANES), name  # only the application's roles are roles
                    assert u.group_codes == held & set(ROLE_LANES), name
                    assert lane_map.lanes_of(u) == {ROLE_LANES[r] for r in held if r in ROLE_LANES}, name
            # Everyone acts on their step as before.
            case = Case(system, tx, instance_id, task_id)
            assert case.do("tim", "submit") == ["Task_Terima"]
            with tx() as s:  # numbered in the SOP's own register
                assert s.execute(text("SELECT process_key, seq FROM register_entry")).all() == [
                    ("alur_pengunggahan", 1)]
            assert case.do("admin", "terima") == ["Task_Koreksi"]
            assert case.do("wapimred", "koreksi") == ["Task_Putuskan"]
            assert case.do("pimred", "setuju") == ["Task_Unggah"]
            with tx() as s:  # a new case too, opened by the start lane's group
                assert system.cases.start_case(s, user(s, "tim"), _case_input()).ready[0].lane == "Tim Pelaksana"
                system.people.add_group(s, "humas", "Humas")  # a group of after the upgrade: lost on the way down
                system.people.set_groups(s, user(s, "owner"), ["humas"])

        downgrade(engine, "0005")
        assert not {"app_group", "user_group"} & set(inspect(engine).get_table_names())
        assert _rows(engine, "user_role") == roles_before

        upgrade(engine)  # and up again: the same groups, and exactly the schema the models describe
        with engine.connect() as conn:
            assert schema_diff(conn) == []
        with build_system(settings, clock) as system, transaction(system.sessions) as s:
            assert {u.username: u.group_codes for u in map(lambda n: user(s, n), BEFORE)} == {
                name: held & set(ROLE_LANES) for name, (held, _team) in BEFORE.items()}
    finally:
        engine.dispose()


def _case_input() -> dict:
    return CaseInput(nama_kegiatan="Rapat Pleno", tanggal_kegiatan="2025-05-06", tempat_kegiatan="Padang")

"""User administration pages: admin only, create/edit/deactivate/reset, teams, every change an event."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from engine.models import EventRow
from process.models import Team, User
from process.roles import ALL_ROLES, ROLE_LABELS
from tests.factories import make_users, user


def _events(system, type_: str) -> list[EventRow]:
    with system.sessions() as s:
        return list(s.execute(select(EventRow).where(EventRow.type == type_).order_by(EventRow.seq)).scalars())


def _get(system, name: str) -> User:
    with system.sessions() as s:
        return user(s, name)


def _count_users(system) -> int:
    with system.sessions() as s:
        return s.execute(select(func.count(User.id))).scalar()


def _password_on(page: bytes) -> str:
    m = re.search(rb'<input id="password" class="secret"[^>]* value="([^"]+)"', page)
    assert m, page[:2000]
    return m[1].decode()


def test_role_names_match_process_labels(app):
    from webui.admin import ROLE_NAMES

    assert set(ROLE_NAMES) == set(ALL_ROLES)
    with app.test_request_context():
        assert {r: str(v) for r, v in ROLE_NAMES.items()} == ROLE_LABELS


@pytest.mark.parametrize("who", ["tim", "admin", "wapimred", "pimred", "owner", "auditor"])
def test_admin_pages_are_for_admins_only(system, tx, login, who):
    make_users(system, tx)
    c = login(who)
    with system.sessions() as s:
        uid = user(s, "tim").id
    for url in ("/admin/pengguna", "/admin/tim", f"/admin/pengguna/{uid}"):
        assert c.get(url).status_code == 403
    before = _count_users(system)
    resp = c.post("/admin/pengguna", data={"username": "baru", "roles": ["admin"], "team": ""})
    assert resp.status_code == 403
    assert c.post(f"/admin/pengguna/{uid}/status", data={"active": "0"}).status_code == 403
    assert c.post(f"/admin/pengguna/{uid}/sandi").status_code == 403
    assert _count_users(system) == before and _get(system, "tim").active


def test_anonymous_is_sent_to_login(client):
    resp = client.get("/admin/pengguna")
    assert resp.status_code == 302 and "/masuk" in resp.headers["Location"]


def test_list_shows_users_with_role_labels_and_teams(admin_client):
    page = admin_client.get("/admin/pengguna")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for name in ("tim", "tim_lain", "wapimred", "root"):
        assert f">{name}</a>" in html
    assert "Admin Medsos" in html and "Pemilik Proses" in html and "Divisi Humas" in html
    assert "aktif" in html and "WIB" in html


def test_create_user_with_generated_password_shown_once(system, admin_client, app):
    resp = admin_client.post("/admin/pengguna", data={
        "username": "sari", "full_name": "Sari Dewi", "email": "sari@example.org",
        "roles": ["auditor"], "groups": ["tim_pelaksana", "admin_medsos"], "team": "humas", "password": ""})
    assert resp.status_code == 201, resp.data[:2000]
    assert resp.headers["Cache-Control"] == "no-store"
    password = _password_on(resp.data)
    assert len(password) >= 16
    sari = _get(system, "sari")
    assert sari.roles == {"auditor"} and sari.group_codes == {"tim_pelaksana", "admin_medsos"}
    assert sari.team.code == "humas"
    assert sari.full_name == "Sari Dewi" and sari.email == "sari@example.org"
    assert password not in sari.password_hash
    # The password is on no other page.
    assert password.encode() not in admin_client.get(f"/admin/pengguna/{sari.id}").data
    assert password.encode() not in admin_client.get("/admin/pengguna").data
    # ...and it works.
    c = app.test_client()
    assert c.post("/masuk", data={"username": "sari", "password": password}).status_code == 302
    (event,) = [e for e in _events(system, "user_created") if '"sari"' in e.payload]
    assert event.actor == "root" and password not in event.payload
    assert '"groups":["admin_medsos","tim_pelaksana"]' in event.payload


def test_create_user_with_given_password_and_new_team(system, admin_client, app):
    resp = admin_client.post("/admin/pengguna", data={
        "username": "budi.s", "groups": ["tim_pelaksana"], "team": "", "new_team_code": "hukum",
        "new_team_name": "Divisi Hukum", "password": "kata-sandi-budi"})
    assert resp.status_code == 201
    assert b'class="secret"' not in resp.data and b"kata-sandi-budi" not in resp.data
    budi = _get(system, "budi.s")
    assert budi.team.code == "hukum" and budi.team.name == "Divisi Hukum"
    assert [e for e in _events(system, "team_created") if '"hukum"' in e.payload]
    c = app.test_client()
    assert c.post("/masuk", data={"username": "budi.s", "password": "kata-sandi-budi"}).status_code == 302


@pytest.mark.parametrize("data, field, message", [
    ({"username": "", "roles": ["auditor"]}, "username", "wajib diisi"),
    ({"username": "ada spasi", "roles": ["auditor"]}, "username", "hanya boleh berisi"),
    ({"username": "tim", "roles": ["auditor"]}, "username", "sudah dipakai"),
    ({"username": "baru", "roles": []}, "roles", "setidaknya satu peran atau grup"),
    ({"username": "baru", "roles": ["raja"]}, "roles", "Peran tidak dikenal: raja"),
    ({"username": "baru", "roles": ["tim_pelaksana"]}, "roles", "Peran tidak dikenal: tim_pelaksana"),
    ({"username": "baru", "groups": ["raja"]}, "groups", "Grup tidak dikenal: raja"),
    ({"username": "baru", "groups": ["tim_pelaksana"], "team": ""}, "team", "harus masuk satu tim"),
    ({"username": "baru", "roles": ["auditor"], "team": "tidak-ada"}, "team", "Tim tidak dikenal"),
    ({"username": "x" * 101, "roles": ["auditor"]}, "username", "Paling banyak 100 karakter"),
    ({"username": "baru", "roles": ["auditor"], "email": "bukan-surel"}, "email", "tidak sah"),
    ({"username": "baru", "roles": ["auditor"], "password": "pendek"}, "password", "minimal 8"),
    ({"username": "baru", "groups": ["tim_pelaksana"], "new_team_code": "humas", "new_team_name": "X"},
     "new_team_code", "sudah dipakai"),
    ({"username": "baru", "groups": ["tim_pelaksana"], "team": "humas", "new_team_code": "baru",
      "new_team_name": "Baru"}, "new_team_code", "tidak keduanya"),
    ({"username": "baru", "groups": ["tim_pelaksana"], "new_team_code": "Huruf Besar", "new_team_name": "X"},
     "new_team_code", "huruf kecil"),
    ({"username": "baru", "groups": ["tim_pelaksana"], "new_team_code": "baru"}, "new_team_name", "wajib diisi"),
])
def test_create_user_invalid_is_422_inline_and_changes_nothing(system, admin_client, data, field, message):
    before_users = _count_users(system)
    before_events = len(_events(system, "user_created")) + len(_events(system, "team_created"))
    resp = admin_client.post("/admin/pengguna", data={"team": "", **data})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    m = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', html)
    assert m, html[-3000:]
    assert message in m[1]
    assert f'id="{field}"' in html or f'name="{field}"' in html
    assert 'aria-invalid="true"' in html
    assert _count_users(system) == before_users
    assert len(_events(system, "user_created")) + len(_events(system, "team_created")) == before_events


def test_edit_roles_groups_team_and_profile(system, admin_client):
    tim = _get(system, "tim")
    page = admin_client.get(f"/admin/pengguna/{tim.id}")
    assert page.status_code == 200 and b'value="tim_pelaksana" checked' in page.data
    assert b'value="wapimred">' in page.data  # a group the user is not in: unticked
    resp = admin_client.post(f"/admin/pengguna/{tim.id}", data={
        "full_name": "Tim Satu", "email": "tim@example.org", "roles": ["auditor"],
        "groups": ["tim_pelaksana", "wapimred"], "team": "teknis"})
    assert resp.status_code == 302
    tim = _get(system, "tim")
    assert tim.roles == {"auditor"} and tim.group_codes == {"tim_pelaksana", "wapimred"}
    assert tim.team.code == "teknis" and tim.full_name == "Tim Satu" and tim.email == "tim@example.org"
    (role_event,) = _events(system, "role_changed")
    assert role_event.actor == "root" and '"to":["auditor"]' in role_event.payload
    (group_event,) = _events(system, "group_changed")
    assert group_event.actor == "root" and '"from":["tim_pelaksana"]' in group_event.payload
    assert '"to":["tim_pelaksana","wapimred"]' in group_event.payload
    (team_event,) = _events(system, "team_changed")
    assert '"from":"humas"' in team_event.payload and '"to":"teknis"' in team_event.payload
    assert "tim@example.org" not in _events(system, "profile_changed")[0].payload
    # Saving again without changes writes no new events.
    admin_client.post(f"/admin/pengguna/{tim.id}", data={
        "full_name": "Tim Satu", "email": "tim@example.org", "roles": ["auditor"],
        "groups": ["tim_pelaksana", "wapimred"], "team": "teknis"})
    assert len(_events(system, "role_changed")) == 1 and len(_events(system, "team_changed")) == 1
    assert len(_events(system, "group_changed")) == 1
    # Out of every group and role: refused, nothing changes.
    resp = admin_client.post(f"/admin/pengguna/{tim.id}", data={"team": "teknis"})
    assert resp.status_code == 422 and "setidaknya satu peran atau grup" in resp.get_data(as_text=True)
    assert _get(system, "tim").group_codes == {"tim_pelaksana", "wapimred"}


def test_edit_invalid_is_422(system, admin_client):
    tim = _get(system, "tim")
    resp = admin_client.post(f"/admin/pengguna/{tim.id}", data={"groups": ["tim_pelaksana"], "team": ""})
    assert resp.status_code == 422 and b"harus masuk satu tim" in resp.data
    assert _get(system, "tim").team.code == "humas"
    assert admin_client.get("/admin/pengguna/999999").status_code == 404


def test_admin_cannot_remove_own_admin_role_or_deactivate_self(system, admin_client):
    root = _get(system, "root")
    resp = admin_client.post(f"/admin/pengguna/{root.id}", data={"roles": ["auditor"], "team": ""})
    assert resp.status_code == 403 and "mencabut peran Administrator" in resp.get_data(as_text=True)
    assert _get(system, "root").roles == {"admin"}
    resp = admin_client.post(f"/admin/pengguna/{root.id}/status", data={"active": "0"})
    assert resp.status_code == 403 and "menonaktifkan akun Anda sendiri" in resp.get_data(as_text=True)
    assert _get(system, "root").active
    # Adding a role to oneself is fine.
    assert admin_client.post(f"/admin/pengguna/{root.id}", data={
        "roles": ["admin", "auditor"], "team": ""}).status_code == 302
    assert _get(system, "root").roles == {"admin", "auditor"}
    assert not _events(system, "user_deactivated")


def test_service_refuses_self_lockout_too(system, tx):
    from process.errors import NotPermitted

    make_users(system, tx)
    with tx() as s:
        root = system.people.add_user(s, "root", "rahasia-root", ["admin"])
    with pytest.raises(NotPermitted), tx() as s:
        me = user(s, "root")
        system.people.deactivate(s, me, by=me)
    with pytest.raises(NotPermitted), tx() as s:
        me = user(s, "root")
        system.people.set_roles(s, me, ["auditor"], by=me)
    assert _get(system, "root").active and _get(system, "root").roles == {"admin"} and root.id


def test_deactivate_ends_sessions_and_reactivate(system, admin_client, login):
    tim_client = login("tim")
    assert tim_client.get("/admin/pengguna").status_code == 403  # logged in (403, not a redirect)
    tim = _get(system, "tim")
    resp = admin_client.post(f"/admin/pengguna/{tim.id}/status", data={"active": "0"})
    assert resp.status_code == 302
    assert not _get(system, "tim").active
    assert tim_client.get("/admin/pengguna").status_code == 302  # session no longer valid
    c = admin_client.application.test_client()
    bad = c.post("/masuk", data={"username": "tim", "password": "rahasia-tim"})
    assert bad.status_code == 401
    assert admin_client.post(f"/admin/pengguna/{tim.id}/status", data={"active": "1"}).status_code == 302
    assert _get(system, "tim").active
    assert c.post("/masuk", data={"username": "tim", "password": "rahasia-tim"}).status_code == 302
    assert [e.actor for e in _events(system, "user_deactivated")] == ["root"]
    assert len(_events(system, "user_activated")) == 1
    assert admin_client.post(f"/admin/pengguna/{tim.id}/status", data={"active": "x"}).status_code == 422


def test_deactivating_a_user_gives_their_claimed_tasks_back_to_the_lane(system, tx, admin_client):
    from engine.models import TaskRow
    from tests.factories import Case

    case = Case.start(system, tx, tim="humas")
    with tx() as s:
        system.tasks.claim(s, user(s, "tim"), case.task_id)
    tim = _get(system, "tim")
    assert admin_client.post(f"/admin/pengguna/{tim.id}/status", data={"active": "0"}).status_code == 302
    with system.sessions() as s:
        assert s.get(TaskRow, case.task_id).claimed_by is None
    (event,) = _events(system, "user_deactivated")
    assert case.task_id in event.payload
    case.do("tim2", "submit")  # a colleague can take it over


def test_reset_password_shows_new_one_once_and_ends_other_sessions(system, admin_client, login, app):
    tim_client = login("tim")
    tim = _get(system, "tim")
    resp = admin_client.post(f"/admin/pengguna/{tim.id}/sandi")
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    password = _password_on(resp.data)
    assert tim_client.get("/admin/pengguna").status_code == 302  # old session ended
    c = app.test_client()
    assert c.post("/masuk", data={"username": "tim", "password": "rahasia-tim"}).status_code == 401
    assert c.post("/masuk", data={"username": "tim", "password": password}).status_code == 302
    (event,) = _events(system, "password_reset")
    assert event.actor == "root" and password not in event.payload


def test_reset_own_password_keeps_this_session(system, admin_client):
    root = _get(system, "root")
    resp = admin_client.post(f"/admin/pengguna/{root.id}/sandi")
    assert resp.status_code == 200
    assert admin_client.get("/admin/pengguna").status_code == 200


def test_teams_page_add_and_duplicate(system, admin_client):
    page = admin_client.get("/admin/tim")
    assert page.status_code == 200 and b"Divisi Humas" in page.data
    resp = admin_client.post("/admin/tim", data={"code": "hukum", "name": "Divisi Hukum"})
    assert resp.status_code == 302
    with system.sessions() as s:
        assert s.execute(select(Team).where(Team.code == "hukum")).scalar_one().name == "Divisi Hukum"
    dup = admin_client.post("/admin/tim", data={"code": "hukum", "name": "Lagi"})
    assert dup.status_code == 422 and "sudah dipakai" in dup.get_data(as_text=True)
    bad = admin_client.post("/admin/tim", data={"code": "", "name": ""})
    assert bad.status_code == 422 and bad.data.count(b'class="field-error"') == 2
    assert len(_events(system, "team_created")) == 1


def test_groups_page_add_rename_and_members(system, admin_client, login):
    page = admin_client.get("/admin/grup").get_data(as_text=True)
    # Each group with the lanes it works and its active members.
    row = re.search(r"<tr>\s*<td[^>]*><a[^>]*><code>admin_medsos</code></a></td>.*?</tr>", page, re.S)[0]
    assert "Admin Medsos" in row and '<td data-label="Anggota aktif">1</td>' in row
    resp = admin_client.post("/admin/grup", data={"code": "humas", "name": "Humas"})
    assert resp.status_code == 302
    for data, field, message in (({"code": "humas", "name": "Lain"}, "code", "sudah dipakai"),
                                 ({"code": "lain", "name": "HUMAS"}, "name", "sudah dipakai"),
                                 ({"code": "Lain-1", "name": "Lain"}, "code", "diawali huruf kecil"),
                                 ({"code": "", "name": ""}, "code", "wajib diisi")):
        bad = admin_client.post("/admin/grup", data=data)
        assert bad.status_code == 422, data
        m = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', bad.get_data(as_text=True))
        assert m and message in m[1], (data, bad.get_data(as_text=True)[-2000:])
    with system.sessions() as s:
        group = system.people.find_group(s, "humas")
        admin_id = user(s, "admin").id
    # Membership is edited on the user's page.
    assert admin_client.post(f"/admin/pengguna/{admin_id}", data={
        "groups": ["admin_medsos", "humas"], "team": ""}).status_code == 302
    assert _get(system, "admin").group_codes == {"admin_medsos", "humas"}
    one = admin_client.get(f"/admin/grup/{group.id}").get_data(as_text=True)
    assert f'href="/admin/pengguna/{admin_id}">admin</a>' in one and "Belum ada lajur diagram" in one
    renamed = admin_client.post(f"/admin/grup/{group.id}", data={"name": "Admin  medsos"})
    assert renamed.status_code == 422 and "sudah dipakai" in renamed.get_data(as_text=True)
    assert admin_client.post(f"/admin/grup/{group.id}", data={"name": "Hubungan Masyarakat"}).status_code == 302
    with system.sessions() as s:
        assert system.people.find_group(s, "humas").name == "Hubungan Masyarakat"
    (event,) = _events(system, "group_renamed")
    assert event.actor == "root" and '"to":"Hubungan Masyarakat"' in event.payload
    assert [e.actor for e in _events(system, "group_created")][-1] == "root"
    assert _events(system, "group_changed")[-1].actor == "root"
    assert admin_client.get("/admin/grup/999999").status_code == 404
    for who in ("owner", "admin", "pimred"):
        c = login(who)
        assert c.get("/admin/grup").status_code == 403
        assert c.post("/admin/grup", data={"code": "x", "name": "X"}).status_code == 403
        assert c.post(f"/admin/grup/{group.id}", data={"name": "Y"}).status_code == 403


def test_members_are_added_and_removed_on_the_group_page(system, admin_client, login):
    """The group a process owner created for a new lane gets its members on its own page; a group that works a
    team-only lane takes only people with a team; nobody is left with neither role nor group."""
    with system.sessions() as s:
        humas = system.people.add_group(s, "humas", "Humas")
        s.commit()
        humas_id, tim_id = humas.id, system.people.find_group(s, "tim_pelaksana").id
        wapimred_id = user(s, "wapimred").id
    page = admin_client.get(f"/admin/grup/{humas_id}").get_data(as_text=True)
    assert "Grup ini belum memiliki anggota." in page and '<option value="wapimred">wapimred</option>' in page
    added = admin_client.post(f"/admin/grup/{humas_id}/anggota", data={"username": "wapimred"})
    assert added.status_code == 302 and added.headers["Location"].endswith(f"/admin/grup/{humas_id}#anggota")
    assert _get(system, "wapimred").group_codes == {"wapimred", "humas"}
    assert _events(system, "group_changed")[-1].actor == "root"
    page = admin_client.get(f"/admin/grup/{humas_id}").get_data(as_text=True)
    assert f'href="/admin/pengguna/{wapimred_id}">wapimred</a>' in page
    assert '<option value="wapimred">' not in page  # a member is not offered again
    for data, message in (({"username": ""}, "Pilih pengguna"), ({"username": "siapa"}, "tidak dikenal")):
        bad = admin_client.post(f"/admin/grup/{humas_id}/anggota", data=data)
        assert bad.status_code == 422 and message in bad.get_data(as_text=True)
    # Tim Pelaksana works a lane only for the case's team: someone without a team is refused.
    scoped = admin_client.post(f"/admin/grup/{tim_id}/anggota", data={"username": "wapimred"})
    assert scoped.status_code == 422 and "harus masuk satu tim" in scoped.get_data(as_text=True)
    assert "tim_pelaksana" not in _get(system, "wapimred").group_codes

    removed = admin_client.post(f"/admin/grup/{humas_id}/anggota/{wapimred_id}/keluarkan")
    assert removed.status_code == 302 and _get(system, "wapimred").group_codes == {"wapimred"}
    with system.sessions() as s:
        pimred_id = user(s, "pimred").id
        pimred_group = system.people.find_group(s, "pimred").id
    last = admin_client.post(f"/admin/grup/{pimred_group}/anggota/{pimred_id}/keluarkan")
    assert last.status_code == 422 and _get(system, "pimred").group_codes == {"pimred"}  # its only group
    c = login("owner")
    assert c.post(f"/admin/grup/{humas_id}/anggota", data={"username": "wapimred"}).status_code == 403
    assert c.post(f"/admin/grup/{humas_id}/anggota/{wapimred_id}/keluarkan").status_code == 403


def test_admin_pages_in_english(admin_client):
    admin_client.get("/bahasa/en")
    assert admin_client.get("/admin/pengguna").status_code == 200
    assert admin_client.get("/admin/tim").status_code == 200
    page = admin_client.get("/admin/grup").get_data(as_text=True)
    assert "<h2>Add group</h2>" in page and "Active members" in page


# ------------------------------------------------------------------------------ CLI
@pytest.fixture
def cli(system, settings, monkeypatch, tmp_path):
    from click.testing import CliRunner

    from ops.cli import main

    monkeypatch.setenv("ALUR_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ALUR_FILES_DIR", str(settings.files_dir))
    monkeypatch.setenv("ALUR_INSTANCE_DIR", str(tmp_path / "instance"))
    runner = CliRunner()
    return lambda *args, **kw: runner.invoke(main, list(args), catch_exceptions=False, **kw)


def test_init_db_demo_creates_one_account_per_role_once(cli, system, tmp_path, app):
    from ops.cli import DEMO_ACCOUNTS, DEMO_URL

    out = cli("init-db", "--demo")
    assert out.exit_code == 0, out.output
    assert DEMO_URL in out.output
    path = tmp_path / "instance" / "demo-credentials.txt"
    assert path.stat().st_mode & 0o777 == 0o600
    text = path.read_text()
    assert DEMO_URL in text
    creds = dict(re.findall(r"^  (\S+) .*?  (\S+)$", text, re.M)[1:])  # skip the header row
    table = text.splitlines()[2:]  # the columns line up, however long a username is
    assert len({re.match(r"  \S+ +", line).end() for line in table}) == 1, text
    assert len({line.rindex(" ") for line in table}) == 1, text
    # one account per application role, and one per group of a lane of each bundled procedure (from the diagrams)
    assert {u for u, *_ in DEMO_ACCOUNTS} == {"pemilik", "auditor", "admin"}
    assert set(creds) == {"tim.pelaksana", "admin.medsos", "wapimred", "pimred", "petugas.informasi", "ppid",
                          "atasan.ppid", "pemilik", "auditor", "admin"}
    for username, password in creds.items():
        assert password in out.output  # printed once...
        c = app.test_client()  # ...and each one logs in
        assert c.post("/masuk", data={"username": username, "password": password}).status_code == 302, username
    with system.sessions() as s:
        roles = {u.username: (set(u.roles) | set(u.group_codes), u.team.code if u.team else None)
                 for u in s.execute(select(User)).scalars()}
        team = s.execute(select(Team).where(Team.code == "humas")).scalar_one()
    assert roles["tim.pelaksana"] == ({"tim_pelaksana"}, "humas") and roles["pemilik"] == ({"process_owner"}, None)
    assert roles["ppid"] == ({"ppid"}, None) and roles["atasan.ppid"] == ({"atasan_ppid"}, None)
    assert roles["petugas.informasi"] == ({"petugas_informasi"}, None)
    assert roles["admin"] == ({"admin"}, None) and roles["admin.medsos"] == ({"admin_medsos"}, None)
    assert team.name == "Divisi Sosialisasi, Pendidikan Pemilih, Partisipasi Masyarakat dan SDM"

    again = cli("init-db", "--demo")
    assert again.exit_code == 0 and str(path) in again.output
    assert not any(pw in again.output for pw in creds.values())
    assert path.read_text() == text and _count_users(system) == len(creds)


def test_init_db_demo_leaves_an_existing_user_base_alone(cli, system, tmp_path):
    cli("init-db")
    added = cli("user", "add", "budi", "--role", "admin", "--password-stdin", input="kata-sandi-panjang\n")
    assert added.exit_code == 0
    out = cli("init-db", "--demo")
    assert out.exit_code == 0 and "no demo accounts" in out.output
    assert not (tmp_path / "instance" / "demo-credentials.txt").exists()
    assert _count_users(system) == 1


def test_init_db_demo_replaces_a_stale_credentials_file(cli, system, tmp_path):
    path = tmp_path / "instance" / "demo-credentials.txt"
    path.parent.mkdir(parents=True)
    path.write_text("old\n")
    assert cli("init-db", "--demo").exit_code == 0
    assert "old" not in path.read_text() and path.stat().st_mode & 0o777 == 0o600


def test_cli_user_deactivate_passwd_list(cli, system, app):
    cli("init-db")
    cli("user", "add", "budi", "--group", "tim_pelaksana", "--team", "humas", "--full-name", "Budi",
        "--password-stdin", input="kata-sandi-panjang\n")
    listing = cli("user", "list")
    assert listing.exit_code == 0
    assert re.search(r"^budi\s+active\s+-\s+tim_pelaksana\s+humas\s+Budi$", listing.output, re.M), listing.output

    out = cli("user", "passwd", "budi", "--password-stdin", input="sandi-baru-budi\n")
    assert out.exit_code == 0, out.output
    c = app.test_client()
    assert c.post("/masuk", data={"username": "budi", "password": "kata-sandi-panjang"}).status_code == 401
    assert c.post("/masuk", data={"username": "budi", "password": "sandi-baru-budi"}).status_code == 302
    assert cli("user", "passwd", "budi", "--password-stdin", input="pendek\n").exit_code != 0
    assert cli("user", "passwd", "budi", input="sandi-baru-budi\n").exit_code != 0
    assert cli("user", "passwd", "siapa", "--password-stdin", input="sandi-baru-budi\n").exit_code != 0

    assert cli("user", "deactivate", "budi").exit_code == 0
    assert re.search(r"^budi\s+INACTIVE", cli("user", "list").output, re.M)
    assert c.get("/masuk").status_code == 200
    assert app.test_client().post("/masuk", data={"username": "budi", "password": "sandi-baru-budi"}
                                  ).status_code == 401
    missing = cli("user", "deactivate", "siapa")
    assert missing.exit_code != 0 and "tidak ditemukan" in missing.output
    assert [e.actor for e in _events(system, "user_deactivated")] == ["cli"]
    assert [e.actor for e in _events(system, "password_reset")] == ["cli"]

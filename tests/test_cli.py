"""The `alur` command line, end to end on the test database."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from engine.models import EventRow, Instance
from process.models import User


def _user(system, name: str) -> User:
    with system.sessions() as s:
        return s.execute(select(User).where(User.username == name)).scalar_one()


def test_init_db_and_user_add(cli, system):
    assert "version 1" in cli("init-db").output
    out = cli("user", "add", "budi", "--group", "tim_pelaksana", "--team", "humas", "--password-stdin",
              input="kata-sandi-panjang\n")
    assert out.exit_code == 0, out.output
    assert "groups tim_pelaksana" in out.output and "deprecated" not in out.output
    budi = _user(system, "budi")
    assert budi.roles == set() and budi.group_codes == {"tim_pelaksana"} and budi.team.code == "humas"
    assert "kata-sandi" not in budi.password_hash
    again = cli("user", "add", "budi", "--role", "admin", "--password-stdin", input="kata-sandi-panjang\n")
    assert again.exit_code != 0 and "sudah dipakai" in again.output
    short = cli("user", "add", "ani", "--role", "admin", "--password-stdin", input="pendek\n")
    assert short.exit_code != 0 and "minimal 8" in short.output
    bad_role = cli("user", "add", "ani", "--role", "raja", "--password-stdin", input="kata-sandi-panjang\n")
    assert bad_role.exit_code != 0 and "unknown role 'raja'" in bad_role.output
    nothing = cli("user", "add", "ani", "--password-stdin", input="kata-sandi-panjang\n")
    assert nothing.exit_code != 0 and "--role or --group" in nothing.output
    unknown = cli("user", "add", "ani", "--group", "tidak_ada", "--password-stdin", input="kata-sandi-panjang\n")
    assert unknown.exit_code != 0 and "tidak_ada" in unknown.output


def test_a_staff_role_given_to_role_is_taken_as_its_group(cli, system):
    """Old scripts keep working: ``--role admin_medsos`` makes the user a member of the group admin_medsos, with a
    note that the option is deprecated for it."""
    cli("init-db")
    out = cli("user", "add", "sari", "--role", "admin_medsos", "--role", "auditor", "--password-stdin",
              input="kata-sandi-panjang\n")
    assert out.exit_code == 0, out.output
    assert "--role admin_medsos is deprecated" in out.output and "--group admin_medsos" in out.output
    sari = _user(system, "sari")
    assert sari.roles == {"auditor"} and sari.group_codes == {"admin_medsos"}
    with system.sessions() as s:
        assert system.rules.lane_map(s).lanes_of(sari) == {"Admin Medsos"}


def test_group_add_list_members(cli, system):
    cli("init-db")
    for name in ("ani", "budi"):
        assert cli("user", "add", name, "--role", "auditor", "--password-stdin",
                   input="kata-sandi-panjang\n").exit_code == 0
    out = cli("group", "add", "humas", "Humas")
    assert out.exit_code == 0 and "group humas (Humas) added" in out.output, out.output
    assert cli("group", "add", "humas", "Humas Lagi").exit_code != 0  # the code is taken
    taken = cli("group", "add", "humas2", "humas")
    assert taken.exit_code != 0 and "sudah dipakai" in taken.output  # so is the name (compared case-blind)
    bad = cli("group", "add", "1humas", "Humas Satu")
    assert bad.exit_code != 0 and "huruf kecil" in bad.output
    out = cli("group", "members", "humas", "--add", "ani", "--add", "budi")
    assert out.exit_code == 0 and out.output.strip() == "group humas: ani, budi", out.output
    out = cli("group", "members", "humas", "--remove", "budi")
    assert out.output.strip() == "group humas: ani"
    assert cli("group", "members", "humas").output.strip() == "group humas: ani"
    assert cli("group", "members", "tidak_ada").exit_code != 0
    assert cli("group", "members", "humas", "--add", "siapa").exit_code != 0
    listing = cli("group", "list").output
    assert re.search(r"^humas\s+Humas\s+-\s+ani$", listing, re.M), listing  # no lane of the diagram is Humas
    # init-db gave every lane of the bundled procedures its group (code from the diagram, named as the lane)
    assert re.search(r"^admin_medsos\s+Admin Medsos\s+Admin Medsos\s+-$", listing, re.M), listing
    assert re.search(r"^atasan_ppid\s+Atasan PPID\s+Atasan PPID\s+-$", listing, re.M), listing
    assert cli("group", "add", "medsos", "admin  MEDSOS").exit_code != 0  # a lane's group has that name already
    with system.sessions() as s:
        events = [(e.type, e.actor) for e in s.execute(select(EventRow).where(
            EventRow.type.in_(("group_created", "group_changed"))).order_by(EventRow.seq)).scalars()]
    assert events == [("group_created", "system")] * 7 + [("group_created", "cli")] + [("group_changed", "cli")] * 3


def test_simulate_and_worker(cli, system):
    cli("init-db")
    out = cli("simulate", "--cases", "6", "--revisions", "1")
    assert out.exit_code == 0, out.output
    m = re.search(r"simulated 6 cases: (\d+) published, (\d+) rejected, (\d+) overdue", out.output)
    assert m and int(m[1]) + int(m[2]) == 6
    with system.sessions() as s:
        statuses = [i.status for i in s.execute(select(Instance)).scalars()]
        assert statuses == ["completed"] * 6
    assert cli("worker", "--once").exit_code == 0
    assert "intact" in cli("audit", "verify").output


@pytest.mark.slow
def test_bench_quick_writes_its_figures(cli, tmp_path):
    """`alur bench --quick` (the CI smoke check, about a minute) writes every figure of the issue; the PostgreSQL
    ones are there too (None: --quick runs on SQLite only). Times are printed, never asserted."""
    from bench.runner import KEYS

    out_file = tmp_path / "bench.json"
    result = cli("bench", "--quick", "--json", str(out_file))
    assert result.exit_code == 0, result.output
    import json

    figures = json.loads(out_file.read_text())
    for key in KEYS:
        assert isinstance(figures[key], (int, float)) and figures[key] > 0, key
        assert f"{key}_pg" in figures and figures[f"{key}_pg"] is None, key
    assert figures["http_errors"] == 0
    assert "inbox_p95_ms (lane query)" in result.output and "bulk cases" in result.output
    # Issue 19: the idle worker at 0 and 10,000 waiting cases (not 100,000 in a quick run; its CPU may be 0), the
    # whole case over HTTP with one and four clients, the web processes' memory afterwards.
    from bench.runner import IDLE_KEYS, WHOLE_CASE_KEYS

    for key in IDLE_KEYS:
        expected = (type(None),) if key.endswith("_100k") else (int, float)
        assert isinstance(figures[key], expected) and (figures[key] is None or figures[key] >= 0), key
        assert figures[f"{key}_pg"] is None, key
    for key in WHOLE_CASE_KEYS:
        assert isinstance(figures[key], (int, float)) and figures[key] > 0, key
        assert figures[f"{key}_pg"] is None, key
    assert figures["whole_case_errors"] == 0
    assert figures["whole_case_in_process_ms"] > 0 and figures["machine"]["python_loop_ms"] > 0
    assert "idle worker CPU s per 120 s, 10,000 cases" in result.output and "scaled to 120 s" in result.output
    assert "whole_case_median_ms" in result.output

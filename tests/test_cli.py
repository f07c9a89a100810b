"""The `alur` command line, end to end on the test database."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from engine.models import Instance
from process.models import User


def test_init_db_and_user_add(cli, system):
    assert "version 1" in cli("init-db").output
    out = cli("user", "add", "budi", "--role", "tim_pelaksana", "--team", "humas", "--password-stdin",
              input="kata-sandi-panjang\n")
    assert out.exit_code == 0, out.output
    with system.sessions() as s:
        budi = s.execute(select(User).where(User.username == "budi")).scalar_one()
        assert budi.roles == {"tim_pelaksana"} and budi.team.code == "humas"
        assert "kata-sandi" not in budi.password_hash
    again = cli("user", "add", "budi", "--role", "admin", "--password-stdin", input="kata-sandi-panjang\n")
    assert again.exit_code != 0 and "sudah dipakai" in again.output
    short = cli("user", "add", "ani", "--role", "admin", "--password-stdin", input="pendek\n")
    assert short.exit_code != 0 and "minimal 8" in short.output
    bad_role = cli("user", "add", "ani", "--role", "raja", "--password-stdin", input="kata-sandi-panjang\n")
    assert bad_role.exit_code != 0


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

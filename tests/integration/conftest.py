"""Live tests: the real processes (``alur serve`` with gunicorn, ``alur worker --loop``) on 127.0.0.1 against a
fresh PostgreSQL database of their own per test (bench/livestack.py), whatever database the rest of the suite
uses. PostgreSQL is the server of ALUR_TEST_DATABASE_URL when that is PostgreSQL, else
postgresql://postgres@127.0.0.1:5432/postgres; the tests are skipped, saying why, when it does not answer.

The figures the tests measure are printed in a "live figures" section at the end of the pytest run and written
to test-artifacts/live-figures.txt.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.livestack import LocalStack, postgres_reachable

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PG_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
FIGURES: list[str] = []


def pg_server_url() -> str:
    url = os.environ.get("ALUR_TEST_DATABASE_URL", "")
    return url if url.startswith(("postgresql", "postgres:")) else DEFAULT_PG_SERVER


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def pytest_terminal_summary(terminalreporter):
    if not FIGURES:
        return
    terminalreporter.section("live figures (tests/integration)")
    for line in FIGURES:
        terminalreporter.write_line(line)
    out = ROOT / "test-artifacts" / "live-figures.txt"
    out.parent.mkdir(exist_ok=True)
    out.write_text("\n".join(FIGURES) + "\n")


@pytest.fixture
def figures():
    """``figures("race: ...")`` records a line for the end-of-run summary (and prints it)."""

    def record(line: str) -> None:
        print(line)
        FIGURES.append(line)

    return record


@pytest.fixture(scope="session")
def pg_server() -> str:
    url = pg_server_url()
    reason = postgres_reachable(url)
    if reason:
        pytest.skip(f"live tests need PostgreSQL at {url.split('@')[-1]}: not reachable ({reason})")
    return url


@pytest.fixture
def live_stack(pg_server, tmp_path, request):
    """``live_stack(**options)`` → a set-up LocalStack on a fresh PostgreSQL database; always stopped (processes
    ended, database dropped) after the test, with the tails of its logs printed when the test failed."""
    stacks: list[LocalStack] = []

    def make(database: str = "postgresql", **options) -> LocalStack:
        """``database="sqlite"``: the stack on a SQLite file of its own instead."""
        stack = LocalStack(pg_server if database == "postgresql" else "sqlite", tmp_path / f"stack{len(stacks) + 1}",
                           **options)
        stacks.append(stack)
        stack.setup()
        return stack

    yield make
    failed = any(getattr(getattr(request.node, f"report_{when}", None), "failed", False)
                 for when in ("setup", "call"))
    for stack in stacks:
        if failed:
            print(stack.log_tails(60))
        stack.stop()

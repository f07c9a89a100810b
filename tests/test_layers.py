"""The layering is enforced: bench → ops → webui → process → engine, and only the transaction scope commits."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.nodb  # import-linter and source scans on copies of the tree: no database

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "process", "webui", "ops", "bench")


def test_import_contracts_hold():
    """import-linter checks the contracts in pyproject.toml (engine knows no Flask nor process, ...)."""
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _copy_of_the_tree(dest: Path) -> Path:
    """The packages (Python files only) and pyproject.toml, so lint-imports reads the real contracts."""
    for layer in PACKAGES:
        for path in (ROOT / layer).rglob("*.py"):
            target = dest / path.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    (dest / "pyproject.toml").write_bytes((ROOT / "pyproject.toml").read_bytes())
    return dest


@pytest.mark.parametrize("module, line", [
    ("engine/_crossing.py", "import process.tasks\n"),      # engine knows no SOP
    ("engine/_crossing.py", "from flask import Flask\n"),      # engine knows no Flask
    ("engine/_crossing.py", "import webui.db\n"),              # nor the web layer
    ("process/_crossing.py", "import flask\n"),                # process knows no Flask
    ("process/_crossing.py", "from webui import create_app\n"),  # layers point one way
    ("process/_crossing.py", "import click\n"),                # no command line below ops
    ("process/_crossing.py", "from ops.schema import upgrade\n"),  # nor operations
    ("webui/_crossing.py", "from ops.backup import backup\n"),  # webui is HTTP only
    ("webui/_crossing.py", "import alembic\n"),                # no migrations in the web layer
    ("webui/_crossing.py", "import gunicorn.app.base\n"),      # nor the server
    ("ops/_crossing.py", "import bench.runner\n"),             # nothing shipped imports the benchmarks
    ("engine/_crossing.py", "import ops.cli\n"),
])
def test_a_crossing_breaks_the_real_contracts(tmp_path, module, line):
    """pyproject.toml's own contracts fail on a crossing injected into a copy of the tree (so the test above
    can fail), and hold on the copy before the crossing is added."""
    tree = _copy_of_the_tree(tmp_path / "proj")
    lint = Path(sys.executable).with_name("lint-imports")
    env = {"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"}

    def run():
        return subprocess.run([str(lint), "--no-cache"], cwd=tree, capture_output=True, text=True, env=env)

    clean = run()
    assert clean.returncode == 0, clean.stdout + clean.stderr
    (tree / module).write_text(line)
    crossed = run()
    assert crossed.returncode != 0, crossed.stdout
    assert "BROKEN" in crossed.stdout


COMMIT = re.compile(r"\.commit\(\)")
#: The only places that end a unit of work: the CLI/test scope and the per-request scope. (engine/sqlite_turns.py
#: ends none: its connection class wraps the driver's own commit, which those scopes call, to give the turn back.)
TRANSACTION_SCOPES = {"engine/db.py", "webui/db.py", "engine/sqlite_turns.py"}


def test_nothing_commits_outside_the_transaction_scope():
    offenders = []
    for layer in PACKAGES:
        for path in (ROOT / layer).rglob("*.py"):
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if COMMIT.search(line) and path.relative_to(ROOT).as_posix() not in TRANSACTION_SCOPES:
                    offenders.append(f"{path.relative_to(ROOT)}:{n}")
    assert offenders == []


def test_engine_reads_no_wall_clock():
    offenders = [str(p) for p in (ROOT / "engine").rglob("*.py")
                 if re.search(r"datetime\.now\(|datetime\.utcnow\(|time\.time\(", p.read_text())
                 and p.name != "clock.py"]
    assert offenders == []


def test_ruff_clean():
    ruff = Path(sys.executable).with_name("ruff")
    proc = subprocess.run([str(ruff), "check", "--no-cache", *PACKAGES, "tests"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


def test_the_benchmarks_are_not_shipped_and_alur_bench_runs_from_the_checkout():
    """bench/ stays out of the wheel (pyproject's package list), and `alur bench` still finds it from a checkout."""
    import tomllib

    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    assert "bench" not in packages and not any(p.startswith("bench.") for p in packages)
    assert {"engine", "process", "webui", "ops"} <= set(packages)
    alur = Path(sys.executable).with_name("alur")
    proc = subprocess.run([str(alur), "bench", "--help"], cwd="/", capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "--quick" in proc.stdout

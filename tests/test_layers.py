"""The layering is enforced: webui → process → engine, and only the transaction scope commits."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    """import-linter checks the contracts in pyproject.toml (engine knows no Flask nor process, ...)."""
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_crossing_is_caught(tmp_path):
    """The checker itself fails when engine/ imports process/ (so the test above can fail)."""
    pkg = tmp_path / "proj"
    for name in ("engine", "process", "webui"):
        (pkg / name).mkdir(parents=True)
        (pkg / name / "__init__.py").write_text("")
    (pkg / "engine" / "bad.py").write_text("import process\n")
    (pkg / "setup.cfg").write_text(
        "[importlinter]\nroot_packages =\n    engine\n    process\n    webui\n"
        "[importlinter:contract:layers]\nname = layers\ntype = layers\nlayers =\n    webui\n    process\n    engine\n")
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(lint), "--no-cache", "--config", "setup.cfg"], cwd=pkg, capture_output=True,
                          text=True, env={"PYTHONPATH": str(pkg), "PATH": "/usr/bin:/bin"})
    assert proc.returncode != 0


COMMIT = re.compile(r"\.commit\(\)")
#: The only places that end a unit of work: the CLI/test scope and the per-request scope. (engine/sqlite_turns.py
#: ends none: its connection class wraps the driver's own commit, which those scopes call, to give the turn back.)
TRANSACTION_SCOPES = {"engine/db.py", "webui/db.py", "engine/sqlite_turns.py"}


def test_nothing_commits_outside_the_transaction_scope():
    offenders = []
    for layer in ("engine", "process", "webui"):
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
    proc = subprocess.run([str(ruff), "check", "engine", "process", "webui", "tests"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout

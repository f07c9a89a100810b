"""Shared pieces of `alur bench`: timers, percentiles, throw-away databases, peak memory."""
from __future__ import annotations

import gc
import statistics
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text

from engine.clock import ManualClock
from engine.db import make_engine
from ops.schema import init_database
from process.config import Settings
from process.deadlines import WIB
from process.system import System, build_system

#: Where the PostgreSQL parts run unless ``--database-url`` says otherwise (a fresh database is created there).
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
#: The simulated "now" every scenario starts at (in UTC, like the system clock in production).
START = datetime(2025, 5, 6, 8, 0, tzinfo=WIB).astimezone(UTC)


class Timings:
    """Wall-clock samples of a block: ``with timings(): ...``. With ``collect``, the garbage collector runs
    before each sample, so no sample pays for garbage another piece of code left behind."""

    def __init__(self, collect: bool = False):
        self.samples: list[float] = []
        self.collect = collect

    @contextmanager
    def __call__(self):
        if self.collect:
            gc.collect()
        started = time.perf_counter()
        yield
        self.samples.append(time.perf_counter() - started)

    def median_ms(self) -> float:
        return 1000 * statistics.median(self.samples)

    def p_ms(self, pct: float) -> float:
        return 1000 * percentile(self.samples, pct)


def percentile(samples: list[float], pct: float) -> float:
    """Linear-interpolated percentile (``pct`` in 0..100) of the samples."""
    if not samples:
        raise ValueError("no samples")
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[round(pct) - 1] if 0 < pct < 100 else (
        min(samples) if pct <= 0 else max(samples))


def python_loop_ms(rounds: int = 5) -> float:
    """How fast this machine runs plain Python now: the best of ``rounds`` timings of one fixed loop (a million
    additions and dict stores). Absolute targets (the whole case's 50 ms)
    were set on one machine; this figure, printed with every run, tells how another machine compares."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        store: dict[int, int] = {}
        total = 0
        for i in range(1_000_000):
            total += i
            store[i & 1023] = total
        best = min(best, time.perf_counter() - started)
    return round(1000 * best, 1)


def ms(seconds: float) -> float:
    return round(1000 * seconds, 3)


def bench_system(workdir: Path, url: str, clock: ManualClock | None = None) -> tuple[System, ManualClock]:
    """A migrated database with the bundled diagram deployed, on a manual clock."""
    clock = clock or ManualClock(START)
    settings = Settings(database_url=url, files_dir=workdir / "files")
    system = build_system(settings, clock)
    init_database(system)
    return system, clock


def sqlite_url(workdir: Path, name: str) -> str:
    return f"sqlite:///{workdir / name}.db"


def pg_reachable(url: str) -> str | None:
    """None when PostgreSQL answers at ``url``, else why not."""
    try:
        eng = make_engine(url, connect_args={"connect_timeout": 3})
        with eng.connect() as conn:
            conn.execute(text("SELECT 1"))
        eng.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not here"; the reason is printed
        return str(exc).splitlines()[0]


@contextmanager
def fresh_pg_database(server_url: str, label: str) -> Iterator[str]:
    """A new, empty database on the server of ``server_url``, dropped (even if in use) afterwards."""
    base = make_engine(server_url).url
    name = f"alur_bench_{label}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def peak_rss_mb(pid: int) -> float | None:
    """The peak resident set (VmHWM) of a live process, from /proc (Linux only)."""
    return proc_status_mb(pid, "VmHWM")


def proc_status_mb(pid: int, field: str) -> float | None:
    """A memory figure (VmHWM, VmRSS, ...) of a live process from /proc/PID/status, in MB (Linux only)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None

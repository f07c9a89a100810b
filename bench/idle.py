"""CPU of an idle ``alur worker --loop``: 0, 10,000 and 100,000 waiting cases, nothing due (issue 19).

Each size gets its own stack (:class:`LocalStack`: a fresh database, ``alur init-db``), seeded beforehand with
waiting cases whose timers and reminders are all in the future on the real clock (one real case at step 2 through
the service layer, then bulk copies of it, :mod:`bench.bulk`). Then one worker per stack starts, and all of them
(every size, SQLite and PostgreSQL) are measured side by side over one window: they are idle, that is the point.
Start-up is not counted: the window starts once every worker's CPU time has stopped moving (its first pass done,
asleep), and CPU is user + system time of the whole process (all its threads) from /proc/PID/stat.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from bench.livestack import LocalStack
from bench.sop import TASK_TERIMA
from engine.models import Instance
from process.models import DeadlineReminder

from .bulk import copies_of_one_case

#: The sizes measured (label in the key -> waiting cases); --quick leaves out the largest.
SIZES = {"0": 0, "10k": 10_000, "100k": 100_000}
QUICK_SIZES = {"0": 0, "10k": 10_000}
WINDOW_S = 120.0
QUICK_WINDOW_S = 10.0
#: The window starts when no worker's CPU time moved by more than this over the last second (or after SETTLE_MAX).
SETTLE_CPU_S = 0.02
SETTLE_MAX_S = 90.0
SHORTCUT = ("idle worker: waiting cases are one real case at step 2 copied in bulk (bench/bulk.py), every timer "
            "and reminder in the future; CPU = utime+stime of the worker process (all threads) from /proc, over one "
            "window shared by every size and database, counted from when all workers had settled after start-up")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a live process, all its threads (Linux /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def seed(stack: LocalStack, cases: int) -> None:
    """``cases`` cases waiting at step 2 (Admin Medsos), all their timers on the real clock in the future."""
    if not cases:
        return
    copies_of_one_case(stack.system(), TASK_TERIMA, cases - 1, seed=7)


def _earliest(stack: LocalStack):
    system = stack.system()
    with system.sessions() as session:
        timer = session.execute(select(func.min(Instance.next_timer_at))
                                .where(Instance.status == "running")).scalar()
        reminder = session.execute(select(func.min(DeadlineReminder.remind_at))).scalar()
        count = session.execute(select(func.count()).select_from(Instance)).scalar()
    times = [t for t in (timer, reminder) if t is not None]
    return (min(times) if times else None), count


def run(workdir: Path, urls: dict[str, str], *, quick: bool, log: Callable[[str], None] = print) -> dict:
    """``urls``: suffix ('' for SQLite, '_pg') -> database URL (a PostgreSQL URL names the server)."""
    sizes = QUICK_SIZES if quick else SIZES
    window = QUICK_WINDOW_S if quick else WINDOW_S
    figures: dict = {"idle_window_s": window, "idle_scaled_to_s": WINDOW_S}
    with ExitStack() as stacks:
        running: dict[str, LocalStack] = {}
        for suffix, url in urls.items():
            for label, cases in sizes.items():
                key = f"idle_worker_cpu_s_per_120s_{label}{suffix}"
                started = time.perf_counter()
                stack = stacks.enter_context(LocalStack(url, workdir / f"idle-{label}{suffix or '_sqlite'}"))
                seed(stack, cases)
                earliest, count = _earliest(stack)
                now = stack.system().clock.now()
                if earliest is not None and earliest <= now + timedelta(seconds=window + 120):
                    raise RuntimeError(f"{key}: something falls due at {earliest} during the window")
                figures[f"idle_cases_{label}{suffix}"] = count
                log(f"  {key}: {count:,} cases seeded in {time.perf_counter() - started:.0f} s")
                running[key] = stack
        for stack in running.values():
            stack.start_workers(1)
        pids = {key: stack.worker_pids()[0] for key, stack in running.items()}
        # Start-up (imports, the first pass, the hourly clean-up) is not counted: wait until every worker is still.
        settle_started = time.monotonic()
        time.sleep(2.0)
        last = {key: cpu_seconds(pid) for key, pid in pids.items()}
        while time.monotonic() - settle_started < SETTLE_MAX_S:
            time.sleep(1.0)
            now_cpu = {key: cpu_seconds(pid) for key, pid in pids.items()}
            moving = [k for k in pids if now_cpu[k] is None or last[k] is None or now_cpu[k] - last[k] > SETTLE_CPU_S]
            last = now_cpu
            if not moving:
                break
        figures["idle_settle_s"] = round(time.monotonic() - settle_started, 1)
        figures.update({f"idle_startup_cpu_s_{k.removeprefix('idle_worker_cpu_s_per_120s_')}": round(v, 2)
                        for k, v in last.items() if v is not None})
        t0 = time.monotonic()
        time.sleep(window)
        elapsed = time.monotonic() - t0
        for key, pid in pids.items():
            end = cpu_seconds(pid)
            if end is None or last[key] is None:
                raise RuntimeError(f"{key}: the worker exited during the window\n{running[key].log_tails()}")
            figures[key] = round((end - last[key]) * WINDOW_S / elapsed, 3)
    return figures

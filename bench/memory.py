"""Peak memory of `alur simulate`, and whether it grows with the number of cases (one run, sampled)."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from .common import proc_status_mb


def _cases_started(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute("SELECT count(*) FROM instance").fetchone()[0]
    except sqlite3.Error:
        return 0


#: Runs `alur simulate` and, as it exits, prints its own peak RSS from /proc (VmHWM is per address space and
#: starts again at exec; the rusage of a child would also count the parent it was forked from).
_CHILD = """
import atexit, sys

def _peak():
    for line in open("/proc/self/status"):
        if line.startswith(("VmHWM:", "VmRSS:")):
            print("ALUR_BENCH_" + line.split(":")[0].upper() + "_KB=" + line.split()[1], file=sys.stderr, flush=True)

atexit.register(_peak)
from ops.cli import main
sys.argv = ["alur", "simulate", "--cases", sys.argv[1]]
main()
"""


def run(workdir: Path, cases: int, timeout: float = 900) -> dict:
    """``alur simulate --cases N`` on a new SQLite database, as its own process. Its peak RSS is sampled from
    /proc while it runs (with how many cases it had started) and reported by the process as it exits, so one
    run says both the peak and whether it still grew in the second half."""
    run_dir = workdir / f"simulate-{cases}"
    run_dir.mkdir(parents=True, exist_ok=True)
    db = run_dir / "alur.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALUR_")}
    env.update(ALUR_DATABASE_URL=f"sqlite:///{db}", ALUR_FILES_DIR=str(run_dir / "files"),
               ALUR_INSTANCE_DIR=str(run_dir))
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(cases)], env=env, cwd=run_dir,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    half = None  # (cases started, RSS, peak RSS so far) when half the cases had started
    while proc.poll() is None:
        if time.perf_counter() - started > timeout:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"alur simulate --cases {cases} did not finish within {timeout:.0f} s")
        if half is None:
            done = _cases_started(db)
            if done >= cases // 2:
                half = (done, proc_status_mb(proc.pid, "VmRSS"), proc_status_mb(proc.pid, "VmHWM"))
        time.sleep(0.5)
    errors = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if proc.returncode != 0:
        raise RuntimeError(f"alur simulate --cases {cases} failed ({proc.returncode}):\n{errors[-2000:]}")
    reported = dict(line.removeprefix("ALUR_BENCH_").split("_KB=") for line in errors.splitlines()
                    if line.startswith("ALUR_BENCH_") and "_KB=" in line)
    if "VMHWM" not in reported or "VMRSS" not in reported:
        raise RuntimeError(f"alur simulate --cases {cases} did not report its memory:\n{errors[-2000:]}")
    peak, end = (round(int(reported[k]) / 1024, 1) for k in ("VMHWM", "VMRSS"))
    figures = {"simulate_cases": cases, "simulate_seconds": round(time.perf_counter() - started, 1),
               "simulate_peak_rss_mb": peak, "simulate_end_rss_mb": end}
    if half and half[1]:
        figures.update(simulate_half_cases=half[0], simulate_half_rss_mb=half[1], simulate_half_peak_rss_mb=half[2],
                       simulate_rss_growth_second_half=round(end / half[1], 3))
    return figures

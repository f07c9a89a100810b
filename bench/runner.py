"""Runs every measurement of `alur bench` in order, on SQLite and (when it answers) PostgreSQL."""
from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench import action, idle, large, memory, records, replay, search

from .common import DEFAULT_PG_URL, fresh_pg_database, pg_reachable, python_loop_ms, sqlite_url

#: The figures the issue asks for; each also exists with the suffix ``_pg`` (None when PostgreSQL did not run).
KEYS = ("action_ratio_vs_raw", "revision_ratio_50_vs_0", "inbox_p95_ms", "sweep_none_due_ms",
        "sweep_flatness_100k_vs_1k", "http_completions_per_s", "http_p95_ms", "replay_ms", "peak_rss_mb",
        "search_p95_ms", "inbox_deep_page_p95_ms")
#: Issue 19's figures (also with ``_pg``); not all of them exist in a quick run (no 100,000-case idle worker) and an
#: idle worker's CPU may well be 0.
IDLE_KEYS = tuple(f"idle_worker_cpu_s_per_120s_{label}" for label in idle.SIZES)
WHOLE_CASE_KEYS = ("whole_case_median_ms", "whole_case_p95_ms", "whole_case_4clients_per_min",
                   "whole_case_4clients_p95_ms", "rss_master_mb", "rss_worker_mb")


class Plan:
    """How big each part is: full (for the README) or quick (a smoke check under a minute)."""

    def __init__(self, quick: bool):
        self.quick = quick
        self.cases = 10_000 if quick else 100_000
        #: Searchable cases (bench/search.py): fewer in the smoke check, which only shows the search works.
        self.search_cases = 3_000 if quick else 100_000
        # Four clients keep both gunicorn workers busy (one request each in hand, one waiting); more clients only
        # queue longer: in a closed loop, latency = clients / throughput.
        self.http = {"threads": 4, "per_thread": 10, "rounds": 1} if quick else \
            {"threads": 4, "per_thread": 120, "rounds": 3}
        self.simulate_cases = None if quick else 10_000
        #: A year of cases for the records (Register, Tanggapan Tertulis, Rekapitulasi as XLSX and PDF).
        self.record_cases = 500 if quick else 5_000


def _machine() -> dict:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(terse=True),
            "load_before": [round(x, 2) for x in os.getloadavg()], "python_loop_ms": python_loop_ms()}


def _suffixed(figures: dict, suffix: str) -> dict:
    return {f"{k}{suffix}": v for k, v in figures.items()}


def run_bench(quick: bool, json_path: str | None = None, *, pg: bool | None = None,
              pg_url: str | None = None, log: Callable[[str], None] = print) -> dict:
    """Measure everything; ``pg``: True (must run), False (skip) or None (run when PostgreSQL answers)."""
    plan = Plan(quick)
    pg_url = pg_url or DEFAULT_PG_URL
    started = time.perf_counter()
    figures: dict = {"quick": quick, "machine": _machine(), "inbox_cases": plan.cases}
    pg_problem = None
    if pg is not False:
        pg_problem = pg_reachable(pg_url)
        if pg_problem and pg:
            raise RuntimeError(f"PostgreSQL does not answer at {pg_url}: {pg_problem}")
    run_pg = pg is not False and pg_problem is None
    figures["postgresql"] = "ran" if run_pg else ("skipped (--no-pg or --quick)" if pg is False else
                                                  f"not reachable: {pg_problem}")

    def step(label: str, fn):
        log(f"- {label} ...")
        t = time.perf_counter()
        result = fn()
        log(f"  done in {time.perf_counter() - t:.0f} s")
        return result

    with tempfile.TemporaryDirectory(prefix="alur-bench-") as tmp:
        work = Path(tmp)
        figures.update(step("action cost vs raw SpiffWorkflow, revision rounds (SQLite)",
                            lambda: action.run(quick)))
        figures.update(step(f"inbox and timer sweep, {plan.cases:,} cases (SQLite)",
                            lambda: large.run(work / "large", sqlite_url(work, "large"), plan.cases, quick=quick,
                                              log=log)))
        (work / "large.db").unlink(missing_ok=True)
        figures.update(step(f"search across {plan.search_cases:,} cases (SQLite)",
                            lambda: search.run(work / "search", sqlite_url(work, "search"), plan.search_cases,
                                               quick=quick,
                                               log=log)))
        (work / "search.db").unlink(missing_ok=True)
        figures.update(step("replay of a 50-event case (SQLite)", lambda: replay.run(work / "replay", quick=quick)))
        figures.update(step("HTTP completions through gunicorn, 2 workers (SQLite)",
                            lambda: _http(work / "http", "sqlite", plan)))
        figures.update(step("a whole case over HTTP, 17 requests, 1 and 4 clients (SQLite)",
                            lambda: _whole_case(work / "whole-case", "sqlite", plan)))
        figures.update(step(f"the three records of a year of {plan.record_cases:,} cases, XLSX and PDF (SQLite)",
                            lambda: records.run(work / "records", sqlite_url(work, "records"), plan.record_cases,
                                                log=log)))
        if plan.simulate_cases:
            figures.update(step(f"peak memory of alur simulate --cases {plan.simulate_cases}",
                                lambda: memory.run(work / "memory", plan.simulate_cases)))
        if run_pg:
            figures.update(_suffixed(step("action cost and revision rounds (PostgreSQL)",
                                          lambda: _on_pg(pg_url, "action", lambda url: action.run(quick, url))),
                                     "_pg"))
            figures.update(_suffixed(step(f"inbox and timer sweep, {plan.cases:,} cases (PostgreSQL)",
                                          lambda: _on_pg(pg_url, "large", lambda url: large.run(
                                              work / "large-pg", url, plan.cases, quick=quick, log=log))), "_pg"))
            figures.update(_suffixed(step(f"search across {plan.search_cases:,} cases (PostgreSQL)",
                                          lambda: _on_pg(pg_url, "search", lambda url: search.run(
                                              work / "search-pg", url, plan.search_cases, quick=quick, log=log))),
                                     "_pg"))
            figures.update(_suffixed(step("replay of a 50-event case (PostgreSQL)",
                                          lambda: _on_pg(pg_url, "replay", lambda url: replay.run(
                                              work / "replay-pg", url, quick=quick))), "_pg"))
            figures.update(_suffixed(step("HTTP completions through gunicorn, 2 workers (PostgreSQL)",
                                          lambda: _http(work / "http-pg", pg_url, plan)), "_pg"))
            figures.update(_suffixed(step("a whole case over HTTP, 17 requests, 1 and 4 clients (PostgreSQL)",
                                          lambda: _whole_case(work / "whole-case-pg", pg_url, plan)), "_pg"))
        idle_urls = {"": "sqlite", **({"_pg": pg_url} if run_pg else {})}
        figures.update(step(f"idle workers side by side, {', '.join(idle.QUICK_SIZES if quick else idle.SIZES)} "
                            f"waiting cases ({' and '.join('PostgreSQL' if k else 'SQLite' for k in idle_urls)})",
                            lambda: idle.run(work / "idle", idle_urls, quick=quick, log=log)))
    for key in (*KEYS, *IDLE_KEYS, *WHOLE_CASE_KEYS):
        figures.setdefault(key, None)
        figures.setdefault(f"{key}_pg", None)
    figures["machine"]["load_after"] = [round(x, 2) for x in os.getloadavg()]
    figures["seconds"] = round(time.perf_counter() - started, 1)
    if json_path:
        Path(json_path).write_text(json.dumps(figures, indent=2, default=str))
    return figures


def _on_pg(server_url: str, label: str, fn):
    with fresh_pg_database(server_url, label) as url:
        return fn(url)


def _http(workdir: Path, url: str, plan: Plan) -> dict:
    try:
        import requests  # noqa: F401  (the HTTP client of LocalStack, in the dev extra)
    except ImportError:
        return {"http_skipped": "requests is not installed (pip install -e '.[dev]')"}
    from bench import http

    return http.run(workdir, url, **plan.http)


def _whole_case(workdir: Path, url: str, plan: Plan) -> dict:
    try:
        import requests  # noqa: F401  (uploads and logins go through LocalStack's client, in the dev extra)
    except ImportError:
        return {"whole_case_skipped": "requests is not installed (pip install -e '.[dev]')"}
    from bench import reqprofile, wholecase

    figures = wholecase.run(workdir, url, quick=plan.quick)
    if url == "sqlite":  # the same 17 requests without HTTP: what the app itself costs, what HTTP adds
        per_kind = reqprofile.run(5 if plan.quick else 20, profile=False)
        figures["whole_case_in_process_ms"] = round(sum(
            row["median_ms"] * (len(wholecase.STEPS) if kind in ("inbox", "task", "take and complete") else 1)
            for kind, row in per_kind.items()), 1)
    return figures

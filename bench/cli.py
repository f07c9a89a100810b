"""`alur bench`: the costs that matter, as medians and same-run ratios (never timed assertions).

The measurements live in :mod:`bench`; this module is the command and its table.
"""
from __future__ import annotations

import click

from bench import idle, records, wholecase
from bench.bulk import SHORTCUT
from bench.common import DEFAULT_PG_URL
from bench.runner import run_bench
from bench.search import SHORTCUT as search_shortcut

#: (label, key, target) rows of the table; the PostgreSQL column shows ``key + "_pg"``.
ROWS = (
    ("one completion, service layer (ms)", "action_ms", None),
    ("one completion, raw SpiffWorkflow (ms)", "raw_action_ms", None),
    ("action_ratio_vs_raw", "action_ratio_vs_raw", "<= 1.0"),
    ("one completion, state read from the database (ms)", "action_cold_ms", None),
    ("  its ratio to raw SpiffWorkflow", "action_cold_ratio_vs_raw", None),
    ("revision_ratio_50_vs_0", "revision_ratio_50_vs_0", "<= 1.5"),
    ("inbox lane query p50 (ms)", "inbox_p50_ms", None),
    ("inbox_p95_ms (lane query)", "inbox_p95_ms", "<= 20"),
    ("inbox tab counts p95 (ms)", "inbox_counts_p95_ms", None),
    ("inbox page p95 (ms, whole request)", "inbox_page_p95_ms", None),
    ("inbox_deep_page_p95_ms (API, deep by cursor)", "inbox_deep_page_p95_ms", "<= 20"),
    ("sweep, none due, 1,000 cases (ms)", "sweep_none_due_ms_1k", None),
    ("sweep_none_due_ms (all cases)", "sweep_none_due_ms", "<= 5"),
    ("sweep_flatness_100k_vs_1k", "sweep_flatness_100k_vs_1k", "~1.0"),
    ("sweep, 100 due: ms per fired timer", "sweep_ms_per_fired_timer", None),
    ("http_completions_per_s (take+complete, one request)", "http_completions_per_s", ">= 150"),
    ("http p50 (ms, complete request)", "http_p50_ms", None),
    ("http_p95_ms (complete request)", "http_p95_ms", "<= 50"),
    ("idle worker CPU s per 120 s, 0 waiting cases", "idle_worker_cpu_s_per_120s_0", "<= 0.2"),
    ("idle worker CPU s per 120 s, 10,000 cases", "idle_worker_cpu_s_per_120s_10k", "<= 0.2"),
    ("idle worker CPU s per 120 s, 100,000 cases", "idle_worker_cpu_s_per_120s_100k", "<= 0.2"),
    ("whole_case_median_ms (17 requests, 1 client)", "whole_case_median_ms", "<= 50 (SQLite)"),
    ("  the same 17 requests in-process, no HTTP (ms)", "whole_case_in_process_ms", None),
    ("whole_case_p95_ms (1 client)", "whole_case_p95_ms", "<= 2x median"),
    ("whole cases per minute, 4 clients", "whole_case_4clients_per_min", None),
    ("whole case p95 (ms), 4 clients", "whole_case_4clients_p95_ms", None),
    ("rss_master_mb (gunicorn master, after)", "rss_master_mb", None),
    ("rss_worker_mb (web worker, max, after)", "rss_worker_mb", None),
    ("search p50 (ms, case list with q)", "search_p50_ms", None),
    ("search_p95_ms (case list with q)", "search_p95_ms", "<= 50"),
    ("search, a word a fifth of cases hold (ms)", "search_broad_ms", None),
    ("replay_ms (50-event case, last event)", "replay_ms", "<= 100"),
    ("replay verify by re-execution (ms)", "replay_verify_ms", None),
    ("peak_rss_mb (gunicorn worker)", "peak_rss_mb", None),
    ("alur simulate: peak RSS (MB)", "simulate_peak_rss_mb", None),
    ("alur simulate: RSS at half the cases (MB)", "simulate_half_rss_mb", None),
    ("alur simulate: RSS at the end (MB)", "simulate_end_rss_mb", None),
)


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


#: The records' rows: (label, key, target); "seconds" and "peak extra MB" of each record in each format.
RECORD_TARGETS = {"xlsx": ("<= 5", "<= 150"), "pdf": ("<= 30", "<= 150")}


def record_rows(figures: dict) -> list[str]:
    """Time and peak extra memory of each record in each format (a year of cases, each made in a fresh process)."""
    if not figures.get("records_cases"):
        return []
    lines = [f"records of a year of {figures['records_cases']:,} cases (SQLite; each made in a fresh process)",
             f"{'record':14} {'format':6} {'rows':>7} {'seconds':>8} {'peak extra MB':>14}  target (s, MB)"]
    for kind in records.KINDS:
        for fmt in records.FORMATS:
            seconds, peak = figures.get(f"records_{kind}_{fmt}_s"), figures.get(f"records_{kind}_{fmt}_peak_mb")
            lines.append(f"{kind:14} {fmt:6} {_cell(figures.get(f'records_{kind}_rows')):>7} {_cell(seconds):>8} "
                         f"{_cell(peak):>14}  {', '.join(RECORD_TARGETS[fmt])}")
    return lines


def table(figures: dict) -> list[str]:
    lines = [f"{'figure':48} {'SQLite':>10} {'PostgreSQL':>11}  target", "-" * 80]
    for label, key, target in ROWS:
        if key not in figures and f"{key}_pg" not in figures:
            continue
        lines.append(f"{label:48} {_cell(figures.get(key)):>10} {_cell(figures.get(key + '_pg')):>11}"
                     f"  {target or ''}")
    for k in ("revision_ms", "raw_revision_ms"):
        if figures.get(k):
            who = "ours" if k == "revision_ms" else "raw "
            lines.append(f"{who} by revision rounds (ms): "
                         + ", ".join(f"{r}: {_cell(v)}" for r, v in figures[k].items()))
    return lines + record_rows(figures)


def notes(figures: dict) -> list[str]:
    out = [f"inbox and sweep: {figures['inbox_cases']:,} waiting cases; {SHORTCUT}."]
    if figures.get("search_cases"):
        out.append(f"search: {figures['search_cases']:,} cases, {figures['search_queries']} queries (median "
                   f"{figures['search_median_matches']} matches); the broad word \u201c{figures['search_broad_word']}"
                   f"\u201d matches {figures['search_broad_matches']:,}; {search_shortcut}.")
    if figures.get("simulate_cases"):
        growth = figures.get("simulate_rss_growth_second_half")
        verdict = ("does not grow with the number of cases" if growth is not None and growth <= 1.05
                   else "grows with the number of cases")
        out.append(f"alur simulate --cases {figures['simulate_cases']} ({figures['simulate_seconds']:.0f} s): RSS "
                   f"{figures.get('simulate_half_rss_mb')} MB after {figures.get('simulate_half_cases')} cases, "
                   f"{figures['simulate_end_rss_mb']} MB at the end (x{growth}): memory {verdict}; "
                   f"peak {figures['simulate_peak_rss_mb']} MB.")
    if figures.get("records_cases"):
        out.append(f"{records.SHORTCUT}; seeded in {figures['records_seed_s']:.0f} s.")
    if figures.get("http_errors") or figures.get("http_errors_pg"):
        out.append(f"HTTP errors: {figures.get('http_errors')} (SQLite), {figures.get('http_errors_pg')} (PostgreSQL); "
                   f"e.g. {(figures.get('http_error_examples') or figures.get('http_error_examples_pg') or [''])[0]}")
    if figures.get("idle_window_s"):
        scaled = (f"a {figures['idle_window_s']:.0f} s window scaled to 120 s (--quick; /proc counts 10 ms ticks, so "
                  f"one tick reads as {0.01 * 120 / figures['idle_window_s']:.2f} s)"
                  if figures["idle_window_s"] != idle.WINDOW_S else "one 120 s window")
        out.append(f"{idle.SHORTCUT}; {scaled}; start-up CPU (not counted): "
                   + ", ".join(f"{k.removeprefix('idle_startup_cpu_s_')}: {v} s" for k, v in figures.items()
                               if k.startswith("idle_startup_cpu_s_")) + ".")
    if figures.get("whole_case_cases"):
        per = figures.get("whole_case_request_median_ms") or {}
        out.append(f"{wholecase.SHORTCUT}; {figures['whole_case_server']}; {figures['whole_case_cases']} cases with "
                   f"one client, {figures['whole_case_4clients_cases']} with four; median ms per request (SQLite, "
                   f"one client): " + ", ".join(f"{k} {v}" for k, v in per.items()) + ".")
    if figures.get("whole_case_errors") or figures.get("whole_case_errors_pg"):
        example = (figures.get("whole_case_error_examples") or figures.get("whole_case_error_examples_pg") or [""])[0]
        out.append(f"whole-case errors: {figures.get('whole_case_errors')} (SQLite), "
                   f"{figures.get('whole_case_errors_pg')} (PostgreSQL); e.g. {example}")
    if figures.get("http_skipped"):
        out.append(f"HTTP skipped: {figures['http_skipped']}")
    m = figures["machine"]
    out.append(f"PostgreSQL: {figures['postgresql']}. Machine: {m['cpus']} CPUs, Python {m['python']}, "
               f"load average {m['load_before'][0]} before / {m['load_after'][0]} after; a fixed pure-Python loop "
               f"(bench/common.py python_loop_ms, to compare machines) {m.get('python_loop_ms')} ms. "
               f"{figures['seconds']:.0f} s in all.")
    return out


@click.command()
@click.option("--quick", is_flag=True, help="A run under a minute, SQLite only unless --pg (CI smoke check).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the figures here.")
@click.option("--pg/--no-pg", "pg", default=None,
              help="Run the PostgreSQL parts (default: when PostgreSQL answers, except with --quick).")
@click.option("--database-url", "pg_url", default=None, metavar="URL",
              help=f"PostgreSQL server for those parts; a fresh database is created there and dropped "
                   f"afterwards (default {DEFAULT_PG_URL}).")
def bench(quick: bool, json_path: str | None, pg: bool | None, pg_url: str | None) -> None:
    """Measure the costs that matter; print a table (medians, ratios from the same run)."""
    if pg_url and not pg_url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        raise click.BadParameter("give a PostgreSQL URL (postgresql://user@host:port/db)", param_hint="--database-url")
    if pg is None and quick:
        pg = bool(pg_url) or False
    try:
        figures = run_bench(quick, json_path, pg=pg, pg_url=pg_url, log=lambda line: click.echo(line, err=True))
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc
    for line in table(figures):
        click.echo(line)
    for line in notes(figures):
        click.echo(line)

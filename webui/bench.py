"""`alur bench`: the costs that matter, as medians and same-run ratios (never timed assertions)."""
from __future__ import annotations

import json
import random
import statistics
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import click

from engine.baseline import RawBaseline
from engine.clock import ManualClock
from process.config import Settings
from process.deadlines import WIB, timer_functions

from .simulation import FORMS, NARASI, Driver
from .wiring import build_system, init_database


class Timings:
    def __init__(self):
        self.samples: list[float] = []

    @contextmanager
    def __call__(self):
        started = time.perf_counter()
        yield
        self.samples.append(time.perf_counter() - started)

    def median_ms(self) -> float:
        return 1000 * statistics.median(self.samples)


def _system(workdir: Path, url: str | None):
    clock = ManualClock(datetime(2025, 5, 6, 8, 0, tzinfo=WIB))
    settings = Settings(database_url=url or f"sqlite:///{workdir / 'bench.db'}", files_dir=workdir / "files")
    system = build_system(settings, clock)
    init_database(system)
    return system, clock


def ours_per_round(driver: Driver, rounds: int, samples: int) -> float:
    """Median ms of one completion through the service layer after ``rounds`` revision rounds."""
    _instance, task = driver.start(rounds)
    (task,) = driver.act("tim_pelaksana", task, driver.step1_form(rounds))
    (task,) = driver.act("admin_medsos", task, FORMS["terima"])
    for _ in range(rounds):
        (task,) = driver.act("wapimred", task, FORMS["koreksi"])
        (task,) = driver.act("pimred", task, FORMS["revisi"])
    timings = Timings()
    for i in range(samples):
        role, form = ("wapimred", FORMS["koreksi"]) if i % 2 == 0 else ("pimred", FORMS["revisi"])
        (task,) = driver.act(role, task, form, timer=timings)
    return timings.median_ms()


def raw_per_round(raw: RawBaseline, rounds: int, samples: int) -> float | str:
    """The same measurement on raw SpiffWorkflow (full JSON in and out around every completion)."""
    data = {"nama_kegiatan": "Kegiatan", "tanggal_kegiatan": "2099-01-01", "tempat_kegiatan": "Padang",
            "tim": "sim"}
    try:
        state = raw.start(data)
        step1 = {"foto": [{"id": "x", "sha256": "y"}] * 4, "narasi": NARASI, "caption": "c", "lampiran": [],
                 "catatan_sumber": "s", "tanggal_pengumpulan": "2099-01-01", "nomor_register": "001"}
        state, _ = raw.complete(state, step1)
        state, _ = raw.complete(state, FORMS["terima"])
        for _ in range(rounds):
            state, _ = raw.complete(state, FORMS["koreksi"])
            state, _ = raw.complete(state, FORMS["revisi"])
        timings = Timings()
        for i in range(samples):
            with timings():
                state, _ = raw.complete(state, FORMS["koreksi"] if i % 2 == 0 else FORMS["revisi"])
        return timings.median_ms()
    except RecursionError:
        return "RecursionError"


def run_bench(quick: bool, json_path: str | None, database_url: str | None = None) -> dict:
    samples = 6 if quick else 20
    round_counts = (0, 10, 50) if quick else (0, 10, 50, 200)
    raw_rounds = (0, 10, 50) if quick else (0, 10, 50, 160)
    figures: dict = {}
    with tempfile.TemporaryDirectory(prefix="alur-bench-") as tmp:
        system, _clock = _system(Path(tmp), database_url)
        try:
            driver = Driver(system, random.Random(7))
            driver.ensure_users()
            ours_per_round(driver, 2, samples)  # warm-up: parse caches, statement caches, first pages
            ours = {k: ours_per_round(driver, k, samples) for k in round_counts}
            definition_xml = system.settings.diagram_path.read_text()
        finally:
            system.dispose()
    functions = {f.name: f.func for f in timer_functions()}
    raw = RawBaseline(definition_xml, "alur_pengunggahan", functions)
    raw_per_round(raw, 2, samples)  # warm-up
    raws = {k: raw_per_round(raw, k, samples) for k in raw_rounds}
    figures["action_ms"] = ours[0]
    figures["raw_action_ms"] = raws[0]
    figures["action_ratio_vs_raw"] = round(ours[0] / raws[0], 3)
    figures["revision_ms"] = {str(k): round(v, 2) for k, v in ours.items()}
    figures["raw_revision_ms"] = {str(k): (round(v, 2) if isinstance(v, float) else v) for k, v in raws.items()}
    figures["revision_ratio_50_vs_0"] = round(ours[50] / ours[0], 3)
    if isinstance(raws[50], float):
        figures["raw_revision_ratio_50_vs_0"] = round(raws[50] / raws[0], 3)
    if json_path:
        Path(json_path).write_text(json.dumps(figures, indent=2))
    return figures


@click.command()
@click.option("--quick", is_flag=True, help="A run under a minute (CI smoke check).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the figures here.")
@click.option("--database-url", default=None, help="Benchmark on this database instead of a temporary SQLite file.")
def bench(quick: bool, json_path: str | None, database_url: str | None) -> None:
    """Measure the costs that matter; print a table (medians, ratios from the same run)."""
    started = time.perf_counter()
    figures = run_bench(quick, json_path, database_url)
    click.echo(f"{'figure':34} value")
    click.echo(f"{'one completion, ours (ms)':34} {figures['action_ms']:.2f}")
    click.echo(f"{'one completion, raw Spiff (ms)':34} {figures['raw_action_ms']:.2f}")
    click.echo(f"{'action_ratio_vs_raw':34} {figures['action_ratio_vs_raw']}")
    for k, v in figures["revision_ms"].items():
        click.echo(f"{'ours after ' + k + ' revision rounds (ms)':34} {v}")
    for k, v in figures["raw_revision_ms"].items():
        click.echo(f"{'raw after ' + k + ' revision rounds (ms)':34} {v}")
    click.echo(f"{'revision_ratio_50_vs_0':34} {figures['revision_ratio_50_vs_0']}")
    if "raw_revision_ratio_50_vs_0" in figures:
        click.echo(f"{'raw_revision_ratio_50_vs_0':34} {figures['raw_revision_ratio_50_vs_0']}")
    click.echo(f"({time.perf_counter() - started:.0f} s)")

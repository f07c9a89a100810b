"""One completion through the service layer against raw SpiffWorkflow, and its cost over revision rounds."""
from __future__ import annotations

import gc
import random
import tempfile
from pathlib import Path

from bench.baseline import RawBaseline
from ops.simulation import FORMS, NARASI, Driver
from process.deadlines import timer_functions

from .common import Timings, bench_system, sqlite_url

#: Completions measured in a row before moving to the next series (interleaving drifts with the machine's load,
#: without making every sample pay for the other series' cold caches).
BLOCK = 5


def _ours_case(driver: Driver, rounds: int) -> tuple[int, str]:
    """A case through the service layer, at Koreksi after ``rounds`` revision rounds; its id and ready task."""
    instance, task = driver.start(rounds)
    (task,) = driver.act("tim_pelaksana", task, driver.step1_form(rounds))
    (task,) = driver.act("admin_medsos", task, FORMS["terima"])
    for _ in range(rounds):
        (task,) = driver.act("wapimred", task, FORMS["koreksi"])
        (task,) = driver.act("pimred", task, FORMS["revisi"])
    return instance, task


def _raw_case(raw: RawBaseline, rounds: int) -> str:
    """The same case on raw SpiffWorkflow: its full JSON state."""
    state = raw.start({"nama_kegiatan": "Kegiatan", "tanggal_kegiatan": "2099-01-01", "tempat_kegiatan": "Padang",
                       "tim": "sim"})
    step1 = {"foto": [{"id": "x", "sha256": "y"}] * 4, "narasi": NARASI, "caption": "c", "lampiran": [],
             "catatan_sumber": "s", "tanggal_pengumpulan": "2099-01-01", "nomor_register": "001"}
    state, _ = raw.complete(state, step1)
    state, _ = raw.complete(state, FORMS["terima"])
    for _ in range(rounds):
        state, _ = raw.complete(state, FORMS["koreksi"])
        state, _ = raw.complete(state, FORMS["revisi"])
    return state


def interleaved(driver: Driver, raw: RawBaseline, plan, samples: int) -> dict:
    """Median ms of one completion for every (our rounds, raw rounds[, "cold"]) in ``plan``: ours through the
    service layer on a case after that many revision rounds, raw SpiffWorkflow (full JSON in and out) on the same.
    Ours takes back the workflow its previous action kept in memory, as a process acting on a case in turn does;
    a "cold" entry drops it before each completion, so the state is read from the database every time. The cases
    are prepared first, then sampled in turn, a few completions at a time (ours, raw, next case, ...), so every
    figure, and so every ratio, sees the same machine, even one shared with other jobs.

    Both sides complete the same two steps in turn (Koreksi, then the decision sending it back for revision).
    Raw SpiffWorkflow starts every sample from the same stored state, so each of its figures is its cost at
    exactly that many rounds (its cost grows with every round). Our case moves on with each completion, one
    round per two samples, so our figure is taken a few rounds later, which only counts against us."""
    cases = [_ours_case(driver, entry[0]) for entry in plan]
    tasks = [task for _instance, task in cases]
    warm = driver.system.engine.warm
    raw_states: list[dict | None] = []
    for _, raw_rounds, *_cold in plan:
        try:
            at_koreksi = _raw_case(raw, raw_rounds)
            at_decision, _ = raw.complete(at_koreksi, FORMS["koreksi"])
            raw_states.append({"koreksi": at_koreksi, "revisi": at_decision})
        except RecursionError:
            raw_states.append(None)
    ours, theirs = [Timings(collect=True) for _ in plan], [Timings(collect=True) for _ in plan]
    for start in range(0, BLOCK + samples, BLOCK):  # the first block of each series warms it up and is not kept
        steps = [("wapimred", "koreksi") if i % 2 == 0 else ("pimred", "revisi")
                 for i in range(start, min(BLOCK + samples, start + BLOCK))]
        if start == BLOCK:
            for timings in (*ours, *theirs):
                timings.samples.clear()
        for k in range(len(plan)):
            for role, step in steps:
                if plan[k][2:] == ("cold",):
                    warm.drop(cases[k][0])
                (tasks[k],) = driver.act(role, tasks[k], FORMS[step], timer=ours[k])
            if raw_states[k] is None:
                continue
            for _role, step in steps:
                with theirs[k]():
                    raw.complete(raw_states[k][step], FORMS[step])
    return {pair: (ours[k].median_ms(), theirs[k].median_ms() if raw_states[k] is not None else "RecursionError")
            for k, pair in enumerate(plan)}


def run(quick: bool, url: str | None = None) -> dict:
    """Action cost vs raw and over revision rounds in one run (so the ratios compare like with like); on a
    temporary SQLite file unless ``url`` names another (empty) database."""
    samples = 6 if quick else 20
    #: (our revision rounds, raw revision rounds): raw SpiffWorkflow cannot go to 200 (RecursionError at ~160).
    plan = ((0, 0), (0, 0, "cold"), (10, 10), (50, 50)) if quick else \
        ((0, 0), (0, 0, "cold"), (10, 10), (50, 50), (200, 160))
    functions = {f.name: f.func for f in timer_functions()}
    with tempfile.TemporaryDirectory(prefix="alur-bench-action-") as tmp:
        system, _clock = bench_system(Path(tmp), url or sqlite_url(Path(tmp), "action"))
        try:
            raw = RawBaseline(system.settings.diagram_path.read_text(), "alur_pengunggahan", functions)
            driver = Driver(system, random.Random(7))
            driver.ensure_users()
            interleaved(driver, raw, ((2, 2),), 4)  # warm-up: parse caches, statement caches, first pages
            # The long-lived heap of both sides (modules, parsed diagrams, caches) is frozen, as `alur serve` and
            # `alur worker` do after start: the collection before each sample then walks only the garbage, and does
            # not evict from the CPU caches whichever side keeps more of the heap warm.
            gc.collect()
            gc.freeze()
            try:
                results = interleaved(driver, raw, plan, samples)
            finally:
                gc.unfreeze()
        finally:
            system.dispose()
    cold, cold_raw = results.pop((0, 0, "cold"))
    ours = {k: v[0] for (k, _r), v in results.items()}
    raws = {r: v[1] for (_k, r), v in results.items()}
    figures = {
        "action_ms": round(ours[0], 3),
        "raw_action_ms": round(raws[0], 3),
        "action_ratio_vs_raw": round(ours[0] / raws[0], 3),
        "action_cold_ms": round(cold, 3),
        "action_cold_ratio_vs_raw": round(cold / cold_raw, 3),
        "revision_ms": {str(k): round(v, 2) for k, v in ours.items()},
        "raw_revision_ms": {str(k): (round(v, 2) if isinstance(v, float) else v) for k, v in raws.items()},
        "revision_ratio_50_vs_0": round(ours[50] / ours[0], 3),
    }
    if isinstance(raws[50], float):
        figures["raw_revision_ratio_50_vs_0"] = round(raws[50] / raws[0], 3)
    return figures

"""Where a request's time goes: the whole case's 17 requests (bench/wholecase.py) through Flask's test client, in
this process, on a fresh SQLite database, under cProfile; per kind of request, the median wall time, the SQL
statements it runs, and the share of its time in each phase (token check and user load, the lane map, the
rulebook, the service call, JSON, commit).

``python -m bench.reqprofile [CASES]`` prints the table (used for the README's per-request figures; not part of
``alur bench``, since cProfile slows what it watches: the shares matter, not the absolute times).
"""
from __future__ import annotations

import cProfile
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import event

from bench.livestack import DEFAULT_PASSWORD, LocalStack
from ops.simulation import NARASI, unggah_form
from process.deadlines import WIB

from .wholecase import PHOTOS, ROLES, STEPS, TEAM, _png, _users

#: Phase -> (file suffix, function name) of the functions whose cumulative time makes it.
PHASES = {
    "token + user": [("webui/api.py", "_authenticate")],
    "lane map": [("webui/access.py", "lane_map")],
    "rulebook": [("process/declarations.py", "of_instance"), ("process/declarations.py", "of_instances"),
                 ("process/declarations.py", "of_definition")],
    "json": [("flask/json/__init__.py", "jsonify")],
    "commit": [("sqlalchemy/orm/session.py", "commit")],
    "sql (driver)": [("~", "<method 'execute' of 'sqlite3.Cursor' objects>"),
                     ("~", "<method 'executemany' of 'sqlite3.Cursor' objects>")],
}


def _cumulative(stats: pstats.Stats, targets) -> float:
    total = 0.0
    for (file, _line, name), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():
        for suffix, fn in targets:
            if name == fn and file.endswith(suffix):
                total += ct
    return total


class _Profiler:
    """The test client, the four users' tokens and what each kind of request measured."""

    def __init__(self, app, profile: bool, keep: dict | None):
        self.client = app.test_client()
        self.profile, self.keep = profile, keep
        self.statements = [0]
        event.listen(app.extensions["alur"].db, "before_cursor_execute",
                     lambda *a, **k: self.statements.__setitem__(0, self.statements[0] + 1))
        self.tokens = {role: self.client.post("/api/v1/auth/token", json={
            "username": f"wc0_{role}", "password": DEFAULT_PASSWORD}).get_json()["token"] for role in ROLES}
        self.day = datetime.now(UTC).astimezone(WIB).date().isoformat()
        self.samples: dict[str, list[float]] = defaultdict(list)
        self.counts: dict[str, list[int]] = defaultdict(list)
        self.phases: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self.totals: dict[str, float] = defaultdict(float)

    def call(self, kind, method, path, role, body=None, measure=True):
        headers = {"Authorization": f"Bearer {self.tokens[role]}", "Accept-Language": "id"}
        before = self.statements[0]
        profiler = cProfile.Profile() if self.profile and measure else None
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        answer = self.client.open(f"/api/v1{path}", method=method, json=body, headers=headers)
        if profiler:
            profiler.disable()
        elapsed = time.perf_counter() - started
        if answer.status_code >= 300:
            raise RuntimeError(f"{method} {path}: {answer.status_code} {answer.get_data(as_text=True)[:300]}")
        if measure:
            self.samples[kind].append(elapsed)
            self.counts[kind].append(self.statements[0] - before)
            if profiler:
                self._add(kind, profiler, elapsed)
        return answer.get_json()

    def _add(self, kind, profiler, elapsed):
        stats = pstats.Stats(profiler)
        if self.keep is not None:
            if kind in self.keep:
                self.keep[kind].add(profiler)
            else:
                self.keep[kind] = pstats.Stats(profiler)
        self.totals[kind] += elapsed
        for phase, targets in PHASES.items():
            self.phases[kind][phase] += _cumulative(stats, targets)

    def whole_case(self, n, measure):
        photos = []
        for p in range(PHOTOS):
            answer = self.client.post("/api/v1/files",
                                      headers={"Authorization": f"Bearer {self.tokens['tim_pelaksana']}"},
                                      data={"file": (io.BytesIO(_png(900_000 + n * PHOTOS + p)), f"f{n}{p}.png",
                                                     "image/png")})
            photos.append(answer.get_json()["id"])
        activity = f"Profil {n}"
        created = self.call("create case", "POST", "/cases", "tim_pelaksana",
                            {"nama_kegiatan": activity, "tanggal_kegiatan": self.day, "tempat_kegiatan": "Padang",
                             "tim": TEAM}, measure)
        task_id = created["task_id"]
        for number, (role, scope, form) in enumerate(STEPS, start=1):
            self.call("inbox", "GET", f"/tasks?scope={scope}", role, measure=measure)
            task = self.call("task", "GET", f"/tasks/{task_id}", role, measure=measure)
            if form is None:
                form = {"nama_kegiatan": activity, "tanggal_kegiatan": self.day, "tempat_kegiatan": "Padang",
                        "foto": photos, "narasi": NARASI, "caption": "x #KPU", "catatan_sumber": "Tim humas."}
            elif form == "unggah":
                form = unggah_form(datetime.now(UTC), n)
            done = self.call("take and complete", "POST", f"/tasks/{task_id}/complete", role,
                             {**form, "_claim": True, "_version": task["lock_version"]}, measure)
            if number < len(STEPS):
                task_id = done["ready"][0]["id"]
        self.call("case", "GET", f"/cases/{created['case_id']}", "tim_pelaksana", measure=measure)

    def figures(self) -> dict:
        out = {}
        for kind in self.samples:
            row = {"median_ms": round(1000 * statistics.median(self.samples[kind]), 2),
                   "statements": round(statistics.median(self.counts[kind]), 1)}
            if self.totals[kind]:
                row.update({phase: f"{100 * self.phases[kind][phase] / self.totals[kind]:.0f}%" for phase in PHASES})
            out[kind] = row
        return out


def run(cases: int = 20, profile: bool = True, keep: dict | None = None) -> dict:
    """``cases`` whole cases after two for warm-up; ``keep``: a dict that gets each kind's merged
    ``pstats.Stats`` (to look further)."""
    with tempfile.TemporaryDirectory(prefix="alur-reqprof-") as tmp, LocalStack("sqlite", Path(tmp)) as stack:
        stack.add_users(_users(1))
        saved = dict(os.environ)
        os.environ.update(stack.env())  # create_app reads its settings from the environment
        from webui import create_app

        try:
            app = create_app()
        finally:  # the caller (alur bench) goes on with its own environment
            os.environ.clear()
            os.environ.update(saved)
        try:
            profiler = _Profiler(app, profile, keep)
            for n in range(2):
                profiler.whole_case(n, measure=False)
            for n in range(2, 2 + cases):
                profiler.whole_case(n, measure=True)
        finally:
            app.extensions["alur"].dispose()
    return profiler.figures()


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    plain = run(n, profile=False)
    shares = run(n, profile=True)
    for kind in plain:
        print(f"{kind:18} {plain[kind]['median_ms']:6.2f} ms  {plain[kind]['statements']:4} statements  "
              + "  ".join(f"{p} {shares[kind].get(p)}" for p in PHASES))

"""A year of records: Register, Tanggapan Tertulis and Rekapitulasi of a year of cases, each as XLSX and PDF, each
made in a fresh process (its time, and its peak memory above what the process held before it began).

The year is seeded quickly: three real cases go through the SOP by the service layer (published; sent back once
and published; rejected), then copies of their rows are inserted with SQL, spread over the year: the instance, its
task rows, its events (the posts' upload times moved with the copy; the copies' hash chain is not kept) and its
register entry, numbered in order. Every record reads what it reads in production from these rows.
"""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, text

from engine.clock import ManualClock
from engine.db import transaction
from engine.models import EventRow, Instance, TaskRow
from ops.simulation import FORMS, Driver, unggah_form
from process.deadlines import WIB
from process.models import RegisterEntry

from .bulk import ACTIVITIES, TEAMS, _columns, _insert, _uuid
from .common import bench_system

#: The year the records cover.
YEAR = 2025
KINDS = ("register", "tanggapan", "rekap")
FORMATS = ("xlsx", "pdf")
SHORTCUT = ("records: three real cases (service layer) copied with SQL over the year: instance, task rows, events "
            "and register entry; the copies' events keep no hash chain")


def _case(driver: Driver, clock: ManualClock, n: int, path: str) -> int:
    """A case through the SOP, an hour between its steps: ``published``, ``returned`` (sent back once by the
    Pimpinan Redaksi, then published) or ``rejected``."""
    instance_id, task = driver.start(n)
    steps = [("tim_pelaksana", driver.step1_form(n)), ("admin_medsos", FORMS["terima"]),
             ("wapimred", FORMS["koreksi"])]
    if path == "returned":
        steps += [("pimred", FORMS["revisi"]), ("wapimred", FORMS["koreksi"])]
    steps.append(("pimred", FORMS["tolak" if path == "rejected" else "setuju"]))
    if path != "rejected":
        steps.append(("admin_medsos", unggah_form(clock.now() + timedelta(hours=len(steps) + 1), n)))
    for role, form in steps:
        clock.advance(hours=1)
        ready = driver.act(role, task, form)
        task = ready[0] if ready else None
    return instance_id


def _shift(row: dict, by: timedelta) -> dict:
    """Every time and date of a row moved by ``by``."""
    return {k: v + by if isinstance(v, (datetime, date)) else v for k, v in row.items()}


def _payload(payload: str, by: timedelta) -> str:
    """An event's payload with the posts' upload times (``waktu``) moved by ``by``."""
    if '"waktu"' not in payload:
        return payload
    data = json.loads(payload)
    for items in (data.get("data") or {}).values():
        if isinstance(items, list):
            for item in items:
                if isinstance(item, dict) and item.get("waktu"):
                    item["waktu"] = (datetime.fromisoformat(item["waktu"]) + by).isoformat()
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def seed(workdir: Path, url: str, cases: int) -> dict:
    """A database with ``cases`` cases registered over :data:`YEAR`; returns how long seeding took."""
    started = time.perf_counter()
    clock = ManualClock(datetime(YEAR, 1, 2, 8, tzinfo=WIB).astimezone(UTC))
    system, clock = bench_system(workdir, url, clock)
    driver = Driver(system, random.Random(17))
    driver.ensure_users()
    with transaction(system.sessions) as session:
        for code in TEAMS:
            system.people.team(session, code, create=True, name=f"Tim {code}")
    templates = [_case(driver, clock, n, path) for n, path in enumerate(("published", "returned", "rejected"), 1)]
    with system.sessions() as session:
        rows = {i: (_columns(session.get(Instance, i), Instance.__table__),
                    [_columns(t, TaskRow.__table__) for t in session.execute(
                        select(TaskRow).where(TaskRow.instance_id == i)).scalars()],
                    [_columns(e, EventRow.__table__) for e in session.execute(
                        select(EventRow).where(EventRow.instance_id == i).order_by(EventRow.seq)).scalars()],
                    _columns(session.execute(select(RegisterEntry).where(RegisterEntry.instance_id == i)).scalar_one(),
                             RegisterEntry.__table__))
                for i in templates}
    rng = random.Random(3)
    copies = cases - len(templates)
    with system.db.begin() as conn:
        next_id = (conn.execute(select(func.max(Instance.id))).scalar() or 0) + 1
        seq = (conn.execute(select(func.max(EventRow.seq))).scalar() or 0) + 1
        entry_id = (conn.execute(select(func.max(RegisterEntry.id))).scalar() or 0) + 1
        for start in range(0, copies, 1000):
            batch: dict[str, list] = {"instance": [], "task": [], "event": [], "entry": []}
            for k in range(start, min(copies, start + 1000)):
                instance, tasks, events, entry = rows[templates[k % len(templates)]]
                by = timedelta(days=1 + k * 360 / copies)  # spread over the year, in register order
                new_id = next_id + k
                title = f"{ACTIVITIES[k % len(ACTIVITIES)]} {k + 1}"
                batch["instance"].append({**_shift(instance, by), "id": new_id, "title": title,
                                          "group": TEAMS[k % len(TEAMS)]})
                ids = {t["id"]: _uuid(rng) for t in tasks}
                batch["task"] += [{**_shift(t, by), "id": ids[t["id"]], "instance_id": new_id, "case_title": title}
                                  for t in tasks]
                for e in events:
                    batch["event"].append({**_shift(e, by), "seq": seq, "instance_id": new_id,
                                           "task_id": ids.get(e["task_id"], e["task_id"]),
                                           "payload": _payload(e["payload"], by), "prev_hash": "0" * 64,
                                           "hash": "0" * 64})
                    seq += 1
                number = len(templates) + k + 1  # the template's number with this one's sequence number
                batch["entry"].append({**_shift(entry, by), "id": entry_id + k, "instance_id": new_id, "seq": number,
                                       "number": f"{number:03d}/{entry['number'].partition('/')[2]}"})
            _insert(conn, Instance.__table__, batch["instance"])
            _insert(conn, TaskRow.__table__, batch["task"])
            _insert(conn, EventRow.__table__, batch["event"])
            _insert(conn, RegisterEntry.__table__, batch["entry"])
        if conn.dialect.name == "sqlite":
            conn.execute(text("ANALYZE"))
    system.db.dispose()
    return {"records_cases": cases, "records_seed_s": round(time.perf_counter() - started, 1)}


#: Makes one record in its own process and reports, on its last line, the seconds it took (reading the rows,
#: building the document, writing the file) and the peak memory (VmHWM) above the memory it held before (VmRSS once
#: the system was built, the fonts registered and openpyxl and ReportLab imported).
_CHILD = """
import json, sys, tempfile, time
from datetime import UTC, datetime
kind, fmt, url, files = sys.argv[1:5]

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024

from engine.clock import ManualClock
from engine.db import transaction
from process import documents, fonts, records
from process.config import Settings
from process.records import Period
from process.register import register_document
from process.system import build_system
from engine.clock import ManualClock

system = build_system(Settings(database_url=url, files_dir=files), ManualClock(datetime(2026, 1, 5, tzinfo=UTC)))
fonts.register()
import openpyxl, reportlab.platypus  # (their imports are no cost of a record)
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # VmHWM starts again here
before = status("VmRSS")
started = time.perf_counter()
period = Period.year(int(sys.argv[5]))
now = system.clock.now()
with system.sessions() as session:
    key = system.settings.process_key
    rules = system.rules.latest(session, key)
    if kind == "register":
        doc = register_document(records.register_rows(session, period, system.rules, key), period, now, rules)
    elif kind == "tanggapan":
        doc = documents.responses_document(records.written_responses(session, period, rulebook=system.rules,
                                                                     process_key=key), now, period=period,
                                           procedure=rules)
    else:
        doc = documents.recap_document(records.recap(session, period, system.rules, system.settings.platforms),
                                       now, rules)
read = time.perf_counter() - started
writer = documents.write_pdf if fmt == "pdf" else documents.write_xlsx
with tempfile.TemporaryFile() as out:
    writer(doc, out, system.settings.letterhead)
    size = out.tell()
print(json.dumps({"s": time.perf_counter() - started, "read_s": read, "peak_mb": status("VmHWM") - before,
                  "rows": len(doc.table.rows), "bytes": size}))
"""


def measure(url: str, workdir: Path, kind: str, fmt: str, timeout: float = 600) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALUR_")}
    done = subprocess.run([sys.executable, "-c", _CHILD, kind, fmt, url, str(workdir / "files"), str(YEAR)],
                          env=env, capture_output=True, text=True, timeout=timeout,
                          cwd=Path(__file__).resolve().parent.parent)
    if done.returncode != 0:
        raise RuntimeError(f"the {kind} record as {fmt} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(workdir: Path, url: str, cases: int, log=print) -> dict:
    """Seed a year of ``cases`` cases, then make each record in each format in a fresh process."""
    workdir.mkdir(parents=True, exist_ok=True)
    figures = seed(workdir, url, cases)
    log(f"  seeded {cases:,} cases in {figures['records_seed_s']:.0f} s")
    for kind in KINDS:
        for fmt in FORMATS:
            result = measure(url, workdir, kind, fmt)
            figures[f"records_{kind}_{fmt}_s"] = round(result["s"], 2)
            figures[f"records_{kind}_{fmt}_peak_mb"] = round(result["peak_mb"], 1)
            figures[f"records_{kind}_read_s"] = round(result["read_s"], 2)
            figures[f"records_{kind}_rows"] = result["rows"]
            log(f"  {kind} {fmt}: {result['s']:.1f} s, +{result['peak_mb']:.0f} MB ({result['rows']:,} rows)")
    return figures

"""A year of records, fast: a SQLite database with 5,000 cases registered in 2025, for the large-export tests.

Through the service layer every case costs about 100 ms (`alur simulate`: eight minutes for 5,000), so this takes
the shortcut bench/bulk.py takes for waiting cases, extended to finished ones *with their history*:

* four **template** cases are run through the service layer (tests/records_scenario.py's helpers, one transaction
  per action) on 1-4 January 2025: published on time; sent back once, then published; published after its deadline
  (its overdue timer fired); rejected;
* every other case is a **copy** of one of them, moved to a day of 2025 (days spread over the year, a few hours of
  jitter): its instance row and state, its task rows, its events and its register entry are inserted with plain SQL.
  The copies get their own case id, task ids, title, team, and register number (numbered in register-date order,
  as the application numbers them), and every moment in the rows *and in the event payloads* (hand-in, decisions,
  the upload time an admin gave) moves with the copy. The events are appended to the hash chain in time order
  with their hashes computed as the application computes them (``alur audit verify`` accepts the result).

What a copy does not get: its photos (the file rows and files the events name are the template's own ids, not
stored again), notifications and e-mails. The records, exports and the event log read none of them.
"""
from __future__ import annotations

import json
import random
import re
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select, update

from engine.clock import ManualClock
from engine.db import create_schema, transaction
from engine.eventlog import event_hash
from engine.models import ChainHead, EventRow, Instance, TaskRow
from process.config import Settings
from process.deadlines import WIB
from process.models import RegisterCounter, RegisterEntry
from process.register import register_number
from process.system import build_system
from tests.factories import make_users
from tests.records_scenario import SopCase

YEAR = 2025
TEAMS = ("Divisi Teknis", "Divisi Hukum", "Divisi Sosdiklih", "Sekretariat")
ACTIVITIES = ("Sosialisasi pendidikan pemilih", "Rapat koordinasi tahapan", "Bimbingan teknis KPPS",
              "Uji publik daerah pemilihan", "Pemutakhiran data pemilih", "Kunjungan kerja")
#: A JSON string value that is an ISO date or date-time (what moves with a copy).
_MOMENT = re.compile(r'"(\d{4}-\d{2}-\d{2})(T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[+-]\d{2}:\d{2}|Z)?)?"')


def at(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(YEAR, month, day, hour, minute, tzinfo=WIB)


def _templates(system, tx, clock) -> list[int]:
    """Four finished cases, 1-4 January 2025."""
    clock.set(at(1, 1, 8))
    ontime = SopCase.open(system, tx, "Sosialisasi Pemilih Pemula", "2025-01-01")
    for hour, who, form in ((9, "tim", "submit"), (10, "admin", "terima"), (11, "wapimred", "koreksi"),
                            (12, "pimred", "setuju"), (13, "admin", "unggah")):
        clock.set(at(1, 1, hour))
        ontime.do(who, form)
    clock.set(at(1, 1, 14))
    returned = SopCase.open(system, tx, "Rapat Koordinasi Humas", "2025-01-01")
    for hour, who, form in ((15, "tim", "submit"), (16, "admin", "admin_kembalikan"), (17, "tim", "submit"),
                            (18, "admin", "terima"), (19, "wapimred", "koreksi"), (20, "pimred", "revisi"),
                            (21, "wapimred", "koreksi"), (22, "pimred", "setuju"), (23, "admin", "unggah")):
        clock.set(at(1, 1, hour))
        returned.do(who, form)
    clock.set(at(1, 2, 8))
    late = SopCase.open(system, tx, "Bimtek PPK", "2025-01-02")
    for hour, who, form in ((9, "tim", "submit"), (10, "admin", "terima"), (11, "wapimred", "koreksi"),
                            (12, "pimred", "setuju")):
        clock.set(at(1, 2, hour))
        late.do(who, form)
    clock.set(at(1, 4, 12))  # past the upload deadline (H+1): the timer marks the step late
    with tx() as s:
        system.timers.fire_due_timers(s)
    late.do("admin", "unggah")
    clock.set(at(1, 3, 9))
    rejected = SopCase.open(system, tx, "Sosialisasi di Pasar Raya", "2025-01-03")
    for hour, who, form in ((10, "tim", "submit"), (11, "admin", "terima"), (12, "wapimred", "koreksi"),
                            (13, "pimred", "tolak")):
        clock.set(at(1, 3, hour))
        rejected.do(who, form)
    return [ontime.instance_id, returned.instance_id, late.instance_id, rejected.instance_id]


def _row(obj) -> dict:
    return {c.key: getattr(obj, c.key) for c in obj.__table__.columns}


class _Template:
    def __init__(self, session, instance_id: int):
        self.instance = _row(session.get(Instance, instance_id))
        self.tasks = [_row(t) for t in session.execute(select(TaskRow).where(TaskRow.instance_id == instance_id))
                      .scalars()]
        self.events = [_row(e) for e in session.execute(select(EventRow).where(EventRow.instance_id == instance_id)
                                                        .order_by(EventRow.seq)).scalars()]
        self.entry = _row(session.execute(select(RegisterEntry).where(RegisterEntry.instance_id == instance_id))
                          .scalar_one())
        state_ids = set(json.loads(self.instance["state"])["tasks"])
        self.task_ids = sorted(state_ids | {t["id"] for t in self.tasks})
        self.title = self.instance["title"]


def _shifted(value, shift: timedelta):
    if isinstance(value, datetime):
        return value + shift
    if isinstance(value, date):
        return value + timedelta(days=shift.days)
    return value


def _moments(text: str, shift: timedelta) -> str:
    """Every ISO date and date-time string value of a JSON text moved by ``shift`` (dates by its whole days)."""
    def move(match: re.Match) -> str:
        day, rest = match.group(1), match.group(2)
        if rest is None:
            return f'"{(date.fromisoformat(day) + timedelta(days=shift.days)).isoformat()}"'
        raw = day + rest
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        out = (moment + shift).isoformat()
        if raw.endswith("Z"):
            out = out.replace("+00:00", "Z")
        return f'"{out}"'

    return _MOMENT.sub(move, text)


def build_year(path: Path, cases: int = 5000, seed: int = 17) -> Settings:
    """Write the database (``path``, a new SQLite file) and return its settings; the users are
    tests/factories.py's (password ``rahasia-<name>``)."""
    settings = Settings(database_url=f"sqlite:///{path}", files_dir=path.parent / "files")
    clock = ManualClock(at(1, 1, 8))
    system = build_system(settings, clock)
    try:
        create_schema(system.db)
        tx = lambda: transaction(system.sessions)  # noqa: E731
        make_users(system, tx)
        ids = _templates(system, tx, clock)
        with system.sessions() as session:
            templates = [_Template(session, i) for i in ids]
        _copy(system, templates, cases - len(templates), random.Random(seed))
    finally:
        system.dispose()
    return settings


def _copy(system, templates: list[_Template], n: int, rng: random.Random) -> None:
    fmt = system.settings.register_format
    first = date(YEAR, 1, 5)
    span = (date(YEAR, 12, 27) - first).days
    plans = []
    for k in range(n):
        template = templates[k % len(templates)]
        day = first + timedelta(days=k * span // max(n - 1, 1))
        base = template.entry["created_at"].astimezone(WIB).date()
        shift = timedelta(days=(day - base).days, seconds=rng.randrange(0, 5 * 3600))
        plans.append((template.entry["created_at"] + shift, k, template, shift))
    plans.sort(key=lambda p: (p[0], p[1]))
    with system.db.begin() as conn:
        next_id = (conn.execute(select(func.max(Instance.id))).scalar() or 0) + 1
        seq0 = conn.execute(select(func.max(RegisterEntry.seq)).where(RegisterEntry.year == YEAR)).scalar() or 0
        instances, tasks, entries, events = [], [], [], []
        for index, (registered, _k, template, shift) in enumerate(plans):
            instance_id = next_id + index
            seq = seq0 + index + 1
            number = register_number(fmt, seq, registered)
            title = f"{ACTIVITIES[instance_id % len(ACTIVITIES)]} {instance_id}"
            swap = {tid: str(uuid.UUID(int=rng.getrandbits(128), version=4)) for tid in template.task_ids}
            swap[template.entry["number"]] = number
            swap[template.title] = title
            pattern = re.compile("|".join(re.escape(k) for k in sorted(swap, key=len, reverse=True)))

            def text(value: str, swap=swap, pattern=pattern, shift=shift) -> str:
                return _moments(pattern.sub(lambda m: swap[m.group(0)], value), shift)

            row = {k: _shifted(v, shift) for k, v in template.instance.items()}
            row.update(id=instance_id, title=title, state=text(template.instance["state"]),
                       group=TEAMS[instance_id % len(TEAMS)])
            instances.append(row)
            for t in template.tasks:
                task = {k: _shifted(v, shift) for k, v in t.items()}
                task.update(id=swap[t["id"]], instance_id=instance_id, case_title=title,
                            group=TEAMS[instance_id % len(TEAMS)] if t["group"] is not None else None)
                tasks.append(task)
            entries.append({"process_key": template.entry["process_key"], "instance_id": instance_id,
                            "year": YEAR, "seq": seq, "number": number, "created_at": registered})
            for e in template.events:
                events.append({"instance_id": instance_id, "task_id": swap.get(e["task_id"], e["task_id"]),
                               "type": e["type"], "actor": e["actor"], "at": e["at"] + shift,
                               "payload": text(e["payload"]), "_order": (e["at"] + shift, instance_id, e["seq"])})
        events.sort(key=lambda e: e.pop("_order"))
        head = conn.execute(select(ChainHead.seq, ChainHead.hash).where(ChainHead.id == 1)).one()
        seq, prev = head.seq, head.hash
        for e in events:
            seq += 1
            e["seq"], e["prev_hash"] = seq, prev
            prev = e["hash"] = event_hash(seq, e["type"], e["instance_id"], e["task_id"], e["actor"], e["at"],
                                          e["payload"], prev)
        conn.execute(insert(Instance.__table__), instances)
        conn.execute(insert(TaskRow.__table__), tasks)
        conn.execute(insert(RegisterEntry.__table__), entries)
        for start in range(0, len(events), 5000):
            conn.execute(insert(EventRow.__table__), events[start:start + 5000])
        conn.execute(update(ChainHead.__table__).where(ChainHead.id == 1).values(seq=seq, hash=prev))
        conn.execute(update(RegisterCounter.__table__).where(RegisterCounter.year == YEAR)
                     .values(last_seq=seq0 + len(plans)))
        conn.exec_driver_sql("ANALYZE")

"""Many cases, fast: a few real cases through the service layer, then copies of them inserted in bulk.

The shortcut, stated in the bench output too: each *template* case is started and moved to one of the
SOP's steps by the same service layer the web app uses (so its state, task rows and reminders are
real). Copies are then inserted with plain SQL, many rows per statement: the instance row (its state
with every SpiffWorkflow task id replaced by a fresh one and every deadline moved by the copy's own
offset, so a copy is a case the engine can load and act on), its task rows (ready and completed) and
its deadline reminders, and its search row (process/search.py: the template's texts under the copy's own
title, with the copy's team's filter word), as every case has one. Copies get their own title, activity date,
team and, for one in ten ready tasks, a holder. What the copies do **not** get is history: no event rows (a
copy's chain of record is empty; the inbox and the timer sweep never read events), no register entry and no
files.
"""
from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select, text

from bench.sop import TASK_KOREKSI, TASK_PUTUSKAN, TASK_SERAHKAN, TASK_TERIMA, TASK_UNGGAH
from engine.db import transaction
from engine.models import Definition, Instance, TaskRow
from ops.simulation import FORMS, SIM_USERS, Driver
from process import search
from process.deadlines import WIB
from process.models import CaseSearch, DeadlineReminder
from process.roles import LEGACY_GROUPS
from process.system import System

#: Teams a copied case may belong to ("sim" is the bench's Tim Pelaksana user's own team).
#: The group (and simulation user) of each lane of the bundled diagram.
LANE_GROUPS = {lane: code for code, lane in LEGACY_GROUPS.items()}
TEAMS = ("sim", *(f"tim{k:02d}" for k in range(1, 20)))
ACTIVITIES = ("Sosialisasi pendidikan pemilih", "Rapat koordinasi tahapan", "Bimbingan teknis KPPS",
              "Uji publik daerah pemilihan", "Pemutakhiran data pemilih", "Kunjungan kerja",
              "Diskusi kelompok terpumpun", "Peluncuran maskot pemilihan")
#: Share of ready tasks held by someone (the rest wait in their lane).
CLAIMED_SHARE = 0.1
#: Share of copies made from an overdue template.
OVERDUE_SHARE = 0.05
#: Copies get deadlines this far after their template's, spread evenly.
SPREAD = timedelta(days=60)
BATCH = 2000
SHORTCUT = ("bulk cases: a few real template cases (service layer) copied with SQL: instance state with fresh "
            "task ids and shifted deadlines, task rows and reminders; copies have no events, register entry "
            "or files")

def case_at(driver: Driver, n: int, step: str, rounds: int = 0) -> int:
    """Start case ``n`` and move it (through the service layer) until ``step`` is ready."""
    instance_id, task = driver.start(n)
    if step == TASK_SERAHKAN:
        return instance_id
    (task,) = driver.act("tim_pelaksana", task, driver.step1_form(n))
    if step == TASK_TERIMA:
        return instance_id
    (task,) = driver.act("admin_medsos", task, FORMS["terima"])
    for _ in range(rounds):
        (task,) = driver.act("wapimred", task, FORMS["koreksi"])
        (task,) = driver.act("pimred", task, FORMS["revisi"])
    if step == TASK_KOREKSI:
        return instance_id
    (task,) = driver.act("wapimred", task, FORMS["koreksi"])
    if step == TASK_PUTUSKAN:
        return instance_id
    driver.act("pimred", task, FORMS["setuju"])
    return instance_id


@dataclass
class Template:
    """A real case, ready to be copied: its rows as column dicts and its state cut around the parts that change."""

    instance: dict
    tasks: list[dict]
    reminders: list[dict]
    pieces: list[str]  # the state text between the replaced parts
    parts: list[str]  # the replaced parts, in order: task ids and deadline strings
    dues: dict[str, datetime]  # deadline string -> its time
    overdue: bool
    search_fields: dict  # the texts its search row holds, but the title
    search_words: str  # their words, without the filter words
    process_key: str


def _columns(row, table) -> dict:
    return {c.key: getattr(row, c.key) for c in table.columns}


def load_template(session, instance_id: int, overdue: bool) -> Template:
    instance = session.get(Instance, instance_id)
    tasks = session.execute(select(TaskRow).where(TaskRow.instance_id == instance_id)).scalars().all()
    reminders = session.execute(select(DeadlineReminder).where(DeadlineReminder.instance_id == instance_id)
                                ).scalars().all()
    state = json.loads(instance.state)
    ids = list(state["tasks"])
    dues = {t["internal_data"]["event_value"]: datetime.fromisoformat(t["internal_data"]["event_value"])
            for t in state["tasks"].values() if isinstance(t.get("internal_data", {}).get("event_value"), str)}
    pattern = re.compile("|".join(re.escape(p) for p in [*ids, *dues]))
    found = session.get(CaseSearch, instance_id)
    fields = {k: v for k, v in json.loads(found.fields if found else "{}").items() if k != search.TITLE}
    process_key = session.execute(select(Definition.process_key).where(Definition.id == instance.definition_id)
                                  ).scalar_one()
    return Template(instance=_columns(instance, Instance.__table__),
                    tasks=[_columns(t, TaskRow.__table__) for t in tasks],
                    reminders=[_columns(r, DeadlineReminder.__table__) for r in reminders],
                    pieces=pattern.split(instance.state), parts=pattern.findall(instance.state), dues=dues,
                    overdue=overdue, search_fields=fields,
                    search_words=" ".join(w for v in fields.values() for w in search.words_of(v)),
                    process_key=process_key)


def make_templates(driver: Driver, system: System) -> list[Template]:
    """Template cases at every step (two of them overdue); the clock ends 3 days after where it began."""
    clock = system.clock
    with transaction(system.sessions) as session:
        for code in TEAMS:
            system.people.team(session, code, create=True, name=f"Tim {code}")
    overdue = [case_at(driver, 1, TASK_SERAHKAN), case_at(driver, 2, TASK_KOREKSI)]
    clock.advance(days=3)
    driver.sweep()  # their deadlines pass: overdue marks, timers fired
    plan = [(TASK_SERAHKAN, 0), (TASK_TERIMA, 0), (TASK_KOREKSI, 0), (TASK_KOREKSI, 1),
            (TASK_PUTUSKAN, 0), (TASK_PUTUSKAN, 1), (TASK_UNGGAH, 0)]
    normal = [case_at(driver, 10 + k, step, rounds) for k, (step, rounds) in enumerate(plan)]
    with system.sessions() as session:
        return ([load_template(session, i, True) for i in overdue]
                + [load_template(session, i, False) for i in normal])


def _uuid(rng: random.Random) -> str:
    """A random version-4 UUID in its text form (faster than going through ``uuid.UUID``)."""
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"


def _insert(conn, table, rows: list[dict]) -> None:
    """Many rows in one go with the columns' own bind processing, without the ORM's per-row work: COPY on
    PostgreSQL, a driver-level multi-row insert on SQLite."""
    if not rows:
        return
    dialect = conn.dialect
    columns = list(table.columns)
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(c.name) for c in columns)
    processors = [(c.key, c.type.dialect_impl(dialect).bind_processor(dialect)) for c in columns]
    values = (tuple(p(row[key]) if p else row[key] for key, p in processors) for row in rows)
    if dialect.name == "postgresql":
        with conn.connection.dbapi_connection.cursor() as cursor, \
                cursor.copy(f"COPY {quote(table.name)} ({names}) FROM STDIN") as copy:
            for value in values:
                copy.write_row(value)
        return
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    conn.exec_driver_sql(f"INSERT INTO {quote(table.name)} ({names}) VALUES ({', '.join([marker] * len(columns))})",
                         list(values))


class Cloner:
    """Inserts copies of the templates; ``add(n)`` can be called again to grow the same database."""

    def __init__(self, system: System, templates: list[Template], rng: random.Random | None = None,
                 claimed_share: float = CLAIMED_SHARE):
        self.system = system
        self.claimed_share = claimed_share
        self.templates = templates
        self.normal = [t for t in templates if not t.overdue]
        self.late = [t for t in templates if t.overdue]
        self.rng = rng or random.Random(5)
        self.today = system.clock.now().astimezone(WIB).date()
        self.copies = 0

    def add(self, n: int) -> None:
        """Insert ``n`` more copies (one transaction)."""
        with self.system.db.begin() as conn:
            if conn.dialect.name == "sqlite":  # room for the indexes' pages while they grow (this connection only)
                conn.exec_driver_sql("PRAGMA cache_size=-262144")
            next_id = (conn.execute(select(func.max(Instance.id))).scalar() or 0) + 1
            for start in range(0, n, BATCH):
                instances, tasks, reminders, searches = [], [], [], []
                for k in range(start, min(n, start + BATCH)):
                    self._copy(next_id + k, instances, tasks, reminders, searches)
                _insert(conn, Instance.__table__, instances)
                _insert(conn, TaskRow.__table__, tasks)
                _insert(conn, DeadlineReminder.__table__, reminders)
                _insert(conn, CaseSearch.__table__, searches)
            if conn.dialect.name == "postgresql":  # explicit ids: move the sequence past them
                conn.execute(text("SELECT setval(pg_get_serial_sequence('instance', 'id'), "
                                  "(SELECT max(id) FROM instance))"))
            else:
                conn.execute(text("ANALYZE"))
        if self.system.db.dialect.name == "postgresql":
            # What autovacuum does soon after a bulk insert: statistics, and the visibility map that lets
            # counts be answered from an index alone.
            with self.system.db.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM (ANALYZE) instance, task, deadline_reminder, case_search")
        else:
            # What the next writes would do on a live database: the write-ahead log, hundreds of megabytes after
            # this load, is copied into the database and starts again (until then every read looks pages up in
            # its index, and a sweep that writes nothing never restarts it).
            raw = self.system.db.raw_connection()  # outside any transaction, which a checkpoint needs
            try:
                raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                raw.close()
        self.copies += n

    def _copy(self, instance_id: int, instances: list, tasks: list, reminders: list, searches: list) -> None:
        rng = self.rng
        number = instance_id
        late = self.late and rng.random() < OVERDUE_SHARE
        template = rng.choice(self.late if late else self.normal)
        shift = timedelta(0) if late else timedelta(seconds=rng.randrange(int(SPREAD.total_seconds())))
        ids = {}
        new_parts = []
        for part in template.parts:
            if part in template.dues:
                new_parts.append((template.dues[part] + shift).isoformat())
            else:
                if part not in ids:
                    ids[part] = _uuid(rng)
                new_parts.append(ids[part])
        state = [template.pieces[0]]
        for part, piece in zip(new_parts, template.pieces[1:]):
            state += (part, piece)
        team = TEAMS[number % len(TEAMS)]
        title = f"{ACTIVITIES[number % len(ACTIVITIES)]} {number}"
        day: date = self.today - timedelta(days=rng.randrange(365))
        row = dict(template.instance)
        row.update(id=instance_id, state="".join(state), title=title, business_date=day, group=team,
                   next_timer_at=row["next_timer_at"] and row["next_timer_at"] + shift)
        instances.append(row)
        for t in template.tasks:
            task = dict(t)
            if t["id"] not in ids:
                ids[t["id"]] = _uuid(rng)
            tid = ids[t["id"]]
            task.update(id=tid, instance_id=instance_id, case_title=title, case_date=day,
                        due_at=t["due_at"] and t["due_at"] + shift,
                        group=team if t["group"] is not None else None)
            if task["state"] == "ready" and task["claimed_by"] is None and rng.random() < self.claimed_share:
                mine = rng.random() < 0.05 and task["group"] in (None, "sim")
                task.update(claimed_by=SIM_USERS[LANE_GROUPS[task["lane"]]] if mine else f"staf{rng.randrange(40)}",
                            claimed_at=self.system.clock.now())
            tasks.append(task)
        for r in template.reminders:
            reminders.append(dict(r, task_id=ids.get(r["task_id"]) or _uuid(rng), instance_id=instance_id,
                                  remind_at=r["remind_at"] + shift, due_at=r["due_at"] + shift))
        searches.append({"instance_id": instance_id, "updated_at": row["updated_at"],
                         "fields": json.dumps({search.TITLE: title, **template.search_fields}, ensure_ascii=False),
                         "words": " ".join((*search.words_of(title), template.search_words, search.team_word(team),
                                            search.procedure_word(template.process_key)))})


def copies_of_one_case(system: System, step: str, copies: int, *, seed: int,
                       claimed_share: float = CLAIMED_SHARE) -> None:
    """One real case (service layer) waiting at ``step``, and ``copies`` bulk copies of it."""
    driver = Driver(system, random.Random(seed))
    driver.ensure_users()
    instance_id = case_at(driver, 1, step)
    with system.sessions() as session:
        template = load_template(session, instance_id, overdue=False)
    if copies:
        Cloner(system, [template], claimed_share=claimed_share).add(copies)

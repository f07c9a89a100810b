"""The running system of one process, built from settings: database, engine, and this application's services
(people, cases, tasks, timers, housekeeping). Used by the web app, the worker and the CLI alike."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from engine.clock import Clock, SystemClock
from engine.db import make_engine, make_reading_session_factory, make_session_factory
from engine.runtime import WorkflowEngine
from process.caseops import CaseOps
from process.cases import Cases
from process.config import Settings
from process.declarations import Rulebook
from process.housekeeping import Housekeeping
from process.people import People
from process.procedure import build_engine
from process.tasks import Tasks
from process.timers import Timers


@dataclass
class System:
    settings: Settings
    db: Engine
    #: Write transactions (on SQLite: ``BEGIN IMMEDIATE``, one writer at a time).
    sessions: sessionmaker[Session]
    engine: WorkflowEngine
    #: The declarations (process/declarations.py) in force for each version, case and task.
    rules: Rulebook
    people: People = field(init=False)
    cases: Cases = field(init=False)
    tasks: Tasks = field(init=False)
    caseops: CaseOps = field(init=False)
    timers: Timers = field(init=False)
    housekeeping: Housekeeping = field(init=False)
    #: Transactions that only read (pages shown, the worker's look-ups): on SQLite they take no writer turn and
    #: never wait for a writer (engine.db.make_reading_session_factory).
    readers: sessionmaker[Session] = field(init=False)

    def __post_init__(self) -> None:
        self.readers = make_reading_session_factory(self.db)
        self.people = People(self.engine, self.settings, self.rules)
        self.cases = Cases(self.engine, self.settings, self.people, self.rules)
        self.tasks = Tasks(self.engine, self.settings, self.people, self.rules)
        self.caseops = CaseOps(self.engine, self.settings, self.people, self.rules)
        self.timers = Timers(self.engine, self.settings, self.people, self.rules)
        self.housekeeping = Housekeeping(self.engine.clock, self.settings)

    @property
    def clock(self) -> Clock:
        return self.engine.clock

    def dispose(self) -> None:
        self.db.dispose()

    def __enter__(self) -> System:
        return self

    def __exit__(self, *exc) -> None:
        self.dispose()


def build_system(settings: Settings, clock: Clock | None = None, purpose: str = "cli") -> System:
    """The system of one process; ``purpose`` (web, worker or cli) sets how long its database waits may last
    (Settings.database_waits)."""
    if settings.database_url.startswith("sqlite:///"):
        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    pool = {} if settings.database_url.startswith("sqlite") else {
        "pool_size": settings.db_pool_size, "max_overflow": settings.db_max_overflow,
        "pool_timeout": settings.db_pool_timeout}
    lock_timeout, statement_timeout = settings.database_waits(purpose)
    db = make_engine(settings.database_url, lock_timeout=lock_timeout, statement_timeout=statement_timeout, **pool)
    engine, rules = build_engine(clock or SystemClock(), settings.warm_cases, settings.diagram_path.parent)
    return System(settings, db, make_session_factory(db), engine, rules)

"""Tables the generic engine owns. Other layers add theirs to the same ``Base.metadata``."""
from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (no zone support) and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Definition(Base):
    """One deployed version of a process diagram. The XML is stored once per version."""

    __tablename__ = "definition"
    __table_args__ = (
        UniqueConstraint("process_key", "version", name="uq_definition_key_version"),
        Index("ix_definition_key_sha", "process_key", "sha256"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_key: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300), default="")
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    xml: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str | None] = mapped_column(String(100))
    summary: Mapped[str | None] = mapped_column(Text)  # JSON: what changed against the previous version


#: Which instance rows ``ix_instance_timer_due`` holds: running cases with a timer waiting.
TIMER_WHERE = "status = 'running' AND next_timer_at IS NOT NULL"


class RunningWithTimer(ColumnElement):
    """The condition of ``ix_instance_timer_due`` for a query that should read that index: the index's own text
    (a bound ``status = ?`` would not prove the index's condition to SQLite). On SQLite the status term is marked
    ``likely()``: without table statistics SQLite takes an equality on ``ix_instance_status`` for the selective
    choice and reads every running case; the mark leaves it the due index, read in order from its start."""

    inherit_cache = True


@compiles(RunningWithTimer)
def _running_with_timer(element, compiler, **kw):
    return f"({TIMER_WHERE})"


@compiles(RunningWithTimer, "sqlite")
def _running_with_timer_sqlite(element, compiler, **kw):
    return "(likely(status = 'running') AND next_timer_at IS NOT NULL)"


class Instance(Base):
    """A running or finished case: SpiffWorkflow state without the spec, and an optimistic-lock version."""

    __tablename__ = "instance"
    __table_args__ = (
        # The worker's two questions, "when is the next timer?" and "which cases are due now?", read this index
        # from its start (the due time leads) and stop at the first row past now: their cost does not grow with the
        # number of waiting cases. Partial: finished cases and cases without a timer are not in it.
        Index("ix_instance_timer_due", "next_timer_at", "id",
              sqlite_where=text(TIMER_WHERE), postgresql_where=text(TIMER_WHERE)),
        # The case list's default order (newest first, then the id: a keyset page reads from its cursor on), for
        # who sees every case and for a team's members (whose count the second one also answers).
        Index("ix_instance_created", "created_at", "id"),
        Index("ix_instance_group_created", "group", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("definition.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="running", index=True)
    end_event: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(Text)
    serializer_version: Mapped[str] = mapped_column(String(32))
    lock_version: Mapped[int] = mapped_column(Integer, nullable=False)
    next_timer_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    title: Mapped[str] = mapped_column(String(300), default="")
    business_date: Mapped[date | None] = mapped_column(Date)
    group: Mapped[str | None] = mapped_column(String(100))
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __mapper_args__ = {"version_id_col": lock_version}


#: Which task rows the inbox queue index (``ix_task_queue``) holds: ready and not taken by anyone.
QUEUE_WHERE = "state = 'ready' AND claimed_by IS NULL"
#: Which task rows ``ix_task_held`` holds: ready and taken by someone (the team tab shows them with their holder).
HELD_WHERE = "state = 'ready' AND claimed_by IS NOT NULL"
#: Which task rows ``ix_task_claimed_state`` holds: those someone holds (or held).
CLAIMED_WHERE = "claimed_by IS NOT NULL"
#: Which task rows ``ix_task_late`` holds: ready and marked overdue.
LATE_WHERE = "state = 'ready' AND overdue_at IS NOT NULL"
#: Which task rows ``ix_task_pending_due`` holds: ready and not (yet) marked overdue.
PENDING_WHERE = "state = 'ready' AND overdue_at IS NULL"


class TaskRow(Base):
    """The inbox projection: one row per human task, written in the same transaction as the state."""

    __tablename__ = "task"
    __table_args__ = (
        # The lane inbox: the free tasks of a lane (and team) in deadline order (then creation, then id: the whole
        # order a keyset page continues, process/paging.py); a partial index, so it holds only what waits to be
        # taken, however many finished tasks the table keeps. The columns of its condition come last so that it
        # covers a tab's count (SQLite before 3.45 reads the table for a partial index's condition otherwise).
        Index("ix_task_queue", "lane", "group", "due_at", "created_at", "id", "state", "claimed_by",
              sqlite_where=text(QUEUE_WHERE), postgresql_where=text(QUEUE_WHERE)),
        # ... and the tasks of a lane (and team) someone holds, which its team sees too.
        Index("ix_task_held", "lane", "group", "due_at", "created_at", "id", "state", "claimed_by",
              sqlite_where=text(HELD_WHERE), postgresql_where=text(HELD_WHERE)),
        # Late tasks: those whose deadline timer fired, by lane (a partial index: only late ready tasks) ...
        Index("ix_task_late", "lane", "group", "due_at", "created_at", "id", "state", "overdue_at",
              sqlite_where=text(LATE_WHERE), postgresql_where=text(LATE_WHERE)),
        # ... and those whose deadline passed a moment ago, before the worker fired their timer.
        Index("ix_task_pending_due", "due_at", sqlite_where=text(PENDING_WHERE), postgresql_where=text(PENDING_WHERE)),
        # What one holds: partial, so that a query for the free tasks ("claimed_by IS NULL") never takes it.
        Index("ix_task_claimed_state", "claimed_by", "state", sqlite_where=text(CLAIMED_WHERE),
              postgresql_where=text(CLAIMED_WHERE)),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # SpiffWorkflow task id
    instance_id: Mapped[int] = mapped_column(ForeignKey("instance.id"), index=True)
    bpmn_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    lane: Mapped[str | None] = mapped_column(String(200))
    group: Mapped[str | None] = mapped_column(String(100))  # only members of this group may act (None: whole lane)
    state: Mapped[str] = mapped_column(String(16))  # ready | completed | cancelled
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # when the deadline timer fired
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_by: Mapped[str | None] = mapped_column(String(100))
    case_title: Mapped[str] = mapped_column(String(300), default="")
    case_date: Mapped[date | None] = mapped_column(Date)


class EventRow(Base):
    """The append-only history of record. ``hash`` covers the row and ``prev_hash``."""

    __tablename__ = "event"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                     autoincrement=False)
    instance_id: Mapped[int | None] = mapped_column(Integer, index=True)
    task_id: Mapped[str | None] = mapped_column(String(36))
    type: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str | None] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON, exactly the bytes that were hashed
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class ChainHead(Base):
    """Single row: the last event's position and hash. Locking it serialises appends."""

    __tablename__ = "event_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64))
    sealed: Mapped[bool] = mapped_column(Boolean, default=True)

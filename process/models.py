"""Tables of the SOP layer: people, teams, files, the register and in-app notifications."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    literal_column,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.models import Base, UTCDateTime


class Team(Base):
    """A unit that runs activities (e.g. one of the commission's divisions)."""

    __tablename__ = "team"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(200))


class Group(Base):
    """A group of people who work the lanes of a diagram that name it (process/declarations.py :class:`LaneMap`):
    by its ``code`` (``alur:lane group``, ``camunda:candidateGroups``) or by its ``name`` (a lane of the same name)."""

    __tablename__ = "app_group"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class UserGroup(Base):
    """A user's membership of a group (a user may be in several)."""

    __tablename__ = "user_group"
    __table_args__ = (UniqueConstraint("user_id", "group_id", name="uq_user_group"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("app_group.id", ondelete="CASCADE"), index=True)


class User(Base):
    __tablename__ = "app_user"
    #: A NIP names one active user (an inactive account may keep the NIP its successor is given again).
    __table_args__ = (Index("uq_app_user_nip_active", "nip", unique=True, postgresql_where=literal_column("active"),
                            sqlite_where=literal_column("active")),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The civil servant's NIP (18 digits, process/nip.py), None for who is not one; printed under a signature.
    nip: Mapped[str | None] = mapped_column(String(18))
    #: The official title printed under a signature ("Sekretaris KPU Provinsi Sumatera Barat").
    jabatan: Mapped[str] = mapped_column(String(200), default="", server_default="")

    team: Mapped[Team | None] = relationship(lazy="joined")
    role_rows: Mapped[list[UserRole]] = relationship(lazy="selectin", cascade="all, delete-orphan")
    #: The groups the user is a member of (written through this relationship only; ``UserGroup`` is for queries).
    groups: Mapped[list[Group]] = relationship(secondary="user_group", lazy="selectin", order_by="Group.code")

    @property
    def roles(self) -> frozenset[str]:
        """The user's application roles (process_owner, auditor, admin)."""
        return frozenset(r.role for r in self.role_rows)

    @property
    def group_codes(self) -> frozenset[str]:
        return frozenset(g.code for g in self.groups)

    @property
    def actor(self) -> str:
        """How this user is named in the engine's projection and event log."""
        return self.username

    @property
    def display_name(self) -> str:
        return self.full_name or self.username


class UserRole(Base):
    __tablename__ = "user_role"
    __table_args__ = (UniqueConstraint("user_id", "role", name="uq_user_role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(40), index=True)


class FileRecord(Base):
    """An uploaded file: stored outside the web root under a random name, known by its SHA-256."""

    __tablename__ = "file"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    mime: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))  # image | video | document | other
    original_name: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(100))
    uploaded_by: Mapped[str] = mapped_column(String(100))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    instance_id: Mapped[int | None] = mapped_column(Integer, index=True)


class UploadSession(Base):
    """A resumable upload under way (the tus protocol, process/resumable.py): who sends it, for which task and
    field, how long it will be. The bytes received so far are the partial file's (``files_dir/partial/<id>``); when
    the last one arrives the file is checked and stored like any other upload and ``file_id`` names it."""

    __tablename__ = "upload_session"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner: Mapped[str] = mapped_column(String(100), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    filetype: Mapped[str] = mapped_column(String(100))
    task_id: Mapped[str | None] = mapped_column(String(36))
    field: Mapped[str | None] = mapped_column(String(100))
    length: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    file_id: Mapped[str | None] = mapped_column(String(36))


class RegisterEntry(Base):
    """A procedure's register (the SOP's Register Dokumentasi dan Konten): one numbered entry per case, numbered per
    procedure and year at the step its diagram declares (``alur:register``)."""

    __tablename__ = "register_entry"
    __table_args__ = (UniqueConstraint("process_key", "year", "seq", name="uq_register_key_year_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_key: Mapped[str] = mapped_column(String(200))
    instance_id: Mapped[int] = mapped_column(Integer, unique=True)
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(100), index=True)  # unique by key, year and seq
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RegisterCounter(Base):
    """The last register number given out per procedure and year; its row lock orders concurrent submissions."""

    __tablename__ = "register_counter"

    process_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)


class IssuedDocument(Base):
    """A printed record given a document number (process/docnumbers.py): the first PDF of a record (its kind, its
    procedure, its period and what the period is read by, or its one case) takes the next number of its series and
    year; printing the same record again prints the same number ("Cetak ulang") and writes nothing."""

    __tablename__ = "issued_document"
    __table_args__ = (UniqueConstraint("record_key", name="uq_issued_document_record"),
                      UniqueConstraint("series", "year", "seq", name="uq_issued_document_series_year_seq"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: What the record is, as one text (kind, procedure, period, basis, case): one number per record.
    record_key: Mapped[str] = mapped_column(String(400))
    kind: Mapped[str] = mapped_column(String(20))  # register | tanggapan | rekap
    process_key: Mapped[str] = mapped_column(String(200))
    period_start: Mapped[date | None] = mapped_column(Date)
    period_end: Mapped[date | None] = mapped_column(Date)
    basis: Mapped[str] = mapped_column(String(20), default="")
    instance_id: Mapped[int | None] = mapped_column(Integer)  # a case's written responses (no period)
    series: Mapped[str] = mapped_column(String(100))  # the code the sequence counts in ("" : one for all)
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(200), index=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    issued_by: Mapped[str | None] = mapped_column(String(100))  # username
    #: The user ids of the signature blocks, left to right (JSON list; null for a block left blank).
    signer_ids: Mapped[str] = mapped_column(Text, default="[]")


class DocumentCounter(Base):
    """The last document number given out per series and year; its row lock orders concurrent issues."""

    __tablename__ = "document_counter"

    series: Mapped[str] = mapped_column(String(100), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)


#: The partial indexes of unread notifications (migration 0021).
UNREAD_WHERE = "read_at IS NULL"
TASK_UNREAD_WHERE = "read_at IS NULL AND task_id IS NOT NULL"
CASE_UNREAD_WHERE = "read_at IS NULL AND task_id IS NULL"


class Notification(Base):
    """In-app notification for one user: what happened as a message ``code`` and its ``params`` (JSON), rendered
    in the reader's language when it is read (process/messages.py). Rows written before the catalogue existed
    have neither and keep their Indonesian ``message``."""

    __tablename__ = "notification"
    __table_args__ = (# the unread count beside the bell, and "mark all read"
                      Index("ix_notification_user_unread", "user_id",
                            sqlite_where=text(UNREAD_WHERE), postgresql_where=text(UNREAD_WHERE)),
                      # the notifications page, newest first by a cursor (process/notification_page.py)
                      Index("ix_notification_user_created", "user_id", "created_at", "id"),
                      # marking read what a completion, an opened task or an opened case is about
                      # (process/notify.py): only the unread rows, found by the task or the case
                      Index("ix_notification_task_unread", "task_id", "user_id",
                            sqlite_where=text(TASK_UNREAD_WHERE), postgresql_where=text(TASK_UNREAD_WHERE)),
                      Index("ix_notification_case_unread", "instance_id", "user_id",
                            sqlite_where=text(CASE_UNREAD_WHERE), postgresql_where=text(CASE_UNREAD_WHERE)))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))  # task_ready | overdue | returned | delegated | deadline_soon
    message: Mapped[str | None] = mapped_column(Text)
    code: Mapped[str | None] = mapped_column(String(80))
    params: Mapped[str | None] = mapped_column(Text)  # JSON object
    instance_id: Mapped[int | None] = mapped_column(Integer)
    task_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OutboxMessage(Base):
    """One e-mail waiting to be sent, written in the same transaction as the change that causes it.

    On PostgreSQL the worker locks a row, streams the message to the SMTP server except its end-of-data mark, marks
    the row sent (flushed), then commits, sending the mark inside the commit just before COMMIT (ops/worker.py): a
    crash before the mark leaves the server with an unfinished message it discards (the row is still pending and
    sent again); after COMMIT left, the message is delivered once. On SQLite no transaction stays open while the
    server is talked to: the row is claimed with a lease (``next_attempt_at`` moved past the longest a send can
    take, the attempt counted) and the result recorded afterwards, so a worker killed in between sends it again
    once the lease runs out (at least once). See process.mail.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "sent_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(Integer)
    to_addr: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(40))
    instance_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Set when the server refused the message for good or it failed too often; it is not tried again.
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class DeadlineReminder(Base):
    """A "deadline in N hours" reminder due for a ready task; deleted once sent or when the task is no longer
    waiting."""

    __tablename__ = "deadline_reminder"

    task_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    instance_id: Mapped[int] = mapped_column(Integer)
    remind_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())


class UserSession(Base):
    """A login (``web``: the browser's session cookie) or an API token (``api``), revocable server-side.

    The cookie or token carries a random secret; the row is keyed by its SHA-256, so the table alone (a backup,
    say) opens nothing. A request is let in only while its row has not ended and its user is active (one indexed
    read, in the statement that loads the user with their roles: process/sessions.py). Logging out ends the row;
    a password reset ends every row of the user (but the one doing it, when they reset their own), and so does
    a deactivation: a reactivated account starts with no open session or token.
    """

    __tablename__ = "user_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 (hex) of the secret
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # web | api
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: logout | replaced (a new login in the same browser) | password_reset | deactivated
    end_reason: Mapped[str | None] = mapped_column(String(20))


class RateLimitCounter(Base):
    """A fixed-window counter of the login rate limits (webui/ratelimit.py), shared by every process on the
    database: the key names the limit and the client, ``expires_at`` (Unix time) ends the window."""

    __tablename__ = "rate_limit"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[float] = mapped_column(Float, index=True)


class ExportJob(Base):
    """A record (register, written responses, recap or the event log) asked for as a file, made by the worker
    (process/exportjobs.py): too many cases for a request to render in time. The file is kept in
    ``Settings.exports_dir`` (``stored_name``) until ``expires_at``, then removed by the worker's housekeeping; the
    row stays as the history of who asked for what.

    ``status``: queued → running → done | failed. A running job holds a lease (``lease_until``, moved on with every
    progress update): a worker killed mid-way leaves it running with a lease that runs out, and the next worker
    takes it again (``attempts`` counts the takes)."""

    __tablename__ = "export_job"
    __table_args__ = (Index("ix_export_job_status", "status", "created_at"),
                      Index("ix_export_job_user", "user_id", "created_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # register | tanggapan | rekap | log
    format: Mapped[str] = mapped_column(String(10))  # pdf | xlsx | csv (records); csv | xes (log)
    process_key: Mapped[str | None] = mapped_column(String(200))
    period_start: Mapped[date | None] = mapped_column(Date)
    period_end: Mapped[date | None] = mapped_column(Date)
    basis: Mapped[str | None] = mapped_column(String(20))  # ?menurut= of tanggapan and rekap
    instance_id: Mapped[int | None] = mapped_column(Integer)  # one case's written responses or log
    #: Who signs each signature block, as chosen on the record's page: user ids joined by commas, empty for a
    #: block left blank ("3,,7"); None for the log, which is not signed.
    signers: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), default="queued")
    #: What the worker is doing (collecting | rendering | writing) and how far: ``done`` of ``total`` units.
    phase: Mapped[str | None] = mapped_column(String(20))
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: Why it failed: a message code (process/messages.py) and its params (JSON).
    error_code: Mapped[str | None] = mapped_column(String(80))
    error_params: Mapped[str | None] = mapped_column(Text)
    #: The file: its name for the person, its name in ``Settings.exports_dir``, size and SHA-256.
    file_name: Mapped[str | None] = mapped_column(String(200))
    stored_name: Mapped[str | None] = mapped_column(String(100))
    file_size: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CaseSearch(Base):
    """What a case is found by (process/search.py): its name, register number, place and the procedure's texts
    (``alur:text``: narrative, caption and their corrections), kept in the same transaction as the change that
    alters them. ``fields`` holds the texts as written (JSON ``{role or field id: text}``, for the snippet);
    ``words`` the same as plain lower-case words, which the full-text index reads: an FTS5 table
    (``case_search_fts``, external content, kept by triggers) on SQLite, a generated ``tsvector`` column
    (``words_tsv``, ``simple`` configuration) with a GIN index on PostgreSQL; both made by :func:`fulltext_ddl`."""

    __tablename__ = "case_search"

    instance_id: Mapped[int] = mapped_column(ForeignKey("instance.id", ondelete="CASCADE"), primary_key=True,
                                             autoincrement=False)
    fields: Mapped[str] = mapped_column(Text, default="{}")
    words: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SavedFilter(Base):
    """A user's named filter and order of the inbox or the case list (process/savedfilters.py): the page's query
    parameters as JSON."""

    __tablename__ = "saved_filter"
    __table_args__ = (UniqueConstraint("user_id", "view", "name", name="uq_saved_filter_user_view_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    view: Mapped[str] = mapped_column(String(10))  # inbox | cases
    name: Mapped[str] = mapped_column(String(80))
    params: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


#: The full-text index of ``case_search`` on each database (not in the models' metadata: neither has a portable
#: form). Created after the table by ``create_all`` (tests) and by migration 0012.
FULLTEXT_DDL = {
    "sqlite": (
        "CREATE VIRTUAL TABLE case_search_fts USING fts5(words, content='case_search', content_rowid='instance_id',"
        " tokenize='unicode61 remove_diacritics 2', prefix='2 3')",
        "CREATE TRIGGER case_search_ai AFTER INSERT ON case_search BEGIN"
        " INSERT INTO case_search_fts(rowid, words) VALUES (new.instance_id, new.words); END",
        "CREATE TRIGGER case_search_ad AFTER DELETE ON case_search BEGIN"
        " INSERT INTO case_search_fts(case_search_fts, rowid, words) VALUES ('delete', old.instance_id, old.words);"
        " END",
        "CREATE TRIGGER case_search_au AFTER UPDATE ON case_search BEGIN"
        " INSERT INTO case_search_fts(case_search_fts, rowid, words) VALUES ('delete', old.instance_id, old.words);"
        " INSERT INTO case_search_fts(rowid, words) VALUES (new.instance_id, new.words); END",
    ),
    "postgresql": (
        "ALTER TABLE case_search ADD COLUMN words_tsv tsvector"
        " GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, words)) STORED",
        "CREATE INDEX ix_case_search_words_tsv ON case_search USING gin (words_tsv)",
    ),
}
FULLTEXT_DROP = {
    "sqlite": ("DROP TRIGGER IF EXISTS case_search_au", "DROP TRIGGER IF EXISTS case_search_ad",
               "DROP TRIGGER IF EXISTS case_search_ai", "DROP TABLE IF EXISTS case_search_fts"),
    "postgresql": ("DROP INDEX IF EXISTS ix_case_search_words_tsv",
                   "ALTER TABLE case_search DROP COLUMN IF EXISTS words_tsv"),
}


def fulltext_ddl(connection) -> None:
    """Create the full-text index of ``case_search`` on ``connection``'s database."""
    for statement in FULLTEXT_DDL.get(connection.dialect.name, ()):
        connection.exec_driver_sql(statement)


@event.listens_for(CaseSearch.__table__, "after_create")
def _fulltext_after_create(target, connection, **kw) -> None:
    fulltext_ddl(connection)


@event.listens_for(CaseSearch.__table__, "before_drop")
def _fulltext_before_drop(target, connection, **kw) -> None:
    for statement in FULLTEXT_DROP.get(connection.dialect.name, ()):
        connection.exec_driver_sql(statement)

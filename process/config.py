"""Settings of the SOP layer. Values come from the caller (the app or the CLI read the environment)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

#: Photos larger than this many pixels are refused before anything is decoded (48–50 megapixel phone cameras
#: fit; a 64-megapixel RGBA image already takes 256 MB to decode).
DEFAULT_MAX_IMAGE_PIXELS = 64_000_000

DEFAULT_PLATFORMS = ("Instagram", "Facebook", "X", "YouTube", "TikTok")

#: Caption limits per platform (characters), shown live while typing.
DEFAULT_CAPTION_LIMITS = {"Instagram": 2200, "Facebook": 63206, "X": 280, "YouTube": 5000, "TikTok": 2200}


def register_format_ok(fmt: str) -> bool:
    """Whether a register number format writes a number with the fields it may use (seq, year, month, month_roman):
    the sequence number and the year, since numbering starts again each year (without the year, January's 001 would
    be last January's number)."""
    try:
        return "{seq" in fmt and "{year" in fmt and bool(fmt.format(seq=1, year=2025, month=1, month_roman="I"))
    except (KeyError, IndexError, ValueError, AttributeError):
        return False


#: The number a printed record is given (process/docnumbers.py): ``{seq}`` the sequence number of its series and
#: year, ``{kode}`` the record's code (``REG-MEDSOS``), ``{bulan}`` / ``{bulan_romawi}`` the month it is issued in,
#: ``{tahun}`` its year.
DEFAULT_DOCUMENT_NUMBER_FORMAT = "{seq:03d}/{kode}/{bulan_romawi}/{tahun}"


def document_number_format_ok(fmt: str) -> bool:
    """Whether a document number format writes a number from the fields it may use (seq, kode, bulan,
    bulan_romawi, tahun): with the sequence number and the year, since numbering starts again each year."""
    try:
        return "{seq" in fmt and "{tahun" in fmt and bool(
            fmt.format(seq=1, kode="REG-MEDSOS", bulan=1, bulan_romawi="I", tahun=2025))
    except (KeyError, IndexError, ValueError, AttributeError):
        return False


@dataclass(frozen=True)
class MailSettings:
    """SMTP server for e-mail notifications. Without a host no e-mail is written or sent."""

    host: str
    port: int = 587
    security: str = "starttls"  # starttls | ssl | none
    username: str | None = None
    password: str | None = None
    sender: str = "Alur Medsos <alur-medsos@localhost>"
    timeout: float = 30.0

    SECURITY = ("starttls", "ssl", "none")
    DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}

    @classmethod
    def from_env(cls, env) -> MailSettings | None:
        host = (env.get("ALUR_SMTP_HOST") or "").strip()
        if not host:
            return None
        security = (env.get("ALUR_SMTP_SECURITY") or "starttls").strip().lower()
        if security not in cls.SECURITY:
            raise ValueError(f"ALUR_SMTP_SECURITY must be one of {', '.join(cls.SECURITY)}, not {security!r}")
        port = env.get("ALUR_SMTP_PORT")
        try:
            port = int(port) if port else cls.DEFAULT_PORTS[security]
        except ValueError:
            raise ValueError(f"ALUR_SMTP_PORT must be a port number, not {port!r}") from None
        return cls(host=host, port=port, security=security, username=env.get("ALUR_SMTP_USER") or None,
                   password=env.get("ALUR_SMTP_PASSWORD") or None,
                   sender=env.get("ALUR_MAIL_FROM") or cls.sender)


#: What a logo may be: read by content, not by its name.
LOGO_FORMATS = ("PNG", "JPEG")


@dataclass(frozen=True)
class Letterhead:
    """The office's letterhead (*kop surat*) on every printed record and on the SOP document."""

    office: str = "KOMISI PEMILIHAN UMUM PROVINSI SUMATERA BARAT"
    address: str = "Sekretariat — Jalan Pramuka Nomor 9 Padang"
    #: The SOP's own letterhead gives this number.
    telephone: str = "0751-446654"
    email: str = ""
    website: str = ""
    #: A PNG or JPEG printed at the letterhead's left (checked at start-up).
    logo: Path | None = None

    ENV = {"office": "ALUR_KOP_OFFICE", "address": "ALUR_KOP_ADDRESS", "telephone": "ALUR_KOP_TELEPHONE",
           "email": "ALUR_KOP_EMAIL", "website": "ALUR_KOP_WEBSITE", "logo": "ALUR_KOP_LOGO"}

    @property
    def contacts(self) -> str:
        """The contact line under the address: "Telepon 0751-446654 — Pos-el … — Laman …" (what is set)."""
        parts = (("Telepon", self.telephone), ("Pos-el", self.email), ("Laman", self.website))
        return " — ".join(f"{label} {value}" for label, value in parts if value)

    @classmethod
    def from_env(cls, env) -> Letterhead:
        values: dict = {}
        for key, name in cls.ENV.items():
            text = " ".join((env.get(name) or "").split())  # one line: no newlines or runs of spaces
            if text:
                values[key] = text
        if "office" in values and len(values["office"]) > 120:
            raise ValueError(f"{cls.ENV['office']} must be at most 120 characters, not {len(values['office'])}")
        email = values.get("email")
        if email and (email.count("@") != 1 or " " in email or not email.split("@")[1]):
            raise ValueError(f"{cls.ENV['email']} must be an e-mail address, not {email!r}")
        if "logo" in values:
            values["logo"] = check_logo(Path(values["logo"]), cls.ENV["logo"])
        return cls(**values)


def check_logo(path: Path, name: str = "ALUR_KOP_LOGO") -> Path:
    """The logo's path if it is a readable PNG or JPEG (by content) of a sensible size; ValueError naming the
    variable and the problem otherwise."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise ValueError(f"{name}: no such file {str(path)!r}")
    try:
        with Image.open(path) as image:
            fmt, (width, height) = image.format, image.size
            if fmt in LOGO_FORMATS and width * height <= 25_000_000:
                image.load()  # a truncated file fails here, not while printing
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ValueError(f"{name}: {str(path)!r} is not a readable PNG or JPEG image ({exc})") from None
    if fmt not in LOGO_FORMATS:
        raise ValueError(f"{name}: {str(path)!r} is a {fmt} image; the letterhead takes PNG or JPEG")
    if width * height > 25_000_000 or min(width, height) < 16:
        raise ValueError(f"{name}: {str(path)!r} is {width}×{height} pixels; a logo must be at least 16 pixels "
                         "and at most 25 megapixels")
    return path.resolve()


_MB = 1024 * 1024

#: The numeric settings read from the environment: (field, variable, value from its text, whether the value is
#: acceptable, what it must be — for the error that names the variable).
_NUMBERS = (
    ("max_image_bytes", "ALUR_MAX_IMAGE_MB", lambda t: int(float(t) * _MB), lambda v: v > 0,
     "a number of megabytes, more than 0"),
    ("max_other_bytes", "ALUR_MAX_FILE_MB", lambda t: int(float(t) * _MB), lambda v: v > 0,
     "a number of megabytes, more than 0"),
    ("max_image_pixels", "ALUR_MAX_IMAGE_MEGAPIXELS", lambda t: int(float(t) * 1_000_000), lambda v: v >= 1,
     "a number of megapixels, more than 0"),
    ("upload_retention_days", "ALUR_UPLOAD_RETENTION_DAYS", float, lambda v: v >= 0, "a number of days"),
    ("reminder_hours", "ALUR_REMINDER_HOURS", float, lambda v: v >= 0, "a number of hours"),
    ("db_pool_size", "ALUR_DB_POOL_SIZE", int, lambda v: v >= 1, "a whole number, 1 or more"),
    ("db_max_overflow", "ALUR_DB_MAX_OVERFLOW", int, lambda v: v >= 0, "a whole number, 0 or more"),
    ("db_pool_timeout", "ALUR_DB_POOL_TIMEOUT", float, lambda v: v > 0, "a number of seconds, more than 0"),
    ("warm_cases", "ALUR_WARM_CASES", int, lambda v: v >= 0, "0 or more"),
    ("request_timeout", "ALUR_REQUEST_TIMEOUT", int, lambda v: v >= 2, "a whole number of seconds, 2 or more"),
    ("export_keep_hours", "ALUR_EXPORT_KEEP_HOURS", float, lambda v: v > 0, "a number of hours, more than 0"),
    ("export_instant_max", "ALUR_EXPORT_INSTANT_MAX", int, lambda v: v >= 0, "a whole number, 0 or more"),
)


@dataclass(frozen=True)
class Settings:
    database_url: str
    files_dir: Path
    process_key: str = "alur_pengunggahan"
    diagram_path: Path = Path(__file__).resolve().parents[1] / "bpmn" / "alur_pengunggahan.bpmn"
    platforms: tuple[str, ...] = DEFAULT_PLATFORMS
    caption_limits: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_CAPTION_LIMITS))
    #: ``{seq}``, ``{month_roman}``, ``{month}``, ``{year}`` are filled in.
    register_format: str = "{seq:03d}/REG-MEDSOS/{month_roman}/{year}"
    #: The number of a printed record (``ALUR_DOCUMENT_NUMBER_FORMAT``): :data:`DEFAULT_DOCUMENT_NUMBER_FORMAT`.
    document_number_format: str = DEFAULT_DOCUMENT_NUMBER_FORMAT
    max_image_bytes: int = 25 * 1024 * 1024
    max_other_bytes: int = 200 * 1024 * 1024
    #: Width × height a photo may have (checked from its header, before decoding).
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
    mail: MailSettings | None = None
    #: Uploads never attached to a case (a form that was never sent) are removed after this many days.
    upload_retention_days: float = 7.0
    #: PostgreSQL connections per process (SQLAlchemy pool): ``pool_size`` kept open, up to ``max_overflow``
    #: more under load, waiting at most ``pool_timeout`` seconds for one (then 503). A gunicorn worker runs one
    #: request at a time, so its pool rarely uses more than one; size PostgreSQL's max_connections for
    #: (web workers + worker processes) × (pool_size + max_overflow).
    db_pool_size: int = 2
    db_max_overflow: int = 3
    db_pool_timeout: float = 10.0
    #: gunicorn's worker timeout (``alur serve``), seconds: a request still running then is killed, and its client
    #: gets an empty 500. The database waits of the web processes and of the worker are derived from it and end
    #: well before (:meth:`database_waits`): a request that cannot get its rows in time answers 503 with
    #: Retry-After instead, having written nothing.
    request_timeout: int = 60
    #: A "deadline soon" reminder goes out this many hours before a task's deadline.
    reminder_hours: float = 6.0
    #: Workflows of recently acted-on cases kept in memory per process (about 20 KB each), so the next action on
    #: one skips reading its state; 0 turns this off (see engine.state.WarmWorkflows).
    warm_cases: int = 256
    #: Address of the app as users reach it, for links in e-mails.
    base_url: str = "http://127.0.0.1:5000"
    #: The letterhead of the printed records and of the SOP document (``ALUR_KOP_*``).
    letterhead: Letterhead = field(default_factory=Letterhead)
    #: A record download whose period holds more cases than this is prepared in the background by the worker
    #: (process/exportjobs.py); up to this many it is built while the request waits.
    export_instant_max: int = 300
    #: Hours a prepared download is kept; the worker's housekeeping deletes it then.
    export_keep_hours: float = 72.0
    #: Where prepared downloads are written (``ALUR_EXPORT_DIR``); by default ``exports/`` beside the uploads
    #: directory (not inside it: every file there must be an upload a record names).
    export_dir: Path | None = None

    #: Kinds of process, for :meth:`database_waits`.
    PURPOSES = ("web", "worker", "cli")

    @property
    def exports_dir(self) -> Path:
        """The directory of prepared downloads."""
        return self.export_dir or self.files_dir.parent / "exports"

    @property
    def export_keep(self) -> timedelta:
        return timedelta(hours=self.export_keep_hours)

    @property
    def reminder_lead(self) -> timedelta:
        """How long before a deadline its "deadline soon" reminder goes out."""
        return timedelta(hours=self.reminder_hours)

    def database_waits(self, purpose: str) -> tuple[float | None, float | None]:
        """(lock timeout, statement timeout) in seconds for the connections of a kind of process (None: no limit).

        - ``web`` (gunicorn workers): a statement waits for a row lock, or a transaction for the SQLite write turn,
          at most a sixth of ``request_timeout`` (10 s of 60), and runs at most half of it (30 s; PostgreSQL only).
          A write request waits for a lock once or twice (its case row first, the event chain head at commit,
          held only while a transaction commits), so with the wait for a pooled connection (``db_pool_timeout``,
          10 s) it answers well within the worker timeout: 503 with Retry-After (webui/errors.py), nothing written.
        - ``worker`` (``alur worker``): the same, so a worker is never stuck behind a transaction that does not
          end; it takes cases with SKIP LOCKED anyway, and a case that times out is rolled back alone and tried
          again (ops/worker.py).
        - ``cli`` (every other command: init-db and its migrations, backup, restore, user administration, audit,
          simulate, bench): no limit. They are run by an operator who can interrupt them, and a backup's snapshot
          or a migration on a large database may rightly take longer than any request.
        """
        if purpose not in self.PURPOSES:
            raise ValueError(f"purpose must be one of {', '.join(self.PURPOSES)}, not {purpose!r}")
        if purpose == "cli":
            return None, None
        return self.request_timeout / 6, self.request_timeout / 2

    @classmethod
    def from_env(cls, instance_dir: Path | None = None, env: dict | None = None) -> Settings:
        env = os.environ if env is None else env
        instance_dir = Path(env.get("ALUR_INSTANCE_DIR") or instance_dir or Path.cwd() / "instance")
        url = env.get("ALUR_DATABASE_URL") or f"sqlite:///{instance_dir / 'alur.db'}"
        platforms = tuple(p.strip() for p in env.get("ALUR_PLATFORMS", "").split(",") if p.strip())
        kwargs: dict = {}
        if platforms:
            kwargs["platforms"] = platforms
        if env.get("ALUR_REGISTER_FORMAT"):
            fmt = env["ALUR_REGISTER_FORMAT"]
            # Refused at start-up: a format that cannot number would stop every case at its first submission.
            if not register_format_ok(fmt):
                raise ValueError("ALUR_REGISTER_FORMAT must write {seq} and {year} (and may write {month}, "
                                 f"{{month_roman}}), e.g. {{seq:03d}}/REG-MEDSOS/{{month_roman}}/{{year}}, not {fmt!r}")
            kwargs["register_format"] = fmt
        if env.get("ALUR_DOCUMENT_NUMBER_FORMAT"):
            fmt = env["ALUR_DOCUMENT_NUMBER_FORMAT"]
            # Refused at start-up: a format that cannot number would fail every printed record.
            if not document_number_format_ok(fmt):
                raise ValueError("ALUR_DOCUMENT_NUMBER_FORMAT must write {seq} and {tahun} (and may write {kode}, "
                                 "{bulan}, {bulan_romawi}), e.g. {seq:03d}/{kode}/{bulan_romawi}/{tahun}, "
                                 f"not {fmt!r}")
            kwargs["document_number_format"] = fmt
        for key, name, convert, valid, must in _NUMBERS:
            text = env.get(name)
            if not text:
                continue
            try:
                value = convert(text)
            except ValueError:
                value = None
            if value is None or not valid(value):
                raise ValueError(f"{name} must be {must}, not {text!r}")
            kwargs[key] = value
        if env.get("ALUR_BASE_URL"):
            kwargs["base_url"] = env["ALUR_BASE_URL"].rstrip("/")
        files_dir = Path(env.get("ALUR_FILES_DIR") or instance_dir / "files")
        if env.get("ALUR_EXPORT_DIR"):
            kwargs["export_dir"] = Path(env["ALUR_EXPORT_DIR"])
        return cls(database_url=url, files_dir=files_dir, mail=MailSettings.from_env(env),
                   letterhead=Letterhead.from_env(env), **kwargs)

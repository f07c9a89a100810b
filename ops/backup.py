"""`alur backup PATH` and `alur restore PATH`: the database, the uploaded files and a manifest in one zip.

Why a zip rather than a .tar.gz: its central directory lets restore read ``manifest.json`` and check each
member without unpacking the rest; every member carries a CRC and can be stored uncompressed (photos,
videos and pg_dump's custom format are compressed already), and staff can open it with any tool.

The archive:

- ``database/alur.sqlite3`` — a copy made with SQLite's online backup API (one step, so a consistent
  snapshot while the app keeps writing), or ``database/alur.pgdump`` — ``pg_dump --format=custom`` of the
  snapshot exported by the transaction that also read the manifest's facts, so the two agree;
- ``files/<stored name>`` — every upload the database refers to, checked against its recorded SHA-256;
- ``manifest.json`` — format and app version, database kind, Alembic revision, the event chain's head,
  counts, and the SHA-256 and size of every other member.

Restore checks the manifest and every hash, the database kind and that the target is empty (or
``--force``) before it changes anything. SQLite is restored, migrated and verified in a temporary file
that then replaces the database by a rename; PostgreSQL is restored in one transaction (the old tables
dropped in that same transaction), then migrated and verified. Files are staged inside the files
directory and moved into place only after the database has been restored.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import uuid
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import click
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import SQLAlchemyError

from engine import eventlog
from engine.db import make_engine
from engine.models import ChainHead, EventRow, Instance, TaskRow
from ops.schema import alembic_config, init_database
from process.config import Settings
from process.models import FileRecord, User
from process.system import build_system

FORMAT = "alur-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DB_MEMBERS = {"sqlite": "database/alur.sqlite3", "postgresql": "database/alur.pgdump"}
KIND_LABELS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
FILES_PREFIX = "files/"
STAGING_PREFIX = ".alur-restore-"
_MEMBER_NAME = re.compile(r"^(database|files)/[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
_CHUNK = 1 << 20
_COUNTED = {"cases": Instance, "events": EventRow, "tasks": TaskRow, "files": FileRecord, "users": User}


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says what happened and what was left as it was."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# ---------------------------------------------------------------------------------------------- helpers


def database_kind(url: str) -> str:
    try:
        backend = make_url(url).get_backend_name()
    except SQLAlchemyError as exc:
        raise BackupError(f"cannot read the database URL: {exc}") from None
    if backend not in DB_MEMBERS:
        raise BackupError(f"backup supports SQLite and PostgreSQL, not {backend!r}")
    return backend


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError(f"not a SQLite database file: {url}")
    return Path(database)


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """The SQLAlchemy URL as a libpq URI for the PostgreSQL client tools, the password in PGPASSWORD
    (never on a command line, where `ps` would show it)."""
    parsed: URL = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    env.setdefault("PGCONNECT_TIMEOUT", "10")
    uri = parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return uri, env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} not found on PATH: install the PostgreSQL client tools of the server's major "
                          "version (Debian: apt install postgresql-client)")
    return path


def _stderr_summary(raw: bytes, limit: int = 600) -> str:
    lines = [line.strip() for line in raw.decode("utf-8", "replace").splitlines() if line.strip()]
    text_ = "; ".join(lines[-6:]) or "no message"
    return text_ if len(text_) <= limit else "…" + text_[-limit:]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _app_version() -> str:
    try:
        return metadata.version("alur-medsos")
    except metadata.PackageNotFoundError:
        return "unknown"


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{max(1, round(n / 1024))} KB"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _count_text(counts: dict) -> str:
    return ", ".join(_plural(counts[k], k.rstrip("s")) for k in ("cases", "events", "tasks", "files", "users")
                     if k in counts)


def _facts(conn: Connection) -> dict:
    """What the manifest records about a database, read through one connection (one snapshot)."""
    if not inspect(conn).has_table(ChainHead.__tablename__):
        raise BackupError("not an Alur database (no event_chain_head table): run `alur init-db` first")
    head = conn.execute(select(ChainHead.seq, ChainHead.hash).where(ChainHead.id == 1)).one_or_none()
    if head is None:
        raise BackupError("the event chain head row is missing: run `alur init-db` first")
    counts = {name: conn.execute(select(func.count()).select_from(model.__table__)).scalar_one()
              for name, model in _COUNTED.items()}
    files = conn.execute(select(FileRecord.stored_name, FileRecord.sha256).order_by(FileRecord.stored_name)).all()
    return {"schema_revision": MigrationContext.configure(conn).get_current_revision(),
            "chain_head": {"seq": int(head.seq), "hash": head.hash}, "counts": counts,
            "files": [(r.stored_name, r.sha256) for r in files]}


# ----------------------------------------------------------------------------------------------- backup


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size: int
    manifest: dict


def _snapshot_sqlite(url: str, dest: Path) -> dict:
    source = _sqlite_path(url)
    if not source.is_file():
        raise BackupError(f"database file {source} does not exist")
    try:
        src = sqlite3.connect(source, timeout=30)
        try:
            out = sqlite3.connect(dest)
            try:
                src.backup(out)  # pages=-1: the whole database in one step, a consistent snapshot
                out.execute("PRAGMA journal_mode=DELETE")  # a self-contained file, no -wal beside it
                check = out.execute("PRAGMA quick_check").fetchone()[0]
            finally:
                out.close()
        finally:
            src.close()
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite backup of {source} failed: {exc}") from None
    if check != "ok":
        raise BackupError(f"the copy of {source} fails SQLite's quick_check: {check}")
    engine = create_engine(f"sqlite:///{dest}")
    try:
        with engine.connect() as conn:
            return _facts(conn)
    finally:
        engine.dispose()


def _snapshot_postgresql(url: str, dest: Path) -> dict:
    pg_dump = _tool("pg_dump")
    uri, env = _libpq(url)
    engine = make_engine(url)
    try:
        # One REPEATABLE READ transaction exports its snapshot to pg_dump and reads the manifest's facts,
        # and stays open until pg_dump is done: dump and manifest describe the same moment.
        with engine.connect().execution_options(isolation_level="REPEATABLE READ",
                                                postgresql_readonly=True) as conn, conn.begin():
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            facts = _facts(conn)
            facts["server_version"] = conn.execute(text("SHOW server_version")).scalar_one()
            done = subprocess.run([pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={dest}",
                                   f"--dbname={uri}"], env=env, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
            if done.returncode != 0:
                raise BackupError(f"pg_dump failed (exit {done.returncode}): {_stderr_summary(done.stderr)}")
    except SQLAlchemyError as exc:
        raise BackupError(f"cannot read the database: {exc.__class__.__name__}: "
                          f"{str(exc.orig if hasattr(exc, 'orig') else exc).strip()}") from None
    finally:
        engine.dispose()
    return facts


def _add_member(zf: zipfile.ZipFile, source: Path, name: str, compress: bool) -> dict:
    info = zipfile.ZipInfo.from_file(source, name)
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    digest, size = hashlib.sha256(), 0
    with open(source, "rb") as fin, zf.open(info, "w") as out:
        while chunk := fin.read(_CHUNK):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
    return {"sha256": digest.hexdigest(), "size": size}


def create_backup(settings: Settings, path: Path) -> BackupResult:
    """Write one archive at ``path`` (never over an existing file; the archive appears only when complete)."""
    kind = database_kind(settings.database_url)
    path = Path(path)
    if path.exists():
        raise BackupError(f"{path} exists already: choose a new file name (a backup is never overwritten)")
    path.parent.mkdir(parents=True, exist_ok=True)
    files_dir = Path(settings.files_dir)
    with tempfile.TemporaryDirectory(prefix=".alur-backup-", dir=path.parent) as work:
        db_copy = Path(work) / "database"
        if kind == "sqlite":
            facts = _snapshot_sqlite(settings.database_url, db_copy)
        else:
            facts = _snapshot_postgresql(settings.database_url, db_copy)
        bad_names = [name for name, _ in facts["files"] if not _MEMBER_NAME.match(FILES_PREFIX + name)]
        missing = [name for name, _ in facts["files"] if not (files_dir / name).is_file()]
        if bad_names or missing:
            problems = []
            if missing:
                problems.append(f"{len(missing)} uploaded file(s) recorded in the database are missing from "
                                f"{files_dir}: {', '.join(missing[:5])}" + (" …" if len(missing) > 5 else ""))
            if bad_names:
                problems.append(f"unexpected stored file names: {', '.join(bad_names[:5])}")
            raise BackupError("backup not written: " + "; ".join(problems))
        tmp = Path(work) / "archive.zip"
        members: dict[str, dict] = {}
        mismatched = []
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)  # users' password hashes are inside
        with os.fdopen(fd, "wb") as raw:
            with zipfile.ZipFile(raw, "w") as zf:
                members[DB_MEMBERS[kind]] = _add_member(zf, db_copy, DB_MEMBERS[kind], compress=kind == "sqlite")
                for name, sha256 in facts["files"]:
                    member = FILES_PREFIX + name
                    if member in members:
                        continue
                    members[member] = _add_member(zf, files_dir / name, member, compress=False)
                    if members[member]["sha256"] != sha256:
                        mismatched.append(name)
                if mismatched:
                    raise BackupError(f"backup not written: {len(mismatched)} uploaded file(s) in {files_dir} no "
                                      f"longer match their recorded SHA-256: {', '.join(mismatched[:5])}")
                manifest = {
                    "format": FORMAT, "format_version": FORMAT_VERSION, "app_version": _app_version(),
                    "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "database": {"kind": kind, "member": DB_MEMBERS[kind],
                                 "source": make_url(settings.database_url).render_as_string(hide_password=True),
                                 **({"server_version": facts["server_version"]} if "server_version" in facts
                                    else {})},
                    "schema_revision": facts["schema_revision"],
                    "chain_head": facts["chain_head"],
                    "counts": facts["counts"],
                    "members": members,
                }
                zf.writestr(MANIFEST, json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False),
                            compress_type=zipfile.ZIP_DEFLATED)
            raw.flush()
            os.fsync(raw.fileno())
        try:
            os.link(tmp, path)  # never replaces: fails if the name was taken meanwhile
        except FileExistsError:
            raise BackupError(f"{path} appeared while the backup was being written; it was left as it is") from None
        except OSError:  # a file system without hard links
            if path.exists():
                raise BackupError(f"{path} appeared while the backup was being written; it was left as it "
                                  "is") from None
            os.replace(tmp, path)
        _fsync_dir(path.parent)
    return BackupResult(path, path.stat().st_size, manifest)


# ---------------------------------------------------------------------------------------------- restore


@dataclass
class Archive:
    """An opened backup whose manifest and every member's SHA-256 were checked."""

    path: Path
    zf: zipfile.ZipFile
    manifest: dict

    @property
    def kind(self) -> str:
        return self.manifest["database"]["kind"]

    @property
    def file_members(self) -> dict[str, dict]:
        return {name.removeprefix(FILES_PREFIX): entry for name, entry in self.manifest["members"].items()
                if name.startswith(FILES_PREFIX)}

    def close(self) -> None:
        self.zf.close()

    def extract(self, name: str, dest: Path) -> None:
        """Copy one member to ``dest`` (a new file), checking its hash again on the way."""
        expected = self.manifest["members"][name]
        digest, size = hashlib.sha256(), 0
        try:
            with self.zf.open(name) as src, open(dest, "xb") as out:
                while chunk := src.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise BackupError(f"archive member {name} cannot be read: {exc}") from None
        if digest.hexdigest() != expected["sha256"] or size != expected["size"]:
            raise BackupError(f"archive member {name} changed while it was being restored (SHA-256 mismatch)")


def _bad_archive(path: Path, why: str) -> BackupError:
    return BackupError(f"{path} is not a usable Alur backup: {why}. Nothing was changed.")


def open_archive(path: Path) -> Archive:
    """Open ``path`` and check the manifest and every member's SHA-256 and size; change nothing."""
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"backup file {path} does not exist. Nothing was changed.")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise _bad_archive(path, f"not a readable zip archive ({exc})") from None
    try:
        manifest = _check_manifest(path, zf)
        problems = []
        for name, entry in manifest["members"].items():
            digest, size = hashlib.sha256(), 0
            try:
                with zf.open(name) as src:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
                problems.append(f"{name} cannot be read ({exc})")
                continue
            if digest.hexdigest() != entry["sha256"]:
                problems.append(f"{name} has SHA-256 {digest.hexdigest()[:12]}…, the manifest says "
                                f"{entry['sha256'][:12]}…")
            elif size != entry["size"]:
                problems.append(f"{name} has {size} bytes, the manifest says {entry['size']}")
        if problems:
            raise _bad_archive(path, f"{_plural(len(problems), 'member')} corrupt: " + "; ".join(problems[:5])
                               + (" …" if len(problems) > 5 else ""))
    except BaseException:
        zf.close()
        raise
    return Archive(path, zf, manifest)


def _check_manifest(path: Path, zf: zipfile.ZipFile) -> dict:
    names = [info.filename for info in zf.infolist()]
    if len(names) != len(set(names)):
        raise _bad_archive(path, "it holds the same member name twice")
    if MANIFEST not in names:
        raise _bad_archive(path, "no manifest.json")
    try:
        manifest = json.loads(zf.read(MANIFEST))
    except (zipfile.BadZipFile, zlib.error, EOFError, UnicodeDecodeError, ValueError) as exc:
        raise _bad_archive(path, f"manifest.json cannot be read ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _bad_archive(path, "manifest.json is not an Alur backup manifest")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise _bad_archive(path, "manifest.json has no valid format_version")
    if version > FORMAT_VERSION:
        raise _bad_archive(path, f"it was made in backup format {version} by a newer Alur "
                                 f"({manifest.get('app_version')}); this one reads format {FORMAT_VERSION}")
    try:
        kind = manifest["database"]["kind"]
        members = manifest["members"]
        head = manifest["chain_head"]
        counts = manifest["counts"]
        assert kind in DB_MEMBERS and manifest["database"]["member"] == DB_MEMBERS[kind]
        assert isinstance(members, dict) and DB_MEMBERS[kind] in members
        assert all(isinstance(e, dict) and isinstance(e.get("sha256"), str) and isinstance(e.get("size"), int)
                   for e in members.values())
        assert isinstance(head["seq"], int) and re.fullmatch(r"[0-9a-f]{64}", head["hash"])
        assert all(isinstance(counts.get(k), int) for k in _COUNTED)
        assert manifest.get("schema_revision") is None or isinstance(manifest["schema_revision"], str)
    except (KeyError, TypeError, AssertionError):
        raise _bad_archive(path, "manifest.json lacks required fields or has malformed ones") from None
    unsafe = [name for name in members if not _MEMBER_NAME.match(name)]
    if unsafe:
        raise _bad_archive(path, f"unexpected member names in the manifest: {', '.join(unsafe[:5])}")
    listed = set(members) | {MANIFEST}
    missing = sorted(set(members) - set(names))
    extra = sorted(set(names) - listed)
    if missing:
        raise _bad_archive(path, f"members listed in the manifest are missing: {', '.join(missing[:5])}")
    if extra:
        raise _bad_archive(path, f"members not listed in the manifest: {', '.join(extra[:5])}")
    return manifest


@dataclass
class TargetState:
    """What the restore would replace."""

    rows: dict[str, int] = field(default_factory=dict)  # table -> rows, for tables holding data
    chain_seq: int = 0
    files: list[str] = field(default_factory=list)
    note: str | None = None  # e.g. "not a SQLite database"

    @property
    def empty(self) -> bool:
        return not self.rows and not self.chain_seq and not self.files and not self.note

    def describe(self) -> str:
        parts = []
        if self.note:
            parts.append(self.note)
        if self.rows or self.chain_seq:
            known = {"instance": "case", "event": "event", "task": "task", "file": "file record",
                     "app_user": "user"}
            main = [_plural(self.rows[t], word) for t, word in known.items() if self.rows.get(t)]
            others = sum(n for t, n in self.rows.items() if t not in known)
            if others:
                main.append(_plural(others, "other row"))
            if self.chain_seq and not self.rows.get("event"):
                main.append(f"an event chain at #{self.chain_seq}")
            parts.append("the database holds " + ", ".join(main))
        if self.files:
            parts.append(f"the files directory holds {_plural(len(self.files), 'file')}")
        return "; ".join(parts)


def _rows(conn: Connection, schema: str | None = None) -> tuple[dict[str, int], int]:
    rows, chain_seq = {}, 0
    quote = conn.dialect.identifier_preparer.quote
    for table in inspect(conn).get_table_names(schema=schema):
        if table == "alembic_version":
            continue
        if table == ChainHead.__tablename__:
            chain_seq = conn.execute(select(func.coalesce(func.max(ChainHead.seq), 0))).scalar_one()
            continue
        prefix = f"{quote(schema)}." if schema else ""
        n = conn.execute(text(f"SELECT COUNT(*) FROM {prefix}{quote(table)}")).scalar_one()
        if n:
            rows[table] = n
    return rows, int(chain_seq or 0)


def _files_in(files_dir: Path) -> list[str]:
    if not files_dir.exists():
        return []
    if not files_dir.is_dir():
        raise BackupError(f"the files directory {files_dir} is not a directory. Nothing was changed.")
    return sorted(entry.name for entry in files_dir.iterdir() if not entry.name.startswith(STAGING_PREFIX))


def _sqlite_state(path: Path) -> TargetState:
    state = TargetState()
    if not path.exists() or path.stat().st_size == 0:
        return state
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            state.rows, state.chain_seq = _rows(conn)
    except SQLAlchemyError:
        state.note = f"{path} is not a readable SQLite database"
    finally:
        engine.dispose()
    return state


def _pg_connect_error(exc: SQLAlchemyError, url: str) -> BackupError:
    orig = str(getattr(exc, "orig", exc)).strip().splitlines()
    where = make_url(url).render_as_string(hide_password=True)
    return BackupError(f"cannot use the target database {where}: {orig[0] if orig else exc}. Create it first "
                       "(e.g. createdb) and check ALUR_DATABASE_URL. Nothing was changed.")


def _pg_state(url: str) -> tuple[TargetState, int]:
    """The target's contents (public schema) and the number of other sessions connected to it."""
    state = TargetState()
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            state.rows, state.chain_seq = _rows(conn, "public")
            others = conn.execute(text("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
                                       "AND pid <> pg_backend_pid() AND backend_type = 'client backend'")).scalar_one()
    except SQLAlchemyError as exc:
        raise _pg_connect_error(exc, url) from None
    finally:
        engine.dispose()
    return state, int(others)


def _pg_drop_script(url: str) -> str:
    """SQL that drops what the public schema holds, run in the restore's own transaction."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rels = conn.execute(text(
                "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')")).all()
            types = conn.execute(text(
                "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
                "WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd')")).scalars().all()
    except SQLAlchemyError as exc:
        raise _pg_connect_error(exc, url) from None
    finally:
        engine.dispose()

    def q(name: str) -> str:
        return 'public."' + name.replace('"', '""') + '"'

    kinds = {"r": "TABLE", "p": "TABLE", "f": "FOREIGN TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW",
             "S": "SEQUENCE"}
    order = ["v", "m", "r", "p", "f", "S"]
    statements = [f"DROP {kinds[k]} IF EXISTS {q(name)} CASCADE;" for k in order for name, kind in rels
                  if kind == k]
    statements += [f"DROP TYPE IF EXISTS {q(name)} CASCADE;" for name in types]
    return "\n".join(statements) + "\n"


def _pg_restore(dump: Path, url: str, prelude: str) -> None:
    """pg_restore's SQL piped into one psql transaction: BEGIN, the prelude, the dump, and COMMIT only
    when pg_restore finished cleanly; any error rolls all of it back."""
    pg_restore, psql = _tool("pg_restore"), _tool("psql")
    uri, env = _libpq(url)
    with tempfile.TemporaryFile() as restore_err, tempfile.TemporaryFile() as psql_err:
        producer = subprocess.Popen([pg_restore, "--no-owner", "--no-privileges", "--file=-", str(dump)],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=restore_err)
        consumer = subprocess.Popen([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", f"--dbname={uri}"],
                                    stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=psql_err, env=env)
        committed = False
        try:
            consumer.stdin.write(b"BEGIN;\n" + prelude.encode())
            shutil.copyfileobj(producer.stdout, consumer.stdin, _CHUNK)
            if producer.wait() == 0:
                consumer.stdin.write(b"\nCOMMIT;\n")
                committed = True
        except BrokenPipeError:
            pass  # psql stopped at an error; its message says which
        finally:
            try:
                consumer.stdin.close()
            except BrokenPipeError:
                committed = False
            if producer.poll() is None:
                producer.kill()
            producer.wait()
            producer.stdout.close()
            consumer.wait()
        if consumer.returncode != 0:
            psql_err.seek(0)
            raise BackupError(f"restoring the database failed and was rolled back (psql exit {consumer.returncode}): "
                              f"{_stderr_summary(psql_err.read())}")
        if producer.returncode != 0 or not committed:
            restore_err.seek(0)
            raise BackupError(f"pg_restore failed (exit {producer.returncode}): "
                              f"{_stderr_summary(restore_err.read())}")


@dataclass(frozen=True)
class RestoreResult:
    manifest: dict
    replaced: str | None  # what --force replaced
    schema_before: str | None
    schema_after: str | None
    chain: eventlog.ChainReport
    counts: dict
    removed_files: int


def _check_revision(revision: str | None, url: str) -> None:
    if revision is None:
        return
    try:
        ScriptDirectory.from_config(alembic_config(url)).get_revision(revision)
    except CommandError:
        raise BackupError(f"the backup's schema revision {revision} is unknown to this version of Alur "
                          f"({_app_version()}): restore it with the Alur version that made it, or a newer "
                          "one. Nothing was changed.") from None


def _verify_restored(settings: Settings, archive: Archive) -> tuple[str | None, eventlog.ChainReport, dict]:
    """Migrate the restored database to the newest schema, then check it against the manifest."""
    manifest = archive.manifest
    with build_system(settings) as system:
        init_database(system)
        with system.sessions() as session:
            chain = eventlog.verify(session)
            head = session.get(ChainHead, 1)
            counts = {name: session.execute(select(func.count()).select_from(model.__table__)).scalar_one()
                      for name, model in _COUNTED.items()}
            records = session.execute(select(FileRecord.stored_name, FileRecord.sha256)).all()
        with system.db.connect() as conn:
            revision = MigrationContext.configure(conn).get_current_revision()
    if not chain.ok:
        raise BackupError(f"the restored event log does not verify after {chain.checked} events: {chain.problem}")
    expected = manifest["chain_head"]
    if head is None or head.seq != expected["seq"] or head.hash != expected["hash"]:
        got = f"#{head.seq} {head.hash[:12]}…" if head else "missing"
        raise BackupError(f"the restored chain head ({got}) is not the manifest's "
                          f"(#{expected['seq']} {expected['hash'][:12]}…)")
    differing = [k for k in _COUNTED if counts[k] != manifest["counts"][k]]
    if differing:
        raise BackupError("the restored database's counts differ from the manifest: " + ", ".join(
            f"{k} {counts[k]} vs {manifest['counts'][k]}" for k in differing))
    files = archive.file_members
    unmatched = [name for name, sha256 in records if files.get(name, {}).get("sha256") != sha256]
    if unmatched:
        raise BackupError(f"{len(unmatched)} file record(s) of the restored database have no matching file in "
                          f"the archive: {', '.join(unmatched[:5])}")
    return revision, chain, counts


def _stage_files(archive: Archive, files_dir: Path) -> Path:
    """Unpack the files into a staging folder inside the files directory (same file system: moving them
    into place later is a rename)."""
    files_dir.mkdir(parents=True, exist_ok=True)
    staging = files_dir / f"{STAGING_PREFIX}{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        for name in archive.file_members:
            archive.extract(FILES_PREFIX + name, staging / name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging


def _place_files(staging: Path, files_dir: Path) -> None:
    for entry in staging.iterdir():
        os.replace(entry, files_dir / entry.name)
    staging.rmdir()
    _fsync_dir(files_dir)


def _remove_others(files_dir: Path, keep: set[str]) -> int:
    """After a --force restore: the old uploads that the restored database does not know (files only;
    folders, which uploads never are, are left alone)."""
    removed = 0
    for entry in files_dir.iterdir():
        if entry.name in keep or entry.name.startswith(STAGING_PREFIX) or entry.is_dir():
            continue
        entry.unlink()
        removed += 1
    return removed


def _unchanged(exc: BackupError) -> BackupError:
    suffix = " Nothing was changed."
    return BackupError(exc.message if exc.message.endswith(suffix) else exc.message.rstrip(".") + "." + suffix)


def _sqlite_release(path: Path) -> None:
    """Take the old database out of WAL mode, which needs every other connection closed: a running app or
    worker is caught here, and no stale -wal file is left to be replayed into the restored database."""
    if not path.exists():
        return
    try:
        conn = sqlite3.connect(path, timeout=2)
        try:
            mode = conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc) or "malformed" in str(exc):
            return  # replaced anyway; --force was required for it
        mode = str(exc)
    if mode != "delete":
        raise BackupError(f"{path} is in use ({mode}): stop the app and the worker, then restore again")


def restore_backup(settings: Settings, path: Path, *, force: bool = False,
                   say: Callable[[str], None] = lambda _m: None) -> RestoreResult:
    """Restore the archive at ``path`` into the configured database and files directory."""
    target_kind = database_kind(settings.database_url)
    archive = open_archive(path)
    try:
        if archive.kind != target_kind:
            raise BackupError(
                f"this backup holds a {KIND_LABELS[archive.kind]} database but ALUR_DATABASE_URL points at "
                f"{KIND_LABELS[target_kind]}: restore it into a {KIND_LABELS[archive.kind]} database (backup and "
                "restore do not move data between kinds). Nothing was changed.")
        _check_revision(archive.manifest.get("schema_revision"), settings.database_url)
        files_dir = Path(settings.files_dir)
        others = 0
        if target_kind == "sqlite":
            db_path = _sqlite_path(settings.database_url)
            if db_path.resolve().is_relative_to(files_dir.resolve()):
                raise BackupError(f"the database {db_path} lies inside the files directory {files_dir}: give "
                                  "ALUR_FILES_DIR a folder of its own. Nothing was changed.")
            state = _sqlite_state(db_path)
        else:
            state, others = _pg_state(settings.database_url)
        state.files = _files_in(files_dir)
        replaced = None
        if not state.empty:
            if not force:
                raise BackupError(f"the target is not empty: {state.describe()}. Nothing was changed. Use --force "
                                  "to replace it with the backup.")
            replaced = state.describe()
        if others:
            raise BackupError(f"{_plural(others, 'other session')} connected to the target database: stop the app "
                              "and the worker, then restore again. Nothing was changed.")
        if target_kind == "sqlite":
            try:
                _sqlite_release(db_path)
            except BackupError as exc:
                raise _unchanged(exc) from None
        if replaced:
            say(f"--force: the restore will replace what is there now: {replaced}")
        if target_kind == "sqlite":
            return _restore_sqlite(archive, db_path, files_dir, replaced)
        return _restore_postgresql(settings, archive, files_dir, replaced)
    finally:
        archive.close()


def _sqlite_check(path: Path) -> None:
    try:
        conn = sqlite3.connect(path)
        try:
            result = conn.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        result = str(exc)
    if result != "ok":
        raise BackupError(f"the database in the backup is not a usable SQLite database ({result})")


def _restore_sqlite(archive: Archive, db_path: Path, files_dir: Path, replaced: str | None) -> RestoreResult:
    """Restore, migrate and verify a copy next to the database; only then move files and the copy into place."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    staging = None
    with tempfile.TemporaryDirectory(prefix=STAGING_PREFIX, dir=db_path.parent) as work:
        candidate = Path(work) / db_path.name
        try:
            archive.extract(DB_MEMBERS["sqlite"], candidate)
            _sqlite_check(candidate)
            try:
                revision, chain, counts = _verify_restored(
                    Settings(database_url=f"sqlite:///{candidate}", files_dir=files_dir), archive)
            except (SQLAlchemyError, CommandError) as exc:
                raise BackupError(f"migrating the backup's database failed: {exc.__class__.__name__}: "
                                  f"{str(exc).splitlines()[0]}") from None
            conn = sqlite3.connect(candidate)
            try:
                conn.execute("PRAGMA journal_mode=DELETE")  # fold the migration's WAL into the file
            finally:
                conn.close()
            staging = _stage_files(archive, files_dir)
            _sqlite_release(db_path)  # once more: the app may have been started meanwhile
        except BackupError as exc:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
            raise _unchanged(exc) from None
        except BaseException:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
            raise
        # The commit: the new files first (new names, harmless to the old database), then the database
        # by one rename; old uploads the restored database does not know go last.
        try:
            _place_files(staging, files_dir)
            for suffix in ("-wal", "-shm", "-journal"):
                Path(f"{db_path}{suffix}").unlink(missing_ok=True)
            os.replace(candidate, db_path)
            _fsync_dir(db_path.parent)
        except OSError as exc:
            raise BackupError(f"moving the restored database into place failed ({exc}): the previous database "
                              f"is still in place; the backup's files may have been added to {files_dir}, "
                              "which does not harm it") from None
    try:
        removed = _remove_others(files_dir, set(archive.file_members)) if replaced else 0
    except OSError as exc:
        raise BackupError(f"the database and the files WERE restored, but removing the previous uploads from "
                          f"{files_dir} failed: {exc}") from None
    return RestoreResult(archive.manifest, replaced, archive.manifest.get("schema_revision"), revision, chain,
                         counts, removed)


def _restore_postgresql(settings: Settings, archive: Archive, files_dir: Path,
                        replaced: str | None) -> RestoreResult:
    """Stage the files, restore in one transaction, move the files into place, then migrate and verify."""
    staging = None
    with tempfile.TemporaryDirectory(prefix=STAGING_PREFIX) as work:
        dump = Path(work) / "alur.pgdump"
        try:
            archive.extract(DB_MEMBERS["postgresql"], dump)
            staging = _stage_files(archive, files_dir)
            _pg_restore(dump, settings.database_url, _pg_drop_script(settings.database_url))
        except BackupError as exc:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
            raise _unchanged(exc) from None
        except BaseException:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
            raise
    try:
        _place_files(staging, files_dir)
        removed = _remove_others(files_dir, set(archive.file_members)) if replaced else 0
        revision, chain, counts = _verify_restored(settings, archive)
    except Exception as exc:  # noqa: BLE001 - after the commit every failure must be reported as such
        message = exc.message if isinstance(exc, BackupError) else f"{exc.__class__.__name__}: {exc}"
        raise BackupError(f"the database WAS restored from {archive.path}"
                          + (" (its previous contents are gone)" if replaced else "")
                          + f", but what followed failed: {message}. The backup's files are in {files_dir}"
                          + (f" or still in {staging}" if staging.exists() else "")
                          + ". Do not start the app on this database before the problem is understood.") from None
    return RestoreResult(archive.manifest, replaced, archive.manifest.get("schema_revision"), revision, chain,
                         counts, removed)


# ---------------------------------------------------------------------------------------------- the CLI


def _short(digest: str) -> str:
    return digest[:12] + "…"


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def backup(path: Path) -> None:
    """Write the database, the uploaded files and a manifest to a new zip archive at PATH.

    Safe while the app runs: the archive holds one consistent snapshot of the database.
    """
    try:
        result = create_backup(Settings.from_env(), path)
    except BackupError as exc:
        raise click.ClickException(exc.message) from None
    except OSError as exc:
        raise click.ClickException(f"backup not written: {exc}") from None
    m = result.manifest
    click.echo(f"backup written: {result.path} ({_size(result.size)}, readable by its owner only)")
    click.echo(f"  {KIND_LABELS[m['database']['kind']]} database, schema {m['schema_revision'] or '(none)'}: "
               f"{_count_text(m['counts'])}")
    click.echo(f"  event chain head #{m['chain_head']['seq']} {_short(m['chain_head']['hash'])}; "
               f"{_plural(len(m['members']), 'member')}, each with its SHA-256 in manifest.json")


@click.command("restore")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a database and files directory that are not empty.")
def restore(path: Path, force: bool) -> None:
    """Restore the archive at PATH into ALUR_DATABASE_URL and ALUR_FILES_DIR (stop the app first).

    The archive is checked entirely before anything changes; the restored database is migrated to the
    newest schema and its event chain verified against the manifest.
    """
    try:
        result = restore_backup(Settings.from_env(), path, force=force, say=click.echo)
    except BackupError as exc:
        raise click.ClickException(exc.message) from None
    except OSError as exc:  # before the commit step (which reports its own failures): nothing was replaced
        raise click.ClickException(f"restore stopped: {exc}. The database was not replaced.") from None
    m = result.manifest
    head = m["chain_head"]
    click.echo(f"restored {path} (made {m.get('created_at', '?')} by Alur {m.get('app_version', '?')}, "
               f"{KIND_LABELS[m['database']['kind']]})")
    click.echo(f"  {_count_text(result.counts)}")
    click.echo(f"  schema {result.schema_before or '(none)'} -> {result.schema_after}")
    click.echo(f"  event log intact: {result.chain.checked} events verified; chain head #{head['seq']} "
               f"{_short(head['hash'])} matches the manifest")
    if result.replaced:
        click.echo(f"  replaced: {result.replaced}" + (f"; {_plural(result.removed_files, 'file')} not in the "
                                                        "backup removed" if result.removed_files else ""))

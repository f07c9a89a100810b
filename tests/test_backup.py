"""`alur backup` / `alur restore`: cases run through the service layer, backed up through the CLI and
restored into a brand-new empty database and files directory, on SQLite and (when it answers) PostgreSQL.

Each test makes its own databases (PostgreSQL: CREATE DATABASE alur_bk_..., dropped afterwards), never the
shared test database.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import stat
import uuid
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from alembic.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.engine import make_url

from engine import eventlog
from engine.clock import ManualClock
from engine.db import make_engine, make_session_factory, transaction
from engine.models import Base, ChainHead, Instance, TaskRow
from ops.cli import main
from ops.schema import init_database
from process.config import Settings
from process.deadlines import WIB
from process.models import FileRecord
from process.system import System, build_system
from tests.factories import Case, CaseInput, make_users, user

PG_PROBE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="module")
def pg_admin() -> tuple[str | None, bool]:
    """(URL of a PostgreSQL server to create databases on, whether the suite was asked to run on it)."""
    url = os.environ.get("ALUR_TEST_DATABASE_URL", "")
    if url.startswith("postgres"):
        return url, True
    try:
        psycopg.connect(PG_PROBE_URL, connect_timeout=2).close()
    except psycopg.Error:
        return None, False
    return PG_PROBE_URL, False


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def kind(request, pg_admin) -> str:
    if request.param == "postgresql":
        url, asked = pg_admin
        if url is None:
            pytest.skip("PostgreSQL is not reachable")
        missing = [t for t in ("pg_dump", "pg_restore", "psql") if shutil.which(t) is None]
        if missing:
            message = f"PostgreSQL client tools missing: {', '.join(missing)}"
            pytest.fail(message) if asked else pytest.skip(message)
    return request.param


@dataclass
class Site:
    """One installation: a database and a files directory."""

    url: str
    files_dir: Path

    def settings(self) -> Settings:
        return Settings(database_url=self.url, files_dir=self.files_dir)

    def system(self, clock=None) -> System:
        return build_system(self.settings(), clock)

    def cli(self, *args: str):
        env = {"ALUR_DATABASE_URL": self.url, "ALUR_FILES_DIR": str(self.files_dir),
               "ALUR_INSTANCE_DIR": str(self.files_dir.parent / "instance")}
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


@pytest.fixture(scope="module")
def new_site(kind, pg_admin, tmp_path_factory):
    """``new_site(label)`` → a brand-new empty database of the kind under test and an empty files directory;
    ``new_site(label, template)`` → a copy of the template site (PostgreSQL: CREATE DATABASE ... TEMPLATE)."""
    created: list[str] = []
    admin = None
    if kind == "postgresql":
        admin = create_engine(make_engine(pg_admin[0]).url, isolation_level="AUTOCOMMIT")

    def make(label: str, template: Site | None = None) -> Site:
        home = tmp_path_factory.mktemp(label)
        files_dir = home / "files"
        if template is not None:
            shutil.copytree(template.files_dir, files_dir)
        if kind == "sqlite":
            url = f"sqlite:///{home / 'alur.db'}"
            if template is not None:
                src, dst = sqlite3.connect(make_url(template.url).database), sqlite3.connect(home / "alur.db")
                src.backup(dst)
                src.close()
                dst.close()
            return Site(url, files_dir)
        name = f"alur_bk_{uuid.uuid4().hex[:10]}"
        like = f' TEMPLATE "{make_url(template.url).database}"' if template is not None else ""
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{like}'))
        created.append(name)
        return Site(make_engine(pg_admin[0]).url.set(database=name).render_as_string(hide_password=False),
                    files_dir)

    yield make
    if admin is not None:
        with admin.connect() as conn:
            for name in created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _tx(system):
    return lambda: transaction(system.sessions)


#: Where the source's clock stands after its cases ran; tests that act on a restored copy continue from here.
SOURCE_DONE = datetime(2025, 5, 9, 8, 0, tzinfo=WIB)


@pytest.fixture(scope="module")
def source_template(new_site) -> Site:
    """Three cases: one published, one waiting for Wakil Pimpinan Redaksi, one overdue at step 1."""
    site = new_site("src-template")
    clock = ManualClock(SOURCE_DONE - timedelta(days=3))
    with site.system(clock) as system:
        init_database(system)
        tx = _tx(system)
        make_users(system, tx)
        published = Case.start(system, tx, nama="Sosialisasi Pemilih Pemula")
        for who, form in (("tim", "submit"), ("admin", "terima"), ("wapimred", "koreksi"), ("pimred", "setuju"),
                          ("admin", "unggah")):
            published.do(who, form)
        waiting = Case.start(system, tx, nama="Rapat Pleno Terbuka")
        waiting.do("tim", "submit")
        waiting.do("admin", "terima")
        Case.start(system, tx, nama="Bimbingan Teknis", tanggal="2025-05-06")
        clock.advance(days=3)
        with tx() as s:
            assert system.timers.fire_due_timers(s)
    return site


@pytest.fixture
def source(new_site, source_template) -> Site:
    return new_site("src", source_template)


@pytest.fixture(scope="module")
def other_template(new_site) -> Site:
    """Another installation with its own users, a case and a stray upload."""
    site = new_site("other-template")
    with site.system(ManualClock(SOURCE_DONE)) as system:
        init_database(system)
        tx = _tx(system)
        make_users(system, tx)
        Case.start(system, tx, nama="Data lama").do("tim", "submit")
    (site.files_dir / "stray-upload").write_bytes(b"left over")
    return site


@pytest.fixture
def populated_target(new_site, other_template) -> Site:
    return new_site("dst", other_template)


def snapshot(site: Site) -> dict:
    """Every row of every table (events, cases, tasks, files, users, ...), sorted."""
    engine = make_engine(site.url)
    try:
        with engine.connect() as conn:
            present = set(inspect(conn).get_table_names())
            return {t.name: sorted(conn.execute(select(t)).all(), key=repr)
                    for t in Base.metadata.sorted_tables if t.name in present}
    finally:
        engine.dispose()


def stored_files(site: Site) -> dict[str, str]:
    """stored name → SHA-256 of the bytes on disk, for every file record; each must match its record."""
    engine = make_engine(site.url)
    try:
        with engine.connect() as conn:
            records = conn.execute(select(FileRecord.stored_name, FileRecord.sha256)).all()
    finally:
        engine.dispose()
    out = {}
    for name, recorded in records:
        digest = hashlib.sha256((site.files_dir / name).read_bytes()).hexdigest()
        assert digest == recorded, f"file {name} does not match its record"
        out[name] = digest
    return out


def chain(site: Site) -> tuple[eventlog.ChainReport, int, str]:
    engine = make_engine(site.url)
    try:
        with transaction(make_session_factory(engine)) as session:
            report = eventlog.verify(session)
            head = session.get(ChainHead, 1)
            return report, head.seq, head.hash
    finally:
        engine.dispose()


def untouched(site: Site) -> bool:
    """A target that is still brand-new: no tables in the database, nothing in the files directory."""
    if site.url.startswith("sqlite"):
        db_path = Path(site.url.removeprefix("sqlite:///"))
        if db_path.exists():
            return False
    else:
        engine = make_engine(site.url)
        try:
            with engine.connect() as conn:
                if inspect(conn).get_table_names():
                    return False
        finally:
            engine.dispose()
    return not site.files_dir.exists() or not any(site.files_dir.iterdir())


def rewrite(archive: Path, dest: Path, *, replace: dict[str, bytes] | None = None,
            fix_manifest: bool = False, manifest_edit=None) -> Path:
    """A copy of ``archive`` with members' bytes replaced (and, with fix_manifest, their hashes updated)."""
    replace = replace or {}
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(dest, "w") as out:
        manifest = json.loads(src.read("manifest.json"))
        for info in src.infolist():
            if info.filename == "manifest.json":
                continue
            data = replace.get(info.filename, src.read(info.filename))
            out.writestr(info.filename, data)
            if fix_manifest and info.filename in replace:
                manifest["members"][info.filename] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        if manifest_edit:
            manifest_edit(manifest)
        out.writestr("manifest.json", json.dumps(manifest))
    return dest


def backup(site: Site, path: Path) -> dict:
    result = site.cli("backup", str(path))
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read("manifest.json"))


# ------------------------------------------------------------------------------------------------- tests


def test_backup_then_restore_into_an_empty_database(kind, source, new_site, tmp_path):
    archive = tmp_path / "backups" / "alur.zip"
    manifest = backup(source, archive)

    # The archive: owner-only, a manifest that describes the source, and a SHA-256 per member that holds.
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    report, head_seq, head_hash = chain(source)
    assert manifest["format"] == "alur-backup" and manifest["format_version"] == 1
    assert manifest["database"]["kind"] == kind and manifest["app_version"]
    assert manifest["chain_head"] == {"seq": head_seq, "hash": head_hash}
    src_rows = snapshot(source)
    assert manifest["counts"] == {"cases": 3, "events": len(src_rows["event"]), "tasks": len(src_rows["task"]),
                                  "files": len(src_rows["file"]), "users": len(src_rows["app_user"])}
    assert manifest["counts"]["files"] == 8  # 4 photos for each of two submissions
    with zipfile.ZipFile(archive) as zf:
        names = set(zf.namelist())
        assert names == set(manifest["members"]) | {"manifest.json"}
        for name, entry in manifest["members"].items():
            assert hashlib.sha256(zf.read(name)).hexdigest() == entry["sha256"]
    engine = make_engine(source.url)
    with engine.connect() as conn:
        assert manifest["schema_revision"] == MigrationContext.configure(conn).get_current_revision()
    engine.dispose()

    target = new_site("dst")
    result = target.cli("restore", str(archive))
    assert result.exit_code == 0, result.output
    assert f"event log intact: {head_seq} events verified" in result.output
    assert "matches the manifest" in result.output

    # The same rows everywhere, the same file bytes, an intact chain with the same head.
    assert snapshot(target) == src_rows
    assert stored_files(target) == stored_files(source)
    report, seq, digest = chain(target)
    assert report.ok and (seq, digest) == (head_seq, head_hash)

    # The app works on the restored database: the waiting case moves on, a new case gets new ids and files.
    with target.system(ManualClock(SOURCE_DONE)) as system:
        tx = _tx(system)
        with tx() as s:
            waiting = s.execute(select(TaskRow).join(Instance, Instance.id == TaskRow.instance_id).where(
                Instance.title == "Rapat Pleno Terbuka", TaskRow.state == "ready")).scalar_one()
            max_id = s.execute(select(func.max(Instance.id))).scalar_one()
        case = Case(system, tx, waiting.instance_id, waiting.id)
        assert case.do("wapimred", "koreksi")
        fresh = Case.start(system, tx, nama="Kegiatan setelah pemulihan")
        assert fresh.instance_id > max_id
        fresh.do("tim", "submit")
        with tx() as s:
            assert s.execute(select(func.count(FileRecord.id))).scalar_one() == 12
            assert user(s, "pimred").active
    report, seq, _ = chain(target)
    assert report.ok and seq > head_seq
    assert len(stored_files(target)) == 12


def test_backup_is_a_consistent_snapshot_while_a_transaction_is_open(kind, source, new_site, tmp_path):
    _, head_seq, head_hash = chain(source)
    with source.system(ManualClock(SOURCE_DONE)) as system, transaction(system.sessions) as s:
        # An unfinished change holding the chain head's lock: the backup neither waits for it nor sees it.
        system.cases.start_case(s, user(s, "tim"), CaseInput(nama_kegiatan="Belum selesai",
                                                          tanggal_kegiatan="2025-05-09", tempat_kegiatan="Padang"))
        s.flush()
        manifest = backup(source, tmp_path / "during.zip")
    assert manifest["chain_head"] == {"seq": head_seq, "hash": head_hash}
    assert manifest["counts"]["cases"] == 3
    assert chain(source)[1] > head_seq  # committed after the backup

    target = new_site("dst")
    assert target.cli("restore", str(tmp_path / "during.zip")).exit_code == 0
    report, seq, digest = chain(target)
    assert report.ok and (seq, digest) == (head_seq, head_hash)


def test_restore_refuses_bad_archives_and_changes_nothing(kind, source, new_site, tmp_path):
    archive = tmp_path / "good.zip"
    manifest = backup(source, archive)
    target = new_site("dst")
    a_file = next(name for name in manifest["members"] if name.startswith("files/"))
    db_member = manifest["database"]["member"]

    garbage = tmp_path / "garbage.zip"
    garbage.write_bytes(b"this is not an archive")
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    cases = {
        "missing": (tmp_path / "nope.zip", "does not exist"),
        "garbage": (garbage, "not a readable zip archive"),
        "truncated": (truncated, "not a readable zip archive"),
        "altered file": (rewrite(archive, tmp_path / "altered.zip", replace={a_file: b"\x89PNG tampered"}),
                         f"{a_file} has SHA-256"),
        "altered database": (rewrite(archive, tmp_path / "altered-db.zip", replace={db_member: b"x" * 100}),
                             f"{db_member} has SHA-256"),
        "member not listed": (rewrite(archive, tmp_path / "extra.zip", manifest_edit=lambda m: m["members"].pop(
            a_file)), f"members not listed in the manifest: {a_file}"),
        "newer format": (rewrite(archive, tmp_path / "newer.zip", manifest_edit=lambda m: m.update(
            format_version=99)), "made in backup format 99 by a newer Alur"),
        "unknown schema": (rewrite(archive, tmp_path / "schema.zip", manifest_edit=lambda m: m.update(
            schema_revision="9999")), "schema revision 9999 is unknown"),
    }
    for label, (path, message) in cases.items():
        result = target.cli("restore", str(path))
        assert result.exit_code != 0, label
        assert message in result.output, (label, result.output)
        assert "Traceback" not in result.output
        assert "Nothing was changed" in result.output or label == "missing", (label, result.output)
        assert untouched(target), label


def test_restore_refuses_a_backup_of_another_database_kind(kind, source, tmp_path):
    archive = tmp_path / "b.zip"
    backup(source, archive)
    if kind == "sqlite":
        # Never contacted: the kind is refused before any connection is made.
        other = Site("postgresql+psycopg://nobody@127.0.0.1:1/nowhere", tmp_path / "dst" / "files")
        expected = "holds a SQLite database but ALUR_DATABASE_URL points at PostgreSQL"
    else:
        other = Site(f"sqlite:///{tmp_path / 'dst' / 'alur.db'}", tmp_path / "dst" / "files")
        expected = "holds a PostgreSQL database but ALUR_DATABASE_URL points at SQLite"
    result = other.cli("restore", str(archive))
    assert result.exit_code != 0 and expected in result.output
    assert not (tmp_path / "dst").exists()


def test_non_empty_target_needs_force_and_force_says_what_it_replaces(kind, source, populated_target, tmp_path):
    archive = tmp_path / "b.zip"
    backup(source, archive)
    target = populated_target
    before_rows, before_files = snapshot(target), sorted(os.listdir(target.files_dir))

    refused = target.cli("restore", str(archive))
    assert refused.exit_code != 0
    assert "the target is not empty: the database holds 1 case" in refused.output
    assert "Nothing was changed" in refused.output and "--force" in refused.output
    assert snapshot(target) == before_rows and sorted(os.listdir(target.files_dir)) == before_files

    forced = target.cli("restore", "--force", str(archive))
    assert forced.exit_code == 0, forced.output
    assert "will replace what is there now: the database holds 1 case" in forced.output
    assert "the files directory holds 5 files" in forced.output  # 4 photos and the stray one
    assert "5 files not in the backup removed" in forced.output
    assert snapshot(target) == snapshot(source)
    assert sorted(os.listdir(target.files_dir)) == sorted(stored_files(source))
    report, seq, digest = chain(target)
    assert report.ok and (seq, digest) == chain(source)[1:]


def test_a_database_that_cannot_be_restored_leaves_the_target_as_it_was(kind, source, populated_target,
                                                                         tmp_path):
    """The database member is consistent with its manifest but is not a database: the restore fails after
    the old contents would have been dropped, and everything is rolled back."""
    archive = tmp_path / "b.zip"
    manifest = backup(source, archive)
    broken = rewrite(archive, tmp_path / "broken.zip", replace={manifest["database"]["member"]: b"not a db" * 500},
                     fix_manifest=True)
    target = populated_target
    before_rows, before_files, before_chain = snapshot(target), sorted(os.listdir(target.files_dir)), chain(target)

    result = target.cli("restore", "--force", str(broken))
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert ("pg_restore failed" if kind == "postgresql" else "not a database") in result.output, result.output
    assert "Nothing was changed" in result.output
    assert snapshot(target) == before_rows
    assert sorted(os.listdir(target.files_dir)) == before_files
    assert chain(target)[1:] == before_chain[1:]


def test_restore_refuses_while_the_target_is_in_use(kind, source, populated_target, tmp_path):
    archive = tmp_path / "b.zip"
    backup(source, archive)
    target = populated_target
    before = snapshot(target)
    engine = make_engine(target.url)
    try:
        with engine.connect() as conn:  # a running app's pooled connection
            conn.execute(text("SELECT 1"))
            conn.commit()
            result = target.cli("restore", "--force", str(archive))
    finally:
        engine.dispose()
    assert result.exit_code != 0
    assert ("other session connected" if kind == "postgresql" else "is in use") in result.output, result.output
    assert "stop the app" in result.output and "Nothing was changed" in result.output
    assert snapshot(target) == before


def test_backup_refuses_when_an_upload_is_missing_or_altered(kind, source, tmp_path):
    names = sorted(stored_files(source))
    (source.files_dir / names[0]).unlink()
    result = source.cli("backup", str(tmp_path / "out" / "b.zip"))
    assert result.exit_code != 0
    assert f"1 uploaded file(s) recorded in the database are missing from {source.files_dir}: {names[0]}" \
        in result.output
    assert not (tmp_path / "out" / "b.zip").exists() and os.listdir(tmp_path / "out") == []

    (source.files_dir / names[0]).write_bytes(b"different bytes")
    result = source.cli("backup", str(tmp_path / "out" / "b.zip"))
    assert result.exit_code != 0 and "no longer match their recorded SHA-256" in result.output
    assert os.listdir(tmp_path / "out") == []

    (tmp_path / "out" / "taken.zip").write_bytes(b"an older backup")
    result = source.cli("backup", str(tmp_path / "out" / "taken.zip"))
    assert result.exit_code != 0 and "exists already" in result.output
    assert (tmp_path / "out" / "taken.zip").read_bytes() == b"an older backup"


def test_sqlite_backup_copy_is_self_contained(tmp_path, clock):
    """The SQLite member is a complete database file (no -wal beside it needed) that passes integrity_check."""
    site = Site(f"sqlite:///{tmp_path / 'src' / 'alur.db'}", tmp_path / "src" / "files")
    with site.system(clock) as system:
        init_database(system)
        make_users(system, _tx(system))
        manifest = backup(site, tmp_path / "b.zip")  # while the app's engine is still open (WAL in use)
    with zipfile.ZipFile(tmp_path / "b.zip") as zf:
        data = zf.read(manifest["database"]["member"])
    copy = tmp_path / "copy.db"
    copy.write_bytes(data)
    conn = sqlite3.connect(copy)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert conn.execute("SELECT COUNT(*) FROM app_user").fetchone()[0] == manifest["counts"]["users"] == 8
    finally:
        conn.close()
    assert io.BytesIO(data).read(16) == b"SQLite format 3\x00"

"""The worker forgets uploads no case uses after the retention period, and files without a record."""
from __future__ import annotations

import os
from datetime import timedelta

from sqlalchemy import func, select

from engine.models import EventRow
from ops.worker import Worker
from process.files import store_file
from process.models import FileRecord
from tests.factories import Case, make_users, png


def upload(system, tx, who="tim"):
    with tx() as s:
        record = store_file(s, system.settings.files_dir, png(), "foto.png", uploaded_by=who,
                            now=system.clock.now(), max_image_bytes=10**7, max_other_bytes=10**7)
        return record.id, record.stored_name


def test_unattached_uploads_go_after_the_retention_period_attached_ones_stay(system, tx, clock):
    make_users(system, tx)
    files_dir = system.settings.files_dir
    case = Case.start(system, tx)
    case.do("tim", "submit")  # four photos, now part of the case
    abandoned_id, abandoned_name = upload(system, tx)
    with tx() as s:
        attached = [r.stored_name for r in s.execute(select(FileRecord).where(FileRecord.instance_id.is_not(None)))
                    .scalars()]
    assert len(attached) == 4

    worker = Worker(system)
    clock.advance(days=6)
    assert worker.housekeeping() == 0 and (files_dir / abandoned_name).exists()

    clock.advance(days=2)  # 8 days: past the 7-day retention
    assert worker.housekeeping() == 1
    assert not (files_dir / abandoned_name).exists()
    assert all((files_dir / name).exists() for name in attached)
    with tx() as s:
        assert s.get(FileRecord, abandoned_id) is None
        (event,) = s.execute(select(EventRow).where(EventRow.type == "uploads_purged")).scalars()
        assert abandoned_id in event.payload and "not attached to any case" in event.payload
    assert worker.housekeeping() == 0


def test_files_without_a_record_are_removed_only_when_old(system, tx, clock):
    make_users(system, tx)
    files_dir = system.settings.files_dir
    files_dir.mkdir(parents=True, exist_ok=True)
    kept_id, kept_name = upload(system, tx)
    old_stray, new_stray = files_dir / ("0" * 32), files_dir / ("1" * 32 + ".part")
    old_stray.write_bytes(b"left by a failed upload")
    new_stray.write_bytes(b"an upload being written right now")
    now = clock.now().timestamp()  # file times are compared with the injected clock, like everything else
    past = now - timedelta(days=30).total_seconds()
    os.utime(new_stray, (now, now))
    os.utime(old_stray, (past, past))
    os.utime(files_dir / kept_name, (past, past))  # old on disk, but recorded (and too young to purge)

    assert Worker(system).housekeeping() == 1
    assert not old_stray.exists() and new_stray.exists() and (files_dir / kept_name).exists()
    with tx() as s:
        assert s.execute(select(func.count()).select_from(FileRecord)).scalar() == 1


def test_the_worker_cycle_does_housekeeping_once_an_hour(system, tx, clock):
    make_users(system, tx)
    upload(system, tx)
    worker = Worker(system)
    clock.advance(days=8)
    assert worker.cycle().purged == 1
    upload(system, tx)
    clock.advance(days=8)
    assert worker.cycle().purged == 0  # not again within the hour (wall-clock time)
    worker._housekeeping_at = 0
    assert worker.cycle().purged == 1

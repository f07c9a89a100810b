"""Housekeeping: uploads no case uses, forgotten after the retention period, and files on disk nothing refers to."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from engine.clock import Clock

from . import files, resumable
from .config import Settings


class Housekeeping:
    def __init__(self, clock: Clock, settings: Settings):
        self.clock, self.settings = clock, settings

    @property
    def retention(self) -> timedelta:
        return timedelta(days=self.settings.upload_retention_days)

    def purge_unattached_uploads(self, session: Session, limit: int = 500) -> list[str]:
        """Forget uploads that no case uses after the retention period; the stored names to remove after the
        commit (see :func:`process.files.purge_unattached`)."""
        return files.purge_unattached(session, self.clock.now(), self.retention, limit)

    def stray_files(self, session: Session) -> list[str]:
        """Files in the upload directory that no upload row names (older than the retention period)."""
        return files.stray_files(session, self.settings.files_dir, self.clock.now(), self.retention)

    def purge_expired_uploads(self, session: Session, limit: int = 500) -> tuple[int, list]:
        """Forget resumable uploads past their expiry (process/resumable.py): how many, and the partial files to
        remove after the commit."""
        return resumable.purge_expired(session, self.settings.files_dir, self.clock.now(), limit)

    def stray_partials(self, session: Session) -> list:
        """Partial files of resumable uploads that no upload row names (older than a day)."""
        return resumable.stray_partials(session, self.settings.files_dir, self.clock.now())

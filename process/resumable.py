"""Resumable uploads (the storage side of the tus protocol, webui/uploads.py): an upload is announced with its
length, its bytes arrive in pieces appended at the offset the sender names, and a piece cut off by a dropped
connection keeps what arrived, so the sender goes on from there instead of from zero.

The bytes received so far are the partial file ``<files>/partial/<id>``; its size *is* the upload's offset (no
second count to disagree with it). A piece is written under an exclusive ``flock`` on that file, so a retry that
arrives while the server still reads the cut-off request waits its turn (:class:`Busy`) instead of writing beside
it. When the last byte is in, the file gets the same checks as any upload (process/files.py: its type from its
content, its kind's size limit, a photo's pixel limit) and becomes an ordinary stored file, its uploader's until a
form attaches it to a case. A refused file is removed at once. Uploads left unfinished are forgotten after
:data:`KEEP` without a new piece (process/housekeeping.py)."""
from __future__ import annotations

import fcntl
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import BadRequest, SopError, TooLarge
from .files import check_path, clean_filename, store_checked
from .models import FileRecord, UploadSession

#: An unfinished upload is kept this long after its last piece (``Upload-Expires``).
KEEP = timedelta(days=1)
#: Bytes read from the request and written at a time.
BLOCK = 256 * 1024
PARTIAL_DIR = "partial"


class Busy(SopError):
    """Another piece of this upload is being written right now (HTTP 423: the sender tries again)."""

    code = "upload_busy"


class OffsetMismatch(SopError):
    """The piece does not start where the upload stands (HTTP 409)."""

    code = "upload_offset"


class UploadGone(SopError):
    """No such upload of this person's, or its bytes are gone (HTTP 404)."""

    code = "upload_gone"


def partial_dir(files_dir: Path) -> Path:
    return files_dir / PARTIAL_DIR


def partial_path(files_dir: Path, upload: UploadSession) -> Path:
    return partial_dir(files_dir) / upload.id


def largest_upload(max_image_bytes: int, max_other_bytes: int) -> int:
    return max(max_image_bytes, max_other_bytes)


def create(session: Session, files_dir: Path, *, owner: str, length: int, filename: str, filetype: str,
           task_id: str | None, field: str | None, now: datetime, max_image_bytes: int,
           max_other_bytes: int) -> UploadSession:
    """Announce an upload of ``length`` bytes; refused up front when no file of that length could be kept (over the
    largest limit, or over the photo limit when the sender says it is a photo)."""
    if length <= 0:
        raise BadRequest("empty file", code="upload.empty")
    largest = largest_upload(max_image_bytes, max_other_bytes)
    if length > largest:
        raise TooLarge(f"upload of {length} bytes over the limit of {largest}", size=length, limit=largest)
    if filetype.startswith("image/") and length > max_image_bytes:
        raise TooLarge(f"photo of {length} bytes over the limit of {max_image_bytes}", size=length,
                       limit=max_image_bytes, kind="image")
    upload = UploadSession(id=str(uuid.uuid4()), owner=owner, filename=clean_filename(filename),
                           filetype=(filetype or "")[:100], task_id=(task_id or None) and task_id[:36],
                           field=(field or None) and field[:100], length=length, created_at=now,
                           expires_at=now + KEEP)
    directory = partial_dir(files_dir)
    directory.mkdir(parents=True, exist_ok=True)
    partial_path(files_dir, upload).touch(exist_ok=False)
    session.add(upload)
    return upload


def find(session: Session, upload_id: str, owner: str) -> UploadSession:
    """The owner's upload; :class:`UploadGone` for anyone else's, as for one that does not exist."""
    try:
        uuid.UUID(upload_id)
    except ValueError:
        raise UploadGone("no such upload", code="upload.gone") from None
    upload = session.get(UploadSession, upload_id)
    if upload is None or upload.owner != owner:
        raise UploadGone("no such upload", code="upload.gone")
    return upload


def offset(files_dir: Path, upload: UploadSession) -> int:
    """Bytes received: the whole length once finished, else the partial file's size."""
    if upload.file_id is not None:
        return upload.length
    try:
        return partial_path(files_dir, upload).stat().st_size
    except FileNotFoundError:
        raise UploadGone("the upload's bytes are gone", code="upload.gone") from None


def expires(files_dir: Path, upload: UploadSession) -> datetime:
    """When an unfinished upload is forgotten: :data:`KEEP` after its last piece."""
    try:
        mtime = partial_path(files_dir, upload).stat().st_mtime
    except FileNotFoundError:
        return upload.expires_at
    return max(upload.expires_at, datetime.fromtimestamp(mtime, UTC) + KEEP)


@dataclass
class Written:
    offset: int
    complete: bool
    cut_off: bool  # the sender's connection ended before the piece it announced


@contextmanager
def _locked(path: Path) -> Iterator[BinaryIO]:
    try:
        fh = path.open("r+b")
    except FileNotFoundError:
        raise UploadGone("the upload's bytes are gone", code="upload.gone") from None
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy("another piece is being written", code="upload.busy") from None
        yield fh
    finally:
        fh.close()  # lets the lock go


def append(files_dir: Path, upload: UploadSession, at: int, read, *, declared: int | None,
           disconnected: type[BaseException]) -> Written:
    """Append what ``read(n)`` gives (the request body, block by block: never all of it in memory) at offset ``at``.
    Refused before a byte is written when ``at`` is not where the upload stands (:class:`OffsetMismatch`) or the
    piece would go past the announced length (:class:`TooLarge`). A body cut off (``disconnected`` raised by
    ``read``) keeps what arrived."""
    if upload.file_id is not None:
        raise OffsetMismatch("the upload is complete", code="upload.offset", expected=upload.length, given=at)
    with _locked(partial_path(files_dir, upload)) as fh:
        fh.seek(0, os.SEEK_END)
        current = fh.tell()
        if at != current:
            raise OffsetMismatch(f"piece at {at}, upload at {current}", code="upload.offset", expected=current,
                                 given=at)
        remaining = upload.length - current
        if declared is not None and declared > remaining:
            raise TooLarge(f"piece of {declared} bytes past the announced length", size=current + declared,
                           limit=upload.length)
        cut_off = False
        try:
            while remaining > 0:
                block = read(min(BLOCK, remaining))
                if not block:
                    break
                fh.write(block)
                remaining -= len(block)
            if remaining == 0 and read(1):  # a body without a declared length that goes on past the upload
                fh.truncate(upload.length)
                raise TooLarge("piece past the announced length", size=None, limit=upload.length)
        except disconnected:
            cut_off = True
        fh.flush()
        os.fsync(fh.fileno())
        now_at = fh.tell()
    return Written(now_at, now_at == upload.length, cut_off)


def check_complete(files_dir: Path, upload: UploadSession, *, max_image_bytes: int, max_other_bytes: int,
                   max_image_pixels: int) -> tuple[Path, tuple[str, str, str]]:
    """Check the complete file as every upload is checked (process/files.py), outside any transaction. The partial
    is first moved aside (one request finishes it, never two); a refused file is removed before the refusal is
    raised, and the upload is gone then."""
    path = partial_path(files_dir, upload)
    checking = path.with_name(f"{path.name}.checking")
    try:
        os.replace(path, checking)
    except FileNotFoundError:
        raise UploadGone("the upload's bytes are gone", code="upload.gone") from None
    try:
        if checking.stat().st_size != upload.length:
            raise UploadGone("the upload is incomplete", code="upload.gone")
        checked = check_path(checking, max_image_bytes=max_image_bytes, max_other_bytes=max_other_bytes,
                             max_image_pixels=max_image_pixels)
    except BaseException:
        checking.unlink(missing_ok=True)
        raise
    return checking, checked


def store_complete(session: Session, files_dir: Path, upload: UploadSession,
                   complete: tuple[Path, tuple[str, str, str]], *, now: datetime) -> FileRecord:
    """Store the file :func:`check_complete` accepted, as its uploader's (the record in the caller's
    transaction); the upload names it from now on."""
    path, checked = complete
    record = store_checked(session, files_dir, path, checked, upload.filename, uploaded_by=upload.owner, now=now)
    upload.file_id = record.id
    upload.expires_at = now + KEEP
    return record


def finished_file(session: Session, upload: UploadSession) -> FileRecord | None:
    return session.get(FileRecord, upload.file_id) if upload.file_id else None


def terminate(session: Session, files_dir: Path, upload: UploadSession) -> None:
    """The sender gives the upload up: its bytes and its row go (a finished file stays, like any upload)."""
    path = partial_path(files_dir, upload)
    if upload.file_id is None:
        with _locked(path):
            path.unlink(missing_ok=True)
    session.delete(upload)


def purge_expired(session: Session, files_dir: Path, now: datetime, limit: int = 500) -> tuple[int, list[Path]]:
    """Forget uploads past their expiry with no piece since (unfinished: their bytes too; finished: only the row,
    the file is an ordinary upload by then). Returns how many were forgotten and the partial files to remove after
    the commit."""
    rows = list(session.execute(select(UploadSession).where(UploadSession.expires_at < now)
                                .order_by(UploadSession.expires_at).limit(limit)
                                .with_for_update(skip_locked=True)).scalars())
    gone: list[Path] = []
    forgotten = 0
    for row in rows:
        if row.file_id is None and (later := expires(files_dir, row)) >= now:
            row.expires_at = later  # a piece arrived lately: kept
            continue
        if row.file_id is None:
            gone.append(partial_path(files_dir, row))
        session.delete(row)
        forgotten += 1
    return forgotten, gone


def stray_partials(session: Session, files_dir: Path, now: datetime) -> list[Path]:
    """Partial files that no upload row names, older than :data:`KEEP` (a creation rolled back)."""
    directory = partial_dir(files_dir)
    if not directory.is_dir():
        return []
    cutoff = (now - KEEP).timestamp()
    old = [e.name for e in os.scandir(directory) if e.is_file(follow_symlinks=False) and e.stat().st_mtime < cutoff]
    if not old:
        return []
    known = set(session.execute(select(UploadSession.id).where(UploadSession.id.in_(old))).scalars())
    return [directory / n for n in old if n not in known]


def remove_partials(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)

"""Uploaded files: checked by content (never by extension), stored outside the web root under a
random name, referenced from task data by id and SHA-256 only."""
from __future__ import annotations

import hashlib
import io
import os
import re
import uuid
from datetime import datetime
from pathlib import Path

import filetype
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import eventlog

from .errors import BadRequest, TooLarge
from .forms import FileRef
from .models import FileRecord

_IMAGE_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "HEIF": "image/heic"}
_VIDEO_MIMES = {"video/mp4", "video/quicktime", "video/webm", "video/x-matroska", "video/3gpp", "video/x-msvideo"}
_DOCUMENT_MIMES = {"application/pdf"}
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ ()-]+")

_heif_registered = False


def _register_heif() -> None:
    # Registering the HEIF opener mutates Pillow's global registry, so do it on first use, not on import.
    global _heif_registered
    if not _heif_registered:
        from pillow_heif import register_heif_opener

        register_heif_opener()
        _heif_registered = True


def clean_filename(name: str) -> str:
    """The name a person gave, reduced to something harmless to show (never used as a path)."""
    base = os.path.basename((name or "").replace("\\", "/")).strip()
    base = _SAFE_NAME.sub("_", base).strip("._ ") or "berkas"
    return base[:200]


def sniff(data: bytes) -> tuple[str, str]:
    """(kind, mime) from the bytes themselves."""
    _register_heif()
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format
            if fmt in _IMAGE_FORMATS:
                img.verify()
                return "image", _IMAGE_FORMATS[fmt]
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        pass
    guess = filetype.guess(data)
    if guess is not None:
        if guess.mime in _VIDEO_MIMES:
            return "video", guess.mime
        if guess.mime in _DOCUMENT_MIMES:
            return "document", guess.mime
        if guess.mime in ("image/gif",):
            return "other", guess.mime
    raise BadRequest("Jenis berkas tidak didukung: unggah foto (JPEG, PNG, WebP, HEIC), video (MP4, MOV, "
                     "WebM) atau PDF.")


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{max(1, n // 1024)} KB"


def store_file(session: Session, files_dir: Path, data: bytes, filename: str, *, uploaded_by: str,
               now: datetime, max_image_bytes: int, max_other_bytes: int) -> FileRecord:
    """Check and store one upload; the record is added to the caller's transaction."""
    if not data:
        raise BadRequest("Berkas kosong.")
    kind, mime = sniff(data)
    limit = max_image_bytes if kind == "image" else max_other_bytes
    if len(data) > limit:
        raise TooLarge(f"Berkas terlalu besar: {_size(len(data))}, batas {_size(limit)}.", size=len(data), limit=limit,
                       kind="image" if kind == "image" else "file")
    file_id = str(uuid.uuid4())
    stored_name = uuid.uuid4().hex
    files_dir.mkdir(parents=True, exist_ok=True)
    path = files_dir / stored_name
    tmp = path.with_suffix(".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    record = FileRecord(id=file_id, sha256=hashlib.sha256(data).hexdigest(), size=len(data), mime=mime, kind=kind,
                        original_name=clean_filename(filename), stored_name=stored_name,
                        uploaded_by=uploaded_by, uploaded_at=now)
    session.add(record)
    return record


def file_path(files_dir: Path, record: FileRecord) -> Path:
    return files_dir / record.stored_name


def purge_unattached(session: Session, now: datetime, older_than, limit: int = 500) -> list[str]:
    """Delete the records of uploads that never became part of a case (the form was never sent) and are older
    than ``older_than``; the event log keeps what was removed. Returns the stored names: remove those files
    after the commit (:func:`remove_stored`), so a rollback never leaves a record without its file."""
    cutoff = now - older_than
    rows = list(session.execute(
        select(FileRecord).where(FileRecord.instance_id.is_(None), FileRecord.uploaded_at < cutoff)
        .order_by(FileRecord.uploaded_at).limit(limit).with_for_update(skip_locked=True)).scalars())
    if not rows:
        return []
    eventlog.append(session, type="uploads_purged", at=now, actor=None, data={
        "reason": "not attached to any case", "files": [
            {"id": r.id, "sha256": r.sha256, "name": r.original_name, "size": r.size, "uploaded_by": r.uploaded_by,
             "uploaded_at": r.uploaded_at} for r in rows]})
    for row in rows:
        session.delete(row)
    return [r.stored_name for r in rows]


def stray_files(session: Session, files_dir: Path, now: datetime, older_than) -> list[str]:
    """Files in ``files_dir`` older than ``older_than`` with no record (an upload whose request failed after the
    file was written, a restore's leftovers)."""
    if not files_dir.is_dir():
        return []
    cutoff = (now - older_than).timestamp()
    old = [e.name for e in os.scandir(files_dir) if e.is_file(follow_symlinks=False) and e.stat().st_mtime < cutoff]
    known: set[str] = set()
    for start in range(0, len(old), 500):
        chunk = old[start:start + 500]
        known |= set(session.execute(select(FileRecord.stored_name).where(FileRecord.stored_name.in_(chunk)))
                     .scalars())
    return [n for n in old if n not in known]


def remove_stored(files_dir: Path, names: list[str]) -> None:
    for name in names:
        if os.sep in name or name.startswith("."):
            continue
        (files_dir / name).unlink(missing_ok=True)


def resolver(session: Session, instance_id: int | None = None):
    """A callback for form validation: file id → FileRef (None when unknown or another case's file)."""

    def resolve(file_id: str) -> FileRef | None:
        try:
            uuid.UUID(str(file_id))
        except ValueError:
            return None
        record = session.get(FileRecord, str(file_id))
        if record is None or record.instance_id not in (None, instance_id):
            return None
        return FileRef(id=record.id, sha256=record.sha256, kind=record.kind)

    return resolve


def thumbnail(data: bytes, size: int = 320) -> bytes:
    """A JPEG thumbnail with the EXIF orientation applied (phone photos are often stored rotated)."""
    _register_heif()
    with Image.open(io.BytesIO(data)) as img:
        img = ImageOps.exif_transpose(img)
        img.thumbnail((size, size))
        out = io.BytesIO()
        img.convert("RGB").save(out, "JPEG", quality=80)
        return out.getvalue()

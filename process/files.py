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
import imagesize
from PIL import ImageOps
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine import eventlog

from .config import DEFAULT_MAX_IMAGE_PIXELS
from .errors import BadRequest, TooLarge
from .forms import FileRef
from .models import FileRecord

_VIDEO_MIMES = {"video/mp4", "video/quicktime", "video/webm", "video/x-matroska", "video/3gpp", "video/x-msvideo"}
_DOCUMENT_MIMES = {"application/pdf"}
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ ()-]+")


class ImageTooLarge(BadRequest):
    """A photo with more pixels than the limit (refused from its header, before anything is decoded)."""

    code = "image_too_large"


def _image_class(data: bytes):
    """(MIME type, Pillow's image class) of a photo format we accept, by the file's signature; None otherwise.

    The classes are used directly rather than through ``Image.open``, whose decompression-bomb check depends on
    the process-wide ``Image.MAX_IMAGE_PIXELS`` and warns or raises on its own terms; the limit that counts here is
    the application's (:func:`check_pixels`), checked before a class is even constructed."""
    from PIL import JpegImagePlugin, PngImagePlugin, WebPImagePlugin

    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png", PngImagePlugin.PngImageFile
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg", JpegImagePlugin.JpegImageFile
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", WebPImagePlugin.WebPImageFile
    import pillow_heif

    if pillow_heif.is_supported(data[:64]):
        return "image/heic", pillow_heif.HeifImageFile
    return None


def _megapixel_number(pixels: int) -> float:
    """Megapixels as a number for the refusal's parameters (each language writes it its own way)."""
    return round(pixels / 1_000_000, 1 if pixels >= 1_000_000 else 2)


def check_pixels(width: int, height: int, max_pixels: int) -> None:
    """:class:`ImageTooLarge` when ``width`` × ``height`` is over the limit, saying both in megapixels."""
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"photo of {width} x {height} pixels over the limit of {max_pixels} pixels", code="upload.image_too_large",
            width=width, height=height, megapixels=_megapixel_number(width * height),
            max_megapixels=_megapixel_number(max_pixels))


def _open_image(data: bytes, max_pixels: int):
    """(MIME type, an unloaded Pillow image) of a photo within the pixel limit; None when ``data`` is not a photo
    in a format we accept, or its header does not say its size. Nothing is decoded here."""
    found = _image_class(data)
    if found is None:
        return None
    mime, cls = found
    width, height = imagesize.get(io.BytesIO(data), exif_rotation=False)
    if width <= 0 or height <= 0:
        return None  # no size in the header: not decoded at all
    check_pixels(width, height, max_pixels)
    try:
        img = cls(io.BytesIO(data))
    except Exception:  # noqa: BLE001 - whatever a broken file makes the parser raise, it is not a photo
        return None
    check_pixels(*img.size, max_pixels)  # the decoder's own reading of the header, too
    return mime, img


def clean_filename(name: str) -> str:
    """The name a person gave, reduced to something harmless to show (never used as a path)."""
    base = os.path.basename((name or "").replace("\\", "/")).strip()
    base = _SAFE_NAME.sub("_", base).strip("._ ") or "berkas"
    return base[:200]


def sniff(data: bytes, *, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> tuple[str, str]:
    """(kind, mime) from the bytes themselves; a photo over ``max_pixels`` raises :class:`ImageTooLarge`."""
    opened = _open_image(data, max_pixels)
    if opened is not None:
        mime, img = opened
        try:
            img.verify()
            return "image", mime
        except Exception:  # noqa: BLE001 - a damaged photo is not a photo
            pass
        finally:
            img.close()
    guess = filetype.guess(data)
    if guess is not None:
        if guess.mime in _VIDEO_MIMES:
            return "video", guess.mime
        if guess.mime in _DOCUMENT_MIMES:
            return "document", guess.mime
        if guess.mime in ("image/gif",):
            return "other", guess.mime
    raise BadRequest("file type not supported", code="upload.unsupported")


#: Bytes of a file's start that tell its type when it is not a photo (``filetype`` reads 8 KiB).
HEAD_BYTES = 64 * 1024


def _checked(head: bytes, size: int, whole, *, max_image_bytes: int, max_other_bytes: int,
             max_image_pixels: int) -> tuple[str, str]:
    """(kind, mime) of a file of ``size`` bytes starting with ``head``, or the refusal: empty, a type we do not
    accept, a photo over its pixel limit, a file over its kind's limit. A photo is checked whole (``whole()`` gives
    its bytes, read only when it is within the photo limit); anything else by its start."""
    if size == 0:
        raise BadRequest("empty file", code="upload.empty")
    if _image_class(head) is not None:
        if size > max_image_bytes:
            raise TooLarge(f"file of {size} bytes over the limit of {max_image_bytes}", size=size,
                           limit=max_image_bytes, kind="image")
        kind, mime = sniff(whole(), max_pixels=max_image_pixels)
    else:
        kind, mime = sniff(head, max_pixels=max_image_pixels)
    limit = max_image_bytes if kind == "image" else max_other_bytes
    if size > limit:
        raise TooLarge(f"file of {size} bytes over the limit of {limit}", size=size, limit=limit,
                       kind="image" if kind == "image" else "file")
    return kind, mime


def store_file(session: Session, files_dir: Path, data: bytes, filename: str, *, uploaded_by: str,
               now: datetime, max_image_bytes: int, max_other_bytes: int,
               max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> FileRecord:
    """Check and store one upload; the record is added to the caller's transaction."""
    kind, mime = _checked(data[:HEAD_BYTES], len(data), lambda: data, max_image_bytes=max_image_bytes,
                          max_other_bytes=max_other_bytes, max_image_pixels=max_image_pixels)
    stored_name = uuid.uuid4().hex
    files_dir.mkdir(parents=True, exist_ok=True)
    path = files_dir / stored_name
    tmp = path.with_suffix(".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return _record(session, hashlib.sha256(data).hexdigest(), len(data), mime, kind, filename, stored_name,
                   uploaded_by, now)


def _record(session: Session, sha256: str, size: int, mime: str, kind: str, filename: str, stored_name: str,
            uploaded_by: str, now: datetime) -> FileRecord:
    record = FileRecord(id=str(uuid.uuid4()), sha256=sha256, size=size, mime=mime, kind=kind,
                        original_name=clean_filename(filename), stored_name=stored_name,
                        uploaded_by=uploaded_by, uploaded_at=now)
    session.add(record)
    return record


def check_path(path: Path, *, max_image_bytes: int, max_other_bytes: int,
               max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> tuple[str, str, str]:
    """(kind, mime, SHA-256) of a file received piece by piece (a resumable upload), with the same checks as
    :func:`store_file`; read in blocks, never whole unless it is a photo within the photo limit."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(HEAD_BYTES)
    kind, mime = _checked(head, size, path.read_bytes, max_image_bytes=max_image_bytes,
                          max_other_bytes=max_other_bytes, max_image_pixels=max_image_pixels)
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1024 * 1024):
            digest.update(block)
    return kind, mime, digest.hexdigest()


def store_checked(session: Session, files_dir: Path, path: Path, checked: tuple[str, str, str], filename: str, *,
                  uploaded_by: str, now: datetime) -> FileRecord:
    """Move a file :func:`check_path` accepted into the files folder under a random name; its record is added to
    the caller's transaction (a rollback leaves a file without a record, which housekeeping removes)."""
    kind, mime, sha256 = checked
    stored_name = uuid.uuid4().hex
    files_dir.mkdir(parents=True, exist_ok=True)
    size = path.stat().st_size
    os.replace(path, files_dir / stored_name)
    return _record(session, sha256, size, mime, kind, filename, stored_name, uploaded_by, now)


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


def resolver(session: Session, instance_id: int | None, actor: str):
    """A callback for form validation: file id → FileRef, or None when the file is unknown, belongs to another
    case, or is not yet attached to any case and was uploaded by someone else than ``actor`` (an upload belongs to
    its uploader until a submitted form attaches it to a case)."""

    def resolve(file_id: str) -> FileRef | None:
        try:
            uuid.UUID(str(file_id))
        except ValueError:
            return None
        record = session.get(FileRecord, str(file_id))
        if record is None or not usable_by(record, instance_id, actor):
            return None
        return FileRef(id=record.id, sha256=record.sha256, kind=record.kind)

    return resolve


def usable_by(record: FileRecord, instance_id: int | None, actor: str) -> bool:
    """Whether a form of case ``instance_id`` submitted by ``actor`` may refer to this file: one of the case's
    own files, or the actor's own upload that no case has yet."""
    if record.instance_id is None:
        return record.uploaded_by == actor
    return record.instance_id == instance_id


def attach(session: Session, instance_id: int, actor: str, file_ids) -> None:
    """Make the given uploads part of the case (their uploader submitted a form of it that refers to them)."""
    ids = sorted({str(file_id) for file_id in file_ids})
    if ids:  # one statement (a step with four photos read and wrote each of them)
        session.execute(update(FileRecord).where(FileRecord.id.in_(ids), FileRecord.instance_id.is_(None),
                                                 FileRecord.uploaded_by == actor).values(instance_id=instance_id))


def thumbnail(data: bytes, size: int = 320, *, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> bytes:
    """A JPEG thumbnail with the EXIF orientation applied (phone photos are often stored rotated). Decodes only
    a photo within ``max_pixels`` (:class:`ImageTooLarge` otherwise), a JPEG or HEIC at a reduced scale."""
    opened = _open_image(data, max_pixels)
    if opened is None:
        raise BadRequest("not a readable photo", code="upload.not_an_image")
    _mime, img = opened
    with img:
        img.thumbnail((size, size))  # JPEG and HEIC decode at a reduced scale (draft) for this
        img = ImageOps.exif_transpose(img)
        out = io.BytesIO()
        img.convert("RGB").save(out, "JPEG", quality=80)
        return out.getvalue()

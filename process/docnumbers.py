"""Document numbers of the printed records: ``001/REG-MEDSOS/V/2025``.

A record (its kind, its procedure, its period and what the period is read by, or the one case of a case's written
responses) is given a number the first time its PDF is issued: the next sequence number of its series and year,
written in the configured format (``ALUR_DOCUMENT_NUMBER_FORMAT``, process/config.py). The series is the record's
code (``{kode}``: ``REG-MEDSOS``, declared by the procedure, process/declarations.py ``document_code``) when the
format writes it, else one series for every record, so two records never print the same number. Printing the same
record again prints its number again, as a re-print ("Cetak ulang") with the date it was first issued; nothing is
written then. The row (``issued_document``) is written in the caller's transaction (the download request's) and
nowhere committed here.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .counters import locked_counter
from .deadlines import WIB
from .documents import Document, Signer
from .models import DocumentCounter, IssuedDocument, User
from .records import Period, tanggal_id

_ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")


def document_number(fmt: str, seq: int, kode: str, when: datetime) -> str:
    """The number ``seq`` of ``kode`` issued at ``when`` (its month and year in WIB), in format ``fmt``."""
    local = when.astimezone(WIB)
    return fmt.format(seq=seq, kode=kode, bulan=local.month, bulan_romawi=_ROMAN[local.month - 1], tahun=local.year)


def series_of(fmt: str, kode: str) -> str:
    """What the sequence counts in: the record's code when the format writes it, else one series for all."""
    return kode if "{kode" in fmt else ""


@dataclass(frozen=True)
class Record:
    """What a printed record is, for its number: two prints of the same record carry the same number."""

    kind: str  # register | tanggapan | rekap
    process_key: str
    period: Period | None = None
    basis: str = ""
    instance_id: int | None = None  # a case's written responses

    @property
    def key(self) -> str:
        period = f"{self.period.start.isoformat()}..{self.period.end.isoformat()}" if self.period else ""
        case = str(self.instance_id) if self.instance_id is not None else ""
        return "|".join((self.kind, self.process_key[:200], period, self.basis, case))


@dataclass(frozen=True)
class Issued:
    number: str
    issued_at: datetime
    reprint: bool  # printed before: the number and the first issue date are re-used


def _find(session: Session, record: Record) -> IssuedDocument | None:
    return session.execute(select(IssuedDocument).where(IssuedDocument.record_key == record.key)
                           ).scalar_one_or_none()


def issued(session: Session, record: Record) -> Issued | None:
    """The number a record was given, if its PDF was issued (read only: the spreadsheets print it too)."""
    row = _find(session, record)
    return Issued(row.number, row.issued_at, True) if row is not None else None


def _counter(session: Session, series: str, year: int) -> DocumentCounter:
    """The series' counter row of the year, locked (PostgreSQL); the first of a year is made in a savepoint in
    case two race for it."""
    return locked_counter(session, DocumentCounter, series=series, year=year)


def issue(session: Session, record: Record, *, fmt: str, kode: str, now: datetime, by: str | None,
          signer_ids: tuple[int | None, ...] = ()) -> Issued:
    """The record's number: the one it was given (a re-print), else the next of its series and year, written
    (``issued_document``) in the caller's transaction."""
    found = _find(session, record)
    if found is not None:
        return Issued(found.number, found.issued_at, True)
    series, year = series_of(fmt, kode), now.astimezone(WIB).year
    counter = _counter(session, series, year)
    # Another request may have issued this record while this one waited for the counter: read again under the lock.
    found = _find(session, record)
    if found is not None:
        return Issued(found.number, found.issued_at, True)
    counter.last_seq += 1
    number = document_number(fmt, counter.last_seq, kode, now)
    period = record.period
    session.add(IssuedDocument(
        record_key=record.key, kind=record.kind, process_key=record.process_key[:200],
        period_start=period.start if period else None, period_end=period.end if period else None,
        basis=record.basis, instance_id=record.instance_id, series=series, year=year, seq=counter.last_seq,
        number=number, issued_at=now, issued_by=by, signer_ids=json.dumps(list(signer_ids))))
    session.flush()
    return Issued(number, now, False)


def signer_of(user: User) -> Signer:
    """How a user signs a printed record: the display name, the official title, the NIP when there is one."""
    return Signer(user.display_name, user.jabatan or "", user.nip or None)


def signers_of(session: Session, ids: Sequence[int | None]) -> tuple[Signer | None, ...]:
    """The signers of the blocks, in order (None: a block left blank, or an account no longer active)."""
    wanted = {i for i in ids if i is not None}
    users = {u.id: u for u in session.execute(select(User).where(User.id.in_(wanted), User.active.is_(True)))
             .scalars()} if wanted else {}
    return tuple(signer_of(users[i]) if i in users else None for i in ids)


def reprint_note(first: date | datetime) -> str:
    """The line a re-print carries under its number."""
    day = first.astimezone(WIB).date() if isinstance(first, datetime) else first
    return f"Cetak ulang — pertama diterbitkan {tanggal_id(day)}"


def numbered(doc: Document, found: Issued | None, *, pdf: bool = True) -> Document:
    """``doc`` carrying its number (and, printed again, the re-print line; a spreadsheet shows the number only)."""
    if found is None:
        return doc
    return replace(doc, number=found.number, number_note=reprint_note(found.issued_at) if pdf and found.reprint
                   else "")

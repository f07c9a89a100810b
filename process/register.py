"""Register Dokumentasi dan Konten: one entry per case, numbered per year when its documentation is first handed
in (step 1), and the register as a document (its columns; process/records.py reads its rows, process/documents.py
writes it as CSV, XLSX or PDF)."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .deadlines import WIB
from .documents import TITLES, Column, Document, Table, outcome_text, person_name
from .models import RegisterCounter, RegisterEntry
from .records import Period, RegisterRow

_ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")


def register_number(fmt: str, seq: int, when: datetime) -> str:
    local = when.astimezone(WIB)
    return fmt.format(seq=seq, month=local.month, month_roman=_ROMAN[local.month - 1], year=local.year)


def _next_seq(session: Session, process_key: str, year: int) -> int:
    """Next number of the procedure's year. The counter row is locked (PostgreSQL), so racing submissions queue
    instead of colliding; the first of a new year is created in a savepoint in case two race for it."""
    stmt = select(RegisterCounter).where(RegisterCounter.process_key == process_key,
                                         RegisterCounter.year == year).with_for_update()
    counter = session.execute(stmt).scalar_one_or_none()
    if counter is None:
        try:
            with session.begin_nested():
                session.add(RegisterCounter(process_key=process_key, year=year, last_seq=0))
        except IntegrityError:
            pass
        counter = session.execute(stmt).scalar_one()
    counter.last_seq += 1
    return counter.last_seq


def ensure_entry(session: Session, instance_id: int, fmt: str, now: datetime, process_key: str) -> RegisterEntry:
    """The case's register entry, created at its first submission: numbered in its procedure's register."""
    entry = session.execute(
        select(RegisterEntry).where(RegisterEntry.instance_id == instance_id)
    ).scalar_one_or_none()
    if entry is not None:
        return entry
    year = now.astimezone(WIB).year
    seq = _next_seq(session, process_key, year)
    entry = RegisterEntry(process_key=process_key, instance_id=instance_id, year=year, seq=seq,
                          number=register_number(fmt, seq, now), created_at=now)
    session.add(entry)
    session.flush()
    return entry


def register_document(rows: Sequence[RegisterRow], period: Period, now: datetime) -> Document:
    columns = (
        Column("No.", 0.4, "int"), Column("Nomor Register", 2.0), Column("Tanggal Register (WIB)", 1.3, "datetime"),
        Column("Nama Kegiatan", 2.1), Column("Tanggal Kegiatan", 1.0, "date"), Column("Tempat", 1.1),
        Column("Tim", 1.0), Column("Diserahkan oleh", 1.1), Column("Foto", 0.5, "int"),
        Column("Berkas Lain", 0.6, "int"), Column("Diserahkan (kali)", 0.85, "int"), Column("Status", 1.5),
    )
    body = [(i, r.number, r.registered_at, r.activity, r.activity_date, r.place, r.team_name or "",
             person_name(r.submitted_by_name, r.submitted_by), r.photos, r.other_files, r.submissions, status_text(r))
            for i, r in enumerate(rows, 1)]
    notes = (f"Jumlah entri register: {len(body)}.",
             "Satu entri per kasus, bernomor saat dokumentasi pertama kali diserahkan (langkah 1); "
             "jumlah foto dan berkas lain menurut penyerahan terakhir.")
    return Document("register", TITLES["register"], f"Periode: {period.label}", f"register-{period.slug}",
                    Table(columns, body), now, notes=notes)


def status_text(row: RegisterRow) -> str:
    """The case's state as the register prints it (the steps it waits at while it runs)."""
    text = outcome_text(row.outcome, row.rules)
    if row.outcome == "berjalan" and row.current_steps:
        text += ": " + ", ".join(row.current_steps)
    return text

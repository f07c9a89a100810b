"""Register Dokumentasi dan Konten: numbered entries, one per case, numbered per year."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .deadlines import WIB
from .models import RegisterCounter, RegisterEntry

_ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")


def register_number(fmt: str, seq: int, when: datetime) -> str:
    local = when.astimezone(WIB)
    return fmt.format(seq=seq, month=local.month, month_roman=_ROMAN[local.month - 1], year=local.year)


def _next_seq(session: Session, year: int) -> int:
    """Next number of the year. The counter row is locked (PostgreSQL), so racing submissions queue
    instead of colliding; the first of a new year is created in a savepoint in case two race for it."""
    stmt = select(RegisterCounter).where(RegisterCounter.year == year).with_for_update()
    counter = session.execute(stmt).scalar_one_or_none()
    if counter is None:
        try:
            with session.begin_nested():
                session.add(RegisterCounter(year=year, last_seq=0))
        except IntegrityError:
            pass
        counter = session.execute(stmt).scalar_one()
    counter.last_seq += 1
    return counter.last_seq


def ensure_entry(session: Session, instance_id: int, fmt: str, now: datetime) -> RegisterEntry:
    """The case's register entry, created at its first submission."""
    entry = session.execute(
        select(RegisterEntry).where(RegisterEntry.instance_id == instance_id)
    ).scalar_one_or_none()
    if entry is not None:
        return entry
    year = now.astimezone(WIB).year
    seq = _next_seq(session, year)
    entry = RegisterEntry(instance_id=instance_id, year=year, seq=seq,
                          number=register_number(fmt, seq, now), created_at=now)
    session.add(entry)
    session.flush()
    return entry

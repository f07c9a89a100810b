"""Register Dokumentasi dan Konten: numbered entries, one per case, numbered per year."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .deadlines import WIB
from .models import RegisterEntry

_ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")


def register_number(fmt: str, seq: int, when: datetime) -> str:
    local = when.astimezone(WIB)
    return fmt.format(seq=seq, month=local.month, month_roman=_ROMAN[local.month - 1], year=local.year)


def ensure_entry(session: Session, instance_id: int, fmt: str, now: datetime) -> RegisterEntry:
    """The case's register entry, created at its first submission."""
    entry = session.execute(
        select(RegisterEntry).where(RegisterEntry.instance_id == instance_id)
    ).scalar_one_or_none()
    if entry is not None:
        return entry
    year = now.astimezone(WIB).year
    last = session.execute(select(func.max(RegisterEntry.seq)).where(RegisterEntry.year == year)).scalar()
    seq = (last or 0) + 1
    entry = RegisterEntry(instance_id=instance_id, year=year, seq=seq,
                          number=register_number(fmt, seq, now), created_at=now)
    session.add(entry)
    session.flush()
    return entry

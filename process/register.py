"""A procedure's register: one entry per case, numbered per procedure and year when the step that declares
``alur:register`` is first completed, and the register as a document (its columns; process/records.py reads its
rows, process/documents.py writes it as CSV, XLSX or PDF)."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from .counters import locked_counter
from .deadlines import WIB
from .declarations import Declarations
from .documents import Column, Document, Table, durasi, field_title, outcome_text, person_name, record_header
from .models import RegisterCounter, RegisterEntry
from .records import Period, RegisterRow

_ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")


def register_number(fmt: str, seq: int, when: datetime) -> str:
    local = when.astimezone(WIB)
    return fmt.format(seq=seq, month=local.month, month_roman=_ROMAN[local.month - 1], year=local.year)


#: Where two formats are compared: the sequence numbers around the widths formats pad to (1-129, 990-1009,
#: 9990-10009), every month of two years. Two formats that write one number for any of these are taken to collide.
_SAMPLE_SEQS = (*range(1, 130), *range(990, 1010), *range(9990, 10010))
_SAMPLE_YEARS = (2025, 2026)


@lru_cache(maxsize=256)
def _samples(fmt: str) -> frozenset[str]:
    out = set()
    for year in _SAMPLE_YEARS:
        for month in range(1, 13):
            when = datetime(year, month, 15, 5, tzinfo=WIB)
            out.update(register_number(fmt, seq, when) for seq in _SAMPLE_SEQS)
    return frozenset(out)


def formats_collide(a: str, b: str) -> bool:
    """Whether registers numbered in formats ``a`` and ``b`` (both valid: process/declarations.py checks them) can
    give two cases the same number — e.g. a second procedure with the first one's format, or ``{seq:03d}/X/{year}``
    beside ``{seq}/X/{year}`` (both write 123/X/2026)."""
    if a == b:
        return True
    return not _samples(a).isdisjoint(_samples(b))


def _next_seq(session: Session, process_key: str, year: int) -> int:
    """Next number of the procedure's year. The counter row is locked (PostgreSQL), so racing submissions queue
    instead of colliding; the first of a new year is created in a savepoint in case two race for it."""
    counter = locked_counter(session, RegisterCounter, process_key=process_key, year=year)
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


def register_document(rows: Sequence[RegisterRow], period: Period, now: datetime,
                      procedure: Declarations | None = None) -> Document:
    """The register of one procedure for a period. Its columns follow ``procedure``'s declarations: the case's name
    and date as its forms label them, the place and team when it declares them, the fields ``alur:register columns``
    lists, who completed the register step first (``alur:register by``), the photos and other files when that step's
    form takes files, how often it was completed when a step can send the case back to it."""
    rules = procedure
    step = rules.register_step if rules is not None else None
    form = rules.forms.get(step.bpmn_id, ()) if rules is not None and step is not None else ()
    files = any(f.type == "files" for f in form)
    returned_to = rules is not None and step is not None and any(
        r.to == step.bpmn_id for s in rules.steps.values() for r in s.returns)
    extra = step.register_columns if step is not None else ()
    deadline = step is not None and (step.deadline_required or any(r.due_at is not None for r in rows))
    head: list[tuple[Column, object]] = [
        (Column("No.", 0.4, "int"), None), (Column("Nomor Register", 2.0), lambda r: r.number),
        (Column("Diserahkan (WIB)", 1.3, "datetime"), lambda r: r.registered_at),
    ]
    timing: list[tuple[Column, object]] = [
        (Column("Batas Serah (WIB)", 1.3, "datetime"), lambda r: r.due_at),
        (Column("Terlambat", 0.7, "bool"), lambda r: r.late),
        (Column("Lama Terlambat", 1.0, "duration"), lambda r: r.late_by),
    ] if deadline else []
    name_column = Column(field_title(rules, rules.title_field if rules else None, "Nama"), 2.1)
    date_column = Column(field_title(rules, rules.date_field if rules else None, "Tanggal"), 1.0, "date")
    dated = rules is None or bool(rules.date_field)
    case: list[tuple[Column, object]] = [(name_column, lambda r: r.activity)]
    if dated:
        case.append((date_column, lambda r: r.activity_date))
    middle: list[tuple[Column, object]] = []
    if rules is not None and rules.place_field:
        middle.append((Column("Tempat", 1.3), lambda r: r.place))
    if rules is not None and rules.team_field:
        middle.append((Column("Tim", 1.6), lambda r: r.team_name or ""))
    for fid in extra:
        middle.append((Column(field_title(rules, fid, fid), 1.3),
                       lambda r, fid=fid: _shown(rules, fid, r.fields.get(fid))))
    by_column = Column((step.register_by if step is not None else None) or "Dicatat oleh", 1.1)
    by: list[tuple[Column, object]] = [(by_column, lambda r: person_name(r.submitted_by_name, r.submitted_by))]
    counts: list[tuple[Column, object]] = [
        (Column("Foto", 0.5, "int"), lambda r: r.photos),
        (Column("Berkas Lain", 0.6, "int"), lambda r: r.other_files)] if files else []
    tail: list[tuple[Column, object]] = [(Column("Kelengkapan", 1.4), completeness_text)]
    if returned_to:
        tail.append((Column("Diserahkan (kali)", 0.85, "int"), lambda r: r.submissions))
    tail.append((Column("Status", 1.5), status_text))
    # The spreadsheet keeps every figure in a column of its own (typed). The printed page merges what belongs
    # together — the hand-in with its deadline, the name with its date, who handed in with how often, the counts
    # with the completeness — so a landscape page keeps names, numbers and dates whole.
    spec = head + timing + case + middle + by + counts + tail
    printed = [head[0], head[1], (Column("Diserahkan / Batas (WIB)", 1.4), _timing_text) if deadline else head[2],
               (Column(name_column.title, 2.1), lambda r: _name_text(r, dated)), *middle,
               (Column(by_column.title, 1.1), lambda r: _by_text(r, returned_to)),
               (Column("Kelengkapan", 1.5), lambda r: _counts_text(r, files)), tail[-1]]
    columns = tuple(c for c, _ in spec)
    body = [tuple(i if get is None else get(r) for _c, get in spec) for i, r in enumerate(rows, 1)]
    pdf_body = [tuple(i if get is None else get(r) for _c, get in printed) for i, r in enumerate(rows, 1)]
    at = f"langkah {step.number} ({step.short})" if step is not None and step.number else "langkah register"
    notes = [f"Jumlah entri register: {len(body)}.",
             f"Satu entri per kasus, bernomor dan bertanggal saat {at} pertama kali diserahkan (waktu WIB); "
             "periode menurut tanggal register itu."]
    if deadline:
        late = sum(1 for r in rows if r.late)
        notes.append(f"Tepat waktu: diserahkan paling lambat pada batas waktu {at} menurut SOP "
                     f"({len(rows) - late} tepat waktu, {late} terlambat).")
    notes.append("Kelengkapan menurut penyerahan terakhir: isian wajib formulir langkah itu yang kosong, atau berkas "
                 "di bawah jumlah minimalnya, disebut satu per satu; isian tidak wajib yang kosong disebut "
                 "\u201ctanpa\u201d.")
    title = rules.register_title if rules is not None else "Register"
    return Document("register", title, f"Periode: {period.label} (menurut tanggal register)",
                    f"register-{period.slug}", Table(columns, body), now,
                    sections=(Table(tuple(c for c, _ in printed), pdf_body),), notes=tuple(notes),
                    **record_header(rules))


def completeness_text(row: RegisterRow) -> str:
    """"Lengkap", "Lengkap; tanpa <optional>" or "Belum lengkap: <required>" (the step form's labels)."""
    if row.missing:
        return "Belum lengkap: " + ", ".join(row.missing)
    return "Lengkap" + ("; tanpa " + ", ".join(row.without) if row.without else "")


def _counts_text(row: RegisterRow, files: bool) -> str:
    text = completeness_text(row)
    return f"{row.photos} foto, {row.other_files} berkas lain — {text[0].lower()}{text[1:]}" if files else text


def _timing_text(row: RegisterRow) -> str:
    handed = _when(row.registered_at)
    if row.due_at is None:
        return f"{handed}\nbatas: —"
    text = f"{handed}\nbatas {_when(row.due_at)}"
    if row.late:
        text += f"\nTERLAMBAT {durasi(row.late_by)}"
    return text


def _name_text(row: RegisterRow, dated: bool) -> str:
    if dated and row.activity_date is not None:
        return f"{row.activity}\n{row.activity_date.strftime('%d-%m-%Y')}"
    return row.activity


def _by_text(row: RegisterRow, returned_to: bool) -> str:
    name = person_name(row.submitted_by_name, row.submitted_by)
    return f"{name}\n(diserahkan {row.submissions} kali)" if returned_to and row.submissions > 1 else name


def _when(moment: datetime) -> str:
    """A WIB time that never breaks between its date and its hour."""
    return moment.astimezone(WIB).strftime("%d-%m-%Y\u00a0%H.%M")


def _shown(rules: Declarations | None, field_id: str, value):
    """A case data value as the register shows it: a choice by its label; a number or a yes/no as it is (a
    spreadsheet keeps it typed, the printed page writes it), anything else as text."""
    if value is None or value == "":
        return ""
    label = rules.value_label(field_id, value) if rules is not None else None
    if label is not None:
        return label
    if isinstance(value, (bool, int, float)):
        return value
    return str(value)


def status_text(row: RegisterRow) -> str:
    """The case's state as the register prints it (the steps it waits at while it runs)."""
    text = outcome_text(row.outcome, row.rules)
    if row.outcome == "dibatalkan" and row.cancel_reason:
        text += ": " + row.cancel_reason
    if row.outcome == "berjalan" and row.current_steps:
        text += ": " + ", ".join(row.current_steps)
    return text

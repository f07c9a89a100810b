"""A procedure's records as files: softcopy (XLSX, CSV) and hardcopy (PDF, A4, ready to sign).

The records are official documents of the Secretariat, so their text is Bahasa Indonesia whatever the
language of the page they were downloaded from. A record is built once as a :class:`Document` (a flat
table for spreadsheets, sections for the printed page) and written by :func:`to_xlsx`, :func:`to_csv`
and :func:`to_pdf`.

The PDF embeds DejaVu Sans (:mod:`process.fonts`), which prints any name users type ("Şəki", Cyrillic, Greek);
only a character the font lacks is replaced (emoji beyond the emoticons become U+FFFD), so that nothing prints
as an empty box. Nothing here knows Flask.
"""
from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any, BinaryIO
from xml.sax.saxutils import escape, quoteattr

from . import fonts, timefmt
from .casefile import outcome_labels
from .config import Letterhead
from .declarations import Declarations
from .nip import printed as nip_printed
from .records import RECORD_LOCALE, CaseResponses, Period, Recap, tanggal_id
from .spreadsheets import SheetRows, csv_writer

#: The default letterhead (``Settings.letterhead`` sets the printed one, from ``ALUR_KOP_*``).
KOP = Letterhead.office
KOP_ADDRESS = Letterhead.address
PLACE = "Padang"
#: The signature blocks of a procedure that declares none (``alur:sign``): (heading, function), left to right.
DEFAULT_SIGNATURES = (("Dibuat oleh,", ""), ("Mengetahui,", ""))


def record_header(rules: Declarations | None) -> dict:
    """What a procedure's records print around their table (its declarations: ``alur:procedure reference``,
    ``alur:basis``, ``alur:sign``): the line under the title, the legal basis, the signature blocks."""
    if rules is None:
        return {"reference": "", "basis": (), "signatures": DEFAULT_SIGNATURES}
    return {"reference": rules.record_reference, "basis": rules.basis,
            "signatures": rules.signatures or DEFAULT_SIGNATURES}


def field_title(rules: Declarations | None, field_id: str | None, default: str) -> str:
    """A column title from the label a form gives ``field_id``, each word capitalised ("Nama kegiatan" → "Nama
    Kegiatan"); ``default`` when no form names it."""
    label = rules.field_label(field_id, "") if rules is not None and field_id else ""
    words = label.split()
    return " ".join(w if i and w in _MINOR_WORDS else w[:1].upper() + w[1:] for i, w in enumerate(words)) or default


#: Words Indonesian titles keep in lower case (but at the start): "Informasi yang Diminta".
_MINOR_WORDS = frozenset({"yang", "dan", "atau", "di", "ke", "dari", "untuk", "dengan", "atas", "dalam", "pada",
                          "oleh", "per"})

#: How a case stands when its end declares no outcome of its own (casefile.GENERIC_OUTCOMES).
OUTCOME_TEXT = {
    "berjalan": "Berjalan",
    "selesai": "Selesai",
    "galat": "Terhenti karena galat",
    "dibatalkan": "Dibatalkan",
}


def outcome_text(code: str, rules: Declarations | None) -> str:
    """A case's outcome as the records print it: the generic states, or "Selesai: " and the label its end event
    declares (``alur:outcome``)."""
    if code in OUTCOME_TEXT:
        return OUTCOME_TEXT[code]
    labels = outcome_labels([rules]) if rules is not None else {}
    return f"Selesai: {labels.get(code, code)}"

#: Worksheet names (Excel allows 31 characters).
SHEETS = {"register": "Register", "tanggapan": "Tanggapan Tertulis", "rekap": "Rekapitulasi"}

EMPTY_TEXT = "Tidak ada data dalam periode ini."


# --------------------------------------------------------------------------------------------------
# The document model
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    title: str
    width: float = 1.0  # relative share of the page width (PDF) and of ~12 characters (XLSX)
    kind: str = "text"  # text | int | date | datetime | bool | url | duration (a timedelta)


@dataclass(frozen=True)
class Table:
    columns: tuple[Column, ...]
    rows: list[tuple]
    heading: str | None = None
    empty: str = EMPTY_TEXT
    width_fraction: float = 1.0  # of the printed page's width
    total_row: bool = False  # the last row sums the others (printed bold)
    #: Rows (indices) that head a group of the rows after them, printed across all columns (the PDF's case
    #: headings in the written responses): such a row holds one text.
    heading_rows: frozenset[int] = frozenset()
    #: Rows (indices) of one text printed across all columns in italics ("no response yet").
    note_rows: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Signer:
    """Who signs a block: printed as their name (bold, underlined), their official title and their NIP."""

    name: str
    jabatan: str = ""
    nip: str | None = None  # 18 digits; None: no NIP line


@dataclass(frozen=True)
class Document:
    key: str  # register | tanggapan | rekap
    title: str
    scope: str  # what it covers, e.g. "Periode: Mei 2025"
    file_stem: str  # e.g. "register-2025-05"
    table: Table  # CSV, and the first sheet of the XLSX
    generated_at: datetime
    sections: tuple[Table, ...] = ()  # what the PDF prints (default: the table)
    extra_sheets: tuple[tuple[str, Table], ...] = ()
    notes: tuple[str, ...] = ()
    landscape: bool = True
    reference: str = ""  # the line under the title (the procedure, e.g. "SOP Nomor 21 Tahun 2025 — ...")
    basis: tuple[str, ...] = ()  # "Dasar hukum", printed when there is one
    signatures: tuple[tuple[str, str], ...] = DEFAULT_SIGNATURES
    #: Who signs each block, left to right (None, or fewer than the blocks: lines to fill in by hand).
    signers: tuple[Signer | None, ...] = ()
    #: The document number (process/docnumbers.py), printed under the title; and "Cetak ulang — …" on a re-print.
    number: str = ""
    number_note: str = ""

    def filename(self, ext: str) -> str:
        return f"{self.file_stem}.{ext}"

    @property
    def pdf_sections(self) -> tuple[Table, ...]:
        return self.sections or (self.table,)


def durasi(delta: timedelta) -> str:
    """``"1 hari 3 jam 20 menit"`` (whole minutes; ``"kurang dari 1 menit"`` below that)."""
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{n} {unit}" for n, unit in ((days, "hari"), (hours, "jam"), (minutes, "menit")) if n]
    return " ".join(parts) or "kurang dari 1 menit"


def _wib(moment: datetime) -> datetime:
    return timefmt.local(moment)


def _printed_at(moment: datetime) -> str:
    """``6 Mei 2025 10.00 WIB``: when a record was printed, as the office writes it."""
    return (f"{tanggal_id(_wib(moment).date())} {timefmt.format_time(moment, RECORD_LOCALE)} "
            f"{timefmt.zone_label(_wib(moment), RECORD_LOCALE)}")


def person_name(name: str | None, username: str | None) -> str:
    """A person as a record prints them: their full name, else their username."""
    if not username:
        return ""
    return name if name and name != username else username


# --------------------------------------------------------------------------------------------------
# The three records
# --------------------------------------------------------------------------------------------------


def _decision_text(case: CaseResponses, response) -> str:
    """The decision as the step's form names the choice."""
    if not response.decision:
        return ""
    step = case.rules.step(response.bpmn_id) if case.rules is not None else None
    if step is None or step.response is None:
        return str(response.decision)
    return case.rules.option_label(response.bpmn_id, step.response[0], response.decision) or ""


def _step_label(case: CaseResponses, response) -> str:
    """The step as the printed record names it: its number and short label ("4. Keputusan"), else its name."""
    step = case.rules.step(response.bpmn_id) if case.rules is not None else None
    name = step.short if step is not None else response.step_name
    return f"{response.step}. {name}" if response.step else name


#: How each record says what puts a row in its period (records.RESPONSE_BASES, records.RECAP_BASES).
BASIS_TEXT = {
    "register": "menurut tanggal register kasus (semua tanggapan tertulis kasus itu)",
    "tanggapan": "menurut tanggal tanggapan tertulis (hanya tanggapan yang ditulis dalam periode)",
    "unggah": "menurut waktu unggah (yang diisi admin; bila kosong, waktu pencatatan)",
    "selesai": "menurut waktu langkah unggah diselesaikan (dicatat)",
}


def responses_document(cases: Sequence[CaseResponses], now: datetime, *, period: Period | None = None,
                       procedure: Declarations | None = None, basis: str = "register") -> Document:
    """Per case, the written responses of the steps that declare one (of a period's registered cases of one
    procedure, or of one case); ``procedure``: the declarations that title and head the record (the case's own
    for one case)."""
    if procedure is None and period is None and cases:
        procedure = cases[0].rules
    title_column = field_title(procedure, procedure.title_field if procedure else None, "Nama")
    flat_columns = (Column("No.", 0.45, "int"), Column("Nomor Register", 1.6), Column(title_column, 1.8),
                    Column("Langkah", 1.3), Column("Keputusan", 1.2), Column("Tanggapan Tertulis", 3.0),
                    Column("Nama", 1.2), Column("Peran", 1.2), Column("Waktu (WIB)", 1.25, "datetime"),
                    Column("Terlambat", 0.7, "bool"))
    # The printed record is one continuous table: a heading row per case, then its responses (no page per case).
    section_columns = (Column("Langkah", 0.85), Column("Keputusan", 2.35), Column("Tanggapan Tertulis", 2.5),
                       Column("Nama", 0.95), Column("Peran", 1.3), Column("Waktu (WIB)", 1.05, "datetime"),
                       Column("Terlambat", 0.62, "bool"))
    flat, printed, headings, notes_at = [], [], set(), set()
    n = 0
    for case in cases:
        heading = " — ".join(p for p in (
            case.number or f"Kasus #{case.instance_id} (belum diregister)", case.activity,
            tanggal_id(case.activity_date) if case.activity_date else "", case.team_name or "",
            outcome_text(case.outcome, case.rules)) if p)
        headings.add(len(printed))
        printed.append((heading,))
        if not case.responses:
            notes_at.add(len(printed))
            printed.append(("Belum ada tanggapan tertulis.",))
        for r in case.responses:
            step = f"{r.step}. {r.step_name}" if r.step else r.step_name
            decision = _decision_text(case, r)
            n += 1
            flat.append((n, case.number or "", case.activity, step, decision, r.text, person_name(r.name, r.actor),
                         r.lane or "", r.at, r.late))
            printed.append((_step_label(case, r), decision, r.text, person_name(r.name, r.actor), r.lane or "",
                            r.at, r.late))
    late = sum(1 for case in cases for r in case.responses if r.late)
    on_time = (f"Terlambat: ditulis setelah batas waktu langkahnya menurut SOP ({n - late} tepat waktu, "
               f"{late} terlambat).")
    if period is not None:
        scope = f"Periode: {period.label} ({BASIS_TEXT[basis].split(' (')[0]})"
        stem = f"tanggapan-{period.slug}" + ("-menurut-tanggapan" if basis == "tanggapan" else "")
        counted = ("Kasus yang diregister dalam periode ini" if basis == "register"
                   else "Kasus dengan tanggapan tertulis dalam periode ini")
        notes = (f"{counted}: {len(cases)}; tanggapan tertulis: {n}.", f"Periode {BASIS_TEXT[basis]}.", on_time)
    else:
        case = cases[0] if cases else None
        scope = f"Kasus: {case.number or f'#{case.instance_id}'} — {case.activity}" if case else "Kasus"
        stem = f"tanggapan-kasus-{case.instance_id}" if case else "tanggapan-kasus"
        notes = (on_time,)
    title = procedure.responses_heading if procedure is not None else "Tanggapan Tertulis"
    return Document("tanggapan", title, scope, stem, Table(flat_columns, flat), now,
                    sections=(Table(section_columns, printed, heading_rows=frozenset(headings),
                                    note_rows=frozenset(notes_at)),), notes=notes,
                    **record_header(procedure))


def _upload_cell(post) -> str:
    text = _text(post.uploaded_at, "datetime", printed=True)
    if post.apart:
        text += f"\n(dicatat {_text(post.recorded_at, 'datetime', printed=True)})"
    return text


def recap_document(recap: Recap, now: datetime, procedure: Declarations | None = None) -> Document:
    """Every post of the period (of the procedures whose steps write a post list), titled and headed as
    ``procedure`` declares."""
    title_field, date_field = (procedure.title_field, procedure.date_field) if procedure else (None, None)
    columns = (Column("No.", 0.4, "int"), Column("Platform", 0.85), Column("Nomor Register", 1.8),
               Column(field_title(procedure, title_field, "Nama"), 1.7),
               Column(field_title(procedure, date_field, "Tanggal"), 0.95, "date"), Column("Tautan", 2.3, "url"),
               Column("Waktu Unggah (WIB)", 1.25, "datetime"), Column("Dicatat (WIB)", 1.25, "datetime"),
               Column("Batas Waktu (WIB)", 1.25, "datetime"),
               Column("Tepat Waktu", 0.65, "bool"), Column("Lama Terlambat", 1.0, "duration"),
               Column("Diunggah oleh", 1.0))
    body = [(i, p.platform, p.number or "", p.activity, p.activity_date, p.url, p.uploaded_at,
             p.recorded_at if p.apart else None, p.due_at, p.on_time, p.lateness, person_name(p.name, p.actor))
            for i, p in enumerate(recap.posts, 1)]
    total_columns = (Column("Platform", 1.5), Column("Unggahan", 1.0, "int"), Column("Tepat Waktu", 1.0, "int"),
                     Column("Terlambat", 1.0, "int"), Column("Tanpa Batas Waktu", 1.0, "int"))
    total = recap.total
    totals = [(t.platform, t.posts, t.on_time, t.late, t.unknown) for t in recap.totals]
    totals.append(("Jumlah", total.posts, total.on_time, total.late, total.unknown))
    totals_table = Table(total_columns, totals, heading="Jumlah per platform", width_fraction=0.6, total_row=True)
    step = " / ".join(recap.steps) or "—"
    apart = sum(1 for p in recap.posts if p.apart)
    notes = (f"Kasus dengan unggahan dalam periode ini: {recap.cases}; unggahan: {total.posts}.",
             f"Periode {BASIS_TEXT[recap.basis]}.",
             f"Tepat waktu: waktu unggah (yang diisi admin; bila kosong, waktu langkah {step} diselesaikan) tidak "
             "melewati batas waktu langkah itu menurut SOP.",
             f"Bila waktu unggah yang diisi dan waktu pencatatan berbeda lebih dari satu hari, keduanya dicantumkan "
             f"({apart} unggahan).")
    posts = Table(columns, body, heading="Unggahan")
    # The printed page writes the recording under the upload time (when they are apart), in one column.
    printed_columns = columns[:7] + columns[8:]
    printed = [(*row[:6], _upload_cell(p), *row[8:]) for row, p in zip(body, recap.posts, strict=True)]
    printed_posts = Table(tuple(c if c.title != "Waktu Unggah (WIB)" else Column(c.title, 1.35)
                                for c in printed_columns), printed, heading="Unggahan")
    title = procedure.recap_heading if procedure is not None else "Rekapitulasi Unggahan"
    scope = f"Periode: {recap.period.label} ({BASIS_TEXT[recap.basis].split(' (')[0]})"
    stem = f"rekap-{recap.period.slug}" + ("-menurut-selesai" if recap.basis == "selesai" else "")
    return Document("rekap", title, scope, stem,
                    posts, now, sections=(printed_posts, totals_table),
                    extra_sheets=(("Jumlah per platform", totals_table),), notes=notes, **record_header(procedure))


# --------------------------------------------------------------------------------------------------
# Cell values
# --------------------------------------------------------------------------------------------------

def _csv_value(value: Any, kind: str) -> Any:
    """Numbers as numbers, everything else as the text a person reads."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return _text(value, kind, printed=False)


def _text(value: Any, kind: str, *, printed: bool) -> str:
    if value is None or value == "":
        return "—" if printed else ""
    if isinstance(value, bool):
        return "Ya" if value else "Tidak"
    if isinstance(value, timedelta):
        return durasi(value)
    if isinstance(value, datetime):
        local = _wib(value)
        return local.strftime("%d-%m-%Y %H.%M") if printed else local.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.strftime("%d-%m-%Y") if printed else value.isoformat()
    return str(value)


# --------------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------------


def to_csv(doc: Document) -> bytes:
    """The flat table, UTF-8 with a byte-order mark (Excel then reads the accents right)."""
    out = io.StringIO()
    writer = csv_writer(out, lineterminator="\r\n")
    writer.writerow([c.title for c in doc.table.columns])
    for row in doc.table.rows:
        writer.writerow([_csv_value(v, c.kind) for v, c in zip(row, doc.table.columns)])
    return out.getvalue().encode("utf-8-sig")


# --------------------------------------------------------------------------------------------------
# XLSX
# --------------------------------------------------------------------------------------------------


def to_xlsx(doc: Document, letterhead: Letterhead | None = None) -> bytes:
    """The record as a workbook headed by ``letterhead``'s office (the default one when not given), as its PDF is."""
    out = io.BytesIO()
    write_xlsx(doc, out, letterhead)
    return out.getvalue()


def write_xlsx(doc: Document, out: BinaryIO, letterhead: Letterhead | None = None,
               progress: Progress | None = None) -> None:
    """Write the record as a workbook to ``out`` (a binary file): openpyxl's write-only mode streams each row to the
    sheet's file as it is made, so memory does not grow with the rows; ``progress(done, total)`` is called as the
    rows are written (total: the rows of all sheets), last with ``done == total``."""
    from openpyxl import Workbook

    letterhead = letterhead or Letterhead()
    wb = Workbook(write_only=True)
    sheets = [(SHEETS.get(doc.key, doc.title), doc.table), *doc.extra_sheets]
    counter = _Counter(sum(len(table.rows) for _, table in sheets), progress)
    for name, table in sheets:
        _fill_sheet(wb.create_sheet(_sheet_name(name)), doc, table, letterhead.office, counter)
    wb.properties.title = f"{doc.title} — {doc.scope}"
    wb.properties.creator = f"Alur Medsos — {letterhead.office}"
    wb.properties.subject = doc.reference or doc.title
    wb.save(out)
    counter.finish()


def _printed_row(doc: Document) -> str:
    """The last title row of a sheet: the document number when the record has one, and when it was printed."""
    printed = f"Dicetak: {_printed_at(doc.generated_at)}"
    return f"Nomor: {doc.number} — {printed}" if doc.number else printed


def _sheet_name(name: str) -> str:
    for ch in "[]:*?/\\":
        name = name.replace(ch, " ")
    return name[:31]


#: Rows written between two calls of ``progress``.
_XLSX_PROGRESS_ROWS = 500


def _fill_sheet(ws, doc: Document, table: Table, office: str = KOP, counter: _Counter | None = None) -> None:
    """One sheet of a write-only workbook: everything but the rows is set before the first row is written; the rows
    go straight into the sheet's file (:class:`process.spreadsheets.SheetRows`)."""
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.cell_range import CellRange
    from openpyxl.worksheet.worksheet import Worksheet

    ncols = max(1, len(table.columns))
    last = get_column_letter(ncols)
    title_block = [(office, Font(bold=True, size=12)), (doc.title.upper(), Font(bold=True, size=14)),
                   (doc.reference, Font(size=10)), (doc.scope, Font(size=10)),
                   (_printed_row(doc), Font(size=9, italic=True))]
    header_row = len(title_block) + 2
    for c, column in enumerate(table.columns, 1):
        ws.column_dimensions[get_column_letter(c)].width = max(8, min(60, round(column.width * 12)))
    ws.freeze_panes = f"A{header_row + 1}"
    ws.print_title_rows = f"{header_row}:{header_row}"
    ws.page_setup.orientation = "landscape" if doc.landscape else "portrait"
    ws.page_setup.paperSize = Worksheet.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    rows = SheetRows(ws)
    for r, (text, font) in enumerate(title_block, 1):
        rows.append([(text, rows.style(font=font), None, None)])
        if ncols > 1:
            ws.merged_cells.add(CellRange(f"A{r}:{last}{r}"))
    heading = table.heading and table.heading != doc.title
    rows.append([(table.heading, rows.style(font=Font(bold=True)), None, None)] if heading else [])
    thin = Side(style="thin", color="999999")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    head = rows.style(font=Font(bold=True), fill=PatternFill("solid", fgColor="E6E6E6"),
                      alignment=Alignment(wrap_text=True, vertical="center"), border=border)
    rows.append([(xlsx_title(column), head, None, None) for column in table.columns])
    body = rows.style(alignment=Alignment(wrap_text=True, vertical="top"), border=border)
    bold = rows.style(font=Font(bold=True), alignment=Alignment(wrap_text=True, vertical="top"), border=border)
    total_at = len(table.rows) - 1 if table.total_row else -1
    for i, row in enumerate(table.rows):
        style = bold if i == total_at else body
        rows.append([_xlsx_cell(value, column, style)
                     for value, column in zip(row, table.columns)])
        if counter is not None and (i + 1) % _XLSX_PROGRESS_ROWS == 0:
            counter.add(_XLSX_PROGRESS_ROWS)
    if counter is not None:
        counter.add(len(table.rows) % _XLSX_PROGRESS_ROWS)
    # the filter covers the data rows; a total row stays below it (filtering or sorting never moves the sum)
    data_rows = len(table.rows) - (1 if table.total_row else 0)
    if data_rows > 0:
        ws.auto_filter.ref = f"A{header_row}:{last}{header_row + data_rows}"
    if not table.rows:
        rows.append([(table.empty, rows.style(font=Font(italic=True)), None, None)])


def _xlsx_cell(value: Any, column: Column, style) -> tuple:
    """A body cell for :meth:`SheetRows.append`: (value, style, number format, link)."""
    value, number_format = _xlsx_value(value, column)
    link = value if column.kind == "url" and isinstance(value, str) and value.startswith(("https://", "http://")) \
        else None
    return value, style, number_format, link


#: How a yes/no cell shows its boolean (positive;negative;zero: TRUE is 1, FALSE is 0).
XLSX_YES_NO = '"Ya";"Ya";"Tidak"'
#: A duration is a number of days, as Excel subtracts two times; shown as hours, minutes and seconds.
XLSX_DURATION = "[h]:mm:ss"
#: What the header of a column says about the unit of its numbers.
XLSX_UNITS = {"duration": "jam:menit:detik"}


def xlsx_title(column: Column) -> str:
    """A column's header in a worksheet: its title, and the unit its numbers are shown in."""
    unit = XLSX_UNITS.get(column.kind)
    return f"{column.title} ({unit})" if unit else column.title


def _xlsx_value(value: Any, column: Column) -> tuple[Any, str | None]:
    """A typed cell's value and display format: booleans (shown Ya/Tidak), numbers, durations (days, shown as hours),
    WIB times, text."""
    if isinstance(value, bool):
        return value, XLSX_YES_NO
    if isinstance(value, timedelta):
        return value.total_seconds() / 86400, XLSX_DURATION
    if isinstance(value, datetime):
        return _wib(value).replace(tzinfo=None), "dd-mm-yyyy hh:mm"  # Excel has no time zones: WIB
    if isinstance(value, date):
        return value, "dd-mm-yyyy"
    return value, None


# --------------------------------------------------------------------------------------------------
# PDF
# --------------------------------------------------------------------------------------------------


@lru_cache(maxsize=16384)
def printable(text: str) -> str:
    """Text as the records' font can print it (:func:`process.fonts.printable`); the same cell text (a name, a
    step, a decision) is looked at once."""
    return fonts.printable(text)


def _para_text(text: str) -> str:
    return escape(printable(text)).replace("\n", "<br/>")


def _styles():
    from reportlab.lib.enums import TA_CENTER, TA_RIGHT
    from reportlab.lib.styles import ParagraphStyle

    fonts.register()
    regular, bold = fonts.REGULAR, fonts.BOLD
    # Body text and table cells 9 pt (DejaVu Sans is a little wider than Helvetica: the tables are landscape and
    # wrap their cells).
    body = ParagraphStyle("body", fontName=regular, fontSize=9, leading=11.5)
    cell = ParagraphStyle("cell", parent=body, fontSize=9, leading=10.6)
    return {
        "kop": ParagraphStyle("kop", parent=body, fontName=bold, fontSize=13, leading=16, alignment=TA_CENTER),
        "kop2": ParagraphStyle("kop2", parent=body, fontSize=10, leading=13, alignment=TA_CENTER),
        "kop3": ParagraphStyle("kop3", parent=body, fontSize=9, leading=11.5, alignment=TA_CENTER),
        "title": ParagraphStyle("title", parent=body, fontName=bold, fontSize=12, leading=15,
                                alignment=TA_CENTER, spaceBefore=6),
        "center": ParagraphStyle("center", parent=body, alignment=TA_CENTER),
        "body": body,
        "small": ParagraphStyle("small", parent=body, fontSize=9, leading=11),
        "heading": ParagraphStyle("heading", parent=body, fontName=bold, fontSize=10, leading=12.5,
                                  spaceBefore=8, spaceAfter=3),
        "cell": cell,
        "cell_note": ParagraphStyle("cell_note", parent=cell, textColor="#444444"),
        "case": ParagraphStyle("case", parent=cell, fontName=bold),
        "cell_url": ParagraphStyle("cell_url", parent=cell, wordWrap="CJK"),
        "th": ParagraphStyle("th", parent=cell, fontName=bold),
        "right": ParagraphStyle("right", parent=body, alignment=TA_RIGHT),
        "sign": ParagraphStyle("sign", parent=body, alignment=TA_CENTER),
    }


#: The form XObject that prints a record's page total in every footer: drawn by each page, defined once at the end.
_TOTAL_FORM = "AlurPageTotal"


def _numbered_canvas(doc: Document, office: str):
    """The canvas of a record: each page gets its running header and its footer ("Halaman x dari y") as it ends and
    is written out at once; y, unknown until the last page, is a form XObject that every footer draws and that is
    defined when the document is saved. No page is kept back: a page's content is compressed as it ends."""
    import zlib

    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfdoc
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.pdfgen import canvas

    running = printable(f"{office} — {doc.title} — {doc.scope}")
    printed = printable(f"Dicetak {_printed_at(doc.generated_at)} — Alur Medsos")
    size = 8

    class NumberedCanvas(canvas.Canvas):
        def __init__(self, *args, **kwargs):
            kwargs["initialFontName"] = fonts.REGULAR  # no unused Helvetica in the file
            super().__init__(*args, **kwargs)

        def showPage(self):  # noqa: N802 (ReportLab's name)
            self._decorate(self._pageNumber)
            super().showPage()
            self._compress_last_page()

        def save(self):
            total = self._pageNumber - (0 if self._code else 1)
            if self._code:  # (ReportLab's save ends a page that has content: it gets its footer too)
                self.showPage()
            self.beginForm(_TOTAL_FORM, lowerx=0, lowery=-3, upperx=60, uppery=size + 2)
            self.setFont(fonts.REGULAR, size)
            self.setFillGray(0.35)
            self.drawString(0, 0, str(total))
            self.endForm()
            super().save()

        def _decorate(self, number: int) -> None:
            width, height = self._pagesize
            self.saveState()
            self.setFont(fonts.REGULAR, size)
            self.setFillGray(0.35)
            if number > 1:
                self.drawString(15 * mm, height - 10 * mm, running[:160])
            self.drawString(15 * mm, 8 * mm, printed)
            # "Halaman x dari y" starts at the same place on every page, with room for four-digit numbers: the
            # total is drawn once, at the end, so its width is not known while the pages are written.
            label = f"Halaman {number} dari "
            x = width - 15 * mm - stringWidth("Halaman 9999 dari 9999", fonts.REGULAR, size)
            self.drawString(x, 8 * mm, label)
            self.translate(x + stringWidth(label, fonts.REGULAR, size), 8 * mm)
            self.doForm(_TOTAL_FORM)
            self.restoreState()

        def _compress_last_page(self) -> None:
            """The page just ended, its content stream compressed now (ReportLab would keep it as text until the
            document is saved)."""
            page = self._doc.Pages.pages[-1]
            if not getattr(page, "stream", None) or page.Contents:
                return
            stream = page.stream.encode("utf8") if isinstance(page.stream, str) else page.stream
            contents = pdfdoc.PDFStream(pdfdoc.PDFDictionary({"Filter": pdfdoc.PDFArray([pdfdoc.PDFName(
                "FlateDecode")])}), zlib.compress(stream))
            contents.__Comment__ = "page stream"
            page.Contents = contents
            page.stream = None

    return NumberedCanvas


def letterhead_flowables(letterhead: Letterhead, width: float, st) -> list:
    """The letterhead: the office's name, its address, its telephone / e-mail / website, the logo at the left
    (the text stays centred on the page), and the double rule under it."""
    from reportlab.lib import colors
    from reportlab.lib.units import mm
    from reportlab.platypus import HRFlowable, Image, Paragraph, Spacer
    from reportlab.platypus import Table as RLTable

    text = [Paragraph(_para_text(letterhead.office), st["kop"]),
            Paragraph(_para_text(letterhead.address), st["kop2"])]
    if letterhead.contacts:
        text.append(Paragraph(_para_text(letterhead.contacts), st["kop3"]))
    if letterhead.logo is not None:
        logo = Image(str(letterhead.logo), width=20 * mm, height=20 * mm, kind="proportional")
        side = 24 * mm
        head = RLTable([[logo, text, ""]], colWidths=[side, width - 2 * side, side])
        head.setStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("ALIGN", (0, 0), (0, 0), "LEFT"),
                       ("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                       ("FONTNAME", (0, 0), (-1, -1), fonts.REGULAR)])
        block = [head]
    else:
        block = text
    return [*block, Spacer(1, 2 * mm),
            HRFlowable(width="100%", thickness=1.6, color=colors.black, spaceAfter=0.8),
            HRFlowable(width="100%", thickness=0.5, color=colors.black, spaceAfter=4 * mm)]


#: ``progress(done, total)``: rows rendered so far of all rows to render.
Progress = Callable[[int, int], None]


def to_pdf(doc: Document, letterhead: Letterhead | None = None) -> bytes:
    """The record as an A4 PDF under ``letterhead`` (the default one when not given)."""
    out = io.BytesIO()
    write_pdf(doc, out, letterhead)
    return out.getvalue()


def write_pdf(doc: Document, out: BinaryIO, letterhead: Letterhead | None = None,
              progress: Progress | None = None) -> None:
    """Write the record as an A4 PDF to ``out`` (a binary file). Its tables are made a part (about
    :data:`_PART_ROWS` rows) at a time as the pages are filled, and each page is written out as it ends, so the
    memory used does not grow with the number of rows; ``progress(done, total)`` is called as the rows are
    printed (total: the rows of the printed tables), last with ``done == total``."""
    from reportlab.lib.pagesizes import A4, landscape, portrait
    from reportlab.lib.units import mm
    from reportlab.platypus import (
        CondPageBreak,
        KeepTogether,
        ListFlowable,
        ListItem,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
    )

    letterhead = letterhead or Letterhead()
    st = _styles()
    pagesize = landscape(A4) if doc.landscape else portrait(A4)
    template = SimpleDocTemplate(out, pagesize=pagesize, leftMargin=15 * mm, rightMargin=15 * mm,
                                 topMargin=12 * mm, bottomMargin=13 * mm, title=printable(f"{doc.title} — {doc.scope}"),
                                 author=printable(letterhead.office), subject=printable(doc.reference or doc.title),
                                 creator="Alur Medsos")
    width = template.width
    total = sum(len(section.rows) for section in doc.pdf_sections)
    counter = _Counter(total, progress)

    def story():
        yield from letterhead_flowables(letterhead, width, st)
        yield Paragraph(_para_text(doc.title.upper()), st["title"])
        yield from _number_lines(doc, st)
        if doc.reference:
            yield Paragraph(_para_text(doc.reference), st["center"])
        yield Paragraph(_para_text(doc.scope), st["center"])
        yield Spacer(1, 4 * mm)
        if doc.basis:
            yield Paragraph("<b>Dasar hukum:</b>", st["small"])
            yield ListFlowable([ListItem(Paragraph(_para_text(text), st["small"]), value=i)
                                for i, text in enumerate(doc.basis, 1)], bulletType="1", bulletFormat="%s.",
                               bulletFontSize=9, leftIndent=14, bulletFontName=fonts.REGULAR)
            yield Spacer(1, 3 * mm)
        for section in doc.pdf_sections:
            heading = None
            if section.heading and (len(doc.pdf_sections) > 1 or section.heading != doc.title):
                heading = Paragraph(_para_text(section.heading), st["heading"])
            if not section.rows:
                yield KeepTogether([*([heading] if heading else []),
                                    Paragraph(f"<i>{_para_text(section.empty)}</i>", st["body"])])
                continue
            widths = _column_widths(section, (width - 12) * section.width_fraction)  # the frame pads 6 pt a side
            # A heading stays with the start of its table: a new page only when not even the header and a few rows
            # fit. (keepWithNext would bind the heading to the whole table, and a table taller than the page then
            # starts on the next page, leaving page 1 blank below the letterhead.)
            yield CondPageBreak(40 * mm)
            if heading:
                yield heading
            yield from _table_parts(section, widths, counter)
        if doc.notes:
            yield Spacer(1, 3 * mm)
            for note in doc.notes:
                yield Paragraph(_para_text(note), st["small"])
        yield Spacer(1, 8 * mm)
        yield _signatures(doc, width, st)

    template.build(_Story(story()), canvasmaker=_numbered_canvas(doc, letterhead.office))
    counter.finish()


class _Story(list):
    """The flowables of a document, made as the document template takes them: ReportLab's build consumes its list
    from the front (and puts split pieces back there), so a list that refills itself from a generator whenever it
    runs short holds only the flowables being laid out, never the whole story."""

    def __init__(self, flowables: Iterable):
        super().__init__()
        self._more: Iterator | None = iter(flowables)

    def _fill(self, n: int) -> None:
        while self._more is not None and list.__len__(self) < n:
            try:
                self.append(next(self._more))
            except StopIteration:
                self._more = None

    def __len__(self) -> int:
        self._fill(2)
        return list.__len__(self)

    def __bool__(self) -> bool:
        return len(self) > 0

    def __getitem__(self, index):
        if isinstance(index, int) and index >= 0:
            self._fill(index + 1)
        elif not isinstance(index, int):
            self._fill(1 << 62)  # a slice: the whole rest (ReportLab does not take one)
        return list.__getitem__(self, index)


class _Counter:
    """Rows printed so far, reported to ``progress`` (never backwards, last with ``done == total``)."""

    def __init__(self, total: int, progress: Progress | None):
        self.total, self.done, self.progress = total, 0, progress

    def add(self, rows: int) -> None:
        self.done = min(self.total, self.done + rows)
        if self.progress is not None and rows:
            self.progress(self.done, self.total)

    def finish(self) -> None:
        if self.progress is not None and (self.done < self.total or not self.total):
            self.done = self.total
            self.progress(self.total, self.total)


_PAD = 6.5  # a cell's left and right padding and the grid line, points
#: Rows per part of a long table (whole groups: a case's responses are never cut between parts).
_PART_ROWS = 60
#: The table cells' type: 9 pt on 10.6 pt lines.
_SIZE, _LEADING = 9, 9.8
#: A cell's padding (points): left and right, top, bottom.
_CELL_PAD = (3, 0.1, 1.4)


def _table_parts(section: Table, widths: list[float], counter: _Counter | None = None) -> Iterator:
    """A section's table as parts of about :data:`_PART_ROWS` rows each (made one at a time, as the pages are
    filled), printed one under the other as one table. ReportLab splits a table at a page end by re-measuring
    everything after it, so one table of thousands of rows takes quadratic time (a year of responses: minutes);
    parts keep each split short. A part prints the header row when it starts a page (as the repeated header would),
    not in the middle of one."""
    part = _table_part_class()
    start, rows = 0, len(section.rows)
    while start < rows:
        end = min(rows, start + _PART_ROWS)
        if section.heading_rows:  # whole groups: the part ends before a heading row
            while end < rows and end not in section.heading_rows:
                end += 1
        yield part(section, widths, start, end, first=start == 0, counter=counter)
        start = end


def _rl_table(section: Table, widths: list[float], start: int, end: int, header: bool):
    """The ReportLab table of rows ``start``..``end`` of a section, with its header row or without. Cells are
    text wrapped here to their column's width (a ReportLab Paragraph per cell costs ten times as much to make and
    to measure); only a link is a Paragraph (it carries the link)."""
    from reportlab.lib import colors
    from reportlab.platypus import LongTable

    columns = section.columns
    top = 1 if header else 0
    inner = [w - 2 * _CELL_PAD[0] for w in widths]
    rows: list[list] = [[_wrapped(c.title, fonts.BOLD, w) for c, w in zip(columns, inner)]] if header else []
    styles: list[tuple] = [("FONTNAME", (0, 0), (-1, 0), fonts.BOLD),
                           ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E6E6E6"))] if header else []
    last = len(section.rows) - 1
    for i in range(start, end):
        row, at = section.rows[i], len(rows)
        if i in section.heading_rows or i in section.note_rows:
            font = fonts.BOLD if i in section.heading_rows else fonts.REGULAR
            rows.append([_wrapped(str(row[0]), font, sum(widths) - 2 * _CELL_PAD[0])] + [""] * (len(columns) - 1))
            styles.append(("SPAN", (0, at), (-1, at)))
            if i in section.heading_rows:
                styles += [("BACKGROUND", (0, at), (-1, at), colors.HexColor("#F2F2F2")),
                           ("FONTNAME", (0, at), (-1, at), fonts.BOLD)]
            else:
                styles.append(("TEXTCOLOR", (0, at), (-1, at), colors.HexColor("#444444")))
            continue
        bold = section.total_row and i == last
        rows.append([_pdf_cell(v, c, w, bold) for v, c, w in zip(row, columns, inner)])
        if bold:
            styles.append(("FONTNAME", (0, at), (-1, at), fonts.BOLD))
    styles += [("NOSPLIT", (0, a), (-1, b)) for a, b in _kept_groups(section, start, end, top)]
    table = LongTable(rows, colWidths=widths, repeatRows=top, hAlign="LEFT")
    table.setStyle([
        ("FONTNAME", (0, 0), (-1, -1), fonts.REGULAR),
        ("FONTSIZE", (0, 0), (-1, -1), _SIZE),
        ("LEADING", (0, 0), (-1, -1), _LEADING),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#888888")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), _CELL_PAD[0]),
        ("RIGHTPADDING", (0, 0), (-1, -1), _CELL_PAD[0]),
        ("TOPPADDING", (0, 0), (-1, -1), _CELL_PAD[1]),
        ("BOTTOMPADDING", (0, 0), (-1, -1), _CELL_PAD[2]),
        *styles,
    ])
    return table


@lru_cache(maxsize=1)
def _table_part_class():
    """The flowable classes (made on first use: ReportLab is imported only when a PDF is made)."""
    from reportlab.platypus import Flowable

    class Printed(Flowable):
        """The rows of a part that fitted on a page (split off it): counted as printed when drawn."""

        def __init__(self, table, rows: int, counter: _Counter | None):
            super().__init__()
            self.table, self.rows, self.counter = table, rows, counter

        def wrap(self, available_width, available_height):
            self.width, self.height = self.table.wrapOn(self.canv, available_width, available_height)
            return self.width, self.height

        def draw(self):
            self.table.drawOn(self.canv, 0, 0)
            self.table = None  # drawn: its cells are not needed any more
            if self.counter is not None:
                self.counter.add(self.rows)

    class TablePart(Flowable):
        """Rows of a long table: with the header row when first, or when it starts a page (the frame it is being
        placed in is still empty). Its ReportLab table is made when it is first measured and let go once drawn."""

        def __init__(self, section, widths, start, end, first, counter=None):
            super().__init__()
            self.args = (section, widths, start, end)
            self.first, self.counter = first, counter
            self._table = self._with_header = None

        def _inner(self):
            header = self.first or bool(getattr(getattr(self, "_frame", None), "_atTop", False))
            if self._table is None or self._with_header != header:
                self._table, self._with_header = _rl_table(*self.args, header), header
            return self._table

        def wrap(self, available_width, available_height):
            self.width, self.height = self._inner().wrapOn(self.canv, available_width, available_height)
            return self.width, self.height

        def split(self, available_width, available_height):
            pieces = self._inner().splitOn(self.canv, available_width, available_height)
            if len(pieces) < 2:
                return pieces
            # The rest goes on as a part of its own, which starts the next page and so prints the header row.
            section, widths, start, end = self.args
            taken = len(pieces[0]._cellvalues) - (1 if self._with_header else 0)
            self._table = None
            return [Printed(pieces[0], taken, self.counter),
                    TablePart(section, widths, start + taken, end, first=False, counter=self.counter)]

        def draw(self):
            self._table.drawOn(self.canv, 0, 0)
            self._table = None
            if self.counter is not None:
                section, _, start, end = self.args
                self.counter.add(end - start)

    return TablePart


_BREAKS = re.compile(r"[ \t\n]+")
_SPACES = re.compile(r"[ \t]+")


def _width(text: str, font: str) -> float:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    return stringWidth(text, font, _SIZE)


@lru_cache(maxsize=8192)
def _wrapped(text: str, font: str, width: float, anywhere: bool = False) -> str:
    """``text`` broken into lines (joined by ``\\n``) no wider than ``width`` at 9 pt: at spaces (a no-break space
    joins), a word longer than the line cut where it must; ``anywhere``: at any character (a link)."""
    lines: list[str] = []
    space = _width(" ", font)
    for paragraph in text.split("\n"):
        line, used = "", 0.0
        for word in ([paragraph] if anywhere else _SPACES.split(paragraph.strip())):
            size = _width(word, font)
            if line and used + space + size <= width:
                line, used = f"{line} {word}", used + space + size
                continue
            if line:
                lines.append(line)
            while size > width and len(word) > 1:  # cut a long word (or a link) where the line ends
                low, high = 1, len(word) - 1  # the longest head that fits (at least one character)
                while low < high:
                    mid = (low + high + 1) // 2
                    low, high = (mid, high) if _width(word[:mid], font) <= width else (low, mid - 1)
                cut = low
                lines.append(word[:cut])
                word = word[cut:]
                size = _width(word, font)
            line, used = word, size
        lines.append(line)
    return "\n".join(lines)


def _pdf_cell(value: Any, column: Column, width: float, bold: bool = False):
    text = printable(_text(value, column.kind, printed=True))
    if column.kind == "url" and isinstance(value, str) and value.startswith(("https://", "http://")):
        return _link_cell(value, text, width, bold)
    return _wrapped(text, fonts.BOLD if bold else fonts.REGULAR, width)


def _link_cell(url: str, text: str, width: float, bold: bool):
    """A link: a Paragraph (it carries the link), broken anywhere."""
    from reportlab.platypus import Paragraph

    body = _para_text(text)
    return Paragraph(f"<link href={quoteattr(printable(url))}>{f'<b>{body}</b>' if bold else body}</link>",
                     _cell_style("CJK"))


@lru_cache(maxsize=4)
def _cell_style(word_wrap: str | None = None):
    """A table cell's Paragraph style (9 pt on 10.6), ``word_wrap="CJK"``: broken anywhere (a link)."""
    from reportlab.lib.styles import ParagraphStyle

    fonts.register()
    return ParagraphStyle("cell", fontName=fonts.REGULAR, fontSize=_SIZE, leading=_LEADING, wordWrap=word_wrap)


def _measure(section: Table, columns: tuple[Column, ...]):
    """Per column: its longest text, its longest word, its title's longest word and its longest value (points)."""
    whole = [_width(c.title, fonts.BOLD) for c in columns]
    word = [max(_width(w, fonts.BOLD) for w in (_BREAKS.split(c.title) or [""])) for c in columns]
    title_word = list(word)
    values = [0.0] * len(columns)  # the longest value of each column (a date or number stays on one line)
    for i, row in enumerate(section.rows):
        if i in section.note_rows or i in section.heading_rows:
            continue
        for at, column in enumerate(columns[:len(row)]):
            text = printable(_text(row[at], column.kind, printed=True))
            size = _width(text, fonts.REGULAR)
            if size > values[at]:
                values[at] = size
                whole[at] = max(whole[at], size)
            if size > word[at]:  # (no word is longer than its text)
                word[at] = max([word[at]] + [_width(w, fonts.REGULAR) for w in _BREAKS.split(text)])
    return whole, word, title_word, values


def _column_widths(section: Table, available: float) -> list[float]:
    """Column widths from what the cells hold: each column gets its longest text on one line when all fit (the
    room left is shared by the columns' weights); else the columns that can wrap give way, but never below their
    longest word (so "Terlambat" or a date is never broken inside). The cells are measured as strings, a row at a
    time."""
    columns = section.columns
    whole, word, title_word, values = _measure(section, columns)
    natural, least = [], []
    for index, column in enumerate(columns):
        w = word[index]
        if column.kind == "url":
            w = min(w, 60)  # a link breaks anywhere
        h = whole[index]
        if column.kind not in ("text", "url"):  # a date or number on one line; its title may wrap
            h = max(title_word[index], values[index])
        natural.append(min(h, available * 0.45) + _PAD)
        least.append(min(w, available * 0.2) + _PAD)
    # Numbers, dates, times and yes/no keep their one line; the text columns share the rest by their weights
    # (water-filling: one whose text is shorter than its share takes only what it needs, the others get more).
    widths = {i: natural[i] for i, c in enumerate(columns) if c.kind not in ("text", "url")}
    if sum(widths.values()) + sum(least[i] for i in range(len(natural)) if i not in widths) > available:
        weights = [c.width for c in columns]  # too many columns to keep any whole: by weight
        return [available * w / sum(weights) for w in weights]
    open_ = [i for i in range(len(columns)) if i not in widths]
    while open_:
        room = available - sum(widths.values())
        weight = sum(columns[i].width for i in open_)
        share = {i: room * columns[i].width / weight for i in open_}
        fixed = [i for i in open_ if natural[i] <= share[i] or least[i] >= share[i]]
        if not fixed:
            widths.update(share)
            break
        for i in fixed:
            widths[i] = natural[i] if natural[i] <= share[i] else least[i]
        open_ = [i for i in open_ if i not in fixed]
    if not open_ and sum(widths.values()) < available:  # everything fits on one line: spread the room
        spare = available - sum(widths.values())
        weights = [c.width for c in columns]
        return [widths[i] + spare * w / sum(weights) for i, w in enumerate(weights)]
    return [widths[i] for i in range(len(columns))]


def _kept_groups(section: Table, start: int, end: int, top: int) -> list[tuple[int, int]]:
    """Rows (first, last; of the table of section rows ``start``..``end`` under ``top`` header rows) printed on one
    page: a heading never ends a page alone — it keeps its whole group when that is short (a case with up to four
    responses), else its first two responses."""
    kept, at, i = [], top, start
    while i < end:
        if i not in section.heading_rows:
            at, i = at + 1, i + 1
            continue
        j = i
        while j + 1 < end and j + 1 not in section.heading_rows:
            j += 1
        rows = j - i + 1  # the heading and its group's rows
        kept.append((at, at + rows - 1 if rows <= 5 else at + 2))
        at, i = at + rows, j + 1
    return kept


def _number_lines(doc: Document, st) -> list:
    """"Nomor: 001/REG-MEDSOS/V/2025" under the title, and the re-print line under it (nothing without a number)."""
    from reportlab.platypus import Paragraph

    if not doc.number:
        return []
    lines = [Paragraph(f"Nomor: {_para_text(doc.number)}", st["center"])]
    if doc.number_note:
        lines.append(Paragraph(f"<i>{_para_text(doc.number_note)}</i>", st["center"]))
    return lines


def _signer_rows(doc: Document, blocks, st) -> list[list]:
    """The name, title and NIP rows under the room to sign: a chosen signer's name (bold, underlined), official
    title and NIP (no NIP line without one); dotted lines to fill in by hand for a block without a signer."""
    from reportlab.platypus import Paragraph

    names, titles, nips = [], [], []
    for index in range(len(blocks)):
        signer = doc.signers[index] if index < len(doc.signers) else None
        if signer is None:
            names.append(Paragraph("(....................................................)", st["sign"]))
            titles.append("")
            nips.append(Paragraph("NIP. ..............................................", st["sign"]))
            continue
        names.append(Paragraph(f"<b><u>{_para_text(signer.name)}</u></b>", st["sign"]))
        titles.append(Paragraph(_para_text(signer.jabatan), st["sign"]) if signer.jabatan else "")
        nips.append(Paragraph(f"NIP. {_para_text(nip_printed(signer.nip))}", st["sign"]) if signer.nip else "")
    return [row for row in (names, titles, nips) if any(cell != "" for cell in row)]


def _signatures(doc: Document, width: float, st):
    """Dibuat oleh / Diperiksa oleh / Mengetahui, with room to sign and the signer's name, title and NIP (or lines
    for them)."""
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepTogether, Paragraph, Spacer
    from reportlab.platypus import Table as RLTable

    place_date = f"{PLACE}, {tanggal_id(_wib(doc.generated_at).date())}"
    blocks = doc.signatures or DEFAULT_SIGNATURES
    columns = max(3, len(blocks))
    heads = [Paragraph(_para_text(h), st["sign"]) for h, _ in blocks]
    roles = [Paragraph(f"<b>{_para_text(r)}</b>", st["sign"]) for _, r in blocks]
    blanks = [Spacer(1, 18 * mm) for _ in blocks]
    pad = [""] * (columns - len(blocks))  # fewer blocks than three: they stand on the right, as on a letter
    grid = RLTable([pad + heads, pad + roles, pad + blanks, *(pad + row for row in _signer_rows(doc, blocks, st))],
                   colWidths=[width / columns] * columns)
    grid.setStyle([("FONTNAME", (0, 0), (-1, -1), fonts.REGULAR), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                   ("TOPPADDING", (0, 0), (-1, -1), 1),
                   ("BOTTOMPADDING", (0, 0), (-1, -1), 1)])
    place = RLTable([[*([""] * (columns - 1)), Paragraph(_para_text(place_date), st["sign"])]],
                    colWidths=[width / columns] * columns)
    place.setStyle([("FONTNAME", (0, 0), (-1, -1), fonts.REGULAR)])
    return KeepTogether([place, Spacer(1, 2 * mm), grid])

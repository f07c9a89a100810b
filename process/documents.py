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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from . import fonts, timefmt
from .casefile import outcome_labels
from .config import Letterhead
from .declarations import Declarations
from .nip import printed as nip_printed
from .records import RECORD_LOCALE, CaseResponses, Period, Recap, tanggal_id
from .spreadsheets import csv_writer, set_cell

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
    from openpyxl import Workbook

    letterhead = letterhead or Letterhead()
    wb = Workbook()
    sheets = [(SHEETS.get(doc.key, doc.title), doc.table), *doc.extra_sheets]
    for index, (name, table) in enumerate(sheets):
        ws = wb.active if index == 0 else wb.create_sheet()
        ws.title = _sheet_name(name)
        _fill_sheet(ws, doc, table, letterhead.office)
    wb.properties.title = f"{doc.title} — {doc.scope}"
    wb.properties.creator = f"Alur Medsos — {letterhead.office}"
    wb.properties.subject = doc.reference or doc.title
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _printed_row(doc: Document) -> str:
    """The last title row of a sheet: the document number when the record has one, and when it was printed."""
    printed = f"Dicetak: {_printed_at(doc.generated_at)}"
    return f"Nomor: {doc.number} — {printed}" if doc.number else printed


def _sheet_name(name: str) -> str:
    for ch in "[]:*?/\\":
        name = name.replace(ch, " ")
    return name[:31]


def _fill_sheet(ws, doc: Document, table: Table, office: str = KOP) -> None:
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    ncols = max(1, len(table.columns))
    last = get_column_letter(ncols)
    title_block = [(office, Font(bold=True, size=12)), (doc.title.upper(), Font(bold=True, size=14)),
                   (doc.reference, Font(size=10)), (doc.scope, Font(size=10)),
                   (_printed_row(doc), Font(size=9, italic=True))]
    for r, (text, font) in enumerate(title_block, 1):
        cell = ws.cell(row=r, column=1)
        set_cell(cell, text)
        cell.font = font
        if ncols > 1:
            ws.merge_cells(f"A{r}:{last}{r}")
    header_row = len(title_block) + 2
    if table.heading and table.heading != doc.title:
        cell = ws.cell(row=header_row - 1, column=1)
        set_cell(cell, table.heading)
        cell.font = Font(bold=True)
    thin = Side(style="thin", color="999999")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    for c, column in enumerate(table.columns, 1):
        cell = ws.cell(row=header_row, column=c)
        set_cell(cell, xlsx_title(column))
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="E6E6E6")
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        cell.border = border
        ws.column_dimensions[get_column_letter(c)].width = max(8, min(60, round(column.width * 12)))
    wrap = Alignment(wrap_text=True, vertical="top")
    for r, row in enumerate(table.rows, header_row + 1):
        total = table.total_row and r == header_row + len(table.rows)
        for c, (value, column) in enumerate(zip(row, table.columns), 1):
            cell = ws.cell(row=r, column=c)
            _set_xlsx_value(cell, value, column)
            cell.alignment = wrap
            cell.border = border
            if total:
                cell.font = Font(bold=True)
    ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
    # the filter covers the data rows; a total row stays below it (filtering or sorting never moves the sum)
    data_rows = len(table.rows) - (1 if table.total_row else 0)
    if data_rows > 0:
        ws.auto_filter.ref = f"A{header_row}:{last}{header_row + data_rows}"
    if not table.rows:
        cell = ws.cell(row=header_row + 1, column=1)
        set_cell(cell, table.empty)
        cell.font = Font(italic=True)
    ws.print_title_rows = f"{header_row}:{header_row}"
    ws.page_setup.orientation = "landscape" if doc.landscape else "portrait"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True


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


def _set_xlsx_value(cell, value: Any, column: Column) -> None:
    """Typed cells: booleans (shown Ya/Tidak), numbers, durations (days, shown as hours), WIB times, text."""
    if isinstance(value, bool):
        set_cell(cell, value, XLSX_YES_NO)
    elif isinstance(value, timedelta):
        set_cell(cell, value.total_seconds() / 86400, XLSX_DURATION)
    elif isinstance(value, datetime):
        set_cell(cell, _wib(value).replace(tzinfo=None), "dd-mm-yyyy hh:mm")  # Excel has no time zones: WIB
    elif isinstance(value, date):
        set_cell(cell, value, "dd-mm-yyyy")
    else:
        set_cell(cell, value)
        if column.kind == "url" and isinstance(value, str) and value.startswith(("https://", "http://")):
            cell.hyperlink = value


# --------------------------------------------------------------------------------------------------
# PDF
# --------------------------------------------------------------------------------------------------


def printable(text: str) -> str:
    """Text as the records' font can print it (:func:`process.fonts.printable`)."""
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


def _numbered_canvas(doc: Document, office: str):
    from reportlab.pdfgen import canvas

    running = printable(f"{office} — {doc.title} — {doc.scope}")
    printed = printable(f"Dicetak {_printed_at(doc.generated_at)} — Alur Medsos")

    class NumberedCanvas(canvas.Canvas):
        """Defers each page until the end, so every footer can say "Halaman x dari y"."""

        def __init__(self, *args, **kwargs):
            kwargs["initialFontName"] = fonts.REGULAR  # no unused Helvetica in the file
            super().__init__(*args, **kwargs)
            self._pages: list[dict] = []

        def showPage(self):  # noqa: N802 (ReportLab's name)
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            total = len(self._pages)
            for number, state in enumerate(self._pages, 1):
                self.__dict__.update(state)
                self._decorate(number, total)
                super().showPage()
            super().save()

        def _decorate(self, number: int, total: int) -> None:
            from reportlab.lib.units import mm

            width, height = self._pagesize
            self.saveState()
            self.setFont(fonts.REGULAR, 8)
            self.setFillGray(0.35)
            if number > 1:
                self.drawString(15 * mm, height - 10 * mm, running[:160])
            self.drawString(15 * mm, 8 * mm, printed)
            self.drawRightString(width - 15 * mm, 8 * mm, f"Halaman {number} dari {total}")
            self.restoreState()

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


def to_pdf(doc: Document, letterhead: Letterhead | None = None) -> bytes:
    """The record as an A4 PDF under ``letterhead`` (the default one when not given)."""
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
    out = io.BytesIO()
    template = SimpleDocTemplate(out, pagesize=pagesize, leftMargin=15 * mm, rightMargin=15 * mm,
                                 topMargin=14 * mm, bottomMargin=15 * mm, title=printable(f"{doc.title} — {doc.scope}"),
                                 author=printable(letterhead.office), subject=printable(doc.reference or doc.title),
                                 creator="Alur Medsos")
    width = template.width
    story: list = [
        *letterhead_flowables(letterhead, width, st),
        Paragraph(_para_text(doc.title.upper()), st["title"]),
        *_number_lines(doc, st),
        *([Paragraph(_para_text(doc.reference), st["center"])] if doc.reference else []),
        Paragraph(_para_text(doc.scope), st["center"]),
        Spacer(1, 4 * mm),
    ]
    if doc.basis:
        story += [
            Paragraph("<b>Dasar hukum:</b>", st["small"]),
            ListFlowable([ListItem(Paragraph(_para_text(text), st["small"]), value=i)
                          for i, text in enumerate(doc.basis, 1)], bulletType="1", bulletFormat="%s.",
                         bulletFontSize=9, leftIndent=14, bulletFontName=fonts.REGULAR),
            Spacer(1, 3 * mm),
        ]
    for section in doc.pdf_sections:
        block: list = []
        if section.heading and (len(doc.pdf_sections) > 1 or section.heading != doc.title):
            block.append(Paragraph(_para_text(section.heading), st["heading"]))
        if not section.rows:
            block.append(Paragraph(f"<i>{_para_text(section.empty)}</i>", st["body"]))
            story.append(KeepTogether(block))
            continue
        widths = _column_widths(section, (width - 12) * section.width_fraction)  # the frame pads 6 pt each side
        parts = _table_parts(section, widths, st)
        # A heading stays with the start of its table: a new page only when not even the header and a few rows fit.
        # (keepWithNext would bind the heading to the whole table, and a table taller than the page then starts on
        # the next page, leaving page 1 blank below the letterhead.)
        story.append(CondPageBreak(40 * mm))
        if block:
            story.append(block[0])
        story.extend(parts)
    if doc.notes:
        story.append(Spacer(1, 3 * mm))
        story.extend(Paragraph(_para_text(note), st["small"]) for note in doc.notes)
    story.append(Spacer(1, 8 * mm))
    story.append(_signatures(doc, width, st))
    template.build(story, canvasmaker=_numbered_canvas(doc, letterhead.office))
    return out.getvalue()


_PAD = 6.5  # a cell's left and right padding and the grid line, points
#: Rows per part of a long table (whole groups: a case's responses are never cut between parts).
_PART_ROWS = 60


def _table_parts(section: Table, widths: list[float], st) -> list:
    """A section's table as a list of parts of about :data:`_PART_ROWS` rows each, printed one under the other
    as one table. ReportLab splits a table at a page end by re-measuring everything after it, so one table of
    thousands of rows takes quadratic time (a year of responses: minutes); parts keep each split short. A part
    prints the header row when it starts a page (as the repeated header would), not in the middle of one."""
    starts = [0]
    groups = sorted(section.heading_rows)
    for i in range(1, len(section.rows)):
        if i - starts[-1] >= _PART_ROWS and (not groups or i in section.heading_rows):
            starts.append(i)
    ends = [*starts[1:], len(section.rows)]
    part = _table_part_class()
    return [part(section, widths, st, start, end, first=index == 0)
            for index, (start, end) in enumerate(zip(starts, ends))]


def _rl_table(section: Table, widths: list[float], st, start: int, end: int, header: bool):
    """The ReportLab table of rows ``start``..``end`` of a section, with its header row or without."""
    from reportlab.lib import colors
    from reportlab.platypus import LongTable, Paragraph

    top = 1 if header else 0
    rows = [[Paragraph(_para_text(c.title), st["th"]) for c in section.columns]] if header else []
    styles: list[tuple] = []
    for i in range(start, end):
        row, at = section.rows[i], i - start + top
        if i in section.heading_rows or i in section.note_rows:
            style = st["case"] if i in section.heading_rows else st["cell_note"]
            rows.append([Paragraph(_para_text(str(row[0])), style)] + [""] * (len(section.columns) - 1))
            styles.append(("SPAN", (0, at), (-1, at)))
            if i in section.heading_rows:
                styles.append(("BACKGROUND", (0, at), (-1, at), colors.HexColor("#F2F2F2")))
        else:
            rows.append([_pdf_cell(v, c, st, bold=section.total_row and i == len(section.rows) - 1)
                         for v, c in zip(row, section.columns)])
    styles += [("NOSPLIT", (0, a - start + top), (-1, b - start + top)) for a, b in _kept_groups(section)
               if start <= a and b < end]
    table = LongTable(rows, colWidths=widths, repeatRows=top, hAlign="LEFT")
    table.setStyle([
        ("FONTNAME", (0, 0), (-1, -1), fonts.REGULAR),  # for empty cells (ReportLab's default: Helvetica)
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#888888")),
        *([("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E6E6E6"))] if header else []),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 1),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.8),
        *styles,
    ])
    return table


@lru_cache(maxsize=1)
def _table_part_class():
    """The flowable class (made on first use: ReportLab is imported only when a PDF is made)."""
    from reportlab.platypus import Flowable

    class TablePart(Flowable):
        """Rows of a long table: with the header row when first, or when it starts a page (the frame it is being
        placed in is still empty)."""

        def __init__(self, section, widths, st, start, end, first):
            super().__init__()
            self.args = (section, widths, st, start, end)
            self.first = first
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
            taken = len(pieces[0]._cellvalues) - (1 if self._with_header else 0)
            section, widths, st, start, end = self.args
            return [pieces[0], TablePart(section, widths, st, start + taken, end, first=False)]

        def draw(self):
            self._table.drawOn(self.canv, 0, 0)

    return TablePart


_BREAKS = re.compile(r"[ \t\n]+")


def _column_widths(section: Table, available: float) -> list[float]:
    """Column widths from what the cells hold: each column gets its longest text on one line when all fit (the
    room left is shared by the columns' weights); else the columns that can wrap give way, but never below their
    longest word (so "Terlambat" or a date is never broken inside)."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    size = 9
    natural, least = [], []
    for index, column in enumerate(section.columns):
        texts = [(column.title, fonts.BOLD)]
        texts += [(printable(_text(row[index], column.kind, printed=True)), fonts.REGULAR)
                  for i, row in enumerate(section.rows)
                  if i not in section.heading_rows and i not in section.note_rows and index < len(row)]
        whole = max(stringWidth(t, font, size) for t, font in texts)
        # (a no-break space joins, as ReportLab prints it: a date and its hour stay on one line)
        word = max(stringWidth(w, font, size) for t, font in texts for w in (_BREAKS.split(t) or [""]))
        if column.kind == "url":
            word = min(word, 60)  # a link breaks anywhere
        if column.kind not in ("text", "url"):  # a date or number on one line; its title may wrap
            whole = max([stringWidth(w, fonts.BOLD, size) for w in column.title.split() or [""]]
                        + [stringWidth(t, font, size) for t, font in texts[1:]])
        natural.append(min(whole, available * 0.45) + _PAD)
        least.append(min(word, available * 0.2) + _PAD)
    # Numbers, dates, times and yes/no keep their one line; the text columns share the rest by their weights
    # (water-filling: one whose text is shorter than its share takes only what it needs, the others get more).
    widths = {i: natural[i] for i, c in enumerate(section.columns) if c.kind not in ("text", "url")}
    if sum(widths.values()) + sum(least[i] for i in range(len(natural)) if i not in widths) > available:
        weights = [c.width for c in section.columns]  # too many columns to keep any whole: by weight
        return [available * w / sum(weights) for w in weights]
    open_ = [i for i in range(len(section.columns)) if i not in widths]
    while open_:
        room = available - sum(widths.values())
        weight = sum(section.columns[i].width for i in open_)
        share = {i: room * section.columns[i].width / weight for i in open_}
        fixed = [i for i in open_ if natural[i] <= share[i] or least[i] >= share[i]]
        if not fixed:
            widths.update(share)
            break
        for i in fixed:
            widths[i] = natural[i] if natural[i] <= share[i] else least[i]
        open_ = [i for i in open_ if i not in fixed]
    if not open_ and sum(widths.values()) < available:  # everything fits on one line: spread the room
        spare = available - sum(widths.values())
        weights = [c.width for c in section.columns]
        return [widths[i] + spare * w / sum(weights) for i, w in enumerate(weights)]
    return [widths[i] for i in range(len(section.columns))]


def _kept_groups(section: Table) -> list[tuple[int, int]]:
    """Row ranges (first, last; section rows) printed on one page: a heading row never ends a page alone — it
    keeps its whole group when that is short (a case with up to four responses), else its first two rows."""
    starts = sorted(section.heading_rows)
    ends = [*(s - 1 for s in starts[1:]), len(section.rows) - 1]
    return [(start, min(end, start + 2) if end - start > 4 else end) for start, end in zip(starts, ends)]


def _pdf_cell(value: Any, column: Column, st, *, bold: bool = False):
    from reportlab.platypus import Paragraph

    text = _para_text(_text(value, column.kind, printed=True))
    if bold:
        text = f"<b>{text}</b>"
    if column.kind == "url" and isinstance(value, str) and value.startswith(("https://", "http://")):
        return Paragraph(f"<link href={quoteattr(printable(value))}>{text}</link>", st["cell_url"])
    return Paragraph(text, st["cell"])


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

"""An SOP written in the official form (Permenpan RB Nomor 35 Tahun 2012), read from an XLSX matrix, becomes a BPMN
draft — the reverse of process/sopdoc.py.

The matrix (the template :func:`template_xlsx` writes it, with its instructions on the sheet *Petunjuk*; the
convention is documented in docs/sop-import.md):

- header: *No.*, *Uraian Prosedur*, one column per actor (*Pelaksana*; the official form's two header rows, "Pelaksana"
  merged over the actors' names and "Pendukung" over the supporting columns, are read as one), *Kelengkapan*,
  *Waktu*, *Output*, and optionally *Keterangan*. Rows above the header may say ``Nama SOP`` and ``Nomor SOP``.
- one row per activity: its number, its text, and in exactly one actor's column a mark: ``x`` (an activity; also
  ``kegiatan``, ``v``, ``✓``), ``keputusan`` (an activity followed by a decision; also ``decision``, ``◇``),
  ``mulai`` (the first activity, after the start terminator) or ``selesai`` (an activity that ends the procedure).
- a decision's outcomes in its *Keterangan*: ``Ya: 5; Tidak: 3`` — each "label: target", separated by ``;`` or
  new lines; a target is a row's number (``5``, ``ke 5``, ``langkah 5``), ``selesai`` (the procedure ends as it
  should) or ``berhenti (ditolak)`` (it ends without its result; the words in brackets name how).
- *Kelengkapan*: one item per line (bullets ``○ o • - *`` and numbers ``1.`` are dropped) or separated by ``;``.
  "Dokumentasi minimal 4" (also "min. 4", "paling sedikit 4") becomes a file field with at least 4 files; any other
  item a text field. Each item is declared as ``alur:input`` with its words, so the printed SOP says them again.
- *Waktu*: ``H`` / ``Hari H`` / ``hari yang sama``, ``H+n``, ``n hari``, ``n hari kerja`` (and "…, maksimal n hari
  sesudahnya"), each with an optional ``setelah <reference>``: ``langkah n`` (optionally ``langkah n (words)``: the
  day step n is completed, printed as those words), words already given to a step that way, or any other words (a
  date the case is opened with: a date field "Tanggal <words>" on the start form — said in a warning). Without a
  reference the deadline counts from the completion of the row before (a warning says so). Anything else gets no
  deadline and a warning naming the cell — never a guess.

What the draft is: a pool with one lane per actor (the actors' names, in column order; an actor's second column, as
the official form repeats "Admin Medsos" on the right, is the same lane), a user task per row, its form drafted from
*Kelengkapan* (plus, for a decision, a choice "Keputusan" and a text "Tanggapan tertulis"), its deadline as the
bundled diagram models one (a non-interrupting timer boundary event ``akhir_hari(ref, n)`` /
``akhir_hari_kerja(ref, n)`` that records the lateness), ``alur:step number output deadline`` and ``alur:input``;
sequence flows in row order, a decision as an exclusive gateway with a condition per outcome (an outcome that goes
back declares ``alur:return``, one that ends unsuccessfully ``alur:reject``). Lanes declare no group: a lane is worked
by the group of its name, so a new actor's lane is reported by *Validasi* as ``lane.no_group`` and the modeler offers
to create that group — the one thing the owner must still decide before deploying.

The layout (full BPMN DI) is computed here: one column of the canvas per row, left to right in row order, lanes as
horizontal bands in actor order; every flow is routed orthogonally through the free gaps between the columns and along
the top and bottom of the lanes. No maintained Python library lays out BPMN (bpmn-auto-layout is JavaScript and
drops lanes), and the matrix already gives a grid, so a small deterministic layout is simpler and exact.

Problems are :class:`Finding` — a code of process/messages.py with the row and the column (Excel-style letters)
of the cell. Those that make a draft impossible are raised together as :class:`ImportRefused`; the others come back
with the draft as warnings. Nothing here knows Flask.
"""
from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from . import messages
from .errors import BadRequest

#: Largest workbook accepted (compressed, and what its parts unpack to): a matrix is a few kilobytes.
MAX_BYTES = 2 * 1024 * 1024
MAX_UNPACKED = 20 * 1024 * 1024
MAX_ROWS = 200
MAX_ACTORS = 20
#: How many rows above the header are searched for it.
HEADER_SEARCH = 30
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

ACTIVITY, DECISION, START, END = "activity", "decision", "start", "end"
SYMBOLS = {
    "x": ACTIVITY, "v": ACTIVITY, "\u2713": ACTIVITY, "\u2714": ACTIVITY, "\u221a": ACTIVITY, "kegiatan": ACTIVITY,
    "aktivitas": ACTIVITY, "activity": ACTIVITY, "proses": ACTIVITY, "\u25a1": ACTIVITY, "\u25ad": ACTIVITY,
    "keputusan": DECISION, "decision": DECISION, "\u25c7": DECISION, "\u25c6": DECISION, "\u2666": DECISION,
    "mulai": START, "start": START, "selesai": END, "end": END,
}


# --------------------------------------------------------------------------------------------------
# Findings
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One thing the import noticed: a code of process/messages.py (``sop_import.*``) and its params; ``row`` (1-based,
    as the spreadsheet numbers it) and ``column`` (its letters) of the cell, when it is about one."""

    code: str
    params: dict = field(default_factory=dict, compare=False, hash=False)
    row: int | None = None
    column: str | None = None
    severity: str = "error"

    def text(self, locale: str = messages.SOURCE_LOCALE, translations=None) -> str:
        said = messages.render(self.code, self.params, locale, translations)
        if self.row is not None and self.column:
            return messages.render("sop_import.at_cell", {"row": self.row, "column": self.column, "text": said},
                                   locale, translations)
        if self.row is not None:
            return messages.render("sop_import.at_row", {"row": self.row, "text": said}, locale, translations)
        return said

    def as_dict(self, locale: str = messages.SOURCE_LOCALE, translations=None) -> dict:
        return {"code": self.code, "params": dict(self.params), "row": self.row, "column": self.column,
                "severity": self.severity, "message": self.text(locale, translations)}


class ImportRefused(BadRequest):
    """The matrix cannot become a draft: ``findings`` are every error (and warning) found."""

    def __init__(self, findings: Sequence[Finding]):
        self.findings = list(findings)
        errors = [f for f in self.findings if f.severity == "error"]
        super().__init__("SOP matrix refused", code="sop_import.refused", count=len(errors))


@dataclass(frozen=True)
class Draft:
    xml: str
    process_key: str
    name: str
    warnings: tuple[Finding, ...] = ()


# --------------------------------------------------------------------------------------------------
# Words
# --------------------------------------------------------------------------------------------------


def _norm(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).replace("\u00a0", " ").split())


def _key(text: str) -> str:
    return _norm(text).lower().rstrip(":").strip()


def slug(text: str, limit: int = 40) -> str:
    """An identifier made of ``text``: ASCII lower case, ``_`` between words (a field id, a group code)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    out = re.sub(r"[^a-z0-9]+", "_", ascii_text).strip("_")[:limit].rstrip("_")
    if not out or not out[0].isalpha():
        out = f"isian_{out}".rstrip("_")
    return out


def _col(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index)


# --------------------------------------------------------------------------------------------------
# Waktu
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Waktu:
    """A *Waktu* cell read: ``days`` after the reference, counted in working days or not; ``reference``: ``("step",
    n, words|None)`` the completion of row number n, ``("date", words)`` a date the case is opened with, or None (the
    row before). ``none``: the cell says there is no deadline."""

    days: int | None = None
    working: bool = False
    reference: tuple | None = None
    none: bool = False


_NO_DEADLINE = {"", "-", "\u2013", "\u2014", "tidak ada", "tanpa batas waktu"}
_REF_SPLIT = re.compile(r"\s+(?:setelah|sesudah|sejak|dari)\s+", re.IGNORECASE)
_STEP_REF = re.compile(r"^(?:selesainya\s+)?(?:langkah|no\.?|nomor|baris)\s*(\d+)\s*(?:\((.+)\))?$", re.IGNORECASE)
_AT_MOST = re.compile(r",?\s*(?:maksimal|paling lambat)\s+(\d+)\s*(?:\([^)]*\)\s*)?hari(\s+kerja)?\s+"
                      r"(?:sesudahnya|setelahnya|berikutnya)\s*$", re.IGNORECASE)


def _count(head: str) -> tuple[int, bool] | None:
    """The deadline part of a Waktu cell (before "setelah ..."), as (days, working days), or None."""
    h = re.sub(r"\(\s*[a-z ]+\s*\)", "", head.lower())  # "1 (satu) hari"
    h = " ".join(h.replace("\u2013", "-").split()).strip(" .,")
    if h in ("h", "hari h", "hari yang sama", "pada hari yang sama", "hari itu juga", "h+0", "h + 0"):
        return 0, False
    m = re.fullmatch(r"(?:hari\s+)?h\s*\+\s*(\d+)(?:\s+hari)?(\s+kerja)?", h)
    if m:
        return int(m.group(1)), bool(m.group(2))
    m = re.fullmatch(r"(?:paling lambat\s+|maksimal\s+|dalam\s+|dalam waktu\s+)?(\d+)\s+hari(\s+kalender)?", h)
    if m:
        return int(m.group(1)), False
    m = re.fullmatch(r"(?:paling lambat\s+|maksimal\s+|dalam\s+|dalam waktu\s+)?(\d+)\s+hari\s+kerja", h)
    if m:
        return int(m.group(1)), True
    return None


def parse_waktu(text: str) -> Waktu | None:
    """A *Waktu* cell as :class:`Waktu`, or None when it cannot be read (the caller flags it)."""
    from .deadlines import MAX_DAYS

    words = _norm(text)
    if words.lower() in _NO_DEADLINE:
        return Waktu(none=True)
    at_most = _AT_MOST.search(words)
    if at_most:
        words = words[:at_most.start()].strip()
    parts = _REF_SPLIT.split(words, maxsplit=1)
    head, ref = parts[0], (parts[1].strip(" .,") if len(parts) > 1 else None)
    counted = _count(head)
    if counted is None:
        return None
    days, working = counted
    if at_most:
        if days != 0:
            return None  # "H+2 ..., maksimal 1 hari sesudahnya": two counts
        days, working = int(at_most.group(1)), bool(at_most.group(2))
    if days > MAX_DAYS:
        return None
    reference = None
    if ref:
        m = _STEP_REF.fullmatch(ref)
        reference = ("step", int(m.group(1)), _norm(m.group(2)) or None) if m else ("date", ref)
    return Waktu(days, working, reference)


# --------------------------------------------------------------------------------------------------
# Kelengkapan
# --------------------------------------------------------------------------------------------------

_BULLET = re.compile(r"^(?:[\u25cb\u25cf\u2022\u25e6\u25aa\u2013\u2014*-]|o(?=\s)|\d+[.)])\s*")
_AT_LEAST = re.compile(r"^(?P<words>.+?)\s*,?\s+(?:minimal|min\.?|paling sedikit|sekurang-kurangnya)\s*(?P<n>\d+)"
                       r"(?:\s+(?:foto|berkas|file|buah|lembar|gambar))?$", re.IGNORECASE)


@dataclass(frozen=True)
class Item:
    words: str  # as written (bullet dropped)
    field_id: str
    label: str
    files: int | None = None  # a file field needing at least this many files


def parse_kelengkapan(text: str) -> list[Item]:
    items = []
    for line in re.split(r"[\n;]+", str(text or "")):
        line = _norm(_BULLET.sub("", _norm(line)))
        if not line or line in _NO_DEADLINE:
            continue
        m = _AT_LEAST.fullmatch(line)
        if m and int(m.group("n")) >= 1:
            words = m.group("words").strip(" ,")
            n = int(m.group("n"))
            items.append(Item(words if n > 1 else line, slug(words), words, n))
        else:
            items.append(Item(line, slug(line), line))
    return items


# --------------------------------------------------------------------------------------------------
# Decisions
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    label: str
    to: int | None = None  # a row's number
    end: str | None = None  # how the case ends ("" success)


_TARGET = re.compile(r"^(?:(?:lanjut|kembali|teruskan|diteruskan|dikembalikan)\s+)?(?:ke\s+)?"
                     r"(?:langkah|no\.?|nomor|baris)?\s*(\d+)$", re.IGNORECASE)
_END = re.compile(r"^(selesai|berhenti|batal|ditolak|tidak dilanjutkan)(?:\s*\((.+)\))?$", re.IGNORECASE)


def parse_outcomes(text: str) -> list[Outcome] | str:
    """A decision's *Keterangan* as its outcomes, or the part that cannot be read."""
    outcomes = []
    for part in re.split(r"[\n;]+", str(text or "")):
        part = _norm(part)
        if not part:
            continue
        label, sep, target = part.partition(":")
        label, target = _norm(label), _norm(target).rstrip(".")
        if not sep or not label or not target:
            return part
        m = _TARGET.fullmatch(target)
        if m:
            outcomes.append(Outcome(label, to=int(m.group(1))))
            continue
        m = _END.fullmatch(target)
        if m:
            word = m.group(1).lower()
            outcomes.append(Outcome(label, end="" if word == "selesai" and not m.group(2)
                                    else _norm(m.group(2) or word)))
            continue
        return part
    return outcomes


# --------------------------------------------------------------------------------------------------
# Reading the workbook
# --------------------------------------------------------------------------------------------------


@dataclass
class Row:
    sheet_row: int
    number: int
    text: str
    actor: int  # index into Matrix.actors
    actor_column: str
    symbol: str
    items: list[Item]
    waktu: Waktu | None
    waktu_text: str
    output: str
    note: str
    outcomes: list[Outcome] = field(default_factory=list)


@dataclass
class Matrix:
    name: str
    number: str | None
    actors: list[str]  # one per actor column, as written
    rows: list[Row]
    columns: dict  # kind -> column letter


def _open(data: bytes):
    """The workbook, after checking it is a reasonable XLSX (size, zip, what it unpacks to)."""
    from openpyxl import load_workbook

    if len(data) > MAX_BYTES:
        raise ImportRefused([Finding("sop_import.too_large", {"limit_bytes": MAX_BYTES, "size_bytes": len(data)})])
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
            if sum(i.file_size for i in infos) > MAX_UNPACKED or len(infos) > 500:
                raise ImportRefused([Finding("sop_import.too_large_unpacked", {"limit_bytes": MAX_UNPACKED})])
            if "xl/workbook.xml" not in {i.filename for i in infos}:
                raise ImportRefused([Finding("sop_import.not_xlsx")])
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise ImportRefused([Finding("sop_import.not_xlsx")]) from None
    try:
        return load_workbook(io.BytesIO(data), data_only=True)
    except Exception:  # noqa: BLE001 - openpyxl raises many kinds for a broken file; all mean the same to the owner
        raise ImportRefused([Finding("sop_import.not_xlsx")]) from None


def _cells(ws) -> list[list[str]]:
    out = []
    for row in ws.iter_rows(min_row=1, max_row=min(ws.max_row, HEADER_SEARCH + MAX_ROWS + 5), values_only=True):
        out.append([_norm(v) if not isinstance(v, str) else v.replace("\u00a0", " ").strip() for v in row])
    return out


def _kind(title: str) -> str | None:
    k = _key(title).rstrip(".")
    if k in ("no", "nomor", "no urut"):
        return "number"
    if k.startswith("uraian"):
        return "text"
    for kind in ("kelengkapan", "waktu", "output", "keterangan"):
        if k == kind or k.startswith(kind + " "):
            return kind
    if k in ("mutu baku", "pendukung", "pelaksana"):
        return "group"
    return None


def _sheet(wb):
    for ws in wb.worksheets:
        if any(_kind(c) == "text" for row in _cells(ws)[:HEADER_SEARCH] for c in row if c):
            return ws
    return wb.worksheets[0]


@dataclass
class _Header:
    row: int  # the sheet row (1-based) of the last header row
    width: int
    kinds: dict  # kind -> column index (0-based)
    actor_cols: list
    titles: list
    letters: dict  # kind -> column letter


def _identity(cells: list[list[str]], head: int) -> tuple[str, str | None]:
    """``Nama SOP`` and ``Nomor SOP`` from the rows above the header ("Nama SOP: x" or two cells)."""
    name, number = "", None
    for row in cells[:head]:
        texts = [c for c in row if c]
        for i, c in enumerate(texts):
            label, sep, rest = c.partition(":")
            value = _norm(rest) if sep and _norm(rest) else (texts[i + 1] if i + 1 < len(texts) else "")
            if _key(label) == "nama sop" and value:
                name = value
            elif _key(label) == "nomor sop" and value:
                number = value
    return name, number


def _header(cells: list[list[str]], head: int, findings: list[Finding]) -> _Header:
    top = cells[head]
    sub = cells[head + 1] if head + 1 < len(cells) else []
    width = max(len(top), len(sub))
    top, sub = top + [""] * (width - len(top)), sub + [""] * (width - len(sub))
    number_col = next(i for i, c in enumerate(top) if _kind(c) == "number")
    # the second header row: the official form's actors under a merged "Pelaksana" (no number in the No. column)
    two_rows = bool(sub) and not sub[number_col] and any(sub[i] for i in range(width) if i != number_col)
    titles = [(sub[i] if two_rows and sub[i] else top[i]) for i in range(width)]
    header_row = head + (2 if two_rows else 1)
    kinds: dict = {}
    for i, t in enumerate(titles):
        k = _kind(t)
        if k and k != "group" and k not in kinds:
            kinds[k] = i
    missing = [t for k, t in (("number", "No."), ("text", "Uraian Prosedur"), ("kelengkapan", "Kelengkapan"),
                              ("waktu", "Waktu"), ("output", "Output")) if k not in kinds]
    if missing:
        raise ImportRefused([Finding("sop_import.header_missing", {"columns": ", ".join(missing)}, row=head + 1)])
    actor_cols = list(range(kinds["text"] + 1, kinds["kelengkapan"]))
    for i in actor_cols:
        if not titles[i] or _kind(titles[i]) is not None:
            findings.append(Finding("sop_import.actor_unnamed", {}, row=header_row, column=_col(i + 1)))
    if not actor_cols:
        raise ImportRefused([Finding("sop_import.no_actors", {}, row=header_row)])
    if len(actor_cols) > MAX_ACTORS:
        raise ImportRefused([Finding("sop_import.too_many_actors", {"n": MAX_ACTORS}, row=header_row)])
    return _Header(header_row, width, kinds, actor_cols, titles, {k: _col(i + 1) for k, i in kinds.items()})


def _row(h: _Header, row: list[str], sheet_row: int, rows: list[Row], seen: dict[int, int],
         findings: list[Finding]) -> Row | None:
    """One activity row, or None (its problems added to ``findings``)."""
    kinds, letters = h.kinds, h.letters
    no, text = row[kinds["number"]], row[kinds["text"]]
    if not no and not text:
        findings.append(Finding("sop_import.row_without_step", {}, row=sheet_row, column=letters["number"]))
        return None
    if not re.fullmatch(r"\d{1,3}\.?", no):
        findings.append(Finding("sop_import.number_invalid", {"value": no[:40]}, row=sheet_row,
                                column=letters["number"]))
        return None
    n = int(no.rstrip("."))
    if n in seen:
        findings.append(Finding("sop_import.number_twice", {"number": n, "first": seen[n]}, row=sheet_row,
                                column=letters["number"]))
        return None
    seen[n] = sheet_row
    if rows and n < rows[-1].number:
        findings.append(Finding("sop_import.number_order", {"number": n, "before": rows[-1].number},
                                row=sheet_row, column=letters["number"]))
    if not text:
        findings.append(Finding("sop_import.text_missing", {}, row=sheet_row, column=letters["text"]))
    actors = [h.titles[i] for i in h.actor_cols]
    marked = [(j, i) for j, i in enumerate(h.actor_cols) if row[i]]
    if not marked:
        findings.append(Finding("sop_import.no_actor", {"first": _col(h.actor_cols[0] + 1),
                                                        "last": _col(h.actor_cols[-1] + 1)}, row=sheet_row))
        return None
    if len(marked) > 1:
        findings.append(Finding("sop_import.two_actors", {"columns": ", ".join(_col(i + 1) for _j, i in marked),
                                                          "actors": ", ".join(actors[j] for j, _i in marked)},
                                row=sheet_row, column=_col(marked[1][1] + 1)))
        return None
    j, i = marked[0]
    symbol = SYMBOLS.get(_key(row[i]).strip(".()[] "))
    if symbol is None:
        findings.append(Finding("sop_import.symbol_unknown", {"value": row[i][:40]}, row=sheet_row,
                                column=_col(i + 1)))
        return None
    waktu_text = row[kinds["waktu"]]
    waktu = parse_waktu(waktu_text)
    if waktu is None:
        findings.append(Finding("sop_import.waktu_unreadable", {"value": waktu_text[:120]}, row=sheet_row,
                                column=letters["waktu"], severity="warning"))
    note = row[kinds["keterangan"]] if "keterangan" in kinds else ""
    step = Row(sheet_row, n, text, j, _col(i + 1), symbol, parse_kelengkapan(row[kinds["kelengkapan"]]), waktu,
               waktu_text, row[kinds["output"]], note)
    if symbol == DECISION:
        where = letters.get("keterangan", letters["text"])
        read = parse_outcomes(note) if "keterangan" in kinds else []
        if isinstance(read, str):
            findings.append(Finding("sop_import.outcome_unreadable", {"value": read[:120]}, row=sheet_row,
                                    column=where))
        elif len(read) < 2:
            findings.append(Finding("sop_import.decision_outcomes", {}, row=sheet_row, column=where))
        else:
            step.outcomes = read
    return step


def _cross_checks(h: _Header, rows: list[Row], numbers: set[int], findings: list[Finding]) -> None:
    """What a row says of other rows: outcomes to rows that exist, deadlines counting from earlier rows, "mulai"
    first, every row reached."""
    for step in rows:
        for o in step.outcomes:
            if o.to is not None and o.to not in numbers:
                findings.append(Finding("sop_import.outcome_missing_row", {"label": o.label, "number": o.to},
                                        row=step.sheet_row, column=h.letters.get("keterangan")))
        if step.symbol == START and step is not rows[0]:
            findings.append(Finding("sop_import.start_not_first", {}, row=step.sheet_row, column=step.actor_column))
        w = step.waktu
        if w is not None and w.reference and w.reference[0] == "step":
            target = w.reference[1]
            if target not in numbers or target >= step.number:
                findings.append(Finding("sop_import.waktu_step_missing", {"number": target}, row=step.sheet_row,
                                        column=h.letters["waktu"]))
    if rows and not any(f.severity == "error" for f in findings):
        for step in _unreachable(rows):
            findings.append(Finding("sop_import.unreachable", {"number": step.number}, row=step.sheet_row,
                                    column=h.letters["number"]))


def read_matrix(data: bytes, file_name: str = "") -> tuple[Matrix, list[Finding]]:
    """The matrix of an XLSX workbook, and what is wrong with it (errors and warnings)."""
    wb = _open(data)
    ws = _sheet(wb)
    cells = _cells(ws)
    findings: list[Finding] = []
    head = next((i for i, row in enumerate(cells[:HEADER_SEARCH])
                 if any(_kind(c) == "number" for c in row) and any(_kind(c) == "text" for c in row)), None)
    if head is None:
        raise ImportRefused([Finding("sop_import.no_header", {"sheet": ws.title})])
    name, number = _identity(cells, head)
    h = _header(cells, head, findings)
    rows: list[Row] = []
    seen: dict[int, int] = {}
    for r in range(h.row, len(cells)):
        row = cells[r] + [""] * (h.width - len(cells[r]))
        if not any(row[:h.width]):
            continue
        step = _row(h, row, r + 1, rows, seen, findings)
        if step is not None:
            rows.append(step)
        if len(rows) > MAX_ROWS:
            raise ImportRefused([*findings, Finding("sop_import.too_many_rows", {"n": MAX_ROWS}, row=r + 1)])
    if not rows and not any(f.severity == "error" for f in findings):
        findings.append(Finding("sop_import.no_rows", {}, row=h.row + 1))
    _cross_checks(h, rows, set(seen), findings)  # a row refused for another reason still exists
    if not name:
        name = re.sub(r"\.xlsx$", "", file_name or "", flags=re.IGNORECASE).replace("_", " ").strip() or ws.title
    return Matrix(name[:200], number, [h.titles[i] for i in h.actor_cols], rows, h.letters), findings


def _unreachable(rows: Sequence[Row]) -> list[Row]:
    """The rows no flow reaches from the first: a row leads to the next one unless it ends the procedure or
    decides (then to its outcomes' rows)."""
    at = {r.number: i for i, r in enumerate(rows)}
    seen, todo = set(), [0]
    while todo:
        i = todo.pop()
        if i in seen:
            continue
        seen.add(i)
        row = rows[i]
        if row.symbol == DECISION:
            todo += [at[o.to] for o in row.outcomes if o.to in at]
        elif row.symbol != END and i + 1 < len(rows):
            todo.append(i + 1)
    return [r for i, r in enumerate(rows) if i not in seen]


# --------------------------------------------------------------------------------------------------
# The draft
# --------------------------------------------------------------------------------------------------

# Layout (BPMN DI, pixels)
POOL_X, POOL_Y, LANE_HEAD = 120, 60, 30
LANE_H = 270
SLOT_X0 = POOL_X + LANE_HEAD + 130  # the first row's task
SLOT_W = 300
TASK_W, TASK_H = 160, 100  # room for a whole "Uraian Prosedur" sentence (5 lines)
TASK_DY = 70  # from the lane's top
GW = 50
EV = 36


def import_xlsx(data: bytes, file_name: str = "") -> Draft:
    """An XLSX matrix as a BPMN draft with its warnings; :class:`ImportRefused` with every finding when a draft
    cannot be made."""
    matrix, findings = read_matrix(data, file_name)
    if any(f.severity == "error" for f in findings):
        raise ImportRefused(findings)
    builder = _Builder(matrix, findings)
    xml = builder.build()
    return Draft(xml, builder.key, matrix.name, tuple(builder.findings))


@dataclass
class _Node:
    id: str
    kind: str  # userTask exclusiveGateway startEvent endEvent boundaryEvent intermediateThrowEvent
    lane: int
    x: float
    y: float
    w: float
    h: float
    name: str = ""
    body: str = ""  # inner XML after incoming/outgoing
    head: str = ""  # inner XML before them (documentation, extensionElements)
    attrs: str = ""
    incoming: list = field(default_factory=list)
    outgoing: list = field(default_factory=list)

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2


@dataclass
class _Flow:
    id: str
    source: str
    target: str
    name: str = ""
    condition: str = ""
    points: list = field(default_factory=list)


def _a(value) -> str:
    return quoteattr(str(value))


class _Builder:
    def __init__(self, matrix: Matrix, findings: list[Finding]):
        self.m = matrix
        self.findings = [f for f in findings]
        self.key = slug(matrix.name, 60) if slug(matrix.name, 60) != "isian" else "sop_impor"
        if self.key.startswith("isian_"):
            self.key = "sop_" + self.key[6:]
        # lanes: actors' names, each once, in column order
        self.lanes: list[str] = []
        self.lane_of_actor: list[int] = []
        for actor in matrix.actors:
            k = _key(actor)
            existing = next((i for i, lane in enumerate(self.lanes) if _key(lane) == k), None)
            if existing is None:
                self.lanes.append(actor)
                existing = len(self.lanes) - 1
            self.lane_of_actor.append(existing)
        self.nodes: dict[str, _Node] = {}
        self.flows: list[_Flow] = []
        self.start_fields: list[tuple[str, str]] = []  # (id, label) of the dates the case is opened with
        self.stamps: dict[int, tuple[str, str | None]] = {}  # row number -> (date field, label)
        self.slots: dict[int, float] = {}

    # -- helpers
    def lane_y(self, lane: int) -> float:
        return POOL_Y + lane * LANE_H

    def add(self, node: _Node) -> _Node:
        self.nodes[node.id] = node
        return node

    def flow(self, source: str, target: str, name: str = "", condition: str = "") -> _Flow:
        f = _Flow(f"Flow_{len(self.flows) + 1}", source, target, name, condition)
        self.flows.append(f)
        self.nodes[source].outgoing.append(f.id)
        self.nodes[target].incoming.append(f.id)
        return f

    def warn(self, code: str, row: Row, column: str | None, **params) -> None:
        self.findings.append(Finding(code, params, row=row.sheet_row, column=column, severity="warning"))

    # -- deadlines
    def _references(self) -> None:
        """Which rows stamp the day of their completion, with which words (the first pass over *Waktu*)."""
        for row in self.m.rows:
            w = row.waktu
            if w is not None and w.reference and w.reference[0] == "step":
                n, words = w.reference[1], w.reference[2]
                known = self.stamps.get(n)
                if known is None or (known[1] is None and words):
                    self.stamps[n] = (f"tanggal_langkah_{n}", words or (known[1] if known else None)
                                      or f"langkah {n}")

    def deadline(self, row: Row, previous: Row | None) -> str | None:
        w = row.waktu
        if w is None or w.none:
            return None
        column = self.m.columns["waktu"]
        ref = w.reference
        if ref is None:
            if previous is None:
                self.warn("sop_import.waktu_no_reference", row, column, value=row.waktu_text[:120])
                return None
            self.stamps.setdefault(previous.number, (f"tanggal_langkah_{previous.number}",
                                                     f"langkah {previous.number}"))
            self.warn("sop_import.waktu_previous", row, column, number=previous.number)
            name = self.stamps[previous.number][0]
        elif ref[0] == "step":
            name = self.stamps[ref[1]][0]
        else:
            words = ref[1]
            found = next((n for n, (_f, label) in self.stamps.items() if label and _key(label) == _key(words)), None)
            if found is not None:
                name = self.stamps[found][0]
            else:
                name = "tanggal_" + slug(words, 40)
                if name not in {f for f, _l in self.start_fields}:
                    label = f"Tanggal {words}"
                    self.start_fields.append((name, label))
                    self.warn("sop_import.waktu_case_date", row, column, words=words, label=label)
        func = "akhir_hari_kerja" if w.working else "akhir_hari"
        return f"{func}({name}, {w.days})"

    # -- building
    def build(self) -> str:
        rows = self.m.rows
        self._references()
        x = SLOT_X0
        for row in rows:
            self.slots[row.number] = x
            ends = sum(1 for o in row.outcomes if o.end is not None)
            x += SLOT_W + 50 * max(0, ends - 2)
        self.width = x - POOL_X + 40
        first = rows[0]
        start_lane = self.lane_of_actor[first.actor]
        start = self.add(_Node("StartEvent_1", "startEvent", start_lane, SLOT_X0 - 90,
                               self.lane_y(start_lane) + TASK_DY + TASK_H / 2 - EV / 2, EV, EV, name="Mulai"))
        previous = None
        self.expressions: dict[int, str | None] = {}
        for row in rows:  # first every deadline: a row's deadline may stamp the row before it
            self.expressions[row.number] = self.deadline(row, previous)
            previous = row
        for row in rows:
            self.task(row)
        self.flow(start.id, f"Task_{first.number}")
        for at, row in enumerate(rows):
            task = self.nodes[f"Task_{row.number}"]
            following = rows[at + 1] if at + 1 < len(rows) else None
            if row.symbol == DECISION and row.outcomes:
                gw = self.nodes[f"Gateway_{row.number}"]
                self.flow(task.id, gw.id)
                ends_here = 0
                for o in row.outcomes:
                    value = slug(o.label, 40)
                    cond = f'keputusan_{row.number} == "{value}"'
                    if o.to is not None:
                        self.flow(gw.id, f"Task_{o.to}", o.label, cond)
                    else:
                        end = self.end(row, ends_here, o.end or "", f"End_{row.number}_{ends_here + 1}")
                        ends_here += 1
                        self.flow(gw.id, end.id, o.label, cond)
            elif row.symbol == END or following is None:
                end = self.end(row, None, "", f"End_{row.number}")
                self.flow(task.id, end.id)
            else:
                self.flow(task.id, f"Task_{following.number}")
        self.route()
        return self.xml()

    def end(self, row: Row, k: int | None, how: str, eid: str) -> _Node:
        lane = self.lane_of_actor[row.actor]
        x = self.slots[row.number]
        cy = self.lane_y(lane) + TASK_DY + TASK_H / 2
        if k is None:  # after the task itself
            ex, ey = x + TASK_W + 50, cy - EV / 2
        else:
            ex = x + 235 + 50 * max(0, k - 1)
            ey = cy + 60 - EV / 2 if k % 2 == 0 else cy - 60 - EV / 2
        name = "Selesai" if not how else how[:1].upper() + how[1:]
        body = ""
        if how:
            body = (f'<bpmn:extensionElements><alur:outcome code={_a(slug(how, 40))} label={_a(how)} '
                    f'success="false"/></bpmn:extensionElements>')
        return self.add(_Node(eid, "endEvent", lane, ex, ey, EV, EV, name=name, head=body))

    def task(self, row: Row) -> None:
        lane = self.lane_of_actor[row.actor]
        x, y = self.slots[row.number], self.lane_y(lane) + TASK_DY
        tid = f"Task_{row.number}"
        fields: list[str] = []
        inputs: list[str] = []
        own: set[str] = set()
        for item in row.items:
            fid = item.field_id
            if fid in own:
                fid = f"{fid}_{len(own) + 1}"
            own.add(fid)
            if item.files:
                fields.append(_field(fid, item.label, "files", required=True,
                                     constraints=[("min_files", str(item.files)), ("max_files",
                                                                                   str(max(30, item.files)))]))
            else:
                fields.append(_field(fid, item.label, "text", required=True, constraints=[("maxlength", "4000")]))
            inputs.append(f'<alur:input field={_a(fid)} text={_a(item.words)}/>')
        extra = []
        if row.symbol == DECISION and row.outcomes:
            decision, note = f"keputusan_{row.number}", f"tanggapan_{row.number}"
            options = "".join(f'<camunda:value id={_a(slug(o.label, 40))} name={_a(o.label)}/>' for o in row.outcomes)
            fields.append(f'<camunda:formField id="{decision}" label="Keputusan" type="enum"><camunda:validation>'
                          f'<camunda:constraint name="required"/></camunda:validation>{options}</camunda:formField>')
            fields.append(_field(note, "Tanggapan tertulis", "text", required=False,
                                 constraints=[("maxlength", "4000")]))
            for o in row.outcomes:
                if o.to is not None and o.to <= row.number:
                    extra.append(f'<alur:return field="{decision}" value={_a(slug(o.label, 40))} '
                                 f'to="Task_{o.to}" response="{note}"/>')
                elif o.to is None and o.end:
                    extra.append(f'<alur:reject field="{decision}" value={_a(slug(o.label, 40))}/>')
        if not fields:  # a step has a form (sop.task_without_form): a note, for the owner to replace
            fields.append(_field(f"catatan_{row.number}", "Catatan", "text", required=False,
                                 constraints=[("maxlength", "4000")]))
        expression = self.expressions[row.number]
        stamp = self.stamps.get(row.number)
        if stamp is not None:
            extra.append(f'<alur:stamp date="{stamp[0]}"' + (f' label={_a(stamp[1])}' if stamp[1] else "") + "/>")
        step_attrs = f'number="{row.number}"'
        if expression:
            step_attrs += ' deadline="required"'
        if row.output and row.output not in ("-", "\u2014"):
            step_attrs += f" output={_a(row.output)}"
        form = f"<camunda:formData>{''.join(fields)}</camunda:formData>" if fields else ""
        doc = f"<bpmn:documentation>{escape(row.note)}</bpmn:documentation>" if row.note and \
            row.symbol != DECISION else ""
        head = (f"{doc}<bpmn:extensionElements>{form}<alur:step {step_attrs}>{''.join(inputs)}{''.join(extra)}"
                f"</alur:step></bpmn:extensionElements>")
        self.add(_Node(tid, "userTask", lane, x, y, TASK_W, TASK_H, name=row.text, head=head))
        if row.symbol == DECISION and row.outcomes:
            self.add(_Node(f"Gateway_{row.number}", "exclusiveGateway", lane, x + TASK_W + 50,
                           y + TASK_H / 2 - GW / 2, GW, GW, name="Keputusan?"))
        if expression:
            n = row.number
            timer = self.add(_Node(
                f"Timer_{n}", "boundaryEvent", lane, x + TASK_W - 38, y + TASK_H - EV / 2, EV, EV,
                name=f"Batas waktu {_short_waktu(row.waktu)}",
                attrs=f' cancelActivity="false" attachedToRef="{tid}"',
                body=(f'<bpmn:timerEventDefinition id="TimerDef_{n}"><bpmn:timeDate xsi:type="bpmn:tFormalExpression">'
                      f'{escape(expression)}</bpmn:timeDate></bpmn:timerEventDefinition>')))
            notif = self.add(_Node(f"Notif_{n}", "intermediateThrowEvent", lane, x + 130, y + TASK_H + 45, EV, EV,
                                   name="Catat keterlambatan dan kirim notifikasi",
                                   body=f'<bpmn:signalEventDefinition id="SignalDef_{n}" '
                                        'signalRef="Signal_Terlambat"/>'))
            late = self.add(_Node(f"End_Terlambat_{n}", "endEvent", lane, x + 200, y + TASK_H + 45, EV, EV,
                                  name="Keterlambatan tercatat"))
            f1 = self.flow(timer.id, notif.id)
            f2 = self.flow(notif.id, late.id)
            f1.points = [(timer.cx, timer.y + EV), (timer.cx, notif.cy), (notif.x, notif.cy)]
            f2.points = [(notif.x + EV, notif.cy), (late.x, late.cy)]

    # -- routing
    def route(self) -> None:
        numbers = {f"Task_{r.number}": r.number for r in self.m.rows}
        lane_channels: dict[tuple[int, str], int] = {}
        for f in self.flows:
            if f.points:
                continue
            s, t = self.nodes[f.source], self.nodes[f.target]
            if t.kind == "userTask":
                tx, ty = t.x, t.cy
                gap_x = tx - 15
                src_slot = numbers.get(f.source) or (int(f.source.split("_")[1]) if f.source.startswith("Gateway_")
                                                     else None)
                dst_slot = numbers[f.target]
                ordered = [r.number for r in self.m.rows]
                adjacent = src_slot is not None and ordered.index(dst_slot) == ordered.index(src_slot) + 1
                if s.kind == "startEvent" or (adjacent and (s.kind == "userTask" or not s.outgoing
                                                            or s.outgoing[0] == f.id)):
                    sx, sy = s.x + s.w, s.cy
                    if abs(sy - ty) < 1:
                        f.points = [(sx, sy), (tx, ty)]
                    else:
                        f.points = [(sx, sy), (gap_x, sy), (gap_x, ty), (tx, ty)]
                    continue
                # back, or forward past other rows: along the top (back) or bottom (forward) of the source's lane
                back = src_slot is not None and ordered.index(dst_slot) <= ordered.index(src_slot)
                k = lane_channels.get((s.lane, "top" if back else "bottom"), 0)
                lane_channels[(s.lane, "top" if back else "bottom")] = k + 1
                if back:
                    sx, sy = s.cx, s.y
                    cy = self.lane_y(s.lane) + 10 + 8 * k
                else:
                    sx, sy = s.cx, s.y + s.h
                    cy = self.lane_y(s.lane) + LANE_H - 8 - 8 * k
                f.points = [(sx, sy), (sx, cy), (gap_x - 4 * k, cy), (gap_x - 4 * k, ty), (tx, ty)]
            else:  # an end event
                if abs(s.cy - t.cy) < 1:
                    f.points = [(s.x + s.w, s.cy), (t.x, t.cy)]
                elif t.cy > s.cy:
                    f.points = [(s.cx, s.y + s.h), (s.cx, t.cy), (t.x, t.cy)]
                else:
                    f.points = [(s.cx, s.y), (s.cx, t.cy), (t.x, t.cy)]

    # -- writing
    def xml(self) -> str:
        m = self.m
        out = ['<?xml version="1.0" encoding="UTF-8"?>',
               '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
               'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" '
               'xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" '
               'xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
               'xmlns:alur="urn:alur-medsos:bpmn:1" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
               'id="Definitions_1" targetNamespace="urn:alur-medsos:sop-import" exporter="Alur Medsos (impor SOP)" '
               'exporterVersion="1.0">',
               '<bpmn:collaboration id="Collaboration_1">'
               f'<bpmn:participant id="Participant_1" name={_a(m.name)} processRef={_a(self.key)}/>'
               '</bpmn:collaboration>',
               f'<bpmn:process id={_a(self.key)} name={_a(m.name)} isExecutable="true">',
               "<bpmn:extensionElements>"
               '<alur:procedure title="perihal"'
               + (f' date="{self.start_fields[0][0]}"' if self.start_fields else "") + "/>"
               + (f"<alur:sop number={_a(m.number)}/>" if m.number else "")
               + "</bpmn:extensionElements>",
               '<bpmn:laneSet id="LaneSet_1">']
        for i, lane in enumerate(self.lanes):
            refs = "".join(f"<bpmn:flowNodeRef>{n.id}</bpmn:flowNodeRef>" for n in self.nodes.values() if n.lane == i)
            out.append(f'<bpmn:lane id="Lane_{i + 1}" name={_a(lane)}>{refs}</bpmn:lane>')
        out.append("</bpmn:laneSet>")
        start_form = [_field("perihal", "Perihal", "string", required=True, constraints=[("maxlength", "200")])]
        start_form += [_field(fid, label, "date", required=True) for fid, label in self.start_fields]
        self.nodes["StartEvent_1"].head = (f"<bpmn:extensionElements><camunda:formData>{''.join(start_form)}"
                                           "</camunda:formData></bpmn:extensionElements>")
        for n in self.nodes.values():
            inner = (n.head + "".join(f"<bpmn:incoming>{i}</bpmn:incoming>" for i in n.incoming)
                     + "".join(f"<bpmn:outgoing>{o}</bpmn:outgoing>" for o in n.outgoing) + n.body)
            name = f" name={_a(n.name)}" if n.name else ""
            out.append(f"<bpmn:{n.kind} id={_a(n.id)}{name}{n.attrs}>{inner}</bpmn:{n.kind}>")
        for f in self.flows:
            name = f" name={_a(f.name)}" if f.name else ""
            cond = (f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{escape(f.condition)}'
                    "</bpmn:conditionExpression>") if f.condition else ""
            out.append(f'<bpmn:sequenceFlow id="{f.id}"{name} sourceRef="{f.source}" targetRef="{f.target}">{cond}'
                       "</bpmn:sequenceFlow>")
        out.append("</bpmn:process>")
        out.append('<bpmn:signal id="Signal_Terlambat" name="terlambat"/>')
        out.append('<bpmndi:BPMNDiagram id="BPMNDiagram_1"><bpmndi:BPMNPlane id="BPMNPlane_1" '
                   'bpmnElement="Collaboration_1">')
        height = LANE_H * len(self.lanes)
        out.append(_shape("Participant_1", POOL_X, POOL_Y, self.width, height, horizontal=True))
        for i in range(len(self.lanes)):
            out.append(_shape(f"Lane_{i + 1}", POOL_X + LANE_HEAD, self.lane_y(i), self.width - LANE_HEAD, LANE_H,
                              horizontal=True))
        for n in self.nodes.values():
            out.append(_shape(n.id, n.x, n.y, n.w, n.h, marker=n.kind == "exclusiveGateway",
                              label=n.kind in ("startEvent", "endEvent", "boundaryEvent", "intermediateThrowEvent",
                                               "exclusiveGateway") and bool(n.name)))
        for f in self.flows:
            points = "".join(f'<di:waypoint x="{x:.0f}" y="{y:.0f}"/>' for x, y in f.points)
            label = ""
            if f.name and len(f.points) > 1:
                (x1, y1), (x2, y2) = f.points[0], f.points[1]
                label = (f'<bpmndi:BPMNLabel><dc:Bounds x="{min(x1, x2) + 6:.0f}" y="{(y1 + y2) / 2 - 7:.0f}" '
                         f'width="{min(120, 7 * len(f.name)):.0f}" height="14"/></bpmndi:BPMNLabel>')
            out.append(f'<bpmndi:BPMNEdge id="{f.id}_di" bpmnElement="{f.id}">{points}{label}</bpmndi:BPMNEdge>')
        out.append("</bpmndi:BPMNPlane></bpmndi:BPMNDiagram></bpmn:definitions>")
        return "\n".join(out) + "\n"


def _short_waktu(w: Waktu | None) -> str:
    if w is None or w.days is None:
        return ""
    if w.working:
        return f"{w.days} hari kerja"
    return f"H+{w.days}" if w.days else "hari H"


def _field(fid: str, label: str, kind: str, *, required: bool, constraints: Sequence[tuple[str, str]] = ()) -> str:
    rules = (['<camunda:constraint name="required"/>'] if required else []) + [
        f'<camunda:constraint name="{n}" config={_a(v)}/>' for n, v in constraints]
    validation = f"<camunda:validation>{''.join(rules)}</camunda:validation>" if rules else ""
    return f"<camunda:formField id={_a(fid)} label={_a(label[:200])} type=\"{kind}\">{validation}</camunda:formField>"


def _shape(eid: str, x: float, y: float, w: float, h: float, *, horizontal: bool = False, marker: bool = False,
           label: bool = False) -> str:
    extra = (' isHorizontal="true"' if horizontal else "") + (' isMarkerVisible="true"' if marker else "")
    lab = (f'<bpmndi:BPMNLabel><dc:Bounds x="{x + w / 2 - 45:.0f}" y="{y + h + 4:.0f}" width="90" height="27"/>'
           "</bpmndi:BPMNLabel>") if label else ""
    return (f'<bpmndi:BPMNShape id="{eid}_di" bpmnElement="{eid}"{extra}><dc:Bounds x="{x:.0f}" y="{y:.0f}" '
            f'width="{w:.0f}" height="{h:.0f}"/>{lab}</bpmndi:BPMNShape>')


# --------------------------------------------------------------------------------------------------
# The template and the filled example
# --------------------------------------------------------------------------------------------------

#: SOP Nomor 21 Tahun 2025 (KPU Provinsi Sumatera Barat), its matrix as the office wrote it
#: (tests/data/sop-21-2025), in the template's convention: the symbols and the decisions' outcomes, which did not
#: survive the text extraction, are written as the bundled diagram draws them; rows 2 names what "pengumpulan
#: dokumentasi dan konten" is (the completion of step 1), so that rows 3 and 4 may say it in the office's words.
EXAMPLE_NAME = "Alur Pengunggahan Konten Media Sosial"
EXAMPLE_NUMBER = "Nomor 21 Tahun 2025"
EXAMPLE_ACTORS = ("Tim Pelaksana", "Admin Medsos", "Wakil Pimpinan Redaksi", "Pimpinan Redaksi", "Admin Medsos")
EXAMPLE_ROWS = (
    (1, "Menyerahkan dokumentasi kegiatan beserta narasi maupun konten lainnya dalam bentuk video, infografis dan "
        "lainnya", 0, "mulai", "\u25cb Dokumentasi minimal 4\n\u25cb Narasi berita\n\u25cb Caption kegiatan",
     "Hari H setelah kegiatan berlangsung, maksimal 1 (satu) hari sesudahnya", "Register dokumentasi dan konten", ""),
    (2, "Menerima hasil dokumentasi kegiatan dan konten berita dari Tim Pelaksana", 1, "keputusan",
     "\u25cb Hasil dokumentasi", "H +1 setelah langkah 1 (pengumpulan dokumentasi dan konten)",
     "Tanggapan tertulis dari Tim Pertimbangan", "Lengkap: 3; Belum lengkap: kembali ke 1"),
    (3, "Mengontrol dan mengoreksi hasil dokumentasi dan konten yang diterima", 2, "keputusan",
     "\u25cb Hasil dokumentasi", "H +1 setelah pengumpulan dokumentasi dan konten",
     "Tanggapan tertulis dari Tim Pertimbangan", "Diteruskan: 4; Dikembalikan: kembali ke 1"),
    (4, "Memberikan keputusan dan pertimbangan terhadap dokumentasi dan konten berita yang akan diunggah di media "
        "sosial", 3, "keputusan", "\u25cb Hasil dokumentasi", "H +1 setelah pengumpulan dokumentasi dan konten",
     "Tanggapan tertulis dari Tim Pertimbangan", "Setuju: 5; Revisi: kembali ke 3; Tolak: berhenti (ditolak)"),
    (5, "Mengunggah konten ke berbagai platform media sosial KPU Provinsi Sumatera Barat", 4, "selesai",
     "\u25cb Konten media sosial", "H +1 setelah kegiatan berlangsung", "Rekapitulasi Konten Media Sosial", ""),
)

INSTRUCTIONS = (
    "PETUNJUK PENGISIAN MATRIKS SOP (impor ke Alur Medsos)",
    "",
    "1. Isi lembar \u201cMatriks\u201d: satu baris untuk setiap kegiatan, berurutan. Baris di atas judul kolom boleh "
    "memuat \u201cNama SOP\u201d dan \u201cNomor SOP\u201d.",
    "2. Judul kolom: No., Uraian Prosedur, satu kolom untuk setiap pelaksana (nama jabatan/unit di baris kedua, di "
    "bawah \u201cPelaksana\u201d), lalu Kelengkapan, Waktu, Output, dan Keterangan. Tambah atau kurangi kolom "
    "pelaksana sesuai kebutuhan (sisipkan kolom sebelum Kelengkapan). Pelaksana yang sama boleh muncul di dua kolom.",
    "3. Di kolom pelaksana, tandai tepat SATU sel per baris: x (kegiatan), keputusan (kegiatan yang diakhiri "
    "keputusan), mulai (kegiatan pertama) atau selesai (kegiatan yang mengakhiri prosedur). Baris terakhir selalu "
    "mengakhiri prosedur.",
    "4. Keputusan: tulis hasilnya di kolom Keterangan, dipisah titik koma, masing-masing \u201clabel: tujuan\u201d. "
    "Tujuan adalah nomor langkah (5, ke 5, kembali ke 3), \u201cselesai\u201d (prosedur selesai), atau "
    "\u201cberhenti (alasan)\u201d (prosedur berhenti tanpa hasil, mis. berhenti (ditolak)). Contoh: "
    "Setuju: 5; Revisi: kembali ke 3; Tolak: berhenti (ditolak)",
    "5. Kelengkapan: satu butir per baris (atau dipisah titik koma). \u201cDokumentasi minimal 4\u201d menjadi "
    "isian unggah berkas dengan paling sedikit 4 berkas; butir lain menjadi isian teks.",
    "6. Waktu: H (hari yang sama), H+n (n hari kalender), n hari, n hari kerja; boleh diikuti \u201csetelah "
    "...\u201d. \u201csetelah langkah n\u201d atau \u201csetelah langkah n (kata-kata)\u201d dihitung dari "
    "selesainya langkah n (kata-kata itu yang tercetak di SOP, dan boleh dipakai lagi di baris lain). Kata lain, "
    "mis. \u201csetelah kegiatan berlangsung\u201d, menjadi tanggal yang diisi saat kasus dibuka. Tanpa "
    "\u201csetelah\u201d dihitung dari selesainya langkah sebelumnya. \u201cHari H ..., maksimal 1 hari "
    "sesudahnya\u201d sama dengan H+1. Waktu yang tidak terbaca tidak diberi batas waktu dan dilaporkan.",
    "7. Output: hasil kegiatan, mis. \u201cRegister dokumentasi dan konten\u201d.",
    "8. Unggah berkas ini di halaman Modeler (Impor .bpmn / .xlsx) atau jalankan "
    "\u201calur sop import berkas.xlsx -o draf.bpmn\u201d. Hasilnya draf diagram: periksa, buat grup untuk "
    "pelaksana baru bila diminta Validasi, lalu Terapkan.",
)


def _write_matrix(ws, name: str, number: str, actors: Sequence[str], rows: Sequence[tuple]) -> None:
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

    from .spreadsheets import set_cell

    set_cell(ws.cell(1, 1), "Nama SOP")
    set_cell(ws.cell(1, 2), name)
    set_cell(ws.cell(2, 1), "Nomor SOP")
    set_cell(ws.cell(2, 2), number)
    for c in (ws.cell(1, 1), ws.cell(2, 1)):
        c.font = Font(bold=True)
    head, sub = 4, 5
    n = len(actors)
    titles = ["No.", "Uraian Prosedur"]
    for i, t in enumerate(titles, 1):
        set_cell(ws.cell(head, i), t)
        ws.merge_cells(start_row=head, start_column=i, end_row=sub, end_column=i)
    set_cell(ws.cell(head, 3), "Pelaksana")
    if n > 1:
        ws.merge_cells(start_row=head, start_column=3, end_row=head, end_column=2 + n)
    for i, actor in enumerate(actors):
        set_cell(ws.cell(sub, 3 + i), actor)
    set_cell(ws.cell(head, 3 + n), "Pendukung")
    ws.merge_cells(start_row=head, start_column=3 + n, end_row=head, end_column=5 + n)
    for i, t in enumerate(("Kelengkapan", "Waktu", "Output")):
        set_cell(ws.cell(sub, 3 + n + i), t)
    set_cell(ws.cell(head, 6 + n), "Keterangan")
    ws.merge_cells(start_row=head, start_column=6 + n, end_row=sub, end_column=6 + n)
    thin = Side(style="thin", color="777777")
    fill = PatternFill("solid", fgColor="EEEEEE")
    last = len(rows) + sub if rows else sub + 10
    for r in range(head, last + 1):
        for c in range(1, 7 + n):
            cell = ws.cell(r, c)
            cell.border = Border(left=thin, right=thin, top=thin, bottom=thin)
            cell.alignment = Alignment(wrap_text=True, vertical="top",
                                       horizontal="center" if 3 <= c < 3 + n or r <= sub else None)
            if r <= sub:
                cell.font = Font(bold=True)
                cell.fill = fill
    for at, (no, text, actor, symbol, kel, waktu, out, note) in enumerate(rows):
        r = sub + 1 + at
        set_cell(ws.cell(r, 1), no)
        set_cell(ws.cell(r, 2), text)
        set_cell(ws.cell(r, 3 + actor), symbol)
        set_cell(ws.cell(r, 3 + n), kel)
        set_cell(ws.cell(r, 4 + n), waktu)
        set_cell(ws.cell(r, 5 + n), out)
        set_cell(ws.cell(r, 6 + n), note)
    from openpyxl.utils import get_column_letter

    widths = [6, 42] + [14] * n + [30, 28, 26, 30]
    for i, w in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(i)].width = w
    ws.freeze_panes = ws.cell(sub + 1, 3)


def _workbook(name: str, number: str, actors: Sequence[str], rows: Sequence[tuple]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    from .spreadsheets import set_cell

    wb = Workbook()
    ws = wb.active
    ws.title = "Matriks"
    _write_matrix(ws, name, number, actors, rows)
    guide = wb.create_sheet("Petunjuk")
    for i, line in enumerate(INSTRUCTIONS, 1):
        set_cell(guide.cell(i, 1), line)
        guide.cell(i, 1).alignment = Alignment(wrap_text=True, vertical="top")
    guide.cell(1, 1).font = Font(bold=True)
    guide.column_dimensions["A"].width = 120
    wb.properties.creator = "Alur Medsos"
    wb.properties.title = name
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def template_xlsx() -> bytes:
    """The empty matrix (three actors to rename, a row of each kind as a pattern) with its instructions sheet."""
    rows = ((1, "(uraian kegiatan pertama)", 0, "mulai", "Dokumen permohonan", "H", "(hasil kegiatan)", ""),
            (2, "(uraian kegiatan yang diakhiri keputusan)", 1, "keputusan", "", "2 hari kerja setelah langkah 1",
             "", "Ya: 3; Tidak: kembali ke 1"),
            (3, "(uraian kegiatan terakhir)", 2, "selesai", "", "H+1 setelah langkah 2", "", ""))
    return _workbook("(nama SOP)", "(nomor SOP)", ("Pelaksana 1", "Pelaksana 2", "Pelaksana 3"), rows)


def example_xlsx() -> bytes:
    """SOP Nomor 21 Tahun 2025 filled in the template (:data:`EXAMPLE_ROWS`)."""
    return _workbook(EXAMPLE_NAME, EXAMPLE_NUMBER, EXAMPLE_ACTORS, EXAMPLE_ROWS)

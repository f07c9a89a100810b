"""The one guard every CSV and XLSX file passes through: text a spreadsheet would run as a formula stays text.

A cell whose text begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to Excel,
LibreOffice and Google Sheets (``=HYPERLINK(...)`` in a team's name becomes a link in the auditor's spreadsheet,
``=cmd|...`` worse). As OWASP recommends for CSV, such text gets a leading apostrophe, which spreadsheets show as
"this is text" and do not run; in an XLSX the cell is stored as a string with the *quote prefix* style, Excel's own
mark for the same thing, so the text shows unchanged and is still never a formula, even after editing the cell.
Numbers, dates and booleans stay what they are (a negative number is a number, not a formula).

Nothing else in the code base writes CSV or XLSX: use :func:`csv_writer` and :func:`set_cell` (a test checks).
"""
from __future__ import annotations

import csv
from datetime import date, datetime
from decimal import Decimal
from typing import Any

#: How a formula begins (OWASP, "CSV Injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def is_formula_like(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_START)


def csv_cell(value: Any) -> Any:
    """A value as it may go into a CSV cell: formula-like text with a leading apostrophe, anything else as it is
    (numbers unquoted)."""
    if isinstance(value, (bool, int, float, Decimal)):
        return value
    if value is None:
        return ""
    if not isinstance(value, str):
        value = str(value)
    return "'" + value if is_formula_like(value) else value


class _GuardedWriter:
    """``csv.writer`` whose every cell goes through :func:`csv_cell`."""

    def __init__(self, out, **kwargs):
        self._writer = csv.writer(out, **kwargs)

    def writerow(self, row) -> None:
        self._writer.writerow([csv_cell(v) for v in row])

    def writerows(self, rows) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(out, **kwargs) -> _GuardedWriter:
    """A CSV writer (``csv.writer``'s arguments) that neutralises formula-like text in every cell."""
    return _GuardedWriter(out, **kwargs)


def set_cell(cell, value: Any, number_format: str | None = None) -> None:
    """Put ``value`` into an openpyxl cell: text always as a string (never a formula), formula-like text also
    marked with the quote prefix, control characters a worksheet cannot hold shown as U+FFFD; numbers, dates and
    times typed, with ``number_format`` when given."""
    if value is None or value == "":
        cell.value = None
        return
    if isinstance(value, (bool, int, float, Decimal, date, datetime)) and not isinstance(value, str):
        cell.value = value
        if number_format:
            cell.number_format = number_format
        return
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE  # openpyxl is loaded only when a workbook is written

    text = ILLEGAL_CHARACTERS_RE.sub("\ufffd", str(value))  # controls XLSX cannot hold (older data)
    cell.value = text
    cell.data_type = "s"  # openpyxl would otherwise store text beginning with "=" as a formula
    if is_formula_like(text):
        cell.quotePrefix = True


class SheetRows:
    """The rows of a write-only worksheet written straight as XML, cell by cell, with the guards of :func:`set_cell`
    (text always a string, formula-like text with the quote prefix, characters a sheet cannot hold as U+FFFD;
    numbers, booleans, dates and times typed). openpyxl's own cells cost about 25 µs each to make and write: a
    year's written responses (180,000 cells) took seconds. Only a few styles are used: each is made once as a cell
    and its style id reused. Its end is openpyxl's: saving the workbook closes the sheet's rows."""

    def __init__(self, ws):
        from openpyxl.utils import get_column_letter

        self.ws = ws
        #: (id of the style, number format, quote) → (the style, its id in the workbook). The style is kept so that
        #: its id() is never reused by another style made later (a freed object's id is; the header then got a
        #: body cell's style now and then).
        self._ids: dict[tuple, tuple[object, str]] = {}
        self._letters = [get_column_letter(i) for i in range(1, 16385)]
        self.row = 0
        ws._get_writer()
        ws._rows = self._stream()  # openpyxl's close() ends it as it ends its own
        next(ws._rows)

    def _stream(self):
        writer = self.ws._writer
        xf = writer.xf.send(True)
        with xf.element("sheetData"):
            try:
                while True:
                    xf.write((yield))
            except GeneratorExit:
                pass
        writer.xf.send(None)

    def style(self, **attributes):
        """A style (font, fill, border, alignment ...) for :meth:`append`: a cell of this sheet holding it."""
        from openpyxl.cell import WriteOnlyCell

        cell = WriteOnlyCell(self.ws)
        for key, value in attributes.items():
            setattr(cell, key, value)
        return cell

    def _style_id(self, style, number_format: str | None, quote: bool) -> str | None:
        if style is None and number_format is None and not quote:
            return None
        key = (id(style), number_format, quote)
        kept = self._ids.get(key)
        found = kept[1] if kept is not None else None
        if found is None:
            from openpyxl.cell import WriteOnlyCell
            from openpyxl.styles.cell_style import StyleArray

            cell = WriteOnlyCell(self.ws)
            if style is not None:
                cell._style = StyleArray(style._style)
            if number_format:
                cell.number_format = number_format
            if quote:
                cell.quotePrefix = True
            found = str(cell.style_id)
            self._ids[key] = (style, found)
        return found

    def append(self, cells) -> None:
        """Write the next row: ``(value, style, number_format, link)`` per cell (style from :meth:`style` or None;
        link: a URL the cell links to, or None); an empty row when there are none."""
        from lxml.etree import Element, SubElement
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
        from openpyxl.utils.datetime import to_excel
        from openpyxl.worksheet.hyperlink import Hyperlink

        self.row += 1
        row = str(self.row)
        element = Element("row", r=row)
        for index, (value, style, number_format, link) in enumerate(cells):
            ref = self._letters[index] + row
            if value is None or value == "":
                sid = self._style_id(style, number_format, False)
                if sid is not None:
                    SubElement(element, "c", r=ref, s=sid)
                continue
            quote = False
            if isinstance(value, bool):
                kind, text = "b", "1" if value else "0"
            elif isinstance(value, (int, float, Decimal)):
                kind, text = "n", repr(value) if isinstance(value, float) else str(value)
            elif isinstance(value, (datetime, date)):
                kind, text = "n", repr(float(to_excel(value)))
            else:
                kind, text = "inlineStr", ILLEGAL_CHARACTERS_RE.sub("\ufffd", str(value))
                quote = is_formula_like(text)
            attributes = {"r": ref, "t": kind}
            sid = self._style_id(style, number_format, quote)
            if sid is not None:
                attributes["s"] = sid
            cell = SubElement(element, "c", attributes)
            if kind == "inlineStr":
                t = SubElement(SubElement(cell, "is"), "t")
                if text != text.strip():
                    t.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
                t.text = text
            else:
                SubElement(cell, "v").text = text
            if link:
                self.ws._hyperlinks.append(Hyperlink(ref=ref, target=link))
        self.ws._rows.send(element)

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


def append_row(ws, cells) -> None:
    """Append a row to a write-only worksheet (openpyxl's streaming mode): cells made and filled with
    :func:`set_cell`; any other value is put into a new cell by :func:`set_cell` first."""
    from openpyxl.cell import Cell, WriteOnlyCell

    row = []
    for item in cells:
        if not isinstance(item, Cell):
            made = WriteOnlyCell(ws)
            set_cell(made, item)
            item = made
        row.append(item)
    ws.append(row)

"""The NIP (Nomor Induk Pegawai) of a civil servant, and the official title (*jabatan*) a signature prints.

A NIP PNS has 18 digits (Peraturan Kepala BKN Nomor 22 Tahun 2007), written in four groups
``19870412 201001 2 003``:

* digits 1–8: the date of birth, ``yyyymmdd``;
* digits 9–14: the year and month of appointment as CPNS (TMT CPNS), ``yyyymm`` (it always starts on the 1st);
* digit 15: sex, ``1`` (male) or ``2`` (female);
* digits 16–18: the sequence number among those who share the first 15 digits, from ``001``.

:func:`nip` checks all of that (both dates real, the appointment in or after the month of the 18th birthday, which
is the youngest age a CPNS can be) and gives the 18 digits; spaces between the groups may be typed. Not every user
is a civil servant: an empty value is no NIP (None). A refusal is an :class:`process.inputs.Refused` whose code
names the part that is wrong (``nip_length``, ``nip_birth``, ``nip_appointment``, ``nip_age``, ``nip_sex``,
``nip_sequence``); the sentences are in process/messages.py (``field.nip_*``).
"""
from __future__ import annotations

from datetime import date
from typing import Any

from . import inputs
from .inputs import Refused

NIP_LENGTH = 18
MAX_JABATAN = 200
#: The earliest birth year a NIP can hold (nobody born earlier is still in service).
EARLIEST_BIRTH_YEAR = 1900
#: The youngest age at appointment as CPNS.
MIN_AGE = 18


def _day(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def nip(value: Any) -> str | None:
    """A typed NIP as its 18 digits, None when empty; :class:`Refused` when it is not a NIP PNS."""
    text = inputs.single_line(value if value is not None else "")
    digits = "".join(text.split())
    if not digits:
        return None
    if len(digits) != NIP_LENGTH or not (digits.isascii() and digits.isdigit()):
        raise Refused("nip_length", n=NIP_LENGTH)
    born = _day(int(digits[0:4]), int(digits[4:6]), int(digits[6:8]))
    if born is None or born.year < EARLIEST_BIRTH_YEAR:
        raise Refused("nip_birth", value=digits[0:8])
    appointed = _day(int(digits[8:12]), int(digits[12:14]), 1)
    if appointed is None:
        raise Refused("nip_appointment", value=digits[8:14])
    if (appointed.year, appointed.month) < (born.year + MIN_AGE, born.month):
        raise Refused("nip_age", n=MIN_AGE)
    if digits[14] not in "12":
        raise Refused("nip_sex")
    if digits[15:] == "000":
        raise Refused("nip_sequence")
    return digits


def jabatan(value: Any) -> str:
    """An official title ("Sekretaris KPU Provinsi Sumatera Barat"): one line, at most :data:`MAX_JABATAN`
    characters; empty is none."""
    return inputs.name(value if value is not None else "", max_length=MAX_JABATAN, required=False)


def printed(digits: str | None) -> str:
    """A NIP as it is printed: 8, 6, 1 and 3 digits (``19870412 201001 2 003``); "" for none."""
    if not digits:
        return ""
    return f"{digits[0:8]} {digits[8:14]} {digits[14]} {digits[15:18]}" if len(digits) == NIP_LENGTH else digits

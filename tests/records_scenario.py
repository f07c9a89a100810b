"""Four cases across May and June 2025 for the records, documents, exports and report pages.

=====  ================  ===============================  ======================================
case   activity day      step 1 handed in (register)      end
=====  ================  ===============================  ======================================
mei    6 May             6 May 09:00 (001/…/V/2025)       published 6 May 13:00 (on time)
akhir  30 May            30 May 10:00 (002/…/V/2025)      published 31 May 23:59:59 (on time, last second)
batas  30 May            31 May 23:59 (003/…/V/2025)      published 1 June 00:00 (1 second late)
juni   31 May            1 June 00:00 (004/…/VI/2025)     returned once, handed in again, rejected
=====  ================  ===============================  ======================================
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from process.deadlines import WIB
from tests.factories import Case, make_users, step1_form


def at(month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2025, month, day, hour, minute, second, tzinfo=WIB)


@dataclass
class SopCase(Case):
    """A case whose step-1 form keeps the activity's own name and day (the factory's form has fixed ones)."""

    nama: str = ""
    tanggal: str = ""

    @classmethod
    def open(cls, system, tx, nama: str, tanggal: str) -> SopCase:
        case = Case.start(system, tx, nama=nama, tanggal=tanggal)
        return cls(system, tx, case.instance_id, case.task_id, nama, tanggal)

    def do(self, who: str, form, claim: bool = True):
        if form == "submit":
            with self.tx() as s:
                form = step1_form(self.system, s, who)
            form.update(nama_kegiatan=self.nama, tanggal_kegiatan=self.tanggal)
        return super().do(who, form, claim)


@dataclass
class Scenario:
    mei: SopCase
    akhir: SopCase
    batas: SopCase
    juni: SopCase

    @property
    def may(self) -> list[int]:
        """Cases registered in May, in register order."""
        return [self.mei.instance_id, self.akhir.instance_id, self.batas.instance_id]

    @property
    def june(self) -> list[int]:
        return [self.juni.instance_id]


def build(system, tx, clock) -> Scenario:
    make_users(system, tx)
    clock.set(at(5, 6, 8))
    mei = SopCase.open(system, tx, "Sosialisasi Pemilih Pemula", "2025-05-06")
    for hour, who, form in ((9, "tim", "submit"), (10, "admin", "terima"), (11, "wapimred", "koreksi"),
                            (12, "pimred", "setuju"), (13, "admin", "unggah")):
        clock.set(at(5, 6, hour))
        mei.do(who, form)

    clock.set(at(5, 30, 9))
    akhir = SopCase.open(system, tx, "Rapat Koordinasi Humas", "2025-05-30")
    for hour, who, form in ((10, "tim", "submit"), (11, "admin", "terima"), (12, "wapimred", "koreksi"),
                            (13, "pimred", "setuju")):
        clock.set(at(5, 30, hour))
        akhir.do(who, form)

    clock.set(at(5, 31, 20))
    batas = SopCase.open(system, tx, "Bimtek PPK", "2025-05-30")
    clock.set(at(5, 31, 21))
    juni = SopCase.open(system, tx, "Sosialisasi di Pasar Raya", "2025-05-31")

    clock.set(at(5, 31, 23, 59))
    batas.do("tim", "submit")
    for second, who, form in ((10, "admin", "terima"), (20, "wapimred", "koreksi"), (30, "pimred", "setuju")):
        clock.set(at(5, 31, 23, 59, second))
        batas.do(who, form)
    clock.set(at(5, 31, 23, 59, 59))
    akhir.do("admin", "unggah")

    clock.set(at(6, 1, 0, 0, 0))
    juni.do("tim", "submit")
    batas.do("admin", "unggah")
    for hour, who, form in ((7, "admin", "admin_kembalikan"), (8, "tim", "submit"), (9, "admin", "terima"),
                            (10, "wapimred", "koreksi"), (11, "pimred", "tolak")):
        clock.set(at(6, 1, hour))
        juni.do(who, form)
    clock.set(at(6, 2, 9))
    return Scenario(mei, akhir, batas, juni)

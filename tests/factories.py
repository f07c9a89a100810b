"""Factories for tests: users per role, valid step forms, and a walker that moves a case along."""
from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from PIL import Image
from sqlalchemy import event as sa_event
from sqlalchemy import select

from engine.models import TaskRow
from process.files import store_file
from process.models import User
from process.roles import LEGACY_GROUPS

NARASI = ("KPU Provinsi Sumatera Barat menggelar sosialisasi pendidikan pemilih bagi pemilih pemula di "
          "Kota Padang, diikuti oleh ratusan pelajar.")


def png(color=(200, 30, 30), size=(16, 16)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


#: username → (the group of a lane of the bundled diagram, or an application role; team).
USERS = {
    "tim": ("tim_pelaksana", "humas"),
    "tim2": ("tim_pelaksana", "humas"),
    "tim_lain": ("tim_pelaksana", "teknis"),
    "admin": ("admin_medsos", None),
    "wapimred": ("wapimred", None),
    "pimred": ("pimred", None),
    "owner": ("process_owner", None),
    "auditor": ("auditor", None),
}


def CaseInput(nama_kegiatan: str, tanggal_kegiatan: str, tempat_kegiatan: str, tim: str | None = None) -> dict:  # noqa: N802
    """The SOP's start form (the start event's fields of bpmn/alur_pengunggahan.bpmn) and the team, as a body."""
    body = {"nama_kegiatan": nama_kegiatan, "tanggal_kegiatan": tanggal_kegiatan, "tempat_kegiatan": tempat_kegiatan}
    if tim is not None:
        body["tim"] = tim
    return body


def make_groups(system, session) -> None:
    """The groups of the bundled diagram's lanes (as migration 0006 makes them)."""
    for code, name in LEGACY_GROUPS.items():
        system.people.ensure_group(session, code, name)


def make_users(system, tx) -> None:
    with tx() as s:
        system.cases.ensure_definition(s)
        system.people.team(s, "humas", create=True, name="Divisi Humas")
        system.people.team(s, "teknis", create=True, name="Divisi Teknis")
        make_groups(system, s)
        for name, (role, team) in USERS.items():
            if role in LEGACY_GROUPS:
                system.people.add_user(s, name, "rahasia-" + name, groups=[role], team_code=team)
            else:
                system.people.add_user(s, name, "rahasia-" + name, [role], team_code=team)


def user(session, name: str) -> User:
    return session.execute(select(User).where(User.username == name)).scalar_one()


def step1_form(system, session, who="tim", photos=4) -> dict:
    ids = [store_file(session, system.settings.files_dir, png((i * 40 % 256, 10, 10)), f"f{i}.png",
                      uploaded_by=who, now=system.clock.now(), max_image_bytes=10**7,
                      max_other_bytes=10**7).id for i in range(photos)]
    return {"nama_kegiatan": "Sosialisasi Pemilih Pemula", "tanggal_kegiatan": "2025-05-06",
            "tempat_kegiatan": "Padang", "foto": ids, "narasi": NARASI, "caption": "Sosialisasi #KPUSumbar",
            "catatan_sumber": "Foto oleh tim humas, narasi diperiksa ketua divisi."}


FORMS = {
    "terima": {"cek_foto": True, "cek_narasi": True, "cek_caption": True, "keputusan_admin": "diterima",
               "tanggapan_admin": "Dokumentasi lengkap."},
    "admin_kembalikan": {"cek_foto": False, "cek_narasi": True, "cek_caption": True,
                         "keputusan_admin": "dikembalikan", "tanggapan_admin": "Foto kurang jelas."},
    "koreksi": {"narasi_koreksi": NARASI + " (dikoreksi)", "caption_koreksi": "Sosialisasi #KPUSumbar #Pemilu",
                "konten_valid": True, "keputusan_wapimred": "lanjut", "tanggapan_wapimred": "Sudah dikoreksi."},
    "wapimred_kembalikan": {"narasi_koreksi": NARASI, "caption_koreksi": "x", "konten_valid": False,
                            "keputusan_wapimred": "kembalikan", "tanggapan_wapimred": "Narasi perlu sumber."},
    "setuju": {"keputusan_pimred": "setuju", "pertimbangan": "Layak diunggah."},
    "revisi": {"keputusan_pimred": "revisi", "pertimbangan": "Perbaiki caption."},
    "tolak": {"keputusan_pimred": "tolak", "pertimbangan": "Tidak sesuai kebutuhan."},
}


def unggah_form(now) -> dict:
    return {"publikasi": [{"platform": "Instagram", "url": "https://www.instagram.com/p/abc123/",
                           "waktu": now.isoformat()}], "catatan_unggah": ""}


@dataclass
class Case:
    """Moves one case along through the service layer, one transaction per action."""

    system: object
    tx: object
    instance_id: int
    task_id: str

    @classmethod
    def start(cls, system, tx, who="tim", **kw) -> Case:
        with tx() as s:
            result = system.cases.start_case(s, user(s, who), CaseInput(
                nama_kegiatan=kw.get("nama", "Sosialisasi Pemilih Pemula"),
                tanggal_kegiatan=kw.get("tanggal", "2025-05-06"), tempat_kegiatan="Padang", tim=kw.get("tim")))
            return cls(system, tx, result.instance.id, result.ready[0].id)

    def task(self) -> TaskRow:
        with self.tx() as s:
            return s.get(TaskRow, self.task_id)

    def do(self, who: str, form: dict | str, claim: bool = True):
        with self.tx() as s:
            u = user(s, who)
            if form == "submit":
                form = step1_form(self.system, s, who)
            elif form == "unggah":
                form = unggah_form(self.system.clock.now())
            elif isinstance(form, str):
                form = FORMS[form]
            if claim:
                self.system.tasks.claim(s, u, self.task_id)
            result = self.system.tasks.complete(s, u, self.task_id, form)
            ready = [r.id for r in result.ready]
            names = [r.bpmn_id for r in result.ready]
        if ready:
            self.task_id = ready[0]
        return names


@contextmanager
def statements_sent(system, prefix: str) -> Iterator[list[str]]:
    """The statements starting with ``prefix`` (in any case, leading space ignored) that ``system``'s engine sends
    while the block runs."""
    seen: list[str] = []

    def listener(conn, cur, statement, *args):
        if statement.lstrip().upper().startswith(prefix.upper()):
            seen.append(statement)

    sa_event.listen(system.db, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        sa_event.remove(system.db, "before_cursor_execute", listener)


_BUNDLED_RULES: dict = {}


def bundled_rules(name: str = "alur_pengunggahan.bpmn"):
    """The declarations of a bundled diagram (``bpmn/<name>``), read without a database: what its records print."""
    if name not in _BUNDLED_RULES:
        from datetime import UTC, datetime
        from pathlib import Path

        from engine.clock import ManualClock
        from process.procedure import build_engine

        engine, rulebook = build_engine(ManualClock(datetime(2025, 1, 1, tzinfo=UTC)))
        path = Path(__file__).resolve().parents[1] / "bpmn" / name
        _BUNDLED_RULES[name] = rulebook.of(engine.validate(path.read_bytes()))
    return _BUNDLED_RULES[name]

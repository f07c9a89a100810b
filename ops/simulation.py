"""Headless drivers of the SOP used by `alur simulate` and `alur bench`: generated valid data, users
per role, one transaction per action, through the same service layer the web app uses."""
from __future__ import annotations

import io
import random
import secrets
from collections.abc import Callable
from datetime import datetime

from PIL import Image
from sqlalchemy import select

from engine.db import transaction
from process.deadlines import WIB
from process.files import store_file
from process.models import User
from process.roles import LEGACY_GROUPS
from process.system import System

#: One user per group of the bundled diagram's lanes (by group code).
SIM_USERS = {"tim_pelaksana": "sim_tim", "admin_medsos": "sim_admin", "wapimred": "sim_wapimred",
             "pimred": "sim_pimred"}
NARASI = ("Komisi Pemilihan Umum Provinsi Sumatera Barat melaksanakan kegiatan sosialisasi pendidikan pemilih "
          "bersama masyarakat dan pemangku kepentingan.")
FORMS = {
    "terima": {"cek_foto": True, "cek_narasi": True, "cek_caption": True, "keputusan_admin": "diterima",
               "tanggapan_admin": "Dokumentasi lengkap."},
    "koreksi": {"narasi_koreksi": NARASI, "caption_koreksi": "Sosialisasi #KPU #Pemilu", "konten_valid": True,
                "keputusan_wapimred": "lanjut", "tanggapan_wapimred": "Sudah dikoreksi."},
    "revisi": {"keputusan_pimred": "revisi", "pertimbangan": "Perbaiki caption."},
    "revisi_tim": {"keputusan_pimred": "revisi_tim", "pertimbangan": "Narasi perlu dilengkapi oleh tim."},
    "setuju": {"keputusan_pimred": "setuju", "pertimbangan": "Layak diunggah."},
    "tolak": {"keputusan_pimred": "tolak", "pertimbangan": "Tidak sesuai kebutuhan."},
}


def tiny_png(rng: random.Random) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (rng.randrange(256), rng.randrange(256), rng.randrange(256))).save(out, "PNG")
    return out.getvalue()


def unggah_form(now: datetime, n: int) -> dict:
    return {"publikasi": [{"platform": "Instagram", "url": f"https://www.instagram.com/p/sim{n}/",
                           "waktu": now.astimezone(WIB).isoformat()}]}


class Driver:
    """Moves cases through the SOP; every action is its own transaction, like a request."""

    def __init__(self, system: System, rng: random.Random | None = None):
        self.system = system

        self.rng = rng or random.Random(21)
        self._user_ids: dict[str, int] = {}

    def ensure_users(self) -> None:
        with transaction(self.system.sessions) as session:
            self.system.cases.ensure_definition(session)
            team = self.system.people.team(session, "sim", create=True, name="Tim Simulasi")
            for role, username in SIM_USERS.items():
                user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
                if user is None:
                    self.system.people.ensure_group(session, role, LEGACY_GROUPS[role], actor="simulate")
                    user = self.system.people.add_user(session, username, secrets.token_urlsafe(12), groups=[role],
                                                       team_code=team.code if role == "tim_pelaksana" else None,
                                                       actor="simulate")
                self._user_ids[role] = user.id

    def user(self, session, role: str) -> User:
        return self.system.people.user(session, self._user_ids[role])

    def start(self, n: int) -> tuple[int, str]:
        """Start case number ``n`` for today's activity; returns (instance id, step-1 task id)."""
        day = self.system.clock.now().astimezone(WIB).date()
        with transaction(self.system.sessions) as session:
            result = self.system.cases.start_case(session, self.user(session, "tim_pelaksana"), {
                "nama_kegiatan": f"Kegiatan simulasi {n}", "tanggal_kegiatan": day.isoformat(),
                "tempat_kegiatan": "Padang", "tim": "sim"})
            return result.instance.id, result.ready[0].id

    def step1_form(self, n: int) -> dict:
        settings = self.system.settings
        with transaction(self.system.sessions) as session:
            photos = [store_file(session, settings.files_dir, tiny_png(self.rng), f"foto{k}.png",
                                 uploaded_by=SIM_USERS["tim_pelaksana"], now=self.system.clock.now(),
                                 max_image_bytes=settings.max_image_bytes,
                                 max_other_bytes=settings.max_other_bytes).id for k in range(4)]
        day = self.system.clock.now().astimezone(WIB).date()
        return {"nama_kegiatan": f"Kegiatan simulasi {n}", "tanggal_kegiatan": day.isoformat(),
                "tempat_kegiatan": "Padang", "foto": photos, "narasi": NARASI, "caption": "Caption #KPU",
                "catatan_sumber": "Diverifikasi oleh ketua tim."}

    def act(self, role: str, task_id: str, form: dict, timer: Callable | None = None) -> list[str]:
        """Claim and complete one task as ``role``; ``timer`` (if given) wraps only the completion."""
        with transaction(self.system.sessions) as session:
            self.system.tasks.claim(session, self.user(session, role), task_id)
        if timer is None:
            with transaction(self.system.sessions) as session:
                result = self.system.tasks.complete(session, self.user(session, role), task_id, form)
                return [r.id for r in result.ready]
        with timer():
            with transaction(self.system.sessions) as session:
                result = self.system.tasks.complete(session, self.user(session, role), task_id, form)
                ready = [r.id for r in result.ready]
        return ready

    def sweep(self) -> None:
        with transaction(self.system.sessions) as session:
            self.system.timers.fire_due_timers(session)

"""Notifications are stored as a message code and its params, and read in the reader's language; rows written before
(an Indonesian sentence, no code) keep their text."""
from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import select

from process import notify
from process.models import Notification
from tests.factories import Case, make_users, user


def test_a_notification_is_stored_as_code_and_params_and_read_in_each_language(system, tx, login, english_app):
    make_users(system, tx)
    case = Case.start(system, tx)
    case.do("tim", "submit")
    with tx() as s:
        row = s.execute(select(Notification).where(Notification.user_id == user(s, "admin").id,
                                                   Notification.kind == "task_ready")).scalar_one()
        assert row.message is None and row.code == "notice.task_ready_due"
        params = json.loads(row.params)
        assert params["title"] == "Sosialisasi Pemilih Pemula" and params["due_at"].endswith("+07:00")
        indonesian, english = notify.text_of(row, "id"), notify.text_of(row, "en")
    assert indonesian.startswith("Tugas baru: ") and "Batas waktu: Rabu, 07 Mei 2025 23.59 WIB." in indonesian
    assert english.startswith("New task: ") and "Deadline: Wednesday, May 7, 2025, 11:59\u202fPM +0700." in english
    # The page shows it in the reader's language.
    c = english_app.test_client()
    c.post("/masuk", data={"username": "admin", "password": "rahasia-admin"})
    assert "Tugas baru: " in c.get("/notifikasi").get_data(as_text=True)
    c.get("/bahasa/en")
    page = c.get("/notifikasi").get_data(as_text=True)
    assert "New task: " in page and "Tugas baru" not in page


def test_a_row_from_before_keeps_its_text(system, tx):
    make_users(system, tx)
    with tx() as s:
        s.add(Notification(user_id=user(s, "tim").id, kind="task_ready", message="Tugas baru: lama.",
                           created_at=datetime(2025, 5, 6, tzinfo=UTC)))
    with tx() as s:
        (row,) = s.execute(select(Notification)).scalars()
        assert notify.text_of(row, "en") == notify.text_of(row, "id") == "Tugas baru: lama."

"""The process owner's pages: overview, modeler, validate/deploy from the page, versions with their change summary in
words, download, and the migration pre-check with its form. Nobody else gets in."""
from __future__ import annotations

import hashlib
import json
import re
from html import unescape

import pytest
from sqlalchemy import func, select

from engine.errors import Problem
from engine.models import Definition, EventRow, Instance
from process import modeling
from tests.conftest import DIAGRAM
from tests.factories import Case, make_users, user
from tests.test_definitions import diagram_with, set_condition
from tests.test_migration import deploy_without_sop_checks, version2, without_step5
from webui.modeler import summary_lines
from webui.problems import problem_message

NOT_OWNERS = ["tim", "admin", "wapimred", "pimred", "auditor", "root"]
PAGES = ["/proses", "/proses/modeler", "/proses/modeler/diagram.json", "/proses/versi", "/proses/versi/1",
         "/proses/versi/1/diagram.json", "/proses/versi/1.bpmn", "/proses/migrasi/1"]
XML = {"Content-Type": "application/xml"}


@pytest.fixture
def users(system, tx):
    make_users(system, tx)
    with tx() as s:
        system.people.add_user(s, "root", "rahasia-root", ["admin"])


def deploy(system, tx, xml: bytes):
    with tx() as s:
        definition, _summary = modeling.deploy(s, system, user(s, "owner"), xml)
        return definition.version


def deploy_unchecked(system, tx, xml: bytes):
    """A version the SOP's rules refuse (without step 5), stored as an older release might have."""
    with tx() as s:
        return deploy_without_sop_checks(system, s, xml).version


def text(resp) -> str:
    return unescape(re.sub(r"\s+", " ", resp.get_data(as_text=True)))


def versions(system) -> int:
    """How many versions the SOP has (bpmn/ ships other procedures too, each with versions of its own)."""
    with system.sessions() as s:
        return s.execute(select(func.count()).select_from(Definition)
                         .where(Definition.process_key == "alur_pengunggahan")).scalar()


# --------------------------------------------------------------------------------------------------
# Access
# --------------------------------------------------------------------------------------------------


def test_only_process_owners_get_in(users, system, tx, login, client):
    case = Case.start(system, tx)
    for who in NOT_OWNERS:
        c = login(who)
        for url in PAGES:
            assert c.get(url).status_code == 403, (who, url)
        assert c.post("/proses/validasi", data=version2(), headers=XML).status_code == 403
        assert c.post("/proses/terapkan", data=version2(), headers=XML).status_code == 403
        assert c.post("/proses/migrasi/1", data={"case_ids": [str(case.instance_id)]}).status_code == 403
        assert "/proses" not in re.findall(r'href="([^"]+)"', c.get("/kasus").get_data(as_text=True))
    assert versions(system) == 1
    for url in PAGES:
        resp = client.get(url)
        assert resp.status_code == 302 and "/masuk" in resp.headers["Location"], url


def test_owner_sees_the_nav_link_and_the_pages(users, login):
    c = login("owner")
    assert 'href="/proses"' in c.get("/kasus").get_data(as_text=True)
    for url in PAGES[:-1]:
        assert c.get(url).status_code == 200, url
    assert c.get("/proses/migrasi/1").status_code == 200


# --------------------------------------------------------------------------------------------------
# The modeler page and its endpoints
# --------------------------------------------------------------------------------------------------


def test_modeler_page_passes_everything_through_data_attributes(users, login):
    c = login("owner")
    resp = c.get("/proses/modeler")
    html = resp.get_data(as_text=True)
    assert re.search(r'<script type="module" src="/static/dist/modeler\.js"></script>', html)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) and not re.search(r"\son[a-z]+\s*=", html)
    assert '<link rel="stylesheet" href="/static/dist/modeler.css">' in html
    root = re.search(r"<div class=\"modeler\" data-modeler (.*?)>", html, re.S)[1]
    attrs = dict(re.findall(r'(data-[a-z-]+)=(?:"([^"]*)"|\'[^\']*\')', root))
    assert attrs["data-src"] == "/proses/modeler/diagram.json?versi=1"
    assert attrs["data-validate-url"] == "/proses/validasi" and attrs["data-deploy-url"] == "/proses/terapkan"
    assert attrs["data-csrf"]
    texts = json.loads(unescape(re.search(r"data-texts='([^']*)'", root)[1]))
    assert texts["deployable"] == "Diagram dapat diterapkan." and "{version}" in texts["deployed"]
    assert "data-lanes" not in root and "lint" not in json.dumps(texts)  # no rules in the browser: the server's
    assert texts["problems_count"] == "{errors} galat, {warnings} peringatan"
    for label in ("Impor .bpmn", "Unduh .bpmn", "Validasi", "Terapkan"):
        assert label in html
    source = c.get("/proses/modeler/diagram.json").json
    assert source["version"] == 1 and source["xml"] == DIAGRAM.read_text(encoding="utf-8")
    assert c.get("/proses/modeler?versi=9").status_code == 404
    assert c.get("/proses/modeler/diagram.json?versi=9").status_code == 404


def test_validate_and_deploy_from_the_page(users, system, login):
    c = login("owner")
    ok = c.post("/proses/validasi", data=version2(), headers=XML)
    assert ok.status_code == 200 and ok.json == {"process_key": "alur_pengunggahan", "deployable": True,
                                                 "warnings": []}
    bad = c.post("/proses/validasi", data=diagram_with(set_condition("Flow_Tolak", "__import__('os')")),
                 headers=XML)
    assert bad.status_code == 422 and bad.is_json
    assert bad.json["error"]["message"] == "Diagram tidak dapat diterima."
    problem = bad.json["error"]["fields"][0]
    assert problem["element_id"] == "Flow_Tolak" and problem["code"] == "expression.name_invalid"
    assert problem["message"].startswith("Alur \u201cTolak\u201d (Flow_Tolak): Ekspresi \u201c__import__")
    assert c.post("/proses/terapkan", data=b"<x/>", headers=XML).status_code == 422
    assert versions(system) == 1

    deployed = c.post("/proses/terapkan", data=version2(), headers=XML)
    assert deployed.status_code == 201
    body = deployed.json
    assert body["version"] == 2 and body["created"] and body["sha256"] == hashlib.sha256(version2()).hexdigest()
    assert body["versions_url"] == "/proses/versi" and body["version_url"] == "/proses/versi/2"
    assert body["migration_url"] is None  # no case runs on version 1
    assert any("Batas waktu diubah: akhir_hari(tanggal_pengumpulan, 1) \u2192 akhir_hari(tanggal_pengumpulan, 2)"
               in line for line in body["summary_text"])
    again = c.post("/proses/terapkan", data=version2(), headers=XML)
    assert again.status_code == 200 and again.json["version"] == 2 and not again.json["created"]
    assert versions(system) == 2
    with system.sessions() as s:
        event = s.execute(select(EventRow).where(EventRow.type == "definition_deployed")
                          .order_by(EventRow.seq.desc())).scalars().first()
        assert event.actor == "owner"


def test_page_endpoints_need_the_csrf_token(users, system):
    from webui import create_app

    app = create_app(system=system, config={"SECRET_KEY": "test-secret", "TESTING": True,
                                            "RATELIMIT_ENABLED": False})
    c = app.test_client()
    login_page = c.get("/masuk").get_data(as_text=True)
    token = (re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login_page)
             or re.search(r'value="([^"]+)"[^>]*name="csrf_token"', login_page))[1]
    assert c.post("/masuk", data={"username": "owner", "password": "rahasia-owner",
                                  "csrf_token": token}).status_code == 302
    page_token = re.search(r'data-csrf="([^"]+)"', c.get("/proses/modeler").get_data(as_text=True))[1]
    assert c.post("/proses/validasi", data=version2(), headers=XML).status_code == 400
    assert c.post("/proses/terapkan", data=version2(), headers=XML).status_code == 400
    assert c.post("/proses/terapkan", data=version2(), headers={**XML, "X-CSRFToken": "falsch"}).status_code == 400
    assert versions(system) == 1
    assert c.post("/proses/validasi", data=version2(), headers={**XML, "X-CSRFToken": page_token}).status_code == 200
    assert c.post("/proses/terapkan", data=version2(), headers={**XML, "X-CSRFToken": page_token}).status_code == 201
    assert versions(system) == 2


# --------------------------------------------------------------------------------------------------
# Versions
# --------------------------------------------------------------------------------------------------


def test_versions_list_shows_who_when_hash_and_the_changes_in_words(users, system, tx, login):
    deploy(system, tx, version2())
    deploy_unchecked(system, tx, without_step5())
    c = login("owner")
    page = text(c.get("/proses/versi"))
    with system.sessions() as s:
        shas = dict(s.execute(select(Definition.version, Definition.sha256)
                              .where(Definition.process_key == "alur_pengunggahan")).all())
    for n in (1, 2, 3):
        assert f"Versi {n}" in page and shas[n][:12] in page and f'href="/proses/versi/{n}.bpmn"' in page
    assert "Versi awal: diagram bawaan aplikasi." in page
    assert ("Peristiwa batas \u201cBatas waktu H+1\u201d (Timer_Koreksi)" in page
            and "Batas waktu diubah: akhir_hari(tanggal_pengumpulan, 1) \u2192 akhir_hari(tanggal_pengumpulan, 2)"
            in page)
    assert "Field baru (wajib): Sumber foto (sumber_foto)" in page
    # Version 3 (from version 2): step 5 removed, the approval flow now ends the case; the step-3 field is gone.
    assert ("dihapus</span> Tugas \u201cMengunggah konten ke platform media sosial KPU Provinsi Sumatera Barat\u201d "
            "(Task_Unggah)") in page
    assert "Tujuan alur diubah: Task_Unggah \u2192 EndEvent_Dipublikasikan" in page
    assert "Field dihapus: Sumber foto (sumber_foto)" in page
    assert "Selasa, 06 Mei 2025 08.00 WIB" in page and "owner" in page

    one = text(c.get("/proses/versi/2"))
    assert shas[2] in one and 'data-bpmn-diagram data-src="/proses/versi/2/diagram.json"' in one
    assert "/static/dist/diagram.js" in one and 'href="/proses/modeler?versi=2"' in one
    diagram = c.get("/proses/versi/2/diagram.json").json
    assert diagram["active"] == ["Task_Koreksi", "Timer_Koreksi"] and diagram["completed"] == []
    assert diagram["xml"] == version2().decode("utf-8")
    assert c.get("/proses/versi/1/diagram.json").json["active"] == []

    download = c.get("/proses/versi/2.bpmn")
    assert download.status_code == 200 and download.mimetype == "application/xml"
    assert download.data == version2()
    assert download.headers["Content-Disposition"] == 'attachment; filename="alur_pengunggahan-v2.bpmn"'
    assert download.headers["X-Content-SHA256"] == shas[2]
    for url in ("/proses/versi/9", "/proses/versi/9.bpmn", "/proses/versi/9/diagram.json", "/proses/migrasi/9"):
        assert c.get(url).status_code == 404, url


def test_overview_counts_running_cases_per_version(users, system, tx, login):
    Case.start(system, tx)
    deploy(system, tx, version2())
    Case.start(system, tx)
    Case.start(system, tx)
    page = text(login("owner").get("/proses"))
    assert "Versi 2" in page and "Kasus berjalan pada versi ini" in page
    assert re.search(r'data-label="Kasus berjalan">2<', page) and re.search(r'data-label="Kasus berjalan">1<', page)
    assert "1 kasus masih berjalan pada versi lama" in page
    assert 'href="/proses/migrasi/2"' in page


# --------------------------------------------------------------------------------------------------
# Migration
# --------------------------------------------------------------------------------------------------


def test_migration_page_pre_check_and_form(users, system, tx, login):
    waiting = Case.start(system, tx, nama="Menunggu di langkah 1")
    at_step5 = Case.start(system, tx, nama="Menunggu di langkah 5")
    for who, form in (("tim", "submit"), ("admin", "terima"), ("wapimred", "koreksi"), ("pimred", "setuju")):
        at_step5.do(who, form)
    deploy_unchecked(system, tx, without_step5())
    c = login("owner")
    page = text(c.get("/proses/migrasi/2"))
    for case in (waiting, at_step5):
        assert f'<tr data-case-id="{case.instance_id}">' in page
    assert f'name="case_ids" value="{waiting.instance_id}"' in page
    # Step 5 is gone: the case moves only if the owner maps it to a task of the same lane (none is pre-chosen)
    assert f'name="case_ids" value="{at_step5.instance_id}"' in page
    assert "dapat pindah" in page and "pindah bila langkahnya dipetakan" in page
    assert ("(Task_Unggah): Langkah yang sedang ditunggu kasus ini tidak ada di versi 2. Kasus pindah hanya bila "
            "langkah ini dipetakan ke langkah pengganti di versi itu.") in page
    assert 'name="peta-Task_Unggah"' in page and '<option value="" selected>' in page
    assert '<option value="Task_Terima">' in page and " selected>Menerima" not in page
    assert "Menyerahkan dokumentasi kegiatan" in page  # the waiting task
    assert 'data-confirm="Pindahkan kasus yang dipilih ke versi 2?"' in page

    resp = c.post("/proses/migrasi/2", data={"case_ids": [str(waiting.instance_id), str(at_step5.instance_id)]})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/proses/migrasi/2")
    after = text(c.get("/proses/migrasi/2"))
    assert f"1 kasus dipindahkan ke versi 2: #{waiting.instance_id}." in after
    assert (f"Kasus #{at_step5.instance_id} tidak dipindahkan: Tugas \u201cMengunggah konten ke platform media "
            "sosial KPU Provinsi Sumatera Barat\u201d (Task_Unggah): Langkah yang sedang ditunggu kasus ini tidak ada "
            "di versi 2. Kasus pindah hanya bila langkah ini dipetakan ke langkah pengganti di versi itu.") in after
    assert f'<tr data-case-id="{waiting.instance_id}">' not in after  # it runs on version 2 now
    with tx() as s:
        assert s.get(Definition, s.get(Instance, waiting.instance_id).definition_id).version == 2
        assert s.get(Definition, s.get(Instance, at_step5.instance_id).definition_id).version == 1
        migrated = s.execute(select(EventRow).where(EventRow.type == "case_migrated")).scalars().all()
        assert [(e.instance_id, e.actor) for e in migrated] == [(waiting.instance_id, "owner")]

    nothing = c.post("/proses/migrasi/2", data={}, follow_redirects=True)
    assert "Pilih dulu kasus yang akan dipindahkan." in text(nothing)
    refused = c.post("/proses/migrasi/2", data={"case_ids": ["satu"]})  # one id rule (webui/ids.py): 422
    assert refused.status_code == 422 and "case_ids: daftar nomor 1 sampai 2147483647" in text(refused)
    for bad in ("-1", "2147483648", "99999999999999999999999"):
        assert c.post("/proses/migrasi/2", data={"case_ids": [bad]}).status_code == 422, bad
    unknown = text(c.post("/proses/migrasi/2", data={"case_ids": ["999"]}, follow_redirects=True))
    assert "Kasus #999 tidak dipindahkan: Kasus #999 tidak ada." in unknown


# --------------------------------------------------------------------------------------------------
# Words for engine messages and change summaries
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("problem, expected", [
    (Problem("T1", "unsupported.serviceTask", element_name="Kirim", element_type="serviceTask"),
     "Tugas layanan \u201cKirim\u201d (T1): Tugas layanan tidak dijalankan (diagram tidak boleh memanggil sistem "
     "luar). Pakai tugas pengguna."),
    (Problem("Task_A", "sop.task_without_form", element_name="Periksa", element_type="userTask"),
     "Tugas \u201cPeriksa\u201d (Task_A): Langkah ini tidak memiliki field formulir"),
    (Problem("Timer_A", "expression.call_unknown", {"text": "open(1)", "name": "open", "functions": "akhir_hari"},
             element_type="boundaryEvent"),
     "Peristiwa batas Timer_A: Ekspresi \u201copen(1)\u201d memanggil \u201copen\u201d, yang bukan fungsi terdaftar. "
     "Fungsi yang tersedia: akhir_hari."),
    (Problem(None, "xml.too_large", {"size": 3000000, "limit": 2097152}),
     "Berkas berukuran 3000000 bita; batasnya 2097152 bita."),
    (Problem("Task_Putuskan", "decl.target_missing", {"target": "Task_Hilang", "attribute": "return/to"}),
     "Task_Putuskan: Langkah tujuan pengembalian menunjuk langkah \u201cTask_Hilang\u201d, yang tidak ada (lagi) di "
     "diagram. Pilih langkah yang ada."),
    (Problem(None, "migration.no_case", {"case": 3}), "Kasus #3 tidak ada."),
    (Problem("X", "a.code.nobody.wrote"), "X: Masalah yang tidak dikenal pada elemen ini."),
])
def test_problems_in_indonesian(app, problem, expected):
    with app.test_request_context("/"):
        assert expected in problem_message(problem)


def test_change_summary_sentences(app):
    summary = {
        "added": [{"id": "Task_Arsip", "type": "userTask", "name": "Mengarsipkan"}],
        "removed": [{"id": "Flow_X", "type": "sequenceFlow", "name": None}],
        "changed": [
            {"id": "Lane_Admin", "type": "lane", "name": "Admin", "changes": [
                {"aspect": "name", "old": "Admin Medsos", "new": "Admin"}]},
            {"id": "Task_Terima", "type": "userTask", "name": "Menerima", "changes": [
                {"aspect": "lane", "old": "Admin Medsos", "new": "Admin"},
                {"aspect": "field_added", "field": "catatan", "label": "Catatan", "required": False},
                {"aspect": "field_changed", "field": "cek_foto", "label": "Foto", "what": ["constraints", "label"]},
                {"aspect": "field_removed", "field": "lama", "label": None}]},
            {"id": "Flow_Setuju", "type": "sequenceFlow", "name": None, "changes": [
                {"aspect": "condition", "old": 'k == "setuju"', "new": 'k == "ya"'}]},
        ],
    }
    with app.test_request_context("/"):
        lines = summary_lines(summary)
    assert lines == [
        "Ditambahkan: Tugas \u201cMengarsipkan\u201d (Task_Arsip)",
        "Dihapus: Alur Flow_X",
        "Lajur \u201cAdmin\u201d (Lane_Admin): Nama diubah: Admin Medsos \u2192 Admin",
        "Tugas \u201cMenerima\u201d (Task_Terima): Lajur diubah: Admin Medsos \u2192 Admin",
        "Tugas \u201cMenerima\u201d (Task_Terima): Field baru: Catatan (catatan)",
        "Tugas \u201cMenerima\u201d (Task_Terima): Field diubah: Foto (cek_foto) (batasan, label)",
        "Tugas \u201cMenerima\u201d (Task_Terima): Field dihapus: lama (lama)",
        "Alur Flow_Setuju: Kondisi diubah: k == \"setuju\" \u2192 k == \"ya\"",
    ]


def test_pages_and_summaries_in_english(english_app, system, tx):
    make_users(system, tx)
    deploy(system, tx, version2())
    c = english_app.test_client()
    assert c.post("/masuk", data={"username": "owner", "password": "rahasia-owner"}).status_code == 302
    c.get("/bahasa/en")
    page = text(c.get("/proses/versi"))
    assert "<h1>Process diagram versions</h1>" in page and ">Version history</a>" in page
    assert ("Deadline changed: akhir_hari(tanggal_pengumpulan, 1) \u2192 akhir_hari(tanggal_pengumpulan, 2)"
            in page)
    assert "New field (required): Sumber foto (sumber_foto)" in page
    modeler_page = c.get("/proses/modeler").get_data(as_text=True)
    texts = json.loads(unescape(re.search(r"data-texts='([^']*)'", modeler_page)[1]))
    assert texts["deployable"] == "The diagram can be deployed." and "Import .bpmn" in modeler_page
    refused = c.post("/proses/validasi", data=(DIAGRAM.read_bytes().replace(b'name="Admin Medsos"', b'name="Humas"')
                                               .replace(b' camunda:candidateGroups="admin_medsos"', b'')),
                     headers=XML)
    assert refused.status_code == 422
    assert any("No group works the lane \u201cHumas\u201d" in p["message"] for p in refused.json["error"]["fields"])


# --------------------------------------------------------------------------------------------------
# Rolling back
# --------------------------------------------------------------------------------------------------


def test_an_owner_rolls_back_by_deploying_an_older_versions_content(users, system, tx, login):
    c = login("owner")
    assert c.post("/proses/terapkan", data=version2(), headers=XML).status_code == 201
    on_v2 = Case.start(system, tx, nama="Berjalan di versi 2")
    back = c.post("/proses/terapkan", data=DIAGRAM.read_bytes(), headers=XML)  # version 1's content
    assert back.status_code == 201, back.json
    assert back.json["version"] == 3 and back.json["created"] and back.json["summary"]["restores"] == 1
    assert back.json["summary_text"][0] == "Mengembalikan isi versi 1 (rollback)."
    assert any("akhir_hari(tanggal_pengumpulan, 2) \u2192 akhir_hari(tanggal_pengumpulan, 1)" in line
               for line in back.json["summary_text"])
    assert back.json["migration_url"] == "/proses/migrasi/3"
    again = c.post("/proses/terapkan", data=DIAGRAM.read_bytes(), headers=XML)
    assert again.status_code == 200 and again.json["version"] == 3 and not again.json["created"]
    new_case = Case.start(system, tx, nama="Sesudah rollback")
    with tx() as s:
        assert s.get(Definition, s.get(Instance, new_case.instance_id).definition_id).version == 3
        deployed = s.execute(select(EventRow).where(EventRow.type == "definition_deployed")
                             .order_by(EventRow.seq.desc())).scalars().first()
        assert json.loads(deployed.payload)["restores"] == 1 and deployed.actor == "owner"
    assert "Mengembalikan isi versi 1 (rollback)." in text(c.get("/proses/versi"))

    # Cases move forward only: the old version is not offered, and asking is refused in words.
    assert f'data-case-id="{on_v2.instance_id}"' not in text(c.get("/proses/migrasi/1"))
    refused = text(c.post("/proses/migrasi/1", data={"case_ids": [str(on_v2.instance_id)]}, follow_redirects=True))
    assert (f"Kasus #{on_v2.instance_id} tidak dipindahkan: Kasus ini berjalan pada versi 2; kasus hanya dapat "
            "dipindahkan ke versi yang lebih baru, bukan ke versi 1.") in refused
    moved = text(c.post("/proses/migrasi/3", data={"case_ids": [str(on_v2.instance_id)]}, follow_redirects=True))
    assert f"1 kasus dipindahkan ke versi 3: #{on_v2.instance_id}." in moved

"""Process definitions through the JSON API: only process owners validate, deploy and migrate; the 21 MIWG reference
diagrams each get an answer; code payloads and hostile XML are refused naming the element, and nothing runs; new
versions and migrations are events with who and when."""
from __future__ import annotations

import hashlib
import json
import time

import pytest
from sqlalchemy import func, select

from engine.models import Definition, EventRow, Instance
from tests.conftest import DIAGRAM, MIWG
from tests.factories import Case, make_users
from tests.test_api import API, Api, component, conforms, refused, snapshot
from tests.test_definitions import NS, PAYLOADS, add_property, add_script_task, diagram_with, set_condition, set_timer
from tests.test_migration import version2, without_step5

MIWG_FILES = sorted(MIWG.glob("*.bpmn"))
NOT_OWNERS = ["tim", "admin", "wapimred", "pimred", "auditor", "root"]


@pytest.fixture
def api(app, system, tx) -> Api:
    make_users(system, tx)
    with tx() as s:
        system.people.add_user(s, "root", "rahasia-root", ["admin"])
    return Api(app.test_client())


def post_xml(api: Api, who: str, path: str, xml: bytes, content_type: str | None = "application/xml"):
    headers = {"Content-Type": content_type} if content_type else {}
    return api.post(who, path, data=xml, headers=headers)


def events(system, type_: str) -> list[EventRow]:
    with system.sessions() as s:
        return list(s.execute(select(EventRow).where(EventRow.type == type_).order_by(EventRow.seq)).scalars())


def definition_count(system) -> int:
    """The SOP's stored versions (bpmn/ ships another procedure beside it)."""
    with system.sessions() as s:
        return s.execute(select(func.count()).select_from(Definition)
                         .where(Definition.process_key == "alur_pengunggahan")).scalar()


# --------------------------------------------------------------------------------------------------
# Who may
# --------------------------------------------------------------------------------------------------


def test_only_process_owners_validate_deploy_list_or_migrate(api, system, tx):
    case = Case.start(system, tx)
    xml = version2()
    for who in NOT_OWNERS:
        refused(system, lambda w=who: post_xml(api, w, "/definitions/validate", xml), 403, "api.owner_only")
        refused(system, lambda w=who: post_xml(api, w, "/definitions", xml), 403, "api.owner_only")
        refused(system, lambda w=who: api.get(w, "/definitions"), 403)
        refused(system, lambda w=who: api.get(w, "/definitions/1.bpmn"), 403)
        refused(system, lambda w=who: api.get(w, "/definitions/1/migration"), 403)
        refused(system, lambda w=who: api.post(w, "/definitions/1/migration",
                                               json={"case_ids": [case.instance_id]}), 403)
        # Refused before the body is even looked at: an oversize body is still a 403 for them.
        refused(system, lambda w=who: post_xml(api, w, "/definitions/validate", b"<x/>" * (700 * 1024)), 403)


def test_without_a_token_401(api, system):
    refused(system, lambda: post_xml(api, None, "/definitions/validate", DIAGRAM.read_bytes()), 401, "unauthorized")
    refused(system, lambda: post_xml(api, None, "/definitions", DIAGRAM.read_bytes()), 401, "unauthorized")


# --------------------------------------------------------------------------------------------------
# Validation answers
# --------------------------------------------------------------------------------------------------


def test_the_sop_diagram_is_deployable_with_any_content_type(api):
    for content_type in ("application/xml", "text/xml", "application/octet-stream",
                         "application/x-www-form-urlencoded", "text/plain; charset=utf-8", None):
        resp = post_xml(api, "owner", "/definitions/validate", DIAGRAM.read_bytes(), content_type)
        assert resp.status_code == 200, (content_type, resp.json)
        assert resp.json == {"process_key": "alur_pengunggahan", "deployable": True, "warnings": []}


def test_miwg_reference_diagrams_each_get_an_answer(api, system):
    assert len(MIWG_FILES) == 21, f"expected the 21 OMG BPMN MIWG reference diagrams in {MIWG}"
    answers = {}
    for path in MIWG_FILES:
        xml = path.read_bytes()
        for endpoint in ("/definitions/validate", "/definitions"):
            before = snapshot(system)
            started = time.perf_counter()
            resp = post_xml(api, "owner", endpoint, xml)
            elapsed = time.perf_counter() - started
            assert elapsed < 5, f"{path.name}: {endpoint} took {elapsed:.2f}s"
            assert resp.status_code in (200, 201, 422), (path.name, resp.status_code,
                                                         resp.get_data(as_text=True)[:500])
            assert resp.is_json
            answers[path.name] = resp.status_code
            if resp.status_code != 422:
                continue
            fields = resp.json["error"]["fields"]
            assert fields, f"{path.name}: refused without a reason"
            for problem in fields:
                assert set(problem) == {"element_id", "element_name", "element_type", "code", "params", "severity",
                                        "label", "text", "message"}
                assert isinstance(problem["message"], str) and len(problem["message"]) > 10
            # A problem names its element, unless the only one is that no process is marked executable (A.1.0 and
            # the like: their untyped tasks run since untyped tasks pass by themselves).
            assert any(p["element_id"] for p in fields) or {p["code"] for p in fields} == {"process.count"}, \
                f"{path.name}: no problem names an element"
            assert snapshot(system) == before
    assert len(answers) == 21


def test_unsupported_elements_are_named_in_the_users_language(api):
    resp = post_xml(api, "owner", "/definitions/validate", (MIWG / "C.7.0.bpmn").read_bytes())
    assert resp.status_code == 422
    messages = [p["message"] for p in resp.json["error"]["fields"]]
    assert ("Tugas layanan \u201cPublish on homepage\u201d (_64eabfe9-6947-43eb-ac45-8d331745f86c): Tugas layanan "
            "tidak dijalankan (diagram tidak boleh memanggil sistem luar). Pakai tugas pengguna.") in messages, messages
    assert any(m.startswith("Tugas aturan bisnis \u201c") and "Tugas aturan bisnis (DMN) tidak dijalankan" in m
               for m in messages)


def test_sop_rules_name_the_task(api):
    def edit(tree):
        tree.find(".//bpmn:lane[@name='Admin Medsos']", NS).set("name", "Humas")
        for task in tree.iterfind(".//bpmn:userTask", NS):  # else the group its tasks name works it
            task.attrib.pop(f"{{{NS['camunda']}}}candidateGroups", None)
    resp = post_xml(api, "owner", "/definitions/validate", diagram_with(edit))
    assert resp.status_code == 422
    problems = {p["element_id"]: p for p in resp.json["error"]["fields"]}
    assert problems["Lane_AdminMedsos"]["code"] == "lane.no_group"
    assert problems["Lane_AdminMedsos"]["params"] == {"lane": "Humas", "group": "humas"}
    assert problems["Lane_AdminMedsos"]["message"].startswith(
        "Lajur \u201cHumas\u201d (Lane_AdminMedsos): Tidak ada grup")


def test_a_diagram_of_another_process_is_a_new_procedure_beside_the_sop(api, system, tx):
    """Deploying a new process id creates a procedure of its own (version 1); the SOP keeps its versions, and new
    cases of the SOP still start on the SOP."""
    def edit(tree):
        tree.find(".//bpmn:process", NS).set("id", "proses_lain")
        tree.find(".//bpmn:process", NS).set("name", "Prosedur Lain")
        tree.find(".//bpmn:participant", NS).set("processRef", "proses_lain")
        # its own register numbers: the SOP's format would be refused (register.format_taken)
        tree.find(".//{urn:alur-medsos:bpmn:1}register").set("format", "{seq:03d}/LAIN/{year}")
    assert post_xml(api, "owner", "/definitions/validate", diagram_with(edit)).status_code == 200
    resp = post_xml(api, "owner", "/definitions", diagram_with(edit))
    assert resp.status_code == 201, resp.json
    with tx() as s:
        keys = {(d.process_key, d.version) for d in s.execute(select(Definition)).scalars()}
        assert {("alur_pengunggahan", 1), ("proses_lain", 1)} <= keys
        assert [p.key for p in system.cases.procedures(s)] == ["alur_pengunggahan", "layanan_informasi_publik",
                                                               "proses_lain"]
    case = api.post("tim", "/cases", json={"nama_kegiatan": "A", "tanggal_kegiatan": "2025-05-06",
                                          "tempat_kegiatan": "Padang"})
    other = api.post("tim", "/cases", json={"procedure": "proses_lain", "nama_kegiatan": "B",
                                           "tanggal_kegiatan": "2025-05-06", "tempat_kegiatan": "Padang"})
    unknown = api.post("tim", "/cases", json={"procedure": "tidak_ada", "nama_kegiatan": "C"})
    assert case.status_code == other.status_code == 201 and unknown.status_code == 422
    with tx() as s:
        started = {i.title: s.get(Definition, i.definition_id).process_key
                   for i in s.execute(select(Instance)).scalars()}
    assert started == {"A": "alur_pengunggahan", "B": "proses_lain"}


# --------------------------------------------------------------------------------------------------
# Code payloads and hostile XML
# --------------------------------------------------------------------------------------------------


PLACES = [
    (lambda p: set_condition("Flow_Tolak", p), "Flow_Tolak"),
    (lambda p: set_timer("Timer_Koreksi", p), "Timer_Koreksi"),
    (lambda p: add_script_task(p), "Script_Payload"),
]


def test_code_payloads_refused_naming_the_element_and_nothing_runs(api, system, tmp_path):
    marker = tmp_path / "MARKER"
    for payload in PAYLOADS:
        for where, element in PLACES:
            xml = diagram_with(where(payload.format(m=marker)))
            for endpoint in ("/definitions/validate", "/definitions"):
                resp = refused(system, lambda e=endpoint, x=xml: post_xml(api, "owner", e, x), 422,
                               "invalid_definition")
                assert element in [p["element_id"] for p in resp.json["error"]["fields"]], (payload, element)
    assert not marker.exists()
    assert definition_count(system) == 1


def test_extension_property_payload_refused(api, system, tmp_path):
    marker = tmp_path / "MARKER"
    xml = diagram_with(add_property("${Runtime.getRuntime().exec('touch " + str(marker) + "')}"))
    resp = refused(system, lambda: post_xml(api, "owner", "/definitions", xml), 422, "invalid_definition")
    fields = resp.json["error"]["fields"]
    assert "Task_Terima" in [p["element_id"] for p in fields]
    assert any("properti ekstensi adalah data, bukan kode" in p["message"] for p in fields)
    assert not marker.exists()


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;'
    b'&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;"><!ENTITY lol4 '
    b'"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;"><!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;'
    b'&lol4;&lol4;&lol4;&lol4;&lol4;">]><definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">&lol5;'
    b'</definitions>')
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">&x;</definitions>')


def test_hostile_xml_refused_quickly_with_a_clear_message(api, system):
    for xml in (BILLION_LAUGHS, EXTERNAL_ENTITY):
        for endpoint in ("/definitions/validate", "/definitions"):
            started = time.perf_counter()
            resp = refused(system, lambda e=endpoint, x=xml: post_xml(api, "owner", e, x), 422, "invalid_definition")
            assert time.perf_counter() - started < 2
            message = resp.json["error"]["fields"][0]["message"]
            assert message.startswith("DTD dan entitas XML tidak diterima"), message
            assert "root:" not in resp.get_data(as_text=True)  # /etc/passwd was not read


def test_oversize_and_malformed_bodies(api, system):
    big = b"<definitions" + b" " * (3 * 1024 * 1024) + b"/>"
    started = time.perf_counter()
    resp = refused(system, lambda: post_xml(api, "owner", "/definitions/validate", big), 413, "upload.too_large")
    assert time.perf_counter() - started < 2
    assert resp.json["error"]["message"] == "Diagram ini terlalu besar: 3,0 MB; batasnya 2,0 MB."
    for body in (b"", b"not xml at all", b"<definitions"):
        resp = refused(system, lambda b=body: post_xml(api, "owner", "/definitions/validate", b), 422)
        assert resp.json["error"]["fields"][0]["message"]


# --------------------------------------------------------------------------------------------------
# Deploy, versions, download
# --------------------------------------------------------------------------------------------------


def test_deploy_makes_a_version_with_summary_and_event(api, system):
    xml = version2()
    resp = post_xml(api, "owner", "/definitions", xml)
    assert resp.status_code == 201, resp.json
    body = resp.json
    assert body["version"] == 2 and body["created"] is True and body["created_by"] == "owner"
    assert body["sha256"] == hashlib.sha256(xml).hexdigest()
    assert resp.headers["Location"].endswith("/definitions/2.bpmn")
    changed = {c["id"]: c for c in body["summary"]["changed"]}
    assert set(changed) == {"Timer_Koreksi", "Task_Koreksi"}
    assert ("Peristiwa batas \u201cBatas waktu H+1\u201d (Timer_Koreksi): Batas waktu diubah: "
            "akhir_hari(tanggal_pengumpulan, 1) \u2192 akhir_hari(tanggal_pengumpulan, 2)") in body["summary_text"]
    assert any(line.endswith("Field baru (wajib): Sumber foto (sumber_foto)") for line in body["summary_text"])

    deployed = events(system, "definition_deployed")
    assert deployed[-1].actor == "owner" and deployed[-1].at is not None
    assert json.loads(deployed[-1].payload)["version"] == 2

    # The same content again: the same version, nothing new stored or logged.
    again = post_xml(api, "owner", "/definitions", xml)
    assert again.status_code == 200 and again.json["version"] == 2 and again.json["created"] is False
    assert again.json["sha256"] == body["sha256"]
    assert definition_count(system) == 2 and len(events(system, "definition_deployed")) == len(deployed)

    listed = api.get("owner", "/definitions")
    assert listed.status_code == 200
    assert [v["version"] for v in listed.json["items"]] == [2, 1]
    assert listed.json["total"] == 2 and listed.json["next_cursor"] is None
    assert listed.json["items"][0]["latest"] is True and listed.json["items"][1]["latest"] is False
    assert listed.json["items"][0]["created_by"] == "owner" and listed.json["items"][0]["created_at"].endswith("+07:00")

    v1 = api.get("owner", "/definitions/1.bpmn")
    assert v1.status_code == 200 and v1.mimetype == "application/xml"
    assert v1.data == DIAGRAM.read_bytes()
    assert 'filename="alur_pengunggahan-v1.bpmn"' in v1.headers["Content-Disposition"]
    assert api.get("owner", "/definitions/2.bpmn").data == xml
    assert api.get("owner", "/definitions/9.bpmn").status_code == 404


def test_new_cases_take_the_newest_version_running_ones_keep_theirs(api, system, tx):
    before = Case.start(system, tx)
    assert post_xml(api, "owner", "/definitions", version2()).status_code == 201
    after_id, _task = api.new_case("tim", "Kegiatan sesudah versi 2")
    with tx() as s:
        assert s.get(Definition, s.get(Instance, before.instance_id).definition_id).version == 1
        assert s.get(Definition, s.get(Instance, after_id).definition_id).version == 2
    assert api.get("tim", f"/cases/{before.instance_id}").json["definition_version"] == 1
    assert api.get("tim", f"/cases/{after_id}").json["definition_version"] == 2


# --------------------------------------------------------------------------------------------------
# Migration
# --------------------------------------------------------------------------------------------------


def test_migration_pre_check_and_all_or_nothing_per_case(api, system, tx):
    waiting = Case.start(system, tx, nama="Menunggu di langkah 1")
    at_step5 = Case.start(system, tx, nama="Menunggu di langkah 5")
    for who, form in (("tim", "submit"), ("admin", "terima"), ("wapimred", "koreksi"), ("pimred", "setuju")):
        at_step5.do(who, form)
    deployed = post_xml(api, "owner", "/definitions", without_step5())  # step 5's rules go with the step
    assert deployed.status_code == 201, deployed.json

    plan = api.get("owner", "/definitions/2/migration")
    assert plan.status_code == 200
    cases = {c["case_id"]: c for c in plan.json["cases"]}
    assert set(cases) == {waiting.instance_id, at_step5.instance_id}
    assert cases[waiting.instance_id]["can_move"] and cases[waiting.instance_id]["reasons"] == []
    assert cases[waiting.instance_id]["version"] == 1 and cases[waiting.instance_id]["tasks"]
    blocked = cases[at_step5.instance_id]
    assert not blocked["can_move"] and "Task_Unggah" in blocked["reasons"][0]
    assert "tidak ada di versi 2" in blocked["reasons"][0]
    assert [(p["element_id"], p["code"]) for p in blocked["problems"]] == [("Task_Unggah", "migration.task_removed")]

    resp = api.post("owner", "/definitions/2/migration", json={"case_ids": [waiting.instance_id,
                                                                           at_step5.instance_id]})
    assert resp.status_code == 200, resp.json
    assert resp.json["moved"] == [waiting.instance_id]
    assert [r["case_id"] for r in resp.json["refused"]] == [at_step5.instance_id]
    assert "Task_Unggah" in resp.json["refused"][0]["reason"]
    with tx() as s:
        assert s.get(Definition, s.get(Instance, waiting.instance_id).definition_id).version == 2
        assert s.get(Definition, s.get(Instance, at_step5.instance_id).definition_id).version == 1
    migrated = events(system, "case_migrated")
    assert [(e.instance_id, e.actor) for e in migrated] == [(waiting.instance_id, "owner")]
    assert json.loads(migrated[0].payload)["to_version"] == 2

    # Moving it again is refused with a reason; nothing changes.
    again = api.post("owner", "/definitions/2/migration", json={"case_ids": [waiting.instance_id]})
    assert again.json["moved"] == [] and "sudah berjalan pada versi 2" in again.json["refused"][0]["reason"]
    assert len(events(system, "case_migrated")) == 1

    # The waiting case goes on under version 2.
    waiting.do("tim", "submit")
    with tx() as s:
        assert s.get(Instance, waiting.instance_id).status == "running"


def test_migration_request_is_checked(api, system, tx):
    Case.start(system, tx)
    for body in ({}, {"case_ids": []}, {"case_ids": "1"}, {"case_ids": ["x"]}, {"case_ids": [0]},
                 {"case_ids": [-3]}, {"case_ids": [True]}, {"case_ids": [1.5]}, {"case_ids": [1], "force": True},
                 {"case_ids": list(range(1, 1002))}):
        refused(system, lambda b=body: api.post("owner", "/definitions/1/migration", json=b), 422, "form_invalid")
    refused(system, lambda: api.post("owner", "/definitions/1/migration", data="case_ids=1",
                                     content_type="application/x-www-form-urlencoded"), 422)


def test_migration_to_an_unknown_version_is_404(api, system, tx):
    case = Case.start(system, tx)
    refused(system, lambda: api.get("owner", "/definitions/7/migration"), 404)
    refused(system, lambda: api.post("owner", "/definitions/7/migration", json={"case_ids": [case.instance_id]}),
            404)


# --------------------------------------------------------------------------------------------------
# The OpenAPI document describes what the endpoints answer
# --------------------------------------------------------------------------------------------------


def test_answers_conform_to_the_openapi_document(api, system, tx):
    doc = api.client.get(f"{API}/openapi.json").json
    Case.start(system, tx)
    conforms(doc, component("DefinitionValidation"),
             post_xml(api, "owner", "/definitions/validate", DIAGRAM.read_bytes()).json)
    refusal = post_xml(api, "owner", "/definitions/validate", diagram_with(set_condition("Flow_Tolak", "x.y")))
    conforms(doc, component("Error"), refusal.json)
    conforms(doc, component("DefinitionDeployed"), post_xml(api, "owner", "/definitions", version2()).json)
    for version in api.get("owner", "/definitions").json["items"]:
        conforms(doc, component("DefinitionVersion"), version)
    conforms(doc, component("MigrationPlan"), api.get("owner", "/definitions/2/migration").json)
    case_id = api.get("owner", "/definitions/2/migration").json["cases"][0]["case_id"]
    conforms(doc, component("MigrationResult"),
             api.post("owner", "/definitions/2/migration", json={"case_ids": [case_id]}).json)

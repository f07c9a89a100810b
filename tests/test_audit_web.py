"""The auditor's pages: who may open them, the chain result, the replay page and its step JSON, verification
by re-execution, and compliance numbers computed exactly on a constructed set of cases."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select, text

from engine.models import EventRow
from process.compliance import collisions, compliance
from process.deadlines import WIB
from tests.factories import Case, make_users, user


@pytest.fixture
def users(system, tx):
    make_users(system, tx)
    with tx() as s:
        system.people.add_user(s, "sysadmin", "rahasia-sysadmin", ["admin"])


@pytest.fixture
def case(system, tx, users, clock):
    """Step 1 handed in late (fired by the worker), one revision round, then published."""
    c = Case.start(system, tx)
    clock.set(datetime(2025, 5, 8, 9, 0, tzinfo=WIB))
    with tx() as s:
        system.timers.fire_due_timers(s)
    for who, form in (("tim", "submit"), ("admin", "terima"), ("wapimred", "koreksi"), ("pimred", "revisi"),
                      ("wapimred", "koreksi"), ("pimred", "setuju"), ("admin", "unggah")):
        clock.advance(minutes=20)
        c.do(who, form)
    return c


def wib(*args) -> datetime:
    return datetime(*args, tzinfo=WIB)


@pytest.mark.parametrize("who", ["auditor", "sysadmin", "pimred"])
def test_pages_render_for_auditors(who, login, case):
    c = login(who)
    index = c.get("/audit")
    assert index.status_code == 200
    page = index.get_data(as_text=True)
    assert 'data-chain="ok"' in page and f"/audit/kasus/{case.instance_id}/replay" in page
    assert 'href="/audit"' in c.get("/kasus").get_data(as_text=True)  # the menu links to the audit pages
    replay = c.get(f"/audit/kasus/{case.instance_id}/replay")
    assert replay.status_code == 200 and "Verifikasi dengan eksekusi ulang" in replay.get_data(as_text=True)
    assert c.get(f"/audit/kasus/{case.instance_id}/replay/3.json").status_code == 200
    assert c.get("/audit/kepatuhan").status_code == 200
    verified = c.post(f"/audit/kasus/{case.instance_id}/replay/verifikasi")
    assert verified.status_code == 200 and 'data-verification="match"' in verified.get_data(as_text=True)


@pytest.mark.parametrize("who", ["tim", "admin", "wapimred", "owner"])
def test_everyone_else_is_refused(who, login, case):
    c = login(who)
    for url in ("/audit", f"/audit/kasus/{case.instance_id}/replay", f"/audit/kasus/{case.instance_id}/replay/1.json",
                "/audit/kepatuhan"):
        assert c.get(url).status_code == 403, url
    assert c.post(f"/audit/kasus/{case.instance_id}/replay/verifikasi").status_code == 403
    assert 'href="/audit"' not in c.get("/kasus").get_data(as_text=True)


def test_anonymous_is_sent_to_login(client, case):
    assert client.get("/audit").status_code == 302


def test_chain_page_names_the_first_altered_event(tx, login, case):
    with tx() as s:
        s.execute(text("UPDATE event SET actor = 'mallory' WHERE seq = 20"))
    page = login("auditor").get("/audit").get_data(as_text=True)
    assert 'data-chain="bad"' in page and "#20" in page and "event #20 was altered (hash mismatch)" in page


def test_replay_page_steps_through_the_events(system, tx, login, case):
    c = login("auditor")
    with tx() as s:
        total = len(s.execute(select(EventRow.seq).where(EventRow.instance_id == case.instance_id)).all())
    page = c.get(f"/audit/kasus/{case.instance_id}/replay?langkah=2").get_data(as_text=True)
    assert f"Kejadian 2 dari {total}" in page and f'max="{total}"' in page
    assert "Prosedur: Alur Pengunggahan Konten Media Sosial" in page
    assert f'data-src="/audit/kasus/{case.instance_id}/replay/2.json"' in page
    assert f'href="/audit/kasus/{case.instance_id}/replay?langkah=1"' in page  # previous without scripts
    actives = []
    for n in range(1, total + 1):
        body = c.get(f"/audit/kasus/{case.instance_id}/replay/{n}.json").get_json()
        assert set(body) >= {"xml", "completed", "active", "overdue", "event", "data", "holders", "deadlines", "html"}
        assert body["n"] == n and body["total"] == total and body["xml"].startswith("<?xml")
        actives.append((body["type"], body["active"], body["overdue"]))
    assert actives[0] == ("case_started", [], [])
    assert ("overdue", ["Task_Serahkan"], ["Task_Serahkan"]) in actives
    # The revision round: after the decision "revisi", step 3 waits again.
    assert any(t == "task_ready" and a == ["Task_Koreksi"] for t, a, _o in actives[actives.index(
        next(x for x in actives if x[0] == "task_ready" and x[1] == ["Task_Putuskan"])):])
    last = c.get(f"/audit/kasus/{case.instance_id}/replay/{total}.json").get_json()
    assert last["status"] == "completed" and last["active"] == []
    assert {"Task_Serahkan", "Task_Unggah"} <= set(last["completed"])
    assert any(d["bpmn_id"] == "Task_Serahkan" and d["met"] is False for d in last["deadlines"])
    assert any(d["bpmn_id"] == "Task_Terima" and d["met"] is True for d in last["deadlines"])
    assert last["data"]["keputusan_pimred"] == "setuju" and "Tepat waktu" in last["html"]
    assert c.get(f"/audit/kasus/{case.instance_id}/replay/{total + 1}.json").status_code == 404
    assert c.get("/audit/kasus/9999/replay").status_code == 404


def test_holders_shown_as_they_were(system, tx, login, users):
    c = Case.start(system, tx)  # step 1 ready, then held by its creator (nobody else told)
    with tx() as s:
        system.tasks.claim(s, user(s, "tim"), c.task_id)  # changes nothing
        system.tasks.delegate(s, user(s, "tim"), c.task_id, "tim2")
    client = login("auditor")
    steps = [client.get(f"/audit/kasus/{c.instance_id}/replay/{n}.json").get_json() for n in range(1, 6)]
    held = {s["type"]: s["holders"][0]["holder"] for s in steps if s["holders"]}
    assert held == {"task_ready": None, "task_claimed": "tim", "task_delegated": "tim2", "notification_sent": "tim2"}


def test_verification_shows_a_mismatch(system, tx, login, case):
    with tx() as s:
        seq = s.execute(select(EventRow.seq).where(EventRow.instance_id == case.instance_id,
                                                   EventRow.type == "task_completed",
                                                   EventRow.payload.like('%"keputusan_pimred":"revisi"%'))
                        .order_by(EventRow.seq)).scalars().first()
        s.execute(text("UPDATE event SET payload = REPLACE(payload, '\"revisi\"', '\"setuju\"') WHERE seq = :s"),
                  {"s": seq})
    page = login("auditor").post(f"/audit/kasus/{case.instance_id}/replay/verifikasi").get_data(as_text=True)
    assert 'data-verification="mismatch"' in page
    assert f"Tindakan pertama yang berbeda: kejadian #{seq}." in page
    assert f'class="mismatch overdue" data-seq="{seq}"' in page


def test_verification_is_read_only(system, tx, login, case):
    with tx() as s:
        before = s.execute(select(EventRow.seq).order_by(EventRow.seq.desc()).limit(1)).scalar()
    assert login("auditor").post(f"/audit/kasus/{case.instance_id}/replay/verifikasi").status_code == 200
    with tx() as s:
        assert s.execute(select(EventRow.seq).order_by(EventRow.seq.desc()).limit(1)).scalar() == before


def test_auditor_cannot_act_on_cases(login, case, system, tx):
    c = login("auditor")
    assert c.post("/kasus/baru", data={"nama_kegiatan": "x", "tanggal_kegiatan": "2025-05-06",
                                       "tempat_kegiatan": "y"}).status_code == 403
    fresh = Case.start(system, tx)
    assert c.post(f"/tugas/{fresh.task_id}/ambil").status_code == 403


# ------------------------------------------------------------------------------------------ compliance
@pytest.fixture
def constructed(system, tx, users, clock):
    """Four cases of 6 May 2025, handed in at 09:00 that day; step 2 is due 7 May 23:59:59 WIB and is done
    on time once, 2 h and 6 h late once each, and is still waiting for the fourth at 8 May 11:59:59 (12 h late)."""
    cases = [Case.start(system, tx, nama=f"Kegiatan {i}") for i in range(4)]
    clock.set(wib(2025, 5, 6, 9, 0))
    for c in cases:
        c.do("tim", "submit")
    for c, at in zip(cases, (wib(2025, 5, 6, 10, 0), wib(2025, 5, 8, 1, 59, 59), wib(2025, 5, 8, 5, 59, 59))):
        clock.set(at)
        c.do("admin", "terima")
    clock.set(wib(2025, 5, 8, 11, 59, 59))
    return cases


def test_compliance_numbers_are_exact(system, tx, constructed, clock):
    with tx() as s:
        report = compliance(s, rulebook=system.rules,
                            date_from=date(2025, 5, 1), date_to=date(2025, 5, 31), now=clock.now())
    step1 = report.row("Task_Serahkan", "2025-05")
    assert (step1.count, step1.on_time, step1.on_time_rate, step1.median_late) == (4, 4, 1.0, None)
    step2 = report.row("Task_Terima", "2025-05")
    assert (step2.count, step2.on_time, step2.late, step2.still_open) == (4, 1, 3, 1)
    assert step2.on_time_rate == 0.25
    assert step2.median_late == timedelta(hours=6) and step2.worst_late == timedelta(hours=12)
    # Step 3 of the three accepted cases: due 7 May 23:59:59 like step 2, all still waiting 12 h later.
    step3 = report.row("Task_Koreksi", "2025-05")
    assert (step3.count, step3.on_time, step3.still_open) == (3, 0, 3)
    assert step3.median_late == step3.worst_late == timedelta(hours=12)
    assert report.periods == [("2025-05", date(2025, 5, 1))]
    with tx() as s:
        weekly = compliance(s, rulebook=system.rules,
                            date_from=date(2025, 5, 1), date_to=date(2025, 5, 31), now=clock.now(),
                            granularity="week")
        assert weekly.row("Task_Terima", "2025-W19").on_time_rate == 0.25
        outside = compliance(s, rulebook=system.rules,
                            date_from=date(2025, 6, 1), date_to=date(2025, 6, 30), now=clock.now())
        assert outside.rows == [] and all(t.count == 0 for t in outside.totals)


def test_compliance_is_per_procedure(system, tx, constructed, clock, login):
    """Steps of two procedures never mix: another procedure (same element ids, another process id) has its own
    figures, chosen on the page; the default procedure's are unchanged by its cases."""
    from tests.conftest import DIAGRAM

    xml = (DIAGRAM.read_text(encoding="utf-8").replace('id="alur_pengunggahan"', 'id="proses_lain"')
           .replace('processRef="alur_pengunggahan"', 'processRef="proses_lain"')
           .replace('name="Alur Pengunggahan Konten Media Sosial"', 'name="Prosedur Lain"', 1))
    with tx() as s:
        system.engine.deploy(s, xml.encode(), actor="owner")
        system.cases.start_case(s, user(s, "tim"), {"nama_kegiatan": "Lain", "tanggal_kegiatan": "2025-05-06",
                                                    "tempat_kegiatan": "Padang"}, procedure="proses_lain")
    window = {"date_from": date(2025, 5, 1), "date_to": date(2025, 5, 31), "now": clock.now()}
    with tx() as s:
        sop = compliance(s, rulebook=system.rules, procedure="alur_pengunggahan", **window)
        other = compliance(s, rulebook=system.rules, procedure="proses_lain", **window)
        both = compliance(s, rulebook=system.rules, **window)
    assert sop.row("Task_Serahkan", "2025-05").count == 4 and other.row("Task_Serahkan", "2025-05").count == 1
    assert both.row("Task_Serahkan", "2025-05").count == 5
    page = login("auditor").get("/audit/kepatuhan?dari=2025-05-01&sampai=2025-05-31&prosedur=proses_lain").text
    assert '<option value="proses_lain" selected>' in page
    row = re.search(r'<tr data-step="1" data-period="2025-05".*?</tr>', page, flags=re.S).group(0)
    # its one case's step-1 deadline, not the SOP's four
    assert re.search(r'data-label="Batas waktu" class="num">1</td>', row), row
    sop_page = login("auditor").get("/audit/kepatuhan?dari=2025-05-01&sampai=2025-05-31").text
    sop_row = re.search(r'<tr data-step="1" data-period="2025-05".*?</tr>', sop_page, flags=re.S).group(0)
    assert re.search(r'data-label="Batas waktu" class="num">4</td>', sop_row), sop_row


def test_compliance_page_shows_the_numbers_and_charts(login, constructed):
    page = login("auditor").get("/audit/kepatuhan?dari=2025-05-01&sampai=2025-05-31&per=bulan").get_data(as_text=True)
    row = re.search(r'<tr data-step="2" data-period="2025-05".*?</tr>', page, flags=re.S).group(0)
    assert '"num rate">25%<' in row and '"num median">6 jam<' in row and '"num worst">12 jam<' in row
    assert "(1 masih menunggu)" in row
    # Charts are inline SVG with a title and a description, no script needed.
    assert page.count('<svg viewBox=') == 3 and 'role="img" aria-labelledby="chart-rate-title chart-rate-desc"' in page
    assert '<title id="chart-rate-title">Ketepatan waktu per langkah</title>' in page
    assert ">25% (1/4)<" in page
    bad = login("auditor").get("/audit/kepatuhan?dari=kemarin")
    assert bad.status_code == 200 and "Tanggal tidak sah" in bad.get_data(as_text=True)


def test_collision_per_case(system, tx, users, clock, login):
    same_day = Case.start(system, tx, nama="Hari yang sama", tanggal="2025-05-06")
    day_before = Case.start(system, tx, nama="Sehari sebelumnya", tanggal="2025-05-05")
    clock.set(wib(2025, 5, 6, 15, 0))
    same_day.do("tim", "submit")
    day_before.do("tim", "submit")
    with tx() as s:
        rows = {c.title: c for c in collisions(s, rulebook=system.rules,
                                                date_from=date(2025, 5, 1), date_to=date(2025, 5, 31))}
    a, b = rows["Hari yang sama"], rows["Sehari sebelumnya"]
    assert a.upload_due == a.review_due == wib(2025, 5, 7, 23, 59, 59) and a.collides and a.overlap == timedelta(0)
    assert b.upload_due == wib(2025, 5, 6, 23, 59, 59) and b.review_due == wib(2025, 5, 7, 23, 59, 59)
    assert b.collides and b.overlap == timedelta(days=1) and not b.started_late
    page = login("auditor").get("/audit/kepatuhan?dari=2025-05-01&sampai=2025-05-31").get_data(as_text=True)
    assert "ya, batasnya sama" in page and "ya, batas pemeriksaan 1 hari sesudah batas langkah terakhir" in page
    assert "Tabrakan batas waktu langkah 5 dengan langkah 2–4" in page


def test_collision_takes_the_last_steps_deadline_from_the_diagram(system, tx, users, clock, login):
    """Before the last step is reached, its deadline is the diagram's timer evaluated on the case's date: a version
    giving the upload three days moves it; a deadline that needs data the case does not have yet is unknown."""
    from tests.conftest import DIAGRAM

    xml = DIAGRAM.read_text(encoding="utf-8")
    last = xml.rindex("akhir_hari(tanggal_kegiatan, 1)")
    with tx() as s:
        system.engine.deploy(s, (xml[:last] + "akhir_hari(tanggal_kegiatan, 3)" + xml[last + 31:]).encode(),
                             actor="owner")
    three = Case.start(system, tx, nama="Tiga hari", tanggal="2025-05-06")
    with tx() as s:
        system.engine.deploy(s, (xml[:last] + "akhir_hari(tanggal_pengumpulan, 1)" + xml[last + 31:]).encode(),
                             actor="owner")
    unknown = Case.start(system, tx, nama="Belum diketahui", tanggal="2025-05-06")
    clock.set(wib(2025, 5, 6, 15, 0))
    three.do("tim", "submit")
    unknown.do("tim", "submit")
    with tx() as s:
        rows = {c.title: c for c in collisions(s, rulebook=system.rules,
                                                date_from=date(2025, 5, 1), date_to=date(2025, 5, 31))}
    assert rows["Tiga hari"].upload_due == wib(2025, 5, 9, 23, 59, 59) and not rows["Tiga hari"].collides
    assert rows["Belum diketahui"].upload_due is None and not rows["Belum diketahui"].collides
    page = login("auditor").get("/audit/kepatuhan?dari=2025-05-01&sampai=2025-05-31")
    assert page.status_code == 200 and "Belum diketahui" in page.text


def test_english(login, case):
    c = login("auditor")
    c.get("/bahasa/en")
    page = c.get(f"/audit/kasus/{case.instance_id}/replay").get_data(as_text=True)
    assert "Verify by re-execution" in page
    assert "Compliance with deadlines" in c.get("/audit/kepatuhan").get_data(as_text=True)


# ------------------------------------------------------------------------------------- read-only auditor
#: POST endpoints that change nothing of the cases, users or diagrams: logging in and out, one's own
#: notifications read marks and saved filters, and the audit's own re-execution (in memory).
PERSONAL_OR_READ_ONLY = {"auth.login", "auth.logout", "api.token", "inbox.mark_read", "audit.verify_case",
                         "exports.create",  # (a record download of its own: the records are the auditor's to read)
                         # one's own saved filters of the lists the auditor reads
                         "saved_filters.save", "saved_filters.delete", "api.create_saved_filter",
                         "api.delete_saved_filter"}
#: What a person acting would send (a refusal for a missing field would prove nothing about the role).
CASE_FIELDS = {"nama_kegiatan": "Kegiatan", "tanggal_kegiatan": "2025-05-06", "tempat_kegiatan": "Padang"}
BODIES = {"tasks.delegate": {"kepada": "tim2"}, "api.delegate_task": {"to": "tim2"}, "cases.new": CASE_FIELDS,
          "api.create_case": CASE_FIELDS}


def write_endpoints(app, *, task_id: str, instance_id: int, user_id: int, version: int = 1) -> list[tuple[str, str]]:
    """(endpoint, URL) of every write route of the app, its parameters filled with existing objects."""
    values = {"task_id": task_id, "instance_id": instance_id, "case_id": instance_id, "user_id": user_id,
              "number": version, "version": version, "file_id": "0" * 36, "outbox_id": 1, "group_id": 1,
              "upload_id": "00000000-0000-4000-8000-000000000000", "filter_id": 1}
    out = []
    with app.test_request_context():
        from flask import url_for

        for rule in app.url_map.iter_rules():
            if not (rule.methods & {"POST", "PUT", "PATCH", "DELETE"}) or rule.endpoint in PERSONAL_OR_READ_ONLY:
                continue
            missing = [a for a in rule.arguments if a not in values]
            assert not missing, f"{rule.rule}: no test value for {missing}"
            out.append((rule.endpoint, url_for(rule.endpoint, **{a: values[a] for a in rule.arguments})))
    return sorted(out)


def test_every_write_route_refuses_the_auditor(app, system, tx, login, case):
    with tx() as s:
        tim = user(s, "tim")
        user_id = tim.id
    token = app.test_client().post("/api/v1/auth/token", json={"username": "auditor",
                                                              "password": "rahasia-auditor"}).json["token"]
    c = login("auditor")
    with tx() as s:
        before = s.execute(select(EventRow.seq).order_by(EventRow.seq.desc()).limit(1)).scalar()
    routes = write_endpoints(app, task_id=case.task_id, instance_id=case.instance_id, user_id=user_id)
    assert len(routes) >= 20
    answers = {}
    for endpoint, url in routes:
        if url.startswith("/api/"):
            resp = c.post(url, json=BODIES.get(endpoint, {}), headers={"Authorization": f"Bearer {token}"})
        else:
            resp = c.post(url, data=BODIES.get(endpoint, {}))
        answers[endpoint] = resp.status_code
    assert {e: s for e, s in answers.items() if s != 403} == {}
    with tx() as s:
        assert s.execute(select(EventRow.seq).order_by(EventRow.seq.desc()).limit(1)).scalar() == before


def test_verification_names_steps_and_keeps_the_position(system, tx, login, case):
    """The re-execution's table names each step as the diagram does (no BPMN ids), its results never wrap inside a
    word, and the page comes back at the event the auditor asked it for."""
    c = login("auditor")
    page = c.post(f"/audit/kasus/{case.instance_id}/replay/verifikasi?langkah=7").get_data(as_text=True)
    table = page[page.index('class="responsive verification-table"'):]
    assert "Task_" not in re.sub(r'data-[a-z-]+="[^"]*"', "", table)
    assert "Mengontrol dan mengoreksi" in table
    assert 'class="tag tag-ok nowrap"' in table
    assert 'value="7"' in page and 'data-replay-verify' in page

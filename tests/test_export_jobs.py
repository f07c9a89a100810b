"""Export jobs (issue 17): records of large periods made by the worker as files. Asking (checked, coded errors),
taking (one worker per job; a job whose worker died is taken again), running (progress in phases, the file written
whole, notified), failing (an Indonesian reason), keeping (files removed after ALUR_EXPORT_KEEP_HOURS), and the web
side: the record pages switch to "Siapkan unduhan" over ALUR_EXPORT_INSTANT_MAX cases, a job is its owner's only."""
from __future__ import annotations

import csv
import hashlib
import io
import threading
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from ops.worker import Worker
from process import exportjobs
from process.config import Settings
from process.errors import BadRequest
from process.models import ExportJob, Notification, User
from process.records import Period
from tests.records_scenario import build

MAY = {"dari": "2025-05-01", "sampai": "2025-05-31"}
MAY_PERIOD = Period(date(2025, 5, 1), date(2025, 5, 31))


@pytest.fixture
def settings(database_url, tmp_path) -> Settings:
    """Three cases are registered in May (tests/records_scenario.py): more than 2 makes May a large period."""
    return Settings(database_url=database_url, files_dir=tmp_path / "files", export_instant_max=2)


@pytest.fixture
def sc(system, tx, clock):
    return build(system, tx, clock)


def _user(s, username: str) -> User:
    return s.execute(select(User).where(User.username == username)).scalar_one()


def _ask(system, tx, username="auditor", **kw) -> int:
    values = {"kind": "register", "format": "pdf", "process_key": system.settings.process_key, "period": MAY_PERIOD}
    values.update(kw)
    with tx() as s:
        return exportjobs.create(s, system.rules, _user(s, username), exportjobs.Request(**values),
                                 system.clock.now()).id


def _job(tx, job_id: int) -> ExportJob:
    with tx() as s:
        job = s.get(ExportJob, job_id)
        s.expunge(job)
        return job


# ------------------------------------------------------------------------------------------- asking
@pytest.mark.parametrize(("values", "code"), [
    ({"kind": "laporan"}, "export.kind_unknown"),
    ({"format": "docx"}, "export.format_unknown"),
    ({"kind": "log", "format": "pdf"}, "export.format_unknown"),
    ({"kind": "tanggapan", "basis": "kemarin"}, "report.basis_unknown"),
    ({"period": None}, "export.period_missing"),
    ({"kind": "register", "instance_id": 1, "period": None}, "export.case_not_allowed"),
])
def test_a_request_is_checked_with_coded_errors(sc, system, tx, values, code):
    with pytest.raises(BadRequest) as refused:
        _ask(system, tx, **values)
    assert refused.value.code == code
    from process.messages import error_text

    assert error_text(refused.value)  # a sentence in Bahasa Indonesia, not the code
    assert not error_text(refused.value).startswith("export.")


def test_an_unknown_procedure_or_case_is_not_found(sc, system, tx):
    from engine.errors import NotFound

    with pytest.raises(NotFound):
        _ask(system, tx, process_key="tidak_ada")
    with pytest.raises(NotFound):
        _ask(system, tx, kind="log", format="csv", period=None, instance_id=999_999)


def test_defaults_are_filled_in(sc, system, tx):
    job = _job(tx, _ask(system, tx, kind="rekap", format="xlsx"))
    assert (job.status, job.basis, job.progress_done, job.attempts) == ("queued", "unggah", 0, 0)
    log = _job(tx, _ask(system, tx, kind="log", format="xes"))
    assert log.process_key is None and log.basis is None


def test_size_counts_the_cases_of_the_period(sc, system, tx):
    with tx() as s:
        assert exportjobs.size(s, "register", MAY_PERIOD, system.settings.process_key) == 3
        assert exportjobs.size(s, "register", Period(date(2025, 6, 1), date(2025, 6, 30))) == 1
        assert exportjobs.size(s, "log", MAY_PERIOD) == 4  # all four cases were started in May


# ------------------------------------------------------------------------------------------- taking
def test_jobs_are_taken_oldest_first_and_once(sc, system, tx, clock):
    first = _ask(system, tx)
    clock.advance(seconds=1)
    second = _ask(system, tx, format="csv")
    with tx() as s:
        one = exportjobs.claim(s, clock.now())
    with tx() as s:
        two = exportjobs.claim(s, clock.now())
    with tx() as s:
        assert exportjobs.claim(s, clock.now()) is None  # both running, leases valid
    assert (one.job_id, two.job_id) == (first, second)
    assert (one.attempt, two.attempt) == (1, 1)
    assert _job(tx, first).status == "running"


def test_a_job_whose_worker_died_is_taken_again(sc, system, tx, clock):
    job_id = _ask(system, tx)
    with tx() as s:
        dead = exportjobs.claim(s, clock.now())  # ... and its worker is killed: nobody renews the lease
    clock.advance(seconds=exportjobs.LEASE.total_seconds() - 1)
    with tx() as s:
        assert exportjobs.next_due(s, clock.now()) > clock.now()
        assert exportjobs.claim(s, clock.now()) is None  # lease still valid
    clock.advance(seconds=2)
    with tx() as s:
        assert exportjobs.next_due(s, clock.now()) <= clock.now()  # the worker's sleep ends for it
        again = exportjobs.claim(s, clock.now())
    assert (again.job_id, again.attempt) == (job_id, 2)
    # The dead worker's run (had it come back) is no longer the job's: it stops without writing anything.
    assert exportjobs.run(system, dead) is False
    assert exportjobs.run(system, again) is True
    job = _job(tx, job_id)
    assert job.status == "done" and job.attempts == 2


def test_a_job_taken_too_often_fails(sc, system, tx, clock):
    job_id = _ask(system, tx)
    for _ in range(exportjobs.MAX_ATTEMPTS):
        with tx() as s:
            assert exportjobs.claim(s, clock.now()) is not None
        clock.advance(seconds=exportjobs.LEASE.total_seconds() + 1)
    with tx() as s:
        assert exportjobs.claim(s, clock.now()) is None
    job = _job(tx, job_id)
    assert (job.status, job.error_code) == ("failed", "export.worker_stopped")
    with tx() as s:
        notice = s.execute(select(Notification).where(Notification.kind == "export_failed")).scalar_one()
    from process.notify import text_of

    assert "berhenti 3 kali" in text_of(notice)


def test_the_renewed_lease_keeps_a_long_job(sc, system, tx, clock):
    _ask(system, tx)
    with tx() as s:
        mine = exportjobs.claim(s, clock.now())
    clock.advance(seconds=exportjobs.LEASE.total_seconds() - 5)
    with tx() as s:
        assert exportjobs.renew(s, mine, clock.now())
    clock.advance(seconds=10)
    with tx() as s:
        assert exportjobs.claim(s, clock.now()) is None


# ------------------------------------------------------------------------------------------- running
@pytest.mark.parametrize(("kind", "fmt"), [("register", "pdf"), ("register", "xlsx"), ("tanggapan", "csv"),
                                           ("rekap", "xlsx"), ("log", "csv"), ("log", "xes")])
def test_a_job_makes_the_same_file_as_the_instant_download(sc, system, tx, clock, login, kind, fmt):
    job_id = _ask(system, tx, kind=kind, format=fmt)
    with tx() as s:
        mine = exportjobs.claim(s, clock.now())
    assert exportjobs.run(system, mine)
    job = _job(tx, job_id)
    path = system.settings.exports_dir / job.stored_name
    data = path.read_bytes()
    assert job.status == "done" and job.file_size == len(data) and job.sha256 == hashlib.sha256(data).hexdigest()
    assert job.expires_at == job.finished_at + timedelta(hours=72)
    assert not [p for p in system.settings.exports_dir.iterdir() if p.name.endswith(".part")]
    if fmt == "pdf":
        assert data.startswith(b"%PDF")
    elif fmt == "xlsx":
        assert load_workbook(io.BytesIO(data)).active.max_row > 3
    elif fmt == "csv" and kind == "log":
        assert len(list(csv.reader(io.StringIO(data.decode())))) > 10
    elif fmt == "xes":
        from lxml import etree

        assert len(etree.fromstring(data).findall("trace")) == 4
    if fmt in ("csv", "xlsx") and kind != "log":  # the same rows as the page's own download (made at once)
        path_ = {"register": "/laporan/register", "tanggapan": "/laporan/tanggapan", "rekap": "/laporan/rekap"}[kind]
        instant = _instant_download(system, login, path_, fmt)
        if fmt == "csv":
            assert data == instant
        else:
            mine_rows = [r for r in load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True)]
            theirs = [r for r in load_workbook(io.BytesIO(instant)).active.iter_rows(values_only=True)]
            assert mine_rows == theirs


def _instant_download(system, login, path, fmt) -> bytes:
    object.__setattr__(system.settings, "export_instant_max", 1000)
    try:
        resp = login("auditor").get(path, query_string={**MAY, "format": fmt})
        assert resp.status_code == 200
        return resp.data
    finally:
        object.__setattr__(system.settings, "export_instant_max", 2)


def test_progress_is_reported_in_phases(sc, system, tx, clock, monkeypatch):
    seen = []
    renew = exportjobs.renew

    def watch(session, mine, now, **values):
        if values:
            seen.append((values["phase"], values["progress_done"], values["progress_total"]))
        return renew(session, mine, now, **values)

    monkeypatch.setattr(exportjobs, "renew", watch)
    job_id = _ask(system, tx, kind="register", format="pdf", period=Period(date(2025, 5, 1), date(2025, 6, 30)))
    with tx() as s:
        mine = exportjobs.claim(s, clock.now())
    assert exportjobs.run(system, mine, progress_every=0)
    phases = [p for p, _d, _t in seen]
    assert phases.index("collecting") < phases.index("rendering") < phases.index("writing")
    assert ("collecting", 0, 2) in seen and ("collecting", 1, 2) in seen  # May, then June
    assert ("rendering", 0, 4) in seen and ("rendering", 4, 4) in seen  # four register rows
    job = _job(tx, job_id)
    assert exportjobs.percent(job) == 100


def test_percent_moves_through_the_phases():
    job = ExportJob(status="running", phase="collecting", progress_done=1, progress_total=2)
    half_collected = exportjobs.percent(job)
    job.phase, job.progress_done, job.progress_total = "rendering", 1, 2
    half_rendered = exportjobs.percent(job)
    assert 0 < half_collected < half_rendered < 100
    assert exportjobs.percent(ExportJob(status="queued", progress_done=0, progress_total=0)) == 0


def test_a_failed_job_says_why_in_indonesian(sc, system, tx, clock, monkeypatch, login):
    from process import documents

    def broken(*_a, **_k):
        raise RuntimeError("reportlab broke")

    monkeypatch.setattr(documents, "to_pdf", broken)
    monkeypatch.delattr(documents, "write_pdf", raising=False)
    job_id = _ask(system, tx)
    with tx() as s:
        mine = exportjobs.claim(s, clock.now())
    assert exportjobs.run(system, mine) is False
    job = _job(tx, job_id)
    assert (job.status, job.error_code) == ("failed", "export.failed")
    assert not list(system.settings.exports_dir.iterdir())  # no half-written file left
    state = login("auditor").get(f"/laporan/ekspor/{job_id}.json").get_json()
    assert state["status"] == "failed" and state["error"].startswith("Terjadi galat saat menyusun berkas")
    notices = login("auditor").get("/notifikasi").get_data(as_text=True)
    assert "Unduhan gagal disiapkan" in notices and f"/laporan/ekspor/{job_id}" in notices


# ------------------------------------------------------------------------------------------- keeping
def test_files_are_removed_after_the_keeping_time(sc, system, tx, clock, login):
    job_id = _ask(system, tx, format="csv")
    worker = Worker(system)
    assert worker.run_exports() == 1
    job = _job(tx, job_id)
    path = system.settings.exports_dir / job.stored_name
    stray = system.settings.exports_dir / ".99-dead.csv.part"  # a run killed while writing
    stray.write_bytes(b"half")
    c = login("auditor")
    with c.get(f"/laporan/ekspor/{job_id}/unduh") as got:
        assert got.status_code == 200 and got.data == path.read_bytes()
    clock.advance(hours=71)
    assert worker.purge_exports() == 0 and path.exists()
    clock.advance(hours=2)
    resp = c.get(f"/laporan/ekspor/{job_id}/unduh")  # past its time: refused even before housekeeping ran
    assert resp.status_code == 422 and "melewati masa simpannya" in resp.get_data(as_text=True)
    import os

    old = (clock.now() - timedelta(hours=80)).timestamp()  # older than the keeping time, by the system's clock
    os.utime(stray, (old, old))
    assert worker.purge_exports() == 2
    assert not path.exists() and not stray.exists()
    assert _job(tx, job_id).stored_name is None
    assert c.get(f"/laporan/ekspor/{job_id}.json").get_json()["error_code"] == "export.expired"


def test_keep_hours_and_instant_max_come_from_the_environment(tmp_path):
    s = Settings.from_env(tmp_path, {"ALUR_EXPORT_KEEP_HOURS": "24", "ALUR_EXPORT_INSTANT_MAX": "50"})
    assert (s.export_keep_hours, s.export_instant_max) == (24.0, 50)
    d = Settings.from_env(tmp_path, {})
    assert (d.export_keep_hours, d.export_instant_max) == (72.0, 300)
    with pytest.raises(ValueError, match="ALUR_EXPORT_KEEP_HOURS"):
        Settings.from_env(tmp_path, {"ALUR_EXPORT_KEEP_HOURS": "0"})


# ------------------------------------------------------------------------------------------- the worker
def test_the_worker_loop_runs_a_queued_job_beside_its_timers(sc, system, tx):
    worker = Worker(system, interval=0.05)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        job_id = _ask(system, tx, format="csv")
        done = threading.Event()
        for _ in range(400):
            if _job(tx, job_id).status == "done":
                done.set()
                break
            done.wait(0.05)
        assert done.is_set(), "the worker did not take the queued job"
    finally:
        worker.stopping.set()
        thread.join(10)
    assert not thread.is_alive()


# ------------------------------------------------------------------------------------------- the web
def test_a_large_period_offers_a_background_download(sc, login):
    c = login("auditor")
    page = c.get("/laporan/register", query_string=MAY).get_data(as_text=True)
    assert "Siapkan unduhan" in page and 'action="/laporan/ekspor"' in page
    june = c.get("/laporan/register", query_string={"dari": "2025-06-01", "sampai": "2025-06-30"})
    assert "Siapkan unduhan" not in june.get_data(as_text=True)  # one case: instant
    assert "format=pdf" in june.get_data(as_text=True)
    index = c.get("/laporan", query_string=MAY).get_data(as_text=True)
    assert index.count('action="/laporan/ekspor"') == 4  # register, tanggapan, rekap, log


@pytest.mark.parametrize("path", ["/laporan/register", "/laporan/tanggapan", "/laporan/rekap", "/laporan/log.csv",
                                  "/laporan/log.xes"])
def test_a_direct_download_of_a_large_period_is_redirected_with_an_explanation(sc, login, path):
    c = login("auditor")
    resp = c.get(path, query_string={**MAY, "format": "pdf"})
    assert resp.status_code == 303 and "format" not in resp.headers["Location"]
    page = c.get(resp.headers["Location"]).get_data(as_text=True)
    assert "terlalu banyak untuk diunduh langsung" in page


def test_asking_through_the_page_then_downloading(sc, system, login):
    c = login("auditor")
    resp = c.post("/laporan/ekspor", data={**MAY, "jenis": "tanggapan", "format": "pdf", "menurut": "tanggapan"})
    assert resp.status_code == 303
    location = resp.headers["Location"]
    page = c.get(location).get_data(as_text=True)
    assert "<progress" in page and "Menunggu giliran" in page
    state = c.get(location + ".json").get_json()
    assert (state["status"], state["percent"], state["ready"]) == ("queued", 0, False)
    assert c.get(location + "/unduh").status_code == 422  # not ready yet
    Worker(system).run_exports()
    state = c.get(location + ".json").get_json()
    assert state["ready"] and state["percent"] == 100 and state["download_url"] == location + "/unduh"
    with c.get(state["download_url"]) as got:
        assert got.status_code == 200 and got.data.startswith(b"%PDF") and got.mimetype == "application/pdf"
        assert "attachment" in got.headers["Content-Disposition"]
        assert state["file_name"] in got.headers["Content-Disposition"]
    assert "Unduhan siap" in c.get("/notifikasi").get_data(as_text=True)
    listing = c.get("/laporan/ekspor").get_data(as_text=True)
    assert state["file_name"] in listing and "Tanggapan tertulis (PDF)" in listing


def test_bad_input_is_a_4xx_with_an_indonesian_message(sc, login):
    c = login("auditor")
    resp = c.post("/laporan/ekspor", data={**MAY, "jenis": "register", "format": "docx"})
    assert resp.status_code == 422 and "Format unduhan tidak dikenal" in resp.get_data(as_text=True)
    resp = c.post("/laporan/ekspor", data={"dari": "2025-05-31", "sampai": "2025-05-01", "jenis": "register",
                                           "format": "pdf"})
    assert resp.status_code == 422 and "Tanggal akhir tidak boleh sebelum tanggal awal" in resp.get_data(as_text=True)
    assert c.post("/laporan/ekspor", data={"jenis": "log", "format": "csv", "kasus": "abc"}).status_code == 422


def test_a_job_is_its_owners_only(sc, system, tx, login):
    with tx() as s:
        system.people.add_user(s, "root", "rahasia-root", ["admin"])
    job_id = _ask(system, tx, "auditor", format="csv")
    Worker(system).run_exports()
    other = login("root")  # sees the records too, but did not ask for this one
    for suffix in ("", ".json", "/unduh"):
        assert other.get(f"/laporan/ekspor/{job_id}{suffix}").status_code == 404
    assert f"/laporan/ekspor/{job_id}" not in other.get("/laporan/ekspor").get_data(as_text=True)
    with login("auditor").get(f"/laporan/ekspor/{job_id}/unduh") as mine:
        assert mine.status_code == 200
    tim = login("tim")  # works team-scoped lanes only: no records at all
    assert tim.get(f"/laporan/ekspor/{job_id}").status_code == 403
    assert tim.post("/laporan/ekspor", data={**MAY, "jenis": "register", "format": "pdf"}).status_code == 403


def test_an_export_in_progress_does_not_hold_back_due_timers(sc, system, tx, clock, monkeypatch):
    """The export thread is stuck rendering (a PDF builder that waits); the worker's main loop still fires a
    deadline that falls due meanwhile."""
    from engine.models import TaskRow
    from process import documents
    from tests.records_scenario import SopCase

    rendering, release = threading.Event(), threading.Event()
    real = documents.to_pdf

    def slow_pdf(*args, **kwargs):
        rendering.set()
        release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(documents, "to_pdf", slow_pdf)
    monkeypatch.delattr(documents, "write_pdf", raising=False)
    case = SopCase.open(system, tx, "Rapat Evaluasi", "2025-06-02")
    case.do("tim", "submit")  # step 2 is ready, with a deadline
    worker = Worker(system, interval=0.05)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        job_id = _ask(system, tx)
        assert rendering.wait(30), "the export did not start"
        clock.advance(days=5)  # step 2's deadline has passed: its timer is due
        marked = threading.Event()
        for _ in range(400):
            with tx() as s:
                if s.get(TaskRow, case.task_id).overdue_at is not None:
                    marked.set()
                    break
            marked.wait(0.05)
        assert marked.is_set(), "the due timer waited for the export"
        assert _job(tx, job_id).status == "running"  # ... which was still being rendered
    finally:
        release.set()
        worker.stopping.set()
        thread.join(30)
    assert not thread.is_alive()


def test_a_background_pdf_is_signed_as_chosen_and_numbered_like_the_instant_one(sc, system, tx, login):
    """The page's choice of signers travels with the job (the form carries ttdN); the PDF made by the worker prints
    them and takes the record's document number, which a later print of the same record re-uses."""
    from tests.test_documents import assert_no_blank_page, pdf_pages

    with tx() as s:
        pimred = _user(s, "pimred")
        pimred.full_name, pimred.jabatan, pimred.nip = "Şəki Nurhayati", "Pimpinan Redaksi", "198704122010012003"
        pimred_id = pimred.id
    c = login("auditor")
    page = c.get("/laporan/register", query_string={**MAY, "ttd3": pimred_id}).get_data(as_text=True)
    assert f'name="ttd3" value="{pimred_id}"' in page  # the "Siapkan unduhan" form keeps the choice
    resp = c.post("/laporan/ekspor", data={**MAY, "jenis": "register", "format": "pdf", "ttd1": "", "ttd2": "",
                                           "ttd3": str(pimred_id)})
    assert resp.status_code == 303
    Worker(system).run_exports()
    state = c.get(resp.headers["Location"] + ".json").get_json()
    with c.get(state["download_url"]) as got:
        data = got.data
    text = " ".join(pdf_pages(data))
    assert "Şəki Nurhayati" in text and "Pimpinan Redaksi" in text and "NIP. 19870412 201001 2 003" in text
    assert "Nomor: 001/REG-MEDSOS/" in text
    assert_no_blank_page(data)
    again = c.get("/laporan/register", query_string={**MAY, "format": "pdf", "ttd3": pimred_id})
    assert again.status_code == 303  # a large period: the direct download explains and points to the job
    bad = c.post("/laporan/ekspor", data={**MAY, "jenis": "register", "format": "pdf", "ttd1": "999999"})
    assert bad.status_code == 422

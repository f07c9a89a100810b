"""Export jobs: a record of a period too large to render within a request, made by the worker as a file.

A period with more cases than ``Settings.export_instant_max`` is downloaded this way (issue 17): the page asks for a
job (:func:`create`), the worker takes it (:func:`claim`) and makes the file (:func:`run`), reporting how far it is
in phases (``collecting`` the rows, then ``rendering`` the document) so the page's progress bar moves; the file is
written to a temporary name, then renamed, in ``Settings.exports_dir`` (``ALUR_EXPORT_DIR``; by default ``exports/``
beside the uploads folder, not in it: a backup copies the uploads folder whole), and kept
``Settings.export_keep_hours`` (:func:`purge_expired`, run by the worker's housekeeping). A PDF or workbook is
signed as the record's page chose (``ExportJob.signers``) and numbered as its instant download is
(:func:`_finish`). Whoever asked is notified when it is ready or failed (``notice.export_ready`` /
``notice.export_failed``), with a link to the job's page.

Transactions: the caller owns them, as everywhere else, except in :func:`run`, which is the worker's unit of work
and, like ops/worker.py, opens its own: the rows are read in a reading transaction (``System.readers``: on SQLite it
takes no writer turn, so the web's writers never wait for an export), and each progress update, the claim and the
result are small write transactions of their own.

A worker killed mid-way leaves its job ``running`` with a lease (``lease_until``) that nobody renews; once it has
run out, the next :func:`claim` takes the job again (at most :data:`MAX_ATTEMPTS` times, then it fails with
``export.worker_stopped``). PostgreSQL takes the next job with ``SKIP LOCKED`` (several workers take different jobs);
SQLite with a conditional UPDATE that only one writer can win.

Nothing here knows Flask.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from engine import wakeup
from engine.db import transaction
from engine.errors import NotFound
from engine.models import Instance

from . import docnumbers, documents, exports, records
from .errors import BadRequest
from .messages import known
from .models import ExportJob, Notification, RegisterEntry, User
from .records import Period
from .register import register_document

log = logging.getLogger(__name__)

#: What can be exported, and in which formats.
KINDS: dict[str, tuple[str, ...]] = {
    "register": ("pdf", "xlsx", "csv"),
    "tanggapan": ("pdf", "xlsx", "csv"),
    "rekap": ("pdf", "xlsx", "csv"),
    "log": ("csv", "xes"),
}
#: The period bases (``?menurut=``) of the records that have two (webui/reports.py BASES), first = default.
BASES = {"tanggapan": records.RESPONSE_BASES, "rekap": records.RECAP_BASES}
MIME = {"pdf": "application/pdf", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "csv": "text/csv; charset=utf-8", "xes": "application/xml; charset=utf-8"}
STATUSES = ("queued", "running", "done", "failed")
PHASES = ("collecting", "rendering", "writing")
#: How long a running job is its worker's without a sign of life (the worker renews it while it runs: progress
#: updates, and ops/worker.py's main loop every :data:`RENEW_EVERY` seconds).
LEASE = timedelta(seconds=90)
RENEW_EVERY = 15.0
#: Takes of one job (the first run and retakes after a worker died with it) before it is given up.
MAX_ATTEMPTS = 3
#: Seconds between progress updates written to the database (each is a small transaction).
PROGRESS_EVERY = 0.5
#: Share of the progress bar the collecting phase takes (the rest is rendering).
COLLECT_SHARE = 0.3


class Lost(Exception):
    """The job is no longer this runner's (its lease ran out and another worker took it)."""


# -------------------------------------------------------------------------------------------- asking
@dataclass(frozen=True)
class Request:
    """What a person asked for, as the record pages take it."""

    kind: str
    format: str
    process_key: str | None = None
    period: Period | None = None
    basis: str | None = None
    instance_id: int | None = None


def check(session: Session, rulebook, req: Request) -> Request:
    """The request with its defaults filled in, or a coded error (BadRequest 422, NotFound 404)."""
    if req.kind not in KINDS:
        raise BadRequest(f"unknown export kind {req.kind!r}", code="export.kind_unknown")
    if req.format not in KINDS[req.kind]:
        raise BadRequest(f"{req.kind} cannot be exported as {req.format!r}", code="export.format_unknown",
                         formats=", ".join(f.upper() for f in KINDS[req.kind]))
    basis = req.basis
    if req.kind in BASES:
        if not basis:
            basis = BASES[req.kind][0]
        elif basis not in BASES[req.kind]:
            raise BadRequest(f"unknown period basis {basis!r}", code="report.basis_unknown")
    else:
        basis = None
    instance_id = req.instance_id
    if instance_id is not None:
        if req.kind not in ("tanggapan", "log"):
            raise BadRequest("only the written responses and the log are made for one case",
                             code="export.case_not_allowed")
        if session.get(Instance, instance_id) is None:
            raise NotFound(f"no case {instance_id}", code="case.not_found", case=instance_id)
    elif req.period is None:
        raise BadRequest("an export needs a period or a case", code="export.period_missing")
    key = req.process_key
    if req.kind != "log" and instance_id is None:
        rules = rulebook.latest(session, key)
        if rules is None:
            raise NotFound(f"no procedure {key!r}", code="procedure.unknown", procedure=(key or "")[:100])
        if req.kind == "rekap" and not rules.has_recap:
            raise BadRequest(f"procedure {key!r} has no recap", code="export.no_recap")
    if req.kind == "log":
        key = None
    return Request(req.kind, req.format, key, req.period, basis, instance_id)


def create(session: Session, rulebook, user: User, req: Request, now: datetime,
           signers: Sequence[int | None] | None = None) -> ExportJob:
    """Queue an export of ``req`` for ``user`` (checked first: :func:`check`), its PDF signed by ``signers`` (user
    ids per signature block, None for a block left blank)."""
    req = check(session, rulebook, req)
    chosen = None if signers is None or req.kind == "log" else ",".join("" if i is None else str(i) for i in signers)
    job = ExportJob(user_id=user.id, kind=req.kind, format=req.format, process_key=req.process_key,
                    period_start=req.period.start if req.period else None,
                    period_end=req.period.end if req.period else None, basis=req.basis, signers=chosen,
                    instance_id=req.instance_id, status="queued", progress_done=0, progress_total=0, attempts=0,
                    created_at=now)
    session.add(job)
    session.flush()
    wakeup.soon(session)  # the worker's export thread takes it at once
    return job


def request_of(job: ExportJob) -> Request:
    period = Period(job.period_start, job.period_end) if job.period_start and job.period_end else None
    return Request(job.kind, job.format, job.process_key, period, job.basis, job.instance_id)


def size(session: Session, kind: str, period: Period, process_key: str | None = None) -> int:
    """How many cases a record of ``period`` holds, cheaply (one COUNT): whether it is downloaded at once or as a
    job. The register, written responses and recap: the procedure's register entries dated in the period; the log:
    the cases started in it."""
    if kind == "log":
        stmt = select(func.count()).select_from(Instance).where(Instance.created_at >= period.starts_at,
                                                                 Instance.created_at < period.ends_before)
    else:
        stmt = select(func.count()).select_from(RegisterEntry).where(
            RegisterEntry.created_at >= period.starts_at, RegisterEntry.created_at < period.ends_before)
        if process_key is not None:
            stmt = stmt.where(RegisterEntry.process_key == process_key)
    return int(session.execute(stmt).scalar() or 0)


def of_user(session: Session, user_id: int, job_id: int) -> ExportJob | None:
    """The job, when it is ``user_id``'s (a job of someone else is as good as absent)."""
    job = session.get(ExportJob, job_id)
    return job if job is not None and job.user_id == user_id else None


def recent(session: Session, user_id: int, limit: int = 50) -> list[ExportJob]:
    return list(session.execute(select(ExportJob).where(ExportJob.user_id == user_id)
                                .order_by(ExportJob.created_at.desc(), ExportJob.id.desc()).limit(limit)).scalars())


# -------------------------------------------------------------------------------------------- reading
def percent(job: ExportJob) -> int:
    """How far the job is, 0-100, over both phases (collecting :data:`COLLECT_SHARE`, then rendering)."""
    if job.status == "done":
        return 100
    if job.status != "running" or not job.phase:
        return 0
    share = job.progress_done / job.progress_total if job.progress_total else 0.0
    if job.phase == "collecting":
        value = COLLECT_SHARE * share
    elif job.phase == "rendering":
        value = COLLECT_SHARE + (1 - COLLECT_SHARE) * share
    else:  # writing the file
        value = 0.99
    return max(0, min(99, int(value * 100)))


def available(job: ExportJob, now: datetime) -> bool:
    """Whether the job's file can be downloaded (made, and not yet past its keeping time)."""
    return (job.status == "done" and job.stored_name is not None
            and (job.expires_at is None or job.expires_at > now))


def file_path(exports_dir: Path, job: ExportJob) -> Path:
    return exports_dir / job.stored_name


def error_message(job: ExportJob) -> dict[str, Any] | None:
    """Why the job failed, as a message (``{"code", "params"}``) to render in the reader's language."""
    if job.error_code is None:
        return None
    return {"code": job.error_code, "params": json.loads(job.error_params) if job.error_params else {}}


def label(job: ExportJob) -> dict[str, Any]:
    """What the job makes, as a message: "Register, PDF, 1 Januari 2025 – 31 Desember 2025"."""
    if job.instance_id is not None:
        scope = {"code": "export.scope_case", "params": {"case": job.instance_id}}
    else:
        scope = {"code": "export.scope_period", "params": {"start": job.period_start, "end": job.period_end}}
    return {"code": "export.label", "params": {"what": {"code": f"export.kind.{job.kind}"},
                                               "format": job.format.upper(), "scope": scope}}


# -------------------------------------------------------------------------------------------- the worker's side
def _takeable(now: datetime):
    return or_(ExportJob.status == "queued",
               (ExportJob.status == "running") & (ExportJob.lease_until < now))


def next_due(session: Session, now: datetime) -> datetime | None:
    """When a worker has an export to take: ``now`` for a queued job, the end of the earliest running job's lease
    (a worker may have died with it); None when there is none."""
    queued = session.execute(select(ExportJob.id).where(ExportJob.status == "queued").limit(1)).scalar()
    if queued is not None:
        return now
    return session.execute(select(func.min(ExportJob.lease_until)).where(ExportJob.status == "running")).scalar()


@dataclass(frozen=True)
class Claim:
    """A job taken by this worker: its id and the take (``attempts``) that makes it ours."""

    job_id: int
    attempt: int


def claim(session: Session, now: datetime) -> Claim | None:
    """Take the next job: the oldest queued one, or a running one whose lease ran out (its worker died). A job
    taken :data:`MAX_ATTEMPTS` times already is failed instead (``export.worker_stopped``) and the next one looked
    at. PostgreSQL: rows another worker is taking are skipped (``SKIP LOCKED``); SQLite: the UPDATE only succeeds
    while the row is still takeable."""
    postgres = session.get_bind().dialect.name == "postgresql"
    while True:
        stmt = select(ExportJob.id, ExportJob.attempts).where(_takeable(now)).order_by(ExportJob.created_at,
                                                                                       ExportJob.id).limit(1)
        if postgres:
            stmt = stmt.with_for_update(skip_locked=True)
        found = session.execute(stmt).first()
        if found is None:
            return None
        job_id, attempts = found
        if attempts >= MAX_ATTEMPTS:
            _fail(session, job_id, attempts, now, "export.worker_stopped", {"attempts": attempts})
            continue
        taken = session.execute(
            update(ExportJob).where(ExportJob.id == job_id, ExportJob.attempts == attempts, _takeable(now))
            .values(status="running", attempts=attempts + 1, started_at=now, lease_until=now + LEASE,
                    phase="collecting", progress_done=0, progress_total=0)
            .execution_options(synchronize_session=False))
        if taken.rowcount == 1:
            return Claim(job_id, attempts + 1)


def renew(session: Session, mine: Claim, now: datetime, **values) -> bool:
    """Move the lease of a job this worker runs on (with progress ``values``); False when it is no longer ours."""
    result = session.execute(
        update(ExportJob).where(ExportJob.id == mine.job_id, ExportJob.attempts == mine.attempt,
                                ExportJob.status == "running")
        .values(lease_until=now + LEASE, **values).execution_options(synchronize_session=False))
    return result.rowcount == 1


def _fail(session: Session, job_id: int, attempt: int, now: datetime, code: str, params: dict) -> bool:
    result = session.execute(
        update(ExportJob).where(ExportJob.id == job_id, ExportJob.attempts == attempt,
                                ExportJob.status.in_(("queued", "running")))
        .values(status="failed", error_code=code, error_params=json.dumps(params, ensure_ascii=False, default=str),
                finished_at=now, lease_until=None, phase=None)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        return False
    job = session.get(ExportJob, job_id)
    session.refresh(job)
    _notify(session, job, now, "export_failed", "notice.export_failed",
            {"what": label(job), "problem": error_message(job)})
    return True


def _notify(session: Session, job: ExportJob, now: datetime, kind: str, code: str, params: dict) -> None:
    """The in-app notification of whoever asked (its link to the job's page is ``params["export"]``)."""
    params = dict(params, export=job.id)
    session.add(Notification(user_id=job.user_id, kind=kind, message=None, code=code,
                             params=json.dumps(params, ensure_ascii=False, sort_keys=True, default=str),
                             created_at=now))


class _Progress:
    """``progress(done, total)`` of one phase, written to the job (with a renewed lease) at most every
    :data:`PROGRESS_EVERY` seconds, in a transaction of its own."""

    def __init__(self, system, mine: Claim, every: float = PROGRESS_EVERY):
        self.system, self.mine, self.every = system, mine, every
        self.phase = "collecting"
        self._written = 0.0

    def start(self, phase: str, total: int) -> None:
        self.phase = phase
        self._write(0, total, force=True)

    def __call__(self, done: int, total: int) -> None:
        self._write(done, total, force=done >= total)

    def _write(self, done: int, total: int, force: bool) -> None:
        now = time.monotonic()
        if not force and now - self._written < self.every:
            return
        self._written = now
        with transaction(self.system.sessions) as session:
            if not renew(session, self.mine, self.system.clock.now(), phase=self.phase, progress_done=done,
                         progress_total=total):
                raise Lost(f"export job {self.mine.job_id} was taken by another worker")


def _months(period: Period) -> list[Period]:
    """The period cut at month ends (the collecting phase reads one part at a time, so its progress moves)."""
    parts, start = [], period.start
    while start <= period.end:
        following = (start.replace(day=1) + timedelta(days=32)).replace(day=1)
        end = min(period.end, following - timedelta(days=1))
        parts.append(Period(start, end))
        start = following
    return parts


def _collect(session: Session, system, req: Request, progress: _Progress):
    """The document of ``req`` (register, written responses, recap), its rows read part by part where the record's
    order allows it (by register date: month by month, in order)."""
    rulebook, now = system.rules, system.clock.now()
    rules = rulebook.latest(session, req.process_key) if req.process_key else None
    if req.kind == "tanggapan" and req.instance_id is not None:
        progress.start("collecting", 1)
        cases = records.written_responses(session, instance_id=req.instance_id, rulebook=rulebook)
        progress(1, 1)
        return documents.responses_document(cases, now, period=None, procedure=cases[0].rules if cases else None,
                                            basis=req.basis or "register")
    if req.kind == "rekap":
        progress.start("collecting", 1)
        result = records.recap(session, req.period, rulebook, system.settings.platforms, basis=req.basis)
        progress(1, 1)
        return documents.recap_document(result, now, rules)
    chunked = req.kind == "register" or req.basis == "register"
    parts = _months(req.period) if chunked else [req.period]
    progress.start("collecting", len(parts))
    rows: list = []
    for done, part in enumerate(parts, 1):
        if req.kind == "register":
            rows += records.register_rows(session, part, rulebook, req.process_key)
        else:
            rows += records.written_responses(session, part, rulebook=rulebook, process_key=req.process_key,
                                              basis=req.basis)
        progress(done, len(parts))
    if req.kind == "register":
        return register_document(rows, req.period, now, rules)
    return documents.responses_document(rows, now, period=req.period, procedure=rules, basis=req.basis)


def _finish(system, job: ExportJob, req: Request, doc: documents.Document) -> documents.Document:
    """The record signed as its page chose, and numbered as the page's download does: a PDF takes its document
    number (the first print of the record issues the next one, in a short transaction of its own, before the long
    rendering), a workbook shows the number the record was given."""
    if job.signers is None:
        return doc
    ids = tuple(int(i) if i else None for i in job.signers.split(","))
    with system.readers() as session:
        doc = replace(doc, signers=docnumbers.signers_of(session, ids))
        owner = session.get(User, job.user_id)
        rules = (system.rules.latest(session, req.process_key) if req.instance_id is None
                 else system.rules.of_instance(session, req.instance_id))
    key = rules.process_key if req.instance_id is not None and rules is not None else (req.process_key or "")
    record = (docnumbers.Record(req.kind, key, instance_id=req.instance_id) if req.instance_id is not None
              else docnumbers.Record(req.kind, key, req.period, req.basis or ""))
    if job.format == "pdf":
        kode = rules.document_code(req.kind) if rules is not None else req.kind.upper()
        with transaction(system.sessions) as session:
            found = docnumbers.issue(session, record, fmt=system.settings.document_number_format, kode=kode,
                                     now=system.clock.now(), by=owner.actor if owner else None, signer_ids=ids)
        return docnumbers.numbered(doc, found)
    if job.format == "xlsx":
        with system.readers() as session:
            return docnumbers.numbered(doc, docnumbers.issued(session, record), pdf=False)
    return doc


def _rows_of(doc: documents.Document) -> int:
    return sum(len(t.rows) for t in doc.pdf_sections) if doc.pdf_sections else len(doc.table.rows)


def _render(job: ExportJob, doc: documents.Document, out: BinaryIO, progress: Callable[[int, int], None],
            letterhead=None) -> None:
    """Write ``doc`` in the job's format to ``out``, calling ``progress(done, total)`` as rows are rendered.

    The streaming writers (``documents.write_pdf`` / ``write_xlsx``) report per row; the whole-document builders
    (``to_pdf``, ``to_xlsx``, ``to_csv``) report once, at the end."""
    writer = getattr(documents, f"write_{job.format}", None)
    if writer is not None:
        writer(doc, out, letterhead=letterhead, progress=progress)
        return
    total = len(doc.table.rows) if job.format != "pdf" else _rows_of(doc)
    progress(0, total)
    if job.format == "csv":
        out.write(documents.to_csv(doc))
    elif job.format == "xlsx":
        out.write(documents.to_xlsx(doc, letterhead))
    else:
        out.write(documents.to_pdf(doc, letterhead))
    progress(total, total)


def _log(session: Session, system, req: Request, out: BinaryIO, progress: _Progress) -> None:
    """The event log (CSV: the period's events; XES: the cases started in it, or the one case)."""
    progress.start("collecting", 1)
    period = req.period
    if req.format == "csv":
        text = exports.events_csv(session, period=period, instance_id=req.instance_id)
        progress(1, 1)
        progress.start("rendering", 1)
        out.write(text.encode("utf-8"))
    else:
        data = exports.events_xes(session, rulebook=system.rules, period=period, instance_id=req.instance_id,
                                  now=system.clock.now())
        progress(1, 1)
        progress.start("rendering", 1)
        out.write(data)
    progress(1, 1)


def file_name(job: ExportJob, doc: documents.Document | None = None) -> str:
    if doc is not None:
        return doc.filename(job.format)
    if job.instance_id is not None:
        return f"log-kasus-{job.instance_id}.{job.format}"
    return f"log-{Period(job.period_start, job.period_end).slug}.{job.format}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run(system, mine: Claim, progress_every: float = PROGRESS_EVERY) -> bool:
    """Make the file of the claimed job (the worker's unit of work: opens its own transactions). True when it is
    done, False when it failed (the job says why) or was lost to another worker."""
    settings = system.settings
    with system.readers() as session:
        job = session.get(ExportJob, mine.job_id)
        session.expunge(job)
    req = request_of(job)
    progress = _Progress(system, mine, progress_every)
    folder = settings.exports_dir
    folder.mkdir(parents=True, exist_ok=True)
    stored = f"{job.id}-{secrets.token_hex(8)}.{job.format}"
    temp = folder / f".{stored}.part"
    try:
        with system.readers() as session, open(temp, "wb") as out:
            if req.kind == "log":
                name = file_name(job)
                _log(session, system, req, out, progress)
            else:
                doc = _finish(system, job, req, _collect(session, system, req, progress))
                name = file_name(job, doc)
                progress.start("rendering", _rows_of(doc))
                _render(job, doc, out, progress, settings.letterhead)
        progress.phase = "writing"
        progress._write(0, 1, force=True)
        os.replace(temp, folder / stored)
    except Lost:
        temp.unlink(missing_ok=True)
        log.warning("export job %s: taken by another worker (lease ran out); this run stops", job.id)
        return False
    except Exception as exc:
        temp.unlink(missing_ok=True)
        log.exception("export job %s failed", job.id)
        code = getattr(exc, "code", None)
        params = dict(getattr(exc, "params", None) or {}) if known(code) else {}
        with transaction(system.sessions) as session:
            _fail(session, job.id, mine.attempt, system.clock.now(),
                  code if known(code) and code != "engine_error" else "export.failed", params)
        return False
    size_, digest = (folder / stored).stat().st_size, _sha256(folder / stored)
    now = system.clock.now()
    with transaction(system.sessions) as session:
        result = session.execute(
            update(ExportJob).where(ExportJob.id == job.id, ExportJob.attempts == mine.attempt,
                                    ExportJob.status == "running")
            .values(status="done", phase=None, progress_done=1, progress_total=1, file_name=name[:200],
                    stored_name=stored, file_size=size_, sha256=digest, finished_at=now, lease_until=None,
                    expires_at=now + settings.export_keep)
            .execution_options(synchronize_session=False))
        if result.rowcount != 1:
            lost = True
        else:
            lost = False
            done = session.get(ExportJob, job.id)
            session.refresh(done)
            _notify(session, done, now, "export_ready", "notice.export_ready",
                    {"what": label(done), "expires_at": done.expires_at})
    if lost:
        (folder / stored).unlink(missing_ok=True)
        return False
    return True


def run_next(system) -> bool | None:
    """Claim and run the next job; None when there was none."""
    with transaction(system.sessions) as session:
        mine = claim(session, system.clock.now())
    if mine is None:
        return None
    return run(system, mine)


# -------------------------------------------------------------------------------------------- keeping
def purge_expired(session: Session, now: datetime, limit: int = 500) -> list[str]:
    """Forget the files of jobs past their keeping time; the stored names, to remove after the commit (so a
    rollback never leaves a job naming a file that is gone)."""
    rows = list(session.execute(
        select(ExportJob).where(ExportJob.stored_name.is_not(None), ExportJob.expires_at <= now)
        .order_by(ExportJob.expires_at).limit(limit).with_for_update(skip_locked=True)).scalars())
    names = [r.stored_name for r in rows]
    for row in rows:
        row.stored_name = None
    return names


def stray_exports(session: Session, exports_dir: Path, now: datetime, older_than: timedelta) -> list[str]:
    """Files in the exports folder no job names, older than ``older_than`` (a run killed while writing leaves its
    ``.part``; a job whose row is gone leaves its file)."""
    if not exports_dir.is_dir():
        return []
    cutoff = (now - older_than).timestamp()
    old = [e.name for e in os.scandir(exports_dir) if e.is_file(follow_symlinks=False) and e.stat().st_mtime < cutoff]
    if not old:
        return []
    known = set(session.execute(select(ExportJob.stored_name).where(ExportJob.stored_name.in_(old))).scalars())
    return [n for n in old if n not in known]


def remove_files(exports_dir: Path, names: list[str]) -> None:
    for name in names:
        if os.sep in name or "/" in name:
            continue
        (exports_dir / name).unlink(missing_ok=True)

"""Large record downloads, made in the background by the worker (process/exportjobs.py, issue 17).

A record page whose period holds more cases than ``ALUR_EXPORT_INSTANT_MAX`` shows "Siapkan unduhan" buttons instead
of direct downloads: they POST here (``/laporan/ekspor``), which queues a job and sends the person to its page
(``/laporan/ekspor/<id>``). The page shows a ``<progress>`` bar that its script moves by polling
``/laporan/ekspor/<id>.json``, then the download link (``/laporan/ekspor/<id>/unduh``); a notification says the
same. ``/laporan/ekspor`` lists the person's recent exports.

Who: whoever sees the records (webui/access.py sees_records); a job is its owner's only: for anyone else it does not
exist (404).
"""
from __future__ import annotations

from flask import Blueprint, abort, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from process import exportjobs
from process.errors import BadRequest
from process.forms import FormInvalid
from process.models import ExportJob
from process.records import Period

from . import i18n, reports
from .access import access_required, me, sees_records
from .db import db, system
from .ids import _id_problem, as_id

bp = Blueprint("exports", __name__)

STATUS_LABELS = {"queued": _l("Menunggu giliran"), "running": _l("Sedang disusun"), "done": _l("Siap diunduh"),
                 "failed": _l("Gagal")}
PHASE_LABELS = {"collecting": _l("Mengumpulkan data"), "rendering": _l("Menyusun berkas"),
                "writing": _l("Menyimpan berkas")}


def _status_text(job: ExportJob) -> str:
    now = system().clock.now()
    if job.status == "done" and not exportjobs.available(job, now):
        return _("Kedaluwarsa")
    if job.status == "running" and job.phase:
        return str(PHASE_LABELS.get(job.phase, STATUS_LABELS["running"]))
    return str(STATUS_LABELS.get(job.status, job.status))


def _mine(job_id: int) -> ExportJob:
    job = exportjobs.of_user(db(), me().id, job_id)
    if job is None:
        abort(404)  # someone else's job is as good as absent
    return job


def _form_period() -> Period | None:
    """The period of the form (``dari``/``sampai``, as the record pages read them), None without one."""
    from .reports import period_from_request

    form = request.form
    if not (form.get("dari") or form.get("sampai") or form.get("periode")):
        return None
    return period_from_request(form)


def _form_case() -> int | None:
    raw = (request.form.get("kasus") or "").strip()
    if not raw:
        return None
    number = as_id(raw)
    if number is None:
        raise FormInvalid([_id_problem("kasus")])
    return number


def state(job: ExportJob) -> dict:
    """The job as its page's script and the JSON API read it."""
    now = system().clock.now()
    ready = exportjobs.available(job, now)
    error = exportjobs.error_message(job)
    if job.status == "done" and not ready:
        error = {"code": "export.expired"}
    return {
        "id": job.id, "kind": job.kind, "format": job.format, "status": job.status, "phase": job.phase,
        "status_text": _status_text(job), "percent": exportjobs.percent(job),
        "done": job.progress_done, "total": job.progress_total,
        "label": i18n.message(exportjobs.label(job)),
        "error": i18n.message(error) if error else None, "error_code": error["code"] if error else None,
        "ready": ready, "file_name": job.file_name if ready else None, "file_size": job.file_size if ready else None,
        "sha256": job.sha256 if ready else None,
        "download_url": url_for("exports.download", job_id=job.id) if ready else None,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "expires_at": job.expires_at.isoformat() if job.expires_at else None,
    }


@bp.post("/laporan/ekspor")
@access_required(sees_records)
def create():
    """Queue an export of the record the form names (``jenis``, ``format``, the period, ``prosedur``, ``menurut``
    or ``kasus``); 303 to the job's page."""
    form = request.form
    instance_id = _form_case()
    req = exportjobs.Request(kind=(form.get("jenis") or "").strip(), format=(form.get("format") or "").strip(),
                             process_key=(form.get("prosedur") or "").strip()[:200] or system().settings.process_key,
                             period=None if instance_id is not None else _form_period(),
                             basis=(form.get("menurut") or "").strip() or None, instance_id=instance_id)
    req = exportjobs.check(db(), system().rules, req)
    signers = None
    if req.kind != "log":  # a printed record is signed as chosen on its page (the form carries ttdN)
        rules = system().rules.latest(db(), req.process_key) if req.instance_id is None else \
            system().rules.of_instance(db(), req.instance_id)
        signers = reports.chosen_signers(rules, req.kind, request.form).ids
    job = exportjobs.create(db(), system().rules, me(), req, system().clock.now(), signers=signers)
    return redirect(url_for("exports.show", job_id=job.id), 303)


@bp.get("/laporan/ekspor")
@access_required(sees_records)
def index():
    jobs = exportjobs.recent(db(), me().id)
    return render_template("reports/exports.html", jobs=[state(j) for j in jobs],
                           keep_hours=system().settings.export_keep_hours)


@bp.get("/laporan/ekspor/<id:job_id>")
@access_required(sees_records)
def show(job_id: int):
    job = _mine(job_id)
    return render_template("reports/export.html", job=state(job), keep_hours=system().settings.export_keep_hours)


@bp.get("/laporan/ekspor/<id:job_id>.json")
@access_required(sees_records)
def show_json(job_id: int):
    response = jsonify(state(_mine(job_id)))
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/laporan/ekspor/<id:job_id>/unduh")
@access_required(sees_records)
def download(job_id: int):
    job = _mine(job_id)
    settings = system().settings
    if not exportjobs.available(job, system().clock.now()):
        code = "export.expired" if job.status == "done" else "export.not_ready"
        raise BadRequest(f"export {job.id} has no file to download", code=code)
    path = exportjobs.file_path(settings.exports_dir, job)
    if not path.is_file():
        raise BadRequest(f"export {job.id}: file gone", code="export.expired")
    response = send_file(path, mimetype=exportjobs.MIME[job.format], as_attachment=True,
                         download_name=job.file_name, etag=job.sha256, conditional=True)
    response.headers["Cache-Control"] = "private, no-store"
    return response

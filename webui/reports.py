"""A procedure's records for a period (register, written responses, and the recap when a step of it writes a post
list) as pages and downloads (XLSX, CSV, PDF), titled as its diagram declares; the event log as CSV and XES. The
procedure is chosen with ``?prosedur=<process id>`` (the default procedure otherwise).

Who: auditors, administrators, and who sees every case through the lanes they work (Admin Medsos, Wakil Pimpinan
Redaksi, Pimpinan Redaksi: webui/access.py sees_records). Who works only team-scoped lanes (Tim Pelaksana) gets 403:
the records cover every team's cases, and a team sees its own cases on the case pages.
Every view here only reads; nothing is written.
"""
from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_timedelta
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from engine.errors import NotFound
from engine.models import Instance
from process import documents, exportjobs, exports, inputs, records
from process.deadlines import WIB
from process.declarations import Declarations
from process.errors import BadRequest
from process.records import Period
from process.register import register_document

from . import i18n
from .access import access_required, sees_records
from .cases import decision_label, outcomes
from .db import db, system
from .ids import query_id

bp = Blueprint("reports", __name__)


FORMATS = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "pdf": "application/pdf",
}

PRESETS = {
    "bulan-ini": (_l("Bulan ini"), Period.this_month),
    "bulan-lalu": (_l("Bulan lalu"), Period.last_month),
    "tahun-ini": (_l("Tahun ini"), Period.this_year),
}

def _step_text(rules: Declarations, steps) -> str:
    """"langkah 2, 3, 4" (or the steps' names when they have no number)."""
    numbers = sorted(s.number for s in steps if s.number is not None)
    if numbers:
        return _("langkah %(numbers)s", numbers=", ".join(map(str, numbers)))
    return ", ".join(s.short for s in steps) or "—"


def reports_of(rules: Declarations) -> dict[str, tuple[str, str]]:
    """``{report: (title, description)}`` of a procedure: its register and written responses, and its recap when a
    step of it writes a post list; titles as its diagram declares them (the records themselves are in Bahasa
    Indonesia)."""
    register = rules.register_step
    found = {
        "register": (rules.register_title,
                     _("Satu entri bernomor per kasus, dicatat saat %(step)s diselesaikan.",
                       step=_step_text(rules, [register] if register else []))),
        "tanggapan": (rules.responses_heading,
                      _("Tanggapan tertulis pada %(steps)s, per kasus yang diregister dalam periode.",
                        steps=_step_text(rules, [s for s in rules.steps.values() if s.response]))),
    }
    if rules.has_recap:
        found["rekap"] = (rules.recap_heading,
                          _("Setiap unggahan per platform dari kasus yang %(step)s-nya selesai dalam periode, dengan "
                            "ketepatan waktunya.", step=_step_text(rules, rules.steps_with("posts"))))
    return found


@bp.app_context_processor
def _nav():
    visible = bool(current_user.is_authenticated and sees_records())
    return {"reports_visible": visible}


# ------------------------------------------------------------------------------------------- period
def _day(name: str, label: str, args=None) -> date | None:
    """One end of the period, by the date rule of process/inputs.py (TTTT-BB-HH, between the earliest day a
    record can have and a year from today)."""
    raw = ((request.args if args is None else args).get(name) or "").strip()
    if not raw:
        return None
    try:
        return inputs.query_date(raw, system().clock.now().astimezone(WIB).date())
    except inputs.Refused as refused:
        if refused.code == "date_window":
            raise refused.labelled(label) from None
        raise BadRequest(f"unreadable date in ?{name}=", code="report.date_unreadable", label=label) from None


def period_from_request(args=None) -> Period:
    """``?periode=bulan-ini|bulan-lalu|tahun-ini`` or ``?dari=…&sampai=…`` (WIB days); this month by default.
    ``args``: where to read them (a POSTed form), the query string by default."""
    args = request.args if args is None else args
    now = system().clock.now()
    preset = args.get("periode")
    if preset in PRESETS:
        return PRESETS[preset][1](now)
    start, end = _day("dari", _("Tanggal awal"), args), _day("sampai", _("Tanggal akhir"), args)
    if start is None and end is None:
        return Period.this_month(now)
    start, end = start or end, end or start
    if end < start:
        raise BadRequest("period ends before it starts", code="report.period_reversed")
    return Period(start, end)


def _case_arg() -> int | None:
    instance_id = query_id("kasus")
    if instance_id is not None and db().get(Instance, instance_id) is None:
        abort(404)
    return instance_id


def _period_args(period: Period, procedure: str | None = None) -> dict:
    args = {"dari": period.start.isoformat(), "sampai": period.end.isoformat()}
    if procedure:
        args["prosedur"] = procedure
    return args


def _context(period: Period, key: str | None = None, **extra) -> dict:
    now = system().clock.now()
    chosen, rules = _procedure()
    procedures = system().cases.procedures(db())
    shown = chosen if request.args.get("prosedur") else None  # links keep a procedure that was chosen
    presets = [{"key": k, "label": label, "args": _period_args(make(now), shown)}
               for k, (label, make) in PRESETS.items()]
    return {"period": period, "period_args": _period_args(period, shown), "presets": presets,
            "reports": reports_of(rules), "report_key": key, "formats": tuple(FORMATS), "procedure": chosen,
            "procedure_rules": rules, "procedures": procedures if len(procedures) > 1 else [], **extra}


# ------------------------------------------------------------------------------------------- helpers
def _download(data: bytes, filename: str, content_type: str) -> Response:
    response = Response(data, content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _format_arg() -> str | None:
    fmt = request.args.get("format")
    if fmt is None:
        return None
    if fmt not in FORMATS:
        raise BadRequest(f"unknown download format {fmt!r}", code="report.format_unknown")
    return fmt


#: ``?menurut=`` of the records whose period can be read two ways (offices differ): value → label.
BASES = {
    "tanggapan": {"register": _l("tanggal register kasus (semua tanggapannya)"),
                  "tanggapan": _l("tanggal tanggapan ditulis")},
    "rekap": {"unggah": _l("waktu unggah (yang diisi admin)"),
              "selesai": _l("waktu langkah unggah diselesaikan")},
}


def _basis_arg(report: str) -> str:
    """``?menurut=`` for ``report`` (its first choice when absent)."""
    choices = BASES[report]
    value = request.args.get("menurut")
    if value is None or value == "":
        return next(iter(choices))
    if value not in choices:
        raise BadRequest(f"unknown period basis {value!r}", code="report.basis_unknown")
    return value


def _bases(report: str, chosen: str) -> dict:
    return {"bases": [(k, label) for k, label in BASES[report].items()], "basis": chosen}


def _send_document(doc: documents.Document, fmt: str) -> Response:
    writer = {"xlsx": lambda d: documents.to_xlsx(d, system().settings.letterhead), "csv": documents.to_csv,
              "pdf": lambda d: documents.to_pdf(d, system().settings.letterhead)}[fmt]
    return _download(writer(doc), doc.filename(fmt), FORMATS[fmt])


def _lateness(delta: timedelta | None) -> str:
    if delta is None:
        return ""
    return format_timedelta(delta, granularity="second", threshold=1.0, add_direction=False)


def _procedure_arg() -> str:
    """Whose records: ``?prosedur=<process id>``, the default procedure's otherwise."""
    return (request.args.get("prosedur") or "").strip()[:200] or system().settings.process_key


def _procedure() -> tuple[str, Declarations]:
    """The chosen procedure and the declarations of its newest version (404 for one that is not deployed)."""
    key = _procedure_arg()
    rules = system().rules.latest(db(), key)
    if rules is None:
        raise NotFound(f"no procedure {key!r}", code="procedure.unknown", procedure=key[:100])
    return key, rules


def _shown_value(rules: Declarations | None, field_id: str, value) -> str:
    """A case data value in a register column: a choice by its label."""
    if value in (None, ""):
        return "—"
    label = rules.value_label(field_id, value) if rules is not None else None
    return label if label is not None else str(value)


def _decision(case: records.CaseResponses, response: records.ResponseRow) -> str:
    """A response's decision as its step's form names the choice."""
    return decision_label(case.rules, response.bpmn_id, response.decision) or ""


# ------------------------------------------------------------------------------- large periods
def _job(kind: str, period: Period, key: str | None) -> dict | None:
    """``{"kind", "cases"}`` when ``period`` holds more cases than ``ALUR_EXPORT_INSTANT_MAX``: its downloads are made
    by the worker (webui/exportjobs.py); None when they are instant."""
    cases = exportjobs.size(db(), kind, period, key)
    return {"kind": kind, "cases": cases} if cases > system().settings.export_instant_max else None


def _too_large(kind: str, period: Period | None, key: str | None):
    """A redirect to the record's page, saying why, for a direct download of a period too large to make within a
    request (the page offers "Siapkan unduhan" instead); None when the download may go ahead."""
    if period is None:
        return None
    job = _job(kind, period, key)
    if job is None:
        return None
    flash(_("Periode ini memuat %(n)s kasus, terlalu banyak untuk diunduh langsung: pilih “Siapkan unduhan” "
            "dan berkasnya disusun di latar belakang.", n=job["cases"]), "info")
    args = {k: v for k, v in request.args.items() if k != "format"}
    endpoint = "reports.index" if kind == "log" else f"reports.{kind}"
    return redirect(url_for(endpoint, **args), 303)


# -------------------------------------------------------------------------------------------- pages
@bp.get("/laporan")
@access_required(sees_records)
def index():
    try:
        period = period_from_request()
        problem = None
    except BadRequest as exc:
        period, problem = Period.this_month(system().clock.now()), i18n.error_text(exc)
    context = _context(period)
    records_job = _job("register", period, context["procedure"])
    jobs = {key: dict(records_job, kind=key) if records_job else None for key in context["reports"]}
    jobs["log"] = _job("log", period, None)
    return render_template("reports/index.html", problem=problem, jobs=jobs,
                           dari=request.args.get("dari", ""), sampai=request.args.get("sampai", ""),
                           **context), (422 if problem else 200)


@bp.get("/laporan/register")
@access_required(sees_records)
def register():
    period = period_from_request()
    fmt = _format_arg()
    key, rules = _procedure()
    if fmt and (too_large := _too_large("register", period, key)):
        return too_large
    job = None if fmt else _job("register", period, key)
    rows = records.register_rows(db(), period, system().rules, key)
    if fmt:
        return _send_document(register_document(rows, period, system().clock.now(), rules), fmt)
    step = rules.register_step
    columns = [(documents.field_title(rules, fid, fid), fid) for fid in (step.register_columns if step else ())]
    files = step is not None and any(f.type == "files" for f in rules.forms.get(step.bpmn_id, ()))
    deadline = step is not None and (step.deadline_required or any(r.due_at is not None for r in rows))
    return render_template("reports/register.html", rows=rows, outcome=outcomes().__getitem__, columns=columns,
                           show_files=files, show_deadline=deadline, lateness=_lateness,
                           by_label=(step.register_by if step else None) or "Dicatat oleh",
                           shown=_shown_value, job=job, **_context(period, "register"))


@bp.get("/laporan/tanggapan")
@access_required(sees_records)
def tanggapan():
    instance_id = _case_arg()
    period = period_from_request()
    fmt = _format_arg()
    basis = _basis_arg("tanggapan")
    session = db()
    job = None
    if instance_id is not None:
        cases = records.written_responses(session, instance_id=instance_id, rulebook=system().rules)
        doc_period, rules = None, cases[0].rules if cases else None
    else:
        key, rules = _procedure()
        if fmt and (too_large := _too_large("tanggapan", period, key)):
            return too_large
        job = None if fmt else _job("tanggapan", period, key)
        cases = records.written_responses(session, period, rulebook=system().rules, process_key=key, basis=basis)
        doc_period = period
    if fmt:
        doc = documents.responses_document(cases, system().clock.now(), period=doc_period, procedure=rules,
                                           basis=basis)
        return _send_document(doc, fmt)
    context = _context(period, "tanggapan", **_bases("tanggapan", basis))
    if instance_id is not None and rules is not None:  # one case: titled as its own procedure declares
        context.update(reports=reports_of(rules), procedure_rules=rules)
    return render_template("reports/tanggapan.html", cases=cases, single=instance_id, outcome=outcomes().__getitem__,
                           decision=_decision, job=job, **context)


@bp.get("/laporan/rekap")
@access_required(sees_records)
def rekap():
    period = period_from_request()
    fmt = _format_arg()
    key, rules = _procedure()
    if not rules.has_recap:
        abort(404)  # no step of this procedure writes a post list: it has no recap
    basis = _basis_arg("rekap")
    if fmt and (too_large := _too_large("rekap", period, key)):
        return too_large
    job = None if fmt else _job("rekap", period, key)
    result = records.recap(db(), period, system().rules, system().settings.platforms, basis=basis)
    if fmt:
        return _send_document(documents.recap_document(result, system().clock.now(), rules), fmt)
    return render_template("reports/rekap.html", recap=result, lateness=_lateness, job=job,
                           **_context(period, "rekap", **_bases("rekap", basis)))


# ------------------------------------------------------------------------------------ event log
@bp.get("/laporan/log.csv")
@access_required(sees_records)
def log_csv():
    instance_id = _case_arg()
    period = None if instance_id is not None and not request.args.get("dari") else period_from_request()
    if instance_id is None and (too_large := _too_large("log", period, None)):
        return too_large
    text = exports.events_csv(db(), period=period, instance_id=instance_id)
    return _download(text.encode("utf-8"), _log_name(period, instance_id, "csv"), FORMATS["csv"])


@bp.get("/laporan/log.xes")
@access_required(sees_records)
def log_xes():
    instance_id = _case_arg()
    period = None if instance_id is not None and not request.args.get("dari") else period_from_request()
    if instance_id is None and (too_large := _too_large("log", period, None)):
        return too_large
    data = exports.events_xes(db(), rulebook=system().rules, period=period, instance_id=instance_id,
                              now=system().clock.now())
    return _download(data, _log_name(period, instance_id, "xes"), "application/xml; charset=utf-8")


def _log_name(period: Period | None, instance_id: int | None, ext: str) -> str:
    if instance_id is not None:
        return f"log-kasus-{instance_id}.{ext}"
    return f"log-{period.slug}.{ext}"


"""A procedure's records for a period (register, written responses, and the recap when a step of it writes a post
list) as pages and downloads (XLSX, CSV, PDF), titled as its diagram declares; the event log as CSV and XES. The
procedure is chosen with ``?prosedur=<process id>`` (the default procedure otherwise).

Who: auditors, administrators, and who sees every case through the lanes they work (Admin Medsos, Wakil Pimpinan
Redaksi, Pimpinan Redaksi: webui/access.py sees_records). Who works only team-scoped lanes (Tim Pelaksana) gets 403:
the records cover every team's cases, and a team sees its own cases on the case pages.
Every view here only reads, but for a record's PDF: its first print is given a document number
(process/docnumbers.py), written in the download request's transaction. Each signature block of a record is signed
by an active user chosen on the record's page (``?ttd1=<user id>&ttd2=…``; empty: lines to fill in by hand), printed
with their official title and NIP.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_timedelta
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from engine.errors import NotFound
from engine.models import Instance
from process import docnumbers, documents, exportjobs, exports, inputs, records
from process.deadlines import WIB
from process.declarations import DOCUMENT_CODE_PREFIXES, Declarations
from process.errors import BadRequest
from process.models import User
from process.records import Period
from process.register import register_document

from . import i18n
from .access import access_required, me, sees_records
from .cases import decision_label, outcomes
from .db import db, system, write_instead
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


def _send_document(doc: documents.Document, fmt: str, record: docnumbers.Record | None = None,
                   signing: Signing | None = None) -> Response:
    """The record as a file: signed as chosen; a PDF given its document number (the first print of the record
    takes the next one, written in this request's transaction), a workbook showing the number it was given."""
    if signing is not None:
        doc = replace(doc, signers=signing.signers)
    if record is not None and fmt == "pdf":
        found = docnumbers.issued(db(), record)  # a re-print only reads
        if found is None:
            # The first print writes its number: the request's reading transaction gives way to a write one (what
            # was read stays as read), committed with the response. It holds the series' counter (PostgreSQL: its
            # row; SQLite: the write turn) while the PDF is made.
            found = docnumbers.issue(write_instead(), record, fmt=system().settings.document_number_format,
                                     kode=signing.code if signing else record.kind.upper(),
                                     now=system().clock.now(), by=me().actor,
                                     signer_ids=signing.ids if signing else ())
        doc = docnumbers.numbered(doc, found)
    elif record is not None and fmt == "xlsx":
        doc = docnumbers.numbered(doc, docnumbers.issued(db(), record), pdf=False)
    writer = {"xlsx": lambda d: documents.to_xlsx(d, system().settings.letterhead), "csv": documents.to_csv,
              "pdf": lambda d: documents.to_pdf(d, system().settings.letterhead)}[fmt]
    return _download(writer(doc), doc.filename(fmt), FORMATS[fmt])


# ------------------------------------------------------------------------------------------ signers
@dataclass(frozen=True)
class SignatureBlock:
    field: str  # ttd1, ttd2, …
    heading: str
    role: str
    chosen: int | None  # the user id


@dataclass(frozen=True)
class Signing:
    """A record's signature blocks and who signs each (from ``?ttdN=``, else the defaults)."""

    blocks: tuple[SignatureBlock, ...]
    users: tuple[User, ...]  # whom a block may name: the active users
    code: str  # the record's document code (``REG-MEDSOS``)

    @property
    def ids(self) -> tuple[int | None, ...]:
        return tuple(b.chosen for b in self.blocks)

    @property
    def signers(self) -> tuple[documents.Signer | None, ...]:
        by_id = {u.id: u for u in self.users}
        return tuple(_signer(by_id[b.chosen]) if b.chosen in by_id else None for b in self.blocks)

    @property
    def args(self) -> dict[str, str]:
        """The query arguments that keep this choice (the download links carry them)."""
        return {b.field: "" if b.chosen is None else str(b.chosen) for b in self.blocks}


def _signer(user: User) -> documents.Signer:
    return docnumbers.signer_of(user)


def _active_users() -> list[User]:
    return list(db().execute(select(User).where(User.active.is_(True)).order_by(User.username)).scalars())


def _default_signer(rules: Declarations | None, index: int, heading: str, users: dict[int, User]) -> int | None:
    """Who signs a block unless chosen: who prints the record signs "Dibuat oleh"; another block, the first active
    member of its lane (``alur:sign lane``, or the lane named as its role); nobody (lines to fill in) otherwise."""
    if heading.strip().lower().startswith("dibuat") and me().id in users:
        return me().id
    lane = rules.signature_lane(index) if rules is not None else ""
    if lane:
        for user in system().people.eligible_users(db(), lane):
            if user.id in users:
                return user.id
    return None


def chosen_signers(rules: Declarations | None, kind: str, values=None) -> Signing:
    """The signature blocks of ``kind``'s record of ``rules`` and who signs each: ``?ttdN=<user id>`` (any active
    user; empty: nobody), else the default. An id that is no active user's: 422. ``values``: where the choice is
    read (the query by default; a background export's form)."""
    values = request.args if values is None else values
    blocks = documents.record_header(rules)["signatures"]
    users = _active_users()
    by_id = {u.id: u for u in users}
    chosen = []
    for index, (heading, role) in enumerate(blocks):
        name = f"ttd{index + 1}"
        raw = values.get(name)
        if raw is None:
            user_id = _default_signer(rules, index, heading, by_id)
        elif raw.strip() == "":
            user_id = None
        else:
            text = raw.strip()
            user_id = int(text) if text.isascii() and text.isdigit() and len(text) < 10 else None
            if user_id not in by_id:
                raise BadRequest(f"no active user {raw[:20]!r} to sign block {index + 1}",
                                 code="report.signer_unknown", block=(heading.rstrip(", ") or role or name)[:100])
        chosen.append(SignatureBlock(name, heading, role, user_id))
    code = rules.document_code(kind) if rules is not None else DOCUMENT_CODE_PREFIXES.get(kind, kind.upper())
    return Signing(tuple(chosen), tuple(users), code)


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
    signing = chosen_signers(rules, "register")
    if fmt and (too_large := _too_large("register", period, key)):
        return too_large
    job = None if fmt else _job("register", period, key)
    rows = records.register_rows(db(), period, system().rules, key)
    if fmt:
        return _send_document(register_document(rows, period, system().clock.now(), rules), fmt,
                              docnumbers.Record("register", key, period), signing)
    step = rules.register_step
    columns = [(documents.field_title(rules, fid, fid), fid) for fid in (step.register_columns if step else ())]
    files = step is not None and any(f.type == "files" for f in rules.forms.get(step.bpmn_id, ()))
    deadline = step is not None and (step.deadline_required or any(r.due_at is not None for r in rows))
    return render_template("reports/register.html", rows=rows, outcome=outcomes().__getitem__, columns=columns,
                           show_files=files, show_deadline=deadline, lateness=_lateness,
                           by_label=(step.register_by if step else None) or "Dicatat oleh",
                           shown=_shown_value, signing=signing, job=job, **_context(period, "register"))


@bp.get("/laporan/tanggapan")
@access_required(sees_records)
def tanggapan():
    fmt = _format_arg()
    instance_id = _case_arg()
    period = period_from_request()
    basis = _basis_arg("tanggapan")
    session = db()
    job = None
    if instance_id is not None:
        cases = records.written_responses(session, instance_id=instance_id, rulebook=system().rules)
        doc_period, rules = None, cases[0].rules if cases else None
        key = rules.process_key if rules is not None else ""
        record = docnumbers.Record("tanggapan", key, instance_id=instance_id)
    else:
        key, rules = _procedure()
        if fmt and (too_large := _too_large("tanggapan", period, key)):
            return too_large
        job = None if fmt else _job("tanggapan", period, key)
        cases = records.written_responses(session, period, rulebook=system().rules, process_key=key, basis=basis)
        doc_period = period
        record = docnumbers.Record("tanggapan", key, period, basis)
    signing = chosen_signers(rules, "tanggapan")
    if fmt:
        doc = documents.responses_document(cases, system().clock.now(), period=doc_period, procedure=rules,
                                           basis=basis)
        return _send_document(doc, fmt, record, signing)
    context = _context(period, "tanggapan", **_bases("tanggapan", basis))
    if instance_id is not None and rules is not None:  # one case: titled as its own procedure declares
        context.update(reports=reports_of(rules), procedure_rules=rules)
    return render_template("reports/tanggapan.html", cases=cases, single=instance_id, outcome=outcomes().__getitem__,
                           decision=_decision, signing=signing, job=job, **context)


@bp.get("/laporan/rekap")
@access_required(sees_records)
def rekap():
    period = period_from_request()
    fmt = _format_arg()
    key, rules = _procedure()
    if not rules.has_recap:
        abort(404)  # no step of this procedure writes a post list: it has no recap
    basis = _basis_arg("rekap")
    signing = chosen_signers(rules, "rekap")
    if fmt and (too_large := _too_large("rekap", period, key)):
        return too_large
    job = None if fmt else _job("rekap", period, key)
    result = records.recap(db(), period, system().rules, system().settings.platforms, basis=basis)
    if fmt:
        return _send_document(documents.recap_document(result, system().clock.now(), rules), fmt,
                              docnumbers.Record("rekap", key, period, basis), signing)
    return render_template("reports/rekap.html", recap=result, lateness=_lateness, signing=signing, job=job,
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


"""Cases: opening one (who works the start lane: Tim Pelaksana), the list, one case's file and its diagram's state."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from sqlalchemy import select

from engine.errors import Problem
from engine.models import Instance, TaskRow
from process import paging, permissions, search
from process.casefile import (
    CaseView,
    HistoryEvent,
    case_diagram,
    case_list,
    case_outcome,
    case_view,
    display_names,
    outcome_labels,
    outcome_success,
)
from process.caseops import MAX_COMMENT, MAX_REASON, cancellations
from process.deadlines import WIB
from process.declarations import Declarations
from process.errors import BadRequest
from process.forms import FormInvalid
from process.models import Team
from process.sorting import ACTIVITY_DATE, CHANGED, CREATED, DEADLINE, RELEVANCE, Sort, parse_sort

from . import drafts, i18n, taskforms
from .access import access_required, lane_map, may_start_case, me, my_lanes, sees_all_cases
from .db import db, system, write_instead
from .ids import query_id, query_procedure
from .inbox import back_cursors, deadline_info
from .problems import problem_text
from .savedfilters import quick_links

bp = Blueprint("cases", __name__)

PER_PAGE = 50

#: How a case stands when its end declares no outcome of its own (process.casefile.GENERIC_OUTCOMES).
GENERIC_OUTCOME_LABELS = {
    "berjalan": _l("Berjalan"),
    "selesai": _l("Selesai"),
    "galat": _l("Terhenti karena galat"),
    "dibatalkan": _l("Dibatalkan"),
}

TASK_STATE_LABELS = {"ready": _l("Aktif"), "completed": _l("Selesai"), "cancelled": _l("Dibatalkan")}

class Outcomes(dict):
    """``{outcome code: label}`` for templates: the generic states in the reader's language and every outcome the
    stored versions declare ("Selesai: <label>"); ``tone(code)`` gives the tag's colour class."""

    def __init__(self, rules):
        rules = list(rules)
        super().__init__({code: str(label) for code, label in GENERIC_OUTCOME_LABELS.items()})
        for code, label in outcome_labels(rules).items():
            self[code] = _("Selesai: %(outcome)s", outcome=label)
        self.success = outcome_success(rules)

    def __missing__(self, code):
        return str(code)

    def tone(self, code: str) -> str:
        if code in ("galat", "dibatalkan") or self.success.get(code) is False:
            return "tag-late"
        return "tag-ok" if self.success.get(code) else ""


def outcomes() -> Outcomes:
    """The outcome labels of every stored version (for lists that span versions and procedures)."""
    return Outcomes(system().rules.all_versions(db()))


def decision_label(rules: Declarations | None, bpmn_id: str | None, value) -> str | None:
    """A decision as the step's form names the choice (``alur:response decision``)."""
    if value in (None, "") or rules is None:
        return None if value in (None, "") else str(value)
    step = rules.step(bpmn_id)
    field_id = step.response[0] if step is not None and step.response is not None else None
    return rules.option_label(bpmn_id, field_id, value)


# -------------------------------------------------------------------------------------------- new case
@bp.route("/kasus/baru", methods=["GET", "POST"])
@access_required(may_start_case)
def new():
    """Open a case: the procedure's own start form (its start event's fields), rendered like a task's form; with
    several procedures the user first chooses one."""
    user, session = me(), db()
    procedures = [p for p in system().cases.procedures(session) if permissions.may_start(user, lane_map(), p.key)]
    key = request.values.get("prosedur") or (procedures[0].key if len(procedures) == 1 else None)
    if key is None:
        return render_template("cases/choose.html", procedures=procedures)
    chosen = next((p for p in procedures if p.key == key), None)
    if chosen is None:
        return render_template("cases/choose.html", procedures=procedures,
                               problem=_("Prosedur \u201c%(key)s\u201d tidak dikenal.", key=key[:100])), 404
    fields = list(chosen.start_form)
    team_key = chosen.rules.team_key
    teams = [(user.team.code, user.team.name)] if user.team else []
    errors: dict[str, list[str]] = {}
    if request.method == "GET":
        today = system().clock.now().astimezone(WIB).date().isoformat()
        values = {f.id: today for f in fields if f.type == "date"}
        team = teams[0][0] if teams else None
    else:
        values = taskforms.parse_form(fields, request.form, platforms=system().settings.platforms)
        team = request.form.get(team_key) or None
        body = {**values, **({team_key: team} if chosen.needs_team else {})}
        try:
            result = system().cases.start_case(session, user, body, procedure=chosen.key)
        except FormInvalid as exc:
            labels = {f.id: f.label for f in fields}
            for err in exc.errors:
                errors.setdefault(err.field, []).append(i18n.field_text(err, labels.get(err.field)))
        except BadRequest as exc:  # an unknown team
            errors.setdefault(team_key, []).append(i18n.error_text(exc))
        else:
            flash(_("Kasus \u201c%(nama)s\u201d dibuat. Lanjutkan dengan langkah pertamanya.",
                    nama=result.instance.title), "success")
            drafts.done(drafts.new_case_key(chosen.key))
            first = result.ready[0] if result.ready else None
            if first is not None:
                return redirect(url_for("tasks.show", task_id=first.id))
            return redirect(url_for(".show", instance_id=result.instance.id))
    views = taskforms.field_views(fields, values, errors=errors, files={}, platforms=system().settings.platforms,
                                  caption_limits=system().settings.caption_limits, rules=chosen.rules)
    return render_template("cases/new.html", procedure=chosen, fields=views, errors=errors, teams=teams, team=team,
                           team_key=team_key, several=len(procedures) > 1), (422 if errors else 200)


# ------------------------------------------------------------------------------------------ case list
@bp.get("/kasus")
@login_required
def index():
    q = (request.args.get("q") or "").strip()[:100]
    cursor = request.args.get("kursor") or None
    start = query_id("mulai", 1) if cursor else 1  # where the page starts (shown only: the cursor says where)
    session = db()
    rulebook = system().rules
    procedures = system().cases.procedures(session)
    chosen = query_procedure([p.key for p in procedures], None)  # none: every procedure's cases
    sort = list_sort("cases", default=RELEVANCE if search.query_words(q) else CREATED)
    result = case_list(session, me(), rulebook, q=q or None, procedure=chosen, per_page=PER_PAGE, sort=sort,
                       cursor=cursor)
    shown_from, shown_to = paging.page_range(start, len(result.items), None if result.more else result.total)
    rules = rulebook.of_instances(session, [i.instance.id for i in result.items])
    now = system().clock.now()
    rows = []
    for item in result.items:
        current = [{"task": t, "step": rules[item.instance.id].number(t.bpmn_id),
                    "deadline": deadline_info(t.due_at, now, _late(t, now))} for t in item.current]
        rows.append({"item": item, "current": current, "late": any(c["deadline"]["status"] == "late"
                                                                    for c in current),
                     "found_in": _found_in(item, rules[item.instance.id]) if item.snippet else None})
    teams = _team_names(session, {i.instance.group for i in result.items})
    cancelled = cancellations(session, [i.instance.id for i in result.items if i.instance.status == "cancelled"])
    args = {k: v for k, v in {"q": q, "prosedur": chosen or "", "sort": request.args.get("sort", "").strip(),
                              "order": request.args.get("order", "").strip()}.items() if v}
    return render_template("cases/index.html", rows=rows, page=result, q=q, teams=teams, cancelled=cancelled,
                           outcome_labels=outcomes(), team_only=not sees_all_cases(), procedures=procedures,
                           chosen=chosen, several=len(procedures) > 1, sort=result.sort, list_args=args,
                           sort_options=CASE_SORTS if q else CASE_SORTS[:-1],
                           saved=quick_links("cases"), cursor=cursor, shown_from=shown_from, shown_to=shown_to,
                           back=back_cursors() if cursor else [])


#: The orders of the case list, as the page names them (the last one only with a search).
CASE_SORTS = ((CREATED, _l("Tanggal kasus dibuat")), (DEADLINE, _l("Batas waktu")),
              (CHANGED, _l("Perubahan terakhir")), (ACTIVITY_DATE, _l("Tanggal kegiatan")),
              (RELEVANCE, _l("Kecocokan pencarian")))


def list_sort(view: str, default: str) -> Sort | None:
    """The order asked in ``?sort=&order=`` (None when neither is given); a 422 for an unknown one."""
    sort, order = request.args.get("sort"), request.args.get("order")
    if not (sort or "").strip() and not (order or "").strip():
        return None
    return parse_sort(view, sort, order, default=default)


def _found_in(item, rules: Declarations) -> str:
    """The label of the text a search found its words in."""
    key = item.snippet.field
    if key == search.REGISTER:
        return _("Nomor register")
    if key == search.PLACE:
        return _("Tempat kegiatan")
    text = next((t for t in rules.texts if key in (t.field, t.correction)), None)
    if text is None:
        return key
    return text.label if key == text.field else _("%(label)s (koreksi)", label=text.label)


# ------------------------------------------------------------------------------------------ one case
@bp.get("/kasus/<id:instance_id>")
@login_required
def show(instance_id: int):
    return _show(instance_id)


def _show(instance_id: int, *, comment: str = "", comment_errors: list[str] | None = None, status: int = 200):
    session = db()
    user = me()
    cv = case_view(session, user, instance_id, system().rules)
    rules = cv.rules
    now = system().clock.now()
    actors = {e.actor for e in cv.history} | {t.claimed_by for t in cv.tasks} | {t.completed_by for t in cv.tasks}
    actors |= {e.data.get("to") for e in cv.history if e.type == "task_delegated"}
    actors |= {r.actor for r in cv.responses} | {f.uploaded_by for f in cv.attachments}
    actors |= {e.data.get(k) for e in cv.history if e.type == "task_reassigned" for k in ("from", "to")}
    names = display_names(session, actors)
    ops = system().caseops
    steps = [{"task": t, "step": rules.number(t.bpmn_id), "late": _late(t, now),
              "deadline": deadline_info(t.due_at, now, _late(t, now)) if t.state == "ready" else None,
              "may_open": t.state == "ready" and permissions.may_act(user, t, my_lanes())} for t in cv.tasks]
    instance = cv.instance
    team = _team_names(session, {instance.group}).get(instance.group, instance.group)
    texts = _texts(cv)
    lead = ops.is_lead(session, user, instance)
    may_cancel, may_comment = ops.may_cancel(session, user, instance), ops.may_comment(session, user, instance)
    if ops.unread(session, user, instance.id):  # opening the case reads what told the user of it: a write after all
        write_instead()
        ops.seen(db(), user, instance.id)
    cancelled = next((e for e in cv.history if e.type == "case_cancelled"), None)
    comments = [{"who": _name(names, e.actor), "at": i18n.when(e.at), "iso": e.at.isoformat(),
                 "text": str(e.data.get("text") or "")} for e in cv.history if e.type == "case_commented"]
    return render_template(
        "cases/show.html", cv=cv, instance=instance, team=team, outcome=case_outcome(instance, rules),
        outcome_labels=Outcomes([rules]), steps=steps, current=[s for s in steps if s["task"].state == "ready"],
        responses=[{"r": r, "step": rules.number(r.bpmn_id), "who": _name(names, r.actor),
                    "decision": decision_label(rules, r.bpmn_id, r.decision)} for r in cv.responses],
        timeline=timeline(cv, names), texts=texts, names=names,
        state_labels=TASK_STATE_LABELS,
        late_steps=sum(1 for s in steps if s["late"]),
        may_reassign=lead and instance.status == "running", may_cancel=may_cancel,
        may_comment=may_comment, comments=comments, comment=comment,
        comment_errors=comment_errors or [], max_comment=MAX_COMMENT,
        cancelled={"who": _name(names, cancelled.actor), "at": i18n.when(cancelled.at),
                   "reason": str(cancelled.data.get("reason") or "")} if cancelled else None), status


# ---------------------------------------------------------------------- comment, cancel, reassign
@bp.post("/kasus/<id:instance_id>/komentar")
@login_required
def comment(instance_id: int):
    """Add a comment (not a return) to the case: process/caseops.py says who may."""
    text = request.form.get("komentar", "")
    try:
        system().caseops.comment(db(), me(), instance_id, text)
    except BadRequest as exc:
        db().rollback()
        return _show(instance_id, comment=text[:MAX_COMMENT * 2], comment_errors=[i18n.error_text(exc)], status=422)
    flash(_("Komentar ditambahkan."), "success")
    return redirect(url_for(".show", instance_id=instance_id, _anchor="komentar-title"))


@bp.route("/kasus/<id:instance_id>/batalkan", methods=["GET", "POST"])
@login_required
def cancel(instance_id: int):
    """Cancel the case, after a confirmation page that asks the written reason."""
    session, user, ops = db(), me(), system().caseops
    errors: list[str] = []
    reason = ""
    if request.method == "POST":
        reason = request.form.get("alasan", "")
        try:
            ops.cancel(session, user, instance_id, reason)
        except BadRequest as exc:
            session.rollback()
            errors.append(i18n.error_text(exc))
        else:
            flash(_("Kasus dibatalkan."), "success")
            return redirect(url_for(".show", instance_id=instance_id))
    cv = case_view(session, user, instance_id, system().rules)
    if not errors and not ops.may_cancel(session, user, cv.instance):
        ops.cancel(session, user, instance_id, None)  # refuses with the reason (403/409); never gets further
    names = display_names(session, {t.claimed_by for t in cv.tasks if t.state == "ready"})
    waiting = [{"task": t, "holder": _name(names, t.claimed_by) if t.claimed_by else None}
               for t in cv.tasks if t.state == "ready"]
    return render_template("cases/cancel.html", instance=cv.instance, waiting=waiting, reason=reason,
                           errors=errors, max_reason=MAX_REASON), (422 if errors else 200)


@bp.route("/tugas/<uid:task_id>/alihkan", methods=["GET", "POST"])
@login_required
def reassign(task_id: str):
    """A lead gives a waiting task to another person of its lane (and team)."""
    session, user, ops = db(), me(), system().caseops
    errors: list[str] = []
    chosen, reason = "", ""
    if request.method == "POST":
        chosen, reason = (request.form.get("kepada") or "").strip(), request.form.get("alasan", "")
        try:
            row = ops.reassign(session, user, task_id, chosen, reason)
        except BadRequest as exc:
            session.rollback()
            errors.append(i18n.error_text(exc))
        else:
            name = display_names(session, [row.claimed_by]).get(row.claimed_by, row.claimed_by)
            flash(_("Tugas dialihkan kepada %(name)s.", name=name), "success")
            return redirect(url_for(".show", instance_id=row.instance_id))
    row = system().tasks.task(session, task_id)
    instance = session.get(Instance, row.instance_id)
    if not ops.is_lead(session, user, instance) or row.state != "ready" or instance.status != "running":
        ops.reassign(session, user, task_id, None)  # refuses with the reason (403/409)
    holder = display_names(session, [row.claimed_by]).get(row.claimed_by, row.claimed_by) if row.claimed_by else None
    return render_template("cases/reassign.html", row=row, instance=instance, holder=holder,
                           candidates=ops.candidates(session, row), chosen=chosen, reason=reason, errors=errors,
                           max_reason=MAX_REASON), (422 if errors else 200)


@bp.get("/kasus/<id:instance_id>/diagram.json")
@login_required
def diagram(instance_id: int):
    d = case_diagram(db(), me(), instance_id, system().rules, now=system().clock.now())
    response = jsonify({"xml": d.xml, "completed": d.completed, "active": d.active, "overdue": d.overdue})
    response.headers["Cache-Control"] = "private, no-store"
    return response


# ------------------------------------------------------------------------------------------- helpers
def _late(task: TaskRow, now: datetime) -> bool:
    return task.overdue_at is not None or (task.state == "ready" and task.due_at is not None and task.due_at < now)


def _team_names(session, codes) -> dict[str, str]:
    codes = {c for c in codes if c}
    if not codes:
        return {}
    return dict(session.execute(select(Team.code, Team.name).where(Team.code.in_(codes))).all())


def _name(names: dict[str, str], actor: str | None) -> str:
    if not actor:
        return "—"
    if actor == "system":
        return _("Sistem")
    return names.get(actor, actor)


def _texts(cv: CaseView) -> list[dict]:
    """The procedure's texts (``alur:text``): first handed in, latest handed in (after returns), latest corrected;
    each labelled with the step (and lane) that wrote it."""
    rules = cv.rules
    out = []
    for text in rules.texts if rules is not None else ():
        written = {}  # field -> [(step number, lane)] of the completions that wrote it, in order
        for ev in cv.history:
            if ev.type == "task_completed":
                for key in (text.field, text.correction):
                    if key and (ev.data.get("data") or {}).get(key):
                        written.setdefault(key, []).append((rules.number(ev.step_id),
                                                            ev.data.get("lane") or ""))
        first = cv.first_submission.get(text.field)
        latest = cv.data.get(text.field)
        versions = []
        by = written.get(text.field, [(None, "")])
        if first:
            versions.append({"label": _step_note(_("Diserahkan pertama kali"), by[0][0]), "text": first})
        if latest and latest != first:
            versions.append({"label": _step_note(_("Diserahkan terakhir (setelah dikembalikan)"), by[-1][0]),
                             "text": latest})
        corrected = cv.data.get(text.correction) if text.correction else None
        if corrected:
            number, lane = written.get(text.correction, [(None, "")])[-1]
            label = _("Koreksi terakhir %(lane)s", lane=lane) if lane else _("Koreksi terakhir")
            versions.append({"label": _step_note(label, number), "text": corrected})
        out.append({"label": text.label, "versions": versions})
    return out


def _step_note(label: str, number: int | None) -> str:
    return _("%(label)s (langkah %(n)s)", label=label, n=number) if number else label


def _quoted(text) -> str:
    return "\u201c" + str(text) + "\u201d"


def timeline(cv: CaseView, names: dict[str, str]) -> list[dict]:
    """Each event of the case as one sentence in the user's language."""
    task_names = {t.id: t.name for t in cv.tasks}
    rules = cv.rules
    entries = []
    for ev in cv.history:
        if ev.type == "notification_sent":  # who was told what is on the auditor's replay page
            continue
        entries.append({"at": i18n.when(ev.at), "iso": ev.at.isoformat(), "who": _name(names, ev.actor),
                        "type": ev.type, "text": _sentence(ev, names, task_names, rules),
                        "late": ev.type in ("overdue", "timer_fired") or bool(ev.data.get("late"))})
    return entries


def _due_text(value) -> str:
    try:
        return i18n.when(value) if value else _("tanpa batas waktu")
    except ValueError:
        return str(value)


class _Said(NamedTuple):
    """What a history sentence is made of: the event's data, who acted, the step (quoted), the people's names."""

    data: dict
    who: str
    step: str
    names: dict[str, str]
    rules: Declarations | None
    step_id: str | None = None  # the step's id in the case's version now (a migration may have mapped it)


def _completed(e: _Said) -> str:
    text = _("%(who)s menyelesaikan langkah %(step)s.", who=e.who, step=e.step)
    bpmn_id = e.step_id or e.data.get("bpmn_id")
    value = e.rules.decision_of(bpmn_id, e.data.get("data") or {}) if e.rules is not None else None
    decision = decision_label(e.rules, bpmn_id, value)
    if decision:
        text += " " + _("Keputusan: %(decision)s.", decision=decision)
    if e.data.get("late"):
        text += " " + _("(diselesaikan setelah batas waktu)")
    return text


def _reassigned(e: _Said) -> str:
    if e.data.get("from"):
        text = _("%(who)s mengalihkan langkah %(step)s dari %(from)s kepada %(to)s.", who=e.who, step=e.step,
                 to=_name(e.names, e.data.get("to")), **{"from": _name(e.names, e.data.get("from"))})
    else:
        text = _("%(who)s mengalihkan langkah %(step)s kepada %(to)s.", who=e.who, step=e.step,
                 to=_name(e.names, e.data.get("to")))
    if e.data.get("reason"):
        text += " " + _("Alasan: %(reason)s", reason=_quoted(e.data["reason"]))
    return text


def _timer_failed(e: _Said) -> str:
    d = e.data
    problem = Problem(d.get("element"), d.get("code") or "timer.runtime_failed",
                      {"expression": d.get("expression") or "", "value": d.get("value") or ""})
    return _("Batas waktu langkah %(step)s tidak dapat ditetapkan: %(problem)s", step=e.step,
             problem=problem_text(problem))


def _overdue(e: _Said) -> str:
    text = _("Langkah %(step)s terlambat: batas waktu %(due)s terlewati.", step=e.step,
             due=_due_text(e.data.get("due")))
    if e.data.get("claimed_by"):
        text += " " + _("Saat itu dipegang oleh %(holder)s.", holder=_name(e.names, e.data.get("claimed_by")))
    return text


def _claimed(e: _Said) -> str:
    reason = e.data.get("reason")
    if reason == "case_started":
        return _("%(who)s memegang langkah %(step)s sejak membuat kasus.", who=e.who, step=e.step)
    if reason == "returned":
        return _("Langkah %(step)s kembali kepada %(who)s, yang terakhir menyerahkannya.", who=e.who, step=e.step)
    return _("%(who)s mengambil langkah %(step)s.", who=e.who, step=e.step)


def _case_completed(e: _Said) -> str:
    outcome = e.rules.outcome(e.data.get("end_event")) if e.rules is not None else None
    return _("Kasus selesai: %(outcome)s.", outcome=outcome.label) if outcome else _("Kasus selesai.")


#: One sentence per event type, in the reader's language.
_SENTENCES: dict[str, Callable[[_Said], str]] = {
    "case_started": lambda e: _("%(who)s membuat kasus untuk kegiatan %(title)s (versi definisi %(version)s).",
                                who=e.who, title=_quoted(e.data.get("title", "")),
                                version=e.data.get("version", "?")),
    "task_ready": lambda e: _("Langkah %(step)s siap dikerjakan oleh %(lane)s; batas waktu %(due)s.", step=e.step,
                              lane=e.data.get("lane") or "—", due=_due_text(e.data.get("due"))),
    "task_claimed": _claimed,
    "task_unclaimed": lambda e: _("%(who)s melepaskan langkah %(step)s kembali ke lajurnya.", who=e.who,
                                  step=e.step),
    "task_delegated": lambda e: _("%(who)s mendelegasikan langkah %(step)s kepada %(to)s.", who=e.who, step=e.step,
                                  to=_name(e.names, e.data.get("to"))),
    "task_reassigned": lambda e: _reassigned(e),
    "case_cancelled": lambda e: _("%(who)s membatalkan kasus. Alasan: %(reason)s", who=e.who,
                                  reason=_quoted(e.data.get("reason", ""))),
    "case_commented": lambda e: _("%(who)s berkomentar: %(text)s", who=e.who, text=_quoted(e.data.get("text", ""))),
    "task_completed": _completed,
    "task_returned": lambda e: _("%(who)s mengembalikan kasus pada langkah %(step)s. Tanggapan: %(response)s",
                                 who=e.who, step=e.step, response=_quoted(e.data.get("response", ""))),
    "timer_failed": _timer_failed,
    "timer_fired": lambda e: _("Batas waktu %(due)s tercapai untuk langkah %(step)s.",
                               due=_due_text(e.data.get("due")), step=e.step),
    "overdue": _overdue,
    "signal_thrown": lambda e: _("Keterlambatan dicatat dan notifikasi dikirim (sinyal %(signal)s).",
                                 signal=_quoted(e.data.get("signal", ""))),
    "task_cancelled": lambda e: _("Langkah %(step)s dibatalkan oleh proses.", step=e.step),
    "task_passed": lambda e: _("Proses melewati langkah %(step)s (dikerjakan tanpa tugas di kotak masuk).",
                               step=e.step),
    "case_completed": _case_completed,
    "execution_failed": lambda e: _("Proses tidak dapat dilanjutkan: %(error)s", error=e.data.get("error", "")),
}


def _sentence(ev: HistoryEvent, names: dict[str, str], task_names: dict[str, str],
              rules: Declarations | None = None) -> str:
    d = ev.data
    step = _quoted(d.get("name") or task_names.get(ev.task_id or "", "") or d.get("bpmn_id") or "?")
    say = _SENTENCES.get(ev.type)
    if say is None:
        return _("Kejadian %(type)s.", type=ev.type)
    return say(_Said(d, _name(names, ev.actor), step, names, rules, getattr(ev, "step_id", None)))


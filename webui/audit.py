"""The auditor's pages: the hash chain verified, a case replayed event by event (and re-executed), and
compliance with the SOP's deadlines. Read-only for everyone who may open them (auditor, admin, Pimpinan
Redaksi); the one POST re-executes a case in memory and writes nothing."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from flask import Blueprint, jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from engine import eventlog
from engine.errors import NotFound
from engine.models import Definition, EventRow, Instance
from engine.replay import StepState, definition_xml, replay, states
from process import inputs, messages, paging
from process.casefile import case_list, display_names
from process.compliance import collision_steps, collisions, compliance
from process.deadlines import WIB
from process.declarations import Declarations

from . import i18n
from .access import access_required, me, sees_audit
from .cases import HistoryEvent, _name, _sentence, outcomes
from .db import db, system
from .ids import query_id, query_procedure
from .inbox import back_cursors

bp = Blueprint("audit", __name__)

#: Who may audit: the auditor, and read-only the administrator and who works a lane told of every late step (the
#: Pimpinan Redaksi): webui/access.py sees_audit.

TASK_STATES = {"ready": _l("Menunggu"), "completed": _l("Selesai"), "cancelled": _l("Dibatalkan")}
REPLAY_TYPES = {
    "case_started": _l("Kasus dimulai"),
    "task_completed": _l("Langkah diselesaikan"),
    "case_migrated": _l("Kasus dipindahkan ke versi lain"),
    "case_cancelled": _l("Kasus dibatalkan"),
    "timer": _l("Batas waktu tercapai"),
    "projection": _l("Keadaan tersimpan saat ini"),
}
OBSERVATION_LABELS = {
    "ready": _l("Langkah menunggu (dengan batas waktu)"),
    "cancelled": _l("Langkah dibatalkan"),
    "timers": _l("Timer yang berbunyi"),
    "overdue": _l("Tanda terlambat"),
    "signals": _l("Sinyal"),
    "passed": _l("Langkah yang dilewati tanpa tugas"),
    "end": _l("Akhir proses"),
    "late": _l("Diselesaikan terlambat"),
    "definition": _l("SHA-256 diagram"),
    "version": _l("Versi definisi"),
    "status": _l("Status kasus"),
    "input": _l("Masukan"),
    "error": _l("Galat"),
}
PER_LABELS = {"bulan": ("month", _l("per bulan")), "minggu": ("week", _l("per minggu"))}


def _case_or_404(instance_id: int) -> Instance:
    instance = db().get(Instance, instance_id)
    if instance is None:
        raise NotFound(f"no case {instance_id}", code="case.not_found", case=instance_id)
    return instance


# ------------------------------------------------------------------------------------------ overview
#: Cases on one page of the audit's case list (the next ones are reached by the page's cursor).
PER_PAGE = 50


@bp.get("/audit")
@access_required(sees_audit)
def index():
    session = db()
    report = eventlog.verify(session)
    q = (request.args.get("q") or "").strip()[:100]
    cursor = request.args.get("kursor") or None
    start = query_id("mulai", 1) if cursor else 1  # where the page starts (shown only: the cursor says where)
    cases = case_list(session, me(), system().rules, q=q or None, per_page=PER_PAGE, cursor=cursor)
    shown_from, shown_to = paging.page_range(start, len(cases.items), cases.total)
    bad_event = None
    if report.first_bad_seq is not None:
        row = session.get(EventRow, report.first_bad_seq)
        if row is not None:
            bad_event = {"seq": row.seq, "type": row.type, "at": i18n.when(row.at), "actor": row.actor,
                         "instance_id": row.instance_id}
    return render_template("audit/index.html", report=report, bad_event=bad_event, cases=cases, q=q,
                           outcome_labels=outcomes(), several=len(system().cases.procedures(session)) > 1,
                           cursor=cursor, shown_from=shown_from, shown_to=shown_to, list_args={"q": q} if q else {},
                           back=back_cursors() if cursor else [])


# -------------------------------------------------------------------------------------------- replay
def _step_context(instance: Instance, steps: list[StepState], n: int) -> dict[str, Any]:
    """Everything one step shows: the event in words, the tasks as they stood, the data as it was."""
    step = steps[n - 1]
    names = display_names(db(), _actors(steps) | {t.holder for t in step.tasks} | {t.completed_by for t in step.tasks})
    rules = _rules_at(step, instance)
    tasks = []
    for t in step.tasks:
        late = t.late_at(step.at)
        tasks.append({
            "task": t, "step": rules.number(t.bpmn_id), "state": str(TASK_STATES.get(t.state, t.state)),
            "holder": _name(names, t.holder) if t.holder else None,
            "due": i18n.when(t.due) if t.due else None,
            "completed_at": i18n.when(t.completed_at) if t.completed_at else None,
            "completed_by": _name(names, t.completed_by) if t.completed_by else None,
            "late": late, "met": t.deadline_met(),
        })
    return {"step": step, "n": n, "total": len(steps), "sentence": event_sentence(step, names, rules),
            "at": i18n.when(step.at), "who": _name(names, step.actor), "tasks": tasks,
            "data": _data_rows(step.data, rules), "instance": instance}


def _rules_at(step: StepState, instance: Instance) -> Declarations:
    """The declarations of the version the case was on at ``step`` (its current one when unknown)."""
    session = db()
    definition_id = None
    if step.process_key and step.version:
        definition_id = session.execute(select(Definition.id).where(Definition.process_key == step.process_key,
                                                                    Definition.version == step.version)).scalar()
    return system().rules.of_definition(session, definition_id or instance.definition_id)


def _actors(steps: list[StepState]) -> set[str | None]:
    actors = {s.actor for s in steps}
    actors |= {s.payload.get("to") for s in steps if s.type == "task_delegated"}
    actors |= {s.payload.get(k) for s in steps if s.type == "task_reassigned" for k in ("from", "to")}
    actors |= {name for s in steps if s.type == "notification_sent" for name in _told(s.payload)}
    return actors


def _told(payload: dict) -> list[str]:
    """Recipients of a notification_sent event (one per event before they were grouped)."""
    return list(payload.get("recipients") or ([payload["recipient"]] if payload.get("recipient") else []))


def event_sentence(step: StepState, names: dict[str, str], rules: Declarations | None = None) -> str:
    d = step.payload
    if step.type == "notification_sent":
        kind = str(d.get("kind", ""))
        label = i18n.text(f"notice_kind.{kind}") if messages.known(f"notice_kind.{kind}") else kind
        return _("Notifikasi %(kind)s dikirim kepada %(to)s.", kind=_quoted(label),
                 to=", ".join(_name(names, who) for who in _told(d)))
    if step.type == "case_migrated":
        moved = _("Kasus dipindahkan dari versi %(old)s ke versi %(new)s.", old=d.get("from_version", "?"),
                  new=d.get("to_version", "?"))
        mapping = d.get("mapping") if isinstance(d.get("mapping"), dict) else {}
        if mapping:
            moved += " " + _("Langkah yang dipetakan: %(pairs)s.",
                             pairs=", ".join(f"{old} \u2192 {new}" for old, new in sorted(mapping.items())))
        kept = d.get("kept") if isinstance(d.get("kept"), list) else []
        if kept:
            moved += " " + _("Riwayat langkah yang tidak dipetakan (tetap dengan ID lama): %(ids)s.",
                             ids=", ".join(str(k) for k in kept))
        return moved
    ev = HistoryEvent(step.seq, step.type, step.at, step.actor, step.task_id, d)
    task_names = {t.task_id: t.name for t in step.tasks}
    return _sentence(ev, names, task_names, rules)


def _quoted(text) -> str:
    return "\u201c" + str(text) + "\u201d"


def _value_text(value, key: str = "", rules: Declarations | None = None) -> str:
    """A submitted value in a few words: files by their SHA-256, posts by platform and link."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("ya") if value else _("tidak")
    if isinstance(value, list):
        parts = []
        for item in value:
            if isinstance(item, dict) and "sha256" in item:
                parts.append(_("berkas SHA-256 %(sha)s", sha=str(item["sha256"])))
            elif isinstance(item, dict) and "platform" in item:
                parts.append(f"{item.get('platform')}: {item.get('url')} ({item.get('waktu') or '—'})")
            else:
                parts.append(str(item))
        return "; ".join(parts) if parts else "—"
    choice = rules.value_label(key, value) if rules is not None and isinstance(value, str) else None
    return choice or str(value)


def _data_rows(data: dict, rules: Declarations | None = None) -> list[dict]:
    return [{"key": key, "value": _value_text(value, key, rules),
             "multiline": isinstance(value, str) and "\n" in value} for key, value in data.items()]


def _diagram_state(step: StepState) -> dict[str, Any]:
    xml = definition_xml(db(), step.process_key, step.version) if step.process_key and step.version else ""
    return {"xml": xml, "completed": step.completed, "active": step.active, "overdue": step.overdue}


def _steps_or_404(instance_id: int) -> tuple[Instance, list[StepState]]:
    instance = _case_or_404(instance_id)
    steps = states(db(), instance_id)
    if not steps:
        raise NotFound(f"case {instance_id} has no history", code="audit.no_history", case=instance_id)
    return instance, steps


def _step_list(steps: list[StepState], instance: Instance) -> list[dict]:
    names = display_names(db(), _actors(steps))
    rules = system().rules.of_definition(db(), instance.definition_id)
    return [{"n": s.n, "seq": s.seq, "type": s.type, "at": i18n.when(s.at), "text": event_sentence(s, names, rules),
             "late": s.type in ("overdue", "timer_fired") or bool(s.payload.get("late"))} for s in steps]


@bp.get("/audit/kasus/<id:instance_id>/replay")
@access_required(sees_audit)
def replay_page(instance_id: int):
    instance, steps = _steps_or_404(instance_id)
    n = min(query_id("langkah", 1), len(steps))
    return render_template("audit/replay.html", steps=_step_list(steps, instance),
                           procedure=system().rules.of_instance(db(), instance).name,
                           verification=None, **_step_context(instance, steps, n))


@bp.get("/audit/kasus/<id:instance_id>/replay/<id:n>.json")
@access_required(sees_audit)
def replay_step(instance_id: int, n: int):
    instance, steps = _steps_or_404(instance_id)
    if not 1 <= n <= len(steps):
        raise NotFound(f"no step {n}", code="audit.step_missing", n=n)
    context = _step_context(instance, steps, n)
    step = context["step"]
    body = _diagram_state(step)
    body.update({
        "n": n, "total": len(steps), "seq": step.seq, "type": step.type, "at": step.at.isoformat(),
        "actor": step.actor, "version": step.version, "status": step.status, "end_event": step.end_event,
        "event": {"seq": step.seq, "type": step.type, "task_id": step.task_id, "payload": step.payload,
                  "text": context["sentence"]},
        "data": step.data,
        "holders": [{"task_id": t.task_id, "bpmn_id": t.bpmn_id, "name": t.name, "holder": t.holder}
                    for t in step.tasks if t.state == "ready"],
        "deadlines": [{"task_id": t.task_id, "bpmn_id": t.bpmn_id, "name": t.name, "state": t.state,
                       "due": t.due.isoformat() if t.due else None,
                       "completed_at": t.completed_at.isoformat() if t.completed_at else None,
                       "late": t.late_at(step.at), "met": t.deadline_met()} for t in step.tasks],
        "html": render_template("audit/_step.html", **context),
    })
    response = jsonify(body)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/audit/kasus/<id:instance_id>/replay/verifikasi")
@access_required(sees_audit)
def verify_case(instance_id: int):
    """Re-execute the case in memory and show, action by action, whether the engine does what was recorded."""
    instance, steps = _steps_or_404(instance_id)
    result = replay(db(), system().engine, instance_id)
    names = {t.bpmn_id: t.name for step in steps for t in step.tasks}  # every step the case met, by its name
    rows = []
    for s in result.steps:
        diffs = s.differences
        shown = diffs or [k for k in ("ready", "timers", "overdue", "end", "late") if s.actual.get(k)]
        rows.append({"s": s, "at": i18n.when(s.at), "label": str(REPLAY_TYPES.get(s.type, s.type)),
                     "task": names.get(s.bpmn_id or "", s.bpmn_id),
                     "details": [{"key": str(OBSERVATION_LABELS.get(k, k)),
                                  "expected": _obs_text(s.expected.get(k), names),
                                  "actual": _obs_text(s.actual.get(k), names), "differs": k in diffs}
                                 for k in shown]})
    n = min(query_id("langkah", 1), len(steps))
    return render_template("audit/replay.html", steps=_step_list(steps, instance),
                           procedure=system().rules.of_instance(db(), instance).name,
                           verification={"result": result, "rows": rows}, **_step_context(instance, steps, n))


def _obs_text(value, names: dict[str, str]) -> str:
    if value is None or value == []:
        return "—"
    if isinstance(value, bool):
        return _("ya") if value else _("tidak")
    if isinstance(value, list):
        return "; ".join(_obs_item(str(v), names) for v in value)
    return names.get(str(value), str(value))


def _obs_item(item: str, names: dict[str, str]) -> str:
    """``Task_Koreksi@2025-05-07T16:59:59+00:00`` → ``Mengontrol … (batas Rabu, 07 Mei 2025 23.59 WIB)``: the step by
    its name (its BPMN id only when the case never showed it), the deadline in words."""
    if "@" not in item:
        return names.get(item, item)
    bpmn_id, due = item.split("@", 1)
    try:
        return _("%(task)s (batas %(due)s)", task=names.get(bpmn_id, bpmn_id),
                 due=i18n.when(datetime.fromisoformat(due)))
    except ValueError:
        return item


# ---------------------------------------------------------------------------------------- compliance
def _parse_day(raw: str | None, today: date) -> date | None:
    """A date of the range by the date rule of process/inputs.py; None when it breaks it."""
    try:
        return inputs.query_date(raw or "", today)
    except inputs.Refused:
        return None


def _duration(delta: timedelta | None) -> str:
    if delta is None:
        return "—"
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = []
    if days:
        parts.append(_("%(n)s hari", n=days))
    if hours:
        parts.append(_("%(n)s jam", n=hours))
    if minutes and not days:
        parts.append(_("%(n)s menit", n=minutes))
    return " ".join(parts) or _("%(n)s menit", n=0)


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{round(100 * value)}%"


#: Geometry of the inline bar charts (SVG user units; the SVG scales to its box).
CHART_WIDTH, LABEL_WIDTH, VALUE_WIDTH, BAR_HEIGHT, GAP = 560, 170, 110, 18, 8


def bar_chart(chart_id: str, title: str, desc: str, bars: list[dict], max_value: float) -> dict:
    """Horizontal bars: each ``{"label", "value", "text", "cls"}``; geometry for the template's SVG."""
    span = CHART_WIDTH - LABEL_WIDTH - VALUE_WIDTH
    out = []
    y = GAP
    for bar in bars:
        value = bar["value"] or 0
        width = 0 if not max_value else max(0.0, min(1.0, value / max_value)) * span
        out.append({**bar, "y": y, "width": round(width, 1), "text_x": LABEL_WIDTH + width + 6,
                    "text_y": y + BAR_HEIGHT - 4})
        y += BAR_HEIGHT + GAP
    return {"id": chart_id, "title": title, "desc": desc, "bars": out, "width": CHART_WIDTH,
            "height": max(y, BAR_HEIGHT + 2 * GAP), "label_width": LABEL_WIDTH, "bar_height": BAR_HEIGHT}


def _step_label(step: int) -> str:
    return _("Langkah %(n)s", n=step)


def _collision_numbers(decl) -> dict[str, str]:
    """The numbers of the hand-in, review, decision and upload steps of the procedure's newest version, for the
    collision table's headings ("2–4", "5", ...)."""
    steps = collision_steps(decl) if decl is not None else None
    if steps is None:
        return {"review": "—", "decide": "—", "upload": "—"}
    review = [s.number for s in steps.review]
    return {"review": (f"{review[0]}–{review[-1]}" if len(review) > 1 else str(review[0])) if review else "—",
            "decide": str(steps.decide.number) if steps.decide is not None else "—",
            "upload": str(steps.upload.number)}


@bp.get("/audit/kepatuhan")
@access_required(sees_audit)
def compliance_page():
    now = system().clock.now()
    today = now.astimezone(WIB).date()
    default_from = (today.replace(day=1) - timedelta(days=62)).replace(day=1)
    problems = []
    date_from = _parse_day(request.args.get("dari"), today) if request.args.get("dari") else default_from
    date_to = _parse_day(request.args.get("sampai"), today) if request.args.get("sampai") else today
    if date_from is None or date_to is None:
        first, last = inputs.query_window(today)
        problems.append(_("Tanggal tidak sah; gunakan format TTTT-BB-HH, antara %(first)s dan %(last)s. Rentang "
                          "bawaan dipakai.", first=first.isoformat(), last=last.isoformat()))
        date_from, date_to = default_from, today
    if date_from > date_to:
        problems.append(_("Tanggal awal sesudah tanggal akhir; keduanya ditukar."))
        date_from, date_to = date_to, date_from
    if (date_to - date_from).days > 3 * 366:
        problems.append(_("Rentang paling panjang tiga tahun; tanggal awal disesuaikan."))
        date_from = date_to - timedelta(days=3 * 366)
    per = request.args.get("per") if request.args.get("per") in PER_LABELS else "bulan"
    granularity = PER_LABELS[per][0]
    session = db()
    procedures = system().cases.procedures(session)
    chosen = query_procedure([p.key for p in procedures],
                             procedures[0].key if procedures else system().settings.process_key)  # the main one
    report = compliance(session, rulebook=system().rules, date_from=date_from, date_to=date_to, now=now,
                        granularity=granularity, procedure=chosen)
    totals = [t for t in report.totals if t.count]
    charts = []
    charts.append(bar_chart(
        "chart-rate", _("Ketepatan waktu per langkah"),
        _("Persentase batas waktu yang terpenuhi per langkah SOP, %(a)s sampai %(b)s. Angka yang sama ada di "
          "tabel di bawah.", a=date_from.isoformat(), b=date_to.isoformat()),
        [{"label": _step_label(t.step), "value": (t.on_time_rate or 0) * 100,
          "text": f"{_rate(t.on_time_rate)} ({t.on_time}/{t.count})", "cls": "bar-ok"} for t in totals], 100))
    period_bars = []
    for row in report.rows:
        period_bars.append({"label": f"{_step_label(row.step)} · {row.period}", "value": (row.on_time_rate or 0) * 100,
                            "text": f"{_rate(row.on_time_rate)} ({row.on_time}/{row.count})", "cls": "bar-ok"})
    charts.append(bar_chart(
        "chart-periods", _("Ketepatan waktu per langkah dan periode"),
        _("Persentase batas waktu yang terpenuhi untuk setiap langkah pada setiap periode (%(per)s).",
          per=str(PER_LABELS[per][1])), period_bars, 100))
    worst = max((t.worst_late.total_seconds() / 3600 for t in totals if t.worst_late), default=0)
    late_bars = []
    for t in totals:
        if not t.lateness:
            continue
        late_bars.append({"label": _("%(step)s, median", step=_step_label(t.step)),
                          "value": t.median_late.total_seconds() / 3600, "text": _duration(t.median_late),
                          "cls": "bar-median"})
        late_bars.append({"label": _("%(step)s, terburuk", step=_step_label(t.step)),
                          "value": t.worst_late.total_seconds() / 3600, "text": _duration(t.worst_late),
                          "cls": "bar-worst"})
    charts.append(bar_chart(
        "chart-lateness", _("Keterlambatan per langkah"),
        _("Median dan keterlambatan terburuk dari langkah yang terlambat, dalam jam; langkah yang tepat waktu "
          "tidak dihitung."), late_bars, worst))
    cases = collisions(session, rulebook=system().rules, date_from=date_from, date_to=date_to, procedure=chosen)
    return render_template(
        "audit/compliance.html", report=report, totals=totals, charts=charts, cases=cases, problems=problems,
        procedures=procedures, chosen=chosen,
        steps=_collision_numbers(system().rules.latest(session, chosen)),
        date_from=date_from, date_to=date_to, per=per, per_labels=PER_LABELS, rate=_rate, duration=_duration,
        step_label=_step_label, now=now)

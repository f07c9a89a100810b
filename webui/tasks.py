"""The task page: a case's summary, its deadline and written responses, and the step's form; claiming,
giving back and delegating a task. Every rule is the process layer's (process/tasks.py, process/permissions.py);
this module only shows what it allows and turns refusals into pages."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select

from engine.models import Instance, TaskRow
from process import messages, permissions
from process.casefile import CaseView, can_view_case, case_view
from process.errors import BadRequest, NotPermitted, TooLarge
from process.files import file_path, resolver, store_file
from process.forms import FieldError, FormInvalid, blank_form_values, validate_form
from process.models import FileRecord, Team, User

from . import drafts, i18n, taskforms
from .access import lane_map, me, my_lanes
from .bodies import accepts_body
from .db import db, system, write_instead

log = logging.getLogger(__name__)

bp = Blueprint("tasks", __name__)

#: Steps whose written response is shown prominently on the next task when it sent the case back.
RETURN_TONES = ("return", "reject")




def _task_row(task_id: str) -> TaskRow:
    """The task, or 404 (also for ids that are not UUIDs)."""
    if not taskforms.is_uuid(task_id):
        abort(404)
    return system().tasks.task(db(), task_id)


def _case_url(instance_id: int) -> str:
    return url_for("cases.show", instance_id=instance_id)


def _names(usernames) -> dict[str, str]:
    wanted = {u for u in usernames if u}
    if not wanted:
        return {}
    users = db().execute(select(User).where(User.username.in_(wanted))).scalars().unique()
    return {u.username: u.display_name for u in users}


# --------------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------------


@dataclass
class Deadline:
    absolute: str | None
    relative: str | None
    overdue: bool


@dataclass
class Response:
    step: int | None
    title: str
    lane: str | None
    actor: str
    at: str
    decision: str | None
    decision_label: str | None
    tone: str
    text: str


@dataclass
class Page:
    """Everything the task template shows."""

    row: TaskRow
    mode: str  # work | claim | held | view | done
    step: int | None
    case: CaseView
    team_name: str | None
    activity_date: str | None
    place: str | None
    deadline: Deadline
    responses: list[Response]
    returned: Response | None
    attachments: list[FileRecord]
    fields: list[taskforms.FieldView] = field(default_factory=list)
    readonly_values: list[dict] = field(default_factory=list)
    diffs: list[taskforms.TextDiff] = field(default_factory=list)
    #: What the diffs compare the latest texts with: ``round`` (the previous round) or ``first`` (the first
    #: submission); ``rounds``: whether there was a previous round to compare with.
    diff_since: str = "first"
    rounds: bool = False
    holder: str | None = None
    colleagues: list[User] = field(default_factory=list)
    lock_version: int | None = None
    self_approval: bool = False
    #: The name of the step whose completer may not do this one (``alur:separate``), when that is the user.
    self_approval_step: str | None = None
    step_total: int = 0
    copy_open: bool = False  # the latest texts shown open, ready to copy (``alur:compare copy``)
    #: ``{"field", "message"}`` per problem, in the user's language.
    errors: list[dict] = field(default_factory=list)
    dropped_uploads: int = 0
    case_url: str | None = None
    multipart: bool = False
    completed_at_text: str = ""
    completed_by_name: str = ""  # the display name of who completed it


def _submissions(cv: CaseView) -> list[dict]:
    return [(e.data.get("data") or {}) for e in cv.history if e.type == "task_completed"]


def _completions(cv: CaseView) -> list[tuple[str | None, dict]]:
    return [(e.data.get("bpmn_id"), e.data.get("data") or {}) for e in cv.history if e.type == "task_completed"]


#: The ``banding`` query parameter of the task page: what the text diff compares with.
DIFF_SINCE = {"putaran": "round", "awal": "first"}


def _responses(cv: CaseView) -> list[Response]:
    """The case's written responses, each decision named and toned as its step declares (``alur:response``,
    ``alur:return``, ``alur:reject``)."""
    rules = cv.rules
    names = _names(r.actor for r in cv.responses)
    out = []
    for r in cv.responses:
        step = rules.step(r.bpmn_id)
        decision_field = step.response[0] if step is not None and step.response is not None else None
        out.append(Response(step=rules.number(r.bpmn_id), title=r.step, lane=r.lane,
                            actor=names.get(r.actor or "", r.actor or ""), at=i18n.when(r.at),
                            decision=r.decision,
                            decision_label=rules.option_label(r.bpmn_id, decision_field, r.decision),
                            tone=step.tone(decision_field or "", r.decision or "") if step is not None else "",
                            text=r.text))
    return out


def _deadline(row: TaskRow) -> Deadline:
    if row.due_at is None:
        return Deadline(None, None, row.overdue_at is not None)
    now = system().clock.now()
    overdue = row.state == "ready" and (row.overdue_at is not None or row.due_at < now)
    relative = i18n.relative(row.due_at, now) if row.state == "ready" else None
    return Deadline(i18n.when(row.due_at), relative, overdue)


def _file_items(ids: list[str], row: TaskRow) -> dict[str, taskforms.FileItem]:
    """Files a form refers to, limited to those this user may see (the case's own, or their own uploads)."""
    ids = [i for i in ids if taskforms.is_uuid(i)]
    if not ids:
        return {}
    user = me()
    items = {}
    for rec in db().execute(select(FileRecord).where(FileRecord.id.in_(ids))).scalars():
        if rec.instance_id == row.instance_id or (rec.instance_id is None and rec.uploaded_by == user.actor):
            items[rec.id] = taskforms.FileItem(rec.id, rec.original_name, rec.kind)
    return items


def _mode(row: TaskRow, user: User, may_act: bool) -> str:
    if row.state != "ready":
        return "done"
    if not may_act:
        return "view"
    if row.claimed_by is None:
        return "claim"
    return "work" if row.claimed_by == user.actor else "held"


def _build_page(row: TaskRow, *, invalid: FormInvalid | None = None, shown: dict | None = None,
                dropped_uploads: int = 0, diff_since: str | None = None) -> Page:
    session, user, system_ = db(), me(), system()
    settings = system().settings
    cv = case_view(session, user, row.instance_id, system_.rules)
    instance = cv.instance
    rules = cv.rules
    step = rules.step(row.bpmn_id)
    may_act = permissions.may_act(user, row, my_lanes())
    mode = _mode(row, user, may_act)
    team = session.execute(select(Team).where(Team.code == instance.group)).scalar_one_or_none() \
        if instance.group else None
    responses = _responses(cv)
    returned = None
    if row.state == "ready" and responses and responses[-1].tone == "return" and \
            cv.responses[-1].at <= row.created_at:
        returned = responses[-1]
    page = Page(row=row, mode=mode, step=rules.number(row.bpmn_id), case=cv,
                team_name=team.name if team else instance.group,
                activity_date=format_date(instance.business_date, "full") if instance.business_date else None,
                place=cv.data.get(rules.place_field) if rules.place_field else None, deadline=_deadline(row),
                responses=responses, returned=returned, attachments=cv.attachments, case_url=_case_url(instance.id),
                lock_version=instance.lock_version, step_total=rules.step_count,
                copy_open=bool(step is not None and step.copy))
    submissions = _submissions(cv)
    if step is not None and step.compare and cv.first_submission:
        # Against the previous round (the texts as this step left them last time) when there was one, unless
        # the first submission is asked for.
        since = taskforms.until_last_round(_completions(cv), row.bpmn_id) if row.state == "ready" else None
        page.rounds = since is not None
        page.diff_since = "round" if since is not None and diff_since != "first" else "first"
        page.diffs = taskforms.text_diffs(rules, cv.first_submission, submissions,
                                          since if page.diff_since == "round" else None)
    if row.claimed_by and row.claimed_by != user.actor:
        page.holder = _names([row.claimed_by]).get(row.claimed_by, row.claimed_by)
    if mode == "work":
        if step is not None and step.separate_from:
            page.self_approval_step = next((t.name for t in cv.tasks if t.bpmn_id in step.separate_from
                                            and t.state == "completed" and t.completed_by == user.actor), None)
            page.self_approval = page.self_approval_step is not None
        page.colleagues = [u for u in system_.people.eligible_users(session, row.lane, row.group) if u.id != user.id]
        fields = system_.tasks.form_of(session, row)
        values = blank_form_values(fields, system_.engine.task_data(session, row.id))
        for text in rules.texts:  # an editable copy of a text starts from its latest version
            latest = taskforms.latest_text(submissions, text)
            if text.correction and text.correction in values and latest:
                values[text.correction] = latest
        if shown is not None:
            values = taskforms.redisplay_values(fields, shown, values)
        ids = [i for f in fields if f.type == "files" for i in taskforms.file_ids(values.get(f.id))]
        page.errors = [{"field": e.field, "message": i18n.field_text(e)} for e in invalid.errors] if invalid else []
        page.fields = taskforms.field_views(
            fields, values, errors=_by_field(page.errors), files=_file_items(ids, row),
            platforms=settings.platforms, caption_limits=settings.caption_limits, rules=rules, step=step)
        page.multipart = any(f.type == "files" for f in fields)
        page.dropped_uploads = dropped_uploads
    elif mode == "done":
        page.readonly_values = _submitted_values(row, cv)
        page.completed_at_text = i18n.when(row.completed_at) if row.completed_at else ""
        page.completed_by_name = _names([row.completed_by]).get(row.completed_by, row.completed_by) \
            if row.completed_by else ""
    return page


def _by_field(errors: list[dict]) -> dict[str, list[str]]:
    """The messages of each field, to show them next to its input."""
    grouped: dict[str, list[str]] = {}
    for e in errors:
        grouped.setdefault(e["field"], []).append(e["message"])
    return grouped


def _submitted_values(row: TaskRow, cv: CaseView) -> list[dict]:
    """What was submitted on a finished task, field by field, for a read-only summary."""
    data = next((e.data.get("data") or {} for e in cv.history
                 if e.type == "task_completed" and e.task_id == row.id), None)
    if data is None:
        return []
    attachments = {f.id: f for f in cv.attachments}
    out = []
    for f in system().tasks.form_of(db(), row):
        if f.readonly or f.id not in data:
            continue
        value = data[f.id]
        item: dict[str, Any] = {"label": f.label, "type": f.type, "value": value}
        if f.type == "enum":
            item["value"] = dict(f.options).get(str(value), value)
        elif f.type == "date" and value:
            item["value"] = _shown_day(value)
        elif f.type == "datetime" and value:
            item["value"] = i18n.when(value)
        elif f.type == "files":
            item["files"] = [attachments[i] for i in taskforms.file_ids(value) if i in attachments]
        elif f.type == "posts":
            item["posts"] = [p for p in value if isinstance(p, dict)] if isinstance(value, list) else []
            for p in item["posts"]:
                p["waktu_wib"] = i18n.when(p["waktu"]) if p.get("waktu") else ""
        out.append(item)
    return out


def _shown_day(value: Any) -> str:
    """A submitted date as people read it (``2 Desember 2026``); a value that is not a date stays as typed."""
    try:
        return i18n.day(date.fromisoformat(str(value)))
    except ValueError:
        return str(value)


def _render(row: TaskRow, status: int = 200, **kw):
    page = _build_page(row, **kw)
    return render_template("tasks/show.html", page=page, row=row, settings=system().settings,
                           input_id=taskforms.input_id,
                           limits_json=taskforms.caption_limits_json(system().settings.platforms,
                                                                     system().settings.caption_limits)), status


@bp.get("/tugas/<uid:task_id>")
@login_required
def show(task_id: str):
    row = _task_row(task_id)
    user = me()
    system_ = system()
    if not permissions.may_act(user, row, my_lanes()):
        instance = db().get(Instance, row.instance_id)
        if instance is None or not can_view_case(user, instance, lane_map()):
            raise NotPermitted("the user may neither act on this task nor see its case", code="task.not_openable")
    elif row.state == "ready":
        if row.claimed_by is None and len(system_.people.eligible_users(db(), row.lane, row.group)) == 1:
            # Opening it claims it (Tasks.open_task): this page writes after all.
            write_instead()
            row = _task_row(task_id)
        row = system_.tasks.open_task(db(), user, row.id)
    if system_.tasks.unread_about(db(), user, row.id):  # opening the task reads what told the user of it
        write_instead()
        system_.tasks.seen(db(), user, row.id)
        row = _task_row(task_id)
    return _render(row, diff_since=DIFF_SINCE.get(request.args.get("banding", "")))


# --------------------------------------------------------------------------------------------------
# Completing
# --------------------------------------------------------------------------------------------------


def _store_form_uploads(fields, row: TaskRow) -> tuple[dict[str, list[str]], list[FieldError], list[Path]]:
    """Files sent with the form itself (the no-JavaScript path): stored first, then validated with the rest."""
    settings = system().settings
    user = me()
    stored: dict[str, list[str]] = {}
    problems: list[FieldError] = []
    written: list[Path] = []
    for f in fields:
        if f.type != "files" or f.readonly:
            continue
        for upload in request.files.getlist(f.id):
            if not upload or not upload.filename:
                continue
            data = upload.read()
            if not data:
                continue
            try:
                record = store_file(db(), settings.files_dir, data, upload.filename, uploaded_by=user.actor,
                                    now=system().clock.now(), max_image_bytes=settings.max_image_bytes,
                                    max_other_bytes=settings.max_other_bytes,
                                    max_image_pixels=settings.max_image_pixels)
            except BadRequest as exc:
                from process.files import clean_filename

                # A file over its limit makes the whole answer a 413 (the form is shown again all the same).
                too_large = isinstance(exc, TooLarge)
                problems.append(FieldError.of("too_large" if too_large else "upload", f.id, f.label, "field.upload",
                                              file=clean_filename(upload.filename),
                                              problem=messages.of_error(exc)))
                continue
            written.append(file_path(settings.files_dir, record))
            stored.setdefault(f.id, []).append(record.id)
    if written:
        db().flush()
    return stored, problems, written


def _discard(paths: list[Path]) -> None:
    """Files written for a submission that was refused: their rows are rolled back, so they go too."""
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            log.warning("could not remove %s", path)


@bp.post("/tugas/<uid:task_id>")
@login_required
@accepts_body("upload")
def complete(task_id: str):
    row = _task_row(task_id)
    session, user, system_ = db(), me(), system()
    settings = system().settings
    permissions.check_may_complete(session, user, row, my_lanes())  # before anything from the request is stored
    fields = system_.tasks.form_of(session, row)
    stored, upload_problems, written = _store_form_uploads(fields, row)
    raw = taskforms.parse_form(fields, request.form, platforms=settings.platforms, extra_files=stored)
    version = request.form.get("lock_version", type=int)
    try:
        if upload_problems:
            problems = list(upload_problems)
            try:
                validate_form(fields, raw, files=resolver(session, row.instance_id, user.actor),
                              platforms=settings.platforms,
                              now=system_.clock.now())
            except FormInvalid as other:
                problems.extend(other.errors)
            raise FormInvalid(problems)
        system_.tasks.complete(session, user, row.id, raw, expected_version=version)
    except FormInvalid as invalid:
        _discard(written)
        session.rollback()
        shown = taskforms.parse_form(fields, request.form, platforms=settings.platforms)
        status = 413 if any(e.code == "too_large" for e in invalid.errors) else 422
        return _render(_task_row(task_id), status, invalid=invalid, shown=shown,
                       dropped_uploads=sum(len(v) for v in stored.values()))
    except Exception:
        _discard(written)
        raise
    flash(_("Tugas selesai."), "success")
    drafts.done(drafts.task_key(row.id))
    return redirect(url_for("inbox.index"))


# --------------------------------------------------------------------------------------------------
# Claim, give back, delegate
# --------------------------------------------------------------------------------------------------


@bp.post("/tugas/<uid:task_id>/ambil")
@login_required
def claim(task_id: str):
    row = _task_row(task_id)
    system().tasks.claim(db(), me(), row.id)
    flash(_("Tugas sudah Anda ambil. Silakan kerjakan formulirnya."), "success")
    return redirect(url_for(".show", task_id=row.id))


@bp.post("/tugas/<uid:task_id>/lepas")
@login_required
def unclaim(task_id: str):
    row = _task_row(task_id)
    system().tasks.unclaim(db(), me(), row.id)
    flash(_("Tugas dilepas; anggota lain dari lajur ini dapat mengambilnya."), "success")
    return redirect(url_for("inbox.index"))


@bp.post("/tugas/<uid:task_id>/delegasikan")
@login_required
def delegate(task_id: str):
    row = _task_row(task_id)
    target = (request.form.get("kepada") or "").strip()
    if not target:
        raise BadRequest("no delegate chosen", code="task.choose_delegate")
    row = system().tasks.delegate(db(), me(), row.id, target)
    name = _names([target]).get(target, target)
    flash(_("Tugas didelegasikan kepada %(name)s.", name=name), "success")
    return redirect(url_for("inbox.index"))


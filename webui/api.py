"""JSON API under /api/v1 (OpenAPI document at /api/v1/openapi.json).

Authentication is by ``Authorization: Bearer <token>`` only, never by the session cookie: a browser
cannot be tricked into sending the header, so CSRF does not apply and the blueprint is exempt from it.
The same services as the HTML pages enforce every rule; errors are JSON ``{"error": {"code",
"message"}}`` (webui/errors.py), 422 with ``fields`` for form errors.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from flask import Blueprint, Response, g, jsonify, request, url_for
from flask_babel import gettext as _

from engine.errors import InvalidDefinition, NotFound
from engine.forms import FormField
from engine.models import Instance, TaskRow
from process import inputs, modeling, paging, permissions, savedfilters, search
from process.casefile import can_view_case, case_list, case_view
from process.caseops import cancellations, comments_of
from process.cases import PROCEDURE_KEY
from process.deadlines import WIB
from process.declarations import Declarations
from process.errors import BadRequest, NotPermitted
from process.files import store_file
from process.forms import FieldError, FormInvalid, blank_form_values
from process.inbox import SCOPES, InboxItem, inbox_page
from process.models import User
from process.sorting import CREATED, DEADLINE, RELEVANCE, parse_sort

from . import modeler
from .access import lane_map, lanes_of
from .auth import TOKEN_MAX_AGE, check_credentials, issue_token, user_from_token
from .bodies import accepts_body
from .db import db, system
from .errors import engine_error_message, error_response
from .extensions import csrf, limiter
from .ids import body_ids
from .openapi import CLAIM_KEY, VERSION_KEY, ProcedureDoc, build_document, query_parameters
from .problems import problems_json

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

#: Endpoints reachable without a token.
PUBLIC_ENDPOINTS = frozenset({"api.token", "api.openapi"})
MAX_USERNAME = 100
MAX_PASSWORD = 200
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_ETAG_RE = re.compile(r'^(?:W/)?"?(-?\d{1,18})"?$')


class InvalidJson(BadRequest):
    code = "invalid_json"


# --------------------------------------------------------------------------------------------------
# Authentication
# --------------------------------------------------------------------------------------------------


def api_user() -> User:
    """The user of the bearer token of this request."""
    return g.api_user


def _bearer_token() -> str | None:
    scheme, _sep, token = (request.headers.get("Authorization") or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 1000:
        return None
    return token


@bp.before_request
def _authenticate():
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    token = _bearer_token()
    user = user_from_token(token) if token else None
    if user is None:
        body, status = error_response(401, "unauthorized", _(
            "Sertakan token API yang sah: header Authorization: Bearer <token> (lihat POST /api/v1/auth/token)."))
        body.headers["WWW-Authenticate"] = 'Bearer realm="alur-medsos"'
        return body, status
    g.api_user = user
    return None


_PLACEHOLDER = re.compile(r"<(?:\w+:)?(\w+)>")


@bp.before_request
def _known_query_parameters():
    """A query parameter the OpenAPI document does not declare for the operation is a 422 naming it (a misspelt
    ``per_pge`` would otherwise be ignored without a word, and the answer not be the one asked for)."""
    if request.url_rule is None or not request.args:
        return None
    path = _PLACEHOLDER.sub(r"{\1}", request.url_rule.rule.removeprefix(bp.url_prefix or ""))
    known = query_parameters().get((request.method, path))
    if known is None:  # not an operation of the document (the document itself): nothing to check against
        return None
    unknown = sorted(name for name in request.args if name not in known)
    if unknown:
        raise FormInvalid([FieldError.of("unknown_parameter", name[:50], name[:50], options=sorted(known))
                           for name in unknown[:10]])
    return None


@bp.after_request
def _no_store(response: Response) -> Response:
    # Tokens and case data must not sit in shared caches.
    response.headers["Cache-Control"] = "no-store"
    return response


# --------------------------------------------------------------------------------------------------
# Request and response helpers
# --------------------------------------------------------------------------------------------------


def _json_object() -> dict[str, Any]:
    """The request body as a JSON object; 422 for anything else."""
    if not request.is_json:
        raise InvalidJson("the body is not JSON", code="api.not_json")
    try:
        data = request.get_json(silent=True)
    except RecursionError:
        data = None
    if not isinstance(data, dict):
        raise InvalidJson("the body is not a JSON object", code="api.not_an_object")
    return data


def _iso(value: date | datetime | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(WIB).isoformat() if value.tzinfo else value.isoformat()
    return value.isoformat()


def _plain(value: Any) -> Any:
    """Task data and event payloads as JSON (dates as ISO strings)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (date, datetime)):
        return _iso(value)
    return value


def _now() -> datetime:
    return system().clock.now()


def _is_overdue(due_at: datetime | None, overdue_at: datetime | None, now: datetime) -> bool:
    return bool(overdue_at or (due_at and due_at < now))


def _inbox_json(item: InboxItem, rules: Declarations) -> dict:
    return {"id": item.task_id, "case_id": item.instance_id, "procedure": rules.process_key,
            "procedure_name": rules.name, "activity": item.activity,
            "activity_date": _iso(item.activity_date), "step": item.step, "step_number": rules.number(item.bpmn_id),
            "bpmn_id": item.bpmn_id, "lane": item.lane, "state": "ready", "due_at": _iso(item.due_at),
            "overdue": item.overdue, "claimed_by": item.claimed_by, "created_at": _iso(item.created_at)}


def _task_json(row: TaskRow, now: datetime | None = None, rules: Declarations | None = None) -> dict:
    """A task as the API shows it; ``rules``: the declarations of its case's version (looked up when not given)."""
    now = now or _now()
    if rules is None:
        rules = system().rules.of_instance(db(), row.instance_id)
    overdue = _is_overdue(row.due_at, row.overdue_at, now) if row.state == "ready" else bool(row.overdue_at)
    return {"id": row.id, "case_id": row.instance_id, "activity": row.case_title,
            "activity_date": _iso(row.case_date), "step": row.name, "step_number": rules.number(row.bpmn_id),
            "bpmn_id": row.bpmn_id, "lane": row.lane, "state": row.state, "due_at": _iso(row.due_at),
            "overdue": overdue, "claimed_by": row.claimed_by, "created_at": _iso(row.created_at),
            "completed_at": _iso(row.completed_at), "completed_by": row.completed_by}


def _field_json(f: FormField) -> dict:
    return {"id": f.id, "label": f.label, "type": f.type, "required": f.required, "readonly": f.readonly,
            "help": f.properties.get("help"), "constraints": dict(f.constraints),
            "options": [{"id": opt_id, "label": label} for opt_id, label in f.options], "default": f.default}


def _with_etag(response: Response, lock_version: int) -> Response:
    response.headers["ETag"] = f'"{lock_version}"'
    return response


def _date_arg(name: str) -> date | None:
    """A filter date by the date rule of process/inputs.py."""
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return inputs.query_date(raw, _now().astimezone(WIB).date())
    except inputs.Refused as refused:
        raise FormInvalid([FieldError.of(refused.code, name, name, refused.message_key, **refused.params)]) \
            from None


def _expected_version(body: dict) -> int | None:
    """The case's lock version the client saw: the ``_version`` key or an ``If-Match`` header."""
    versions = []
    if VERSION_KEY in body:
        value = body.pop(VERSION_KEY)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int):
                raise FormInvalid([FieldError.of("type", VERSION_KEY, VERSION_KEY, "field.integer")])
            versions.append(value)
    header = (request.headers.get("If-Match") or "").strip()
    if header and header != "*":
        match = _ETAG_RE.match(header)
        if match is None:
            raise BadRequest(f"unreadable If-Match {header[:40]!r}", code="api.if_match")
        versions.append(int(match.group(1)))
    if len(set(versions)) > 1:
        raise BadRequest("_version and If-Match differ", code="api.version_mismatch")
    return versions[0] if versions else None


# --------------------------------------------------------------------------------------------------
# Endpoints
# --------------------------------------------------------------------------------------------------


@bp.post("/auth/token")
@limiter.limit("10 per minute")
def token():
    body = _json_object()
    errors = []
    values = {}
    for name, label, limit in (("username", _("Nama pengguna"), MAX_USERNAME),
                               ("password", _("Kata sandi"), MAX_PASSWORD)):
        value = body.get(name)
        if not isinstance(value, str) or not value.strip():
            errors.append(FieldError.of("required", name, label))
        elif len(value) > limit:
            errors.append(FieldError.of("maxlength", name, label, n=limit, length=len(value)))
        values[name] = value
    if errors:
        raise FormInvalid(errors)
    user = check_credentials(values["username"].strip(), values["password"])
    if user is None:
        # One answer for unknown users and wrong passwords alike: no user enumeration.
        return error_response(401, "invalid_credentials", _("Nama pengguna atau kata sandi salah."))
    return jsonify({"token": issue_token(user), "token_type": "Bearer", "expires_in": TOKEN_MAX_AGE})


@bp.get("/me")
def me():
    user = api_user()
    return jsonify({"username": user.username, "full_name": user.full_name, "roles": sorted(user.roles),
                    "groups": sorted(user.group_codes), "lanes": sorted(lanes_of(user)),
                    "team": user.team.code if user.team else None, "nip": user.nip or None,
                    "jabatan": user.jabatan or ""})


@bp.get("/tasks")
def list_tasks():
    scope = request.args.get("scope", "mine")
    errors = []
    if scope not in SCOPES:
        errors.append(FieldError.of("enum", "scope", "scope", options=list(SCOPES)))
    q = (request.args.get("q") or "").strip() or None
    if q is not None and (len(q) > 100 or _CONTROL_RE.search(q)):
        errors.append(FieldError.of("q", "q", "q", "field.query"))
    if errors:
        raise FormInvalid(errors)
    sort = parse_sort("inbox", request.args.get("sort"), request.args.get("order"), default=DEADLINE)
    per_page = _int_arg("per_page", paging.DEFAULT_PER_PAGE, 1, paging.MAX_PER_PAGE)
    session, rulebook = db(), system().rules
    mine = lanes_of(api_user())
    page = inbox_page(session, api_user(), scope, now=_now(), lanes=mine, q=q, date_from=_date_arg("from"),
                      date_to=_date_arg("to"), per_page=per_page, cursor=_cursor_arg(),
                      overdue_lanes=lane_map().overdue_lanes, heard=lane_map().heard_lanes(mine), sort=sort)
    rules = rulebook.of_instances(session, {item.instance_id for item in page.items})
    return jsonify(_page_json(page, [_inbox_json(item, rules[item.instance_id]) for item in page.items],
                              sort=sort.key, order=sort.order))


def _cursor_arg() -> str | None:
    """The ``cursor`` query parameter: where the page starts (process/paging.py); none or empty: the first page."""
    return request.args.get("cursor") or None  # not stripped: " " is no cursor (422), as the document says


def _page_json(page: paging.Page, items: list, **extra) -> dict:
    """One page of a list as the API answers it: ``items``, ``total`` (of the whole list), ``per_page`` and
    ``next_cursor`` (null on the last page)."""
    return {"items": items, "total": page.total, "per_page": page.per_page, "next_cursor": page.next_cursor,
            **extra}


@bp.get("/tasks/<uid:task_id>")
def get_task(task_id: str):
    session, system_, user = db(), system(), api_user()
    row = system_.tasks.task(session, task_id)
    instance = session.get(Instance, row.instance_id)
    may_act = permissions.may_act(user, row, lanes_of(user))
    if not may_act and not can_view_case(user, instance, lane_map()):
        raise NotPermitted("the user may not see this task", code="task.not_visible")
    fields = system_.tasks.form_of(session, row)
    data = system_.engine.task_data(session, row.id) if row.state == "ready" else {}
    rules = system_.rules.of_instance(session, instance)  # the case is loaded: no query for its version
    body = {**_task_json(row, rules=rules), "form": [_field_json(f) for f in fields],
            "values": _plain(blank_form_values(fields, data)), "lock_version": instance.lock_version,
            "case_status": instance.status, "may_act": may_act}
    return _with_etag(jsonify(body), instance.lock_version)


def _task_action(action, task_id: str, *args) -> Response:
    row = action(db(), api_user(), task_id, *args)
    return jsonify(_task_json(row))


@bp.post("/tasks/<uid:task_id>/claim")
def claim_task(task_id: str):
    return _task_action(system().tasks.claim, task_id)


@bp.post("/tasks/<uid:task_id>/unclaim")
def unclaim_task(task_id: str):
    return _task_action(system().tasks.unclaim, task_id)


@bp.post("/tasks/<uid:task_id>/delegate")
def delegate_task(task_id: str):
    to = _json_object().get("to")
    if not isinstance(to, str) or not to.strip() or len(to) > MAX_USERNAME:
        raise FormInvalid([FieldError.of("required", "to", "to", "field.recipient")])
    return _task_action(system().tasks.delegate, task_id, to.strip())


@bp.post("/tasks/<uid:task_id>/reassign")
def reassign_task(task_id: str):
    """A lead gives a waiting task to another person of its lane (and team): process/caseops.py."""
    body = _json_object()
    return _task_action(system().caseops.reassign, task_id, body.get("to"), body.get("reason"))


@bp.post("/tasks/<uid:task_id>/complete")
def complete_task(task_id: str):
    body = _json_object()
    expected = _expected_version(body)
    claim = body.pop(CLAIM_KEY, False)
    if not isinstance(claim, bool):
        raise FormInvalid([FieldError.of("type", CLAIM_KEY, CLAIM_KEY, "field.boolean_literal")])
    session = db()
    result = system().tasks.complete(session, api_user(), task_id, body, expected_version=expected, claim=claim)
    session.flush()  # the lock version the client should send next
    instance = result.instance
    now = _now()
    rules = system().rules.of_definition(session, instance.definition_id)
    return jsonify({"case_id": instance.id, "status": instance.status, "end_event": instance.end_event,
                    "lock_version": instance.lock_version,
                    "ready": [_task_json(r, now, rules) for r in result.ready]})


@bp.post("/cases")
def create_case():
    """Open a case: the body is the procedure's start form (its start event's fields), the team (``tim`` or the
    field its diagram names) and, for another procedure than the default one, ``procedure`` (its process id)."""
    body = _json_object()
    session = db()
    key = body.pop(PROCEDURE_KEY, None)
    if key is not None and not isinstance(key, str):
        raise FormInvalid([FieldError.of("type", PROCEDURE_KEY, PROCEDURE_KEY)])
    try:
        chosen = system().cases.procedure(session, key, deploy=True)
    except NotFound:
        raise FormInvalid([FieldError.of("enum", PROCEDURE_KEY, PROCEDURE_KEY, options=[
            p.key for p in system().cases.procedures(session)])]) from None
    team_key = chosen.rules.team_key
    allowed = {f.id for f in chosen.start_form} | ({team_key} if chosen.needs_team else set())
    errors = [FieldError.of("unknown_field", str(k)[:70], str(k)[:70]) for k in body if k not in allowed]
    if body.get(team_key) is not None and not isinstance(body[team_key], str):
        errors.append(FieldError.of("type", team_key, team_key))
    if errors:
        raise FormInvalid(errors)
    result = system().cases.start_case(session, api_user(), body, procedure=chosen.key, chosen=chosen)
    session.flush()
    instance = result.instance
    first = result.ready[0].id if result.ready else None
    response = jsonify({"case_id": instance.id, "task_id": first, "status": instance.status,
                        "lock_version": instance.lock_version})
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_case", case_id=instance.id)
    return response


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    """A whole-number query parameter between ``low`` and ``high``."""
    if name not in request.args:
        return default
    raw = request.args.get(name, "").strip()  # given but empty ("?page="): not a number, as the schema says
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        raise FormInvalid([FieldError.of("type", name, name, "field.integer")])
    value = int(raw)
    if value < low:
        raise FormInvalid([FieldError.of("min", name, name, n=low)])
    if value > high:
        raise FormInvalid([FieldError.of("max", name, name, n=high)])
    return value


@bp.get("/cases")
def list_cases():
    """The cases the caller may see, one page, across every procedure unless ``procedure`` is given; ``q`` finds
    a case by its name, register number, place and texts (best match first unless ``sort`` says otherwise), each
    with the ``snippet`` where the words were found; ``sort`` and ``order`` (process/sorting.py)."""
    q = (request.args.get("q") or "").strip() or None
    if q is not None and (len(q) > 100 or _CONTROL_RE.search(q)):
        raise FormInvalid([FieldError.of("q", "q", "q", "field.query")])
    session, rulebook = db(), system().rules
    procedure = (request.args.get("procedure") or "").strip() or None
    if procedure is not None:
        known = [p.key for p in system().cases.procedures(session)]
        if procedure not in known:
            raise FormInvalid([FieldError.of("enum", "procedure", "procedure", options=known)])
    page = _int_arg("page", 1, 1, 1_000_000) if "page" in request.args else None
    per_page = _int_arg("per_page", paging.DEFAULT_PER_PAGE, 1, paging.MAX_CASES_PER_PAGE)
    sort = None
    if (request.args.get("sort") or "").strip() or (request.args.get("order") or "").strip():
        sort = parse_sort("cases", request.args.get("sort"), request.args.get("order"),
                          default=RELEVANCE if search.query_words(q) else CREATED)
    result = case_list(session, api_user(), rulebook, q=q, procedure=procedure, page=page, per_page=per_page,
                       sort=sort, cursor=_cursor_arg())
    now = _now()
    rules = rulebook.of_instances(session, [c.instance.id for c in result.items])
    return jsonify({
        "total": result.total, "total_is_lower_bound": result.more, "page": result.page,
        "per_page": result.per_page, "pages": result.pages, "next_cursor": result.next_cursor,
        "sort": result.sort.key, "order": result.sort.order, "newest_first": result.newest_first,
        "items": [{"id": c.instance.id, "procedure": rules[c.instance.id].process_key, "procedure_name": c.procedure,
                   "activity": c.instance.title, "activity_date": _iso(c.instance.business_date),
                   "team": c.instance.group, "status": c.instance.status, "outcome": c.outcome,
                   "register_number": c.register_number, "created_at": _iso(c.instance.created_at),
                   "updated_at": _iso(c.instance.updated_at),
                   "tasks": [_task_json(row, now, rules[c.instance.id]) for row in c.current],
                   "snippet": _snippet_json(c.snippet)}
                  for c in result.items]})


def _snippet_json(snippet: search.Snippet | None) -> dict | None:
    """Where a search's words were found: the text (``field``: ``_register``, ``_place`` or a field id), the words
    around them (``text``) and the found ones as [start, end) character offsets of ``text`` (``marks``)."""
    if snippet is None:
        return None
    text, marks = "", []
    for part, found in snippet.parts:
        if found:
            marks.append([len(text), len(text) + len(part)])
        text += part
    return {"field": snippet.field, "text": text, "marks": marks}


# --------------------------------------------------------------------------------------------------
# Saved filters of the inbox and the case list
# --------------------------------------------------------------------------------------------------


def _saved_json(saved: savedfilters.Saved) -> dict:
    return {"id": saved.id, "view": saved.view, "name": saved.name, "params": saved.params,
            "created_at": _iso(saved.created_at)}


@bp.get("/saved-filters")
def list_saved_filters():
    view = (request.args.get("view") or "").strip() or None
    if view is not None:
        savedfilters.check_view(view)
    return jsonify([_saved_json(f) for f in savedfilters.filters(db(), api_user(), view)])


@bp.post("/saved-filters")
def create_saved_filter():
    body = _json_object()
    unknown = [FieldError.of("unknown_field", str(k)[:70], str(k)[:70]) for k in body
               if k not in ("name", "view", "params")]
    if unknown:
        raise FormInvalid(unknown)
    saved = savedfilters.save(db(), api_user(), body.get("view"), body.get("name"), body.get("params", {}), _now())
    response = jsonify(_saved_json(saved))
    response.status_code = 201
    return response


@bp.delete("/saved-filters/<id:filter_id>")
def delete_saved_filter(filter_id: int):
    savedfilters.delete(db(), api_user(), filter_id)
    return "", 204


@bp.get("/cases/<id:case_id>")
def get_case(case_id: int):
    view = case_view(db(), api_user(), case_id, system().rules)
    instance = view.instance
    now = _now()
    body = {
        "id": instance.id,
        "procedure": view.rules.process_key,
        "procedure_name": view.rules.name,
        "status": instance.status,
        "end_event": instance.end_event,
        "activity": instance.title,
        "activity_date": _iso(instance.business_date),
        "team": instance.group,
        "register_number": view.register_number,
        "definition_version": view.definition_version,
        "lock_version": instance.lock_version,
        "created_at": _iso(instance.created_at),
        "completed_at": _iso(instance.completed_at),
        "tasks": [_task_json(row, now, view.rules) for row in view.tasks],
        "responses": [{"step": r.step, "bpmn_id": r.bpmn_id, "lane": r.lane, "actor": r.actor, "at": _iso(r.at),
                       "decision": r.decision, "text": r.text} for r in view.responses],
        "attachments": [{"id": f.id, "sha256": f.sha256, "name": f.original_name, "kind": f.kind, "mime": f.mime,
                         "size": f.size, "uploaded_by": f.uploaded_by, "uploaded_at": _iso(f.uploaded_at)}
                        for f in view.attachments],
        "history": [{"seq": e.seq, "type": e.type, "at": _iso(e.at), "actor": e.actor, "task_id": e.task_id,
                     "data": _plain(e.data)} for e in view.history],
        "data": _plain(view.data),
        "cancellation": _cancellation_json(db(), instance.id) if instance.status == "cancelled" else None,
        "comments": [_comment_json(c) for c in comments_of(db(), instance.id)],
    }
    return _with_etag(jsonify(body), instance.lock_version)


def _cancellation_json(session, instance_id: int) -> dict | None:
    found = cancellations(session, [instance_id]).get(instance_id)
    return {"by": found.actor, "at": _iso(found.at), "reason": found.reason} if found else None


def _comment_json(comment) -> dict:
    return {"seq": comment.seq, "author": comment.actor, "at": _iso(comment.at), "text": comment.text}


@bp.post("/cases/<id:case_id>/cancel")
def cancel_case(case_id: int):
    """Cancel a running case with a written reason (``reason``): process/caseops.py says who may."""
    body = _json_object()
    session = db()
    result = system().caseops.cancel(session, api_user(), case_id, body.get("reason"))
    session.flush()
    instance = result.instance
    recorded = json.loads(next(e.payload for e in result.events if e.type == "case_cancelled"))
    return jsonify({"id": instance.id, "status": instance.status, "cancelled_by": api_user().actor,
                    "cancelled_at": _iso(instance.completed_at), "cancel_reason": recorded["reason"],
                    "cancelled_tasks": [row.id for row in result.completed]})


@bp.get("/cases/<id:case_id>/comments")
def list_comments(case_id: int):
    """The case's comments, oldest first, one page (``cursor``, ``per_page``)."""
    per_page = _int_arg("per_page", paging.DEFAULT_PER_PAGE, 1, paging.MAX_PER_PAGE)
    page = system().caseops.comments_page(db(), api_user(), case_id, cursor=_cursor_arg(), per_page=per_page)
    return jsonify(_page_json(page, [_comment_json(c) for c in page.items]))


@bp.post("/cases/<id:case_id>/comments")
def add_comment(case_id: int):
    """Add a comment (``text``; not a return) to a case the caller sees; auditors only read."""
    body = _json_object()
    comment = system().caseops.comment(db(), api_user(), case_id, body.get("text"))
    return jsonify(_comment_json(comment)), 201


@bp.post("/files")
@accepts_body("upload")
def upload_file():
    user = api_user()
    if not lanes_of(user):
        raise NotPermitted("only staff of the SOP's steps upload files", code="api.upload_staff_only")
    upload = request.files.get("file")  # a body over the upload limit is a 413 here (webui/bodies.py)
    if upload is None:
        raise FormInvalid([FieldError.of("required", "file", "file", "field.file_upload")])
    settings = system().settings
    data = upload.read()  # the request's limit bounds it; store_file refuses what is over its kind's limit (413)
    session = db()
    record = store_file(session, settings.files_dir, data, upload.filename or "", uploaded_by=user.actor,
                        now=_now(), max_image_bytes=settings.max_image_bytes,
                        max_other_bytes=settings.max_other_bytes,
                        max_image_pixels=settings.max_image_pixels)
    session.flush()
    response = jsonify({"id": record.id, "sha256": record.sha256, "size": record.size, "kind": record.kind,
                        "mime": record.mime, "name": record.original_name})
    response.status_code = 201
    return response


# --------------------------------------------------------------------------------------------------
# Process definitions (process owners only): validate, deploy, list, download, migrate
# --------------------------------------------------------------------------------------------------

MAX_MIGRATION_IDS = modeler.MAX_CASES


def _require_owner() -> User:
    """Checked before the body is read: everyone else gets 403, whatever they sent."""
    user = api_user()
    if modeling.OWNER_ROLE not in user.roles:
        raise NotPermitted("only the process owner manages diagrams", code="api.owner_only")
    return user


def _invalid_definition(exc: InvalidDefinition):
    _status, message = engine_error_message(exc)
    return error_response(422, exc.code, message, problems_json(exc.problems))


def _definition_json(definition, running: int, latest: int) -> dict:
    summary = modeling.summary_of(definition)
    return {"version": definition.version, "sha256": definition.sha256, "process_key": definition.process_key,
            "created_at": _iso(definition.created_at), "created_by": definition.created_by, "summary": summary,
            "summary_text": modeler.summary_lines(summary), "running_cases": running,
            "latest": definition.version == latest,
            "download": url_for("api.download_definition", version=definition.version)}


@bp.post("/definitions/validate")
@accepts_body("diagram")
def validate_definition():
    _require_owner()
    try:
        report = modeler.validate_xml(modeler.xml_body())
    except InvalidDefinition as exc:
        return _invalid_definition(exc)
    return jsonify({"process_key": report.process_key, "deployable": True,
                    "warnings": problems_json(report.warnings)})


@bp.post("/definitions")
@accepts_body("diagram")
def deploy_definition():
    _require_owner()
    try:
        definition, summary, created = modeler.deploy_xml(modeler.xml_body())
    except InvalidDefinition as exc:
        return _invalid_definition(exc)
    response = jsonify({"version": definition.version, "sha256": definition.sha256, "created": created,
                        "created_at": _iso(definition.created_at), "created_by": definition.created_by,
                        "summary": summary, "summary_text": modeler.summary_lines(summary)})
    response.status_code = 201 if created else 200
    response.headers["Location"] = url_for("api.download_definition", version=definition.version)
    return response


@bp.get("/definitions")
def list_definitions():
    _require_owner()
    session = db()
    per_page = _int_arg("per_page", paging.DEFAULT_PER_PAGE, 1, paging.MAX_PER_PAGE)
    page = modeling.versions_page(session, modeler.process_key(), cursor=_cursor_arg(), per_page=per_page)
    counts = modeler.running_counts(session)
    latest = modeling.versions_page(session, modeler.process_key(), per_page=1).items
    latest = latest[0].version if latest else 0
    return jsonify(_page_json(page, [_definition_json(d, counts.get(d.version, 0), latest) for d in page.items]))


@bp.get("/definitions/<id:version>.bpmn")
def download_definition(version: int):
    _require_owner()
    return modeler.bpmn_download(modeler.get_version(version))


@bp.get("/definitions/<id:version>/migration")
def definition_migration_plan(version: int):
    _require_owner()
    session = db()
    target = modeler.get_version(version)
    return jsonify({"version": target.version, **modeler.migration_plan(session, target)})


@bp.post("/definitions/<id:version>/migration")
def migrate_to_definition(version: int):
    _require_owner()
    body = _json_object()
    errors = [FieldError.of("unknown_field", str(key)[:70], str(key)[:70]) for key in body
              if key not in ("case_ids", "mapping", "keep")]
    ids, mapping, keep = [], {}, []
    try:
        ids = body_ids("case_ids", body.get("case_ids"), max_items=MAX_MIGRATION_IDS)
    except FormInvalid as invalid:
        errors.extend(invalid.errors)
    try:
        mapping = modeler.task_mapping(body.get("mapping"))
    except FormInvalid as invalid:
        errors.extend(invalid.errors)
    try:
        keep = modeler.task_keep(body.get("keep"), mapping)
    except FormInvalid as invalid:
        errors.extend(invalid.errors)
    if errors:
        raise FormInvalid(errors)
    session = db()
    target = modeler.get_version(version)
    outcome = modeler.migrate_cases(session, target, ids, mapping, keep)
    return jsonify({"version": target.version, **outcome})


def _numbers(rules: Declarations) -> dict[str, int]:
    return {s.bpmn_id: s.number for s in rules.numbered}


def _team_key(rules: Declarations) -> str | None:
    """The start form's field that holds the case's team, when the procedure has team-scoped lanes."""
    return rules.team_key if rules.needs_team else None


@bp.get("/openapi.json")
def openapi():
    system_ = system()
    procedures = [ProcedureDoc(p.key, p.name, p.version, tuple(p.parsed.user_tasks), _numbers(p.rules),
                               tuple(p.parsed.start_form), _team_key(p.rules))
                  for p in system_.cases.procedures(db())]
    if not procedures:  # nothing deployed yet: describe the bundled diagram
        parsed = system_.engine.validate(system_.settings.diagram_path.read_bytes())
        rules = system_.rules.of(parsed)
        procedures = [ProcedureDoc(parsed.process_key, parsed.name, None, tuple(parsed.user_tasks), _numbers(rules),
                                   tuple(parsed.start_form), _team_key(rules))]
    document = build_document(procedures, platforms=system_.settings.platforms, token_max_age=TOKEN_MAX_AGE,
                              server_url=url_for("api.openapi").rsplit("/", 1)[0])
    return Response(json.dumps(document, ensure_ascii=False, indent=1), mimetype="application/json")

"""Process owners: the diagram modeler, validation and deployment, the version list and migration of waiting cases.

Every page and endpoint here is for the ``process_owner`` role only (403 for everyone else). The page's buttons call
the session-authenticated JSON endpoints ``/proses/validasi`` and ``/proses/terapkan`` with the XML as the body and
the CSRF token in the ``X-CSRFToken`` header; the JSON API under /api/v1/definitions (webui/api.py) offers the same
with a bearer token. The server's validation (engine/definitions.py, process/modeling.py) is the one rule set: the
modeler asks it while the owner draws and shows exactly its problems (frontend/modeler.js has no rules of its own).
"""
from __future__ import annotations

from urllib.parse import unquote

from flask import Blueprint, Response, abort, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import get_translations
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import generate_csrf
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from engine.errors import InvalidDefinition, MigrationRefused
from engine.models import Definition, Instance
from process import modeling, sopimport
from process.casefile import display_names
from process.errors import BadRequest
from process.forms import FieldError, FormInvalid

from . import i18n
from .access import me, role_required
from .bodies import accepts_body
from .db import db, system
from .errors import engine_error_message
from .ids import body_ids, query_id
from .problems import TYPE_LABELS, problem_message, problems_json

bp = Blueprint("modeler", __name__, url_prefix="/proses")

OWNER = modeling.OWNER_ROLE
#: Most cases moved by one request (the API says the same).
MAX_CASES = 1000


# --------------------------------------------------------------------------------------------------
# Change summaries in words
# --------------------------------------------------------------------------------------------------

ASPECT_LABELS = {
    "timer": _l("Batas waktu diubah"),
    "timer_kind": _l("Jenis timer diubah"),
    "event": _l("Jenis peristiwa diubah"),
    "scriptFormat": _l("Bahasa skrip diubah"),
    "name": _l("Nama diubah"),
    "lane": _l("Lajur diubah"),
    "condition": _l("Kondisi diubah"),
    "script": _l("Skrip diubah"),
    "text": _l("Teks diubah"),
    "sourceRef": _l("Asal alur diubah"),
    "targetRef": _l("Tujuan alur diubah"),
    "attachedToRef": _l("Dilekatkan ke tugas lain"),
    "cancelActivity": _l("Penghentian tugas oleh timer (cancelActivity) diubah"),
    "default": _l("Alur bawaan gateway diubah"),
    "type": _l("Jenis elemen diubah"),
}

FIELD_PART_LABELS = {
    "label": _l("label"),
    "type": _l("jenis"),
    "default": _l("nilai bawaan"),
    "constraints": _l("batasan"),
    "options": _l("pilihan"),
    "properties": _l("properti"),
}

NOTES = {"versi awal (bawaan)": _l("Versi awal: diagram bawaan aplikasi.")}
#: Values of aspects shown as words rather than as the diagram writes them.
VALUE_LABELS = {"timeDate": _l("tanggal (timeDate)"), "timeDuration": _l("durasi (timeDuration)"),
                "timeCycle": _l("berulang (timeCycle)")}


def _value(value) -> str:
    if value is None or value == "":
        return "\u2014"
    return str(VALUE_LABELS.get(value, value)) if isinstance(value, str) else str(value)


def element_label(entry: dict) -> str:
    kind = TYPE_LABELS.get(entry.get("type") or "", entry.get("type") or "?")
    name = (entry.get("name") or "").strip()
    if name:
        return f"{kind} \u201c{name}\u201d ({entry.get('id')})"
    return f"{kind} {entry.get('id')}"


def _aspect_text(change: dict) -> str:
    aspect = change.get("aspect")
    field_name = f"{change.get('label') or change.get('field')} ({change.get('field')})"
    if aspect == "field_added":
        if change.get("required"):
            return _("Field baru (wajib): %(field)s", field=field_name)
        return _("Field baru: %(field)s", field=field_name)
    if aspect == "field_removed":
        return _("Field dihapus: %(field)s", field=field_name)
    if aspect == "field_changed":
        parts = ", ".join(str(FIELD_PART_LABELS.get(w, w)) for w in change.get("what") or [])
        return _("Field diubah: %(field)s (%(parts)s)", field=field_name, parts=parts or "\u2014")
    label = ASPECT_LABELS.get(aspect)
    if label is None:
        return _("%(aspect)s diubah: %(old)s \u2192 %(new)s", aspect=aspect, old=_value(change.get("old")),
                 new=_value(change.get("new")))
    if aspect in ("script", "text"):
        return str(label)
    return _("%(what)s: %(old)s \u2192 %(new)s", what=label, old=_value(change.get("old")),
             new=_value(change.get("new")))


def describe_summary(summary: dict | None) -> dict:
    """The change summary of a version for templates: ``{"note", "added", "removed", "changed"}`` where added and
    removed are element labels and changed is a list of ``{"element", "id", "details": [sentences]}``."""
    summary = summary or {}
    note = summary.get("note")
    note = str(NOTES.get(note, note)) if note else None
    if summary.get("restores"):
        restored = _("Mengembalikan isi versi %(version)s (rollback).", version=summary["restores"])
        note = f"{note} {restored}" if note else restored
    return {
        "note": note,
        "added": [element_label(e) for e in summary.get("added") or []],
        "removed": [element_label(e) for e in summary.get("removed") or []],
        "changed": [{"element": element_label(e), "id": e.get("id"),
                     "details": [_aspect_text(c) for c in e.get("changes") or []]}
                    for e in summary.get("changed") or []],
        "rules": [i18n.message(m) for m in summary.get("rules") or []],
    }


def summary_lines(summary: dict | None) -> list[str]:
    """The change summary as one sentence per change (for JSON answers and short lists)."""
    described = describe_summary(summary)
    lines = [described["note"]] if described["note"] else []
    lines += [_("Ditambahkan: %(element)s", element=e) for e in described["added"]]
    lines += [_("Dihapus: %(element)s", element=e) for e in described["removed"]]
    for entry in described["changed"]:
        lines += [f"{entry['element']}: {detail}" for detail in entry["details"]]
    lines += [_("Aturan: %(change)s", change=rule) for rule in described["rules"]]
    return lines


# --------------------------------------------------------------------------------------------------
# Shared with the JSON API
# --------------------------------------------------------------------------------------------------


def process_key() -> str:
    """The procedure the process owner works on: ``?prosedur=<process id>`` when that procedure is deployed, else
    the default one. Links of these pages keep it (``_keep_procedure``)."""
    if "prosedur" not in g:
        wanted = request.args.get("prosedur", "")[:200]
        known = wanted and db().execute(select(Definition.id).where(Definition.process_key == wanted)
                                        .limit(1)).scalar() is not None
        g.prosedur = wanted if known else system().settings.process_key
    return g.prosedur


@bp.url_defaults
def _keep_procedure(endpoint: str, values: dict) -> None:
    """Every link of the modeler's pages stays on the procedure being worked on (none is added for the default)."""
    current = g.get("prosedur")
    if current and current != system().settings.process_key and "prosedur" not in values:
        values["prosedur"] = current


def procedure_names() -> list[tuple[str, str]]:
    """(process id, name) of every deployed procedure, the default one first."""
    return [(p.key, p.name) for p in system().cases.procedures(db())]


def xml_body() -> bytes:
    """The raw request body, whatever its content type. Views calling this are marked ``accepts_body("diagram")``:
    a body over the diagram limit is a 413, refused before reading when its length is declared, else as soon as
    reading passes the limit (webui/bodies.py)."""
    return request.get_data(cache=True, parse_form_data=False)


def validate_xml(xml: bytes) -> modeling.ValidationReport:
    """process.modeling.validate (a diagram of a new process id is a new procedure; a group must work each lane)."""
    return modeling.validate(system(), me_or_api(), xml, db())


def deploy_xml(xml: bytes) -> tuple[Definition, dict, bool]:
    """Deploy; ``created`` is False when the same content was already a version (nothing new is stored)."""
    session = db()
    user = me_or_api()
    key = validate_xml(xml).process_key
    before = session.execute(select(func.max(Definition.version))
                             .where(Definition.process_key == key)).scalar() or 0
    try:
        definition, summary = modeling.deploy(session, system(), user, xml)
    except IntegrityError:  # another owner deployed the same version number a moment ago
        abort(409)
    created = definition.version > before
    return definition, (summary if created else modeling.summary_of(definition)), created


def me_or_api():
    """The acting user: the bearer token's on /api/, the session's elsewhere."""
    if request.blueprint == "api":
        from .api import api_user

        return api_user()
    return me()


def running_counts(session) -> dict[int, int]:
    """Running cases per version number of this application's process."""
    rows = session.execute(
        select(Definition.version, func.count(Instance.id))
        .join(Instance, Instance.definition_id == Definition.id)
        .where(Definition.process_key == process_key(), Instance.status == "running")
        .group_by(Definition.version)).all()
    return {version: count for version, count in rows}


def get_version(number: int) -> Definition:
    return modeling.version(db(), process_key(), number)


def migration_plan(session, target: Definition) -> dict:
    """The migration plan as the page and the API show it: ``cases`` (each with whether it can move as it is, and
    the tasks it waits on that ``target`` lacks: ``removed``) and ``removed_tasks`` (each such task once, with
    the cases waiting on it and the tasks of ``target`` it may be mapped to; never a choice made for the owner,
    only a hint: ``same_name``)."""
    plan = modeling.migration_plan(session, system(), me_or_api(), target)
    versions = dict(session.execute(
        select(Instance.id, Definition.version).join(Definition, Instance.definition_id == Definition.id)
        .where(Instance.id.in_([c.instance_id for c in plan] or [-1]))).all())
    cases = []
    for c in plan:
        removed = [t.bpmn_id for t in c.removed]
        unmapped = [r for r in c.reasons if r.code in ("migration.task_removed", "migration.completed_unmapped")
                    and r.element_id in removed]
        cases.append({"case_id": c.instance_id, "title": c.title, "version": versions.get(c.instance_id),
                      "can_move": c.can_move, "reasons": [problem_message(r) for r in c.reasons],
                      "problems": problems_json(c.reasons), "tasks": list(c.tasks), "removed": removed,
                      # blocked only by removed tasks: it moves once each of them is mapped
                      "needs_mapping": bool(removed) and len(unmapped) == len(c.reasons)})
    removed_tasks = [{"task": e["task"].bpmn_id, "name": e["task"].name, "lane": e["task"].lane,
                      "cases": e["cases"], "waiting": e["waiting"], "completed": e["completed"],
                      "step": e["number"], "if_kept": _if_kept(e) if e["completed"] else [],
                      "choices": [{"task": ch.bpmn_id, "name": ch.name, "same_name": ch.same_name}
                                  for ch in e["choices"]]}
                     for e in modeling.mapping_choices(session, system(), target, plan)]
    return {"cases": cases, "removed_tasks": removed_tasks}


def _if_kept(entry: dict) -> list[str]:
    """In words, what stops applying to the cases' history of a completed removed step kept under its old id."""
    task, number = entry["task"], entry["number"]
    old = _("langkah %(n)s", n=number) if number else f"“{task.name or task.bpmn_id}”"
    out = [_("Riwayat %(step)s tetap tercatat dengan ID lama %(id)s, yang tidak dikenal versi baru: tanpa nomor "
             "langkah di halaman kasus dan laporan.", step=old, id=task.bpmn_id)]
    for rule in entry["unseen"]:
        if rule["kind"] == "separate":
            out.append(_("Aturan “bukan orang yang menyelesaikan langkah %(step)s” pada langkah %(at)s "
                         "(%(at_name)s) tidak akan mengenali penyelesaian lama ini, bila langkah %(step)s "
                         "(%(step_name)s) adalah penggantinya.", step=rule["step"], at=rule["at"],
                         at_name=rule["at_name"], step_name=rule["step_name"]))
        else:
            out.append(_("Tanggapan tertulis lama pada langkah ini tidak akan tampil sebagai tanggapan langkah "
                         "%(step)s (%(step_name)s), bila itu penggantinya.", step=rule["step"],
                         step_name=rule["step_name"]))
    return out


def migration_rows(session, target: Definition) -> list[dict]:
    return migration_plan(session, target)["cases"]


#: Most entries of a migration plan's mapping, and the longest id in it.
MAX_MAPPING, MAX_TASK_ID = 200, 200


def task_mapping(value, field: str = "mapping") -> dict[str, str]:
    """A migration plan's mapping as sent ({old task id: new task id}, both texts): a 422 naming ``field`` when it
    is anything else. Whether the ids make sense is the engine's check (process.modeling.migrate)."""
    if value is None:
        return {}
    problem = FieldError.of("task_mapping", field, field, "field.task_mapping", n=MAX_MAPPING)
    if not isinstance(value, dict) or len(value) > MAX_MAPPING:
        raise FormInvalid([problem])
    mapping = {}
    for old, new in value.items():
        if not isinstance(new, str) or not 0 < len(old) <= MAX_TASK_ID or not 0 < len(new) <= MAX_TASK_ID:
            raise FormInvalid([problem])
        mapping[old] = new
    return mapping


def task_keep(value, mapping: dict[str, str], field: str = "keep") -> list[str]:
    """A migration plan's list of completed removed steps kept under their old id (texts, none also mapped): a 422
    naming ``field`` when it is anything else."""
    if value is None:
        return []
    problem = FieldError.of("task_keep", field, field, "field.task_keep", n=MAX_MAPPING)
    if not isinstance(value, list) or len(value) > MAX_MAPPING or any(
            not isinstance(old, str) or not 0 < len(old) <= MAX_TASK_ID or old in mapping for old in value):
        raise FormInvalid([problem])
    return sorted(set(value))


def migrate_cases(session, target: Definition, ids: list[int], mapping: dict[str, str] | None = None,
                  keep: list[str] | None = None) -> dict:
    outcome = modeling.migrate(session, system(), me_or_api(), target, ids, mapping, keep)
    return {"moved": outcome["moved"],
            "refused": [{"case_id": r["case_id"], "reason": " ".join(problem_message(p) for p in r["problems"]),
                         "problems": problems_json(r["problems"])} for r in outcome["refused"]]}


# --------------------------------------------------------------------------------------------------
# Pages
# --------------------------------------------------------------------------------------------------



@bp.get("")
@role_required(OWNER)
def index():
    session = db()
    versions = modeling.versions(session, process_key())
    counts = running_counts(session)
    latest = versions[0] if versions else None
    names = display_names(session, {v.created_by for v in versions})
    older_running = sum(n for v, n in counts.items() if latest is None or v != latest.version)
    return render_template("modeler/index.html", latest=latest, versions=versions, counts=counts, names=names,
                           procedures=procedure_names(), current=process_key(),
                           older_running=older_running,
                           summary=summary_lines(modeling.summary_of(latest)) if latest else [])


@bp.get("/modeler")
@role_required(OWNER)
def edit():
    session = db()
    versions = modeling.versions(session, process_key())
    number = query_id("versi")
    source = None
    if number is not None:
        source = get_version(number)
    elif versions:
        source = versions[0]
    texts = _modeler_texts()
    return render_template(
        "modeler/edit.html", source=source, latest=versions[0] if versions else None, texts=texts,
        csrf=generate_csrf(),
        src=url_for(".source", versi=source.version) if source else url_for(".source"),
        file_name=f"{process_key()}.bpmn", draft_key=draft_key(source.version if source else None))


def draft_key(base_version: int | None) -> str:
    """The browser's key for the draft the modeler keeps (localStorage): one per user, procedure and the version the
    editor opened, so that a draft is never offered over another version or to another person on the same computer."""
    return f"alur-modeler-draft:{me().id}:{process_key()}:{base_version or 0}"


@bp.get("/modeler/diagram.json")
@role_required(OWNER)
def source():
    """The XML the modeler opens: a given version, else the newest, else the bundled diagram."""
    number = query_id("versi")
    session = db()
    if number is not None:
        definition = get_version(number)
    else:
        found = modeling.versions(session, process_key())
        definition = found[0] if found else None
    if definition is None:
        xml, version = system().settings.diagram_path.read_text(encoding="utf-8"), None
    else:
        xml, version = definition.xml, definition.version
    response = jsonify({"xml": xml, "version": version, "process_key": process_key()})
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _invalid(exc: InvalidDefinition):
    _status, message = engine_error_message(exc)
    return jsonify({"error": {"code": exc.code, "message": message, "fields": problems_json(exc.problems)}}), 422


@bp.post("/validasi")
@role_required(OWNER)
@accepts_body("diagram")
def validate():
    try:
        report = validate_xml(xml_body())
    except InvalidDefinition as exc:
        return _invalid(exc)
    return jsonify({"process_key": report.process_key, "deployable": True,
                    "warnings": problems_json(report.warnings)})


@bp.post("/terapkan")
@role_required(OWNER)
@accepts_body("diagram")
def deploy():
    try:
        definition, summary, created = deploy_xml(xml_body())
    except InvalidDefinition as exc:
        return _invalid(exc)
    g.prosedur = definition.process_key
    counts = running_counts(db())
    older = sum(n for v, n in counts.items() if v != definition.version)
    body = {"version": definition.version, "sha256": definition.sha256, "created": created, "summary": summary,
            "summary_text": summary_lines(summary),
            # the procedure named only when it is not the default one
            "versions_url": url_for(".versions"),
            "version_url": url_for(".version", number=definition.version),
            "migration_url": url_for(".migration", number=definition.version) if older else None}
    return jsonify(body), 201 if created else 200


@bp.post("/impor-sop")
@role_required(OWNER)
@accepts_body("diagram")
def import_sop():
    """An SOP matrix (XLSX, the body as it is; its name in ``X-File-Name``) as a BPMN draft for the modeler:
    200 ``{"xml", "process_key", "name", "warnings": [...]}``, or 422 ``{"error": {"code", "message", "findings"}}``
    naming the row and column of each problem (process/sopimport.py). Nothing is stored."""
    data = xml_body()
    name = unquote(request.headers.get("X-File-Name", "")[:600])[:200]  # percent-encoded by the page (any script)
    lang, translations = i18n.locale(), get_translations()
    try:
        draft = sopimport.import_xlsx(data, name)
    except sopimport.ImportRefused as exc:
        return jsonify({"error": {"code": exc.code, "message": i18n.error_text(exc),
                                  "findings": [f.as_dict(lang, translations) for f in exc.findings]}}), 422
    response = jsonify({"xml": draft.xml, "process_key": draft.process_key, "name": draft.name,
                        "warnings": [f.as_dict(lang, translations) for f in draft.warnings]})
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/templat-sop.xlsx")
@role_required(OWNER)
def sop_template():
    """The XLSX template of an SOP matrix (``?contoh=1``: filled with SOP Nomor 21 Tahun 2025), made on request."""
    example = request.args.get("contoh") == "1"
    data = sopimport.example_xlsx() if example else sopimport.template_xlsx()
    response = Response(data, mimetype=sopimport.XLSX_MIME)
    filename = "contoh-sop-21-2025.xlsx" if example else "templat-matriks-sop.xlsx"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.post("/grup")
@role_required(OWNER)
def add_group():
    """The group a lane needs (problem ``lane.no_group``): JSON ``{"code", "name"}`` → 201 ``{"code", "name",
    "message"}``, or 422 with the reason. Administrators then add its members (/admin/grup)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        body = request.form
    try:
        group = modeling.add_group(db(), system(), me(), body.get("code") or "", body.get("name") or "")
    except BadRequest as exc:
        return jsonify({"error": {"code": exc.code, "message": i18n.error_text(exc), "params": exc.params}}), 422
    return jsonify({"code": group.code, "name": group.name,
                    "message": _("Grup %(name)s (%(code)s) dibuat. Administrator menambahkan anggotanya di halaman "
                                 "Grup.", name=group.name, code=group.code)}), 201


@bp.get("/versi")
@role_required(OWNER)
def versions():
    session = db()
    found = modeling.versions(session, process_key())
    names = display_names(session, {v.created_by for v in found})
    rows = []
    for definition in found:
        summary = modeling.summary_of(definition)
        rows.append({"d": definition, "summary": describe_summary(summary),
                     "first": definition.version == 1,
                     "who": names.get(definition.created_by, definition.created_by or "\u2014")})
    return render_template("modeler/versions.html", rows=rows, counts=running_counts(session),
                           latest=found[0] if found else None)


@bp.get("/versi/<id:number>")
@role_required(OWNER)
def version(number: int):
    session = db()
    definition = get_version(number)
    summary = modeling.summary_of(definition)
    names = display_names(session, {definition.created_by})
    latest = modeling.versions(session, process_key())[0]
    counts = running_counts(session)
    return render_template("modeler/version.html", d=definition, summary=describe_summary(summary),
                           first=definition.version == 1,
                           who=names.get(definition.created_by, definition.created_by or "\u2014"),
                           latest=latest, running=counts.get(definition.version, 0),
                           older_running=sum(n for v, n in counts.items() if v != definition.version))


@bp.get("/versi/<id:number>/diagram.json")
@role_required(OWNER)
def version_diagram(number: int):
    """The viewer bundle's contract (frontend/diagram.js); elements added or changed in this version are marked
    "active" (the page's legend says so)."""
    definition = get_version(number)
    summary = modeling.summary_of(definition)
    marked = [] if definition.version == 1 else sorted(
        {e["id"] for e in summary.get("added") or []} | {e["id"] for e in summary.get("changed") or []})
    response = jsonify({"xml": definition.xml, "completed": [], "active": marked, "overdue": []})
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/versi/<id:number>.bpmn")
@role_required(OWNER)
def download(number: int):
    return bpmn_download(get_version(number))


def bpmn_download(definition: Definition) -> Response:
    response = Response(definition.xml, mimetype="application/xml")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{definition.process_key}-v{definition.version}.bpmn"')
    response.headers["X-Content-SHA256"] = definition.sha256
    response.headers["Cache-Control"] = "private, no-store"
    return response


#: The form field of the migration page that maps one removed task: "<prefix><old task id>" = new task id.
MAPPING_FIELD = "peta-"
#: Its value for a completed step explicitly not mapped (kept under its old id); no BPMN id has a colon.
KEEP = ":tetap"


@bp.route("/migrasi/<id:number>", methods=["GET", "POST"])
@role_required(OWNER)
def migration(number: int):
    session = db()
    target = get_version(number)
    chosen_mapping: dict[str, str] = {}
    problems = []
    if request.method == "POST":
        chosen = request.form.getlist("case_ids")
        chosen_mapping = task_mapping({key[len(MAPPING_FIELD):]: value for key, value in request.form.items()
                                       if key.startswith(MAPPING_FIELD) and value}, "peta")
        keep = task_keep([old for old, new in chosen_mapping.items() if new == KEEP], {}, "peta")
        mapping = {old: new for old, new in chosen_mapping.items() if new != KEEP}
        if not chosen:
            flash(_("Pilih dulu kasus yang akan dipindahkan."), "error")
            return redirect(url_for(".migration", number=number))
        ids = body_ids("case_ids", chosen, max_items=MAX_CASES, text=True)
        try:
            outcome = migrate_cases(session, target, ids, mapping, keep)
        except MigrationRefused as exc:  # the mapping itself: nothing moved; the page again, with the choices
            problems = [problem_message(p) for p in exc.problems]
        else:
            if outcome["moved"]:
                flash(_("%(n)s kasus dipindahkan ke versi %(v)s: %(ids)s.", n=len(outcome["moved"]), v=number,
                        ids=", ".join(f"#{i}" for i in outcome["moved"])), "success")
            for refused in outcome["refused"]:
                flash(_("Kasus #%(id)s tidak dipindahkan: %(reason)s", id=refused["case_id"],
                        reason=refused["reason"]), "error")
            return redirect(url_for(".migration", number=number))
    plan = migration_plan(session, target)
    rows = plan["cases"]
    response = render_template("modeler/migration.html", target=target, rows=rows,
                               removed_tasks=plan["removed_tasks"], chosen=chosen_mapping, problems=problems,
                               mapping_field=MAPPING_FIELD, keep_value=KEEP,
                               movable=sum(1 for r in rows if r["can_move"] or r["needs_mapping"]),
                               latest=modeling.versions(session, process_key())[0])
    return (response, 422) if problems else response


def _modeler_texts() -> dict:
    """The modeler script's texts in the user's language ({name} placeholders are filled in by the script)."""
    return {
        "loading": _("Memuat diagram\u2026"),
        "loaded": _("Versi {version} dimuat. Ubah diagram, lalu Validasi dan Terapkan."),
        "loaded_default": _("Diagram bawaan dimuat (belum ada versi yang diterapkan)."),
        "load_failed": _("Diagram tidak dapat dimuat. Muat ulang halaman."),
        "import_failed": _("Berkas tidak dapat dibuka sebagai diagram BPMN: {reason}"),
        "imported": _("Berkas {name} diimpor. Validasi sebelum menerapkan."),
        "imported_warnings": _("Berkas {name} diimpor dengan {count} peringatan impor. Validasi sebelum "
                               "menerapkan."),
        "too_large": _("Berkas {name} lebih besar dari 2 MB dan tidak dapat diterima."),
        "export_failed": _("Diagram tidak dapat disimpan sebagai XML: {reason}"),
        "validating": _("Memvalidasi di server\u2026"),
        "deployable": _("Diagram dapat diterapkan."),
        "not_deployable": _("Diagram belum dapat diterapkan: {count} masalah."),
        "warnings_title": _("{count} peringatan (tidak menghalangi penerapan):"),
        "deploying": _("Menerapkan\u2026"),
        "confirm": _("Terapkan diagram ini sebagai versi baru?"),
        "deployed": _("Versi {version} diterapkan. Kasus baru memakai versi ini; kasus yang sedang berjalan tetap "
                      "pada versinya."),
        "unchanged": _("Isi diagram sama dengan versi {version}; tidak ada versi baru."),
        "summary_title": _("Perubahan dibanding versi sebelumnya:"),
        "to_versions": _("Lihat semua versi"),
        "to_migration": _("Pindahkan kasus yang menunggu ke versi ini"),
        "whole_diagram": _("(seluruh diagram)"),
        "show_element": _("Tampilkan dan pilih elemen ini di diagram"),
        "problems_none": _("Tidak ada temuan."),
        "problems_count": _("{errors} galat, {warnings} peringatan"),
        "forbidden": _("Anda tidak berhak melakukan tindakan ini."),
        "csrf": _("Sesi formulir kedaluwarsa. Muat ulang halaman (simpan dulu diagram dengan Unduh .bpmn)."),
        "http_error": _("Server menjawab dengan galat {status}. Coba lagi."),
        "network_error": _("Server tidak dapat dihubungi. Periksa jaringan lalu coba lagi."),
        "timeout": _("Server tidak menjawab dalam 30 detik. Coba lagi."),
        "create_group": _("Buat grup \u201c{name}\u201d ({code})"),
        "group_failed": _("Grup tidak dapat dibuat: {reason}"),
        "draft_found": _("Ada draf diagram yang belum diterapkan di peramban ini, disimpan {time}."),
        "draft_resume": _("Lanjutkan draf (disimpan {time})"),
        "draft_discard": _("Buang draf"),
        "draft_resumed": _("Draf yang disimpan {time} dibuka. Validasi dan Terapkan bila sudah selesai."),
        "draft_discarded": _("Draf dibuang. Yang terbuka adalah diagram dari server."),
        "rules": _rules_texts(),
        "sop_importing": _("Membaca matriks SOP {name}\u2026"),
        "sop_imported": _("Matriks SOP {name} diubah menjadi draf diagram dengan {count} catatan impor. Periksa, "
                          "lalu Validasi."),
        "sop_refused": _("Matriks SOP {name} tidak dapat diimpor:"),
        "sop": _sop_panel_texts(),
    }


def _rules_texts() -> dict:
    """The texts of the properties-panel group "Aturan prosedur" (frontend/alur-panel.js ``TEXTS``, whose Indonesian
    they repeat key by key: tests/test_modeler_texts.py holds the two together) in the user's language."""
    return {
        "group": _("Aturan prosedur"),
        "texts_group": _("Aturan: teks yang dibandingkan"),
        "basis_group": _("Catatan: dasar hukum"),
        "signs_group": _("Catatan: kolom tanda tangan"),
        "returns_group": _("Aturan: pengembalian"),
        "requires_group": _("Aturan: syarat kelengkapan"),
        "none": _("(tidak ada)"),
        "choose": _("(pilih)"),
        "own_fields": _("Field formulir langkah ini"),
        "other_fields": _("Field formulir langkah lain"),
        "all_fields": _("Field formulir"),
        "not_in_form": _("tidak ada di formulir"),
        "not_in_diagram": _("tidak ada di diagram"),
        "not_a_choice": _("bukan pilihan field ini"),
        "title": _("Field nama kasus"),
        "title_help": _("Isian yang menjadi nama kasus di daftar, pemberitahuan dan rekap."),
        "date": _("Field tanggal acuan"),
        "date_help": _("Isian tanggal kasus (hari kegiatan): kolom tanggal di rekap dan periode kasus."),
        "place": _("Field tempat (opsional)"),
        "place_help": _("Isian yang ditampilkan sebagai tempat di buku register."),
        "team": _("Field tim pembuat (opsional)"),
        "team_help": _("Nama data kasus tempat aplikasi menulis tim yang membuat kasus, misalnya tim."),
        "text_field": _("Field teks"),
        "text_field_help": _("Teks yang diserahkan; versinya disimpan dan dibandingkan."),
        "text_label": _("Nama teks"),
        "text_label_help": _("Nama yang dibaca orang, misalnya Narasi berita."),
        "text_correction": _("Field koreksi (opsional)"),
        "text_correction_help": _("Salinan yang disunting oleh langkah berikutnya."),
        "text_counter": _("Tampilkan penghitung panjang per platform"),
        "text_counter_help": _("Untuk caption media sosial."),
        "reference": _("Baris di bawah judul catatan (opsional)"),
        "reference_help": _("Dicetak di bawah judul register dan tanggapan tertulis, misalnya nomor dan nama SOP. "
            "Bila kosong: nama proses."),
        "responses_title": _("Judul catatan tanggapan tertulis (opsional)"),
        "responses_title_help": _("Bila kosong: Tanggapan Tertulis."),
        "recap_title": _("Judul rekapitulasi (opsional)"),
        "recap_title_help": _("Untuk prosedur yang langkahnya menulis daftar unggahan. Bila kosong: Rekapitulasi "
            "Unggahan."),
        "basis_text": _("Dasar hukum"),
        "basis_text_help": _("Satu peraturan, misalnya Undang-Undang Nomor 14 Tahun 2008 tentang Keterbukaan "
            "Informasi Publik."),
        "sign_heading": _("Judul kolom"),
        "sign_heading_help": _("Misalnya Dibuat oleh, atau Mengetahui,"),
        "sign_role": _("Jabatan"),
        "sign_role_help": _("Misalnya Petugas Layanan Informasi."),
        "lane_group": _("Kode grup (opsional)"),
        "lane_group_help": _("Grup yang mengerjakan lajur ini. Bila kosong: grup di tugas-tugasnya, atau grup yang "
            "namanya sama dengan nama lajur."),
        "team_scoped": _("Hanya tim pembuat kasus"),
        "team_scoped_help": _("Tugas lajur ini hanya untuk anggota tim yang membuat kasus; mereka hanya melihat "
            "kasus timnya."),
        "hears_overdue": _("Diberi tahu setiap langkah terlambat"),
        "hears_overdue_help": _("Lajur ini diberi tahu setiap kali langkah mana pun melewati batas waktunya."),
        "leads": _("Memimpin prosedur"),
        "leads_help": _("Yang bekerja di lajur ini dapat mengalihkan tugas mana pun yang menunggu dan membatalkan "
            "kasus dengan alasan tertulis."),
        "number": _("Nomor langkah"),
        "number_help": _("Bilangan bulat mulai 1, tidak boleh sama dengan langkah lain (\"Langkah 4 dari 5\"). "
            "Kosongkan bila tidak bernomor."),
        "renumber": _("Sisipkan sebagai langkah {number}"),
        "renumber_help": _("Nomor {number} sudah dipakai langkah lain. Tombol ini menaikkan satu nomor setiap "
            "langkah lain bernomor {number} ke atas, sehingga langkah ini menjadi langkah {number}."),
        "label": _("Nama singkat"),
        "label_help": _("Nama pendek untuk tabel dan grafik, misalnya Keputusan. Bila kosong, nama tugas yang "
            "dipakai."),
        "deadline": _("Batas waktu"),
        "deadline_help": _("Wajib: langkah ini harus punya timer batas waktu."),
        "deadline_optional": _("Opsional"),
        "deadline_required": _("Wajib"),
        "register": _("Nomor register ditulis ke"),
        "register_help": _("Isi bila langkah ini memberi nomor register kasus (satu langkah per diagram): nama field "
            "yang menerima nomornya."),
        "register_format": _("Format nomor register (opsional)"),
        "register_format_help": _("Misalnya {seq:03d}/PPID/{month_roman}/{year}: {seq} nomor urut per tahun, {year}, "
            "{month}, {month_roman}. Bila kosong: format aplikasi."),
        "register_title": _("Judul register (opsional)"),
        "register_title_help": _("Judul catatan register, misalnya Register Permohonan Informasi Publik. Bila "
            "kosong: Register dan nama proses."),
        "register_by": _("Kolom siapa yang mencatat (opsional)"),
        "register_by_help": _("Judul kolom orang yang pertama menyelesaikan langkah ini, misalnya Diserahkan oleh. "
            "Bila kosong: Dicatat oleh."),
        "register_columns": _("Kolom tambahan register (opsional)"),
        "register_columns_help": _("Id field dipisah spasi, misalnya nama_pemohon alamat_pemohon: nilainya ikut "
            "dicetak di register."),
        "stamp_date": _("Tanggal selesai ditulis ke"),
        "stamp_date_help": _("Saat langkah selesai, tanggalnya (WIB) ditulis ke field ini: acuan batas waktu "
            "berikutnya (misalnya H+1)."),
        "stamp_time": _("Waktu selesai ditulis ke"),
        "stamp_time_help": _("Saat langkah selesai, jam dan menitnya ditulis ke field ini."),
        "response_decision": _("Tanggapan tertulis: field keputusan"),
        "response_decision_help": _("Keputusan langkah ini yang dicatat sebagai tanggapan tertulis."),
        "response_text": _("Tanggapan tertulis: field teks"),
        "response_text_help": _("Isi tanggapan tertulisnya."),
        "reject_field": _("Ditolak bila field"),
        "reject_field_help": _("Pilihan yang mengakhiri kasus tanpa publikasi (ditampilkan sebagai penolakan)."),
        "reject_value": _("bernilai"),
        "separate": _("Tidak boleh dikerjakan oleh yang menyelesaikan"),
        "separate_help": _("Pemisahan tugas: orang yang menyelesaikan langkah itu pada kasus ini tidak boleh "
            "menyelesaikan langkah ini."),
        "record_kind": _("Langkah ini menulis rekap"),
        "record_kind_help": _("Rekapitulasi: daftar unggahan (field jenis posts) masuk ke rekap."),
        "record_posts": _("Rekapitulasi unggahan (posts)"),
        "record_field": _("Field daftar unggahan"),
        "compare": _("Tampilkan perbandingan teks"),
        "compare_help": _("Pekerja melihat teks prosedur dibandingkan dengan versi pertamanya (kata demi kata)."),
        "compare_copy": _("Tampilkan teks akhir siap disalin"),
        "return_field": _("Bila field"),
        "return_value": _("bernilai"),
        "return_to": _("Kembalikan ke langkah"),
        "return_to_help": _("Kasus dikirim kembali ke langkah ini; pekerjanya diberi tahu beserta alasannya."),
        "return_response": _("Field alasan"),
        "return_response_help": _("Isian yang memuat alasan tertulis pengembalian."),
        "return_item": _("{field} = {value} \u2192 {to}"),
        "require_when": _("Bila field"),
        "require_equals": _("bernilai"),
        "require_fields": _("Field yang wajib diisi"),
        "require_fields_help": _("Id field dipisah spasi, misalnya cek_foto cek_narasi: semuanya harus diisi atau "
            "dicentang."),
        "require_message": _("Pesan bila belum lengkap (opsional)"),
        "require_message_help": _("Bila kosong, pesan baku yang ditampilkan."),
        "require_item": _("{when} = {equals}"),
        "sop_group": _("Aturan prosedur: identitas SOP"),
        "sop_number": _("Nomor SOP"),
        "sop_number_help": _("Seperti tertulis di dokumen, misalnya Nomor 21 Tahun 2025."),
        "sop_created": _("Tanggal pembuatan"),
        "sop_created_help": _("TTTT-BB-HH, misalnya 2023-03-14."),
        "sop_revised": _("Tanggal revisi"),
        "sop_revised_help": _("TTTT-BB-HH."),
        "sop_effective": _("Tanggal efektif"),
        "sop_effective_help": _("TTTT-BB-HH."),
        "sop_approverTitle": _("Disahkan oleh: jabatan"),
        "sop_approverTitle_help": _("Misalnya Sekretaris KPU Provinsi Sumatera Barat."),
        "sop_approverName": _("Disahkan oleh: nama"),
        "sop_approverNip": _("Disahkan oleh: NIP"),
        "sop_approverNip_help": _("Tepat 18 angka; spasi di antara kelompok angka boleh."),
        "sop_office": _("Nama instansi di kop (opsional)"),
        "sop_office_help": _("Misalnya KPU Provinsi Sumatera Barat."),
        "sop_item": _("Teks"),
        "sop_legalBases": _("SOP: dasar hukum"),
        "sop_qualifications": _("SOP: kualifikasi pelaksana"),
        "sop_relateds": _("SOP: keterkaitan"),
        "sop_equipments": _("SOP: peralatan/perlengkapan"),
        "sop_warnings": _("SOP: peringatan"),
        "sop_recordings": _("SOP: pencatatan dan pendataan"),
        "output": _("Output di dokumen SOP (opsional)"),
        "output_help": _("Misalnya Register dokumentasi dan konten. Bila kosong: register, tanggapan tertulis atau "
            "rekapitulasi, menurut aturan langkah ini."),
        "stamp_label": _("Tanggal selesai disebut"),
        "stamp_label_help": _("Cara dokumen SOP menyebut tanggal ini di kolom Waktu, misalnya pengumpulan "
            "dokumentasi dan konten (H+1 setelah \u2026)."),
        "inputs_group": _("Aturan: kelengkapan (dokumen SOP)"),
        "input_field": _("Field formulir (opsional)"),
        "input_field_help": _("Labelnya dipakai; untuk field berkas, minimal jumlah berkas ditambahkan (Dokumentasi "
            "minimal 4)."),
        "input_text": _("Teks (opsional)"),
        "input_text_help": _("Kata-kata sendiri, menggantikan label field. Tanpa kelengkapan: field wajib langkah "
            "ini yang dipakai."),
        "outcome_code": _("Kode hasil akhir"),
        "outcome_code_help": _("Huruf, angka dan _ : nama hasil kasus di daftar, filter, laporan dan ekspor, "
            "misalnya dipublikasikan."),
        "outcome_label": _("Nama hasil akhir"),
        "outcome_label_help": _("Cara orang membacanya, misalnya Dipublikasikan. Kasus tanpa hasil akhir ditampilkan "
            "Selesai."),
    }


def _sop_panel_texts() -> dict:
    """The texts of the modeler's group "SOP" (frontend/sop-panel.js TEXTS, the same keys)."""
    return {
        "group": _("SOP: Pelaksana, Kelengkapan, Waktu, Output"),
        "lane_group": _("SOP: Pelaksana"),
        "make_step": _("Jadikan langkah SOP (tugas pengguna)"),
        "make_step_help": _("Hanya tugas pengguna yang punya kelengkapan, waktu dan output di dokumen SOP."),
        "name": _("Uraian prosedur"),
        "name_help": _("Kalimat kegiatan di kolom Uraian Prosedur, misalnya Menerima hasil dokumentasi."),
        "lane": _("Pelaksana"),
        "lane_help": _("Lajur tempat langkah ini berada; memilih lajur lain memindahkan langkahnya."),
        "lane_none": _("(di luar lajur)"),
        "lane_name": _("Nama pelaksana (nama lajur)"),
        "lane_name_help": _("Nama kolom Pelaksana di dokumen SOP, misalnya Admin Medsos."),
        "lane_code": _("Kode grup pelaksana (opsional)"),
        "lane_code_help": _("Grup pengguna yang mengerjakan lajur ini. Bila kosong: grup yang namanya sama dengan "
                            "nama lajur."),
        "items": _("Kelengkapan"),
        "items_help": _("Isian formulir langkah ini. Yang dicentang \u201cdi dokumen SOP\u201d dicetak di kolom "
                        "Kelengkapan."),
        "items_none": _("Belum ada kelengkapan."),
        "item": _("Kelengkapan {n}"),
        "item_label": _("Kelengkapan {n}: nama"),
        "item_type": _("Kelengkapan {n}: jenis"),
        "item_required": _("Kelengkapan {n}: wajib diisi"),
        "item_min": _("Kelengkapan {n}: minimal jumlah berkas"),
        "item_min_help": _("Dicetak \u201cminimal n\u201d bila lebih dari 1."),
        "item_options": _("Kelengkapan {n}: pilihan"),
        "item_options_help": _("Pisahkan dengan titik koma, misalnya Setuju; Revisi; Tolak."),
        "item_in_sop": _("Kelengkapan {n}: di dokumen SOP"),
        "item_remove": _("Hapus kelengkapan {n}"),
        "items_other": _("Dicetak juga di Kelengkapan: {items} (diubah di Aturan: kelengkapan)."),
        "item_new": _("Kelengkapan baru: nama"),
        "item_new_help": _("Misalnya Surat tugas. Kode isiannya dibuat dari nama ini."),
        "item_add": _("Tambah kelengkapan"),
        "type_string": _("Teks singkat"),
        "type_text": _("Teks panjang"),
        "type_files": _("Berkas/foto"),
        "type_date": _("Tanggal"),
        "type_long": _("Angka"),
        "type_boolean": _("Ya/Tidak"),
        "type_enum": _("Pilihan"),
        "whole_number": _("Harus bilangan bulat {min} sampai {max}."),
        "waktu": _("Waktu"),
        "waktu_help": _("Batas waktu langkah ini. Bila lewat, keterlambatan dicatat dan diberitahukan."),
        "waktu_none": _("Tidak ada"),
        "waktu_same": _("Hari yang sama (H)"),
        "waktu_calendar": _("H+n hari kalender"),
        "waktu_working": _("n hari kerja"),
        "waktu_custom": _("Ekspresi sendiri (ahli)"),
        "waktu_days": _("Waktu: jumlah hari"),
        "waktu_from": _("Waktu: dihitung dari"),
        "waktu_from_help": _("Tanggal kegiatan, atau tanggal suatu langkah selesai (misalnya pengumpulan)."),
        "waktu_expression": _("Waktu: ekspresi"),
        "waktu_expression_help": _("Misalnya akhir_hari_kerja(tanggal_pengumpulan, 10). Diperiksa server saat "
                                   "validasi."),
        "waktu_words": _("Di dokumen SOP: {words}"),
        "waktu_as_written": _("{words} (ditulis apa adanya)"),
        "ref_date": _("tanggal acuan prosedur: {words}"),
        "ref_stamp": _("selesainya langkah: {words}"),
        "output": _("Output"),
        "output_help": _("Kolom Output di dokumen SOP. Bila kosong: menurut aturan langkah (register, tanggapan "
                         "tertulis, rekap)."),
        "output_auto": _("(menurut aturan langkah)"),
        "output_register": _("Register"),
        "output_response": _("Tanggapan tertulis"),
        "output_recap": _("Rekapitulasi"),
        "output_other": _("Kata-kata sendiri\u2026"),
        "output_text": _("Output: kata-kata sendiri"),
        "output_register_missing": _("Langkah ini belum memberi nomor register: isi \u201cNomor register ditulis "
                                     "ke\u201d di Aturan prosedur."),
        "output_response_missing": _("Langkah ini belum punya tanggapan tertulis: isi di Aturan prosedur."),
    }


# --------------------------------------------------------------------------------------------------
# The SOP document of each version (process/sopdoc.py): a page and its A4 PDF
# --------------------------------------------------------------------------------------------------

#: Who reads the SOP documents: the process owner, auditors, administrators.
SOP_READERS = (OWNER, "auditor", "admin")


def _sop_document(number: int):
    from process import sopdoc

    get_version(number)  # 404 for a version that does not exist
    return sopdoc.document_of(db(), system(), process_key(), number)


@bp.get("/sop")
@role_required(*SOP_READERS)
def sop_index():
    """Every procedure's versions, each with its SOP document."""
    session = db()
    procedures = [(key, name, modeling.versions(session, key)) for key, name in procedure_names()]
    return render_template("modeler/sop_index.html", procedures=procedures, default=system().settings.process_key)


@bp.get("/versi/<id:number>/sop")
@role_required(*SOP_READERS)
def sop(number: int):
    from markupsafe import Markup

    from process import sopdoc

    document = _sop_document(number)
    label = _("Bagan alur SOP %(name)s, versi %(n)s: simbol tiap langkah di kolom pelaksananya.",
              name=document.name, n=number)
    # built from escaped parts only (sopdoc.matrix_svg escapes every text)
    pages = [Markup(sopdoc.matrix_svg(page, label, i))  # noqa: S704
             for i, page in enumerate(sopdoc.matrix_pages(document), 1)]
    return render_template("modeler/sop.html", doc=document, number=number, pages=pages,
                           identity=sopdoc.identity_rows(document), lists=sopdoc.LIST_TITLES,
                           owner=OWNER in me().roles)


@bp.get("/versi/<id:number>/sop.pdf")
@role_required(*SOP_READERS)
def sop_pdf(number: int):
    from process import sopdoc

    document = _sop_document(number)
    pdf = sopdoc.to_pdf(document, printed_at=system().clock.now(), letterhead=system().settings.letterhead)
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{document.filename()}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response

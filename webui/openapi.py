"""The OpenAPI 3.1 document of the JSON API (/api/v1).

Plain data in, a dict out: the per-step form schemas are built from the form fields of the deployed
diagram, so the document follows the process owner's edits without anyone touching this module.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.definitions import UserTaskInfo
from engine.forms import FormField
from process.caseops import MAX_COMMENT, MAX_REASON
from process.paging import DEFAULT_PER_PAGE, MAX_CASES_PER_PAGE, MAX_CURSOR, MAX_PER_PAGE
from process.savedfilters import MAX_NAME, MAX_PER_VIEW, PARAMS, VIEWS
from process.sorting import ORDERS, SORTS

from .ids import ID_SCHEMA, MAX_ID, UID_SCHEMA

__all__ = ["ProcedureDoc", "build_document", "field_schema", "form_schema", "form_schema_name",
           "query_parameters"]

VERSION_KEY = "_version"
CLAIM_KEY = "_claim"
_NAME_SAFE = re.compile(r"[^A-Za-z0-9._-]")
_FILE_KIND_LABEL = {"image": "foto/gambar", "video": "video", "document": "dokumen (PDF)", "other": "berkas lain"}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def form_schema_name(bpmn_id: str, procedure: str | None = None) -> str:
    """``Form_<task id>`` for a step of the main procedure, ``Form_<process id>__<task id>`` for another's."""
    prefix = f"Form_{_NAME_SAFE.sub('_', procedure)}__" if procedure else "Form_"
    return prefix + _NAME_SAFE.sub("_", bpmn_id)


@dataclass(frozen=True)
class ProcedureDoc:
    """What the document says of one procedure: its process id and name, the version its forms come from (None: the
    bundled diagram), its user tasks with their step numbers, its start form and the field holding the team."""

    key: str
    name: str
    version: int | None
    user_tasks: tuple[UserTaskInfo, ...]
    numbers: Mapping[str, int]
    start_form: tuple[FormField, ...] = ()
    team_key: str | None = None


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _nullable(schema: dict) -> dict:
    """An optional scalar may also be sent as null (or left out)."""
    schema["type"] = [schema["type"], "null"]
    if "enum" in schema:
        schema["enum"] = [*schema["enum"], None]
    return schema


def _describe(*parts: str | None) -> str | None:
    text = " ".join(p.strip() for p in parts if p and p.strip())
    return text or None


def _bounds(schema: dict, c: dict, pairs: tuple[tuple[str, str], ...]) -> dict:
    """Copy the whole-number constraints named in ``pairs`` (constraint → JSON Schema keyword) that are set."""
    for constraint, keyword in pairs:
        if _int(c.get(constraint)) is not None:
            schema[keyword] = _int(c[constraint])
    return schema


def _text_schema(f: FormField, c: dict, notes: list[str], _platforms) -> dict:
    if f.type == "string":
        notes.append("Satu baris.")
    return _bounds({"type": "string"}, c, (("minlength", "minLength"), ("maxlength", "maxLength")))


def _long_schema(_f: FormField, c: dict, _notes: list[str], _platforms) -> dict:
    return _bounds({"type": "integer"}, c, (("min", "minimum"), ("max", "maximum")))


def _boolean_schema(f: FormField, _c: dict, notes: list[str], _platforms) -> dict:
    schema: dict[str, Any] = {"type": "boolean"}
    if f.required and not f.readonly:
        schema["const"] = True
        notes.append("Harus dicentang (true).")
    return schema


def _date_schema(_f: FormField, c: dict, notes: list[str], _platforms) -> dict:
    if c.get("min"):
        notes.append(f"Tidak sebelum {c['min']}.")
    if c.get("max"):
        notes.append(f"Tidak setelah {c['max']}.")
    return {"type": "string", "format": "date"}


def _datetime_schema(_f: FormField, _c: dict, notes: list[str], _platforms) -> dict:
    notes.append("Tanpa zona waktu dibaca sebagai WIB (+07:00).")
    return {"type": "string", "format": "date-time"}


def _enum_schema(f: FormField, _c: dict, notes: list[str], _platforms) -> dict:
    notes.append("Pilihan: " + "; ".join(f"{opt_id} = {label}" for opt_id, label in f.options) + ".")
    return {"type": "string", "enum": [opt_id for opt_id, _label in f.options]}


def _url_schema(_f: FormField, c: dict, _notes: list[str], _platforms) -> dict:
    return _bounds({"type": "string", "format": "uri", "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://"}, c,
                   (("maxlength", "maxLength"),))


def _items(schema: dict, low: int | None, high: int | None) -> dict:
    if low is not None:
        schema["minItems"] = low
    if high is not None:
        schema["maxItems"] = high
    return schema


def _files_schema(f: FormField, c: dict, notes: list[str], _platforms) -> dict:
    low, high = _int(c.get("min_files")), _int(c.get("max_files"))
    if low is None and f.required:
        low = 1
    accept = (c.get("accept") or "").strip().lower()
    if accept and accept != "any":
        kinds = [k.strip() for k in accept.split(",") if k.strip()]
        notes.append("Jenis berkas: " + ", ".join(_FILE_KIND_LABEL.get(k, k) for k in kinds) + ".")
    notes.append("Id berkas yang diunggah lewat POST /files (diperiksa isinya, bukan ekstensinya).")
    return _items({"type": "array", "uniqueItems": True,
                   "items": {"type": "string", "format": "uuid", "description": "id dari POST /files"}}, low, high)


def _posts_schema(f: FormField, c: dict, notes: list[str], platforms: Sequence[str]) -> dict:
    low, high = _int(c.get("min_posts")), _int(c.get("max_posts"))
    if f.required:
        low = max(low or 1, 1)
    notes.append("Satu unggahan per platform (" + ", ".join(platforms) + ").")
    return _items({"type": "array", "items": _ref("Post")}, low, high)


#: The JSON Schema of each form field type (a type the validator would refuse at deploy time is described
#: loosely, as ``{}``, rather than failing the document).
_SCHEMA_OF = {"string": _text_schema, "text": _text_schema, "long": _long_schema, "boolean": _boolean_schema,
              "date": _date_schema, "datetime": _datetime_schema, "enum": _enum_schema, "url": _url_schema,
              "files": _files_schema, "posts": _posts_schema}
#: Types whose optional value may be sent as null.
_NULLABLE = frozenset({"string", "text", "long", "date", "datetime", "enum", "url"})


def field_schema(f: FormField, platforms: Sequence[str]) -> dict:
    """The JSON Schema of one form field as a client sends it to ``/tasks/{id}/complete``."""
    notes: list[str] = []
    build = _SCHEMA_OF.get(f.type)
    schema = {"title": f.label, **(build(f, f.constraints, notes, platforms) if build else {})}
    description = _describe(f.properties.get("help"), *notes)
    if description:
        schema["description"] = description
    if f.readonly:
        schema["readOnly"] = True
        schema["description"] = _describe(schema.get("description"),
                                          "Diisi oleh sistem; nilai yang dikirim diabaikan.")
    default = _default(f)
    if default is not None:
        schema["default"] = default
    if not f.required and f.type in _NULLABLE:
        schema = _nullable(schema)
    return schema


def _default(f: FormField) -> Any:
    if f.default in (None, ""):
        return None
    text = str(f.default).strip()
    if f.type == "boolean":
        return text.lower() in ("true", "on", "1")
    if f.type == "long":
        return _int(text)
    if f.type in ("files", "posts"):
        return None
    return f.default


def form_schema(info: UserTaskInfo, platforms: Sequence[str], numbers: Mapping[str, int] | None = None,
                procedure: str | None = None) -> dict:
    """``Form_<bpmn_id>``: the body of ``/tasks/{id}/complete`` for one user task."""
    properties = {f.id: field_schema(f, platforms) for f in info.form}
    properties[VERSION_KEY] = {
        "type": "integer",
        "description": "Opsional: lock_version kasus yang Anda lihat (seperti header If-Match). "
                       "Bila kasus sudah berubah, permintaan ditolak dengan 409.",
    }
    properties[CLAIM_KEY] = {
        "type": "boolean",
        "description": "Opsional: true = ambil tugas sekaligus bila belum dipegang siapa pun (satu permintaan, "
                       "bukan dua). Tugas yang dipegang orang lain tetap ditolak dengan 409.",
    }
    schema = {
        "type": "object",
        "title": info.name,
        "description": _step_description(info, numbers or {}, procedure),
        "properties": properties,
        "additionalProperties": False,
    }
    required = [f.id for f in info.form if f.required and not f.readonly]
    if required:
        schema["required"] = required
    return schema


def case_input_schema(proc: ProcedureDoc, platforms: Sequence[str], *, main: bool) -> dict:
    """``CaseInput`` (the main procedure) or ``CaseInput_<process id>``: the body of ``POST /cases`` that opens a case
    of ``proc`` — its start form (its start event's fields), its team, and ``procedure`` (required for another
    procedure than the main one)."""
    properties = {f.id: field_schema(f, platforms) for f in proc.start_form if not f.readonly}
    if proc.team_key:
        properties[proc.team_key] = {"type": ["string", "null"], "title": "Kode tim",
                                     "description": "Bawaan: tim Anda sendiri; hanya anggota tim yang dapat membuat "
                                                    "kasusnya."}
    properties["procedure"] = {"type": "string", "title": "Prosedur", "const": proc.key,
                               "description": f"Id proses prosedur {proc.name}"
                                              + ("; boleh dihilangkan (prosedur utama)." if main else ".")}
    schema = {"type": "object", "title": proc.name, "additionalProperties": False, "properties": properties}
    required = [f.id for f in proc.start_form if f.required and not f.readonly] + ([] if main else ["procedure"])
    if required:
        schema["required"] = required
    return schema


def case_input_name(proc: ProcedureDoc, *, main: bool) -> str:
    return "CaseInput" if main else "CaseInput_" + _NAME_SAFE.sub("_", proc.key)


def _step_description(info: UserTaskInfo, numbers: Mapping[str, int], procedure: str | None = None) -> str:
    step = numbers.get(info.bpmn_id)
    prefix = f"Langkah {step}" if step else "Langkah"
    return f"{prefix} ({info.bpmn_id}): {info.name}. Lajur: {info.lane or '-'}." + (
        f" Prosedur: {procedure}." if procedure else "")


def _ordered(user_tasks: Iterable[UserTaskInfo], numbers: Mapping[str, int]) -> list[UserTaskInfo]:
    return sorted(user_tasks, key=lambda u: (numbers.get(u.bpmn_id, 10**6), u.bpmn_id))


# --------------------------------------------------------------------------------------------------
# The document
# --------------------------------------------------------------------------------------------------

_DATE = {"type": "string", "format": "date"}
_ORDER = {"name": "order", "in": "query", "required": False, "schema": {"type": "string", "enum": list(ORDERS)},
          "description": "asc: naik; desc: turun. Bawaan: asc untuk deadline, desc untuk yang lain. Baris tanpa "
                         "nilai urutan selalu terakhir; yang sama diurutkan menurut id ke arah yang sama."}


#: The keyset page parameters of every list that can grow without bound (process/paging.py).
_CURSOR = {"name": "cursor", "in": "query", "required": False,
           "schema": {"type": "string", "maxLength": MAX_CURSOR, "pattern": "^[A-Za-z0-9_-]*$"},
           "description": "Penanda halaman: next_cursor dari halaman sebelumnya (tanpa atau kosong: halaman pertama). "
                          "Buram: jangan dibuat atau diubah sendiri. Penanda yang tidak dapat dibaca, atau dari "
                          "daftar atau urutan (sort/order, scope) lain, ditolak dengan 422 (error.fields: kode cursor "
                          "pada field cursor). Halaman berikutnya dimulai tepat setelah baris terakhir halaman ini "
                          "dalam urutan daftar (kunci urutan, lalu id): tidak ada baris yang terlewat atau terulang, "
                          "berapa pun dalamnya halaman itu."}


def _per_page(maximum: int, default: int = DEFAULT_PER_PAGE) -> dict:
    return {"name": "per_page", "in": "query", "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": maximum, "default": default},
            "description": f"Banyak baris per halaman (bawaan {default}, paling banyak {maximum}; lebih: 422)."}


def _page_of(item: dict, maximum: int, **extra: dict) -> dict:
    """A page of a list: its items, the total of the whole list, the page size and the next page's cursor."""
    return {
        "type": "object", "required": ["items", "total", "per_page", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": item, "maxItems": maximum},
            "total": {"type": "integer", "minimum": 0, "description": "Banyak baris seluruh daftar (semua halaman)"},
            "per_page": {"type": "integer", "minimum": 1, "maximum": maximum},
            "next_cursor": {"type": ["string", "null"],
                            "description": "cursor halaman berikutnya; null pada halaman terakhir"},
            **extra,
        },
    }


def _sort_param(keys: Sequence[str], description: str) -> dict:
    return {"name": "sort", "in": "query", "required": False, "schema": {"type": "string", "enum": list(keys)},
            "description": description + ". Nilai lain: 422 (sort.unknown)."}
_DATETIME = {"type": "string", "format": "date-time", "description": "ISO 8601, zona WIB (+07:00)"}
_NULL_DATE = {"type": ["string", "null"], "format": "date"}
_NULL_DATETIME = {"type": ["string", "null"], "format": "date-time", "description": "ISO 8601, zona WIB (+07:00)"}
_NULL_STR = {"type": ["string", "null"]}


def _definition_schemas() -> dict:
    """Process definitions: validation answers, versions, change summaries, migration."""
    element = {"type": "object", "required": ["id", "type"],
               "properties": {"id": {"type": "string"}, "type": {"type": "string"}, "name": _NULL_STR}}
    return {
        "DefinitionProblem": {
            "type": "object", "required": ["element_id", "code", "params", "message"],
            "description": "Satu masalah diagram (atau pemindahan kasus): elemen, kode dan nilainya; message adalah "
                           "kode itu dalam bahasa pengguna, diawali jenis, nama dan id elemennya.",
            "properties": {"element_id": {**_NULL_STR, "description": "Id elemen BPMN; null bila seluruh diagram"},
                           "element_name": _NULL_STR,
                           "element_type": {**_NULL_STR, "description": "Jenis BPMN, mis. userTask"},
                           "code": {"type": "string", "examples": ["timer.date_is_duration", "sop.element_missing",
                                                                   "unsupported.serviceTask", "xml.schema_element"]},
                           "params": {"type": "object", "description": "Nilai yang disebut pesan"},
                           "severity": {"type": "string", "enum": ["error", "warning"]},
                           "message": {"type": "string"}},
        },
        "ChangeSummary": {
            "type": "object",
            "description": "Perubahan dibanding versi sebelumnya, elemen demi elemen (versi pertama: note).",
            "properties": {
                "note": {"type": "string"},
                "restores": {"type": "integer", "description": "Rollback: versi yang isinya diterapkan ulang"},
                "added": {"type": "array", "items": element},
                "removed": {"type": "array", "items": element},
                "changed": {"type": "array", "items": {**element, "properties": {
                    **element["properties"],
                    "changes": {"type": "array", "items": {
                        "type": "object", "required": ["aspect"],
                        "properties": {"aspect": {"type": "string", "examples": [
                            "timer", "timer_kind", "name", "lane", "condition", "field_added", "field_removed",
                            "field_changed"]},
                            "old": {}, "new": {}, "field": {"type": "string"}, "label": _NULL_STR,
                            "required": {"type": "boolean"}, "what": {"type": "array",
                                                                      "items": {"type": "string"}}}}}}}},
            },
        },
        "DefinitionValidation": {
            "type": "object", "required": ["process_key", "deployable", "warnings"],
            "properties": {"process_key": {"type": "string"}, "deployable": {"const": True},
                           "warnings": {"type": "array", "items": _ref("DefinitionProblem")}},
        },
        "DefinitionDeployed": {
            "type": "object", "required": ["version", "sha256", "created", "summary"],
            "properties": {
                "version": {"type": "integer", "minimum": 1},
                "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "created": {"type": "boolean", "description": "false: isi yang sama sudah menjadi versi ini"},
                "created_at": _DATETIME, "created_by": _NULL_STR,
                "summary": _ref("ChangeSummary"),
                "summary_text": {"type": "array", "items": {"type": "string"},
                                 "description": "Ringkasan perubahan dalam bahasa pengguna"},
            },
        },
        "DefinitionVersion": {
            "type": "object",
            "required": ["version", "sha256", "process_key", "created_at", "summary", "running_cases", "latest"],
            "properties": {
                "version": {"type": "integer", "minimum": 1},
                "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "process_key": {"type": "string"}, "created_at": _DATETIME, "created_by": _NULL_STR,
                "summary": _ref("ChangeSummary"), "summary_text": {"type": "array", "items": {"type": "string"}},
                "running_cases": {"type": "integer", "minimum": 0}, "latest": {"type": "boolean"},
                "download": {"type": "string", "description": "GET: berkas .bpmn versi ini"},
            },
        },
        "MigrationPlan": {
            "type": "object", "required": ["version", "cases"],
            "properties": {"version": {"type": "integer"}, "cases": {"type": "array", "items": {
                "type": "object", "required": ["case_id", "can_move", "reasons", "tasks"],
                "properties": {"case_id": {"type": "integer"}, "title": _NULL_STR,
                               "version": {"type": ["integer", "null"], "description": "Versi kasus sekarang"},
                               "can_move": {"type": "boolean"},
                               "reasons": {"type": "array", "items": {"type": "string"}},
                               "problems": {"type": "array", "items": _ref("DefinitionProblem")},
                               "tasks": {"type": "array", "items": {"type": "string"},
                                         "description": "Langkah yang sedang ditunggu"},
                               "removed": {"type": "array", "items": {"type": "string"},
                                           "description": "ID langkah yang ditunggu atau sudah diselesaikan "
                                                          "tetapi tidak ada di versi ini"},
                               "needs_mapping": {"type": "boolean",
                                                 "description": "Pindah bila setiap langkah di removed dipetakan"}}}},
                           "removed_tasks": {"type": "array", "items": {
                               "type": "object", "required": ["task", "cases", "choices"],
                               "description": "Langkah yang ditunggu (atau sudah diselesaikan) kasus tetapi ID-nya "
                                              "tidak ada di versi ini, "
                                              "dengan pilihan penggantinya (tidak ada yang dipilihkan)",
                               "properties": {"task": {"type": "string"}, "name": _NULL_STR, "lane": _NULL_STR,
                                              "cases": {"type": "array", "items": {"type": "integer"}},
                                              "waiting": {"type": "array", "items": {"type": "integer"},
                                                          "description": "Kasus yang menunggu langkah ini"},
                                              "completed": {"type": "array", "items": {"type": "integer"},
                                                            "description": "Kasus yang sudah menyelesaikan "
                                                                           "langkah ini (riwayatnya)"},
                                              "step": {"type": ["integer", "null"],
                                                       "description": "Nomor langkah di versi kasus"},
                                              "if_kept": {"type": "array", "items": {"type": "string"},
                                                          "description": "Yang tidak berlaku lagi bila riwayat "
                                                                         "langkah ini tidak dipetakan (keep)"},
                                              "choices": {"type": "array", "items": {
                                                  "type": "object", "required": ["task", "same_name"],
                                                  "properties": {"task": {"type": "string"}, "name": _NULL_STR,
                                                                 "same_name": {"type": "boolean"}}}}}}}},
        },
        "MigrationRequest": {
            "type": "object", "required": ["case_ids"], "additionalProperties": False,
            "properties": {"case_ids": {"type": "array", "minItems": 1, "maxItems": 1000,
                                        "items": ID_SCHEMA},
                           "mapping": {"type": "object", "maxProperties": 200,
                                       "additionalProperties": {"type": "string", "minLength": 1,
                                                                "maxLength": 200},
                                       "description": "Pemetaan eksplisit {ID langkah lama: ID langkah baru} untuk "
                                                      "langkah yang ditunggu tetapi tidak ada di versi ini; tidak "
                                                      "ada yang ditebak"},
                           "keep": {"type": "array", "maxItems": 200, "uniqueItems": True,
                                    "items": {"type": "string", "minLength": 1, "maxLength": 200},
                                    "description": "Langkah yang sudah diselesaikan kasus tetapi tidak ada di "
                                                   "versi ini, yang secara eksplisit tidak dipetakan: riwayatnya "
                                                   "tetap dengan ID lama dan aturan versi ini tidak melihatnya"}},
        },
        "MigrationResult": {
            "type": "object", "required": ["version", "moved", "refused"],
            "properties": {"version": {"type": "integer"},
                           "moved": {"type": "array", "items": {"type": "integer"}},
                           "refused": {"type": "array", "items": {
                               "type": "object", "required": ["case_id", "reason"],
                               "properties": {"case_id": {"type": "integer"}, "reason": {"type": "string"},
                                              "problems": {"type": "array",
                                                           "items": _ref("DefinitionProblem")}}}}},
        },
    }


def _schemas(platforms: Sequence[str]) -> dict:
    task_props = {
        "id": {"type": "string", "description": "Id tugas"},
        "case_id": {"type": "integer"},
        "activity": {"type": "string", "description": "Nama kegiatan"},
        "activity_date": _NULL_DATE,
        "step": {"type": "string", "description": "Nama langkah SOP"},
        "step_number": {"type": ["integer", "null"], "minimum": 1},
        "bpmn_id": {"type": "string"},
        "lane": _NULL_STR,
        "state": {"type": "string", "enum": ["ready", "completed", "cancelled"]},
        "due_at": _NULL_DATETIME,
        "overdue": {"type": "boolean"},
        "claimed_by": _NULL_STR,
        "created_at": _DATETIME,
        "completed_at": _NULL_DATETIME,
        "completed_by": _NULL_STR,
    }
    return {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {
                "type": "object",
                "required": ["code", "type", "message", "params"],
                "properties": {
                    "code": {"type": "string", "description": "Kode pesan yang spesifik (katalog pesan aplikasi)",
                             "examples": ["task.not_held", "case.changed", "upload.too_large", "form_invalid"]},
                    "type": {"type": "string", "description": "Jenis kesalahan, sama untuk semua pesan sejenis",
                             "examples": ["unauthorized", "not_permitted", "not_claimed", "stale_instance",
                                          "too_large"]},
                    "message": {"type": "string", "description": "Pesan dalam bahasa pengguna (Accept-Language)"},
                    "params": {"type": "object", "description": "Nilai-nilai dalam pesan, untuk klien yang menulis "
                                                              "pesannya sendiri"},
                    "fields": {"type": "array", "items": {"anyOf": [_ref("FieldError"),
                                                                     _ref("DefinitionProblem")]}},
                },
            }},
        },
        **_definition_schemas(),
        "FieldError": {
            "type": "object",
            "required": ["field", "code", "message"],
            "properties": {"field": {"type": "string"}, "code": {"type": "string"}, "message": {"type": "string"},
                           "params": {"type": "object"}},
        },
        "TokenRequest": {
            "type": "object",
            "required": ["username", "password"],
            "properties": {"username": {"type": "string", "minLength": 1, "maxLength": 100},
                           "password": {"type": "string", "minLength": 1, "maxLength": 200}},
        },
        "Token": {
            "type": "object",
            "required": ["token", "token_type", "expires_in"],
            "properties": {"token": {"type": "string"}, "token_type": {"const": "Bearer"},
                           "expires_in": {"type": "integer", "description": "Masa berlaku dalam detik"}},
        },
        "Me": {
            "type": "object",
            "required": ["username", "roles"],
            "properties": {"username": {"type": "string"}, "full_name": {"type": "string"},
                           "roles": {"type": "array", "items": {"type": "string"},
                                     "description": "Peran aplikasi: process_owner, auditor, admin"},
                           "groups": {"type": "array", "items": {"type": "string"}, "description": "Kode grup"},
                           "lanes": {"type": "array", "items": {"type": "string"},
                                     "description": "Lajur yang dikerjakan grup Anda"},
                           "team": _NULL_STR,
                           "nip": {"type": ["string", "null"], "pattern": "^[0-9]{18}$",
                                   "description": "NIP (18 angka) bila PNS; dicetak di bawah tanda tangan"},
                           "jabatan": {"type": "string", "description": "Jabatan yang dicetak di bawah tanda tangan"}},
        },
        "Task": {
            "type": "object",
            "required": ["id", "case_id", "activity", "step", "bpmn_id", "lane", "due_at", "overdue",
                         "claimed_by"],
            "properties": task_props,
        },
        "FormFieldInfo": {
            "type": "object",
            "required": ["id", "label", "type", "required", "readonly"],
            "properties": {
                "id": {"type": "string"}, "label": {"type": "string"},
                "type": {"type": "string", "enum": ["string", "text", "long", "boolean", "date", "datetime",
                                                    "enum", "url", "files", "posts"]},
                "required": {"type": "boolean"}, "readonly": {"type": "boolean"},
                "help": _NULL_STR,
                "constraints": {"type": "object", "additionalProperties": {"type": "string"}},
                "options": {"type": "array", "items": {
                    "type": "object", "required": ["id", "label"],
                    "properties": {"id": {"type": "string"}, "label": {"type": "string"}}}},
                "default": _NULL_STR,
            },
        },
        "TaskDetail": {
            "allOf": [_ref("Task"), {
                "type": "object",
                "required": ["form", "values", "lock_version", "may_act"],
                "properties": {
                    "form": {"type": "array", "items": _ref("FormFieldInfo")},
                    "values": {"type": "object", "description": "Nilai saat ini per field (untuk mengisi "
                                                                "formulir)"},
                    "lock_version": {"type": "integer", "description": "Kirim kembali sebagai If-Match atau "
                                                                      "_version saat menyelesaikan"},
                    "may_act": {"type": "boolean", "description": "Grup dan tim Anda sesuai lajur tugas ini"},
                    "case_status": {"type": "string"},
                },
            }],
        },
        "CaseCreated": {
            "type": "object",
            "required": ["case_id", "task_id"],
            "properties": {"case_id": {"type": "integer"}, "task_id": {"type": "string"},
                           "status": {"type": "string"}, "lock_version": {"type": "integer"}},
        },
        "FileInfo": {
            "type": "object",
            "required": ["id", "sha256", "size", "kind", "mime", "name"],
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "size": {"type": "integer", "minimum": 1},
                "kind": {"type": "string", "enum": ["image", "video", "document", "other"]},
                "mime": {"type": "string"},
                "name": {"type": "string", "description": "Nama asli yang dibersihkan (tanpa folder)"},
            },
        },
        "Post": {
            "type": "object",
            "required": ["platform", "url", "waktu"],
            "additionalProperties": False,
            "properties": {
                "platform": {"type": "string", "enum": list(platforms)},
                "url": {"type": "string", "format": "uri", "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://"},
                "waktu": {"type": "string", "format": "date-time",
                          "description": "Waktu unggah; tanpa zona waktu dibaca sebagai WIB."},
            },
        },
        "DelegateRequest": {
            "type": "object",
            "required": ["to"],
            "properties": {"to": {"type": "string", "description": "Nama pengguna anggota lain dari lajur yang "
                                                                   "sama"}},
        },
        "CompleteResult": {
            "type": "object",
            "required": ["case_id", "status", "lock_version", "ready"],
            "properties": {
                "case_id": {"type": "integer"},
                "status": {"type": "string"},
                "end_event": _NULL_STR,
                "lock_version": {"type": "integer"},
                "ready": {"type": "array", "items": _ref("Task"), "description": "Tugas berikutnya yang siap"},
            },
        },
        "WrittenResponse": {
            "type": "object",
            "required": ["step", "bpmn_id", "at", "text"],
            "properties": {"step": {"type": "string"}, "bpmn_id": {"type": "string"}, "lane": _NULL_STR,
                           "actor": _NULL_STR, "at": _DATETIME, "decision": _NULL_STR, "text": {"type": "string"}},
        },
        "Attachment": {
            "type": "object",
            "required": ["id", "sha256", "name", "kind", "mime"],
            "properties": {"id": {"type": "string"}, "sha256": {"type": "string"}, "name": {"type": "string"},
                           "kind": {"type": "string"}, "mime": {"type": "string"}, "size": {"type": "integer"},
                           "uploaded_by": {"type": "string"}, "uploaded_at": _DATETIME},
        },
        "HistoryEvent": {
            "type": "object",
            "required": ["seq", "type", "at", "actor", "data"],
            "properties": {"seq": {"type": "integer"}, "type": {"type": "string"}, "at": _DATETIME,
                           "actor": _NULL_STR, "task_id": _NULL_STR, "data": {"type": "object"}},
        },
        "CaseView": {
            "type": "object",
            "required": ["id", "status", "end_event", "activity", "activity_date", "team", "register_number",
                         "definition_version", "lock_version", "tasks", "responses", "attachments", "history"],
            "properties": {
                "id": {"type": "integer"},
                "status": {"type": "string", "description": "running | completed | cancelled | error"},
                "end_event": _NULL_STR,
                "activity": {"type": "string"},
                "activity_date": _NULL_DATE,
                "team": _NULL_STR,
                "register_number": _NULL_STR,
                "definition_version": {"type": "integer"},
                "lock_version": {"type": "integer"},
                "created_at": _DATETIME,
                "completed_at": _NULL_DATETIME,
                "tasks": {"type": "array", "items": _ref("Task")},
                "responses": {"type": "array", "items": _ref("WrittenResponse")},
                "attachments": {"type": "array", "items": _ref("Attachment")},
                "history": {"type": "array", "items": _ref("HistoryEvent")},
                "data": {"type": "object", "description": "Nilai terakhir yang diserahkan, per field"},
                "cancellation": {"oneOf": [_ref("Cancellation"), {"type": "null"}],
                                 "description": "Siapa membatalkan kasus, kapan, dan alasannya (null: tidak "
                                                "dibatalkan)"},
                "comments": {"type": "array", "items": _ref("Comment")},
            },
        },
        "Cancellation": {
            "type": "object", "required": ["by", "at", "reason"],
            "properties": {"by": {"type": "string"}, "at": _DATETIME, "reason": {"type": "string"}},
        },
        "Comment": {
            "type": "object", "required": ["seq", "author", "at", "text"],
            "properties": {"seq": {"type": ["integer", "null"], "description": "Posisi kejadiannya di log"},
                           "author": {"type": "string", "description": "Nama pengguna penulis"},
                           "at": _DATETIME,
                           "text": {"type": "string", "description": "Teks polos; baris baru dipertahankan"}},
        },
        "CommentRequest": {
            "type": "object", "required": ["text"],
            "properties": {"text": {"type": "string", "minLength": 1, "maxLength": MAX_COMMENT,
                                    "description": "Komentar (bukan pengembalian), teks polos"}},
        },
        "CancelRequest": {
            "type": "object", "required": ["reason"],
            "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": MAX_REASON,
                                      "description": "Alasan pembatalan (wajib)"}},
        },
        "CancelResult": {
            "type": "object",
            "required": ["id", "status", "cancelled_by", "cancelled_at", "cancel_reason", "cancelled_tasks"],
            "properties": {"id": {"type": "integer"}, "status": {"type": "string", "const": "cancelled"},
                           "cancelled_by": {"type": "string"}, "cancelled_at": _DATETIME,
                           "cancel_reason": {"type": "string"},
                           "cancelled_tasks": {"type": "array", "items": {"type": "string"},
                                               "description": "Id tugas yang berakhir karena pembatalan"}},
        },
        "ReassignRequest": {
            "type": "object", "required": ["to"],
            "properties": {"to": {"type": "string", "description": "Nama pengguna aktif di lajur tugas (dan tim "
                                                                   "kasus, untuk lajur tim)"},
                           "reason": {"type": "string", "maxLength": MAX_REASON,
                                      "description": "Alasan (tidak wajib)"}},
        },
        "CaseSummary": {
            "type": "object",
            "required": ["id", "procedure", "procedure_name", "activity", "activity_date", "team", "status",
                         "outcome", "register_number", "created_at", "tasks"],
            "properties": {
                "id": {"type": "integer"},
                "procedure": {"type": "string", "description": "Id proses prosedurnya"},
                "procedure_name": {"type": "string"},
                "activity": {"type": "string"},
                "activity_date": _NULL_DATE,
                "team": _NULL_STR,
                "status": {"type": "string"},
                "outcome": {"type": "string", "description": "berjalan, selesai, atau hasil yang dinyatakan "
                                                             "diagramnya"},
                "register_number": _NULL_STR,
                "created_at": _DATETIME,
                "tasks": {"type": "array", "items": _ref("Task"), "description": "Langkah yang sedang menunggu"},
                "updated_at": _DATETIME,
                "snippet": {"oneOf": [{"type": "null"}, _ref("Snippet")]},
            },
        },
        "Snippet": {
            "type": "object", "required": ["field", "text", "marks"],
            "description": "Tempat kata pencarian ditemukan (hanya dengan q)",
            "properties": {
                "field": {"type": "string", "description": "_register, _place, atau id field teks (narasi, caption, "
                                                           "koreksinya)"},
                "text": {"type": "string", "description": "Potongan teks di sekitar kata yang ditemukan"},
                "marks": {"type": "array", "description": "Kata yang ditemukan: [awal, akhir) dalam text",
                          "items": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2}},
            },
        },
        "SavedFilter": {
            "type": "object", "required": ["id", "view", "name", "params", "created_at"],
            "properties": {
                "id": {"type": "integer"}, "view": {"type": "string", "enum": list(VIEWS)},
                "name": {"type": "string", "minLength": 1, "maxLength": MAX_NAME},
                "params": {"type": "object", "additionalProperties": {"type": "string"},
                           "description": "Parameter halaman daftarnya: inbox: " + ", ".join(PARAMS["inbox"])
                                          + "; cases: " + ", ".join(PARAMS["cases"])},
                "created_at": _DATETIME,
            },
        },
        "SavedFilterInput": {
            "type": "object", "required": ["name", "view"], "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": MAX_NAME},
                "view": {"type": "string", "enum": list(VIEWS)},
                "params": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
        "CasePage": {
            "type": "object",
            "required": ["total", "page", "per_page", "pages", "items", "next_cursor"],
            "properties": {
                "sort": {"type": "string", "enum": list(SORTS["cases"])},
                "order": {"type": "string", "enum": list(ORDERS)},
                "total": {"type": "integer", "minimum": 0}, "page": {"type": "integer", "minimum": 1},
                "total_is_lower_bound": {"type": "boolean", "description": "Pencarian: lebih banyak kasus cocok "
                                         "daripada total (dihitung sampai 1.000)"},
                "newest_first": {"type": "boolean", "description": "Pencarian urut kecocokan: terlalu banyak "
                                 "yang cocok untuk diurutkan, yang terbaru dahulu"},
                "per_page": {"type": "integer", "minimum": 1, "maximum": MAX_CASES_PER_PAGE},
                "pages": {"type": "integer", "minimum": 1},
                "next_cursor": {"type": ["string", "null"],
                                "description": "cursor halaman berikutnya; null pada halaman terakhir"},
                "items": {"type": "array", "items": _ref("CaseSummary")},
            },
        },
        "TaskPage": _page_of(_ref("Task"), MAX_PER_PAGE, sort={"type": "string", "enum": list(SORTS["inbox"])},
                             order={"type": "string", "enum": list(ORDERS)}),
        "CommentPage": _page_of(_ref("Comment"), MAX_PER_PAGE),
        "DefinitionPage": _page_of(_ref("DefinitionVersion"), MAX_PER_PAGE),
    }


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": _ref("Error")}}}


_RESPONSES = {
    "Unauthorized": _error("Token tidak ada, tidak sah atau kedaluwarsa"),
    "Forbidden": _error("Peran, tim atau riwayat Anda tidak mengizinkan tindakan ini (termasuk self_approval)"),
    "NotFound": _error("Tidak ditemukan"),
    "Conflict": _error("Belum/sudah diambil orang lain, tugas sudah selesai, atau kasus sudah berubah "
                       "(stale_instance)"),
    "Unprocessable": _error("Data tidak sah; error.fields menyebut setiap field yang bermasalah"),
    "TooLarge": _error("Isi permintaan di atas batasnya (unggahan: batas berkas terbesar; diagram: 2 MB; JSON: 1 MB), "
                       "atau foto di atas batas foto; pesan menyebut ukurannya bila diketahui"),
    "TooManyRequests": _error("Terlalu banyak percobaan"),
    "BadRequest": _error("Permintaan memuat karakter NUL (U+0000) di parameter, field atau string JSON mana pun "
                         "(error.code nul_character): tidak ada yang diproses"),
}


def _r(name: str) -> dict:
    return {"$ref": f"#/components/responses/{name}"}


def _json_body(schema: dict, description: str | None = None) -> dict:
    body = {"required": True, "content": {"application/json": {"schema": schema}}}
    if description:
        body["description"] = description
    return body


def _ok(description: str, schema: dict, headers: dict | None = None) -> dict:
    out = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        out["headers"] = headers
    return out


#: Path ids follow webui/ids.py: anything else is a 404 before a view runs.
_TASK_ID = {"name": "task_id", "in": "path", "required": True, "schema": UID_SCHEMA,
            "description": "Id tugas (UUID); bentuk lain: 404"}
_CASE_ID = {"name": "case_id", "in": "path", "required": True, "schema": ID_SCHEMA,
            "description": f"Nomor kasus 1 sampai {MAX_ID}; di luar itu: 404"}
_IF_MATCH = {"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
             "description": "lock_version kasus yang diharapkan, mis. \"3\"; 409 bila kasus sudah berubah."}
_ETAG = {"ETag": {"description": "lock_version kasus", "schema": {"type": "string"}}}


def _task_action(operation_id: str, summary: str, responses: dict, body: dict | None = None,
                 parameters: list | None = None) -> dict:
    op = {"operationId": operation_id, "summary": summary, "tags": ["tugas"],
          "parameters": [_TASK_ID, *(parameters or [])], "responses": {
              **responses, "401": _r("Unauthorized"), "403": _r("Forbidden"), "404": _r("NotFound"),
              "409": _r("Conflict"), "422": _r("Unprocessable")}}
    if body is not None:
        op["requestBody"] = body
    return op


_VERSION = {"name": "version", "in": "path", "required": True, "schema": ID_SCHEMA,
            "description": f"Nomor versi 1 sampai {MAX_ID}; di luar itu: 404"}
_PROCEDURE = {"name": "prosedur", "in": "query", "required": False, "schema": {"type": "string"},
              "description": "Id proses prosedur yang versinya dimaksud; tanpa ini, atau bila prosedur itu tidak "
                             "terpasang: prosedur utama"}
_XML_BODY = {"required": True, "description": "Diagram BPMN 2.0 (XML, paling besar 2 MB) apa adanya sebagai isi "
                                             "permintaan; Content-Type bebas (mis. application/xml).",
             "content": {"application/xml": {"schema": {"type": "string"}},
                         "*/*": {"schema": {"type": "string"}}}}
_OWNER_ONLY = " Hanya untuk peran process_owner (403 untuk yang lain)."


def _definition_paths() -> dict:
    def op(operation_id: str, summary: str, responses: dict, **extra) -> dict:
        return {"operationId": operation_id, "tags": ["definisi"], "summary": summary, **extra,
                "responses": {**responses, "401": _r("Unauthorized"), "403": _r("Forbidden")}}

    return {
        "/definitions/validate": {"post": op(
            "validateDefinition", "Periksa diagram tanpa menerapkannya",
            {"200": _ok("Dapat diterapkan (mungkin dengan peringatan)", _ref("DefinitionValidation")),
             "422": _error("Tidak dapat diterapkan: error.fields berisi satu DefinitionProblem per masalah "
                           "(elemen, kode, nilai, pesan)")},
            description="XML diperkeras (tanpa DTD, entitas atau rujukan luar), skema BPMN 2.0, parser "
                        "SpiffWorkflow, pemeriksaan setiap ekspresi tanpa menjalankannya, aturan SOP (lajur, "
                        "formulir, batas waktu) dan elemen yang tidak dijalankan." + _OWNER_ONLY,
            requestBody=_XML_BODY)},
        "/definitions": {
            "post": op("deployDefinition", "Terapkan diagram sebagai versi baru",
                       {"201": _ok("Versi baru", _ref("DefinitionDeployed")),
                        "200": _ok("Isi yang sama sudah menjadi versi ini; tidak ada versi baru",
                                   _ref("DefinitionDeployed")),
                        "422": _error("Tidak dapat diterapkan: error.fields menyebut setiap elemen")},
                       description="Kasus baru memakai versi terbaru; kasus yang sedang berjalan tetap pada "
                                   "versinya. Isi versi terbaru tidak disimpan lagi (200); isi versi yang lebih lama "
                                   "menjadi versi baru (rollback: summary.restores menyebut versinya). Dicatat sebagai "
                                   "kejadian definition_deployed." + _OWNER_ONLY,
                       requestBody=_XML_BODY),
            "get": op("listDefinitions", "Semua versi, terbaru dahulu, per halaman",
                      {"200": _ok("Satu halaman versi", _ref("DefinitionPage")), "422": _r("Unprocessable")},
                      parameters=[_CURSOR, _per_page(MAX_PER_PAGE), _PROCEDURE], description=_OWNER_ONLY.strip()),
        },
        "/definitions/{version}.bpmn": {"get": op(
            "downloadDefinition", "Unduh berkas .bpmn sebuah versi",
            {"200": {"description": "BPMN 2.0 XML", "content": {"application/xml": {"schema": {"type": "string"}}}},
             "404": _r("NotFound")}, parameters=[_VERSION, _PROCEDURE], description=_OWNER_ONLY.strip())},
        "/definitions/{version}/migration": {
            "get": op("migrationPlan", "Pemeriksaan: kasus berjalan pada versi lain, dapat pindah atau tidak dan "
                                       "mengapa", {"200": _ok("Rencana", _ref("MigrationPlan")),
                                                   "404": _r("NotFound")},
                      parameters=[_VERSION, _PROCEDURE], description=_OWNER_ONLY.strip()),
            "post": op("migrateCases", "Pindahkan kasus ke versi ini (utuh per kasus atau tidak sama sekali)",
                       {"200": _ok("Hasil per kasus", _ref("MigrationResult")), "404": _r("NotFound"),
                        "422": _r("Unprocessable")},
                       parameters=[_VERSION, _PROCEDURE], requestBody=_json_body(_ref("MigrationRequest")),
                       description="Setiap kasus yang pindah dicatat sebagai kejadian case_migrated."
                                   + _OWNER_ONLY),
        },
    }


@functools.cache
def query_parameters() -> dict[tuple[str, str], frozenset[str]]:
    """``(METHOD, path)`` (the document's path, ``/tasks/{task_id}``) → the query parameters the document declares
    for it: what the API reads, and all it accepts (webui/api.py refuses any other)."""
    out = {}
    for path, item in _paths([], []).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or method not in ("get", "post", "put", "patch", "delete"):
                continue
            params = [*item.get("parameters", ()), *operation.get("parameters", ())]
            out[(method.upper(), path)] = frozenset(p["name"] for p in params
                                                   if isinstance(p, dict) and p.get("in") == "query")
    return out


def _paths(task_forms: list[dict], case_inputs: list[dict]) -> dict:
    # anyOf, not oneOf: two procedures may well have a step with the same form
    task_form = {"anyOf": task_forms} if task_forms else {"type": "object"}
    case_input = case_inputs[0] if len(case_inputs) == 1 else {"anyOf": case_inputs}
    return {
        "/auth/token": {"post": {
            "operationId": "createToken", "tags": ["akses"], "security": [],
            "summary": "Tukar nama pengguna dan kata sandi dengan token Bearer",
            "description": "Dibatasi 10 percobaan per menit. Nama pengguna yang tidak dikenal dan kata sandi "
                           "yang salah mendapat jawaban yang sama.",
            "requestBody": _json_body(_ref("TokenRequest")),
            "responses": {"200": _ok("Token", _ref("Token")), "401": _r("Unauthorized"),
                          "422": _r("Unprocessable"), "429": _r("TooManyRequests")},
        }},
        "/me": {"get": {
            "operationId": "getMe", "tags": ["akses"], "summary": "Pengguna pemilik token",
            "responses": {"200": _ok("Pengguna", _ref("Me")), "401": _r("Unauthorized")},
        }},
        "/tasks": {"get": {
            "operationId": "listTasks", "tags": ["tugas"], "summary": "Kotak masuk tugas",
            "parameters": [
                {"name": "scope", "in": "query", "required": False,
                 "schema": {"type": "string", "enum": ["mine", "lane", "overdue"], "default": "mine"},
                 "description": "mine: tugas yang Anda pegang; lane: tugas lajur (dan tim) Anda yang tidak Anda "
                                "pegang: yang bebas menunggu diambil dan yang dipegang rekan (claimed_by menyebut "
                                "pemegangnya); overdue: tugas terlambat"},
                {"name": "q", "in": "query", "required": False, "schema": {"type": "string", "maxLength": 100},
                 "description": "Cari nama kegiatan"},
                {"name": "from", "in": "query", "required": False, "schema": _DATE,
                 "description": "Tanggal kegiatan sejak"},
                {"name": "to", "in": "query", "required": False, "schema": _DATE,
                 "description": "Tanggal kegiatan sampai"},
                _sort_param(SORTS["inbox"], "deadline: batas waktu tugas; changed: perubahan terakhir kasusnya; "
                                            "activity_date: tanggal kegiatan"),
                _ORDER, _CURSOR, _per_page(MAX_PER_PAGE),
            ],
            "responses": {"200": _ok("Satu halaman tugas siap, tenggat terdekat dahulu (kecuali sort/order berkata "
                                     "lain); total: banyak tugas tab ini", _ref("TaskPage")),
                          "401": _r("Unauthorized"), "422": _r("Unprocessable")},
        }},
        "/tasks/{task_id}": {"get": {
            "operationId": "getTask", "tags": ["tugas"], "summary": "Satu tugas dengan formulir dan nilainya",
            "parameters": [_TASK_ID],
            "responses": {"200": _ok("Tugas", _ref("TaskDetail"), _ETAG), "401": _r("Unauthorized"),
                          "403": _r("Forbidden"), "404": _r("NotFound")},
        }},
        "/tasks/{task_id}/claim": {"post": _task_action(
            "claimTask", "Ambil tugas", {"200": _ok("Tugas yang diambil", _ref("Task"))})},
        "/tasks/{task_id}/unclaim": {"post": _task_action(
            "unclaimTask", "Lepaskan tugas ke lajurnya", {"200": _ok("Tugas yang dilepas", _ref("Task"))})},
        "/tasks/{task_id}/delegate": {"post": _task_action(
            "delegateTask", "Serahkan tugas kepada anggota lain dari lajur yang sama",
            {"200": _ok("Tugas yang diserahkan", _ref("Task"))}, _json_body(_ref("DelegateRequest")))},
        "/tasks/{task_id}/reassign": {"post": _task_action(
            "reassignTask", "Alihkan tugas yang menunggu kepada orang lain di lajurnya (hanya pimpinan prosedur, "
            "mis. Pimpinan Redaksi, atau administrator), dipegang atau tidak",
            {"200": _ok("Tugas yang dialihkan", _ref("Task"))}, _json_body(_ref("ReassignRequest")))},
        "/tasks/{task_id}/complete": {"post": _task_action(
            "completeTask", "Selesaikan tugas dengan isian formulirnya",
            {"200": _ok("Hasil", _ref("CompleteResult"))},
            _json_body(task_form,
                       "Isian formulir langkah ini (lihat Form_<bpmn_id>). Setiap field yang salah disebut "
                       "dalam error.fields."),
            [_IF_MATCH])},
        "/cases": {"get": {
            "operationId": "listCases", "tags": ["kasus"],
            "summary": "Daftar kasus yang boleh Anda lihat, terbaru dahulu, dari semua prosedur; pencarian",
            "parameters": [
                {"name": "q", "in": "query", "required": False, "schema": {"type": "string", "maxLength": 100},
                 "description": "Cari pada nama kegiatan, nomor register, tempat, narasi dan caption (indeks teks "
                                "penuh): semua kata harus ada, kata terakhir sebagai awalan. Hasil terbaik dahulu "
                                "kecuali sort diberikan; bila lebih dari 1.000 kasus cocok, yang terbaru dahulu "
                                "(newest_first) dan total dihitung sampai 1.000 saja (total_is_lower_bound)."},
                _sort_param(SORTS["cases"], "created: tanggal kasus dibuat (bawaan); deadline: batas waktu "
                                            "terdekat langkah yang menunggu; changed: perubahan terakhir; "
                                            "activity_date: tanggal kegiatan; relevance: kecocokan pencarian "
                                            "(bawaan dengan q)"),
                _ORDER,
                {"name": "procedure", "in": "query", "required": False, "schema": {"type": "string"},
                 "description": "Hanya kasus prosedur ini (id prosesnya)"},
                _CURSOR, _per_page(MAX_CASES_PER_PAGE),
                {"name": "page", "in": "query", "required": False, "deprecated": True,
                 "schema": {"type": "integer", "minimum": 1, "maximum": 1000000, "default": 1},
                 "description": "Usang: halaman ke-n menurut offset, dibaca hanya tanpa cursor (biayanya tumbuh "
                                "dengan n). Pakai cursor."},
            ],
            "responses": {"200": _ok("Satu halaman kasus", _ref("CasePage")), "401": _r("Unauthorized"),
                          "422": _r("Unprocessable")},
        }, "post": {
            "operationId": "createCase", "tags": ["kasus"],
            "summary": "Buat kasus baru (anggota grup lajur awal, mis. Tim Pelaksana)",
            "requestBody": _json_body(case_input),
            "responses": {"201": _ok("Kasus dibuat; langkah 1 siap", _ref("CaseCreated"), {
                "Location": {"description": "GET /cases/{case_id}", "schema": {"type": "string"}}}),
                "401": _r("Unauthorized"), "403": _r("Forbidden"), "422": _r("Unprocessable")},
        }},
        "/saved-filters": {"get": {
            "operationId": "listSavedFilters", "tags": ["filter"], "summary": "Filter tersimpan Anda",
            "parameters": [{"name": "view", "in": "query", "required": False,
                            "schema": {"type": "string", "enum": list(VIEWS)},
                            "description": "Hanya filter daftar ini"}],
            "description": f"Tidak berhalaman: setiap pengguna menyimpan paling banyak {MAX_PER_VIEW} filter per "
                           "daftar.",
            "responses": {"200": _ok("Filter, menurut nama", {"type": "array", "items": _ref("SavedFilter")}),
                          "401": _r("Unauthorized"), "422": _r("Unprocessable")},
        }, "post": {
            "operationId": "createSavedFilter", "tags": ["filter"],
            "summary": "Simpan filter dan urutan kotak tugas (inbox) atau daftar kasus (cases) dengan sebuah nama",
            "description": "Parameter yang tidak dibaca halamannya, atau nilainya yang tidak sah, ditolak (422); "
                           "nama yang sudah Anda pakai untuk daftar yang sama: 409.",
            "requestBody": _json_body(_ref("SavedFilterInput")),
            "responses": {"201": _ok("Filter disimpan", _ref("SavedFilter")), "401": _r("Unauthorized"),
                          "409": _r("Conflict"), "422": _r("Unprocessable")},
        }},
        "/saved-filters/{filter_id}": {"delete": {
            "operationId": "deleteSavedFilter", "tags": ["filter"], "summary": "Hapus salah satu filter Anda",
            "parameters": [{"name": "filter_id", "in": "path", "required": True, "schema": ID_SCHEMA}],
            "responses": {"204": {"description": "Dihapus"}, "401": _r("Unauthorized"), "404": _r("NotFound")},
        }},
        "/cases/{case_id}": {"get": {
            "operationId": "getCase", "tags": ["kasus"], "summary": "Berkas kasus: tugas, tanggapan, lampiran, "
                                                                  "riwayat",
            "parameters": [_CASE_ID],
            "responses": {"200": _ok("Kasus", _ref("CaseView"), _ETAG), "401": _r("Unauthorized"),
                          "403": _r("Forbidden"), "404": _r("NotFound")},
        }},
        "/cases/{case_id}/cancel": {"post": {
            "operationId": "cancelCase", "tags": ["kasus"],
            "summary": "Batalkan kasus yang berjalan dengan alasan tertulis (pimpinan prosedur, administrator, atau "
                       "pembuat kasus selama belum ada langkah yang diserahkan)",
            "parameters": [_CASE_ID], "requestBody": _json_body(_ref("CancelRequest")),
            "responses": {"200": _ok("Kasus dibatalkan", _ref("CancelResult")), "401": _r("Unauthorized"),
                          "403": _r("Forbidden"), "404": _r("NotFound"), "409": _r("Conflict"),
                          "422": _r("Unprocessable")},
        }},
        "/cases/{case_id}/comments": {"get": {
            "operationId": "listComments", "tags": ["kasus"], "summary": "Komentar pada kasus, terlama dahulu",
            "parameters": [_CASE_ID, _CURSOR, _per_page(MAX_PER_PAGE)],
            "responses": {"200": _ok("Satu halaman komentar", _ref("CommentPage")),
                          "401": _r("Unauthorized"), "403": _r("Forbidden"), "404": _r("NotFound"),
                          "422": _r("Unprocessable")},
        }, "post": {
            "operationId": "addComment", "tags": ["kasus"],
            "summary": "Tambahkan komentar (bukan pengembalian) pada kasus yang boleh Anda lihat; auditor hanya "
                       "membaca",
            "parameters": [_CASE_ID], "requestBody": _json_body(_ref("CommentRequest")),
            "responses": {"201": _ok("Komentar tersimpan", _ref("Comment")), "401": _r("Unauthorized"),
                          "403": _r("Forbidden"), "404": _r("NotFound"), "409": _r("Conflict"),
                          "422": _r("Unprocessable")},
        }},
        "/files": {"post": {
            "operationId": "uploadFile", "tags": ["berkas"],
            "summary": "Unggah satu berkas (foto JPEG/PNG/WebP/HEIC, video, PDF)",
            "description": "Jenis berkas ditentukan dari isinya, bukan dari nama atau ekstensinya. Kirim id "
                           "yang dikembalikan di field berkas formulir (mis. foto).",
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["file"],
                "properties": {"file": {"type": "string", "contentMediaType": "application/octet-stream"}}}}}},
            "responses": {"201": _ok("Berkas tersimpan", _ref("FileInfo")), "401": _r("Unauthorized"),
                          "403": _r("Forbidden"), "413": _r("TooLarge"), "422": _r("Unprocessable")},
        }},
        **_definition_paths(),
        "/openapi.json": {"get": {
            "operationId": "getOpenApi", "tags": ["akses"], "security": [], "summary": "Dokumen ini",
            "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {
                "schema": {"type": "object"}}}}},
        }},
    }


def _with_common_answers(paths: dict) -> dict:
    """Every operation may answer 400 to a NUL character anywhere in the request (webui/request_text.py), 422 to a
    query parameter it does not declare (webui/api.py), and every operation that takes a body 413
    (webui/bodies.py)."""
    for item in paths.values():
        for operation in item.values():
            operation["responses"].setdefault("400", _r("BadRequest"))
            operation["responses"].setdefault("422", _r("Unprocessable"))
            if "requestBody" in operation:
                operation["responses"].setdefault("413", _r("TooLarge"))
    return paths


def build_document(procedures: Sequence[ProcedureDoc], *, platforms: Sequence[str],
                   token_max_age: int | None = None, server_url: str = "/api/v1") -> dict:
    """The whole OpenAPI 3.1 document. Per procedure (the main one first): one ``Form_…`` schema per user task in step
    order (the numbers its diagram declares) and one ``CaseInput…`` schema for ``POST /cases``."""
    schemas = _schemas(platforms)
    task_forms, case_inputs = [], []
    for i, proc in enumerate(procedures):
        main = i == 0
        name = case_input_name(proc, main=main)
        schemas[name] = case_input_schema(proc, platforms, main=main)
        case_inputs.append(_ref(name))
        for info in _ordered(proc.user_tasks, proc.numbers):
            form_name = form_schema_name(info.bpmn_id, None if main else proc.key)
            schemas[form_name] = form_schema(info, platforms, proc.numbers, None if main else proc.name)
            task_forms.append({**_ref(form_name),
                               "description": _step_description(info, proc.numbers, None if main else proc.name)})
    version_note = " Formulir diambil dari " + "; ".join(
        f"{p.name} versi {p.version}" if p.version else f"{p.name}: diagram bawaan (belum ada versi terpasang)"
        for p in procedures) + "." if procedures else ""
    expiry = f" Token berlaku {token_max_age // 3600} jam." if token_max_age else ""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Alur Medsos API",
            "version": "1",
            "summary": "Prosedur kerja KPU Provinsi Sumatera Barat: "
                       + (", ".join(p.name for p in procedures) or "belum ada prosedur"),
            "description": "Semua permintaan (kecuali /auth/token dan /openapi.json) memakai header "
                           "`Authorization: Bearer <token>`; cookie sesi tidak berlaku di sini. Kesalahan "
                           "selalu berupa JSON `{\"error\": {\"code\", \"type\", \"message\", \"params\"}}` "
                           "dengan status 400/401/403/404/409/413/422."
                           + expiry + version_note,
        },
        "servers": [{"url": server_url}],
        "security": [{"bearerAuth": []}],
        "tags": [{"name": "akses"}, {"name": "tugas"}, {"name": "kasus"}, {"name": "filter"}, {"name": "berkas"},
                 {"name": "definisi"}],
        "paths": _with_common_answers(_paths(task_forms, case_inputs)),
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "Token dari POST /auth/token"}},
            "schemas": schemas,
            "responses": _RESPONSES,
        },
    }

"""Form fields read from a user task's ``camunda:formData``.

The engine only describes the fields; validating submitted values against them is the
process layer's job (it knows about files, platforms and the SOP's cross-field rules).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

#: Field ids become task-data keys and expression names, so they are held to a strict shape:
#: lower-case identifiers, no leading underscore (no dunder), no Python keywords.
FIELD_ID_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class FormField:
    id: str
    label: str
    type: str  # string | text | long | boolean | date | datetime | enum | files | url | posts
    required: bool = False
    readonly: bool = False
    constraints: dict[str, str] = field(default_factory=dict)  # e.g. {"minlength": "20", "min_files": "4"}
    options: tuple[tuple[str, str], ...] = ()  # enum values: (id, label)
    properties: dict[str, str] = field(default_factory=dict)  # camunda:properties, e.g. {"help": "..."}
    default: str | None = None


def form_fields_of(task_spec) -> list[FormField]:
    """The form of a Camunda user task spec as plain dataclasses (empty list when it has none)."""
    form = getattr(task_spec, "form", None)
    if form is None:
        return []
    fields = []
    for f in form.fields:
        constraints = {v.name: (v.config or "") for v in (f.validation or [])}
        required = "required" in constraints
        readonly = "readonly" in constraints
        for flag in ("required", "readonly"):
            constraints.pop(flag, None)
        options = tuple((o.id, o.name) for o in getattr(f, "options", None) or ())
        props = {p.id: p.value for p in (f.properties or [])}
        fields.append(
            FormField(
                id=f.id,
                label=f.label or f.id,
                type=f.type or "string",
                required=required,
                readonly=readonly,
                constraints=constraints,
                options=options,
                properties=props,
                default=f.default_value,
            )
        )
    return fields


_CAMUNDA = "{http://camunda.org/schema/1.0/bpmn}"


def xml_form_fields(element) -> list[FormField]:
    """The ``camunda:formData`` of a BPMN element read straight from its XML (lxml element), the way SpiffWorkflow's
    Camunda parser reads a user task's: for a start event's form, which that parser does not read."""
    fields = []
    for xml_field in element.iterfind(f"./{{http://www.omg.org/spec/BPMN/20100524/MODEL}}extensionElements/"
                                      f"{_CAMUNDA}formData/{_CAMUNDA}formField"):
        constraints: dict[str, str] = {}
        props: dict[str, str] = {}
        options = []
        for child in xml_field:
            if child.tag == f"{_CAMUNDA}properties":
                props.update({p.get("id"): p.get("value") for p in child if p.get("id")})
            elif child.tag == f"{_CAMUNDA}validation":
                constraints.update({v.get("name"): (v.get("config") or "") for v in child if v.get("name")})
            elif child.tag == f"{_CAMUNDA}value":
                options.append((child.get("id"), child.get("name")))
        required, readonly = "required" in constraints, "readonly" in constraints
        constraints.pop("required", None)
        constraints.pop("readonly", None)
        field_id = xml_field.get("id")
        fields.append(FormField(id=field_id, label=xml_field.get("label") or field_id, type=xml_field.get("type")
                                or "string", required=required, readonly=readonly, constraints=constraints,
                                options=tuple(options), properties=props, default=xml_field.get("defaultValue")))
    return fields

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

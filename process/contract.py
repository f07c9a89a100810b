"""The diagram's contract with this SOP's rules: every BPMN element id (and form field, and option) that a rule of
process/ or webui/ is keyed on, declared here once, with the rule that needs it.

The rules still live in code (a later issue moves them into the diagram). Until then a version that lacks an id a
rule needs would deploy and silently switch that rule off (renaming ``Task_Terima`` dropped the step-2 checklist).
So every table keyed on element ids takes its ids from the constants below, each :class:`Rule` says which elements,
fields and options it reads, and :func:`contract_problems` (an extra check of the engine's validation) refuses a
diagram that lacks any of them, naming the rule. ``tests/test_contract.py`` fails when a string literal equal to an
element id of the bundled diagram appears anywhere else in process/ or webui/, so a new id-keyed table cannot skip
this registry.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.definitions import ParsedDefinition
from engine.errors import Problem

# The SOP's steps.
TASK_SERAHKAN = "Task_Serahkan"
TASK_TERIMA = "Task_Terima"
TASK_KOREKSI = "Task_Koreksi"
TASK_PUTUSKAN = "Task_Putuskan"
TASK_UNGGAH = "Task_Unggah"
# How a case ends.
END_DIPUBLIKASIKAN = "EndEvent_Dipublikasikan"
END_DITOLAK = "EndEvent_Ditolak"

#: The SOP's step numbers by element id.
STEP_OF = {TASK_SERAHKAN: 1, TASK_TERIMA: 2, TASK_KOREKSI: 3, TASK_PUTUSKAN: 4, TASK_UNGGAH: 5}
#: The step that hands in the documentation (numbered in the register) and the step that decides.
SUBMIT_TASK = TASK_SERAHKAN
DECIDE_TASK = TASK_PUTUSKAN


@dataclass(frozen=True)
class Rule:
    """One rule of the SOP that reads the diagram by id. ``code`` names it for people (webui/problems.py).
    ``elements``: element id → BPMN type it must have; ``fields``: element id → {form field id → option ids the rule
    compares the field with (empty: any value)}."""

    code: str
    elements: Mapping[str, str]
    fields: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)


RULES: tuple[Rule, ...] = (
    Rule("sop.rule.steps", {TASK_SERAHKAN: "userTask", TASK_TERIMA: "userTask", TASK_KOREKSI: "userTask",
                            TASK_PUTUSKAN: "userTask", TASK_UNGGAH: "userTask"}),
    Rule("sop.rule.register", {TASK_SERAHKAN: "userTask"}),
    Rule("sop.rule.self_approval", {TASK_SERAHKAN: "userTask", TASK_PUTUSKAN: "userTask"}),
    Rule("sop.rule.checklist_terima", {TASK_TERIMA: "userTask"},
         {TASK_TERIMA: {"keputusan_admin": ("diterima",), "cek_foto": (), "cek_narasi": (), "cek_caption": ()}}),
    Rule("sop.rule.checklist_koreksi", {TASK_KOREKSI: "userTask"},
         {TASK_KOREKSI: {"keputusan_wapimred": ("lanjut",), "konten_valid": ()}}),
    Rule("sop.rule.written_responses", {TASK_TERIMA: "userTask", TASK_KOREKSI: "userTask", TASK_PUTUSKAN: "userTask"},
         {TASK_TERIMA: {"keputusan_admin": (), "tanggapan_admin": ()},
          TASK_KOREKSI: {"keputusan_wapimred": (), "tanggapan_wapimred": ()},
          TASK_PUTUSKAN: {"keputusan_pimred": (), "pertimbangan": ()}}),
    Rule("sop.rule.returns", {TASK_TERIMA: "userTask", TASK_KOREKSI: "userTask", TASK_PUTUSKAN: "userTask"},
         {TASK_TERIMA: {"keputusan_admin": ("dikembalikan",)},
          TASK_KOREKSI: {"keputusan_wapimred": ("kembalikan",)},
          TASK_PUTUSKAN: {"keputusan_pimred": ("revisi",)}}),
    Rule("sop.rule.text_versions", {TASK_SERAHKAN: "userTask", TASK_KOREKSI: "userTask", TASK_PUTUSKAN: "userTask",
                                    TASK_UNGGAH: "userTask"}),
    Rule("sop.rule.publications", {TASK_UNGGAH: "userTask"}, {TASK_UNGGAH: {"publikasi": ()}}),
    Rule("sop.rule.compliance", {TASK_SERAHKAN: "userTask", TASK_TERIMA: "userTask", TASK_KOREKSI: "userTask",
                                 TASK_PUTUSKAN: "userTask", TASK_UNGGAH: "userTask"}),
    Rule("sop.rule.outcomes", {END_DIPUBLIKASIKAN: "endEvent", END_DITOLAK: "endEvent"}),
)

#: Codes of the problems :func:`contract_problems` reports (and, as the ``rule`` parameter, each rule's code).
CONTRACT_CODES = frozenset({"sop.element_missing", "sop.element_wrong_type", "sop.field_missing",
                            "sop.option_missing"})


def required_ids() -> frozenset[str]:
    """Every element id some rule needs."""
    return frozenset(eid for rule in RULES for eid in rule.elements)


def contract_problems(parsed: ParsedDefinition) -> list[Problem]:
    """Each element, field and option a rule needs that the diagram lacks; one problem per missing thing, naming
    every rule that needs it (parameter ``rules``: rule codes)."""
    found: dict[tuple[str, str, str, str], tuple[dict, list[str]]] = {}

    def need(eid: str, code: str, rule: Rule, **params: str) -> None:
        key = (eid, code, params.get("field", ""), params.get("option", ""))
        entry = found.setdefault(key, (params, []))
        if rule.code not in entry[1]:
            entry[1].append(rule.code)

    forms = {info.bpmn_id: {f.id: f for f in info.form} for info in parsed.user_tasks}
    for rule in RULES:
        for eid, wanted in rule.elements.items():
            element = parsed.elements.get(eid)
            if element is None:
                need(eid, "sop.element_missing", rule, type=wanted)
                continue
            if element[0] != wanted:
                need(eid, "sop.element_wrong_type", rule, type=wanted, found=element[0])
                continue
            form = forms.get(eid, {})
            for field_id, options in rule.fields.get(eid, {}).items():
                form_field = form.get(field_id)
                if form_field is None:
                    need(eid, "sop.field_missing", rule, field=field_id)
                    continue
                have = {option_id for option_id, _label in form_field.options}
                for option in options:
                    if option not in have:
                        need(eid, "sop.option_missing", rule, field=field_id, option=option)
    return [Problem(eid, code, {**params, "rules": rules}) for (eid, code, _f, _o), (params, rules) in found.items()]

"""The procedure's rules as its diagram declares them, in the ``alur:`` namespace (docs/extension-namespace.md).

Every rule of a procedure beyond what BPMN itself says — step numbers, the register, written responses, returns,
segregation of duties, completeness rules, records, text versions, outcomes, team-scoped lanes, who hears of late
steps, which steps must have a deadline — is read here from the diagram of the case's version, never keyed on an
element id in code. :func:`declarations_of` reads a parsed diagram once per content hash; :func:`declaration_problems`
is the deploy-time check that every declaration points to something that is there; :class:`Rulebook` finds the
declarations of a case's or a task's version.

A version deployed before the namespace existed (its XML declares nothing in it) takes the declarations of the
bundled diagram of the same process for each element that exists in it with the same type (:meth:`Rulebook.of`).
"""
from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.definitions import BPMN_NS, ParsedDefinition, harden_and_parse
from engine.errors import Problem
from engine.forms import FIELD_ID_RE, FormField
from engine.models import Definition, Instance
from engine.runtime import WorkflowEngine

from .config import register_format_ok

NS = "urn:alur-medsos:bpmn:1"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"

#: Where each declaration may stand: the BPMN element types it is about.
_PLACES = {
    "procedure": ("process",),
    "lane": ("lane",),
    "step": ("userTask", "manualTask", "task"),
    "outcome": ("endEvent",),
    "sop": ("process",),
}
_STEP_CHILDREN = frozenset({"register", "stamp", "response", "return", "reject", "separate", "require", "record",
                            "compare", "input"})
#: The lists of the SOP document's identity page (``alur:sop`` children, each ``text="…"``), in the printed order.
SOP_LISTS = ("legalBasis", "qualification", "related", "equipment", "warning", "recording")
#: The dated attributes of ``alur:sop`` (ISO dates, YYYY-MM-DD).
SOP_DATES = ("created", "revised", "effective")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: What an ``alur:procedure`` may hold: texts whose versions are kept, the legal basis and the signature blocks its
#: records print.
_PROCEDURE_CHILDREN = frozenset({"text", "basis", "sign"})
#: The code of a record's document number when its procedure declares none.
DOCUMENT_CODE_PREFIXES = {"register": "REG", "tanggapan": "TGP", "rekap": "RKP"}
_OUTCOME_CODE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
RECORD_KINDS = ("posts",)

#: Every code :func:`declaration_problems` reports (webui/problems.py has a message for each).
DECLARATION_CODES = frozenset({
    "decl.unknown", "decl.misplaced", "decl.attribute_missing", "decl.number_invalid", "decl.number_duplicate",
    "decl.deadline_invalid", "decl.deadline_missing", "decl.field_missing", "decl.field_invalid",
    "decl.option_missing", "decl.target_missing", "decl.register_twice", "decl.outcome_code_invalid",
    "decl.record_kind", "decl.record_field_type", "decl.flag_invalid", "decl.register_format",
    "decl.date_invalid", "decl.nip_invalid", "decl.sop_twice",
})


@dataclass(frozen=True)
class Return:
    """A decision that sends the case back: ``field`` == ``value`` → to step ``to``, reason in ``response``."""

    field: str
    value: str
    to: str | None
    response: str | None


@dataclass(frozen=True)
class Require:
    """When ``when`` == ``equals``, every one of ``fields`` must be filled or ticked."""

    when: str
    equals: str
    fields: tuple[str, ...]
    message: str | None = None


@dataclass(frozen=True)
class Step:
    bpmn_id: str
    name: str
    number: int | None = None
    label: str | None = None
    deadline_required: bool = False
    register_field: str | None = None  # set: the register entry is numbered at this step
    registers: bool = False
    register_format: str | None = None  # how its numbers are written (the configured format otherwise)
    register_title: str | None = None  # the register's title on its record ("Register <procedure>" otherwise)
    register_by: str | None = None  # the column naming who completed this step first ("Dicatat oleh" otherwise)
    register_columns: tuple[str, ...] = ()  # case data fields the register lists too
    stamp_date: str | None = None
    stamp_time: str | None = None
    stamp_label: str | None = None  # the stamped day in words ("pengumpulan dokumentasi dan konten"), for the SOP
    response: tuple[str, str] | None = None  # (decision field, text field)
    returns: tuple[Return, ...] = ()
    rejects: tuple[tuple[str, str], ...] = ()  # (field, value)
    separate_from: tuple[str, ...] = ()
    requires: tuple[Require, ...] = ()
    records: tuple[tuple[str, str], ...] = ()  # (kind, field)
    compare: bool = False
    copy: bool = False
    #: The SOP document's *Output* column in the owner's words (``alur:step output``); derived otherwise.
    output: str | None = None
    #: The SOP document's *Kelengkapan* (``alur:input field text``): (field id or None, text or None) each.
    inputs: tuple[tuple[str | None, str | None], ...] = ()

    @property
    def short(self) -> str:
        return self.label or self.name

    def return_for(self, data: Mapping) -> Return | None:
        """The return rule the submitted ``data`` triggers, if any."""
        return next((r for r in self.returns if str(data.get(r.field)) == r.value and data.get(r.field) is not None),
                    None)

    def tone(self, field_id: str, value: str) -> str:
        """``return`` for a choice that sends the case back, ``reject`` for one that ends it, else ``""``."""
        if any(r.field == field_id and r.value == value for r in self.returns):
            return "return"
        if (field_id, value) in self.rejects:
            return "reject"
        return ""

    def record_field(self, kind: str) -> str | None:
        return next((f for k, f in self.records if k == kind), None)


@dataclass(frozen=True)
class LaneRule:
    name: str
    element_id: str | None = None
    group: str | None = None  # alur:lane group: the code of the group that works it
    team_scoped: bool = False
    hears_overdue: bool = False
    #: ``alur:lane leads``: who works it leads the procedure: gives any waiting task to another person of its lane
    #: and cancels a case (process/caseops.py).
    leads: bool = False
    #: The group codes the lane's tasks name in ``camunda:candidateGroups`` (from the diagram, not a declaration).
    candidate_groups: tuple[str, ...] = ()
    #: The lane's name as the diagram writes it, which is how its tasks name it (``name`` is whitespace-normalised).
    raw_name: str | None = None
    #: Whether a user task stands in it.
    has_tasks: bool = False

    @property
    def task_lane(self) -> str:
        """The lane as the task projection names it (``TaskRow.lane``)."""
        return self.raw_name or self.name

    @property
    def group_codes(self) -> frozenset[str]:
        """The codes of the groups that work it: the declared group, else the codes its tasks name; a group whose
        name is the lane's name works it too (:func:`lane_key`)."""
        return frozenset((self.group,) if self.group else self.candidate_groups)


@dataclass(frozen=True)
class TextRule:
    field: str
    label: str
    correction: str | None = None
    counter: bool = False


@dataclass(frozen=True)
class SopIdentity:
    """The identity page of the procedure's SOP document (``alur:sop``, Permenpan RB 35/2012): its number, dates
    (ISO, as written), who approved it, and the lists (``SOP_LISTS``: legal basis, qualifications, related SOPs,
    equipment, warnings, recording)."""

    number: str | None = None
    created: str | None = None
    revised: str | None = None
    effective: str | None = None
    approver_title: str | None = None
    approver_name: str | None = None
    approver_nip: str | None = None
    office: str | None = None  # the letterhead's office line ("KPU PROVINSI SUMATERA BARAT")
    lists: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def items(self, kind: str) -> tuple[str, ...]:
        return tuple(self.lists.get(kind, ()))


@dataclass(frozen=True)
class Outcome:
    code: str
    label: str
    success: bool = True  # False: the case ended without what it was for (a refusal)


@dataclass(frozen=True)
class Declarations:
    """What one version of a procedure declares. ``declared``: the diagram uses the namespace at all."""

    process_key: str
    name: str
    declared: bool = False
    title_field: str | None = None
    date_field: str | None = None
    place_field: str | None = None
    team_field: str | None = None
    texts: tuple[TextRule, ...] = ()
    steps: Mapping[str, Step] = field(default_factory=dict)
    lanes: Mapping[str, LaneRule] = field(default_factory=dict)  # by lane name
    #: The name of the lane holding the process's start event (whose workers open its cases), if one does.
    start_lane: str | None = None
    outcomes: Mapping[str, Outcome] = field(default_factory=dict)  # by end event id
    #: The form of each user task (from the diagram itself, not a declaration): for option labels and file fields.
    forms: Mapping[str, tuple[FormField, ...]] = field(default_factory=dict)
    #: The start form (the start event's ``camunda:formData``).
    start_form: tuple[FormField, ...] = ()
    #: The identity page of its SOP document (``alur:sop``), if declared.
    sop: SopIdentity | None = None
    #: What the procedure's records print (``alur:procedure reference responsesTitle recapTitle``, ``alur:basis``,
    #: ``alur:sign``): the line under each record's title, the titles, the legal basis, the signature blocks.
    reference: str | None = None
    responses_title: str | None = None
    recap_title: str | None = None
    basis: tuple[str, ...] = ()
    signatures: tuple[tuple[str, str], ...] = ()  # (heading, role)
    #: The lane whose members sign each block by default (``alur:sign lane``; "" : the lane named as its role).
    signature_lanes: tuple[str, ...] = ()
    #: The code each record's document number carries (``alur:procedure registerCode responsesCode recapCode``).
    register_code: str | None = None
    responses_code: str | None = None
    recap_code: str | None = None

    def document_code(self, kind: str) -> str:
        """The code of a record's document number (``REG-MEDSOS``): declared, else the kind's prefix alone."""
        declared = {"register": self.register_code, "tanggapan": self.responses_code, "rekap": self.recap_code}
        return declared.get(kind) or DOCUMENT_CODE_PREFIXES.get(kind, kind.upper())

    def signature_lane(self, index: int) -> str:
        """The lane whose members sign block ``index`` by default: declared, else the lane named as its role."""
        lane = self.signature_lanes[index] if index < len(self.signature_lanes) else ""
        if lane or index >= len(self.signatures):
            return lane
        role = lane_key(self.signatures[index][1])
        return next((name for name in self.lanes if lane_key(name) == role), "")

    @property
    def record_reference(self) -> str:
        """The line printed under each record's title: the declared reference, else the procedure's name."""
        return self.reference or self.name

    @property
    def register_title(self) -> str:
        step = self.register_step
        return (step.register_title if step is not None else None) or f"Register {self.name}"

    @property
    def responses_heading(self) -> str:
        return self.responses_title or "Tanggapan Tertulis"

    @property
    def recap_heading(self) -> str:
        return self.recap_title or "Rekapitulasi Unggahan"

    @property
    def has_recap(self) -> bool:
        """Whether a step writes the recap's post list (``alur:record kind="posts"``)."""
        return bool(self.steps_with("posts"))

    @property
    def declares_records(self) -> bool:
        """Whether this version says anything about how its records are printed."""
        step = self.register_step
        return bool(self.reference or self.responses_title or self.recap_title or self.basis or self.signatures
                    or (step is not None and (step.register_title or step.register_by)))

    def field_label(self, field_id: str | None, default: str = "") -> str:
        """How the diagram's forms (the start form first) label a field."""
        for f in (*self.start_form, *(f for form in self.forms.values() for f in form)):
            if f.id == field_id:
                return f.label
        return default

    def step(self, bpmn_id: str | None) -> Step | None:
        return self.steps.get(bpmn_id or "")

    def number(self, bpmn_id: str | None) -> int | None:
        step = self.steps.get(bpmn_id or "")
        return step.number if step else None

    @property
    def numbered(self) -> list[Step]:
        """The numbered steps, in number order."""
        return sorted((s for s in self.steps.values() if s.number is not None), key=lambda s: s.number)

    @property
    def step_count(self) -> int:
        return len(self.numbered)

    @property
    def register_step(self) -> Step | None:
        return next((s for s in self.steps.values() if s.registers), None)

    @property
    def needs_team(self) -> bool:
        """Whether a case belongs to a team (a team field is declared, or some lane only the case's team works)."""
        return bool(self.team_field or self.team_lanes)

    @property
    def team_key(self) -> str:
        """The case field that holds its team: the declared one, ``tim`` otherwise."""
        return self.team_field or "tim"

    @property
    def team_lanes(self) -> frozenset[str]:
        """The team-scoped lanes, as their tasks name them (the engine compares a task's lane with these)."""
        return frozenset(lane.task_lane for lane in self.lanes.values() if lane.team_scoped)

    @property
    def overdue_lanes(self) -> frozenset[str]:
        return frozenset(name for name, lane in self.lanes.items() if lane.hears_overdue)

    def steps_with(self, kind: str) -> list[Step]:
        return [s for s in self.steps.values() if s.record_field(kind)]

    def outcome(self, end_event: str | None) -> Outcome | None:
        return self.outcomes.get(end_event or "")

    def option_label(self, bpmn_id: str | None, field_id: str | None, value) -> str | None:
        """How the form of ``bpmn_id`` names the choice ``value`` of ``field_id`` (the value itself otherwise)."""
        if value in (None, ""):
            return None
        for f in self.forms.get(bpmn_id or "", ()):
            if f.id == field_id:
                return next((label for option, label in f.options if option == value), str(value))
        return str(value)

    def value_label(self, field_id: str, value) -> str | None:
        """How any form of this version names the choice ``value`` of the enum field ``field_id``, if one does."""
        for form in self.forms.values():
            for f in form:
                if f.id == field_id and f.type == "enum":
                    found = next((label for option, label in f.options if option == value), None)
                    if found is not None:
                        return found
        return None

    def decision_of(self, bpmn_id: str | None, data: Mapping) -> str | None:
        """The decision a completion of ``bpmn_id`` took (its response's decision field), if it has one."""
        step = self.step(bpmn_id)
        if step is None or step.response is None or not step.response[0]:
            return None
        value = data.get(step.response[0])
        return None if value in (None, "") else str(value)

    def file_counts(self, bpmn_id: str | None, data: Mapping) -> tuple[int, int]:
        """(images, other files) handed in at ``bpmn_id``: files of fields that accept only images, and the rest."""
        images = others = 0
        for f in self.forms.get(bpmn_id or "", ()):
            if f.type != "files":
                continue
            count = len(data.get(f.id) or [])
            kinds = {k.strip() for k in f.constraints.get("accept", "").split(",") if k.strip()}
            if kinds == {"image"}:
                images += count
            else:
                others += count
        return images, others

    @property
    def first_step(self) -> Step | None:
        numbered = self.numbered
        return numbered[0] if numbered else None

    @property
    def last_step(self) -> Step | None:
        numbered = self.numbered
        return numbered[-1] if numbered else None

    def text_sources(self) -> dict[str, str]:
        """``{correction field: original field}`` of the procedure's texts."""
        return {t.correction: t.field for t in self.texts if t.correction}


# -------------------------------------------------------------------------------------------- reading

def _local(tag) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "1", "ya", "yes")


def _text(value: str | None) -> str | None:
    value = " ".join((value or "").split())
    return value or None


def _decls(element, name: str | None = None) -> list:
    """The ``alur:`` elements directly in ``element``'s extensionElements."""
    ext = element.find(f"{{{BPMN_NS}}}extensionElements")
    if ext is None:
        return []
    return [c for c in ext if isinstance(c.tag, str) and etree.QName(c.tag).namespace == NS
            and (name is None or _local(c.tag) == name)]


def _int(value: str | None) -> int | None:
    try:
        number = int((value or "").strip())
    except ValueError:
        return None
    return number if number > 0 else None


def _executable(root):
    return next((p for p in root.findall(f"{{{BPMN_NS}}}process")
                 if p.get("isExecutable", "false").strip().lower() == "true"), None)


def _read_step(node, decl) -> Step:
    step = Step(bpmn_id=node.get("id"), name=_text(node.get("name")) or node.get("id"),
                number=_int(decl.get("number")), label=_text(decl.get("label")),
                deadline_required=(decl.get("deadline") or "").strip() == "required", output=_text(decl.get("output")))
    values: dict = {"returns": [], "rejects": [], "separate_from": [], "requires": [], "records": [], "inputs": []}
    for child in decl:
        if not isinstance(child.tag, str) or etree.QName(child.tag).namespace != NS:
            continue
        kind, get = _local(child.tag), child.get
        if kind == "register":
            values.update(registers=True, register_field=_text(get("field")), register_format=_text(get("format")),
                          register_title=_text(get("title")), register_by=_text(get("by")),
                          register_columns=tuple((get("columns") or "").split()))
        elif kind == "stamp":
            values.update(stamp_date=_text(get("date")), stamp_time=_text(get("time")), stamp_label=_text(get("label")))
        elif kind == "response":
            values["response"] = (_text(get("decision")) or "", _text(get("text")) or "")
        elif kind == "return":
            values["returns"].append(Return(_text(get("field")) or "", (get("value") or "").strip(),
                                            _text(get("to")), _text(get("response"))))
        elif kind == "reject":
            values["rejects"].append((_text(get("field")) or "", (get("value") or "").strip()))
        elif kind == "separate" and _text(get("from")):
            values["separate_from"].append(_text(get("from")))
        elif kind == "require":
            values["requires"].append(Require(_text(get("when")) or "", (get("equals") or "").strip(),
                                              tuple((get("fields") or "").split()), _text(get("message"))))
        elif kind == "record":
            values["records"].append(((get("kind") or "").strip(), _text(get("field")) or ""))
        elif kind == "compare":
            values.update(compare=True, copy=_flag(get("copy")))
        elif kind == "input":
            values["inputs"].append((_text(get("field")), _text(get("text"))))
    for key in ("returns", "rejects", "separate_from", "requires", "records", "inputs"):
        values[key] = tuple(values[key])
    return replace(step, **values)


def candidate_groups(value: str | None) -> tuple[str, ...]:
    """The group codes of a ``camunda:candidateGroups`` attribute (comma-separated), in order, each once."""
    found: list[str] = []
    for code in (value or "").split(","):
        code = code.strip()
        if code and code not in found:
            found.append(code)
    return tuple(found)


def _read_lanes(process) -> tuple[dict[str, LaneRule], str | None]:
    """The lanes of ``process`` by name (their declaration, the groups their user tasks name in
    ``camunda:candidateGroups``), and the name of the lane holding its start event."""
    nodes = {n.get("id"): n for n in process if isinstance(n.tag, str) and n.get("id")}
    lanes: dict[str, LaneRule] = {}
    start_lane = None
    starts = [eid for eid, n in nodes.items() if _local(n.tag) == "startEvent"]
    for lane in process.iter(f"{{{BPMN_NS}}}lane"):
        lane_name = _text(lane.get("name"))
        if not lane_name:
            continue
        decl = next(iter(_decls(lane, "lane")), None)
        refs = [(ref.text or "").strip() for ref in lane.findall(f"{{{BPMN_NS}}}flowNodeRef")]
        tasks = [nodes[r] for r in refs if r in nodes and _local(nodes[r].tag) == "userTask"]
        codes: list[str] = []
        for task in tasks:
            codes += [c for c in candidate_groups(task.get(f"{{{CAMUNDA_NS}}}candidateGroups")) if c not in codes]
        lanes[lane_name] = LaneRule(lane_name, lane.get("id"),
                                    _text(decl.get("group")) if decl is not None else None,
                                    decl is not None and _flag(decl.get("teamScoped")),
                                    decl is not None and _flag(decl.get("hearsOverdue")),
                                    decl is not None and _flag(decl.get("leads")),
                                    candidate_groups=tuple(codes), raw_name=lane.get("name"), has_tasks=bool(tasks))
        if start_lane is None and any(r in starts for r in refs):
            start_lane = lane_name
    return lanes, start_lane


def _read_sop(decl) -> SopIdentity:
    lists: dict[str, list[str]] = {kind: [] for kind in SOP_LISTS}
    for child in decl:
        if isinstance(child.tag, str) and etree.QName(child.tag).namespace == NS and _local(child.tag) in lists:
            text = _text(child.get("text"))
            if text:
                lists[_local(child.tag)].append(text)
    get = decl.get
    return SopIdentity(_text(get("number")), _text(get("created")), _text(get("revised")), _text(get("effective")),
                       _text(get("approverTitle")), _text(get("approverName")), _text(get("approverNip")),
                       _text(get("office")), {k: tuple(v) for k, v in lists.items() if v})


def nip_digits(value: str | None) -> str | None:
    """A NIP (Nomor Induk Pegawai) as its 18 digits (spaces allowed between groups), None when it is not one."""
    digits = "".join((value or "").split())
    return digits if len(digits) == 18 and digits.isascii() and digits.isdigit() else None


def _read_procedure(decl) -> tuple[dict, list[TextRule]]:
    """``alur:procedure``: its attributes (as Declarations fields) and its tracked texts."""
    values = {"title_field": _text(decl.get("title")), "date_field": _text(decl.get("date")),
              "place_field": _text(decl.get("place")), "team_field": _text(decl.get("team")),
              "reference": _text(decl.get("reference")), "responses_title": _text(decl.get("responsesTitle")),
              "recap_title": _text(decl.get("recapTitle")), "register_code": _text(decl.get("registerCode")),
              "responses_code": _text(decl.get("responsesCode")), "recap_code": _text(decl.get("recapCode"))}
    texts, basis, signatures, signature_lanes = [], [], [], []
    for child in decl:
        if not isinstance(child.tag, str) or etree.QName(child.tag).namespace != NS:
            continue
        kind = _local(child.tag)
        if kind == "text":
            field_id = _text(child.get("field"))
            if field_id:
                texts.append(TextRule(field_id, _text(child.get("label")) or field_id,
                                      _text(child.get("correction")), _flag(child.get("counter"))))
        elif kind == "basis" and _text(child.get("text")):
            basis.append(_text(child.get("text")))
        elif kind == "sign" and (_text(child.get("heading")) or _text(child.get("role"))):
            signatures.append((_text(child.get("heading")) or "", _text(child.get("role")) or ""))
            signature_lanes.append(_text(child.get("lane")) or "")
    values.update(basis=tuple(basis), signatures=tuple(signatures),
                  signature_lanes=tuple(signature_lanes) if any(signature_lanes) else ())
    return values, texts


def read_declarations(root, process_key: str, name: str) -> Declarations:
    """The declarations of the executable process in the document ``root`` (an lxml element)."""
    process = _executable(root)
    if process is None:
        return Declarations(process_key, name)
    declared = any(etree.QName(n.tag).namespace == NS for n in root.iter() if isinstance(n.tag, str))
    values: dict = {}
    texts: list[TextRule] = []
    for decl in _decls(process, "procedure")[:1]:
        values, texts = _read_procedure(decl)
    for decl in _decls(process, "sop")[:1]:
        values["sop"] = _read_sop(decl)
    lanes, start_lane = _read_lanes(process)
    steps, outcomes = {}, {}
    for node in process.iter(f"{{{BPMN_NS}}}*"):
        kind = _local(node.tag)
        if kind in _PLACES["step"] and node.get("id"):
            decl = next(iter(_decls(node, "step")), None)
            if decl is not None:
                steps[node.get("id")] = _read_step(node, decl)
        elif kind == "endEvent" and node.get("id"):
            decl = next(iter(_decls(node, "outcome")), None)
            if decl is not None and (decl.get("code") or "").strip():
                code = decl.get("code").strip()
                outcomes[node.get("id")] = Outcome(code, _text(decl.get("label")) or _text(node.get("name")) or code,
                                                   (decl.get("success") or "true").strip().lower() != "false")
    return Declarations(process_key, name, declared, texts=tuple(texts), steps=steps, lanes=lanes,
                        start_lane=start_lane, outcomes=outcomes, **values)


_CACHE: dict[str, Declarations] = {}
_CACHE_LOCK = threading.Lock()


def declarations_of(parsed: ParsedDefinition) -> Declarations:
    """The declarations of a parsed diagram, read once per content hash."""
    found = _CACHE.get(parsed.sha256)
    if found is None:
        found = replace(read_declarations(harden_and_parse(parsed.xml).getroot(), parsed.process_key, parsed.name),
                        forms={info.bpmn_id: info.form for info in parsed.user_tasks}, start_form=parsed.start_form)
        with _CACHE_LOCK:
            if len(_CACHE) > 256:
                _CACHE.clear()
            _CACHE[parsed.sha256] = found
    return found


def inherit(own: Declarations, bundled: Declarations, elements: Mapping[str, tuple[str, str | None]]) -> Declarations:
    """``own`` (a version that declares nothing) with the declarations of ``bundled`` for each element it has with
    the same type (steps, outcomes) and each lane of the same name."""
    def same(eid: str, kind: str | None = None) -> bool:
        return eid in elements and (kind is None or elements[eid][0] == kind)

    steps = {eid: replace(step, name=elements[eid][1] or step.name)
             for eid, step in bundled.steps.items() if same(eid) and elements[eid][0] in _PLACES["step"]}
    outcomes = {eid: o for eid, o in bundled.outcomes.items() if same(eid, "endEvent")}
    # A lane keeps what its own diagram says (its tasks' candidate groups, its name); the declarations are lent.
    lanes = {name: replace(bundled.lanes[name], element_id=lane.element_id, candidate_groups=lane.candidate_groups,
                           raw_name=lane.raw_name, has_tasks=lane.has_tasks) if name in bundled.lanes else lane
             for name, lane in own.lanes.items()}
    return replace(bundled, process_key=own.process_key, name=own.name, declared=False, steps=steps,
                   outcomes=outcomes, lanes=lanes, start_lane=own.start_lane, forms=own.forms,
                   start_form=own.start_form)


def lend_records(own: Declarations, bundled: Declarations) -> Declarations:
    """``own`` with the record declarations (reference, titles, legal basis, signature blocks, the register's title
    and who-column) of the bundled diagram of the same process, when ``own`` declares none of them: a version deployed
    before records were declared keeps printing them as it did."""
    if own.declares_records or not bundled.declares_records:
        return own
    values = {k: getattr(bundled, k) for k in ("reference", "responses_title", "recap_title", "basis", "signatures",
                                               "signature_lanes", "register_code", "responses_code", "recap_code")}
    steps = dict(own.steps)
    mine, theirs = own.register_step, bundled.register_step
    if mine is not None and theirs is not None:
        steps[mine.bpmn_id] = replace(mine, register_title=theirs.register_title, register_by=theirs.register_by)
    return replace(own, steps=steps, **values)


# ------------------------------------------------------------------------------------------ checking

def _forms(parsed: ParsedDefinition) -> dict[str, dict[str, FormField]]:
    return {info.bpmn_id: {f.id: f for f in info.form} for info in parsed.user_tasks}


class _Checker:
    def __init__(self, parsed: ParsedDefinition, decl: Declarations):
        self.parsed, self.decl = parsed, decl
        self.forms = _forms(parsed)
        self.all_fields: dict[str, FormField] = {}
        for form in self.forms.values():
            for fid, f in form.items():
                self.all_fields.setdefault(fid, f)
        self.problems: list[Problem] = []

    def add(self, eid: str | None, code: str, **params) -> None:
        self.problems.append(Problem(eid, code, params))

    def field_of(self, eid: str, fid: str | None, what: str, own_form: bool = True) -> FormField | None:
        """The field ``fid`` a declaration on ``eid`` names (``what``: the attribute), reported when missing."""
        if not fid:
            self.add(eid, "decl.attribute_missing", attribute=what)
            return None
        if not FIELD_ID_RE.fullmatch(fid):
            self.add(eid, "decl.field_invalid", field=fid[:63], attribute=what)
            return None
        found = (self.forms.get(eid, {}) if own_form else self.all_fields).get(fid)
        if found is None:
            self.add(eid, "decl.field_missing", field=fid, attribute=what)
        return found

    def option(self, eid: str, found: FormField | None, value: str, what: str) -> None:
        if found is None:
            return
        if not value:
            self.add(eid, "decl.attribute_missing", attribute=what)
        elif found.type == "enum" and value not in {o for o, _label in found.options}:
            self.add(eid, "decl.option_missing", field=found.id, option=value)

    def target(self, eid: str, target: str | None, what: str) -> None:
        if not target:
            self.add(eid, "decl.attribute_missing", attribute=what)
            return
        element = self.parsed.elements.get(target)
        if element is None or element[0] not in _PLACES["step"]:
            self.add(eid, "decl.target_missing", target=target[:200], attribute=what)

    def identifier(self, eid: str, fid: str | None, what: str) -> None:
        if fid and not FIELD_ID_RE.fullmatch(fid):
            self.add(eid, "decl.field_invalid", field=fid[:63], attribute=what)

    def register(self, step: Step) -> None:
        eid = step.bpmn_id
        self.identifier(eid, step.register_field, "register/field")
        if step.register_format and not register_format_ok(step.register_format):
            self.add(eid, "decl.register_format", format=step.register_format[:100])
        start = {f.id for f in self.parsed.start_form}
        for fid in step.register_columns:  # a field of the start form, or of any step's form
            if fid in start and FIELD_ID_RE.fullmatch(fid):
                continue
            self.field_of(eid, fid, "register/columns", own_form=False)

    def step(self, step: Step) -> None:
        eid = step.bpmn_id
        if step.registers:
            self.register(step)
        self.identifier(eid, step.stamp_date, "stamp/date")
        self.identifier(eid, step.stamp_time, "stamp/time")
        if step.response is not None:
            if step.response[0]:  # a written response may be a text alone, with no decision
                self.field_of(eid, step.response[0], "response/decision")
            self.field_of(eid, step.response[1] or None, "response/text")
        for rule in step.returns:
            self.option(eid, self.field_of(eid, rule.field or None, "return/field"), rule.value, "return/value")
            self.target(eid, rule.to, "return/to")
            if rule.response:
                self.field_of(eid, rule.response, "return/response")
        for fid, value in step.rejects:
            self.option(eid, self.field_of(eid, fid or None, "reject/field"), value, "reject/value")
        for target in step.separate_from:
            self.target(eid, target, "separate/from")
        for rule in step.requires:
            self.option(eid, self.field_of(eid, rule.when or None, "require/when"), rule.equals, "require/equals")
            if not rule.fields:
                self.add(eid, "decl.attribute_missing", attribute="require/fields")
            for fid in rule.fields:
                self.field_of(eid, fid, "require/fields")
        _inputs_checked(self, step)
        for kind, fid in step.records:
            if kind not in RECORD_KINDS:
                self.add(eid, "decl.record_kind", kind=kind[:40], kinds=", ".join(RECORD_KINDS))
                continue
            found = self.field_of(eid, fid or None, "record/field")
            if found is not None and found.type != kind:
                self.add(eid, "decl.record_field_type", field=fid, type=kind)


def _inputs_checked(checker: _Checker, step: Step) -> None:
    """Each ``alur:input`` names a field of some form, or says its words."""
    for fid, text in step.inputs:
        if fid:
            checker.field_of(step.bpmn_id, fid, "input/field", own_form=False)
        elif not text:
            checker.add(step.bpmn_id, "decl.attribute_missing", attribute="input/text")


def owner_of(node) -> str | None:
    """The id of the BPMN element whose extensionElements hold ``node`` (at any depth)."""
    element = node
    while element is not None and not (etree.QName(element.tag).namespace == BPMN_NS and element.get("id")):
        element = element.getparent()
    return element.get("id") if element is not None else None


def _placement_problems(root, checker: _Checker) -> None:
    """Every ``alur:`` element is one this version knows, where it may stand, with its numbers and flags readable."""
    for node in root.iter():
        if not isinstance(node.tag, str) or etree.QName(node.tag).namespace != NS:
            continue
        kind = _local(node.tag)
        parent = node.getparent()
        holder = parent.getparent() if parent is not None and _local(parent.tag) == "extensionElements" else None
        owner = holder.get("id") if holder is not None else None
        if kind in _PLACES:
            if holder is None or _local(holder.tag) not in _PLACES[kind]:
                checker.add(owner, "decl.misplaced", declaration=kind, places=", ".join(_PLACES[kind]))
        elif not ((kind in _STEP_CHILDREN and _local(parent.tag) == "step") or
                  (kind in _PROCEDURE_CHILDREN and _local(parent.tag) == "procedure") or
                  (kind in SOP_LISTS and _local(parent.tag) == "sop")):
            element = node
            while element is not None and not (etree.QName(element.tag).namespace == BPMN_NS and element.get("id")):
                element = element.getparent()
            checker.add(element.get("id") if element is not None else None, "decl.unknown", declaration=kind[:40])
        _value_problems(kind, node, owner, checker)


def _value_problems(kind: str, node, owner: str | None, checker: _Checker) -> None:
    """The values of one ``alur:`` element that must be readable: numbers, choices, flags, dates, texts."""
    if kind == "step":
        if node.get("number") is not None and _int(node.get("number")) is None:
            checker.add(owner, "decl.number_invalid", value=(node.get("number") or "")[:20])
        if (node.get("deadline") or "optional").strip() not in ("required", "optional"):
            checker.add(owner, "decl.deadline_invalid", value=(node.get("deadline") or "")[:20])
    elif kind == "sop":
        _sop_problems(node, owner, checker)
    elif kind == "basis" and not _text(node.get("text")):
        checker.add(owner_of(node), "decl.attribute_missing", attribute="basis/text")
    elif kind == "sign" and not (_text(node.get("heading")) or _text(node.get("role"))):
        checker.add(owner_of(node), "decl.attribute_missing", attribute="sign/role")
    elif kind == "lane":
        for attribute in ("teamScoped", "hearsOverdue", "leads"):
            value = node.get(attribute)
            if value is not None and value.strip().lower() not in ("true", "false", "1", "0", "ya", "yes", ""):
                checker.add(owner, "decl.flag_invalid", attribute=attribute, value=value[:20])


def _sop_problems(node, owner: str | None, checker: _Checker) -> None:
    """The identity page's dates are ISO dates (YYYY-MM-DD) and the approver's NIP has 18 digits; one per process."""
    for attribute in SOP_DATES:
        value = (node.get(attribute) or "").strip()
        if not value:
            continue
        try:
            ok = bool(_ISO_DATE.fullmatch(value)) and date.fromisoformat(value) is not None
        except ValueError:
            ok = False
        if not ok:
            checker.add(owner, "decl.date_invalid", attribute=f"sop/{attribute}", value=value[:40])
    nip = (node.get("approverNip") or "").strip()
    if nip and nip_digits(nip) is None:
        checker.add(owner, "decl.nip_invalid", value=nip[:40])
    siblings = [s for s in node.getparent() if isinstance(s.tag, str) and s.tag == node.tag]
    if len(siblings) > 1 and siblings[0] is not node:
        checker.add(owner, "decl.sop_twice")


def declaration_problems(parsed: ParsedDefinition) -> list[Problem]:
    """Each declaration that cannot be followed: unknown or misplaced, a field, option or step it names that is not
    there, a step number used twice, a required deadline without a timer, two register steps."""
    decl = declarations_of(parsed)
    checker = _Checker(parsed, decl)
    _placement_problems(harden_and_parse(parsed.xml).getroot(), checker)
    numbers: dict[int, str] = {}
    timed = {info.bpmn_id for info in parsed.user_tasks if info.deadline is not None}
    registers = [s for s in decl.steps.values() if s.registers]
    for step in decl.steps.values():
        if step.number is not None:
            if step.number in numbers:
                checker.add(step.bpmn_id, "decl.number_duplicate", number=step.number,
                            other=parsed.elements.get(numbers[step.number], ("", numbers[step.number]))[1]
                            or numbers[step.number])
            numbers.setdefault(step.number, step.bpmn_id)
        if step.deadline_required and step.bpmn_id not in timed:
            checker.add(step.bpmn_id, "decl.deadline_missing")
        checker.step(step)
    for step in registers[1:]:
        checker.add(step.bpmn_id, "decl.register_twice", other=registers[0].name)
    for what, fid in (("procedure/title", decl.title_field), ("procedure/date", decl.date_field),
                      ("procedure/place", decl.place_field), ("procedure/team", decl.team_field)):
        checker.identifier(None, fid, what)
    for text in decl.texts:
        checker.field_of(parsed.process_key, text.field, "text/field", own_form=False)
        if text.correction:
            checker.field_of(parsed.process_key, text.correction, "text/correction", own_form=False)
    for eid, outcome in decl.outcomes.items():
        if not _OUTCOME_CODE.fullmatch(outcome.code):
            checker.add(eid, "decl.outcome_code_invalid", code=outcome.code[:40])
    return checker.problems


# ------------------------------------------------------------------------------------------ who works a lane

def lane_key(name: str | None) -> str:
    """A lane's or a group's name as the two are compared: whitespace-normalised and case-insensitive."""
    return " ".join((name or "").split()).casefold()


@dataclass
class LaneMap:
    """Which groups work which lane, over every stored version of every procedure.

    The task projection knows a task's lane by its name (``TaskRow.lane``), so a lane is one name across versions: it
    is worked by the groups every version names for it — the ``alur:lane group`` code, else the codes its tasks name
    in ``camunda:candidateGroups`` — and by the group whose name is the lane's name (:func:`lane_key`). Whether a lane
    is team-scoped, and which lane opens a procedure's cases, is as the newest version says. Built once per set of
    stored versions (:meth:`Rulebook.lane_map`); a user's lanes are remembered per set of groups."""

    #: lane (by :func:`lane_key`) → codes of the groups that work it
    codes: Mapping[str, frozenset[str]] = field(default_factory=dict)
    #: every lane name as tasks carry it → its key
    names: Mapping[str, str] = field(default_factory=dict)
    team_scoped: frozenset[str] = frozenset()  # keys
    hears_overdue: frozenset[str] = frozenset()  # keys
    #: process key → (key of the lane of its start event or None, keys of its lanes with user tasks): newest version
    starts: Mapping[str, tuple[str | None, frozenset[str]]] = field(default_factory=dict)
    #: key of a lane told of every late step → the lanes (as tasks name them) of the procedures it is told of
    heard: Mapping[str, frozenset[str]] = field(default_factory=dict)
    #: key of a lane that leads its procedure (``alur:lane leads``) → the process keys it leads (newest versions)
    leads: Mapping[str, frozenset[str]] = field(default_factory=dict)
    _memo: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, versions: Iterable[Declarations]) -> LaneMap:
        codes: dict[str, set[str]] = {}
        names: dict[str, str] = {}
        scoped: dict[str, bool] = {}
        hears: set[str] = set()
        starts: dict[str, tuple[str | None, frozenset[str]]] = {}
        heard: dict[str, set[str]] = {}
        leads: dict[str, dict[str, bool]] = {}  # process key → lane key → leads (the newest version says)
        for decl in versions:  # oldest first: the newest says last
            for lane in decl.lanes.values():
                key = lane_key(lane.name)
                codes.setdefault(key, set()).update(lane.group_codes)
                names[lane.task_lane] = key
                names.setdefault(lane.name, key)
                scoped[key] = lane.team_scoped
                if lane.hears_overdue:
                    hears.add(key)
                    heard.setdefault(key, set()).update(other.task_lane for other in decl.lanes.values())
            leads[decl.process_key] = {lane_key(lane.name): lane.leads for lane in decl.lanes.values()}
            starts[decl.process_key] = (lane_key(decl.start_lane) if decl.start_lane else None,
                                        frozenset(lane_key(n) for n, lane in decl.lanes.items() if lane.has_tasks))
        led: dict[str, set[str]] = {}
        for process_key, lanes in leads.items():
            for key, flag in lanes.items():
                if flag:
                    led.setdefault(key, set()).add(process_key)
        return cls({k: frozenset(v) for k, v in codes.items()}, names,
                   frozenset(k for k, v in scoped.items() if v), frozenset(hears), starts,
                   {k: frozenset(v) for k, v in heard.items()}, {k: frozenset(v) for k, v in led.items()})

    def lanes_for(self, codes: frozenset[str], group_names: frozenset[str]) -> frozenset[str]:
        """The lanes (as tasks name them) worked by the groups of these codes and names."""
        memo_key = (codes, group_names)
        found = self._memo.get(memo_key)
        if found is None:
            named = {lane_key(n) for n in group_names}
            found = frozenset(lane for lane, key in self.names.items()
                              if key in named or self.codes.get(key, frozenset()) & codes)
            if len(self._memo) < 4096:
                self._memo[memo_key] = found
        return found

    def lanes_of(self, user) -> frozenset[str]:
        """The lanes ``user`` (a process.models.User, with its groups) works."""
        return self.lanes_for(user.group_codes, frozenset(g.name for g in user.groups))

    def group_codes(self, lane: str | None) -> frozenset[str]:
        """The codes of the groups that work ``lane`` (besides the group named as it)."""
        return self.codes.get(lane_key(lane), frozenset())

    def works(self, lane: str | None, code: str, name: str) -> bool:
        """Whether the group ``code`` named ``name`` works ``lane``."""
        return code in self.group_codes(lane) or (lane is not None and lane_key(name) == lane_key(lane))

    def team_only(self, lanes: Iterable[str]) -> bool:
        """Whether every one of ``lanes`` is team-scoped (``alur:lane teamScoped``; none: False)."""
        keys = {self.names.get(lane, lane_key(lane)) for lane in lanes}
        return bool(keys) and keys <= self.team_scoped

    def hears_of_overdue(self, lanes: Iterable[str]) -> bool:
        """Whether one of ``lanes`` is told of every late step (``alur:lane hearsOverdue``)."""
        return any(self.names.get(lane, lane_key(lane)) in self.hears_overdue for lane in lanes)

    def heard_lanes(self, lanes: Iterable[str]) -> frozenset[str]:
        """The lanes (as tasks name them) whose late steps who works ``lanes`` is told of: every lane of each
        procedure in which one of ``lanes`` hears of every late step (``alur:lane hearsOverdue``)."""
        found: set[str] = set()
        for lane in lanes:
            found |= self.heard.get(self.names.get(lane, lane_key(lane)), frozenset())
        return frozenset(found)

    @property
    def overdue_lanes(self) -> frozenset[str]:
        """The lanes (as tasks name them) told of every late step."""
        return frozenset(lane for lane, key in self.names.items() if key in self.hears_overdue)

    def leads_procedure(self, lanes: Iterable[str], process_key: str | None) -> bool:
        """Whether who works ``lanes`` leads ``process_key``: one of them is declared ``alur:lane leads`` in its
        newest version."""
        return any(process_key in self.leads.get(self.names.get(lane, lane_key(lane)), frozenset())
                   for lane in lanes)

    def may_start(self, lanes: Iterable[str], process_key: str) -> bool:
        """Whether who works ``lanes`` opens cases of ``process_key``: the lane of its start event in its newest
        version is one of them (a start event in no lane: any lane of that version with a task is)."""
        start = self.starts.get(process_key)
        if start is None:
            return False
        keys = {self.names.get(lane, lane_key(lane)) for lane in lanes}
        start_lane, with_tasks = start
        return start_lane in keys if start_lane is not None else bool(keys & with_tasks)

    def start_lane(self, process_key: str) -> str | None:
        """The lane (as tasks name it) of the start event of ``process_key``'s newest version, if it is in one."""
        start = self.starts.get(process_key)
        if start is None or start[0] is None:
            return None
        return next((lane for lane, key in self.names.items() if key == start[0]), None)


# ------------------------------------------------------------------------------------------ finding them

class Rulebook:
    """The declarations in force for a version, a case or a task; bundled diagrams (``bundled``: a directory of
    ``.bpmn`` files) lend theirs to versions of the same process that declare nothing."""

    def __init__(self, engine: WorkflowEngine, bundled: Path | Iterable[Path]):
        self.engine = engine
        self._bundled_paths = [bundled] if isinstance(bundled, Path) else list(bundled)
        self._bundled: dict[str, Declarations] | None = None
        self._all: tuple[tuple[int, ...], list[Declarations]] | None = None
        self._lanes: tuple[list[Declarations], LaneMap] | None = None
        self._lock = threading.Lock()
        self._reading = threading.local()  # set while this thread reads the bundled diagrams

    def _bundled_by_key(self) -> dict[str, Declarations]:
        if self._bundled is None:
            if getattr(self._reading, "active", False):
                # Parsing a bundled diagram asks for its declarations (the engine's lane callback), which would read
                # the bundled diagrams again, and again: while they are being read, they lend nothing.
                return {}
            found: dict[str, Declarations] = {}
            self._reading.active = True
            try:
                for path in self._bundled_paths:
                    for file in sorted(path.glob("*.bpmn") if path.is_dir() else [path]):
                        try:
                            parsed = self.engine.validate(file.read_bytes())
                        except Exception:  # noqa: BLE001, S112 - a broken bundled file lends nothing; deploying it says why
                            continue
                        found.setdefault(parsed.process_key, declarations_of(parsed))
            finally:
                self._reading.active = False
            with self._lock:
                self._bundled = found
        return self._bundled

    def of(self, parsed: ParsedDefinition) -> Declarations:
        own = declarations_of(parsed)
        bundled = self._bundled_by_key().get(parsed.process_key)
        if own.declared:
            return lend_records(own, bundled) if bundled is not None else own
        return inherit(own, bundled, parsed.elements) if bundled is not None else own

    def of_definition(self, session: Session, definition_id: int) -> Declarations:
        return self.of(self.engine.parsed_for(session, definition_id))

    def of_instance(self, session: Session, instance: Instance | int) -> Declarations:
        if isinstance(instance, int):
            definition_id = session.execute(select(Instance.definition_id).where(Instance.id == instance)).scalar()
        else:
            definition_id = instance.definition_id
        return self.of_definition(session, definition_id)

    def projected_due(self, session: Session, instance: Instance, bpmn_id: str) -> datetime | None:
        """When step ``bpmn_id`` of ``instance`` would be due, from what the case knows when it opens (its declared
        date field); None when its deadline needs more than that."""
        parsed = self.engine.parsed_for(session, instance.definition_id)
        field_id = self.of(parsed).date_field
        if field_id is None or instance.business_date is None:
            return None
        return self.engine.projected_due(parsed, bpmn_id, {field_id: instance.business_date.isoformat()})

    def of_instances(self, session: Session, instance_ids: Iterable[int]) -> dict[int, Declarations]:
        """``{instance id: declarations}`` for many cases (one query for their versions)."""
        ids = sorted({i for i in instance_ids if i is not None})
        if not ids:
            return {}
        versions: dict[int, int] = {}
        for start in range(0, len(ids), 500):
            versions.update(session.execute(select(Instance.id, Instance.definition_id)
                                            .where(Instance.id.in_(ids[start:start + 500]))).tuples().all())
        by_definition = {d: self.of_definition(session, d) for d in set(versions.values())}
        return {i: by_definition[d] for i, d in versions.items()}

    def latest(self, session: Session, process_key: str) -> Declarations | None:
        definition_id = session.execute(select(Definition.id).where(Definition.process_key == process_key)
                                        .order_by(Definition.version.desc()).limit(1)).scalar()
        return self.of_definition(session, definition_id) if definition_id is not None else None

    def all_versions(self, session: Session) -> list[Declarations]:
        """The declarations of every stored version, oldest first (read again only when a version was added)."""
        ids = self.engine.definition_ids(session)
        cached = self._all
        if cached is not None and cached[0] == ids:
            return cached[1]
        found = [self.of_definition(session, d) for d in ids]
        self._all = (ids, found)
        return found

    def overdue_lanes(self, session: Session) -> frozenset[str]:
        """The lanes told of every late step, in any version of any procedure."""
        return self.lane_map(session).overdue_lanes

    def lane_map(self, session: Session) -> LaneMap:
        """Which groups work which lane, over every stored version (built again only when a version was added); on a
        database without any, the bundled diagrams'."""
        versions = self.all_versions(session)
        cached = self._lanes
        if cached is not None and cached[0] is versions:
            return cached[1]
        found = LaneMap.of(versions or list(self._bundled_by_key().values()))
        self._lanes = (versions, found)
        return found


# ------------------------------------------------------------------------------------------ what changed

def _named(decl: Declarations, eid: str | None) -> str:
    step = decl.steps.get(eid or "")
    return step.name if step is not None else (eid or "")


def rule_changes(old: Declarations | None, new: Declarations) -> list[dict]:
    """The rules a new version changes against the previous one, as messages (``{"code", "params"}``,
    process/messages.py ``rule.*``): "the register number is now given at step 'Menerima …'"."""
    if old is None:
        return []
    out: list[dict] = []

    def say(code: str, **params) -> None:
        out.append({"code": code, "params": params})

    for eid in sorted(old.steps.keys() | new.steps.keys()):
        _step_changes(old, new, old.steps.get(eid), new.steps.get(eid), say)
    before, after = old.register_step, new.register_step
    if (before.bpmn_id if before else None) != (after.bpmn_id if after else None):
        if after is not None:
            say("rule.register_at", step=after.name)
        else:
            say("rule.register_none")
    for lane in sorted(old.lanes.keys() | new.lanes.keys()):
        a, b = old.lanes.get(lane), new.lanes.get(lane)
        if bool(a and a.team_scoped) != bool(b and b.team_scoped):
            say("rule.lane_team_scoped" if b and b.team_scoped else "rule.lane_all_teams", lane=lane)
        if bool(a and a.hears_overdue) != bool(b and b.hears_overdue):
            say("rule.lane_hears_overdue" if b and b.hears_overdue else "rule.lane_not_told", lane=lane)
        if bool(a and a.leads) != bool(b and b.leads):
            say("rule.lane_leads" if b and b.leads else "rule.lane_leads_no_more", lane=lane)
    codes_before = {o.code for o in old.outcomes.values()}
    codes_after = {o.code for o in new.outcomes.values()}
    for code in sorted(codes_after - codes_before):
        say("rule.outcome_added", outcome=code)
    for code in sorted(codes_before - codes_after):
        say("rule.outcome_removed", outcome=code)
    return out


def _step_changes(old: Declarations, new: Declarations, a: Step | None, b: Step | None, say) -> None:
    """What changed in the rules of one step (``a`` before, ``b`` after; either may be missing)."""
    name = (b or a).name

    def added(attribute: str) -> list:
        return sorted(set(getattr(b, attribute, ()) or ()) - set(getattr(a, attribute, ()) or ()), key=str)

    def removed(attribute: str) -> list:
        return sorted(set(getattr(a, attribute, ()) or ()) - set(getattr(b, attribute, ()) or ()), key=str)

    before, after = (a.number if a else None), (b.number if b else None)
    if before != after:
        if before is None:
            say("rule.step_numbered", step=name, new=after)
        elif after is None:
            say("rule.step_unnumbered", step=name, old=before)
        else:
            say("rule.step_number", step=name, old=before, new=after)
    if bool(a and a.deadline_required) != bool(b and b.deadline_required):
        say("rule.deadline_required" if b and b.deadline_required else "rule.deadline_optional", step=name)
    for rule in added("returns"):
        say("rule.return_added", step=name, value=rule.value, to=_named(new, rule.to))
    for rule in removed("returns"):
        say("rule.return_removed", step=name, value=rule.value, to=_named(old, rule.to))
    for target in added("separate_from"):
        say("rule.separate_added", step=name, other=_named(new, target))
    for target in removed("separate_from"):
        say("rule.separate_removed", step=name, other=_named(old, target))
    for rule in added("requires"):
        say("rule.require_added", step=name, fields=", ".join(rule.fields), when=rule.when, equals=rule.equals)
    for rule in removed("requires"):
        say("rule.require_removed", step=name, fields=", ".join(rule.fields), when=rule.when, equals=rule.equals)
    if (a.response if a else None) != (b.response if b else None):
        say("rule.response_on" if b and b.response else "rule.response_off", step=name)

"""The procedure's official SOP document (Permenpan RB Nomor 35 Tahun 2012), printed from its diagram.

A deployed version of a procedure becomes an :class:`SopDocument` — a plain model: the identity page (``alur:sop``:
number, dates, who approved it, the lists), the flowchart matrix (one :class:`Row` per step in step order, one
:class:`Column` per actor, the supporting columns *Kelengkapan*, *Waktu*, *Output*) and what changed since the
previous version. :func:`build` makes it from a parsed diagram and its declarations (process/declarations.py);
:func:`layout` places the matrix's symbols, texts and arrows on A4 landscape pages (points, y downwards), and the two
renderers draw that one layout: :func:`to_pdf` with ReportLab's canvas, :func:`matrix_svg` as SVG for the HTML page.

How the diagram becomes the matrix:

- *Pelaksana*: the lanes, in lane order, one column each; when the procedure ends in a lane met earlier, left of the
  step before (every step from there on in that lane), those steps get a column of their own on the right, so that
  the flow ends reading left to right — as the SOP's own table repeats "Admin Medsos" for step 5. A procedure going
  back and forth between lanes keeps one column per lane. Columns without a symbol are left out.
- rows: the user tasks, numbered ones in their number's order, then the others in flow order. A row holds the
  task's rectangle in its actor's column; a start terminator above the first step; the decision diamond of an
  exclusive (or inclusive) gateway the task leads to, beneath it, with each outcome labelled; an end terminator
  for an outcome that ends the case. An arrow to the next row is drawn; an outcome going to any other step ends in
  an on-page connector (a circle with that step's number); a page break cuts the arrow with an off-page connector
  (a pentagon lettered A, B, …) on both pages, and the header repeats.
- *Kelengkapan*: the step's ``alur:input`` items (a field's label, "minimal n" from a files field's ``min_files``),
  else the step's own fields that are handed in; *Waktu*: the deadline (its timer) in words; *Output*: the step's
  ``alur:step output``, else what it declares (register, written response, recap).

Official text, so Bahasa Indonesia whatever the reader's language. Nothing here knows Flask.
"""
from __future__ import annotations

import ast
import html
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from engine.definitions import BPMN_NS, ParsedDefinition, harden_and_parse
from engine.forms import FormField

from . import fonts, messages
from .config import Letterhead
from .deadlines import WIB
from .declarations import SOP_LISTS, Declarations, SopIdentity, Step, nip_digits
from .documents import printable
from .records import tanggal_id

#: The identity page's lists, as printed, in the order of ``SOP_LISTS``.
LIST_TITLES = {
    "legalBasis": "Dasar Hukum",
    "qualification": "Kualifikasi Pelaksana",
    "related": "Keterkaitan",
    "equipment": "Peralatan/Perlengkapan",
    "warning": "Peringatan",
    "recording": "Pencatatan dan Pendataan",
}
DASH = "\u2014"
_STEP_KINDS = ("userTask", "manualTask", "task")
_DECISION_GATEWAYS = ("exclusiveGateway", "inclusiveGateway")
_GATEWAYS = ("exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway")
#: Form field types that are not "handed in" items of a step (its checklist, its decision, dates).
_NOT_ITEMS = ("boolean", "enum", "date", "datetime", "long")


# --------------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    lane: str  # the lane's name as the diagram writes it (normalised)
    title: str


@dataclass(frozen=True)
class Outcome:
    """One way out of a row: ``label`` (the outcome's words, "" for the plain next step), to the row numbered
    ``to`` (its index in :attr:`SopDocument.rows`), or to an end (``end``: its words)."""

    label: str
    to: int | None = None
    end: str | None = None


@dataclass(frozen=True)
class Row:
    number: str  # "No." as printed
    bpmn_id: str
    text: str  # Uraian Prosedur
    short: str  # the short name written in the rectangle
    column: int  # index into SopDocument.columns
    kelengkapan: tuple[str, ...]
    waktu: str
    waktu_flagged: bool  # the deadline could not be put in words: shown as written
    output: str
    starts: bool = False  # the start terminator stands above it
    decision: str | None = None  # the decision's question (a diamond beneath the rectangle), when it decides
    outcomes: tuple[Outcome, ...] = ()


@dataclass(frozen=True)
class SopDocument:
    process_key: str
    name: str
    version: int | None
    identity: SopIdentity
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    #: What changed since the previous version, one sentence each (None: the first version).
    changes: tuple[str, ...] | None = None
    previous_version: int | None = None

    @property
    def title(self) -> str:
        return f"Standar Operasional Prosedur {self.name}"

    def filename(self) -> str:
        stem = re.sub(r"[^A-Za-z0-9_-]+", "-", self.process_key).strip("-") or "sop"
        return f"sop-{stem}-v{self.version}.pdf" if self.version else f"sop-{stem}.pdf"


# --------------------------------------------------------------------------------------------------
# Words
# --------------------------------------------------------------------------------------------------


def _label_words(label: str) -> str:
    """A field label without a trailing note in parentheses ("Foto dokumentasi (minimal 4)" → "Foto dokumentasi")."""
    return re.sub(r"\s*\([^)]*\)\s*$", "", label or "").strip() or (label or "").strip()


def _fields(decl: Declarations) -> dict[str, FormField]:
    found: dict[str, FormField] = {}
    for form in (decl.start_form, *decl.forms.values()):
        for f in form:
            found.setdefault(f.id, f)
    return found


def _item(f: FormField | None, text: str | None) -> str:
    words = text or (_label_words(f.label) if f is not None else "") or (f.id if f is not None else "")
    if f is not None and f.type == "files":
        try:
            least = int(f.constraints.get("min_files", "0"))
        except ValueError:
            least = 0
        if least > 1:
            words = f"{words} minimal {least}"
    return words


def kelengkapan(step: Step | None, form: Sequence[FormField], decl: Declarations) -> tuple[str, ...]:
    """What a step needs (*Kelengkapan*): its declared ``alur:input`` items, else the fields of its own form that
    are handed in (required, not read-only, not a checkbox, choice or date, not its written response)."""
    fields = _fields(decl)
    if step is not None and step.inputs:
        return tuple(_item(fields.get(fid) if fid else None, text) for fid, text in step.inputs)
    response = set(step.response or ()) if step is not None else set()
    return tuple(_item(f, None) for f in form
                 if f.required and not f.readonly and f.type not in _NOT_ITEMS and f.id not in response)


def _reference_words(name: str, decl: Declarations) -> str:
    """How the SOP names the day a deadline counts from: the words of the step that stamps it (``alur:stamp
    label``, else "langkah n (label)"), else the label of the field it names without "Tanggal"."""
    for step in decl.steps.values():
        if step.stamp_date == name:
            if step.stamp_label:
                return step.stamp_label
            return f"langkah {step.number} ({step.short})" if step.number else step.short
    f = _fields(decl).get(name)
    words = _label_words(f.label) if f is not None and f.label else name.replace("_", " ")
    words = re.sub(r"^(tanggal|tgl\.?)\s+", "", words, flags=re.IGNORECASE)
    return words[:1].lower() + words[1:] if words[:2] != words[:2].upper() else words


_DURATION = re.compile(r"^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$")


def _duration_words(text: str) -> str | None:
    m = _DURATION.fullmatch(text.strip().upper())
    if m is None or not any(m.groups()):
        return None
    parts = [f"{int(n)} {unit}" for n, unit in zip(m.groups(), ("minggu", "hari", "jam", "menit")) if n]
    return " ".join(parts) + " sejak langkah dimulai"


def waktu(expression: str | None, kind: str | None, decl: Declarations) -> tuple[str, bool]:
    """A step's deadline in the SOP's words (*Waktu*) and whether it could not be put in words (then it is the
    expression as written): ``akhir_hari(tanggal_kegiatan, 1)`` → "H+1 setelah kegiatan",
    ``akhir_hari_kerja(x, 10)`` → "10 hari kerja setelah …", ``P2D`` → "2 hari sejak langkah dimulai"."""
    if not expression or not expression.strip():
        return DASH, False
    text = expression.strip()
    if kind == "timeDuration" or (kind is None and text.upper().startswith("P")):
        words = _duration_words(text)
        return (words, False) if words else (text, True)
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError:
        node = None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        text = node.value
    if node is None or isinstance(node, ast.Constant):
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return expression.strip(), True
        return f"Paling lambat {tanggal_id(moment.date())}", False
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords and len(node.args) == 2
            and node.func.id in ("akhir_hari", "akhir_hari_kerja") and isinstance(node.args[1], ast.Constant)
            and type(node.args[1].value) is int and node.args[1].value >= 0):
        ref, n = node.args[0], node.args[1].value
        if isinstance(ref, ast.Name):
            after = _reference_words(ref.id, decl)
        elif isinstance(ref, ast.Constant) and isinstance(ref.value, str):
            try:
                after = f"tanggal {tanggal_id(date.fromisoformat(ref.value[:10]))}"
            except ValueError:
                return expression.strip(), True
        else:
            return expression.strip(), True
        if node.func.id == "akhir_hari":
            return (f"Hari H {after}" if n == 0 else f"H+{n} setelah {after}"), False
        return (f"Hari kerja yang sama dengan {after}" if n == 0 else f"{n} hari kerja setelah {after}"), False
    return expression.strip(), True


def output(step: Step | None) -> str:
    """What a step produces (*Output*): ``alur:step output``, else what it declares."""
    if step is None:
        return DASH
    if step.output:
        return step.output
    parts = []
    if step.registers:
        parts.append("Register")
    if step.response is not None:
        parts.append("Tanggapan tertulis")
    if step.record_field("posts"):
        parts.append("Rekapitulasi unggahan")
    return "; ".join(parts) or DASH


# --------------------------------------------------------------------------------------------------
# Reading the flow
# --------------------------------------------------------------------------------------------------


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _norm(text: str | None) -> str:
    return " ".join((text or "").split())


@dataclass
class _Flow:
    nodes: dict = field(default_factory=dict)  # id → (kind, name)
    outgoing: dict = field(default_factory=dict)  # id → [(flow name, condition, target)]
    lane_of: dict = field(default_factory=dict)  # id → lane name
    lanes: list = field(default_factory=list)  # lane names in order
    timers: dict = field(default_factory=dict)  # task id → (kind, expression)
    start: str | None = None


def _read_flow(xml: str) -> _Flow:
    root = harden_and_parse(xml).getroot()
    process = next((p for p in root.findall(f"{{{BPMN_NS}}}process")
                    if (p.get("isExecutable") or "").strip().lower() == "true"), None)
    flow = _Flow()
    if process is None:
        return flow
    for lane in process.iter(f"{{{BPMN_NS}}}lane"):
        if lane.find(f"{{{BPMN_NS}}}childLaneSet") is not None:
            continue  # a lane split into lanes: its lanes are the actors
        name = _norm(lane.get("name")) or lane.get("id")
        flow.lanes.append(name)
        for ref in lane.findall(f"{{{BPMN_NS}}}flowNodeRef"):
            flow.lane_of[(ref.text or "").strip()] = name
    for node in process.iter():
        kind, nid = _local(node.tag), node.get("id")
        if not nid or node.tag == process.tag:
            continue
        if kind == "sequenceFlow":
            cond = node.find(f"{{{BPMN_NS}}}conditionExpression")
            flow.outgoing.setdefault(node.get("sourceRef"), []).append(
                (_norm(node.get("name")), _norm(cond.text if cond is not None else ""), node.get("targetRef")))
        elif kind == "boundaryEvent":
            for value in node.iter():
                if _local(value.tag) in ("timeDate", "timeDuration", "timeCycle"):
                    flow.timers.setdefault(node.get("attachedToRef"), (_local(value.tag), (value.text or "").strip()))
        else:
            flow.nodes[nid] = (kind, _norm(node.get("name")))
            if kind == "startEvent" and flow.start is None and node.getparent() is process:
                flow.start = nid
    # a node inside a sub-process stands in the sub-process's lane
    for sub in process.iter(f"{{{BPMN_NS}}}subProcess"):
        for inner in sub.iter():
            if inner.get("id") and inner.get("id") not in flow.lane_of and sub.get("id") in flow.lane_of:
                flow.lane_of[inner.get("id")] = flow.lane_of[sub.get("id")]
    return flow


def _targets(flow: _Flow, node: str, seen: frozenset = frozenset()) -> list[tuple[str, str]]:
    """Where ``node`` leads, through gateways that do not decide (merges, forks): ``[(label, node id)]`` of steps,
    decisions and ends."""
    out = []
    for name, cond, target in flow.outgoing.get(node, []):
        kind = flow.nodes.get(target, ("", ""))[0]
        if target in seen:
            continue
        if kind in _GATEWAYS and not (kind in _DECISION_GATEWAYS and len(flow.outgoing.get(target, [])) > 1):
            out += [(name or label, t) for label, t in _targets(flow, target, seen | {target})]
        elif kind in ("intermediateThrowEvent", "intermediateCatchEvent"):
            out += [(name or label, t) for label, t in _targets(flow, target, seen | {target})]
        else:
            out.append((name or cond, target))
    return out


# --------------------------------------------------------------------------------------------------
# Building the document
# --------------------------------------------------------------------------------------------------


def _order(flow: _Flow, decl: Declarations, tasks: Iterable[str]) -> list[str]:
    tasks = list(tasks)
    seen: list[str] = []
    queue = [flow.start] if flow.start else []
    visited = set()
    while queue:
        node = queue.pop(0)
        if node in visited:
            continue
        visited.add(node)
        if node in tasks and node not in seen:
            seen.append(node)
        queue += [t for _n, _c, t in flow.outgoing.get(node, [])]
    rank = {t: i for i, t in enumerate(seen + [t for t in tasks if t not in seen])}

    def key(task: str):
        step = decl.steps.get(task)
        number = step.number if step is not None and step.number is not None else None
        return (number is None, number or 0, rank[task])

    return sorted(tasks, key=key)


def _end_words(flow: _Flow, decl: Declarations, end: str) -> str:
    outcome = decl.outcomes.get(end)
    if outcome is not None and not outcome.success:
        return outcome.label[:1].upper() + outcome.label[1:]
    return "Selesai"


def build(parsed: ParsedDefinition, decl: Declarations, *, version: int | None = None,
          previous: SopDocument | None = None, rule_changes: Sequence[Mapping] = ()) -> SopDocument:
    """The SOP document of one version: ``decl`` its declarations; ``previous`` the document of the version before
    (for the "what changed" page) and ``rule_changes`` the stored summary's rule messages (``rule.*``)."""
    flow = _read_flow(parsed.xml)
    infos = {u.bpmn_id: u for u in parsed.user_tasks}
    order = _order(flow, decl, infos)
    # Pelaksana: lanes in lane order; a lane met again after a column to its right opens a new column.
    lane_names = [_norm(u.lane) or "" for u in parsed.user_tasks]
    base = [name for name in flow.lanes] or sorted({n for n in lane_names if n})
    columns: list[str] = list(base)
    current = {name: i for i, name in enumerate(columns)}
    task_column: dict[str, int] = {}
    last = -1
    lane_of = {task: _norm(infos[task].lane) or flow.lane_of.get(task) or "Pelaksana" for task in order}
    for at, task in enumerate(order):
        lane = lane_of[task]
        if lane not in current:
            columns.append(lane)
            current[lane] = len(columns) - 1
        if current[lane] < last and all(lane_of[t] == lane for t in order[at:]):
            columns.append(lane)
            current[lane] = len(columns) - 1
        task_column[task] = current[lane]
        last = current[lane]
    used = sorted(set(task_column.values()))
    remap = {old: new for new, old in enumerate(used)}
    cols = tuple(Column(columns[i], columns[i]) for i in used)
    row_of = {task: i for i, task in enumerate(order)}
    first_steps = {t for _label, t in _targets(flow, flow.start)} if flow.start else set()
    rows = []
    for i, task in enumerate(order):
        info, step = infos[task], decl.steps.get(task)
        kind, expression = flow.timers.get(task, (None, info.deadline))
        words, flagged = waktu(expression, kind, decl)
        decision, outcomes = None, []
        for label, target in _targets(flow, task):
            target_kind, target_name = flow.nodes.get(target, ("", ""))
            if target_kind in _DECISION_GATEWAYS:
                decision = target_name or "?"
                for out_label, out_target in _targets(flow, target):
                    outcomes.append(_outcome(flow, decl, out_label or flow.nodes.get(out_target, ("", ""))[1],
                                             out_target, row_of))
            else:
                outcomes.append(_outcome(flow, decl, label if label and not _is_condition(label) else "", target,
                                         row_of))
        rows.append(Row(number=str(step.number) if step is not None and step.number else str(i + 1),
                        bpmn_id=task, text=info.name, short=step.short if step is not None else info.name,
                        column=remap[task_column[task]], kelengkapan=kelengkapan(step, info.form, decl),
                        waktu=words, waktu_flagged=flagged, output=output(step), starts=task in first_steps,
                        decision=decision, outcomes=tuple(o for o in outcomes if o is not None)))
    doc = SopDocument(parsed.process_key, decl.name or parsed.name, version, decl.sop or SopIdentity(), cols,
                      tuple(rows))
    if previous is not None:
        doc = SopDocument(doc.process_key, doc.name, doc.version, doc.identity, doc.columns, doc.rows,
                          tuple(changes(previous, doc, rule_changes)), previous.version)
    return doc


def _is_condition(label: str) -> bool:
    return any(op in label for op in ("==", "!=", ">", "<", " in ", "(")) and " " in label


def _outcome(flow: _Flow, decl: Declarations, label: str, target: str, row_of: Mapping[str, int]) -> Outcome | None:
    kind = flow.nodes.get(target, ("", ""))[0]
    label = "" if _is_condition(label) else label
    if target in row_of:
        return Outcome(label, to=row_of[target])
    if kind == "endEvent":
        return Outcome(label, end=_end_words(flow, decl, target))
    return None


# --------------------------------------------------------------------------------------------------
# What changed since the previous version
# --------------------------------------------------------------------------------------------------

_IDENTITY_WORDS = (("number", "Nomor SOP"), ("created", "Tanggal pembuatan"), ("revised", "Tanggal revisi"),
                   ("effective", "Tanggal efektif"), ("approver_title", "Jabatan yang mengesahkan"),
                   ("approver_name", "Nama yang mengesahkan"), ("approver_nip", "NIP yang mengesahkan"))


def _q(text: str) -> str:
    return f"\u201c{text}\u201d"


def changes(old: SopDocument, new: SopDocument, rule_changes: Sequence[Mapping] = ()) -> list[str]:
    """What changed between two versions' SOP documents, one sentence each, in the SOP's own terms."""
    out = _identity_changes(old, new)
    if [c.title for c in old.columns] != [c.title for c in new.columns]:
        out.append("Kolom pelaksana: " + ", ".join(c.title for c in old.columns) + " \u2192 "
                   + ", ".join(c.title for c in new.columns) + ".")
    before = {r.bpmn_id: r for r in old.rows}
    after = {r.bpmn_id: r for r in new.rows}
    for row in new.rows:
        was = before.get(row.bpmn_id)
        if was is None:
            out.append(f"Langkah baru {row.number}: {_q(row.text)} oleh {new.columns[row.column].title}.")
        else:
            out += _row_changes(old, new, was, row)
    for row in old.rows:
        if row.bpmn_id not in after:
            out.append(f"Langkah {row.number} {_q(row.text)} dihapus.")
    out += [messages.render_message(m) for m in rule_changes if messages.is_message(m)]
    return out


def _identity_changes(old: SopDocument, new: SopDocument) -> list[str]:
    out: list[str] = []
    for attribute, words in _IDENTITY_WORDS:
        a, b = getattr(old.identity, attribute), getattr(new.identity, attribute)
        if a != b and attribute in ("created", "revised", "effective"):
            a, b = _date_words(a, upper=False), _date_words(b, upper=False)
        if a != b:
            out.append(f"{words}: {a or DASH} \u2192 {b or DASH}.")
    for kind in SOP_LISTS:
        a, b = old.identity.items(kind), new.identity.items(kind)
        for text in b:
            if text not in a:
                out.append(f"{LIST_TITLES[kind]} ditambah: {_q(text)}.")
        for text in a:
            if text not in b:
                out.append(f"{LIST_TITLES[kind]} dihapus: {_q(text)}.")
    return out


def _row_changes(old: SopDocument, new: SopDocument, was: Row, row: Row) -> list[str]:
    out: list[str] = []
    name = f"Langkah {row.number} ({row.short})"
    if was.number != row.number:
        out.append(f"{_q(row.text)} kini langkah {row.number} (sebelumnya {was.number}).")
    if was.text != row.text:
        out.append(f"{name}: uraian {_q(was.text)} \u2192 {_q(row.text)}.")
    if old.columns[was.column].title != new.columns[row.column].title:
        out.append(f"{name}: pelaksana {old.columns[was.column].title} \u2192 {new.columns[row.column].title}.")
    if was.kelengkapan != row.kelengkapan:
        out.append(f"{name}: kelengkapan {'; '.join(was.kelengkapan) or DASH} \u2192 "
                   f"{'; '.join(row.kelengkapan) or DASH}.")
    if was.waktu != row.waktu:
        out.append(f"{name}: waktu {_q(was.waktu)} \u2192 {_q(row.waktu)}.")
    if was.output != row.output:
        out.append(f"{name}: output {_q(was.output)} \u2192 {_q(row.output)}.")
    return out


# --------------------------------------------------------------------------------------------------
# Layout: one set of shapes for the PDF and the SVG
# --------------------------------------------------------------------------------------------------

MM = 72 / 25.4
PAGE = (297 * MM, 210 * MM)  # A4 landscape, points
MARGIN = 12 * MM
#: The records' font (process/fonts.py): DejaVu Sans, embedded, so any name prints as typed.
FONT, BOLD = fonts.REGULAR, fonts.BOLD
#: Fills that tell the symbols apart (the picture test finds them by these colours).
FILLS = {"activity": "#dcebfa", "decision": "#fff2b3", "terminator": "#d9f2d9", "connector": "#ffffff",
         "offpage": "#f2dcf2"}


@dataclass(frozen=True)
class Shape:
    kind: str  # activity | decision | terminator | connector | offpage | text | line | cell | fill
    x: float = 0
    y: float = 0
    w: float = 0
    h: float = 0
    text: str = ""
    size: float = 6
    bold: bool = False
    align: str = "center"  # text: left | center
    points: tuple[tuple[float, float], ...] = ()
    arrow: bool = False
    row: int | None = None  # the row it belongs to (symbols)
    column: int | None = None  # the actor column it stands in (symbols)


@dataclass(frozen=True)
class Geometry:
    """The matrix's column edges (x, points) on every page: ``edges[i]`` .. ``edges[i+1]`` is column i of
    No., Uraian, the actors…, Kelengkapan, Waktu, Output."""

    edges: tuple[float, ...]
    actors: int

    def actor(self, i: int) -> tuple[float, float]:
        return self.edges[2 + i], self.edges[3 + i]


def geometry(doc: SopDocument) -> Geometry:
    width = PAGE[0] - 2 * MARGIN
    fixed = [9 * MM, 56 * MM]
    tail = [36 * MM, 32 * MM, 30 * MM]
    n = max(1, len(doc.columns))
    actor = max(15 * MM, (width - sum(fixed) - sum(tail)) / n)
    widths = fixed + [actor] * n + tail
    if sum(widths) > width:  # many actors: the Uraian column gives way
        widths[1] = max(30 * MM, widths[1] - (sum(widths) - width))
    edges = [MARGIN]
    for w in widths:
        edges.append(edges[-1] + w)
    return Geometry(tuple(edges), n)


def _wrap(text: str, width: float, size: float, font: str = FONT) -> list[str]:
    from reportlab.lib.utils import simpleSplit

    fonts.register()
    lines: list[str] = []
    for part in printable(text).split("\n"):
        lines += simpleSplit(part, font, size, width) or [""]
    return lines


def _text_block(lines: list[str], x: float, y: float, size: float, **kw) -> list[Shape]:
    return [Shape("text", x, y + size * 1.2 * (i + 1) - size * 0.25, text=line, size=size, **kw)
            for i, line in enumerate(lines)]


_CELL = 6.5  # point size of the matrix's texts
_SYMBOL = 5.5  # inside symbols
_TERM = (16 * MM, 5.5 * MM)
_DIAMOND = (12 * MM, 8.5 * MM)
_GAP = 3 * MM


def _list_text(items: Sequence[str]) -> str:
    return "\n".join(f"\u2022 {i}" for i in items) if items else DASH


def _row_texts(row: Row) -> list[str]:
    text = row.text + (f"\nKeputusan: {row.decision}" if row.decision and row.decision != "?" else "")
    return [row.number, text, _list_text(row.kelengkapan), row.waktu + (" (ditulis apa adanya)" if
                                                                              row.waktu_flagged else ""), row.output]


def _stack_height(row: Row, rect_h: float) -> float:
    h = 3 * MM
    if row.starts:
        h += _TERM[1] + _GAP
    h += rect_h
    if row.decision is not None:
        h += _GAP + _DIAMOND[1]
    ends = sum(1 for o in row.outcomes if o.end)
    h += ends * (_GAP + _TERM[1])
    return h + 3 * MM


@dataclass
class Page:
    shapes: list[Shape]
    kind: str  # identity | matrix | changes


def _header(doc: SopDocument, geo: Geometry, top: float) -> tuple[list[Shape], float]:
    """The matrix's header (repeated on every page): two lines, the actors under "Pelaksana"."""
    e = geo.edges
    n = geo.actors
    actor_lines = [_wrap(c.title, e[3] - e[2] - 2 * MM, _CELL, BOLD) for c in doc.columns]
    h2 = max([len(x) for x in actor_lines] + [1]) * _CELL * 1.2 + 3 * MM
    h1 = 6 * MM
    shapes = [Shape("fill", e[0], top, e[-1] - e[0], h1 + h2)]
    for i, title in ((0, "No."), (1, "Uraian Prosedur")):
        shapes.append(Shape("cell", e[i], top, e[i + 1] - e[i], h1 + h2))
        lines = _wrap(title, e[i + 1] - e[i] - 2 * MM, _CELL, BOLD)
        shapes += _text_block(lines, (e[i] + e[i + 1]) / 2, top + (h1 + h2 - len(lines) * _CELL * 1.2) / 2, _CELL,
                              bold=True)
    shapes.append(Shape("cell", e[2], top, e[2 + n] - e[2], h1))
    shapes += _text_block(["Pelaksana"], (e[2] + e[2 + n]) / 2, top + 1.5 * MM, _CELL, bold=True)
    shapes.append(Shape("cell", e[2 + n], top, e[-1] - e[2 + n], h1))
    shapes += _text_block(["Mutu Baku"], (e[2 + n] + e[-1]) / 2, top + 1.5 * MM, _CELL, bold=True)
    for i, lines in enumerate(actor_lines):
        shapes.append(Shape("cell", e[2 + i], top + h1, e[3 + i] - e[2 + i], h2))
        shapes += _text_block(lines, (e[2 + i] + e[3 + i]) / 2, top + h1 + 1.5 * MM, _CELL, bold=True)
    for j, title in enumerate(("Kelengkapan", "Waktu", "Output")):
        k = 2 + n + j
        shapes.append(Shape("cell", e[k], top + h1, e[k + 1] - e[k], h2))
        shapes += _text_block([title], (e[k] + e[k + 1]) / 2, top + h1 + 1.5 * MM, _CELL, bold=True)
    return shapes, top + h1 + h2


def layout(doc: SopDocument) -> list[Page]:
    """The document's pages: the identity page, the matrix pages, the changes page (when there is a previous
    version). Matrix pages carry their shapes (points, y downwards from the page's top); the other pages are
    drawn from the model by each renderer."""
    pages = [Page([], "identity")]
    pages += matrix_pages(doc)
    if doc.changes is not None:
        pages.append(Page([], "changes"))
    return pages


def matrix_pages(doc: SopDocument) -> list[Page]:
    geo = geometry(doc)
    e = geo.edges
    n = geo.actors
    top = MARGIN + 12 * MM
    bottom = PAGE[1] - MARGIN - 8 * MM
    band = 10 * MM  # off-page connectors stand in a band below the last row and above the first
    text_cols = [0, 1, 2 + n, 3 + n, 4 + n]
    heights = []
    rect_heights = []
    for row in doc.rows:
        aw = e[3] - e[2]
        rect_w = min(aw - 3 * MM, 20 * MM)
        lines = _wrap(row.short, rect_w - 1.5 * MM, _SYMBOL)
        rect_h = max(8 * MM, len(lines) * _SYMBOL * 1.2 + 3 * MM)
        rect_heights.append((rect_w, rect_h, lines))
        texts = [max(1, len(_wrap(t, e[c + 1] - e[c] - 2 * MM, _CELL))) * _CELL * 1.2 + 4 * MM
                 for t, c in zip(_row_texts(row), text_cols)]
        heights.append(max(max(texts), _stack_height(row, rect_h), 16 * MM))
    # pages of rows
    _head, head_bottom = _header(doc, geo, top)
    spans: list[list[int]] = [[]]
    y = head_bottom
    for i, h in enumerate(heights):
        room = bottom - band
        if spans[-1] and y + h > room:
            spans.append([])
            y = head_bottom + band
        spans[-1].append(i)
        y += h
    pages: list[Page] = []
    letters = iter("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    carried: dict[int, str] = {}  # row index → letter of the off-page connector that arrives at it
    positions: dict[int, dict] = {}
    for p, span in enumerate(spans):
        shapes = [Shape("text", MARGIN, MARGIN + 4 * MM, text=printable(f"{doc.title.upper()}"), size=9, bold=True,
                        align="left")]
        if doc.identity.number:
            shapes.append(Shape("text", MARGIN, MARGIN + 8.5 * MM, text=printable(
                f"Nomor SOP: {doc.identity.number}" + (f" \u2014 versi {doc.version}" if doc.version else "")),
                size=7, align="left"))
        head, y = _header(doc, geo, top)
        shapes += head
        if p > 0:
            y += band
        for i in span:
            row, h = doc.rows[i], heights[i]
            for c in range(len(e) - 1):
                shapes.append(Shape("cell", e[c], y, e[c + 1] - e[c], h))
            for t, c in zip(_row_texts(row), text_cols):
                lines = _wrap(t, e[c + 1] - e[c] - 2 * MM, _CELL)
                center = c == 0
                shapes += _text_block(lines, (e[c] + e[c + 1]) / 2 if center else e[c] + 1 * MM, y + 1.5 * MM,
                                      _CELL, align="center" if center else "left")
            positions[i] = _symbols(row, i, geo, y, h, rect_heights[i], shapes, [r.number for r in doc.rows])
            y += h
        # arrows inside the page, and off-page connectors across the break
        for i in span:
            row = doc.rows[i]
            for o in row.outcomes:
                if o.to == i + 1 and i + 1 in span:
                    shapes += _arrow_down(positions[i], positions[i + 1], o, geo, row)
                elif o.to == i + 1:
                    letter = next(letters, "?")
                    carried[i + 1] = letter
                    shapes += _offpage_out(positions[i], o, letter, geo, y, row)
            if i in carried and i == span[0]:
                shapes += _offpage_in(positions[i], carried[i], y_top=head_bottom)
        pages.append(Page(shapes, "matrix"))
    return pages


def _symbols(row: Row, index: int, geo: Geometry, y: float, h: float, rect, shapes: list[Shape],
             numbers: Sequence[str]) -> dict:
    left, right = geo.actor(row.column)
    cx = (left + right) / 2
    rect_w, rect_h, lines = rect
    cursor = y + 3 * MM
    pos: dict = {"cx": cx, "left": left, "right": right, "row_top": y, "row_bottom": y + h}
    if row.starts:
        tw, th = _TERM
        shapes.append(Shape("terminator", cx - tw / 2, cursor, tw, th, text="Mulai", size=_SYMBOL, row=index,
                            column=row.column))
        shapes.append(Shape("line", points=((cx, cursor + th), (cx, cursor + th + _GAP)), arrow=True))
        cursor += th + _GAP
    shapes.append(Shape("activity", cx - rect_w / 2, cursor, rect_w, rect_h, row=index, column=row.column))
    shapes += _text_block(lines, cx, cursor + (rect_h - len(lines) * _SYMBOL * 1.2) / 2, _SYMBOL)
    pos["in_top"] = cursor
    cursor += rect_h
    exit_x, exit_y = cx, cursor
    pos["exit"] = (cx, cursor, rect_w / 2, 0.0)  # (x, bottom y, half width, half height of the shape's middle)
    connectors = 0
    if row.decision is not None:
        dw, dh = _DIAMOND
        shapes.append(Shape("line", points=((cx, cursor), (cx, cursor + _GAP)), arrow=True))
        top = cursor + _GAP
        shapes.append(Shape("decision", cx - dw / 2, top, dw, dh, text="?", size=_SYMBOL + 1, bold=True, row=index,
                            column=row.column))
        pos["exit"] = (cx, top + dh, dw / 2, dh / 2)
        cursor = top + dh
        exit_y = cursor
    mid_y = pos["exit"][1] - pos["exit"][3] if row.decision is not None else pos["exit"][1] - rect_h / 2
    pos["mid_y"] = mid_y
    for o in row.outcomes:
        if o.end:
            tw, th = _TERM
            shapes.append(Shape("line", points=((exit_x, exit_y), (exit_x, exit_y + _GAP)), arrow=True))
            if o.label:
                shapes.append(Shape("text", exit_x + 1 * MM, exit_y + _GAP * 0.7, text=printable(o.label),
                                    size=_SYMBOL - 0.5, align="left"))
            shapes.append(Shape("terminator", exit_x - tw / 2, exit_y + _GAP, tw, th,
                                text=printable(o.end)[:24], size=_SYMBOL - 0.5, row=index, column=row.column))
            exit_y += _GAP + th
        elif o.to is not None and o.to != index + 1:
            # an on-page connector at the column's left, with the number of the step it goes to
            r = 2.2 * MM
            cy = mid_y + connectors * 7 * MM
            ccx = left + r + 0.8 * MM
            half = pos["exit"][2]
            shapes.append(Shape("line", points=((cx - half, mid_y), (ccx + r, cy)), arrow=True))
            shapes.append(Shape("connector", ccx - r, cy - r, 2 * r, 2 * r, text=numbers[o.to], size=_SYMBOL,
                                bold=True))
            if o.label:  # under the connector, wrapped so that it stays left of the diamond
                from reportlab.pdfbase.pdfmetrics import stringWidth

                room = max(8 * MM, cx - half - left - 1.2 * MM)
                widest = max(stringWidth(w, FONT, _SYMBOL - 1) for w in printable(o.label).split() or [""])
                size = max(3.5, min(_SYMBOL - 1, (_SYMBOL - 1) * room / max(widest, 1)))  # a long word: smaller
                shapes += _text_block(_wrap(o.label, room, size), left + 0.6 * MM, cy + r + 1.2, size, align="left")
            connectors += 1
    pos["stack_bottom"] = exit_y
    return pos


def _label_near(x: float, y: float, label: str) -> list[Shape]:
    return [Shape("text", x, y, text=printable(label), size=_SYMBOL - 1, align="left")] if label else []


def _arrow_down(a: dict, b: dict, o: Outcome, geo: Geometry, row: Row) -> list[Shape]:
    """From the row's exit shape to the next row's rectangle: down to the row's edge, across, down."""
    ex, ebottom, half, halfh = a["exit"]
    tx, ttop = b["cx"], b["in_top"]
    edge = a["row_bottom"]
    blocked = a["stack_bottom"] > ebottom + 0.1  # end terminators stand below the exit shape
    if not blocked:
        pts = ((ex, ebottom), (ex, edge), (tx, edge), (tx, ttop)) if abs(tx - ex) > 0.5 else ((ex, ebottom),
                                                                                              (tx, ttop))
        return [Shape("line", points=pts, arrow=True), *_label_near(ex + 1 * MM, ebottom + 2 * MM, o.label)]
    y = a["mid_y"]
    if tx > ex + 0.5:
        pts = ((ex + half, y), (tx, y), (tx, ttop))
        return [Shape("line", points=pts, arrow=True), *_label_near(ex + half + 1 * MM, y - 1 * MM, o.label)]
    if tx < ex - 0.5:
        pts = ((ex - half, y), (tx, y), (tx, ttop))
        return [Shape("line", points=pts, arrow=True), *_label_near(tx + 1 * MM, y - 1 * MM, o.label)]
    side = a["right"] - 1.2 * MM
    pts = ((ex + half, y), (side, y), (side, edge), (tx, edge), (tx, ttop))
    return [Shape("line", points=pts, arrow=True), *_label_near(ex + half + 0.5 * MM, y - 1 * MM, o.label)]


def _offpage_out(a: dict, o: Outcome, letter: str, geo: Geometry, table_bottom: float, row: Row) -> list[Shape]:
    ex, ebottom, half, _halfh = a["exit"]
    w, h = 7 * MM, 6 * MM
    top = table_bottom + 2 * MM
    if a["stack_bottom"] > ebottom + 0.1:
        side = a["right"] - 1.2 * MM
        pts = ((ex + half, a["mid_y"]), (side, a["mid_y"]), (side, top), )
        x = side
    else:
        pts = ((ex, ebottom), (ex, top))
        x = ex
    return [Shape("line", points=pts, arrow=True), *_label_near(x + 1 * MM, ebottom + 3 * MM, o.label),
            Shape("offpage", x - w / 2, top, w, h, text=letter, size=7, bold=True)]


def _offpage_in(b: dict, letter: str, y_top: float) -> list[Shape]:
    w, h = 7 * MM, 6 * MM
    x = b["cx"]
    top = y_top + 1.5 * MM
    return [Shape("offpage", x - w / 2, top, w, h, text=letter, size=7, bold=True),
            Shape("line", points=((x, top + h), (x, b["in_top"])), arrow=True)]


# --------------------------------------------------------------------------------------------------
# PDF
# --------------------------------------------------------------------------------------------------


def _date_words(value: str | None, upper: bool = True) -> str:
    if not value:
        return DASH
    try:
        words = tanggal_id(date.fromisoformat(value))
        return words.upper() if upper else words
    except ValueError:
        return value


def nip_text(value: str | None) -> str:
    """A NIP as it is printed: 8, 6, 1 and 3 digits ("19740310 199303 1 002")."""
    digits = nip_digits(value)
    if digits is None:
        return value or DASH
    return f"{digits[:8]} {digits[8:14]} {digits[14]} {digits[15:]}"


def identity_rows(doc: SopDocument) -> list[tuple[str, str]]:
    """The identity page's single fields, (label, value) as printed."""
    i = doc.identity
    return [("Nomor SOP", i.number or DASH), ("Tgl. Pembuatan", _date_words(i.created)),
            ("Tgl. Revisi", _date_words(i.revised)), ("Tgl. Efektif", _date_words(i.effective)),
            ("Disahkan oleh", "\n".join(x for x in ((i.approver_title or "").upper(), (i.approver_name or "").upper(),
                                                    f"NIP. {nip_text(i.approver_nip)}" if i.approver_nip else "")
                                        if x) or DASH),
            ("Nama SOP", doc.name.upper())]


def _draw_shapes(canvas, shapes: Iterable[Shape]) -> None:
    from reportlab.lib import colors

    height = PAGE[1]
    for s in shapes:
        if s.kind == "fill":
            canvas.setFillColor(colors.HexColor("#eeeeee"))
            canvas.rect(s.x, height - s.y - s.h, s.w, s.h, stroke=0, fill=1)
            continue
        canvas.setStrokeColor(colors.black)
        canvas.setLineWidth(0.5)
        if s.kind == "cell":
            canvas.setLineWidth(0.4)
            canvas.setStrokeColor(colors.HexColor("#777777"))
            canvas.rect(s.x, height - s.y - s.h, s.w, s.h, stroke=1, fill=0)
        elif s.kind == "text":
            canvas.setFillColor(colors.black)
            canvas.setFont(BOLD if s.bold else FONT, s.size)
            (canvas.drawCentredString if s.align == "center" else canvas.drawString)(s.x, height - s.y, s.text)
        elif s.kind == "line":
            path = canvas.beginPath()
            path.moveTo(s.points[0][0], height - s.points[0][1])
            for x, y in s.points[1:]:
                path.lineTo(x, height - y)
            canvas.drawPath(path, stroke=1, fill=0)
            if s.arrow and len(s.points) > 1:
                _arrowhead(canvas, s.points[-2], s.points[-1], height)
        else:
            canvas.setFillColor(colors.HexColor(FILLS.get(s.kind, "#ffffff")))
            x, y, w, h = s.x, height - s.y - s.h, s.w, s.h
            if s.kind == "activity":
                canvas.rect(x, y, w, h, stroke=1, fill=1)
            elif s.kind == "terminator":
                canvas.roundRect(x, y, w, h, h / 2, stroke=1, fill=1)
            elif s.kind == "decision":
                path = canvas.beginPath()
                path.moveTo(x + w / 2, y + h)
                path.lineTo(x + w, y + h / 2)
                path.lineTo(x + w / 2, y)
                path.lineTo(x, y + h / 2)
                path.close()
                canvas.drawPath(path, stroke=1, fill=1)
            elif s.kind == "connector":
                canvas.circle(x + w / 2, y + h / 2, w / 2, stroke=1, fill=1)
            elif s.kind == "offpage":
                path = canvas.beginPath()
                path.moveTo(x, y + h)
                path.lineTo(x + w, y + h)
                path.lineTo(x + w, y + h * 0.35)
                path.lineTo(x + w / 2, y)
                path.lineTo(x, y + h * 0.35)
                path.close()
                canvas.drawPath(path, stroke=1, fill=1)
            if s.text:
                canvas.setFillColor(colors.black)
                canvas.setFont(BOLD if s.bold else FONT, s.size)
                ty = y + h / 2 - s.size * 0.35 + (h * 0.12 if s.kind == "offpage" else 0)
                canvas.drawCentredString(x + w / 2, ty, s.text)


def _arrowhead(canvas, a, b, height: float) -> None:
    import math

    (x1, y1), (x2, y2) = a, b
    angle = math.atan2((height - y2) - (height - y1), x2 - x1)
    size = 1.6 * MM
    path = canvas.beginPath()
    path.moveTo(x2, height - y2)
    path.lineTo(x2 - size * math.cos(angle - 0.4), height - y2 - size * math.sin(angle - 0.4))
    path.lineTo(x2 - size * math.cos(angle + 0.4), height - y2 - size * math.sin(angle + 0.4))
    path.close()
    canvas.setFillColorRGB(0, 0, 0)
    canvas.drawPath(path, stroke=0, fill=1)


def _kop(canvas, doc: SopDocument, width: float, height: float, letterhead: Letterhead) -> float:
    """The letterhead, as on the records (process/documents.py): office, address, contacts, the logo at the left;
    returns the y (from the top) below it."""
    from reportlab.lib.units import mm

    top = height - MARGIN
    canvas.setFillColorRGB(0, 0, 0)
    if letterhead.logo is not None:
        canvas.drawImage(str(letterhead.logo), MARGIN, top - 13.2 * mm, width=12.5 * mm, height=12.5 * mm,
                         preserveAspectRatio=True, anchor="w", mask="auto")
    canvas.setFont(BOLD, 13)
    canvas.drawCentredString(width / 2, top - 5 * mm, printable(letterhead.office))
    canvas.setFont(FONT, 9)
    canvas.drawCentredString(width / 2, top - 9 * mm, printable(letterhead.address))
    if letterhead.contacts:
        canvas.setFont(FONT, 8)
        canvas.drawCentredString(width / 2, top - 12.5 * mm, printable(letterhead.contacts))
    canvas.setLineWidth(1.6)
    canvas.line(MARGIN, top - 14 * mm, width - MARGIN, top - 14 * mm)
    canvas.setLineWidth(0.5)
    canvas.line(MARGIN, top - 15 * mm, width - MARGIN, top - 15 * mm)
    return MARGIN + 18 * mm


def _st():
    from reportlab.lib.styles import ParagraphStyle

    body = ParagraphStyle("sop", fontName=FONT, fontSize=8, leading=10)
    return {"body": body, "bold": ParagraphStyle("sopb", parent=body, fontName=BOLD),
            "head": ParagraphStyle("soph", parent=body, fontName=BOLD, fontSize=10, leading=13, alignment=1)}


def _p(text: str, style):
    from reportlab.platypus import Paragraph

    return Paragraph(html.escape(printable(text)).replace("\n", "<br/>"), style)


def _ol(items: Sequence[str], style):
    if not items:
        return _p(DASH, style)
    if len(items) == 1:
        return _p(items[0], style)
    return _p("\n".join(f"{i}. {t}" for i, t in enumerate(items, 1)), style)


def _draw_identity(canvas, doc: SopDocument, letterhead: Letterhead) -> None:
    from reportlab.lib import colors
    from reportlab.platypus import Table

    width, height = PAGE
    y = _kop(canvas, doc, width, height, letterhead)
    st = _st()
    inner = width - 2 * MARGIN
    office = (doc.identity.office or letterhead.office).upper()
    fields = identity_rows(doc)
    left = [[_p(office, st["head"])]]
    right = [[_p(label.upper(), st["bold"]), _p(value, st["body"])] for label, value in fields[:-1]]
    right_table = Table(right, colWidths=[inner * 0.18, inner * 0.47])
    right_table.setStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.black), ("VALIGN", (0, 0), (-1, -1), "TOP")])
    top = Table([[Table(left, colWidths=[inner * 0.35 - 6]), right_table]], colWidths=[inner * 0.35, inner * 0.65])
    top.setStyle([("BOX", (0, 0), (-1, -1), 0.6, colors.black), ("LINEAFTER", (0, 0), (0, 0), 0.6, colors.black),
                  ("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("LEFTPADDING", (1, 0), (1, 0), 0),
                  ("RIGHTPADDING", (1, 0), (1, 0), 0), ("TOPPADDING", (1, 0), (1, 0), 0),
                  ("BOTTOMPADDING", (1, 0), (1, 0), 0)])
    name_row = Table([[_p("NAMA SOP", st["bold"]), _p(fields[-1][1], st["bold"])]],
                     colWidths=[inner * 0.35, inner * 0.65])
    name_row.setStyle([("BOX", (0, 0), (-1, -1), 0.6, colors.black), ("INNERGRID", (0, 0), (-1, -1), 0.4,
                                                                         colors.black)])
    pairs = [("legalBasis", "qualification"), ("related", "equipment"), ("warning", "recording")]
    grid = []
    for a, b in pairs:
        grid.append([_p(LIST_TITLES[a].upper(), st["bold"]), _p(LIST_TITLES[b].upper(), st["bold"])])
        grid.append([_ol(doc.identity.items(a), st["body"]), _ol(doc.identity.items(b), st["body"])])
    lists = Table(grid, colWidths=[inner / 2, inner / 2])
    lists.setStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.black), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    *[("BACKGROUND", (0, r), (-1, r), colors.HexColor("#eeeeee")) for r in range(0, len(grid), 2)]])
    for table in (top, name_row, lists):
        _w, h = table.wrapOn(canvas, inner, height)
        table.drawOn(canvas, MARGIN, height - y - h)
        y += h


def _draw_changes(canvas, doc: SopDocument, letterhead: Letterhead) -> None:
    width, height = PAGE
    y = _kop(canvas, doc, width, height, letterhead)
    st = _st()
    title = (f"PERUBAHAN DIBANDING VERSI {doc.previous_version}" if doc.previous_version
             else "PERUBAHAN DIBANDING VERSI SEBELUMNYA")
    lines = list(doc.changes or ()) or ["Tidak ada perubahan pada isi SOP (hanya tata letak atau hal teknis)."]
    for item in [title, *lines]:
        p = _p(item if item == title else f"\u2022 {item}", st["head"] if item == title else st["body"])
        _w, h = p.wrapOn(canvas, width - 2 * MARGIN, height)
        if y + h > height - MARGIN - 8 * MM:
            break  # a page of changes is the summary; the version page lists every element
        p.drawOn(canvas, MARGIN, height - y - h)
        y += h + 1.5 * MM


def to_pdf(doc: SopDocument, printed_at: datetime | None = None, letterhead: Letterhead | None = None) -> bytes:
    """The SOP document as an A4 landscape PDF: identity page, matrix pages, changes page, under ``letterhead``
    (the default one when not given)."""
    from reportlab.pdfgen import canvas as pdfcanvas

    fonts.register()
    out = io.BytesIO()
    c = pdfcanvas.Canvas(out, pagesize=PAGE, pageCompression=1, initialFontName=FONT)
    c.setTitle(printable(f"SOP {doc.identity.number or ''} {doc.name}".strip()))
    letterhead = letterhead or Letterhead()
    c.setAuthor(printable(doc.identity.office or letterhead.office))
    c.setSubject(printable(doc.title))
    c.setCreator("Alur Medsos")
    pages = layout(doc)
    for number, page in enumerate(pages, 1):
        if page.kind == "identity":
            _draw_identity(c, doc, letterhead)
        elif page.kind == "changes":
            _draw_changes(c, doc, letterhead)
        else:
            _draw_shapes(c, page.shapes)
        c.setFont(FONT, 7)
        c.setFillGray(0.35)
        foot = f"SOP {doc.identity.number or doc.name}" + (f" \u2014 versi {doc.version}" if doc.version else "")
        if printed_at is not None:
            foot += f" \u2014 dicetak {tanggal_id(printed_at.astimezone(WIB).date())}"
        c.drawString(MARGIN, MARGIN - 4 * MM, printable(foot))
        c.drawRightString(PAGE[0] - MARGIN, MARGIN - 4 * MM, f"Halaman {number} dari {len(pages)}")
        c.showPage()
    c.save()
    return out.getvalue()


# --------------------------------------------------------------------------------------------------
# SVG (the HTML page)
# --------------------------------------------------------------------------------------------------


def matrix_svg(page: Page, label: str, index: int = 1) -> str:
    """One matrix page as an SVG element (the same shapes as the PDF), with a title for screen readers; ``index``
    keeps its ids apart from the other pages' on the same HTML page."""
    w = PAGE[0]
    h = max([s.y + s.h for s in page.shapes] + [s.y for s in page.shapes if s.kind == "text"] + [0]) + MARGIN
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w:.1f} {h:.1f}" role="img" '
           f'class="sop-matrix" aria-labelledby="sop-svg-title-{index}"><title id="sop-svg-title-{index}">'
           f'{html.escape(label)}</title><defs><marker id="sop-arrow-{index}" viewBox="0 0 10 10" refX="9" refY="5" '
           'markerWidth="5" markerHeight="5" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z"/></marker></defs>'
           '<rect width="100%" height="100%" fill="#fff"/>']
    for s in page.shapes:
        if s.kind == "fill":
            out.append(f'<rect x="{s.x:.1f}" y="{s.y:.1f}" width="{s.w:.1f}" height="{s.h:.1f}" fill="#eee"/>')
        elif s.kind == "cell":
            out.append(f'<rect x="{s.x:.1f}" y="{s.y:.1f}" width="{s.w:.1f}" height="{s.h:.1f}" fill="none" '
                       'stroke="#777" stroke-width="0.4"/>')
        elif s.kind == "text":
            anchor = "middle" if s.align == "center" else "start"
            weight = ' font-weight="bold"' if s.bold else ""
            out.append(f'<text x="{s.x:.1f}" y="{s.y:.1f}" font-size="{s.size}" '
                       f'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" text-anchor="{anchor}"{weight}>'
                       f'{html.escape(s.text)}</text>')
        elif s.kind == "line":
            pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in s.points)
            marker = f' marker-end="url(#sop-arrow-{index})"' if s.arrow else ""
            out.append(f'<polyline points="{pts}" fill="none" stroke="#000" stroke-width="0.5"{marker}/>')
        else:
            fill = FILLS.get(s.kind, "#fff")
            common = f'fill="{fill}" stroke="#000" stroke-width="0.5"'
            if s.kind == "activity":
                out.append(f'<rect x="{s.x:.1f}" y="{s.y:.1f}" width="{s.w:.1f}" height="{s.h:.1f}" {common}/>')
            elif s.kind == "terminator":
                out.append(f'<rect x="{s.x:.1f}" y="{s.y:.1f}" width="{s.w:.1f}" height="{s.h:.1f}" '
                           f'rx="{s.h / 2:.1f}" {common}/>')
            elif s.kind == "decision":
                pts = (f"{s.x + s.w / 2:.1f},{s.y:.1f} {s.x + s.w:.1f},{s.y + s.h / 2:.1f} "
                       f"{s.x + s.w / 2:.1f},{s.y + s.h:.1f} {s.x:.1f},{s.y + s.h / 2:.1f}")
                out.append(f'<polygon points="{pts}" {common}/>')
            elif s.kind == "connector":
                out.append(f'<circle cx="{s.x + s.w / 2:.1f}" cy="{s.y + s.h / 2:.1f}" r="{s.w / 2:.1f}" {common}/>')
            elif s.kind == "offpage":
                pts = (f"{s.x:.1f},{s.y:.1f} {s.x + s.w:.1f},{s.y:.1f} {s.x + s.w:.1f},{s.y + s.h * 0.65:.1f} "
                       f"{s.x + s.w / 2:.1f},{s.y + s.h:.1f} {s.x:.1f},{s.y + s.h * 0.65:.1f}")
                out.append(f'<polygon points="{pts}" {common}/>')
            if s.text:
                weight = ' font-weight="bold"' if s.bold else ""
                out.append(f'<text x="{s.x + s.w / 2:.1f}" y="{s.y + s.h / 2 + s.size * 0.35:.1f}" '
                           f'font-size="{s.size}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" '
                           f'text-anchor="middle"{weight}>{html.escape(s.text)}</text>')
    out.append("</svg>")
    return "".join(out)


# --------------------------------------------------------------------------------------------------
# A stored version's document
# --------------------------------------------------------------------------------------------------


def document_of(session, system, process_key: str, number: int | None = None) -> SopDocument:
    """The SOP document of version ``number`` (the newest when None) of the procedure ``process_key``, with what
    changed since the version before it. NotFound (``definition.version_not_found``, ``definition.not_deployed``)
    when there is no such version or procedure."""
    from engine.errors import NotFound

    from . import modeling

    found = modeling.versions(session, process_key)
    if not found:
        raise NotFound(f"no procedure {process_key}", code="definition.not_deployed", process=process_key[:200])
    definition = found[0] if number is None else modeling.version(session, process_key, number)
    earlier = [d for d in found if d.version < definition.version]
    previous = None
    if earlier:
        before = earlier[0]
        previous = build(system.engine.parsed_for(session, before.id), system.rules.of_definition(session, before.id),
                         version=before.version)
    summary = modeling.summary_of(definition)
    return build(system.engine.parsed_for(session, definition.id), system.rules.of_definition(session, definition.id),
                 version=definition.version, previous=previous, rule_changes=summary.get("rules") or ())

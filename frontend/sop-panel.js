// The properties-panel group "SOP": a step edited in the terms of the official SOP form (Permenpan RB 35/2012), the
// columns the SOP document (process/sopdoc.py) prints for it — Pelaksana, Kelengkapan, Waktu, Output — without a
// word of BPMN or Camunda vocabulary. Every value is written where the rest of the product reads it:
//
//   Uraian prosedur  the task's name
//   Pelaksana        the lane the step sits in (choosing another lane moves the step, its timer with it), the lane's
//                    name and its group (alur:lane group)
//   Kelengkapan      the step's form fields (camunda:formData/camunda:formField): label, type, "wajib" (constraint
//                    required), minimum files (constraint min_files); ids made from the label (lower case, unique in
//                    the process), never typed; each item printed in the SOP's Kelengkapan is an alur:input field=…
//                    (a step with no alur:input prints its required handed-in fields: the first change here writes
//                    that list out, so that what is printed stays what was printed)
//   Waktu            the step's non-interrupting timer boundary event, timeDate akhir_hari(ref, n) /
//                    akhir_hari_kerja(ref, n) (process/deadlines.py), ref one of the procedure's dates (alur:procedure
//                    date, the alur:stamp date of each step) or an expression of the owner's; setting one declares
//                    alur:step deadline="required", "Tidak ada" removes the timer (with the late-notice path that only
//                    it leads to) and that declaration
//   Output           alur:step output (Register, Tanggapan tertulis, Rekapitulasi or the owner's words); nothing else is
//                    declared by it (a register needs its field: group "Aturan prosedur")
//
// Each change is one command (one undo). The server's validation stays the only judge of what is wrong.
// Texts: Bahasa Indonesia below; the page gives the user's language (`sopPanel.texts`, webui/modeler.py).
import { h } from "@bpmn-io/properties-panel/preact";
import {
  CheckboxEntry, Group, SelectEntry, TextFieldEntry, isSelectEntryEdited, isTextFieldEntryEdited,
} from "@bpmn-io/properties-panel";
import { getBusinessObject, is } from "bpmn-js/lib/util/ModelUtil";
import { flowElements, processOf } from "./alur-panel.js";

export const TEXTS = {
  group: "SOP: Pelaksana, Kelengkapan, Waktu, Output",
  lane_group: "SOP: Pelaksana",
  make_step: "Jadikan langkah SOP (tugas pengguna)",
  make_step_help: "Hanya tugas pengguna yang punya kelengkapan, waktu dan output di dokumen SOP.",
  name: "Uraian prosedur",
  name_help: "Kalimat kegiatan di kolom Uraian Prosedur, misalnya Menerima hasil dokumentasi.",
  lane: "Pelaksana",
  lane_help: "Lajur tempat langkah ini berada; memilih lajur lain memindahkan langkahnya.",
  lane_none: "(di luar lajur)",
  lane_name: "Nama pelaksana (nama lajur)",
  lane_name_help: "Nama kolom Pelaksana di dokumen SOP, misalnya Admin Medsos.",
  lane_code: "Kode grup pelaksana (opsional)",
  lane_code_help: "Grup pengguna yang mengerjakan lajur ini. Bila kosong: grup yang namanya sama dengan nama lajur.",
  items: "Kelengkapan",
  items_help: "Isian formulir langkah ini. Yang dicentang \u201cdi dokumen SOP\u201d dicetak di kolom Kelengkapan.",
  items_none: "Belum ada kelengkapan.",
  item: "Kelengkapan {n}",
  item_label: "Kelengkapan {n}: nama",
  item_type: "Kelengkapan {n}: jenis",
  item_required: "Kelengkapan {n}: wajib diisi",
  item_min: "Kelengkapan {n}: minimal jumlah berkas",
  item_min_help: "Dicetak \u201cminimal n\u201d bila lebih dari 1.",
  item_options: "Kelengkapan {n}: pilihan",
  item_options_help: "Pisahkan dengan titik koma, misalnya Setuju; Revisi; Tolak.",
  item_in_sop: "Kelengkapan {n}: di dokumen SOP",
  item_remove: "Hapus kelengkapan {n}",
  items_other: "Dicetak juga di Kelengkapan: {items} (diubah di Aturan: kelengkapan).",
  item_new: "Kelengkapan baru: nama",
  item_new_help: "Misalnya Surat tugas. Kode isiannya dibuat dari nama ini.",
  item_add: "Tambah kelengkapan",
  type_string: "Teks singkat",
  type_text: "Teks panjang",
  type_files: "Berkas/foto",
  type_date: "Tanggal",
  type_long: "Angka",
  type_boolean: "Ya/Tidak",
  type_enum: "Pilihan",
  whole_number: "Harus bilangan bulat {min} sampai {max}.",
  waktu: "Waktu",
  waktu_help: "Batas waktu langkah ini. Bila lewat, keterlambatan dicatat dan diberitahukan.",
  waktu_none: "Tidak ada",
  waktu_same: "Hari yang sama (H)",
  waktu_calendar: "H+n hari kalender",
  waktu_working: "n hari kerja",
  waktu_custom: "Ekspresi sendiri (ahli)",
  waktu_days: "Waktu: jumlah hari",
  waktu_from: "Waktu: dihitung dari",
  waktu_from_help: "Tanggal kegiatan, atau tanggal suatu langkah selesai (misalnya pengumpulan).",
  waktu_expression: "Waktu: ekspresi",
  waktu_expression_help: "Misalnya akhir_hari_kerja(tanggal_pengumpulan, 10). Diperiksa server saat validasi.",
  waktu_words: "Di dokumen SOP: {words}",
  waktu_as_written: "{words} (ditulis apa adanya)",
  waktu_event: "Batas waktu {words}",
  waktu_event_plain: "Batas waktu",
  ref_date: "tanggal acuan prosedur: {words}",
  ref_stamp: "selesainya langkah: {words}",
  output: "Output",
  output_help: "Kolom Output di dokumen SOP. Bila kosong: menurut aturan langkah (register, tanggapan tertulis, rekap).",
  output_auto: "(menurut aturan langkah)",
  output_register: "Register",
  output_response: "Tanggapan tertulis",
  output_recap: "Rekapitulasi",
  output_other: "Kata-kata sendiri\u2026",
  output_text: "Output: kata-kata sendiri",
  output_register_missing: "Langkah ini belum memberi nomor register: isi \u201cNomor register ditulis ke\u201d di Aturan prosedur.",
  output_response_missing: "Langkah ini belum punya tanggapan tertulis: isi di Aturan prosedur.",
};

const FIELD_TYPES = ["string", "text", "files", "date", "long", "boolean", "enum"];
//: Constraints each type understands besides required/readonly (process/forms.py _CONSTRAINTS).
const CONSTRAINTS = {
  string: ["minlength", "maxlength"], text: ["minlength", "maxlength"], long: ["min", "max"], boolean: [],
  date: ["min", "max"], datetime: [], enum: [], url: ["maxlength"], files: ["min_files", "max_files", "accept"],
  posts: ["min_posts", "max_posts"],
};
//: Types a step's implicit Kelengkapan leaves out (process/sopdoc.py _NOT_ITEMS).
const NOT_ITEMS = new Set(["boolean", "enum", "date", "datetime", "long"]);
//: Names a field id may not take: the expression functions (engine/expressions.py, process/deadlines.py) and
//: Python's keywords (field ids become expression names).
const RESERVED = new Set(["len", "min", "max", "abs", "round", "int", "float", "str", "bool", "lower", "upper", "strip",
  "contains", "akhir_hari", "akhir_hari_kerja", "and", "as", "assert", "async", "await", "break", "class", "continue",
  "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda",
  "nonlocal", "not", "or", "pass", "raise", "return", "try", "while", "with", "yield", "true", "false", "none"]);
const MAX_DAYS = 60; // process/deadlines.py MAX_DAYS
const TIMER_CALL = /^\s*(akhir_hari|akhir_hari_kerja)\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*,\s*(\d+)\s*\)\s*$/;
const OUTPUTS = [["register", "Register"], ["response", "Tanggapan tertulis"], ["recap", "Rekapitulasi"]];

function fill(template, vars) {
  return template.replace(/\{(\w+)\}/g, (_match, name) => vars[name] ?? "");
}

// ------------------------------------------------------------------------------------------ moddle helpers
function extValues(bo) {
  const ext = bo && bo.get("extensionElements");
  return ext ? ext.get("values") : [];
}

function extOf(bo, type) {
  return extValues(bo).find((value) => is(value, type));
}

function constraintsOf(field) {
  const validation = field.get("validation");
  return validation ? validation.get("constraints") || [] : [];
}

function constraint(field, name) {
  return constraintsOf(field).find((c) => c.get("name") === name);
}

// A field id from its label: lower-case ASCII letters, digits and _, starting with a letter, not taken, not reserved.
export function fieldId(label, taken) {
  let base = (label || "").normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
    .replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "").slice(0, 40).replace(/_+$/, "");
  if (!/^[a-z]/.test(base)) base = `isian${base ? `_${base}` : ""}`;
  if (RESERVED.has(base)) base = `${base}_isian`;
  let id = base;
  for (let n = 2; taken.has(id); n += 1) id = `${base}_${n}`;
  return id;
}

// The words process/sopdoc.py prints for a deadline expression (the forms this group writes; null otherwise).
export function waktuWords(expression, referenceWords) {
  const m = TIMER_CALL.exec(expression || "");
  if (!m) return null;
  const after = referenceWords(m[2]);
  const n = Number(m[3]);
  if (m[1] === "akhir_hari") return n === 0 ? `Hari H ${after}` : `H+${n} setelah ${after}`;
  return n === 0 ? `Hari kerja yang sama dengan ${after}` : `${n} hari kerja setelah ${after}`;
}

// -------------------------------------------------------------------------------------------- the step
class Sop {
  constructor(ctx, element) {
    this.ctx = ctx;
    this.element = element;
    this.bo = getBusinessObject(element);
    this.process = processOf(this.bo);
  }

  t(key, vars) {
    return vars ? fill(this.ctx.t(key), vars) : this.ctx.t(key);
  }

  get step() { return extOf(this.bo, "alur:Step"); }

  get formData() { return extOf(this.bo, "camunda:FormData"); }

  get fields() { return (this.formData && this.formData.get("fields")) || []; }

  // Every form field id of the process (start form included) and the names the declarations write to.
  takenIds() {
    const taken = new Set();
    for (const node of [this.process, ...flowElements(this.process)]) {
      for (const value of extValues(node)) {
        if (is(value, "camunda:FormData")) for (const f of value.get("fields") || []) taken.add(f.get("id"));
        if (is(value, "alur:Step")) {
          const stamp = value.get("stamp");
          const register = value.get("register");
          if (stamp) { taken.add(stamp.get("date")); taken.add(stamp.get("time")); }
          if (register) taken.add(register.get("field"));
        }
        if (is(value, "alur:Procedure") && value.get("team")) taken.add(value.get("team"));
      }
    }
    taken.delete(undefined);
    return taken;
  }

  // -------------------------------------------------------------------------- writing (one command each)
  run(fn) {
    // The step is marked changed too, so that the panel shows what a change of its timer or lane means.
    this.ctx.commandStack.execute("alur.sop.batch", { run: fn, changed: [this.element] });
  }

  set(moddleElement, properties) {
    this.ctx.modeling.updateModdleProperties(this.element, moddleElement, properties);
  }

  create(type, attrs, parent) {
    const obj = this.ctx.bpmnFactory.create(type, attrs);
    if (parent) obj.$parent = parent;
    return obj;
  }

  // The extension element of ``type``, created (with bpmn:extensionElements) when missing.
  ensureExt(type, attrs = {}) {
    const found = extOf(this.bo, type);
    if (found) return found;
    let ext = this.bo.get("extensionElements");
    if (!ext) {
      ext = this.create("bpmn:ExtensionElements", { values: [] }, this.bo);
      this.set(this.bo, { extensionElements: ext });
    }
    const created = this.create(type, attrs, ext);
    this.set(ext, { values: [...ext.get("values"), created] });
    return created;
  }

  dropExt(obj) {
    const ext = this.bo.get("extensionElements");
    if (!ext || !ext.get("values").includes(obj)) return;
    const values = ext.get("values").filter((value) => value !== obj);
    if (values.length) this.set(ext, { values });
    else this.set(this.bo, { extensionElements: undefined });
  }

  // alur:step without attribute nor child says nothing: it goes.
  tidyStep() {
    const step = this.step;
    if (!step) return;
    const empty = Object.keys(step.$attrs || {}).length === 0 && step.$descriptor.properties
      .filter((p) => p.ns && p.ns.prefix === "alur")
      .every((p) => { const v = step.get(p.name); return v === undefined || v === null || v === "" || (Array.isArray(v) && !v.length); });
    if (empty) this.dropExt(step);
  }

  setStep(properties) {
    const step = this.step || this.ensureExt("alur:Step");
    this.set(step, properties);
    this.tidyStep();
  }

  // ------------------------------------------------------------------------------------- Kelengkapan
  // What the SOP prints for this step now: field ids of alur:input items, or the implicit list.
  printed() {
    const step = this.step;
    const inputs = (step && step.get("inputs")) || [];
    if (inputs.length) return new Set(inputs.map((i) => i.get("field")).filter(Boolean));
    const response = step && step.get("response");
    const skip = new Set(response ? [response.get("decision"), response.get("text")] : []);
    return new Set(this.fields.filter((f) => constraint(f, "required") && !constraint(f, "readonly")
      && !NOT_ITEMS.has(f.get("type") || "string") && !skip.has(f.get("id"))).map((f) => f.get("id")));
  }

  // The alur:input list with ``id`` printed or not; a step that had none gets its implicit list written out first.
  setPrinted(id, printed) {
    const step = this.step;
    const current = (step && step.get("inputs")) || [];
    let inputs = current;
    if (!current.length) {
      const implicit = this.printed();
      inputs = this.fields.filter((f) => implicit.has(f.get("id"))).map((f) => this.create("alur:Input", { field: f.get("id") }));
    }
    const has = inputs.some((i) => i.get("field") === id);
    if (printed && !has) inputs = [...inputs, this.create("alur:Input", { field: id })];
    if (!printed) inputs = inputs.filter((i) => i.get("field") !== id);
    if (inputs.length === current.length && inputs.every((input, i) => input === current[i])) return;
    const target = this.step || this.ensureExt("alur:Step");
    for (const input of inputs) input.$parent = target;
    this.set(target, { inputs });
    this.tidyStep();
  }

  addField(label) {
    const text = (label || "").trim();
    if (!text) return;
    this.run(() => {
      const id = fieldId(text, this.takenIds());
      const formData = this.formData || this.ensureExt("camunda:FormData", { fields: [] });
      const field = this.create("camunda:FormField", { id, label: text, type: "string" }, formData);
      const validation = this.create("camunda:Validation", {}, field);
      validation.set("constraints", [this.create("camunda:Constraint", { name: "required" }, validation)]);
      field.set("validation", validation);
      this.set(formData, { fields: [...(formData.get("fields") || []), field] });
      this.setPrinted(id, true);
    });
  }

  removeField(field) {
    this.run(() => {
      const id = field.get("id");
      this.setPrinted(id, false);
      const formData = this.formData;
      const fields = formData.get("fields").filter((f) => f !== field);
      if (fields.length) this.set(formData, { fields });
      else this.dropExt(formData);
    });
  }

  setConstraints(field, keep, extra = []) {
    const existing = constraintsOf(field).filter(keep);
    const all = [...existing, ...extra];
    let validation = field.get("validation");
    if (!all.length) {
      if (validation) this.set(field, { validation: undefined });
      return;
    }
    if (!validation) {
      validation = this.create("camunda:Validation", { constraints: [] }, field);
      this.set(field, { validation });
    }
    for (const c of all) c.$parent = validation;
    this.set(validation, { constraints: all });
  }

  setType(field, type) {
    const printed = this.printed().has(field.get("id"));
    this.run(() => {
      this.setPrinted(field.get("id"), printed); // an implicit list is written out before the type changes it
      const allowed = new Set(["required", "readonly", ...(CONSTRAINTS[type] || [])]);
      this.set(field, { type, values: type === "enum" ? field.get("values") : [] });
      this.setConstraints(field, (c) => allowed.has(c.get("name")));
    });
  }

  setRequired(field, required) {
    const printed = this.printed().has(field.get("id"));
    this.run(() => {
      this.setPrinted(field.get("id"), printed); // an implicit list is written out before "wajib" changes it
      const others = (c) => c.get("name") !== "required";
      this.setConstraints(field, others, required ? [this.create("camunda:Constraint", { name: "required" })] : []);
    });
  }

  setMinFiles(field, value) {
    this.run(() => {
      const n = String(value || "").trim();
      this.setConstraints(field, (c) => c.get("name") !== "min_files",
        n ? [this.create("camunda:Constraint", { name: "min_files", config: n })] : []);
    });
  }

  setOptions(field, text) {
    this.run(() => {
      const names = String(text || "").split(/[;\n]/).map((s) => s.trim()).filter(Boolean);
      const old = field.get("values") || [];
      const taken = new Set();
      const values = names.map((name) => {
        const same = old.find((v) => v.get("name") === name && !taken.has(v.get("id")));
        const id = same ? same.get("id") : fieldId(name, new Set([...taken, ...old.map((v) => v.get("id"))]));
        taken.add(id);
        return same || this.create("camunda:Value", { id, name }, field);
      });
      this.set(field, { values });
    });
  }

  // ------------------------------------------------------------------------------------------- Waktu
  get timer() {
    return (this.element.attachers || []).find((a) => is(a, "bpmn:BoundaryEvent") && timerDefinition(a));
  }

  // {kind, ref, n, expression} of the step's deadline now.
  waktu() {
    const timer = this.timer;
    if (!timer) return { kind: "none", ref: "", n: "", expression: "" };
    const def = timerDefinition(timer);
    const value = def.get("timeDate") || def.get("timeDuration") || def.get("timeCycle");
    const expression = (value && value.get("body")) || "";
    const m = def.get("timeDate") ? TIMER_CALL.exec(expression) : null;
    if (!m) return { kind: "custom", ref: "", n: "", expression };
    const n = Number(m[3]);
    const kind = m[1] === "akhir_hari_kerja" ? "working" : n === 0 ? "same" : "calendar";
    return { kind, ref: m[2], n: String(n), expression };
  }

  // The dates a deadline can count from: [field, words] — the procedure's date, then each step's stamped date.
  references() {
    const out = [];
    const procedure = extOf(this.process, "alur:Procedure");
    const fields = new Map();
    for (const node of [this.process, ...flowElements(this.process)]) {
      for (const value of extValues(node)) {
        if (is(value, "camunda:FormData")) for (const f of value.get("fields") || []) if (!fields.has(f.get("id"))) fields.set(f.get("id"), f);
      }
    }
    // Bound to the start event's form too: its fields are the case's first data.
    if (procedure && procedure.get("date")) out.push([procedure.get("date"), "date"]);
    const steps = flowElements(this.process).map((node) => [node, extOf(node, "alur:Step")]).filter(([, s]) => s && s.get("stamp") && s.get("stamp").get("date"));
    steps.sort(([, a], [, b]) => (Number.parseInt(a.get("number"), 10) || 1e9) - (Number.parseInt(b.get("number"), 10) || 1e9));
    for (const [, s] of steps) out.push([s.get("stamp").get("date"), "stamp"]);
    const seen = new Set();
    return out.filter(([id]) => !seen.has(id) && seen.add(id)).map(([id, kind]) => [id, kind, this.referenceWords(id, fields)]);
  }

  // How process/sopdoc.py names the day ``name`` (_reference_words).
  referenceWords(name, fields) {
    for (const node of flowElements(this.process)) {
      const step = extOf(node, "alur:Step");
      const stamp = step && step.get("stamp");
      if (stamp && stamp.get("date") === name) {
        if (stamp.get("label")) return stamp.get("label");
        const short = step.get("label") || node.get("name") || node.get("id");
        return step.get("number") ? `langkah ${step.get("number")} (${short})` : short;
      }
    }
    let field = fields && fields.get(name);
    if (!fields) {
      for (const node of [this.process, ...flowElements(this.process)]) {
        const fd = extOf(node, "camunda:FormData");
        field = field || (fd && (fd.get("fields") || []).find((f) => f.get("id") === name));
      }
    }
    let words = field && field.get("label") ? field.get("label").replace(/\s*\([^)]*\)\s*$/, "").trim() : name.replace(/_/g, " ");
    words = words.replace(/^(tanggal|tgl\.?)\s+/i, "");
    return words.slice(0, 2) !== words.slice(0, 2).toUpperCase() ? words.slice(0, 1).toLowerCase() + words.slice(1) : words;
  }

  setWaktu(next) {
    const now = this.waktu();
    const kind = next.kind ?? now.kind;
    if (kind === "none") {
      this.run(() => {
        if (this.timer) this.removeTimer(this.timer);
        if (this.step && this.step.get("deadline") === "required") this.setStep({ deadline: undefined });
      });
      return;
    }
    let expression;
    let eventName;
    if (kind === "custom") {
      expression = next.expression ?? now.expression;
      if (!expression) {
        const refs = this.references();
        expression = `akhir_hari(${(refs.find(([, k]) => k === "stamp") || refs[0] || ["tanggal"])[0]}, 1)`;
      }
      eventName = TEXTS.waktu_event_plain; // the diagram's words: Indonesian, as the SOP
    } else {
      const refs = this.references();
      const ref = next.ref || now.ref || (refs.find(([, k]) => k === "stamp") || refs[0] || ["tanggal"])[0];
      let n = kind === "same" ? 0 : Number.parseInt(next.n ?? now.n, 10);
      if (!Number.isInteger(n) || n < 0) n = 1;
      if (kind === "calendar" && n === 0) n = 1;
      expression = `${kind === "working" ? "akhir_hari_kerja" : "akhir_hari"}(${ref}, ${n})`;
      const short = kind === "same" ? "H" : kind === "calendar" ? `H+${n}` : `${n} hari kerja`;
      eventName = fill(TEXTS.waktu_event, { words: short });
    }
    this.run(() => {
      let timer = this.timer;
      if (!timer) timer = this.createTimer();
      const def = timerDefinition(timer);
      const value = def.get("timeDate");
      if (value) {
        this.ctx.modeling.updateModdleProperties(timer, value, { body: expression });
      } else {
        const created = this.create("bpmn:FormalExpression", { body: expression }, def);
        this.ctx.modeling.updateModdleProperties(timer, def, { timeDate: created, timeDuration: undefined, timeCycle: undefined });
      }
      if ((getBusinessObject(timer).get("name") || "") !== eventName) this.ctx.modeling.updateProperties(timer, { name: eventName });
      if (!this.step || this.step.get("deadline") !== "required") this.setStep({ deadline: "required" });
    });
  }

  createTimer() {
    const { elementFactory, modeling } = this.ctx;
    const shape = elementFactory.createShape({
      type: "bpmn:BoundaryEvent", eventDefinitionType: "bpmn:TimerEventDefinition", cancelActivity: false,
    });
    const { x, y, width, height } = this.element;
    return modeling.createShape(shape, { x: x + width - 22, y: y + height }, this.element, { attach: true });
  }

  // The timer and what only it leads to (the late notice and its end).
  removeTimer(timer) {
    const gone = new Set([timer]);
    let grew = true;
    while (grew) {
      grew = false;
      for (const node of [...gone]) {
        for (const flow of node.outgoing || []) {
          const target = flow.target;
          if (!target || gone.has(target) || is(target, "bpmn:Task")) continue;
          if ((target.incoming || []).every((f) => gone.has(f.source))) { gone.add(target); grew = true; }
        }
      }
    }
    this.ctx.modeling.removeElements([...gone]);
  }

  // --------------------------------------------------------------------------------------------- Pelaksana
  lanes() {
    const participant = this.ctx.elementRegistry.filter((e) => is(e, "bpmn:Participant") && getBusinessObject(e).get("processRef") === this.process)[0];
    return this.ctx.elementRegistry.filter((e) => is(e, "bpmn:Lane") && !(getBusinessObject(e).get("childLaneSet"))
      && (!participant || within(e, participant)));
  }

  laneOf() {
    return this.lanes().find((lane) => (getBusinessObject(lane).get("flowNodeRef") || []).includes(this.bo));
  }

  moveTo(lane) {
    const dy = Math.round(lane.y + lane.height / 2 - (this.element.y + this.element.height / 2));
    if (dy) this.ctx.modeling.moveElements([this.element], { x: 0, y: dy });
  }
}

function within(shape, container) {
  let node = shape.parent;
  while (node) { if (node === container) return true; node = node.parent; }
  return false;
}

function timerDefinition(shape) {
  return (getBusinessObject(shape).get("eventDefinitions") || []).find((d) => is(d, "bpmn:TimerEventDefinition"));
}

// --------------------------------------------------------------------------------------------- entries
function wholeNumber(sop, min, max) {
  return (value) => {
    const text = String(value || "").trim();
    if (!text) return null;
    const n = Number(text);
    return /^\d+$/.test(text) && n >= min && n <= max ? null : sop.t("whole_number", { min, max });
  };
}

function Button(props) {
  const { id, label, onClick, description, disabled } = props;
  return h("div", { class: "bio-properties-panel-entry sop-action", "data-entry-id": id },
    h("button", { type: "button", class: "bio-properties-panel-add-entry sop-button", onClick, disabled }, label),
    description ? h("div", { class: "bio-properties-panel-description" }, description) : null);
}

function Note(props) {
  const { id, text, heading } = props;
  if (heading) return h("h3", { class: "sop-heading", "data-entry-id": id }, text);
  return h("div", { class: "bio-properties-panel-entry sop-note", "data-entry-id": id },
    h("div", { class: "bio-properties-panel-description" }, text));
}

// A new item's name and the button that adds it: the item's id is made from the name when it is added.
function NewItem(props) {
  const { id, sop } = props;
  const inputId = `bio-properties-panel-${id}-name`;
  const add = () => {
    const input = document.getElementById(inputId);
    const value = input ? input.value : "";
    if (!value.trim()) return;
    input.value = "";
    sop.addField(value);
  };
  return h("div", { class: "bio-properties-panel-entry sop-new-item", "data-entry-id": id },
    h("label", { for: inputId, class: "bio-properties-panel-label" }, sop.t("item_new")),
    h("input", { id: inputId, type: "text", class: "bio-properties-panel-input", autoComplete: "off", spellCheck: false,
      onKeyDown: (event) => { if (event.key === "Enter") { event.preventDefault(); add(); } } }),
    h("div", { class: "bio-properties-panel-description" }, sop.t("item_new_help")),
    h("button", { type: "button", class: "bio-properties-panel-add-entry sop-button", onClick: add }, sop.t("item_add")));
}

function text(element, id, label, description, getValue, setValue, extra = {}) {
  return { id, component: TextFieldEntry, isEdited: isTextFieldEntryEdited, element, label, description, getValue, setValue, ...extra };
}

function select(element, id, label, description, getOptions, getValue, setValue) {
  return { id, component: SelectEntry, isEdited: isSelectEntryEdited, element, label, description, getOptions, getValue, setValue };
}

function check(element, id, label, description, getValue, setValue) {
  return { id, component: CheckboxEntry, element, label, description, getValue, setValue };
}

function laneEntries(sop, lane, p) {
  const { ctx } = sop;
  if (!lane) return [];
  const laneBo = getBusinessObject(lane);
  const laneDecl = () => extOf(laneBo, "alur:Lane");
  return [
    text(lane, `${p}-sop-laneName`, sop.t("lane_name"), sop.t("lane_name_help"), () => laneBo.get("name") || "",
      (value) => ctx.modeling.updateProperties(lane, { name: value || undefined }), { debounce: ctx.debounce }),
    text(lane, `${p}-sop-laneGroup`, sop.t("lane_code"), sop.t("lane_code_help"),
      () => (laneDecl() && laneDecl().get("group")) || "",
      (value) => {
        const group = (value || "").trim() || undefined;
        const laneSop = new Sop(ctx, lane);
        laneSop.run(() => {
          const decl = laneDecl() || (group ? laneSop.ensureExt("alur:Lane") : undefined);
          if (!decl) return;
          laneSop.set(decl, { group });
          const empty = Object.keys(decl.$attrs || {}).length === 0 && !decl.get("group") && !decl.get("teamScoped") && !decl.get("hearsOverdue") && !decl.get("leads");
          if (empty) laneSop.dropExt(decl);
        });
      }, { debounce: ctx.debounce }),
  ];
}

function kelengkapanEntries(sop, p) {
  const { element } = sop;
  const entries = [{ id: `${p}-sop-items`, component: Note, heading: true, text: sop.t("items") },
    { id: `${p}-sop-items-help`, component: Note, text: sop.t("items_help") }];
  const printed = sop.printed();
  const fields = sop.fields;
  if (!fields.length) entries.push({ id: `${p}-sop-items-none`, component: Note, text: sop.t("items_none") });
  fields.forEach((field, index) => {
    const n = index + 1;
    const id = `${p}-sop-item-${index}`;
    const type = field.get("type") || "string";
    const types = FIELD_TYPES.includes(type) ? FIELD_TYPES : [...FIELD_TYPES, type];
    entries.push({ id: `${id}-title`, component: Note, heading: true, text: `${sop.t("item", { n })} \u00b7 ${field.get("label") || field.get("id")}` });
    entries.push(text(element, `${id}-label`, sop.t("item_label", { n }), undefined, () => field.get("label") || "",
      (value) => sop.run(() => sop.set(field, { label: value || undefined })), { debounce: sop.ctx.debounce }));
    entries.push(select(element, `${id}-type`, sop.t("item_type", { n }), undefined,
      () => types.map((value) => ({ value, label: TEXTS[`type_${value}`] ? sop.t(`type_${value}`) : value })),
      () => type, (value) => sop.setType(field, value)));
    entries.push(check(element, `${id}-required`, sop.t("item_required", { n }), undefined,
      () => Boolean(constraint(field, "required")), (value) => sop.setRequired(field, Boolean(value))));
    if (type === "files") {
      entries.push(text(element, `${id}-min`, sop.t("item_min", { n }), sop.t("item_min_help"),
        () => (constraint(field, "min_files") && constraint(field, "min_files").get("config")) || "",
        (value) => sop.setMinFiles(field, value), { debounce: sop.ctx.debounce, validate: wholeNumber(sop, 1, 100) }));
    }
    if (type === "enum") {
      entries.push(text(element, `${id}-options`, sop.t("item_options", { n }), sop.t("item_options_help"),
        () => (field.get("values") || []).map((v) => v.get("name") || v.get("id")).join("; "),
        (value) => sop.setOptions(field, value), { debounce: sop.ctx.debounce }));
    }
    entries.push(check(element, `${id}-inSop`, sop.t("item_in_sop", { n }), undefined,
      () => printed.has(field.get("id")), (value) => sop.run(() => sop.setPrinted(field.get("id"), Boolean(value)))));
    entries.push({ id: `${id}-remove`, component: Button, label: sop.t("item_remove", { n }), onClick: () => sop.removeField(field) });
  });
  // Items the SOP prints that are not this step's fields (words of their own, another step's field): shown, kept.
  const own = new Set(fields.map((f) => f.get("id")));
  const others = ((sop.step && sop.step.get("inputs")) || []).filter((i) => !own.has(i.get("field")))
    .map((i) => i.get("text") || i.get("field")).filter(Boolean);
  if (others.length) {
    entries.push({ id: `${p}-sop-items-other`, component: Note, text: sop.t("items_other", { items: others.join("; ") }) });
  }
  entries.push({ id: `${p}-sop-newItem`, component: NewItem, sop });
  return entries;
}

function waktuEntries(sop, p) {
  const { element, ctx } = sop;
  const now = sop.waktu();
  const kinds = ["none", "same", "calendar", "working", "custom"];
  const entries = [
    { id: `${p}-sop-waktu-title`, component: Note, heading: true, text: sop.t("waktu") },
    select(element, `${p}-sop-waktu`, sop.t("waktu"), sop.t("waktu_help"),
      () => kinds.map((value) => ({ value, label: sop.t(`waktu_${value}`) })),
      () => sop.waktu().kind, (kind) => sop.setWaktu({ kind })),
  ];
  if (now.kind === "calendar" || now.kind === "working") {
    entries.push(text(element, `${p}-sop-waktu-days`, sop.t("waktu_days"), undefined, () => sop.waktu().n,
      (value) => { if (!wholeNumber(sop, now.kind === "calendar" ? 1 : 0, MAX_DAYS)(value) && String(value).trim()) sop.setWaktu({ n: value }); },
      { debounce: ctx.debounce, validate: wholeNumber(sop, now.kind === "calendar" ? 1 : 0, MAX_DAYS) }));
  }
  if (["same", "calendar", "working"].includes(now.kind)) {
    entries.push(select(element, `${p}-sop-waktu-from`, sop.t("waktu_from"), sop.t("waktu_from_help"), () => {
      const refs = sop.references().map(([id, kind, words]) => ({ value: id, label: sop.t(kind === "date" ? "ref_date" : "ref_stamp", { words }) }));
      if (now.ref && !refs.some((r) => r.value === now.ref)) refs.push({ value: now.ref, label: now.ref });
      return refs;
    }, () => sop.waktu().ref, (ref) => sop.setWaktu({ ref })));
  }
  if (now.kind === "custom") {
    entries.push(text(element, `${p}-sop-waktu-expression`, sop.t("waktu_expression"), sop.t("waktu_expression_help"),
      () => sop.waktu().expression, (value) => sop.setWaktu({ kind: "custom", expression: (value || "").trim() }),
      { debounce: ctx.debounce }));
  }
  if (now.kind !== "none") {
    const words = waktuWords(now.expression, (name) => sop.referenceWords(name));
    entries.push({ id: `${p}-sop-waktu-words`, component: Note,
      text: sop.t("waktu_words", { words: words || sop.t("waktu_as_written", { words: now.expression || "\u2014" }) }) });
  }
  return entries;
}

function outputEntries(sop, p) {
  const { element, ctx } = sop;
  const current = () => (sop.step && sop.step.get("output")) || "";
  const choice = () => {
    const value = current();
    if (!value) return "";
    const known = OUTPUTS.find(([, words]) => words === value);
    return known ? known[0] : "other";
  };
  const entries = [
    { id: `${p}-sop-output-title`, component: Note, heading: true, text: sop.t("output") },
    select(element, `${p}-sop-output`, sop.t("output"), sop.t("output_help"), () => [
      { value: "", label: sop.t("output_auto") },
      ...OUTPUTS.map(([value]) => ({ value, label: sop.t(`output_${value}`) })),
      { value: "other", label: sop.t("output_other") },
    ], choice, (value) => {
      const words = value === "other" ? (current() || TEXTS.output_other.replace(/\u2026$/, "")) : (OUTPUTS.find(([v]) => v === value) || [, undefined])[1];
      sop.run(() => sop.setStep({ output: words || undefined }));
    }),
  ];
  if (choice() === "other") {
    entries.push(text(element, `${p}-sop-output-text`, sop.t("output_text"), undefined, current,
      (value) => sop.run(() => sop.setStep({ output: (value || "").trim() || undefined })), { debounce: ctx.debounce }));
  }
  const step = sop.step;
  if (choice() === "register" && !(step && step.get("register"))) {
    entries.push({ id: `${p}-sop-output-register`, component: Note, text: sop.t("output_register_missing") });
  }
  if (choice() === "response" && !(step && step.get("response"))) {
    entries.push({ id: `${p}-sop-output-response`, component: Note, text: sop.t("output_response_missing") });
  }
  return entries;
}

function stepGroup(ctx, element) {
  const sop = new Sop(ctx, element);
  const p = element.id;
  const lanes = sop.lanes();
  const lane = sop.laneOf();
  const entries = [
    text(element, `${p}-sop-name`, sop.t("name"), sop.t("name_help"), () => sop.bo.get("name") || "",
      (value) => ctx.modeling.updateProperties(element, { name: value || undefined }), { debounce: ctx.debounce }),
  ];
  if (lanes.length) {
    entries.push({ id: `${p}-sop-lane-title`, component: Note, heading: true, text: sop.t("lane") });
    entries.push(select(element, `${p}-sop-lane`, sop.t("lane"), sop.t("lane_help"), () => [
      ...(lane ? [] : [{ value: "", label: sop.t("lane_none") }]),
      ...lanes.map((l) => ({ value: l.id, label: getBusinessObject(l).get("name") || l.id })),
    ], () => (sop.laneOf() || {}).id || "", (value) => {
      const target = lanes.find((l) => l.id === value);
      if (target) sop.moveTo(target);
    }));
    entries.push(...laneEntries(sop, lane, p));
  }
  entries.push(...kelengkapanEntries(sop, p), ...waktuEntries(sop, p), ...outputEntries(sop, p));
  return { id: "alur-sop-step", label: ctx.t("group"), component: Group, shouldOpen: true, entries };
}

function groupFor(ctx, element) {
  const bo = getBusinessObject(element);
  if (is(bo, "bpmn:UserTask")) return stepGroup(ctx, element);
  if (is(bo, "bpmn:Lane")) {
    const sop = new Sop(ctx, element);
    return { id: "alur-sop-lane", label: ctx.t("lane_group"), component: Group, shouldOpen: true,
      entries: laneEntries(sop, element, element.id) };
  }
  if (bo.$type === "bpmn:Task" || is(bo, "bpmn:ManualTask")) {
    return { id: "alur-sop-step", label: ctx.t("group"), component: Group, shouldOpen: true, entries: [
      { id: `${element.id}-sop-makeStep`, component: Button, label: ctx.t("make_step"), description: ctx.t("make_step_help"),
        onClick: () => ctx.replace(element) },
    ] };
  }
  return null;
}

// ---------------------------------------------------------------------------------------------- provider
function BatchHandler() {}
BatchHandler.prototype.preExecute = (context) => context.run();
BatchHandler.prototype.execute = (context) => context.changed;
BatchHandler.prototype.revert = (context) => context.changed;
BatchHandler.$inject = [];

function SopPropertiesProvider(config, propertiesPanel, injector) {
  const texts = { ...TEXTS, ...((config && config.texts) || {}) };
  const commandStack = injector.get("commandStack");
  commandStack.registerHandler("alur.sop.batch", BatchHandler);
  this.ctx = {
    texts,
    t: (key) => texts[key] ?? key,
    commandStack,
    modeling: injector.get("modeling"),
    bpmnFactory: injector.get("bpmnFactory"),
    elementFactory: injector.get("elementFactory"),
    elementRegistry: injector.get("elementRegistry"),
    debounce: injector.get("debounceInput"),
    replace(element) {
      const created = injector.get("bpmnReplace").replaceElement(element, { type: "bpmn:UserTask" });
      if (created) injector.get("selection").select(created);
    },
  };
  propertiesPanel.registerProvider(300, this); // after the Camunda (500) and alur (400) providers: sees their groups
}

SopPropertiesProvider.prototype.getGroups = function getGroups(element) {
  return (groups) => {
    const mine = groupFor(this.ctx, element);
    return mine ? [mine, ...groups] : groups;
  };
};

SopPropertiesProvider.$inject = ["config.sopPanel", "propertiesPanel", "injector"];

export const SopPropertiesModule = {
  __init__: ["sopPropertiesProvider"],
  sopPropertiesProvider: ["type", SopPropertiesProvider],
};

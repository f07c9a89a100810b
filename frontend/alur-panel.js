// The properties-panel group "Aturan prosedur": the procedure's rules in the `alur:` extension namespace
// (docs/extension-namespace.md), edited with the panel's own entries by process owners who are not BPMN experts.
//
//   process / participant  alur:procedure (title, date, place, team; what its records print: reference,
//                          responsesTitle, recapTitle) and its alur:text, alur:basis and alur:sign lists; alur:sop
//                          (the SOP document's identity page: number, dates, approver, and its six lists)
//   lane                   alur:lane (group, teamScoped, hearsOverdue, leads)
//   task                   alur:step (number, label, deadline, output) and its children: register (field, format,
//                          title, by, columns), stamp, response, the alur:return list, reject, separate, the
//                          alur:require list, record, compare, the alur:input list (the SOP document's Kelengkapan)
//   end event              alur:outcome (code, label)
//
// A declaration is created when its first value is entered and removed when its last value is emptied (with the
// bpmn:extensionElements when nothing else is left in it), each change one command (one undo). Attributes naming
// another step (alur:return/@to, alur:separate/@from) are moddle references: renaming that step's id renames them on
// export. There are no rules here: the server's validation (codes decl.*) says what is wrong, as for the rest.
//
// Texts: Bahasa Indonesia below; the page may give others (the modeler's `alurPanel.texts`), key by key.
import { h } from "@bpmn-io/properties-panel/preact";
import {
  CheckboxEntry, Group, ListGroup, SelectEntry, TextFieldEntry,
  isCheckboxEntryEdited, isSelectEntryEdited, isTextFieldEntryEdited,
} from "@bpmn-io/properties-panel";
import { getBusinessObject, is, isAny } from "bpmn-js/lib/util/ModelUtil";
import alurModdle from "./alur-moddle.json";

export { alurModdle };

export const TEXTS = {
  group: "Aturan prosedur",
  texts_group: "Aturan: teks yang dibandingkan",
  basis_group: "Catatan: dasar hukum",
  signs_group: "Catatan: kolom tanda tangan",
  returns_group: "Aturan: pengembalian",
  requires_group: "Aturan: syarat kelengkapan",
  none: "(tidak ada)",
  choose: "(pilih)",
  own_fields: "Field formulir langkah ini",
  other_fields: "Field formulir langkah lain",
  all_fields: "Field formulir",
  not_in_form: "tidak ada di formulir",
  not_in_diagram: "tidak ada di diagram",
  not_a_choice: "bukan pilihan field ini",
  // alur:procedure
  title: "Field nama kasus",
  title_help: "Isian yang menjadi nama kasus di daftar, pemberitahuan dan rekap.",
  date: "Field tanggal acuan",
  date_help: "Isian tanggal kasus (hari kegiatan): kolom tanggal di rekap dan periode kasus.",
  place: "Field tempat (opsional)",
  place_help: "Isian yang ditampilkan sebagai tempat di buku register.",
  team: "Field tim pembuat (opsional)",
  team_help: "Nama data kasus tempat aplikasi menulis tim yang membuat kasus, misalnya tim.",
  text_field: "Field teks",
  text_field_help: "Teks yang diserahkan; versinya disimpan dan dibandingkan.",
  text_label: "Nama teks",
  text_label_help: "Nama yang dibaca orang, misalnya Narasi berita.",
  text_correction: "Field koreksi (opsional)",
  text_correction_help: "Salinan yang disunting oleh langkah berikutnya.",
  text_counter: "Tampilkan penghitung panjang per platform",
  text_counter_help: "Untuk caption media sosial.",
  reference: "Baris di bawah judul catatan (opsional)",
  reference_help: "Dicetak di bawah judul register dan tanggapan tertulis, misalnya nomor dan nama SOP. Bila kosong: nama proses.",
  responses_title: "Judul catatan tanggapan tertulis (opsional)",
  responses_title_help: "Bila kosong: Tanggapan Tertulis.",
  recap_title: "Judul rekapitulasi (opsional)",
  recap_title_help: "Untuk prosedur yang langkahnya menulis daftar unggahan. Bila kosong: Rekapitulasi Unggahan.",
  basis_text: "Dasar hukum",
  basis_text_help: "Satu peraturan, misalnya Undang-Undang Nomor 14 Tahun 2008 tentang Keterbukaan Informasi Publik.",
  sign_heading: "Judul kolom",
  sign_heading_help: "Misalnya Dibuat oleh, atau Mengetahui,",
  sign_role: "Jabatan",
  sign_role_help: "Misalnya Petugas Layanan Informasi.",
  // alur:lane
  lane_group: "Kode grup (opsional)",
  lane_group_help: "Grup yang mengerjakan lajur ini. Bila kosong: grup di tugas-tugasnya, atau grup yang namanya sama dengan nama lajur.",
  team_scoped: "Hanya tim pembuat kasus",
  team_scoped_help: "Tugas lajur ini hanya untuk anggota tim yang membuat kasus; mereka hanya melihat kasus timnya.",
  hears_overdue: "Diberi tahu setiap langkah terlambat",
  hears_overdue_help: "Lajur ini diberi tahu setiap kali langkah mana pun melewati batas waktunya.",
  leads: "Memimpin prosedur",
  leads_help: "Yang bekerja di lajur ini dapat mengalihkan tugas mana pun yang menunggu dan membatalkan kasus dengan alasan tertulis.",
  // alur:step
  number: "Nomor langkah",
  number_help: "Bilangan bulat mulai 1, tidak boleh sama dengan langkah lain (\"Langkah 4 dari 5\"). Kosongkan bila tidak bernomor.",
  renumber: "Sisipkan sebagai langkah {number}",
  renumber_help: "Nomor {number} sudah dipakai langkah lain. Tombol ini menaikkan satu nomor setiap langkah lain bernomor {number} ke atas, sehingga langkah ini menjadi langkah {number}.",
  label: "Nama singkat",
  label_help: "Nama pendek untuk tabel dan grafik, misalnya Keputusan. Bila kosong, nama tugas yang dipakai.",
  deadline: "Batas waktu",
  deadline_help: "Wajib: langkah ini harus punya timer batas waktu.",
  deadline_optional: "Opsional",
  deadline_required: "Wajib",
  register: "Nomor register ditulis ke",
  register_help: "Isi bila langkah ini memberi nomor register kasus (satu langkah per diagram): nama field yang menerima nomornya.",
  register_format: "Format nomor register (opsional)",
  register_format_help: "Misalnya {seq:03d}/PPID/{month_roman}/{year}: {seq} nomor urut per tahun, {year}, {month}, {month_roman}. Bila kosong: format aplikasi.",
  register_title: "Judul register (opsional)",
  register_title_help: "Judul catatan register, misalnya Register Permohonan Informasi Publik. Bila kosong: Register dan nama proses.",
  register_by: "Kolom siapa yang mencatat (opsional)",
  register_by_help: "Judul kolom orang yang pertama menyelesaikan langkah ini, misalnya Diserahkan oleh. Bila kosong: Dicatat oleh.",
  register_columns: "Kolom tambahan register (opsional)",
  register_columns_help: "Id field dipisah spasi, misalnya nama_pemohon alamat_pemohon: nilainya ikut dicetak di register.",
  stamp_date: "Tanggal selesai ditulis ke",
  stamp_date_help: "Saat langkah selesai, tanggalnya (WIB) ditulis ke field ini: acuan batas waktu berikutnya (misalnya H+1).",
  stamp_time: "Waktu selesai ditulis ke",
  stamp_time_help: "Saat langkah selesai, jam dan menitnya ditulis ke field ini.",
  response_decision: "Tanggapan tertulis: field keputusan",
  response_decision_help: "Keputusan langkah ini yang dicatat sebagai tanggapan tertulis.",
  response_text: "Tanggapan tertulis: field teks",
  response_text_help: "Isi tanggapan tertulisnya.",
  reject_field: "Ditolak bila field",
  reject_field_help: "Pilihan yang mengakhiri kasus tanpa publikasi (ditampilkan sebagai penolakan).",
  reject_value: "bernilai",
  separate: "Tidak boleh dikerjakan oleh yang menyelesaikan",
  separate_help: "Pemisahan tugas: orang yang menyelesaikan langkah itu pada kasus ini tidak boleh menyelesaikan langkah ini.",
  record_kind: "Langkah ini menulis rekap",
  record_kind_help: "Rekapitulasi: daftar unggahan (field jenis posts) masuk ke rekap.",
  record_posts: "Rekapitulasi unggahan (posts)",
  record_field: "Field daftar unggahan",
  compare: "Tampilkan perbandingan teks",
  compare_help: "Pekerja melihat teks prosedur dibandingkan dengan versi pertamanya (kata demi kata).",
  compare_copy: "Tampilkan teks akhir siap disalin",
  // alur:return
  return_field: "Bila field",
  return_value: "bernilai",
  return_to: "Kembalikan ke langkah",
  return_to_help: "Kasus dikirim kembali ke langkah ini; pekerjanya diberi tahu beserta alasannya.",
  return_response: "Field alasan",
  return_response_help: "Isian yang memuat alasan tertulis pengembalian.",
  return_item: "{field} = {value} \u2192 {to}",
  // alur:require
  require_when: "Bila field",
  require_equals: "bernilai",
  require_fields: "Field yang wajib diisi",
  require_fields_help: "Id field dipisah spasi, misalnya cek_foto cek_narasi: semuanya harus diisi atau dicentang.",
  require_message: "Pesan bila belum lengkap (opsional)",
  require_message_help: "Bila kosong, pesan baku yang ditampilkan.",
  require_item: "{when} = {equals}",
  // alur:sop (the SOP document's identity page) and the SOP columns of a step
  sop_group: "Aturan prosedur: identitas SOP",
  sop_number: "Nomor SOP",
  sop_number_help: "Seperti tertulis di dokumen, misalnya Nomor 21 Tahun 2025.",
  sop_created: "Tanggal pembuatan",
  sop_created_help: "TTTT-BB-HH, misalnya 2023-03-14.",
  sop_revised: "Tanggal revisi",
  sop_revised_help: "TTTT-BB-HH.",
  sop_effective: "Tanggal efektif",
  sop_effective_help: "TTTT-BB-HH.",
  sop_approverTitle: "Disahkan oleh: jabatan",
  sop_approverTitle_help: "Misalnya Sekretaris KPU Provinsi Sumatera Barat.",
  sop_approverName: "Disahkan oleh: nama",
  sop_approverNip: "Disahkan oleh: NIP",
  sop_approverNip_help: "Tepat 18 angka; spasi di antara kelompok angka boleh.",
  sop_office: "Nama instansi di kop (opsional)",
  sop_office_help: "Misalnya KPU Provinsi Sumatera Barat.",
  sop_item: "Teks",
  sop_legalBases: "SOP: dasar hukum",
  sop_qualifications: "SOP: kualifikasi pelaksana",
  sop_relateds: "SOP: keterkaitan",
  sop_equipments: "SOP: peralatan/perlengkapan",
  sop_warnings: "SOP: peringatan",
  sop_recordings: "SOP: pencatatan dan pendataan",
  output: "Output di dokumen SOP (opsional)",
  output_help: "Misalnya Register dokumentasi dan konten. Bila kosong: register, tanggapan tertulis atau rekapitulasi, menurut aturan langkah ini.",
  stamp_label: "Tanggal selesai disebut",
  stamp_label_help: "Cara dokumen SOP menyebut tanggal ini di kolom Waktu, misalnya pengumpulan dokumentasi dan konten (H+1 setelah …).",
  inputs_group: "Aturan: kelengkapan (dokumen SOP)",
  input_field: "Field formulir (opsional)",
  input_field_help: "Labelnya dipakai; untuk field berkas, minimal jumlah berkas ditambahkan (Dokumentasi minimal 4).",
  input_text: "Teks (opsional)",
  input_text_help: "Kata-kata sendiri, menggantikan label field. Tanpa kelengkapan: field wajib langkah ini yang dipakai.",
  // alur:outcome
  outcome_code: "Kode hasil akhir",
  outcome_code_help: "Huruf, angka dan _ : nama hasil kasus di daftar, filter, laporan dan ekspor, misalnya dipublikasikan.",
  outcome_label: "Nama hasil akhir",
  outcome_label_help: "Cara orang membacanya, misalnya Dipublikasikan. Kasus tanpa hasil akhir ditampilkan Selesai.",
};

const ALUR = "alur";
const STEP_TYPES = ["bpmn:UserTask", "bpmn:ManualTask"];

function blank(value) {
  return value === undefined || value === null || value === "" || value === false
    || (Array.isArray(value) && value.length === 0);
}

function fill(template, vars) {
  return template.replace(/\{(\w+)\}/g, (_match, name) => vars[name] ?? "");
}

// The alur: properties of a moddle object (its attributes and its children).
function alurProperties(obj) {
  return obj.$descriptor.properties.filter((p) => p.ns && p.ns.prefix === ALUR);
}

// Whether ``obj`` would hold nothing once ``changes`` are made (an attribute this modeler does not know, e.g. of a
// later version of the namespace, counts as something).
function emptyWith(obj, changes) {
  return Object.keys(obj.$attrs || {}).length === 0
    && alurProperties(obj).every((p) => blank(p.name in changes ? changes[p.name] : obj.get(p.name)));
}

// "" and false are "not set": the attribute is left out.
function normalize(changes) {
  const out = {};
  for (const [key, value] of Object.entries(changes)) out[key] = blank(value) && !Array.isArray(value) ? undefined : value;
  return out;
}

// Contained objects (not references) among ``changes`` get ``parent`` as their $parent.
function adopt(parent, changes) {
  const byName = parent.$descriptor.propertiesByName;
  for (const [key, value] of Object.entries(changes)) {
    const property = byName[key];
    if (!property || property.isReference || !value) continue;
    for (const child of Array.isArray(value) ? value : [value]) {
      if (child && child.$type) child.$parent = parent;
    }
  }
}

function extensionValues(bo) {
  const ext = bo && bo.get("extensionElements");
  return ext ? ext.get("values") : [];
}

function update(element, moddleElement, properties) {
  return { cmd: "element.updateModdleProperties", context: { element, moddleElement, properties } };
}

// -------------------------------------------------------------------------------------------- slots
// Where a declaration lives: ``get()`` is the moddle object now (or undefined), ``commands(changes)`` the commands that
// make the changes, creating the object (and its parents) when a first value comes, removing it when it ends empty.

class ExtensionSlot {
  constructor(ctx, element, bo, type) {
    Object.assign(this, { ctx, element, bo, type });
  }

  get() {
    return extensionValues(this.bo).find((value) => is(value, this.type));
  }

  commands(changes) {
    changes = normalize(changes);
    const obj = this.get();
    if (obj) {
      if (emptyWith(obj, changes)) return this.remove(obj);
      adopt(obj, changes);
      return [update(this.element, obj, changes)];
    }
    if (Object.values(changes).every(blank)) return [];
    const commands = [];
    let ext = this.bo.get("extensionElements");
    if (!ext) {
      ext = this.ctx.create("bpmn:ExtensionElements", { values: [] }, this.bo);
      commands.push(update(this.element, this.bo, { extensionElements: ext }));
    }
    const created = this.ctx.create(this.type, {}, ext);
    for (const [key, value] of Object.entries(changes)) if (value !== undefined) created.set(key, value);
    adopt(created, changes);
    commands.push(update(this.element, ext, { values: [...ext.get("values"), created] }));
    return commands;
  }

  remove(obj) {
    const ext = this.bo.get("extensionElements");
    const values = ext.get("values").filter((value) => value !== obj);
    if (!values.length) return [update(this.element, this.bo, { extensionElements: undefined })];
    return [update(this.element, ext, { values })];
  }
}

// One child of a declaration (alur:step's alur:register, ...). ``keep``: the child means something with no
// attribute (alur:compare), so emptying its attributes does not remove it.
class ChildSlot {
  constructor(parent, property, type, keep = false) {
    Object.assign(this, { parent, property, type, keep, ctx: parent.ctx, element: parent.element });
  }

  get() {
    const parent = this.parent.get();
    return parent ? parent.get(this.property) : undefined;
  }

  commands(changes) {
    changes = normalize(changes);
    const obj = this.get();
    if (obj) {
      if (!this.keep && emptyWith(obj, changes)) return this.parent.commands({ [this.property]: undefined });
      return [update(this.element, obj, changes)];
    }
    if (Object.values(changes).every(blank)) return [];
    const created = this.ctx.create(this.type, {});
    for (const [key, value] of Object.entries(changes)) if (value !== undefined) created.set(key, value);
    return this.parent.commands({ [this.property]: created });
  }

  // The child present (with no attribute) or absent.
  toggle(present) {
    if (present) return this.get() ? [] : this.parent.commands({ [this.property]: this.ctx.create(this.type, {}) });
    return this.get() ? this.parent.commands({ [this.property]: undefined }) : [];
  }
}

// An existing object of a list (alur:return, alur:require, alur:text): edited in place.
class ItemSlot {
  constructor(ctx, element, obj) {
    Object.assign(this, { ctx, element, obj });
  }

  get() {
    return this.obj;
  }

  commands(changes) {
    return [update(this.element, this.obj, normalize(changes))];
  }
}

// ------------------------------------------------------------------------------------ the diagram
export function processOf(bo) {
  let node = bo;
  while (node && !is(node, "bpmn:Process")) node = node.$parent;
  return node;
}

export function flowElements(container, out = []) {
  for (const node of (container && container.get("flowElements")) || []) {
    out.push(node);
    if (is(node, "bpmn:SubProcess")) flowElements(node, out);
  }
  return out;
}

// The form fields (camunda:formField) of a process: {id, label, owner, values} in diagram order, each id once.
function formFields(process) {
  const fields = [];
  const seen = new Set();
  for (const node of flowElements(process)) {
    for (const value of extensionValues(node)) {
      if (!is(value, "camunda:FormData")) continue;
      for (const field of value.get("fields") || []) {
        const id = field.get("id");
        if (!id || seen.has(id)) continue;
        seen.add(id);
        fields.push({ id, label: field.get("label") || "", owner: node, values: field.get("values") || [] });
      }
    }
  }
  return fields;
}

function steps(process) {
  return flowElements(process).filter((node) => is(node, "bpmn:Task"));
}

// ---------------------------------------------------------------------------------------- entries
function fieldOption(field) {
  return { value: field.id, label: field.label ? `${field.label} (${field.id})` : field.id };
}

function FieldSelect(props) {
  const { element, id, ctx, slot, attr, label, description, owner, process } = props;
  const getOptions = () => {
    const fields = formFields(process);
    const current = (slot.get() && slot.get().get(attr)) || "";
    const options = [{ value: "", label: ctx.t("none") }];
    if (owner) {
      const own = fields.filter((f) => f.owner === owner).map(fieldOption);
      const other = fields.filter((f) => f.owner !== owner).map(fieldOption);
      if (own.length) options.push({ label: ctx.t("own_fields"), children: own });
      if (other.length) options.push({ label: ctx.t("other_fields"), children: other });
    } else if (fields.length) {
      options.push({ label: ctx.t("all_fields"), children: fields.map(fieldOption) });
    }
    if (current && !fields.some((f) => f.id === current)) {
      options.push({ value: current, label: `${current} (${ctx.t("not_in_form")})` });
    }
    return options;
  };
  return h(SelectEntry, {
    element, id, label, description, getOptions,
    getValue: () => (slot.get() && slot.get().get(attr)) || "",
    setValue: (value) => ctx.run(slot.commands({ [attr]: value })),
  });
}

function TextEntry(props) {
  const { element, id, ctx, slot, attr, label, description } = props;
  return h(TextFieldEntry, {
    element, id, label, description, debounce: ctx.debounce,
    getValue: () => {
      const obj = slot.get();
      const value = obj ? obj.get(attr) : undefined;
      return value === undefined || value === null ? "" : String(value);
    },
    setValue: (value) => ctx.run(slot.commands({ [attr]: value })),
  });
}

function CheckEntry(props) {
  const { element, id, ctx, slot, attr, label, description } = props;
  return h(CheckboxEntry, {
    element, id, label, description,
    getValue: () => Boolean(slot.get() && slot.get().get(attr)),
    setValue: (value) => ctx.run(slot.commands({ [attr]: Boolean(value) })),
  });
}

// A child that means something by being there (alur:compare).
function PresenceEntry(props) {
  const { element, id, ctx, slot, label, description } = props;
  return h(CheckboxEntry, {
    element, id, label, description,
    getValue: () => Boolean(slot.get()),
    setValue: (value) => ctx.run(slot.toggle(Boolean(value))),
  });
}

function ChoiceEntry(props) {
  const { element, id, ctx, slot, attr, label, description, choices, fallback = "" } = props;
  return h(SelectEntry, {
    element, id, label, description,
    getOptions: () => {
      const current = slot.get() && slot.get().get(attr);
      const options = choices.map(([value, key]) => ({ value, label: ctx.t(key) }));
      if (current && !choices.some(([value]) => value === current)) options.push({ value: current, label: current });
      return options;
    },
    getValue: () => (slot.get() && slot.get().get(attr)) || fallback,
    // The default is written as no attribute at all.
    setValue: (value) => ctx.run(slot.commands({ [attr]: value === fallback ? undefined : value })),
  });
}

// A value of the field named by the slot's ``field`` attribute: a choice among its options when it has some (an
// enum field), a text otherwise.
function FieldValueEntry(props) {
  const { element, id, ctx, slot, attr, fieldAttr, label, description, process } = props;
  const obj = slot.get();
  const fieldId = obj && obj.get(fieldAttr);
  const field = fieldId && formFields(process).find((f) => f.id === fieldId);
  if (!field || !field.values.length) return h(TextEntry, props);
  return h(SelectEntry, {
    element, id, label, description,
    getOptions: () => {
      const current = (slot.get() && slot.get().get(attr)) || "";
      const options = [{ value: "", label: ctx.t("choose") }, ...field.values.map((v) => ({
        value: v.get("id"), label: v.get("name") ? `${v.get("name")} (${v.get("id")})` : v.get("id"),
      }))];
      if (current && !field.values.some((v) => v.get("id") === current)) {
        options.push({ value: current, label: `${current} (${ctx.t("not_a_choice")})` });
      }
      return options;
    },
    getValue: () => (slot.get() && slot.get().get(attr)) || "",
    setValue: (value) => ctx.run(slot.commands({ [attr]: value })),
  });
}

// Another step of the diagram, chosen by its name; stored as a reference (its id is written on export).
function StepSelect(props) {
  const { element, id, ctx, slot, attr, label, description, owner, process, excludeSelf } = props;
  const candidates = () => steps(process).filter((node) => !(excludeSelf && node === owner));
  return h(SelectEntry, {
    element, id, label, description,
    getOptions: () => {
      const nodes = candidates();
      const names = new Map();
      for (const node of nodes) names.set(node.name, (names.get(node.name) || 0) + 1);
      const options = [{ value: "", label: ctx.t("choose") }, ...nodes.map((node) => ({
        value: node.id,
        label: !node.name ? node.id : names.get(node.name) > 1 ? `${node.name} (${node.id})` : node.name,
      }))];
      const current = slot.get() && slot.get().get(attr);
      if (current && !nodes.some((node) => node.id === current.id)) {
        const missing = !ctx.elementRegistry.get(current.id);
        options.push({ value: current.id, label: `${current.name || current.id}${missing ? ` (${ctx.t("not_in_diagram")})` : ""}` });
      }
      return options;
    },
    getValue: () => {
      const current = slot.get() && slot.get().get(attr);
      return (current && current.id) || "";
    },
    setValue: (value) => {
      const current = slot.get() && slot.get().get(attr);
      const target = candidates().find((node) => node.id === value)
        || (current && current.id === value ? current : undefined);
      ctx.run(slot.commands({ [attr]: target }));
    },
  });
}

// The alur:step of each other step of the process with a number (as a whole number) of at least ``number``.
function stepsFrom(process, owner, number) {
  const found = [];
  for (const node of steps(process)) {
    if (node === owner) continue;
    const decl = extensionValues(node).find((value) => is(value, "alur:Step"));
    const n = decl ? Number.parseInt(decl.get("number"), 10) : Number.NaN;
    if (Number.isInteger(n) && n >= number) found.push({ node, decl, n });
  }
  return found;
}

// Inserting a step: when its number is another step's, one button moves that step and every later one up by one
// (one command, one undo). The numbers stay the owner's; nothing is renumbered unasked.
function RenumberEntry(props) {
  const { id, ctx, slot, owner, process } = props;
  const number = Number.parseInt((slot.get() && slot.get().get("number")) || "", 10);
  if (!Number.isInteger(number) || number < 1) return null;
  const later = stepsFrom(process, owner, number);
  if (!later.some((s) => s.n === number)) return null;
  const shift = () => {
    const elements = ctx.elementRegistry;
    const commands = later.map((s) => update(elements.get(s.node.id) || s.node, s.decl, { number: String(s.n + 1) }));
    // The step itself is touched too, so that the panel shows it (the button goes).
    commands.push(update(props.element, slot.get(), { number: String(number) }));
    ctx.run(commands);
  };
  return h("div", { class: "bio-properties-panel-entry alur-renumber", "data-entry-id": id },
    h("button", { type: "button", class: "bio-properties-panel-add-entry alur-renumber-button", onClick: shift },
      fill(ctx.t("renumber"), { number })),
    h("div", { class: "bio-properties-panel-description" }, fill(ctx.t("renumber_help"), { number })));
}

// ----------------------------------------------------------------------------------------- groups
function entry(id, component, props, isEdited) {
  return { id, component, isEdited, ...props };
}

function procedureGroups(ctx, element, process) {
  const slot = new ExtensionSlot(ctx, element, process, "alur:Procedure");
  const base = { ctx, slot, process };
  const p = element.id;
  const group = {
    id: "alur-rules", label: ctx.t("group"), component: Group, shouldOpen: true,
    entries: [
      entry(`${p}-alur-title`, FieldSelect, { ...base, attr: "title", label: ctx.t("title"), description: ctx.t("title_help") }, isSelectEntryEdited),
      entry(`${p}-alur-date`, FieldSelect, { ...base, attr: "date", label: ctx.t("date"), description: ctx.t("date_help") }, isSelectEntryEdited),
      entry(`${p}-alur-place`, FieldSelect, { ...base, attr: "place", label: ctx.t("place"), description: ctx.t("place_help") }, isSelectEntryEdited),
      entry(`${p}-alur-team`, TextEntry, { ...base, attr: "team", label: ctx.t("team"), description: ctx.t("team_help") }, isTextFieldEntryEdited),
      entry(`${p}-alur-reference`, TextEntry, { ...base, attr: "reference", label: ctx.t("reference"), description: ctx.t("reference_help") }, isTextFieldEntryEdited),
      entry(`${p}-alur-responsesTitle`, TextEntry, { ...base, attr: "responsesTitle", label: ctx.t("responses_title"), description: ctx.t("responses_title_help") }, isTextFieldEntryEdited),
      entry(`${p}-alur-recapTitle`, TextEntry, { ...base, attr: "recapTitle", label: ctx.t("recap_title"), description: ctx.t("recap_title_help") }, isTextFieldEntryEdited),
    ],
  };
  const texts = (slot.get() && slot.get().get("texts")) || [];
  const list = {
    id: "alur-texts", label: ctx.t("texts_group"), component: ListGroup,
    add: ctx.adder(slot, "texts", "alur:Text"),
    items: texts.map((text, index) => {
      const id = `${p}-alurText-${index}`;
      const item = { ctx, process, slot: new ItemSlot(ctx, element, text) };
      return {
        id, label: text.get("label") || text.get("field") || "", autoFocusEntry: `${id}-field`,
        remove: ctx.remover(slot, "texts", text),
        entries: [
          entry(`${id}-field`, FieldSelect, { ...item, attr: "field", label: ctx.t("text_field"), description: ctx.t("text_field_help") }),
          entry(`${id}-label`, TextEntry, { ...item, attr: "label", label: ctx.t("text_label"), description: ctx.t("text_label_help") }),
          entry(`${id}-correction`, FieldSelect, { ...item, attr: "correction", label: ctx.t("text_correction"), description: ctx.t("text_correction_help") }),
          entry(`${id}-counter`, CheckEntry, { ...item, attr: "counter", label: ctx.t("text_counter"), description: ctx.t("text_counter_help") }),
        ],
      };
    }),
  };
  const basis = (slot.get() && slot.get().get("basis")) || [];
  const basisList = {
    id: "alur-basis", label: ctx.t("basis_group"), component: ListGroup,
    add: ctx.adder(slot, "basis", "alur:Basis"),
    items: basis.map((item, index) => {
      const id = `${p}-alurBasis-${index}`;
      const on = { ctx, process, slot: new ItemSlot(ctx, element, item) };
      return {
        id, label: item.get("text") || "", autoFocusEntry: `${id}-text`, remove: ctx.remover(slot, "basis", item),
        entries: [entry(`${id}-text`, TextEntry, { ...on, attr: "text", label: ctx.t("basis_text"), description: ctx.t("basis_text_help") })],
      };
    }),
  };
  const signs = (slot.get() && slot.get().get("signs")) || [];
  const signList = {
    id: "alur-signs", label: ctx.t("signs_group"), component: ListGroup,
    add: ctx.adder(slot, "signs", "alur:Sign"),
    items: signs.map((item, index) => {
      const id = `${p}-alurSign-${index}`;
      const on = { ctx, process, slot: new ItemSlot(ctx, element, item) };
      return {
        id, label: [item.get("heading"), item.get("role")].filter(Boolean).join(" "), autoFocusEntry: `${id}-heading`,
        remove: ctx.remover(slot, "signs", item),
        entries: [
          entry(`${id}-heading`, TextEntry, { ...on, attr: "heading", label: ctx.t("sign_heading"), description: ctx.t("sign_heading_help") }),
          entry(`${id}-role`, TextEntry, { ...on, attr: "role", label: ctx.t("sign_role"), description: ctx.t("sign_role_help") }),
        ],
      };
    }),
  };
  return [group, list, basisList, signList, ...sopGroups(ctx, element, process)];
}

const SOP_ATTRS = ["number", "created", "revised", "effective", "approverTitle", "approverName", "approverNip", "office"];
const SOP_LISTS = [["legalBases", "alur:LegalBasis"], ["qualifications", "alur:Qualification"],
  ["relateds", "alur:Related"], ["equipments", "alur:Equipment"], ["warnings", "alur:Warning"],
  ["recordings", "alur:Recording"]];

// The identity page of the procedure's SOP document (alur:sop): its fields, then one list per kind.
function sopGroups(ctx, element, process) {
  const slot = new ExtensionSlot(ctx, element, process, "alur:Sop");
  const p = element.id;
  const group = {
    id: "alur-sop", label: ctx.t("sop_group"), component: Group,
    entries: SOP_ATTRS.map((attr) => entry(`${p}-alurSop-${attr}`, TextEntry, {
      ctx, slot, attr, label: ctx.t(`sop_${attr}`), description: ctx.texts[`sop_${attr}_help`],
    }, isTextFieldEntryEdited)),
  };
  const lists = SOP_LISTS.map(([property, type]) => ({
    id: `alur-sop-${property}`, label: ctx.t(`sop_${property}`), component: ListGroup,
    add: ctx.adder(slot, property, type),
    items: ((slot.get() && slot.get().get(property)) || []).map((item, index) => {
      const id = `${p}-alurSop-${property}-${index}`;
      return {
        id, label: item.get("text") || "", autoFocusEntry: `${id}-text`, remove: ctx.remover(slot, property, item),
        entries: [entry(`${id}-text`, TextEntry, { ctx, slot: new ItemSlot(ctx, element, item), attr: "text", label: ctx.t("sop_item") })],
      };
    }),
  }));
  return [group, ...lists];
}

function laneGroups(ctx, element, bo) {
  const slot = new ExtensionSlot(ctx, element, bo, "alur:Lane");
  const base = { ctx, slot };
  const p = element.id;
  return [{
    id: "alur-rules", label: ctx.t("group"), component: Group, shouldOpen: true,
    entries: [
      entry(`${p}-alur-group`, TextEntry, { ...base, attr: "group", label: ctx.t("lane_group"), description: ctx.t("lane_group_help") }, isTextFieldEntryEdited),
      entry(`${p}-alur-teamScoped`, CheckEntry, { ...base, attr: "teamScoped", label: ctx.t("team_scoped"), description: ctx.t("team_scoped_help") }, isCheckboxEntryEdited),
      entry(`${p}-alur-hearsOverdue`, CheckEntry, { ...base, attr: "hearsOverdue", label: ctx.t("hears_overdue"), description: ctx.t("hears_overdue_help") }, isCheckboxEntryEdited),
      entry(`${p}-alur-leads`, CheckEntry, { ...base, attr: "leads", label: ctx.t("leads"), description: ctx.t("leads_help") }, isCheckboxEntryEdited),
    ],
  }];
}

function stepGroups(ctx, element, bo) {
  const step = new ExtensionSlot(ctx, element, bo, "alur:Step");
  const child = (property, type, keep) => new ChildSlot(step, property, type, keep);
  const register = child("register", "alur:Register");
  const stamp = child("stamp", "alur:Stamp");
  const response = child("response", "alur:Response");
  const reject = child("reject", "alur:Reject");
  const separate = child("separate", "alur:Separate");
  const record = child("record", "alur:Record");
  const compare = child("compare", "alur:Compare", true);
  const p = element.id;
  const process = processOf(bo);
  const on = (slot) => ({ ctx, slot, owner: bo, process });
  const t = (key) => ({ label: ctx.t(key), description: ctx.texts[`${key}_help`] });
  const group = {
    id: "alur-rules", label: ctx.t("group"), component: Group, shouldOpen: true,
    entries: [
      entry(`${p}-alur-number`, TextEntry, { ...on(step), attr: "number", ...t("number") }, isTextFieldEntryEdited),
      entry(`${p}-alur-renumber`, RenumberEntry, { ...on(step), element }),
      entry(`${p}-alur-label`, TextEntry, { ...on(step), attr: "label", ...t("label") }, isTextFieldEntryEdited),
      entry(`${p}-alur-output`, TextEntry, { ...on(step), attr: "output", ...t("output") }, isTextFieldEntryEdited),
      entry(`${p}-alur-deadline`, ChoiceEntry, { ...on(step), attr: "deadline", ...t("deadline"), fallback: "optional",
        choices: [["optional", "deadline_optional"], ["required", "deadline_required"]] }),
      entry(`${p}-alur-register`, TextEntry, { ...on(register), attr: "field", ...t("register") }, isTextFieldEntryEdited),
      entry(`${p}-alur-registerFormat`, TextEntry, { ...on(register), attr: "format", ...t("register_format") }, isTextFieldEntryEdited),
      entry(`${p}-alur-registerTitle`, TextEntry, { ...on(register), attr: "title", ...t("register_title") }, isTextFieldEntryEdited),
      entry(`${p}-alur-registerBy`, TextEntry, { ...on(register), attr: "by", ...t("register_by") }, isTextFieldEntryEdited),
      entry(`${p}-alur-registerColumns`, TextEntry, { ...on(register), attr: "columns", ...t("register_columns") }, isTextFieldEntryEdited),
      entry(`${p}-alur-stampDate`, TextEntry, { ...on(stamp), attr: "date", ...t("stamp_date") }, isTextFieldEntryEdited),
      entry(`${p}-alur-stampTime`, TextEntry, { ...on(stamp), attr: "time", ...t("stamp_time") }, isTextFieldEntryEdited),
      entry(`${p}-alur-stampLabel`, TextEntry, { ...on(stamp), attr: "label", ...t("stamp_label") }, isTextFieldEntryEdited),
      entry(`${p}-alur-responseDecision`, FieldSelect, { ...on(response), attr: "decision", ...t("response_decision") }, isSelectEntryEdited),
      entry(`${p}-alur-responseText`, FieldSelect, { ...on(response), attr: "text", ...t("response_text") }, isSelectEntryEdited),
      entry(`${p}-alur-rejectField`, FieldSelect, { ...on(reject), attr: "field", ...t("reject_field") }, isSelectEntryEdited),
      entry(`${p}-alur-rejectValue`, FieldValueEntry, { ...on(reject), attr: "value", fieldAttr: "field", ...t("reject_value") }),
      entry(`${p}-alur-separate`, StepSelect, { ...on(separate), attr: "from", excludeSelf: true, ...t("separate") }, isSelectEntryEdited),
      entry(`${p}-alur-recordKind`, ChoiceEntry, { ...on(record), attr: "kind", ...t("record_kind"),
        choices: [["", "none"], ["posts", "record_posts"]] }, isSelectEntryEdited),
      entry(`${p}-alur-recordField`, FieldSelect, { ...on(record), attr: "field", ...t("record_field") }, isSelectEntryEdited),
      entry(`${p}-alur-compare`, PresenceEntry, { ...on(compare), ...t("compare") }, isCheckboxEntryEdited),
      entry(`${p}-alur-compareCopy`, CheckEntry, { ...on(compare), attr: "copy", ...t("compare_copy") }, isCheckboxEntryEdited),
    ],
  };
  const current = step.get();
  const returns = {
    id: "alur-returns", label: ctx.t("returns_group"), component: ListGroup,
    add: ctx.adder(step, "returns", "alur:Return"),
    items: ((current && current.get("returns")) || []).map((rule, index) => {
      const id = `${p}-alurReturn-${index}`;
      const item = on(new ItemSlot(ctx, element, rule));
      const to = rule.get("to");
      return {
        id, autoFocusEntry: `${id}-field`, remove: ctx.remover(step, "returns", rule),
        label: fill(ctx.t("return_item"), { field: rule.get("field") || "?", value: rule.get("value") || "?", to: (to && (to.name || to.id)) || "?" }),
        entries: [
          entry(`${id}-field`, FieldSelect, { ...item, attr: "field", ...t("return_field") }),
          entry(`${id}-value`, FieldValueEntry, { ...item, attr: "value", fieldAttr: "field", ...t("return_value") }),
          entry(`${id}-to`, StepSelect, { ...item, attr: "to", ...t("return_to") }),
          entry(`${id}-response`, FieldSelect, { ...item, attr: "response", ...t("return_response") }),
        ],
      };
    }),
  };
  const requires = {
    id: "alur-requires", label: ctx.t("requires_group"), component: ListGroup,
    add: ctx.adder(step, "requires", "alur:Require"),
    items: ((current && current.get("requires")) || []).map((rule, index) => {
      const id = `${p}-alurRequire-${index}`;
      const item = on(new ItemSlot(ctx, element, rule));
      return {
        id, autoFocusEntry: `${id}-when`, remove: ctx.remover(step, "requires", rule),
        label: fill(ctx.t("require_item"), { when: rule.get("when") || "?", equals: rule.get("equals") || "?" }),
        entries: [
          entry(`${id}-when`, FieldSelect, { ...item, attr: "when", ...t("require_when") }),
          entry(`${id}-equals`, FieldValueEntry, { ...item, attr: "equals", fieldAttr: "when", ...t("require_equals") }),
          entry(`${id}-fields`, TextEntry, { ...item, attr: "fields", ...t("require_fields") }),
          entry(`${id}-message`, TextEntry, { ...item, attr: "message", ...t("require_message") }),
        ],
      };
    }),
  };
  const inputs = {
    id: "alur-inputs", label: ctx.t("inputs_group"), component: ListGroup,
    add: ctx.adder(step, "inputs", "alur:Input"),
    items: ((current && current.get("inputs")) || []).map((item, index) => {
      const id = `${p}-alurInput-${index}`;
      const slot = on(new ItemSlot(ctx, element, item));
      return {
        id, autoFocusEntry: `${id}-field`, remove: ctx.remover(step, "inputs", item),
        label: item.get("text") || item.get("field") || "?",
        entries: [
          entry(`${id}-field`, FieldSelect, { ...slot, attr: "field", ...t("input_field") }),
          entry(`${id}-text`, TextEntry, { ...slot, attr: "text", ...t("input_text") }),
        ],
      };
    }),
  };
  return [group, returns, requires, inputs];
}

function outcomeGroups(ctx, element, bo) {
  const slot = new ExtensionSlot(ctx, element, bo, "alur:Outcome");
  const base = { ctx, slot };
  const p = element.id;
  return [{
    id: "alur-rules", label: ctx.t("group"), component: Group, shouldOpen: true,
    entries: [
      entry(`${p}-alur-code`, TextEntry, { ...base, attr: "code", label: ctx.t("outcome_code"), description: ctx.t("outcome_code_help") }, isTextFieldEntryEdited),
      entry(`${p}-alur-outcomeLabel`, TextEntry, { ...base, attr: "label", label: ctx.t("outcome_label"), description: ctx.t("outcome_label_help") }, isTextFieldEntryEdited),
    ],
  }];
}

function groupsFor(ctx, element) {
  const bo = getBusinessObject(element);
  if (is(bo, "bpmn:Process")) return procedureGroups(ctx, element, bo);
  if (is(bo, "bpmn:Participant")) return bo.get("processRef") ? procedureGroups(ctx, element, bo.get("processRef")) : [];
  if (is(bo, "bpmn:Lane")) return laneGroups(ctx, element, bo);
  if (isAny(bo, STEP_TYPES) || bo.$type === "bpmn:Task") return stepGroups(ctx, element, bo);
  if (is(bo, "bpmn:EndEvent")) return outcomeGroups(ctx, element, bo);
  return [];
}

// ------------------------------------------------------------------------------------- the namespace
// The export declares xmlns:alur on the root element even when no declaration is left (moddle writes only the
// namespaces it uses): a diagram of this modeler says that it knows the namespace, and its having no rule is then
// what its owner meant, not a diagram from before the namespace.
export function withAlurNamespace(xml) {
  const start = /<[A-Za-z_][\w.-]*(?::[\w.-]+)?(?=[\s/>])/.exec(xml); // the root element (after <?xml ...?>)
  if (!start) return xml;
  const end = xml.indexOf(">", start.index); // ">" in attribute values is written as &gt;
  const tag = xml.slice(start.index, end === -1 ? xml.length : end);
  if (/\sxmlns:alur\s*=/.test(tag) || tag.includes(`"${alurModdle.uri}"`)) return xml;
  const at = start.index + start[0].length;
  return `${xml.slice(0, at)} xmlns:alur="${alurModdle.uri}"${xml.slice(at)}`;
}

// -------------------------------------------------------------------------------------- the provider
function AlurPropertiesProvider(config, propertiesPanel, injector, eventBus, moddle) {
  const commandStack = injector.get("commandStack");
  const bpmnFactory = injector.get("bpmnFactory");
  const texts = { ...TEXTS, ...((config && config.texts) || {}) };
  const ctx = {
    texts,
    debounce: injector.get("debounceInput"),
    elementRegistry: injector.get("elementRegistry"),
    t: (key) => texts[key] ?? key,
    create(type, attrs, parent) {
      const obj = bpmnFactory.create(type, attrs);
      if (parent) obj.$parent = parent;
      return obj;
    },
    run(commands) {
      if (!commands.length) return;
      if (commands.length === 1) commandStack.execute(commands[0].cmd, commands[0].context);
      else commandStack.execute("properties-panel.multi-command-executor", commands);
    },
    adder(slot, property, type) {
      return (event) => {
        event.stopPropagation();
        const current = (slot.get() && slot.get().get(property)) || [];
        ctx.run(slot.commands({ [property]: [...current, ctx.create(type, {})] }));
      };
    },
    remover(slot, property, obj) {
      return (event) => {
        event.stopPropagation();
        const current = (slot.get() && slot.get().get(property)) || [];
        ctx.run(slot.commands({ [property]: current.filter((value) => value !== obj) }));
      };
    },
  };
  this.ctx = ctx;
  propertiesPanel.registerProvider(400, this); // after the bpmn (1000) and Camunda (500) providers

  eventBus.on("saveXML.serialized", ({ xml }) => withAlurNamespace(xml));

  // A reference to a step that is not in the file (a typo, a deleted step) would be dropped by the import and vanish
  // on export: it is kept as an unattached placeholder with that id, so the export writes it back and the server
  // names the problem.
  eventBus.on("import.done", ({ warnings }) => {
    for (const warning of warnings || []) {
      const obj = warning.element;
      const property = String(warning.property || "").replace(/^alur:/, "");
      if (!obj || !obj.$type || !isAny(obj, ["alur:Return", "alur:Separate"]) || !warning.value) continue;
      if (!["to", "from"].includes(property) || obj.get(property)) continue;
      obj.set(property, moddle.create("bpmn:Task", { id: warning.value }));
    }
  });
}

AlurPropertiesProvider.prototype.getGroups = function getGroups(element) {
  return (groups) => {
    const mine = groupsFor(this.ctx, element).filter(Boolean);
    if (!mine.length) return groups;
    const general = groups.findIndex((group) => group.id === "general");
    const at = general === -1 ? groups.length : general + 1;
    return [...groups.slice(0, at), ...mine, ...groups.slice(at)];
  };
};

AlurPropertiesProvider.$inject = ["config.alurPanel", "propertiesPanel", "injector", "eventBus", "moddle"];

export const AlurPropertiesModule = {
  __init__: ["alurPropertiesProvider"],
  alurPropertiesProvider: ["type", AlurPropertiesProvider],
};

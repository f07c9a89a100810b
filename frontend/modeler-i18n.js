// The modeler in the process owner's language: a bpmn-js `translate` module (it replaces diagram-js' own, which
// only fills in {placeholders}) with one dictionary per language for the English template strings that bpmn-js,
// diagram-js and the properties panel (bpmn-js-properties-panel 5 and @bpmn-io/properties-panel ask the same
// `translate` service) show: palette, context pad, replace menu and its search, popup menus, the panel's groups,
// entries, options and tooltips, and the element types in the panel's header.
//
// These dictionaries are the front end's own (the page's texts and the "Aturan prosedur" group come from the server's
// Babel catalogue, webui/modeler.py): the library strings are English source strings that the Python catalogue does
// not know. Bahasa Indonesia is written for process owners who are not BPMN experts (Task → Langkah, Lane → Lajur,
// Gateway → Percabangan, Timer → Batas waktu); English keeps the libraries' words except Camunda's product vocabulary
// (linked "Camunda Forms" and the like), which a process owner of this application never needs to read.
//
// Lookups ignore case, hyphens and parentheses, so "Timer boundary event (non-interrupting)" (replace menu) and
// "Timer Boundary Event (Non Interrupting)" (the panel's header) are one entry. A template with no entry is shown as it
// is and reported to `config.alurI18n.onMissing` (the page lists them for the browser tests).

import { setListTranslate } from "@bpmn-io/properties-panel";

const ID = {
  // ---------------------------------------------------------------------------------------- palette, tools
  "Activate hand tool": "Geser tampilan (alat tangan)",
  "Activate lasso tool": "Pilih beberapa elemen sekaligus (laso)",
  "Activate create/remove space tool": "Tambah atau kurangi ruang di diagram",
  "Activate global connect tool": "Hubungkan dua elemen",
  "Create start event": "Buat awal proses",
  "Create intermediate/boundary event": "Buat peristiwa antara / batas waktu",
  "Create end event": "Buat akhir proses",
  "Create gateway": "Buat percabangan",
  "Create task": "Buat langkah",
  "Create expanded sub-process": "Buat subproses",
  "Create data object reference": "Buat dokumen (objek data)",
  "Create data store reference": "Buat tempat penyimpanan data",
  "Create pool/participant": "Buat wadah proses (pool)",
  "Create group": "Buat kelompok gambar",
  "Search in diagram": "Cari di diagram",
  "{count} result found": "{count} hasil",
  "{count} results found": "{count} hasil",
  // ---------------------------------------------------------------------------------------- context pad
  "Append task": "Tambah langkah sesudahnya",
  "Append end event": "Tambah akhir proses sesudahnya",
  "Append gateway": "Tambah percabangan sesudahnya",
  "Append intermediate/boundary event": "Tambah peristiwa antara sesudahnya",
  "Append compensation activity": "Tambah aktivitas kompensasi",
  "Append receive task": "Tambah langkah menerima pesan",
  "Append message intermediate catch event": "Tambah penantian pesan",
  "Append timer intermediate catch event": "Tambah penantian waktu",
  "Append conditional intermediate catch event": "Tambah penantian kondisi",
  "Append signal intermediate catch event": "Tambah penantian sinyal",
  "Add text annotation": "Tambah catatan",
  "Add lane above": "Tambah lajur di atas",
  "Add lane below": "Tambah lajur di bawah",
  "Divide into two lanes": "Bagi menjadi dua lajur",
  "Divide into three lanes": "Bagi menjadi tiga lajur",
  "Change element": "Ganti jenis elemen",
  "Delete": "Hapus",
  "Connect to other element": "Hubungkan ke elemen lain",
  "Connect using association": "Hubungkan dengan garis catatan (asosiasi)",
  "Connect using data input association": "Hubungkan sebagai masukan data",
  "Align elements": "Ratakan elemen",
  "Align elements left": "Ratakan ke kiri",
  "Align elements center": "Ratakan ke tengah (mendatar)",
  "Align elements right": "Ratakan ke kanan",
  "Align elements top": "Ratakan ke atas",
  "Align elements middle": "Ratakan ke tengah (tegak)",
  "Align elements bottom": "Ratakan ke bawah",
  "Distribute elements horizontally": "Beri jarak sama mendatar",
  "Distribute elements vertically": "Beri jarak sama tegak",
  "Open {element}": "Buka {element}",
  "Toggle non-interrupting": "Langkah tetap berjalan / dihentikan",
  "Loop": "Berulang",
  "Parallel multi-instance": "Banyak sekaligus (paralel)",
  "Sequential multi-instance": "Banyak berurutan",
  "Collection": "Kumpulan",
  "Participant multiplicity": "Banyak peserta",
  "flow elements must be children of pools/participants": "elemen alur harus berada di dalam wadah proses (pool)",
  "Data object must be placed within a pool/participant.": "Dokumen (objek data) harus berada di dalam wadah proses (pool).",
  // ------------------------------------------------- element types: replace menu entries and the panel's header
  "Task": "Langkah",
  "User task": "Langkah oleh petugas",
  "Service task": "Langkah otomatis (layanan)",
  "Send task": "Langkah mengirim pesan",
  "Receive task": "Langkah menerima pesan",
  "Manual task": "Langkah manual (di luar aplikasi)",
  "Business rule task": "Langkah aturan bisnis",
  "Script task": "Langkah skrip",
  "Call activity": "Panggil proses lain",
  "Transaction": "Transaksi",
  "Sub-process": "Subproses",
  "Sub-process (collapsed)": "Subproses (tertutup)",
  "Sub-process (expanded)": "Subproses (terbuka)",
  "Ad-hoc sub-process": "Subproses bebas urutan",
  "Ad-hoc sub-process (collapsed)": "Subproses bebas urutan (tertutup)",
  "Ad-hoc sub-process (expanded)": "Subproses bebas urutan (terbuka)",
  "Event sub-process": "Subproses peristiwa",
  "Exclusive gateway": "Percabangan: pilih satu jalur",
  "Parallel gateway": "Percabangan: semua jalur sekaligus",
  "Inclusive gateway": "Percabangan: satu atau lebih jalur",
  "Complex gateway": "Percabangan kompleks",
  "Event-based gateway": "Percabangan menurut peristiwa",
  "Event based instantiating Gateway": "Percabangan peristiwa yang memulai proses",
  "Parallel Event based instantiating Gateway": "Percabangan peristiwa paralel yang memulai proses",
  "Gateway": "Percabangan",
  "Start event": "Awal proses",
  "Message start event": "Awal proses oleh pesan",
  "Timer start event": "Awal proses terjadwal",
  "Conditional start event": "Awal proses oleh kondisi",
  "Signal start event": "Awal proses oleh sinyal",
  "Error start event": "Awal subproses oleh galat",
  "Escalation start event": "Awal subproses oleh eskalasi",
  "Compensation start event": "Awal subproses kompensasi",
  "Compensate start event": "Awal subproses kompensasi",
  "Message start event (non-interrupting)": "Awal subproses oleh pesan (tidak menghentikan)",
  "Timer start event (non-interrupting)": "Awal subproses terjadwal (tidak menghentikan)",
  "Conditional start event (non-interrupting)": "Awal subproses oleh kondisi (tidak menghentikan)",
  "Signal start event (non-interrupting)": "Awal subproses oleh sinyal (tidak menghentikan)",
  "Escalation start event (non-interrupting)": "Awal subproses oleh eskalasi (tidak menghentikan)",
  "End event": "Akhir proses",
  "Message end event": "Akhir proses dengan pesan",
  "Escalation end event": "Akhir dengan eskalasi",
  "Error end event": "Akhir dengan galat",
  "Compensation end event": "Akhir dengan kompensasi",
  "Compensate end event": "Akhir dengan kompensasi",
  "Signal end event": "Akhir proses dengan sinyal",
  "Terminate end event": "Akhir yang menghentikan seluruh proses",
  "Cancel end event": "Akhir dengan pembatalan",
  "Intermediate throw event": "Peristiwa antara",
  "Intermediate catch event": "Penantian",
  "Message intermediate catch event": "Penantian pesan",
  "Message intermediate throw event": "Pengiriman pesan",
  "Timer intermediate catch event": "Penantian waktu",
  "Escalation intermediate throw event": "Eskalasi",
  "Conditional intermediate catch event": "Penantian kondisi",
  "Link intermediate catch event": "Sambungan (masuk)",
  "Link intermediate throw event": "Sambungan (keluar)",
  "Compensation intermediate throw event": "Kompensasi",
  "Compensate intermediate throw event": "Kompensasi",
  "Signal intermediate catch event": "Penantian sinyal",
  "Signal intermediate throw event": "Pengiriman sinyal",
  "Boundary event": "Peristiwa pada tepi langkah",
  "Timer boundary event": "Batas waktu (menghentikan langkah)",
  "Timer boundary event (non-interrupting)": "Batas waktu (langkah tetap berjalan)",
  "Message boundary event": "Pesan pada langkah (menghentikan langkah)",
  "Message boundary event (non-interrupting)": "Pesan pada langkah (langkah tetap berjalan)",
  "Escalation boundary event": "Eskalasi pada langkah (menghentikan langkah)",
  "Escalation boundary event (non-interrupting)": "Eskalasi pada langkah (langkah tetap berjalan)",
  "Conditional boundary event": "Kondisi pada langkah (menghentikan langkah)",
  "Conditional boundary event (non-interrupting)": "Kondisi pada langkah (langkah tetap berjalan)",
  "Error boundary event": "Galat pada langkah",
  "Cancel boundary event": "Pembatalan pada langkah",
  "Signal boundary event": "Sinyal pada langkah (menghentikan langkah)",
  "Signal boundary event (non-interrupting)": "Sinyal pada langkah (langkah tetap berjalan)",
  "Compensation boundary event": "Kompensasi pada langkah",
  "Compensate boundary event": "Kompensasi pada langkah",
  "Sequence flow": "Alur",
  "Default flow": "Alur bawaan (bila tak ada kondisi lain)",
  "Conditional flow": "Alur bersyarat",
  "Message flow": "Alur pesan",
  "Association": "Garis catatan (asosiasi)",
  "Data input association": "Masukan data",
  "Data output association": "Keluaran data",
  "Data object reference": "Dokumen (objek data)",
  "Data store reference": "Tempat penyimpanan data",
  "Data object": "Dokumen (objek data)",
  "Text annotation": "Catatan",
  "Group": "Kelompok gambar",
  "Lane": "Lajur",
  "Participant": "Wadah proses (pool)",
  "Empty pool/participant": "Wadah proses kosong (tertutup)",
  "Expanded pool/participant": "Wadah proses terbuka",
  "Process": "Proses",
  "Collaboration": "Kolaborasi",
  // ------------------------------------------------------------------------------ properties panel: frame
  "Select an element to edit its properties.": "Pilih elemen di diagram untuk mengubah propertinya.",
  "Multiple elements are selected. Select a single element to edit its properties.":
    "Beberapa elemen terpilih. Pilih satu elemen untuk mengubah propertinya.",
  "Toggle section": "Buka/tutup bagian",
  "Section contains edits": "Bagian ini berisi isian",
  "Section contains an error": "Bagian ini berisi kesalahan",
  "Create": "Tambah",
  "Create new list item": "Tambah butir baru",
  "Delete item": "Hapus butir",
  "Toggle list item": "Buka/tutup butir",
  "List contains {numOfItems} item": "Daftar berisi {numOfItems} butir",
  "List contains {numOfItems} items": "Daftar berisi {numOfItems} butir",
  "Click to set a dynamic value with FEEL expression": "Klik untuk menulis nilai sebagai ungkapan",
  "Click to remove dynamic value with FEEL expression": "Klik untuk berhenti memakai ungkapan",
  "Open documentation": "Buka dokumentasi",
  "Open pop-up editor": "Buka penyunting besar",
  "Opened in editor": "Dibuka di penyunting",
  "<empty>": "<kosong>",
  "<none>": "<tidak ada>",
  "Unparsable FEEL expression.": "Ekspresi tidak dapat dibaca.",
  "FEEL expression is mandatory": "Ekspresi wajib diisi",
  "JSON contains errors": "JSON berisi kesalahan",
  // ------------------------------------------------------------------------- properties panel: general
  "General": "Umum",
  "Name": "Nama",
  "ID": "ID",
  "Process name": "Nama proses",
  "Process ID": "ID proses",
  "Participant Name": "Nama wadah proses",
  "Version tag": "Tanda versi",
  "Executable": "Dapat dijalankan",
  "Documentation": "Keterangan",
  "Element documentation": "Keterangan elemen",
  "Process documentation": "Keterangan proses",
  "ID must not be empty.": "ID wajib diisi.",
  "ID must be unique.": "ID sudah dipakai elemen lain.",
  "ID must not contain spaces.": "ID tidak boleh berisi spasi.",
  "ID must not contain prefix.": "ID tidak boleh berawalan prefiks.",
  "ID must be a valid QName.": "ID harus diawali huruf atau _ dan hanya berisi huruf, angka, _, - dan titik.",
  "Extension properties": "Properti tambahan",
  "Properties": "Properti",
  "Value": "Nilai",
  "Values": "Pilihan",
  "Key": "Kunci",
  "Label": "Label",
  "Type": "Jenis",
  "Inputs": "Masukan",
  "Outputs": "Keluaran",
  // ----------------------------------------------------------------------------- properties panel: forms
  "Forms": "Formulir",
  "Form": "Formulir",
  "Form fields": "Field formulir",
  "Generated Task Forms": "Field formulir (isian)",
  "Embedded or External Task Forms": "Formulir eksternal (form key)",
  "Camunda Forms": "Formulir tertaut (form reference)",
  "Camunda Form": "Formulir tertaut",
  "Camunda Form (linked)": "Formulir tertaut",
  "Camunda Form (embedded)": "Formulir tertanam",
  "Form key": "Kunci formulir",
  "Form reference": "Rujukan formulir",
  "Form ID": "ID formulir",
  "Binding": "Pengikatan",
  "Version": "Versi",
  "latest": "terbaru",
  "deployment": "penerapan",
  "version": "versi",
  "versionTag": "tanda versi",
  "Default value": "Nilai bawaan",
  "Constraints": "Batasan",
  "Config": "Nilai batasan",
  "<custom type>": "<jenis lain>",
  "Custom type": "Jenis lain",
  "string": "teks",
  "long": "bilangan bulat",
  "boolean": "ya/tidak (centang)",
  "date": "tanggal",
  "enum": "pilihan",
  "List": "Daftar",
  "Map": "Pasangan kunci–nilai",
  "Script": "Skrip",
  "String": "Teks",
  "Expression": "Ekspresi",
  "List values": "Isi daftar",
  "Map entries": "Isi pasangan",
  // ------------------------------------------------------------------ properties panel: timers, conditions
  "Timer": "Batas waktu",
  "Date": "Tanggal",
  "Duration": "Durasi",
  "Cycle": "Berulang",
  "A specific point in time defined as ISO 8601 combined date and time representation.":
    "Satu saat tertentu: tanggal dan jam ISO 8601, atau ungkapan aplikasi seperti akhir_hari_kerja(tanggal_pengumpulan, 2).",
  "A time duration defined as ISO 8601 durations format.": "Lama waktu sejak langkah siap, dalam format durasi ISO 8601.",
  "A cycle defined as ISO 8601 repeating intervals format.": "Pengulangan dalam format interval berulang ISO 8601.",
  "UTC time": "waktu UTC",
  "UTC plus 2 hours zone offset": "zona UTC plus 2 jam",
  "every 10 seconds, up to 5 times": "setiap 10 detik, paling banyak 5 kali",
  "every day, infinitely": "setiap hari, tanpa akhir",
  "15 seconds": "15 detik",
  "1 hour and 30 minutes": "1 jam 30 menit",
  "14 days": "14 hari",
  "Documentation: Timer events": "Rujukan: peristiwa waktu",
  "How to configure a timer": "Cara mengisi batas waktu",
  "Condition": "Kondisi",
  "Condition Expression": "Ungkapan kondisi",
  "Condition expression": "Ungkapan kondisi",
  "Condition type": "Jenis kondisi",
  "Format": "Format",
  "Script type": "Jenis skrip",
  "Inline script": "Skrip di sini",
  "External resource": "Berkas di luar",
  "Resource": "Berkas",
  "Result variable": "Variabel hasil",
  "Variable name": "Nama variabel",
  "Variable events": "Peristiwa variabel",
  "Start typing \"${}\" to create an expression.": "Ketik \"${}\" untuk menulis ungkapan.",
  "Learn how to define conditions.": "Cara menulis kondisi.",
  "Learn more.": "Selengkapnya.",
  // ------------------------------------------------ properties panel: messages, errors, signals, escalations
  "Message": "Pesan",
  "Global message reference": "Pesan yang dipakai",
  "Signal": "Sinyal",
  "Global signal reference": "Sinyal yang dipakai",
  "Error": "Galat",
  "Errors": "Galat",
  "Global error reference": "Galat yang dipakai",
  "Escalation": "Eskalasi",
  "Global escalation reference": "Eskalasi yang dipakai",
  "Code": "Kode",
  "Code variable": "Variabel kode",
  "Message variable": "Variabel pesan",
  "Throw expression": "Ungkapan pemicu",
  "Create new ...": "Buat baru …",
  "Compensation": "Kompensasi",
  "Wait for completion": "Tunggu sampai selesai",
  "Activity reference": "Aktivitas yang dirujuk",
  "Link": "Sambungan",
  // ------------------------------------------------------ properties panel: assignment and repetition
  "User assignment": "Penugasan",
  "Assignee": "Petugas",
  "Candidate groups": "Grup yang mengerjakan",
  "Candidate users": "Pengguna yang mengerjakan",
  "Specify more than one group as a comma separated list.": "Beberapa grup dipisah koma (kode grup).",
  "Specify more than one user as a comma separated list.": "Beberapa pengguna dipisah koma.",
  "Due date": "Tanggal jatuh tempo",
  "Follow up date": "Tanggal tindak lanjut",
  "Priority": "Prioritas",
  "The due date as an EL expression (e.g. ${someDate}) or an ISO date (e.g. 2015-06-26T09:54:00).":
    "Tanggal jatuh tempo sebagai ungkapan (misalnya ${tanggal}) atau tanggal ISO (misalnya 2025-06-26T09:54:00).",
  "The follow up date as an EL expression (e.g. ${someDate}) or an ISO date (e.g. 2015-06-26T09:54:00).":
    "Tanggal tindak lanjut sebagai ungkapan (misalnya ${tanggal}) atau tanggal ISO (misalnya 2025-06-26T09:54:00).",
  "Refers to the process variable name": "Nama variabel proses",
  "Completion": "Penyelesaian",
  "In mapping propagation": "Penerusan pemetaan masuk",
  "Out mapping propagation": "Penerusan pemetaan keluar",
  "Multi-instance": "Dikerjakan berkali-kali",
  "Loop cardinality": "Berapa kali",
  "Completion condition": "Kondisi selesai",
  "Element variable": "Variabel butir",
  "Asynchronous continuations": "Lanjutan tak serempak",
  "Asynchronous before": "Tak serempak sebelum",
  "Asynchronous after": "Tak serempak sesudah",
  "Exclusive": "Eksklusif",
  "Startable": "Dapat dimulai",
  "Initiator": "Pemula",
  "Called element": "Proses yang dipanggil",
  "Business key": "Kunci kasus",
  "Implementation": "Pelaksanaan",
  "Implementation type": "Jenis pelaksanaan",
  "Topic": "Topik",
  "Retries": "Percobaan ulang",
  "Retry time cycle": "Jeda percobaan ulang",
  "Java class": "Kelas Java",
  "Delegate expression": "Ungkapan delegasi",
  "Class": "Kelas",
  "Connector ID": "ID konektor",
  "Source": "Sumber",
  "Target": "Tujuan",
  "Local": "Lokal",
  "On": "Nyala",
  "Off": "Mati",
  "BPMN": "BPMN",
  "CMMN": "CMMN",
  "DMN decision": "Keputusan DMN",
  "Tenant ID": "ID penyewa",
  "Time to live": "Lama disimpan",
  "Job priority": "Prioritas pekerjaan",
  "Job execution": "Eksekusi pekerjaan",
  "History cleanup": "Pembersihan riwayat",
  "Tasklist": "Daftar tugas",
  "Candidate starter": "Yang boleh memulai",
  "Candidate starter groups": "Grup yang boleh memulai",
  "Candidate starter users": "Pengguna yang boleh memulai",
  "Start initiator": "Pemula proses",
  "Execution listeners": "Pendengar eksekusi",
  "Task listeners": "Pendengar tugas",
  "In mappings": "Pemetaan masuk",
  "Out mappings": "Pemetaan keluar",
  "Field injections": "Injeksi field",
  "Connector inputs": "Masukan konektor",
  "Connector outputs": "Keluaran konektor",
  "External task": "Tugas eksternal",
  "Process variables": "Variabel proses",
  "Listener type": "Jenis pendengar",
  "Listener ID": "ID pendengar",
  "Event type": "Jenis peristiwa",
  "Delegate Class": "Kelas delegasi",
  "Delegate Expression": "Ungkapan delegasi",
  "Delegate Variable Mapping": "Pemetaan variabel delegasi",
  "Assignment type": "Jenis penugasan",
  "{eventType}: {type}": "{eventType}: {type}",
  ", ": ", ",
  " or ": " atau ",
};

// English: the libraries' own words, but for Camunda's product vocabulary.
const EN = {
  "{count} result found": "{count} result found",
  "{count} results found": "{count} results found",
  "Generated Task Forms": "Form fields",
  "Embedded or External Task Forms": "External form (form key)",
  "Camunda Forms": "Linked form (form reference)",
  "Camunda Form": "Linked form",
  "Camunda Form (linked)": "Linked form",
  "Camunda Form (embedded)": "Embedded form",
  "Camunda user task": "Managed user task",
  "Documentation: Timer events": "Reference: timer events",
  "A specific point in time defined as ISO 8601 combined date and time representation.":
    "A point in time: an ISO 8601 date and time, or an expression of this application such as "
    + "akhir_hari_kerja(tanggal_pengumpulan, 2).",
};

export const DICTIONARIES = { id: ID, en: EN };
export const LANGUAGES = Object.keys(DICTIONARIES);

function normalise(text) {
  return text.toLowerCase().replace(/[-()]/g, " ").replace(/\s+/g, " ").trim();
}

function index(dictionary) {
  const byKey = new Map();
  for (const [key, value] of Object.entries(dictionary)) byKey.set(normalise(key), value);
  return byKey;
}

const INDEXES = Object.fromEntries(Object.entries(DICTIONARIES).map(([lang, dict]) => [lang, index(dict)]));

// The language of the page: `<html lang>` (set from the user's choice), reduced to one this module knows.
export function pageLanguage(doc = document) {
  const lang = (doc.documentElement.getAttribute("lang") || "id").toLowerCase().split("-")[0];
  return DICTIONARIES[lang] ? lang : "id";
}

export function translator(lang, onMissing = null) {
  const exact = DICTIONARIES[lang] || {};
  const loose = INDEXES[lang] || new Map();
  return function translate(template, replacements) {
    const text = String(template ?? "");
    let found = Object.prototype.hasOwnProperty.call(exact, text) ? exact[text] : loose.get(normalise(text));
    if (found === undefined) {
      found = text;
      if (lang !== "en" && onMissing && normalise(text)) onMissing(text);
    }
    const vars = replacements || {};
    return found.replace(/{([^}]+)}/g, (match, key) => (key in vars ? vars[key] : match));
  };
}

function TranslateFactory(config) {
  const options = config || {};
  return translator(options.lang || pageLanguage(), options.onMissing);
}
TranslateFactory.$inject = ["config.alurI18n"];

// The properties panel's list groups (form fields, returns, ...) and plain groups translate their own buttons ("Create
// new list item", "Section contains edits") only with a `translate` given to the group: every group gets the service,
// whichever provider made it. Registered last (priority 1), so it sees the groups of every other provider.
function GroupTranslateProvider(propertiesPanel, translate) {
  propertiesPanel.registerProvider(1, this);
  this.translate = translate;
  setListTranslate(translate); // the lists inside entries (frontend/properties-panel-lists.js)
}
GroupTranslateProvider.prototype.getGroups = function getGroups() {
  return (groups) => groups.map((group) => (group.translate ? group : { ...group, translate: this.translate }));
};
GroupTranslateProvider.$inject = ["propertiesPanel", "translate"];

//: The bpmn-js module: `additionalModules: [AlurTranslateModule]` (after the properties panel's), configured by
//: `alurI18n: {lang, onMissing}`.
export const AlurTranslateModule = {
  __init__: ["alurGroupTranslate"],
  translate: ["factory", TranslateFactory],
  alurGroupTranslate: ["type", GroupTranslateProvider],
};

// The process owner's modeler page: bpmn-js Modeler with the properties panel (Camunda 7 extensions: form fields in
// camunda:formData, timers, conditions), import/download of .bpmn files, and the server's validation and deployment.
//
// One rule set: there is no rule in this file. While the owner draws, the page asks the server's validation
// (data-validate-url, debounced) and shows exactly its problems: errors (what the server refuses) and warnings, on the
// canvas and in the list. What the modeler flags is what the server refuses, and the reverse, by construction.
//
// The page gives everything through data-* attributes on `[data-modeler]`:
//   data-src            GET → {"xml", "version"}: the newest deployed version (or the bundled diagram)
//   data-validate-url   POST the XML → 200 {"process_key", "warnings"} | 422 {"error": {"message", "fields"}}; each
//                       problem is {"element_id", "code", "severity", "label", "text", "message", ...}
//   data-deploy-url     POST the XML → 201/200 {"version", "sha256", "created", "summary_text", ...} | 422 as above
//   data-group-url      POST {"code", "name"} → 201 {"code", "name", "message"} | 422 {"error": {"message"}}: creates
//                       the group a lane lacks (problem "lane.no_group" offers it, with the code and the lane's name)
//   data-csrf           the CSRF token, sent as X-CSRFToken
//   data-texts          JSON object of the page's texts in the user's language (its "rules": the group "Aturan
//                       prosedur"'s texts); the library's own texts (palette, menus, panel) are frontend/modeler-i18n.js'
//   data-draft-key      localStorage key of this user's draft of this procedure from this version (frontend/modeler-screen.js)
//   data-base-version   the version the editor opened (none: the bundled diagram)
// The page says how far the server's answer is in data-validation ("pending", "running", "done", "failed") on the same
// element, for people using assistive technology (the list is a live region) and for the browser tests.
// Loaded as a module from /static/dist/ (built by frontend/build.mjs); nothing is made global, no inline code.
import BpmnModeler from "bpmn-js/lib/Modeler";
import {
  BpmnPropertiesPanelModule,
  BpmnPropertiesProviderModule,
  CamundaPlatformPropertiesProviderModule,
} from "bpmn-js-properties-panel";
import CamundaPlatformBehaviorsModule from "camunda-bpmn-js-behaviors/lib/camunda-platform";
import camundaModdle from "camunda-bpmn-moddle/resources/camunda.json";
import { AlurPropertiesModule, alurModdle } from "./alur-panel.js";
import { AlurTranslateModule, pageLanguage } from "./modeler-i18n.js";
import { DraftStore, PopupFitModule, bindHistory, draftTime, fitDiagram, fitEditor } from "./modeler-screen.js";
import { SopPropertiesModule } from "./sop-panel.js";

// Properties-panel groups for Camunda 7 features that Alur Medsos does not execute: hidden so that nobody edits
// what would be refused (or silently ignored). The server refuses listeners and I/O mappings anyway.
const HIDDEN_GROUPS = new Set([
  "CamundaPlatform__Implementation", "CamundaPlatform__ExternalTask", "CamundaPlatform__AsynchronousContinuations",
  "CamundaPlatform__JobExecution", "CamundaPlatform__CandidateStarter", "CamundaPlatform__FieldInjection",
  "CamundaPlatform__HistoryCleanup", "CamundaPlatform__Tasklist", "CamundaPlatform__InMapping",
  "CamundaPlatform__InMappingPropagation", "CamundaPlatform__OutMapping", "CamundaPlatform__OutMappingPropagation",
  "CamundaPlatform__ExecutionListener", "CamundaPlatform__TaskListener", "CamundaPlatform__Input",
  "CamundaPlatform__Output", "CamundaPlatform__ConnectorInput", "CamundaPlatform__ConnectorOutput",
  "CamundaPlatform__StartInitiator", "CamundaPlatform__CallActivity", "CamundaPlatform__BusinessKey",
  "CamundaPlatform__ProcessVariables",
]);

function HiddenGroupsProvider(propertiesPanel) {
  propertiesPanel.registerProvider(100, this); // after the Camunda provider (500): sees its groups
}
HiddenGroupsProvider.prototype.getGroups = function getGroups() {
  return (groups) => groups.filter((group) => !HIDDEN_GROUPS.has(group.id));
};
HiddenGroupsProvider.$inject = ["propertiesPanel"];
const HiddenGroupsModule = { __init__: ["alurHiddenGroups"], alurHiddenGroups: ["type", HiddenGroupsProvider] };

const XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const MAX_BYTES = 2 * 1024 * 1024; // the server's limit (engine/definitions.py MAX_XML_BYTES)
const REQUEST_TIMEOUT_MS = 30_000;
//: How long the owner may pause before the server checks what was drawn.
const VALIDATE_AFTER_MS = 600;
const PROBLEM_MARKER = "alur-problem";
const WARNING_MARKER = "alur-warning";
const FOCUS_MARKER = "alur-focus";
//: How long after an edit the draft is written to the browser's storage.
const DRAFT_AFTER_MS = 400;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

// A file's bytes as text, in the encoding its XML declaration names (ISO-8859-1 and the like), or UTF-16 by its
// byte-order mark; UTF-8 otherwise. (File.text() would read every file as UTF-8.)
function decodeXml(bytes) {
  const view = new Uint8Array(bytes);
  if ((view[0] === 0xff && view[1] === 0xfe) || (view[0] === 0xfe && view[1] === 0xff)) {
    return new TextDecoder("utf-16").decode(view);
  }
  const head = new TextDecoder("latin1").decode(view.subarray(0, 200));
  const declared = /^(?:\uFEFF|\u00EF\u00BB\u00BF)?<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z][A-Za-z0-9._-]*)["']/.exec(head);
  let label = declared ? declared[1] : "utf-8";
  try {
    return new TextDecoder(label).decode(view);
  } catch {
    label = "utf-8"; // a label the browser does not know: the server says what is wrong with the file
    return new TextDecoder(label).decode(view);
  }
}

function parseJson(text, fallback) {
  try {
    return JSON.parse(text || "");
  } catch {
    return fallback;
  }
}

class ModelerPage {
  constructor(root) {
    this.root = root;
    this.texts = parseJson(root.dataset.texts, {});
    this.csrf = root.dataset.csrf || "";
    this.fileName = root.dataset.fileName || "diagram.bpmn";
    this.problems = [];
    this.markedIds = [];
    this.dirty = false;
    this.busy = false;
    this.validationTimer = null;
    this.validationRequest = null;
    this.validationSeq = 0;

    this.canvasBox = root.querySelector("[data-canvas]");
    this.panelBox = root.querySelector("[data-properties]");
    this.status = root.querySelector("[data-status]");
    this.result = root.querySelector("[data-result]");
    this.resultHint = [...this.result.childNodes].map((node) => node.cloneNode(true));
    this.problemList = root.querySelector("[data-problems]");
    this.problemCount = root.querySelector("[data-problem-count]");
    this.dialog = root.querySelector("[data-confirm-dialog]");
    this.buttons = {
      validate: root.querySelector("[data-action=validate]"),
      deploy: root.querySelector("[data-action=deploy]"),
      download: root.querySelector("[data-action=download]"),
    };
    this.fileInput = root.querySelector("[data-action=import]");
    this.lang = pageLanguage();
    this.untranslated = new Set();

    this.modeler = new BpmnModeler({
      container: this.canvasBox,
      propertiesPanel: { parent: this.panelBox },
      additionalModules: [
        BpmnPropertiesPanelModule,
        BpmnPropertiesProviderModule,
        CamundaPlatformPropertiesProviderModule,
        CamundaPlatformBehaviorsModule,
        HiddenGroupsModule,
        AlurPropertiesModule,
        AlurTranslateModule,
        PopupFitModule,
        SopPropertiesModule, // group "SOP": Pelaksana, Kelengkapan, Waktu, Output (frontend/sop-panel.js)
      ],
      // the palette, menus and panel in the page's language; what no dictionary has is listed on the page
      alurI18n: { lang: this.lang, onMissing: (text) => this.noteUntranslated(text) },
      // alur: the procedure's rules (docs/extension-namespace.md), group "Aturan prosedur" (frontend/alur-panel.js)
      alurPanel: { texts: this.texts.rules || {} },
      sopPanel: { texts: this.texts.sop || {} },
      moddleExtensions: { camunda: camundaModdle, alur: alurModdle },
    });
    this.bindEvents();
    this.bindScreen();
  }

  t(key, vars = {}) {
    const text = this.texts[key] || key;
    return text.replace(/\{(\w+)\}/g, (_match, name) => (vars[name] ?? ""));
  }

  service(name) {
    return this.modeler.get(name);
  }

  // ------------------------------------------------------------------------------------------- wiring
  bindEvents() {
    const eventBus = this.service("eventBus");
    eventBus.on("commandStack.changed", (event) => {
      if (event.trigger === "clear") return; // an import starting, not an edit
      this.edited = true;
      this.dirty = true;
      this.root.dataset.dirty = "true";
      this.scheduleValidation(VALIDATE_AFTER_MS);
      this.scheduleDraft();
    });
    this.buttons.validate.addEventListener("click", () => this.validate());
    this.buttons.deploy.addEventListener("click", () => this.confirmDeploy());
    this.buttons.download.addEventListener("click", () => this.download());
    this.fileInput.addEventListener("change", () => this.importFile());
    this.root.addEventListener("click", (event) => {
      const target = event.target.closest("[data-target-id]");
      if (target && this.root.contains(target)) this.focusElement(target.dataset.targetId);
    });
    if (this.dialog) {
      this.dialog.querySelector("[data-confirm=yes]").addEventListener("click", () => this.dialog.close("deploy"));
      this.dialog.querySelector("[data-confirm=no]").addEventListener("click", () => this.dialog.close("cancel"));
      this.dialog.addEventListener("close", () => {
        if (this.dialog.returnValue === "deploy") this.deploy();
        else this.buttons.deploy.focus();
      });
    }
    window.addEventListener("beforeunload", (event) => {
      if (this.dirty) {
        event.preventDefault();
        event.returnValue = "";
      }
    });
  }

  setStatus(text, kind = "info") {
    this.status.textContent = text;
    this.status.className = `modeler-status modeler-status-${kind}`;
  }

  setBusy(busy) {
    this.busy = busy;
    this.root.setAttribute("aria-busy", busy ? "true" : "false");
    for (const button of Object.values(this.buttons)) button.disabled = busy;
    this.fileInput.disabled = busy;
  }

  // -------------------------------------------------------------------------------------- loading
  async load() {
    this.root.dataset.state = "loading";
    this.setStatus(this.t("loading"));
    let data;
    try {
      const response = await this.request(this.root.dataset.src, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      data = await response.json();
    } catch (error) {
      console.error("modeler:", error);
      this.setStatus(this.t("load_failed"), "error");
      this.root.dataset.state = "error";
      return;
    }
    if (await this.open(data.xml)) {
      this.setStatus(data.version ? this.t("loaded", { version: data.version }) : this.t("loaded_default"));
      this.dirty = false;
      delete this.root.dataset.dirty;
      this.offerDraft(data.xml);
    }
  }

  // ``bytes``: the file as it was read, sent to the server as it is while nothing is edited (its own encoding).
  async open(xml, fileName, bytes) {
    this.clearServerResult();
    this.showProblems([]);
    try {
      const { warnings } = await this.modeler.importXML(xml);
      this.sourceXml = bytes || xml;
      this.edited = false;
      fitDiagram(this.service("canvas"), this.canvasBox);
      if (fileName) this.fileName = fileName;
      this.root.dataset.state = "ready";
      this.importWarnings = warnings || [];
      this.scheduleValidation(0);
      return true;
    } catch (error) {
      console.warn("modeler: import failed:", error);
      this.root.dataset.state = "error";
      this.setStatus(this.t("import_failed", { reason: error.message || String(error) }), "error");
      return false;
    }
  }

  async importFile() {
    const file = this.fileInput.files && this.fileInput.files[0];
    if (!file) return;
    if (file.size > MAX_BYTES) {
      this.setStatus(this.t("too_large", { name: file.name }), "error");
      this.fileInput.value = "";
      return;
    }
    this.root.dataset.state = "loading";
    const bytes = await file.arrayBuffer();
    this.fileInput.value = "";
    if (/\.xlsx$/i.test(file.name)) {
      await this.importSop(file.name, bytes);
      return;
    }
    this.showSopNotes(null);
    if (await this.open(decodeXml(bytes), file.name, bytes)) {
      const warnings = this.importWarnings.length;
      this.setStatus(warnings ? this.t("imported_warnings", { name: file.name, count: warnings })
        : this.t("imported", { name: file.name }), warnings ? "warn" : "info");
      this.dirty = true;
      this.root.dataset.dirty = "true";
      this.scheduleDraft();
    }
  }

  // The diagram as XML: the file as it was opened (its bytes, in its own encoding) while nothing was edited (bpmn-js
  // cannot write back every file it reads, e.g. one binding the camunda prefix to another namespace), else what the
  // modeler exports (UTF-8).
  async xml() {
    if (!this.edited && this.sourceXml) return this.sourceXml;
    const { xml } = await this.modeler.saveXML({ format: true });
    return xml;
  }

  async download() {
    let xml;
    try {
      xml = await this.xml();
    } catch (error) {
      this.setStatus(this.t("export_failed", { reason: error.message }), "error");
      return;
    }
    const url = URL.createObjectURL(new Blob([xml], { type: "application/xml" }));
    const link = el("a", { href: url, download: this.fileName.endsWith(".bpmn") ? this.fileName : `${this.fileName}.bpmn` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }

  // ----------------------------------------------------------------------------------- the server
  // ``cancel``: a signal that aborts the request (a newer validation replaces this one).
  async request(url, options = {}, cancel = null) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
    const onCancel = () => controller.abort();
    if (cancel) cancel.addEventListener("abort", onCancel);
    try {
      return await fetch(url, { credentials: "same-origin", ...options, signal: controller.signal });
    } finally {
      clearTimeout(timer);
      if (cancel) cancel.removeEventListener("abort", onCancel);
    }
  }

  async post(url, cancel = null) {
    const xml = await this.xml();
    const response = await this.request(url, {
      method: "POST",
      headers: { "Content-Type": "application/xml", Accept: "application/json", "X-CSRFToken": this.csrf },
      body: xml,
    }, cancel);
    const body = (response.headers.get("Content-Type") || "").includes("json")
      ? await response.json().catch(() => null) : null;
    return { status: response.status, ok: response.ok, body };
  }

  requestFailure(error) {
    if (error.name === "AbortError") return this.t("timeout");
    if (error.name === "TypeError") return this.t("network_error"); // what fetch throws when the network fails
    console.error("modeler:", error);
    return this.t("export_failed", { reason: error.message || String(error) });
  }

  failure(status, body) {
    const message = body && body.error && body.error.message;
    if (status === 403) return this.t("forbidden");
    if (status === 400) return this.t("csrf");
    return message || this.t("http_error", { status });
  }

  // An SOP matrix (XLSX, process/sopimport.py): the server makes a BPMN draft of it; the draft opens here, and the
  // import's notes (warnings, or the refusal's findings, each naming its row and column) stay listed under the
  // server's problems until the next import.
  async importSop(name, bytes) {
    this.setStatus(this.t("sop_importing", { name }));
    let answer;
    try {
      const response = await this.request(this.root.dataset.sopImportUrl, {
        method: "POST",
        headers: { "Content-Type": XLSX_TYPE, Accept: "application/json", "X-CSRFToken": this.csrf,
                   "X-File-Name": encodeURIComponent(name) },
        body: bytes,
      });
      const body = (response.headers.get("Content-Type") || "").includes("json")
        ? await response.json().catch(() => null) : null;
      answer = { status: response.status, ok: response.ok, body };
    } catch (error) {
      this.root.dataset.state = "ready";
      this.setStatus(this.requestFailure(error), "error");
      return;
    }
    const { status, ok, body } = answer;
    if (!ok || !body || !body.xml) {
      this.root.dataset.state = "ready";
      const findings = (body && body.error && body.error.findings) || [];
      this.showSopNotes(findings, this.t("sop_refused", { name }));
      this.setStatus(findings.length ? this.t("sop_refused", { name }) : this.failure(status, body), "error");
      return;
    }
    const draftName = `${body.process_key || "draf"}.bpmn`;
    if (await this.open(body.xml, draftName)) {
      const warnings = body.warnings || [];
      this.showSopNotes(warnings, this.t("sop_imported", { name, count: warnings.length }));
      this.setStatus(this.t("sop_imported", { name, count: warnings.length }), warnings.length ? "warn" : "info");
      this.dirty = true;
      this.root.dataset.dirty = "true";
      this.scheduleDraft();
    }
  }

  showSopNotes(notes, title) {
    let box = this.root.querySelector("[data-sop-notes]");
    if (!notes) {
      if (box) box.remove();
      return;
    }
    if (!box) {
      box = el("div", { "data-sop-notes": true });
      this.problemList.after(box);
    }
    box.replaceChildren(
      el("p", { text: title }),
      el("ul", { class: "problems" }, ...notes.map((note) => el("li", {
        class: `problem problem-${note.severity === "warning" ? "warn" : "error"}`, "data-code": note.code,
        "data-severity": note.severity, text: note.message,
      }))),
    );
  }

  // ---------------------------------------------------------------------- the server's validation, as one draws
  // Each edit (and each import) asks again after a short pause; an answer that a newer request replaced is dropped.
  scheduleValidation(delay) {
    clearTimeout(this.validationTimer);
    if (this.validationRequest) this.validationRequest.abort();
    this.validationRequest = null;
    this.root.dataset.validation = "pending";
    this.validationTimer = setTimeout(() => this.runValidation(), delay);
  }

  async runValidation() {
    this.validationTimer = null;
    const seq = ++this.validationSeq;
    const cancel = new AbortController();
    this.validationRequest = cancel;
    this.root.dataset.validation = "running";
    try {
      const { status, ok, body } = await this.post(this.root.dataset.validateUrl, cancel.signal);
      if (seq !== this.validationSeq) return;
      if (ok) this.showProblems((body && body.warnings) || [], true);
      else if (status === 422 && body && body.error) this.showProblems(body.error.fields || [], false);
      else {
        this.validationFailed(this.failure(status, body));
        return;
      }
      this.root.dataset.validation = "done";
      return this.lastOutcome;
    } catch (error) {
      if (seq !== this.validationSeq || cancel.signal.aborted) return; // replaced by a newer request
      this.validationFailed(this.requestFailure(error));
    } finally {
      if (this.validationRequest === cancel) this.validationRequest = null;
    }
  }

  validationFailed(message) {
    this.root.dataset.validation = "failed";
    this.showError(message);
  }

  // The "Validasi" button: ask now, and say the outcome in the status line too.
  async validate() {
    if (this.busy) return;
    clearTimeout(this.validationTimer);
    if (this.validationRequest) this.validationRequest.abort();
    this.setStatus(this.t("validating"));
    const outcome = await this.runValidation();
    if (outcome === "valid") this.setStatus(this.t("deployable"), "ok");
    else if (outcome === "invalid") this.setStatus(this.t("not_deployable", { count: this.errorCount() }), "error");
  }

  confirmDeploy() {
    if (this.busy) return;
    if (this.dialog && typeof this.dialog.showModal === "function") {
      this.dialog.returnValue = ""; // Escape keeps the previous value otherwise
      this.dialog.showModal();
    }
    else if (window.confirm(this.t("confirm"))) this.deploy();
  }

  async deploy() {
    if (this.busy) return;
    this.setBusy(true);
    this.setStatus(this.t("deploying"));
    try {
      const { status, ok, body } = await this.post(this.root.dataset.deployUrl);
      if (ok) this.showDeployed(body);
      else if (status === 422 && body && body.error) {
        this.showProblems(body.error.fields || [], false);
        this.setStatus(this.t("not_deployable", { count: this.errorCount() }), "error");
      } else this.showError(this.failure(status, body));
    } catch (error) {
      this.showError(this.requestFailure(error));
    } finally {
      this.setBusy(false);
    }
  }

  // -------------------------------------------------------------------------------------- results
  // Forget the last outcome shown (the hint comes back unless an answer follows).
  clearServerResult(withHint = true) {
    this.result.replaceChildren(...(withHint ? this.resultHint.map((node) => node.cloneNode(true)) : []));
    this.result.removeAttribute("data-outcome");
  }

  errorCount() {
    return this.problems.filter((p) => p.severity !== "warning").length;
  }

  problemItem(problem) {
    const registry = this.service("elementRegistry");
    const id = problem.element_id;
    const category = problem.severity === "warning" ? "warn" : "error";
    const label = problem.label || (id ? id : this.t("whole_diagram"));
    const target = id && registry.get(id)
      ? el("button", { type: "button", class: "link problem-target", "data-target-id": id,
        title: this.t("show_element"), text: label })
      : el("span", { class: "problem-target", text: label });
    const offer = this.groupOffer(problem);
    return el("li", { class: `problem problem-${category}`, "data-element-id": id || "", "data-code": problem.code,
      "data-severity": category === "warn" ? "warning" : "error" },
    target, el("span", { text: ` ${problem.text || problem.message || ""}` }), ...(offer ? [" ", offer] : []));
  }

  // A lane no group works: offer to create the group the server names (the lane's name as the group's name).
  groupOffer(problem) {
    const url = this.root.dataset.groupUrl;
    const params = problem.params || {};
    if (problem.code !== "lane.no_group" || !url || !params.group) return null;
    const name = params.lane || params.group;
    const button = el("button", { type: "button", class: "link", "data-action": "create-group",
      "data-group-code": params.group, text: this.t("create_group", { name, code: params.group }) });
    button.addEventListener("click", () => this.createGroup(params.group, name, button));
    return button;
  }

  async createGroup(code, name, button) {
    if (this.busy) return;
    button.disabled = true;
    try {
      const response = await this.request(this.root.dataset.groupUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": this.csrf },
        body: JSON.stringify({ code, name }),
      });
      const body = await response.json().catch(() => null);
      if (response.ok) {
        this.setStatus(body.message, "ok");
        await this.runValidation();
      } else {
        const reason = (body && body.error && body.error.message) || this.failure(response.status, body);
        this.setStatus(this.t("group_failed", { reason }), "error");
        button.disabled = false;
      }
    } catch (error) {
      this.setStatus(this.requestFailure(error), "error");
      button.disabled = false;
    }
  }

  // The server's answer: its problems on the canvas (errors and warnings marked apart) and in the list, exactly.
  showProblems(problems, deployable) {
    const canvas = this.service("canvas");
    const registry = this.service("elementRegistry");
    for (const [id, marker] of this.markedIds) {
      try { canvas.removeMarker(id, marker); } catch { /* element gone */ }
    }
    this.markedIds = [];
    this.problems = problems;
    const sorted = [...problems].sort((a, b) => (a.severity === "warning") - (b.severity === "warning"));
    for (const problem of sorted) {
      const id = problem.element_id;
      const marker = problem.severity === "warning" ? WARNING_MARKER : PROBLEM_MARKER;
      if (id && registry.get(id) && !canvas.hasMarker(id, marker)) {
        canvas.addMarker(id, marker);
        this.markedIds.push([id, marker]);
      }
    }
    this.problemList.replaceChildren(...(sorted.length ? sorted.map((p) => this.problemItem(p))
      : [el("li", { class: "muted", text: this.t("problems_none") })]));
    const errors = this.errorCount();
    if (this.problemCount) {
      this.problemCount.textContent = this.t("problems_count", { errors, warnings: problems.length - errors });
    }
    this.lastOutcome = deployable ? "valid" : "invalid";
    if (this.result.dataset.outcome === "deployed" && deployable) return; // keep the deploy's answer in view
    this.clearServerResult(false);
    this.result.dataset.outcome = this.lastOutcome;
    this.result.append(deployable
      ? el("p", { class: "outcome outcome-ok", text: this.t("deployable") })
      : el("p", { class: "outcome outcome-error", text: this.t("not_deployable", { count: errors }) }));
  }

  showError(message) {
    this.clearServerResult(false);
    this.result.dataset.outcome = "error";
    this.result.append(el("p", { class: "outcome outcome-error", text: message }));
    this.setStatus(message, "error");
  }

  showDeployed(body) {
    this.draft.clear(); // deployed: what the draft kept is now a version on the server
    clearTimeout(this.draftTimer);
    this.clearServerResult(false);
    this.dirty = false;
    delete this.root.dataset.dirty;
    this.result.dataset.outcome = "deployed";
    const headline = body.created ? this.t("deployed", { version: body.version })
      : this.t("unchanged", { version: body.version });
    const lines = body.summary_text || [];
    const links = el("p", {},
      el("a", { href: body.versions_url, text: this.t("to_versions") }),
      body.migration_url ? " · " : null,
      body.migration_url ? el("a", { href: body.migration_url, text: this.t("to_migration") }) : null);
    this.result.append(
      el("p", { class: "outcome outcome-ok", text: headline }),
      lines.length ? el("p", { text: this.t("summary_title") }) : null,
      lines.length ? el("ul", { class: "summary-lines", "data-summary": true },
        ...lines.map((line) => el("li", { text: line }))) : null,
      links,
    );
    this.setStatus(headline, "ok");
  }

  // ------------------------------------------------------------- the screen: size, undo/redo, draft, languages
  bindScreen() {
    const body = this.root.querySelector(".modeler-body");
    const resize = body ? fitEditor(body) : () => {};
    this.resizeEditor = () => {
      resize();
      this.service("canvas").resized();
    };
    this.updateHistory = bindHistory(this.modeler, {
      undo: this.root.querySelector("[data-action=undo]"),
      redo: this.root.querySelector("[data-action=redo]"),
    });
    this.draft = new DraftStore(this.root.dataset.draftKey);
    this.draftTimer = null;
    this.draftBox = this.root.querySelector("[data-draft]");
  }

  noteUntranslated(text) {
    if (this.untranslated.has(text)) return;
    this.untranslated.add(text);
    this.root.dataset.untranslated = JSON.stringify([...this.untranslated]);
  }

  scheduleDraft() {
    clearTimeout(this.draftTimer);
    this.draftTimer = setTimeout(() => this.saveDraft(), DRAFT_AFTER_MS);
  }

  async saveDraft() {
    if ((!this.edited && !this.dirty) || this.draftPending) return;
    try {
      const { xml } = await this.modeler.saveXML({ format: false });
      if (this.draft.write(xml, { fileName: this.fileName, base: this.root.dataset.baseVersion || "" })) {
        this.root.dataset.draftSaved = "true";
      }
    } catch (error) {
      console.warn("modeler: the draft cannot be written:", error);
    }
  }

  // A draft kept from an earlier visit that differs from the server's diagram: continue with it, or drop it.
  offerDraft(serverXml) {
    const draft = this.draft.read();
    if (!draft || !this.draftBox) return;
    if (draft.xml === serverXml) {
      this.draft.clear();
      return;
    }
    const time = draftTime(draft.saved, this.lang);
    const resume = el("button", { type: "button", class: "primary", "data-draft-action": "resume",
      text: this.t("draft_resume", { time }) });
    const discard = el("button", { type: "button", "data-draft-action": "discard", text: this.t("draft_discard") });
    this.draftPending = true; // the kept draft stays as it is until the owner chooses
    const close = () => {
      this.draftPending = false;
      this.draftBox.replaceChildren();
      this.draftBox.hidden = true;
      this.resizeEditor();
    };
    resume.addEventListener("click", async () => {
      close();
      if (await this.open(draft.xml, draft.fileName)) {
        this.edited = true;
        this.dirty = true;
        this.root.dataset.dirty = "true";
        this.setStatus(this.t("draft_resumed", { time }));
        this.saveDraft();
      }
      this.buttons.validate.focus();
    });
    discard.addEventListener("click", () => {
      this.draft.clear();
      close();
      this.setStatus(this.t("draft_discarded"));
      this.buttons.validate.focus();
    });
    this.draftBox.replaceChildren(
      el("p", { id: "draf-judul", text: this.t("draft_found", { time }) }),
      el("div", { class: "actions" }, resume, discard));
    this.draftBox.hidden = false;
    this.resizeEditor();
    resume.focus();
  }

  focusElement(id, select = true) {
    const registry = this.service("elementRegistry");
    const element = registry.get(id);
    if (!element) return;
    const canvas = this.service("canvas");
    if (select) this.service("selection").select(element);
    try {
      canvas.scrollToElement(element, { top: 120, bottom: 120, left: 120, right: 120 });
    } catch { /* an element on another plane */ }
    for (const other of registry.filter((e) => canvas.hasMarker(e, FOCUS_MARKER))) {
      canvas.removeMarker(other, FOCUS_MARKER);
    }
    canvas.addMarker(element, FOCUS_MARKER);
  }
}

const root = document.querySelector("[data-modeler]");
if (root) {
  const page = new ModelerPage(root);
  page.load();
}

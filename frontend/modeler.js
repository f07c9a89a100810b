// The process owner's modeler page: bpmn-js Modeler with the properties panel (Camunda 7 extensions: form fields in
// camunda:formData, timers, conditions), bpmnlint while editing, import/download of .bpmn files, and the server's
// validation and deployment. The page gives everything through data-* attributes on `[data-modeler]`:
//   data-src            GET → {"xml", "version"}: the newest deployed version (or the bundled diagram)
//   data-validate-url   POST the XML → 200 {"process_key", "warnings"} | 422 {"error": {"message", "fields"}}
//   data-deploy-url     POST the XML → 201/200 {"version", "sha256", "created", "summary_text", ...} | 422 as above
//   data-csrf           the CSRF token, sent as X-CSRFToken
//   data-lanes          JSON list of the lane names that a role works in (for our lint rule)
//   data-texts          JSON object of the page's texts in the user's language
// Loaded as a module from /static/dist/ (built by frontend/build.mjs); nothing is made global, no inline code.
import BpmnModeler from "bpmn-js/lib/Modeler";
import {
  BpmnPropertiesPanelModule,
  BpmnPropertiesProviderModule,
  CamundaPlatformPropertiesProviderModule,
} from "bpmn-js-properties-panel";
import CamundaPlatformBehaviorsModule from "camunda-bpmn-js-behaviors/lib/camunda-platform";
import camundaModdle from "camunda-bpmn-moddle/resources/camunda.json";
import lintModule from "bpmn-js-bpmnlint";

import { lintConfig } from "./lint-config.js";

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

const MAX_BYTES = 2 * 1024 * 1024; // the server's limit (engine/definitions.py MAX_XML_BYTES)
const REQUEST_TIMEOUT_MS = 30_000;
const PROBLEM_MARKER = "alur-problem";
const FOCUS_MARKER = "alur-focus";

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
    this.lanes = parseJson(root.dataset.lanes, []);
    this.csrf = root.dataset.csrf || "";
    this.fileName = root.dataset.fileName || "diagram.bpmn";
    this.serverProblems = [];
    this.serverWarnings = [];
    this.lintIssues = [];
    this.markedIds = [];
    this.dirty = false;
    this.busy = false;

    this.canvasBox = root.querySelector("[data-canvas]");
    this.panelBox = root.querySelector("[data-properties]");
    this.status = root.querySelector("[data-status]");
    this.result = root.querySelector("[data-result]");
    this.resultHint = [...this.result.childNodes].map((node) => node.cloneNode(true));
    this.lintList = root.querySelector("[data-lint]");
    this.lintCount = root.querySelector("[data-lint-count]");
    this.dialog = root.querySelector("[data-confirm-dialog]");
    this.buttons = {
      validate: root.querySelector("[data-action=validate]"),
      deploy: root.querySelector("[data-action=deploy]"),
      download: root.querySelector("[data-action=download]"),
    };
    this.fileInput = root.querySelector("[data-action=import]");

    this.modeler = new BpmnModeler({
      container: this.canvasBox,
      propertiesPanel: { parent: this.panelBox },
      additionalModules: [
        BpmnPropertiesPanelModule,
        BpmnPropertiesProviderModule,
        CamundaPlatformPropertiesProviderModule,
        CamundaPlatformBehaviorsModule,
        HiddenGroupsModule,
        lintModule,
      ],
      moddleExtensions: { camunda: camundaModdle },
      linting: {
        active: true,
        bpmnlint: lintConfig({ lanes: this.lanes, messages: this.texts.lint_rules || {} }),
      },
    });
    this.bindEvents();
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
    eventBus.on("linting.completed", ({ issues }) => this.showLint(issues));
    eventBus.on("commandStack.changed", (event) => {
      if (event.trigger === "clear") return; // an import starting, not an edit
      this.edited = true;
      this.dirty = true;
      this.root.dataset.dirty = "true";
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
    }
  }

  async open(xml, fileName) {
    this.clearServerResult();
    try {
      const { warnings } = await this.modeler.importXML(xml);
      this.sourceXml = xml;
      this.edited = false;
      this.service("canvas").zoom("fit-viewport", "auto");
      if (fileName) this.fileName = fileName;
      this.root.dataset.state = "ready";
      this.importWarnings = warnings || [];
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
    const xml = await file.text();
    this.fileInput.value = "";
    if (await this.open(xml, file.name)) {
      const warnings = this.importWarnings.length;
      this.setStatus(warnings ? this.t("imported_warnings", { name: file.name, count: warnings })
        : this.t("imported", { name: file.name }), warnings ? "warn" : "info");
      this.dirty = true;
      this.root.dataset.dirty = "true";
    }
  }

  // The diagram as XML: the file as it was opened while nothing was edited (bpmn-js cannot write back every file it
  // reads, e.g. one binding the camunda prefix to another namespace), else what the modeler exports.
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
  async request(url, options = {}) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
    try {
      return await fetch(url, { credentials: "same-origin", signal: controller.signal, ...options });
    } finally {
      clearTimeout(timer);
    }
  }

  async post(url) {
    const xml = await this.xml();
    const response = await this.request(url, {
      method: "POST",
      headers: { "Content-Type": "application/xml", Accept: "application/json", "X-CSRFToken": this.csrf },
      body: xml,
    });
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

  async validate() {
    if (this.busy) return;
    this.setBusy(true);
    this.setStatus(this.t("validating"));
    try {
      const { status, ok, body } = await this.post(this.root.dataset.validateUrl);
      if (ok) this.showValid(body.warnings || []);
      else if (status === 422 && body && body.error) this.showInvalid(body.error);
      else this.showError(this.failure(status, body));
    } catch (error) {
      this.showError(this.requestFailure(error));
    } finally {
      this.setBusy(false);
    }
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
      else if (status === 422 && body && body.error) this.showInvalid(body.error);
      else this.showError(this.failure(status, body));
    } catch (error) {
      this.showError(this.requestFailure(error));
    } finally {
      this.setBusy(false);
    }
  }

  // -------------------------------------------------------------------------------------- results
  // Forget the last answer of the server (markers included); the hint comes back unless an answer follows.
  clearServerResult(withHint = true) {
    const canvas = this.service("canvas");
    for (const id of this.markedIds) {
      try { canvas.removeMarker(id, PROBLEM_MARKER); } catch { /* element gone */ }
    }
    this.markedIds = [];
    this.serverProblems = [];
    this.result.replaceChildren(...(withHint ? this.resultHint.map((node) => node.cloneNode(true)) : []));
    this.result.removeAttribute("data-outcome");
  }

  elementLabel(id) {
    if (!id) return this.t("whole_diagram");
    const element = this.service("elementRegistry").get(id);
    const name = element && element.businessObject && element.businessObject.name;
    return name ? `${name} (${id})` : id;
  }

  problemItem(id, message, category) {
    const registry = this.service("elementRegistry");
    const label = this.elementLabel(id);
    const target = id && registry.get(id)
      ? el("button", { type: "button", class: "link problem-target", "data-target-id": id,
        title: this.t("show_element"), text: label })
      : el("span", { class: "problem-target", text: label });
    return el("li", { class: `problem problem-${category}` }, target, el("span", { text: ` ${message}` }));
  }

  markProblems(ids) {
    const canvas = this.service("canvas");
    const registry = this.service("elementRegistry");
    for (const id of new Set(ids)) {
      if (id && registry.get(id)) {
        canvas.addMarker(id, PROBLEM_MARKER);
        this.markedIds.push(id);
      }
    }
  }

  showValid(warnings) {
    this.clearServerResult(false);
    this.result.dataset.outcome = "valid";
    this.result.append(el("p", { class: "outcome outcome-ok", text: this.t("deployable") }));
    if (warnings.length) {
      this.result.append(el("p", { text: this.t("warnings_title", { count: warnings.length }) }),
        el("ul", { class: "problems" }, ...warnings.map((w) => this.problemItem(w.element_id, w.message, "warn"))));
    }
    this.setStatus(this.t("deployable"), "ok");
  }

  showInvalid(error) {
    this.clearServerResult(false);
    const fields = error.fields || [];
    this.serverProblems = fields;
    this.result.dataset.outcome = "invalid";
    this.result.append(
      el("p", { class: "outcome outcome-error", text: this.t("not_deployable", { count: fields.length }) }),
      el("ul", { class: "problems", "data-server-problems": true },
        ...fields.map((f) => this.problemItem(f.element_id, f.message, "error"))),
    );
    this.markProblems(fields.map((f) => f.element_id));
    this.setStatus(this.t("not_deployable", { count: fields.length }), "error");
    const first = this.result.querySelector("[data-target-id]");
    if (first) this.focusElement(first.dataset.targetId, false);
  }

  showError(message) {
    this.clearServerResult(false);
    this.result.dataset.outcome = "error";
    this.result.append(el("p", { class: "outcome outcome-error", text: message }));
    this.setStatus(message, "error");
  }

  showDeployed(body) {
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

  showLint(issues) {
    const flat = [];
    for (const [id, reports] of Object.entries(issues || {})) {
      for (const report of reports) {
        const rule = report.rule || "";
        const translated = (this.texts.lint_messages || {})[rule];
        flat.push({ id: report.actualElementId || id, category: report.category === "error" ? "error" : "warn",
          message: translated ? `${translated} [${rule}]` : `${report.message} [${rule}]` });
      }
    }
    flat.sort((a, b) => (a.category === b.category ? 0 : a.category === "error" ? -1 : 1));
    this.lintIssues = flat;
    this.lintList.replaceChildren(...(flat.length
      ? flat.map((issue) => this.problemItem(issue.id, issue.message, issue.category))
      : [el("li", { class: "muted", text: this.t("lint_none") })]));
    const errors = flat.filter((i) => i.category === "error").length;
    if (this.lintCount) {
      this.lintCount.textContent = this.t("lint_count", { errors, warnings: flat.length - errors });
    }
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

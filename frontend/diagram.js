// The case page's process diagram: bpmn-js NavigatedViewer (zoom and pan) with the case's completed, active and
// overdue tasks marked. Each `[data-bpmn-diagram][data-src]` element gets the JSON
// {"xml", "completed": [ids], "active": [ids], "overdue": [ids]} from data-src.
// Loaded as a module from /static/dist/ (built by frontend/build.mjs); nothing is made global.
//
// Other scripts (the auditor's replay) show another state in the same viewer by dispatching
// `alur:diagram-load` on the container with detail {src} (a URL giving that JSON) or {data} (the JSON itself):
// the viewer is kept, the XML re-imported only when it changed, the markers replaced. After every drawing the
// container dispatches `alur:diagram-ready` with detail {completed, active, overdue}.
import NavigatedViewer from "bpmn-js/lib/NavigatedViewer";

// Texts come from the page (data-label-* on the container) so they follow the user's language.
const DEFAULT_LABELS = {
  done: "Selesai",
  active: "Sedang berjalan",
  late: "Terlambat",
  error: "Diagram tidak dapat ditampilkan.",
  diagram: "Diagram alur proses",
};

const MARKERS = [
  ["completed", "alur-done", "done"],
  ["active", "alur-active", "active"],
  ["overdue", "alur-late", "late"],
];

function loadStyles() {
  const href = new URL("./diagram.css", import.meta.url).href;
  if (![...document.querySelectorAll("link[rel=stylesheet]")].some((link) => link.href === href)) {
    const link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = href;
    document.head.append(link);
  }
}

function labelsOf(container) {
  const labels = { ...DEFAULT_LABELS };
  for (const key of Object.keys(labels)) {
    const value = container.dataset[`label${key[0].toUpperCase()}${key.slice(1)}`];
    if (value) labels[key] = value;
  }
  return labels;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text) node.textContent = text;
  return node;
}

// A hatch pattern for overdue tasks, so "late" is not told by colour alone.
function addHatchPattern(svg) {
  const ns = "http://www.w3.org/2000/svg";
  if (!svg || svg.querySelector("#alur-hatch")) return;
  const defs = svg.querySelector("defs") || svg.insertBefore(document.createElementNS(ns, "defs"), svg.firstChild);
  const pattern = document.createElementNS(ns, "pattern");
  pattern.id = "alur-hatch";
  pattern.setAttribute("patternUnits", "userSpaceOnUse");
  pattern.setAttribute("width", "10");
  pattern.setAttribute("height", "10");
  pattern.setAttribute("patternTransform", "rotate(45)");
  const back = document.createElementNS(ns, "rect");
  back.setAttribute("width", "10");
  back.setAttribute("height", "10");
  back.setAttribute("class", "alur-hatch-back");
  const line = document.createElementNS(ns, "rect");
  line.setAttribute("width", "3");
  line.setAttribute("height", "10");
  line.setAttribute("class", "alur-hatch-line");
  pattern.append(back, line);
  defs.append(pattern);
}

async function fetchData(src) {
  const response = await fetch(src, {
    credentials: "same-origin",
    headers: { Accept: "application/json" },
  });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.json();
}

// One viewer per container, kept across loads.
class DiagramView {
  constructor(container) {
    this.container = container;
    this.labels = labelsOf(container);
    this.baseLabel = container.getAttribute("aria-label");
    this.wasImage = container.getAttribute("role") === "img";
    this.viewer = null;
    this.xml = null;
    this.marked = [];
    this.queue = Promise.resolve();
    this.generation = 0;
  }

  fail(reason) {
    const { container, labels } = this;
    if (this.viewer) this.viewer.destroy();
    this.viewer = null;
    this.xml = null;
    this.marked = [];
    container.removeAttribute("role");
    container.removeAttribute("aria-label");
    container.replaceChildren(element("p", "alur-diagram-error", labels.error));
    container.firstChild.setAttribute("role", "alert");
    console.error("diagram:", reason);
  }

  // Loads run one after another; a load superseded by a newer one while it fetched is skipped.
  load(source) {
    const generation = ++this.generation;
    this.queue = this.queue.then(async () => {
      let data = source.data;
      if (!data) {
        try {
          data = await fetchData(source.src);
        } catch (error) {
          if (generation === this.generation) this.fail(error);
          return;
        }
      }
      if (generation !== this.generation) return;
      await this.draw(data);
    }).catch((error) => this.fail(error)); // one failed drawing must not stop the later ones
    return this.queue;
  }

  async draw(data) {
    const { container, labels } = this;
    if (!this.viewer) {
      container.replaceChildren();
      // bpmn-js makes its SVG focusable (keyboard pan and zoom), and an image may not contain a focusable
      // control: the SVG itself becomes the labelled image.
      container.removeAttribute("role");
      container.removeAttribute("aria-label");
      this.canvasBox = element("div", "alur-diagram-canvas");
      container.append(this.canvasBox);
      this.viewer = new NavigatedViewer({ container: this.canvasBox });
    }
    const canvas = this.viewer.get("canvas");
    if (data.xml !== this.xml) {
      try {
        await this.viewer.importXML(data.xml);
      } catch (error) {
        this.fail(error);
        return;
      }
      this.xml = data.xml;
      this.marked = [];
      addHatchPattern(this.canvasBox.querySelector("svg"));
      canvas.zoom("fit-viewport", "auto");
    }
    const registry = this.viewer.get("elementRegistry");
    for (const [id, marker] of this.marked) {
      if (registry.get(id)) canvas.removeMarker(id, marker);
    }
    this.marked = [];

    const summary = [];
    for (const [key, marker, label] of MARKERS) {
      const names = [];
      for (const id of data[key] || []) {
        const shape = registry.get(id);
        if (!shape) continue;
        canvas.addMarker(id, marker);
        this.marked.push([id, marker]);
        names.push(shape.businessObject.name || id);
      }
      if (names.length) summary.push(`${labels[label]}: ${names.join("; ")}`);
    }
    // The SVG says nothing to a screen reader: the state in words, as the SVG's label when the page made the
    // diagram an image, else in visually hidden text. The page shows the colour legend.
    const described = [this.baseLabel || labels.diagram, ...summary].join(". ");
    const svg = this.canvasBox.querySelector("svg");
    if (this.wasImage && svg) {
      svg.setAttribute("role", "img");
      svg.setAttribute("aria-label", described);
    } else {
      container.querySelectorAll(":scope > .alur-sr-only").forEach((node) => node.remove());
      container.append(element("p", "alur-sr-only", described));
    }
    container.classList.add("alur-diagram-ready");
    container.dispatchEvent(new CustomEvent("alur:diagram-ready", {
      detail: { completed: data.completed || [], active: data.active || [], overdue: data.overdue || [] },
    }));
  }
}

function show(container) {
  const view = new DiagramView(container);
  container.addEventListener("alur:diagram-load", (event) => {
    const detail = event.detail || {};
    if (detail.data || detail.src) view.load(detail);
  });
  return view.load({ src: container.dataset.src });
}

const containers = document.querySelectorAll("[data-bpmn-diagram][data-src]");
if (containers.length) {
  loadStyles();
  containers.forEach((container) => show(container));
}

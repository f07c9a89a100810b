// The case page's process diagram: bpmn-js NavigatedViewer (zoom and pan) with the case's completed, active and
// overdue tasks marked. Each `[data-bpmn-diagram][data-src]` element gets the JSON
// {"xml", "completed": [ids], "active": [ids], "overdue": [ids]} from data-src.
// Loaded as a module from /static/dist/ (built by frontend/build.mjs); nothing is made global.
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

async function show(container) {
  const labels = labelsOf(container);
  container.replaceChildren();
  const canvasBox = element("div", "alur-diagram-canvas");
  container.append(canvasBox);
  const fail = (reason) => {
    container.removeAttribute("role");
    container.removeAttribute("aria-label");
    container.replaceChildren(element("p", "alur-diagram-error", labels.error));
    container.firstChild.setAttribute("role", "alert");
    console.error("diagram:", reason);
  };
  let data;
  try {
    const response = await fetch(container.dataset.src, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    data = await response.json();
  } catch (error) {
    fail(error);
    return;
  }
  const viewer = new NavigatedViewer({ container: canvasBox });
  try {
    await viewer.importXML(data.xml);
  } catch (error) {
    viewer.destroy();
    fail(error);
    return;
  }
  const canvas = viewer.get("canvas");
  const registry = viewer.get("elementRegistry");
  addHatchPattern(canvasBox.querySelector("svg"));
  canvas.zoom("fit-viewport", "auto");

  const summary = [];
  for (const [key, marker, label] of MARKERS) {
    const names = [];
    for (const id of data[key] || []) {
      const shape = registry.get(id);
      if (!shape) continue;
      canvas.addMarker(id, marker);
      names.push(shape.businessObject.name || id);
    }
    if (names.length) summary.push(`${labels[label]}: ${names.join("; ")}`);
  }
  // The SVG says nothing to a screen reader: the state in words, in the container's label when the page
  // made it an image, else in visually hidden text. The page shows the colour legend.
  const described = [container.getAttribute("aria-label") || labels.diagram, ...summary].join(". ");
  if (container.getAttribute("role") === "img") container.setAttribute("aria-label", described);
  else container.append(element("p", "alur-sr-only", described));
  container.classList.add("alur-diagram-ready");
}

const containers = document.querySelectorAll("[data-bpmn-diagram][data-src]");
if (containers.length) {
  loadStyles();
  containers.forEach((container) => show(container));
}

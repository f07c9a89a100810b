// The modeler page on the screen: the editor sized to the window, popup menus kept inside it, undo/redo buttons, and a
// draft of the diagram kept in the browser (localStorage) across reloads. Used by frontend/modeler.js.

// ------------------------------------------------------------------------------------------ popup menus
// diagram-js places a popup menu (e.g. the replace menu of a boundary event near the bottom of the canvas) against the
// whole document, so on a page taller than the window it opened below the window's edge. Here every popup is placed
// against the window: below its anchor when it fits, else above it, else as low as it can while inside; the same for
// the width. Its height never exceeds the window's (modeler.css: the list scrolls inside it).
const MARGIN = 8;

export function fitInWindow(size, position, view = { width: window.innerWidth, height: window.innerHeight }) {
  const fit = (start, length, room) => {
    if (start + length <= room - MARGIN) return start;
    if (start - length >= MARGIN) return start - length; // flip to the other side of the anchor
    return Math.max(MARGIN, room - MARGIN - length);
  };
  return { x: fit(position.x, size.width, view.width), y: fit(position.y, size.height, view.height) };
}

function PopupFit(popupMenu, canvas, translate) {
  // PopupMenu#_ensureVisible is the one place diagram-js computes where the popup goes (its initial position).
  popupMenu._ensureVisible = (container, position) => fitInWindow(container.getBoundingClientRect(), position);
  wordSearchCounts(canvas.getContainer(), translate);
}
PopupFit.$inject = ["popupMenu", "canvas", "translate"];

// The popup's search writes its count in words diagram-js does not translate ("3 results found"): rewritten in the
// page's language, in place (the text nodes stay the ones its renderer owns).
function wordSearchCounts(container, translate) {
  const reword = (box) => {
    const count = Number.parseInt(box.textContent, 10);
    if (Number.isNaN(count)) return;
    const text = translate(count === 1 ? "{count} result found" : "{count} results found", { count });
    if (box.textContent === text) return;
    const nodes = [...box.childNodes].filter((node) => node.nodeType === Node.TEXT_NODE);
    if (!nodes.length) return;
    nodes[0].data = text;
    for (const node of nodes.slice(1)) node.data = "";
  };
  new MutationObserver(() => {
    for (const box of container.querySelectorAll(".djs-popup-search-count")) reword(box);
  }).observe(container, { childList: true, subtree: true, characterData: true });
}

export const PopupFitModule = { __init__: ["alurPopupFit"], alurPopupFit: ["type", PopupFit] };

// ---------------------------------------------------------------------------------- the editor's height
// The canvas and the panel take the window's height below their top edge (at least MIN_HEIGHT), so that at 1366×768
// the whole editor is on screen without scrolling the page; the problem list follows below.
const MIN_HEIGHT = 360;

export function fitEditor(body) {
  const resize = () => {
    const top = body.getBoundingClientRect().top + window.scrollY;
    const height = Math.max(MIN_HEIGHT, Math.floor(window.innerHeight - top - MARGIN));
    body.style.setProperty("--modeler-height", `${height}px`);
  };
  resize();
  window.addEventListener("resize", resize);
  return resize;
}

// ----------------------------------------------------------------------------------------- undo / redo
// Buttons for the command stack (the keyboard's Ctrl+Z, Ctrl+Y and Ctrl+Shift+Z are bpmn-js' own, on the canvas),
// disabled when there is nothing to undo or redo.
export function bindHistory(modeler, buttons) {
  const commandStack = modeler.get("commandStack");
  const update = () => {
    if (buttons.undo) buttons.undo.disabled = !commandStack.canUndo();
    if (buttons.redo) buttons.redo.disabled = !commandStack.canRedo();
  };
  if (buttons.undo) buttons.undo.addEventListener("click", () => { commandStack.undo(); update(); });
  if (buttons.redo) buttons.redo.addEventListener("click", () => { commandStack.redo(); update(); });
  modeler.get("eventBus").on(["commandStack.changed", "import.done"], update);
  update();
  return update;
}

// ---------------------------------------------------------------------------------------------- draft
// The diagram as drawn, kept in localStorage under a key the server gives (user, procedure and the version the editor
// was opened from), written a moment after each change. Storage may be full or switched off: then there is no draft,
// and nothing else changes.
export class DraftStore {
  constructor(key, storage = globalThis.localStorage) {
    this.key = key;
    this.storage = key ? storage : null;
  }

  read() {
    if (!this.storage) return null;
    try {
      const draft = JSON.parse(this.storage.getItem(this.key) || "null");
      return draft && typeof draft.xml === "string" && typeof draft.saved === "number" ? draft : null;
    } catch {
      return null;
    }
  }

  write(xml, extra = {}) {
    if (!this.storage) return false;
    try {
      this.storage.setItem(this.key, JSON.stringify({ ...extra, xml, saved: Date.now() }));
      return true;
    } catch (error) {
      console.warn("modeler: the draft cannot be kept in this browser:", error);
      return false;
    }
  }

  clear() {
    if (!this.storage) return;
    try { this.storage.removeItem(this.key); } catch { /* storage switched off */ }
  }
}

// A moment for the draft offer, in the page's language and WIB (the office's time, as the server's pages write it).
export function draftTime(saved, lang) {
  const locale = lang === "en" ? "en-GB" : "id-ID";
  const text = new Intl.DateTimeFormat(locale, {
    day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", timeZone: "Asia/Jakarta",
  }).format(new Date(saved));
  return `${text} WIB`;
}

// ------------------------------------------------------------------------------------------ the first view
// The whole diagram in view, beside the palette rather than under it (diagram-js' "fit-viewport" uses the whole canvas,
// and the palette covered the start event at 1366×768). Narrow canvases (phones) keep the plain fit.
export function fitDiagram(canvas, container) {
  canvas.zoom("fit-viewport", "auto");
  const palette = container.querySelector(".djs-palette");
  const { inner, outer } = canvas.viewbox();
  if (!palette || outer.width < 600 || !inner.width || !inner.height) return;
  const left = palette.getBoundingClientRect().right - container.getBoundingClientRect().left + MARGIN;
  const scale = Math.min((outer.width - left - MARGIN) / inner.width, (outer.height - 2 * MARGIN) / inner.height, 1);
  if (scale <= 0) return;
  canvas.viewbox({
    x: inner.x - left / scale,
    y: inner.y - (outer.height / scale - inner.height) / 2,
    width: outer.width / scale,
    height: outer.height / scale,
  });
}

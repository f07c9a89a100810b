// What tests/browser/test_phone_layout.py checks on a page: the page does not scroll sideways, tags and badges do
// not wrap onto a second line, and no two visible
// leaf-ish elements (controls, links, headings, labels, table cells, tags, file names, ...) are drawn over each
// other by more than a pixel. An element and its ancestors/descendants are never compared; what stays on the
// screen over scrolled content by design (position: sticky or fixed, with its descendants) is left out, as is what
// sits inside the bpmn-js diagram (its own drawing) and what is only for screen readers (1 px or less).
() => {
  const SELECTOR = [
    "a", "button", "input", "select", "textarea", "label", "summary", "legend", "h1", "h2", "h3", "h4", "h5", "h6",
    "th", "td", "dt", "dd", "p", "li", "img", "progress", "blockquote", ".tag", ".badge", ".file-name", ".thumb-name",
    ".deadline", ".step-no", ".decision", "span", "strong", "small", "time", "code",
  ].join(",");
  const width = window.innerWidth;
  const skipped = (el) => {
    for (let e = el; e && e !== document.body; e = e.parentElement) {
      if (e.matches("[data-bpmn-diagram], .bpmn-diagram, .djs-container, svg, .skip-link")) return true;
      const style = getComputedStyle(e);
      if (style.position === "sticky" || style.position === "fixed") return true;
    }
    return false;
  };
  const describe = (el) => {
    const text = (el.innerText || el.value || el.getAttribute("aria-label") || el.getAttribute("alt") || "")
      .trim().replace(/\s+/g, " ").slice(0, 40);
    const cls = el.className && typeof el.className === "string" ? `.${el.className.trim().split(/\s+/).join(".")}` : "";
    return `<${el.tagName.toLowerCase()}${cls}> "${text}"`;
  };
  const boxes = [];
  for (const el of document.body.querySelectorAll(SELECTOR)) {
    const rects = el.getClientRects();
    if (!rects.length) continue; // display: none
    // Also what a closed <details> keeps laid out but does not show (content-visibility: hidden).
    if (el.checkVisibility && !el.checkVisibility({ contentVisibilityAuto: true, visibilityProperty: true,
      opacityProperty: true })) continue;
    const style = getComputedStyle(el);
    if (style.visibility !== "visible" || Number(style.opacity) === 0) continue;
    const r = el.getBoundingClientRect();
    if (r.width <= 1 || r.height <= 1 || r.right <= 0) continue; // screen-reader-only, or moved off the page
    if (el.closest("[hidden]") || skipped(el)) continue;
    // An element that shows no text of its own and is not a control or a picture only groups others.
    const own = Array.from(el.childNodes).some((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
    const control = el.matches("a, button, input, select, textarea, img, progress, summary, .tag, .badge");
    if (!own && !control) continue;
    // Inline text is measured by its line boxes; a block by its box.
    const parts = style.display === "inline" ? Array.from(rects) : [r];
    parts.forEach((p) => boxes.push({ el, x: p.left + window.scrollX, y: p.top + window.scrollY,
      w: p.width, h: p.height }));
  }
  const overlaps = [];
  for (let i = 0; i < boxes.length; i += 1) {
    const a = boxes[i];
    for (let j = i + 1; j < boxes.length; j += 1) {
      const b = boxes[j];
      if (a.el === b.el || a.el.contains(b.el) || b.el.contains(a.el)) continue;
      const dx = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
      const dy = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
      if (dx > 1 && dy > 1) {
        overlaps.push(`${describe(a.el)} × ${describe(b.el)} (${Math.round(dx)}×${Math.round(dy)} px at ` +
          `${Math.round(Math.max(a.x, b.x))},${Math.round(Math.max(a.y, b.y))})`);
      }
    }
  }
  // Tags and badges ("✓ cocok", "Terlambat", counts) keep their words on one line.
  const wrapped = [];
  for (const el of document.body.querySelectorAll(".tag, .badge, .nowrap")) {
    if (!el.getClientRects().length || skipped(el)) continue;
    const tops = new Set();
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!node.textContent.trim() || node.parentElement.closest(".visually-hidden")) continue; // read, not seen
      const range = document.createRange();
      range.selectNodeContents(node);
      Array.from(range.getClientRects()).filter((r) => r.width > 0).forEach((r) => tops.add(Math.round(r.bottom)));
    }
    if (tops.size > 1) wrapped.push(describe(el));
  }
  const seen = new Set();
  return {
    scrollWidth: document.documentElement.scrollWidth,
    width,
    checked: boxes.length,
    wrapped,
    overlaps: overlaps.filter((o) => (seen.has(o) ? false : seen.add(o))).slice(0, 40),
  };
}

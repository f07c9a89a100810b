// The auditor's replay page: step through a case's events without reloading the page. Each step's JSON
// (/audit/kasus/<id>/replay/<n>.json) carries the diagram state {xml, completed, active, overdue} and the step's
// details as server-rendered HTML; the diagram bundle (dist/diagram.js) redraws on `alur:diagram-load`.
// Without JavaScript the links and the slider's form do the same with full page loads.
const root = document.querySelector("[data-replay]");

if (root) {
  const total = Number(root.dataset.total);
  const base = root.dataset.base;
  const prev = root.querySelector("[data-replay-prev]");
  const next = root.querySelector("[data-replay-next]");
  const play = root.querySelector("[data-replay-play]");
  const slider = root.querySelector("[data-replay-slider]");
  const position = root.querySelector("[data-replay-position]");
  const go = root.querySelector("[data-replay-go]");
  const details = document.querySelector("[data-replay-details]");
  const diagram = document.querySelector("[data-bpmn-diagram]");
  const stepLinks = [...document.querySelectorAll("[data-replay-step]")];
  const PLAY_EVERY_MS = 1500;
  let current = Number(root.dataset.n);
  let requested = current;
  let timer = null;

  const positionText = (n) => root.dataset.labelPosition.replace("{n}", n).replace("{total}", total);

  function setLink(link, n, disabled) {
    link.href = `${base}?langkah=${n}`;
    link.classList.toggle("disabled", disabled);
    if (disabled) link.setAttribute("aria-disabled", "true");
    else link.removeAttribute("aria-disabled");
  }

  function showPosition(n) {
    slider.value = String(n);
    slider.setAttribute("aria-valuetext", positionText(n));
    position.textContent = positionText(n);
    setLink(prev, Math.max(1, n - 1), n <= 1);
    setLink(next, Math.min(total, n + 1), n >= total);
    for (const link of stepLinks) {
      if (Number(link.dataset.replayStep) === n) link.setAttribute("aria-current", "step");
      else link.removeAttribute("aria-current");
    }
  }

  // The diagram says when it has drawn; the page then records which step is on screen (tests wait for it).
  if (diagram) {
    diagram.addEventListener("alur:diagram-ready", () => {
      root.dataset.shown = String(current);
    });
  }

  async function show(n) {
    n = Math.min(total, Math.max(1, n));
    requested = n;
    showPosition(n);
    let data;
    try {
      const response = await fetch(`${base}/${n}.json`, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      data = await response.json();
    } catch (error) {
      if (n === requested) {
        position.textContent = root.dataset.labelError;
        stop();
      }
      console.error("replay:", error);
      return;
    }
    if (n !== requested) return; // a newer step was asked for meanwhile
    current = n;
    root.dataset.n = String(n);
    details.innerHTML = data.html;
    history.replaceState(null, "", `${base}?langkah=${n}`);
    // The re-execution comes back to the event on screen, not to the one the page was loaded at.
    for (const form of document.querySelectorAll("[data-replay-verify]")) {
      const action = new URL(form.action, window.location.href);
      action.searchParams.set("langkah", String(n));
      form.action = action.toString();
    }
    if (diagram) {
      diagram.dispatchEvent(new CustomEvent("alur:diagram-load", {
        detail: { data: { xml: data.xml, completed: data.completed, active: data.active, overdue: data.overdue } },
      }));
    }
  }

  function stop() {
    if (timer !== null) clearInterval(timer);
    timer = null;
    play.setAttribute("aria-pressed", "false");
    play.textContent = play.dataset.labelPlay;
  }

  function start() {
    if (requested >= total) show(1);
    play.setAttribute("aria-pressed", "true");
    play.textContent = play.dataset.labelPause;
    timer = setInterval(() => {
      if (requested >= total) stop();
      else show(requested + 1);
    }, PLAY_EVERY_MS);
  }

  prev.addEventListener("click", (event) => {
    event.preventDefault();
    if (requested > 1) show(requested - 1);
  });
  next.addEventListener("click", (event) => {
    event.preventDefault();
    if (requested < total) show(requested + 1);
  });
  slider.addEventListener("input", () => {
    position.textContent = positionText(slider.value);
  });
  slider.addEventListener("change", () => show(Number(slider.value)));
  slider.form.addEventListener("submit", (event) => {
    event.preventDefault();
    show(Number(slider.value));
  });
  for (const link of stepLinks) {
    link.addEventListener("click", (event) => {
      event.preventDefault();
      show(Number(link.dataset.replayStep));
      details.scrollIntoView({ block: "nearest" });
    });
  }
  play.hidden = false;
  play.addEventListener("click", () => (timer === null ? start() : stop()));
  if (go) go.hidden = true; // the slider acts at once when scripts run
  root.dataset.ready = "true";
}

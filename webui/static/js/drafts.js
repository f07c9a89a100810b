// Unsent form drafts: what a person types into a form marked data-draft="<key>" (a task's step form, the new-case
// form) is kept in localStorage as they type, and put back when the page is loaded again before the form was sent
// (a reload, a dropped connection on mobile data, a closed tab). Kept per user: the key holds the user id from
// <body data-user-id>, and a draft is only ever offered to that user.
//
// Kept: text-like inputs, textareas, selects, checkboxes and radio buttons. Never kept: passwords, file inputs,
// hidden inputs (the CSRF token, the uploaded files' ids), disabled or read-only fields.
// Dropped: when the server says the form was accepted (<body data-drafts-done="key ..."> on the page after the
// redirect; a submission refused by validation comes back without it, so its draft stays), when the person
// presses "Buang draf", and all of the user's drafts on logout (the form marked data-logout).
const PREFIX = "alur-draft:";
const DEBOUNCE_MS = 400;
const MAX_AGE_MS = 30 * 24 * 3600 * 1000;
const SKIPPED_TYPES = new Set(["password", "file", "hidden", "submit", "button", "reset", "image"]);

const body = document.body;
const userId = body.dataset.userId;

function storage() {
  try {
    const probe = `${PREFIX}probe`;
    window.localStorage.setItem(probe, "1");
    window.localStorage.removeItem(probe);
    return window.localStorage;
  } catch {
    return null; // private mode, storage disabled or full: no drafts, the form still works
  }
}

const store = storage();

function storageKey(user, key) {
  return `${PREFIX}${user}:${key}`;
}

function removeWhere(test) {
  const doomed = [];
  for (let i = 0; i < store.length; i += 1) {
    const k = store.key(i);
    if (k && k.startsWith(PREFIX) && test(k)) doomed.push(k);
  }
  doomed.forEach((k) => store.removeItem(k));
}

/** The form's fields that a draft keeps, each with a stable name: its name plus its rank among same-named ones. */
function draftFields(form) {
  const seen = new Map();
  const out = [];
  for (const el of form.elements) {
    if (!el.name || el.disabled || el.readOnly) continue;
    const tag = el.tagName;
    if (tag === "INPUT" && SKIPPED_TYPES.has(el.type)) continue;
    if (tag !== "INPUT" && tag !== "TEXTAREA" && tag !== "SELECT") continue;
    if (el.closest("fieldset.files, [data-draft-skip]")) continue; // uploads are the upload widget's
    const rank = seen.get(el.name) || 0;
    seen.set(el.name, rank + 1);
    out.push({ el, id: `${el.name}#${rank}` });
  }
  return out;
}

function read(el) {
  if (el.type === "checkbox" || el.type === "radio") return el.checked;
  if (el.tagName === "SELECT" && el.multiple) return Array.from(el.selectedOptions, (o) => o.value);
  return el.value;
}

function write(el, value) {
  if (el.type === "checkbox" || el.type === "radio") el.checked = Boolean(value);
  else if (el.tagName === "SELECT" && el.multiple) {
    const wanted = new Set(value);
    Array.from(el.options).forEach((o) => { o.selected = wanted.has(o.value); });
  } else el.value = value;
  // Counters and other listeners of the page (task.js) see the value change as if typed.
  el.dispatchEvent(new Event("input", { bubbles: true }));
  el.dispatchEvent(new Event("change", { bubbles: true }));
}

function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

function snapshot(fields) {
  const values = {};
  fields.forEach(({ el, id }) => { values[id] = read(el); });
  return values;
}

function notice(form, onDiscard) {
  const box = document.createElement("div");
  box.className = "draft-notice";
  box.setAttribute("role", "status");
  const text = document.createElement("p");
  text.textContent = body.dataset.msgDraftRestored || "Isian yang belum dikirim dipulihkan";
  const discard = document.createElement("button");
  discard.type = "button";
  discard.className = "draft-discard";
  discard.textContent = body.dataset.msgDraftDiscard || "Buang draf";
  discard.addEventListener("click", () => {
    onDiscard();
    box.remove();
  });
  box.append(text, discard);
  form.prepend(box);
  return box;
}

function keep(form) {
  const key = storageKey(userId, form.dataset.draft);
  const fields = draftFields(form);
  const original = snapshot(fields); // as the server rendered it
  let restored = false;

  let saved = null;
  try {
    saved = JSON.parse(store.getItem(key) || "null");
  } catch {
    saved = null;
  }
  if (saved && (saved.user !== userId || Date.now() - (saved.at || 0) > MAX_AGE_MS || typeof saved.values !== "object")) {
    store.removeItem(key);
    saved = null;
  }
  if (saved) {
    const changed = fields.filter(({ el, id }) => id in saved.values && !same(read(el), saved.values[id]));
    // Radios are written checked-ones-last so that a group ends with the saved choice.
    changed.sort((a, b) => Number(Boolean(saved.values[a.id])) - Number(Boolean(saved.values[b.id])));
    changed.forEach(({ el, id }) => write(el, saved.values[id]));
    if (changed.length) {
      restored = true;
      notice(form, () => {
        store.removeItem(key);
        fields.forEach(({ el, id }) => { if (!same(read(el), original[id])) write(el, original[id]); });
        restored = false;
      });
    }
  }

  let timer = null;
  let submitting = false;
  const save = () => {
    timer = null;
    if (submitting) return;
    const values = snapshot(fields);
    if (!restored && same(values, original)) {
      store.removeItem(key); // nothing typed (or typed back to what the page had): no draft to offer
      return;
    }
    try {
      store.setItem(key, JSON.stringify({ user: userId, at: Date.now(), values }));
    } catch {
      // storage full: the draft is simply not kept
    }
  };
  const later = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(save, DEBOUNCE_MS);
  };
  const now = () => {
    if (timer) {
      clearTimeout(timer);
      save();
    }
  };
  form.addEventListener("input", later);
  form.addEventListener("change", later);
  // Leaving or hiding the page (a reload, switching apps on a phone) writes what the debounce still holds.
  window.addEventListener("pagehide", now);
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "hidden") now(); });
  // The draft stays through the submit: it goes only when the next page says the form was accepted.
  form.addEventListener("submit", () => { now(); submitting = true; });
  window.addEventListener("pageshow", (event) => { if (event.persisted) submitting = false; });
}

if (store) {
  // Stale drafts of anyone (older than MAX_AGE_MS) go; so do the ones the server says were sent.
  removeWhere((k) => {
    try {
      const v = JSON.parse(store.getItem(k) || "null");
      return !v || Date.now() - (v.at || 0) > MAX_AGE_MS;
    } catch {
      return true;
    }
  });
  if (userId) {
    (body.dataset.draftsDone || "").split(/\s+/).filter(Boolean).forEach((k) => store.removeItem(storageKey(userId, k)));
    document.querySelectorAll("form[data-logout]").forEach((form) => {
      form.addEventListener("submit", () => removeWhere((k) => k.startsWith(`${PREFIX}${userId}:`)));
    });
    document.querySelectorAll("form[data-draft]").forEach(keep);
  }
}
// Done with this page's drafts (restored, dropped, watched): tests wait for this mark.
body.dataset.draftsReady = store ? "1" : "0";

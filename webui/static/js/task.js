// Task page (templates/tasks/show.html). Progressive enhancement only: the page works without it.
// Loaded as a module; no inline scripts or handlers anywhere (see the CSP in webui/__init__.py).

const form = document.getElementById("task-form");

function csrfToken() {
  const input = document.querySelector('input[name="csrf_token"]');
  return input ? input.value : "";
}

// ---------------------------------------------------------------- caption counters per platform
function setUpCounters(area) {
  const list = document.getElementById(area.dataset.counters);
  if (!list) return;
  const update = () => {
    const used = Array.from(area.value.replace(/\r\n/g, "\n")).length; // code points, like the server
    list.querySelectorAll("li[data-limit]").forEach((item) => {
      const count = item.querySelector(".count");
      if (count) count.textContent = String(used);
      item.classList.toggle("over", used > Number(item.dataset.limit));
    });
  };
  area.addEventListener("input", update);
  update();
}
document.querySelectorAll("textarea[data-caption-limits]").forEach(setUpCounters);

// ---------------------------------------------------------------- uploads with a progress bar
let pending = 0;

function message(key, fallback) {
  return (form && form.dataset[key]) || fallback;
}

function removeButton(item, name, onRemove) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "remove";
  button.textContent = message("msgRemove", "Hapus");
  button.setAttribute("aria-label", `${button.textContent} ${name}`);
  button.addEventListener("click", () => {
    if (onRemove) onRemove();
    item.remove();
  });
  return button;
}

function uploadOne(file, fieldName, list) {
  const item = document.createElement("li");
  item.className = "file-item uploading";
  const preview = document.createElement("span");
  preview.className = "thumb-placeholder";
  const middle = document.createElement("div");
  const label = document.createElement("span");
  label.className = "file-name";
  label.textContent = file.name;
  const progress = document.createElement("progress");
  progress.max = 100;
  progress.value = 0;
  progress.setAttribute("aria-label", `${message("msgUploading", "Mengunggah…")} ${file.name}`);
  middle.append(label, progress);

  const xhr = new XMLHttpRequest();
  let finished = false;
  const finish = () => {
    if (!finished) {
      finished = true;
      pending -= 1;
    }
  };
  item.append(preview, middle, removeButton(item, file.name, () => {
    if (!finished) xhr.abort();
    finish();
  }));
  list.append(item);
  pending += 1;

  const fail = (text) => {
    item.classList.remove("uploading");
    item.classList.add("failed");
    progress.remove();
    const note = document.createElement("p");
    note.setAttribute("role", "alert");
    note.textContent = text;
    middle.append(note);
  };
  xhr.open("POST", form.dataset.uploadUrl);
  xhr.setRequestHeader("X-CSRFToken", csrfToken());
  xhr.setRequestHeader("Accept", "application/json");
  xhr.upload.addEventListener("progress", (event) => {
    if (event.lengthComputable) progress.value = Math.round((event.loaded * 100) / event.total);
  });
  xhr.addEventListener("load", () => {
    finish();
    let body = null;
    try {
      body = JSON.parse(xhr.responseText);
    } catch {
      body = null;
    }
    if (xhr.status === 201 && body && body.id) {
      const img = document.createElement("img");
      img.src = body.thumbnail_url;
      img.alt = "";
      img.width = 64;
      img.height = 64;
      preview.replaceWith(img);
      progress.remove();
      label.textContent = body.name || file.name;
      const hidden = document.createElement("input");
      hidden.type = "hidden";
      hidden.name = fieldName;
      hidden.value = body.id;
      item.append(hidden);
      item.classList.remove("uploading");
      item.dataset.fileId = body.id;
    } else {
      const reason = body && body.error && body.error.message;
      fail(reason || `${message("msgFailed", "Gagal mengunggah")} (${xhr.status})`);
    }
  });
  xhr.addEventListener("error", () => {
    finish();
    fail(message("msgFailed", "Gagal mengunggah"));
  });
  const data = new FormData();
  data.append("file", file);
  xhr.send(data);
}

if (form) {
  form.querySelectorAll("input[type=file].file-input").forEach((input) => {
    // With JavaScript the files go up one by one as soon as they are chosen; the form then only
    // carries their ids, so the picker itself must not be submitted.
    const fieldName = input.dataset.field;
    input.removeAttribute("name");
    const list = input.closest("fieldset").querySelector(".file-list");
    input.addEventListener("change", () => {
      Array.from(input.files).forEach((file) => uploadOne(file, fieldName, list));
      input.value = "";
    });
  });

  form.addEventListener("submit", (event) => {
    const status = form.querySelector(".form-status");
    if (pending > 0) {
      event.preventDefault();
      if (status) status.textContent = message("msgPending", "Tunggu sampai semua berkas selesai diunggah.");
      return;
    }
    const button = form.querySelector('button[type="submit"]');
    if (button) window.setTimeout(() => { button.disabled = true; }, 0);
  });

  // ---------------------------------------------------------------- one row per platform (step 5)
  const pad = (n) => String(n).padStart(2, "0");
  form.querySelectorAll(".post-row").forEach((row) => {
    const done = row.querySelector(".post-done");
    const time = row.querySelector(".post-time");
    const url = row.querySelector('input[type="url"]');
    if (!done || !time) return;
    done.addEventListener("change", () => {
      if (done.checked && !time.value) {
        const now = new Date();
        time.value = `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}T${pad(now.getHours())}:${pad(now.getMinutes())}`;
      }
      if (done.checked && url && !url.value) url.focus();
    });
  });
}

// ---------------------------------------------------------------- after a refused submission
const summary = document.getElementById("error-summary");
if (summary) summary.focus();

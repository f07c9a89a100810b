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
// Resumable (tus, through the Uppy bundle: frontend/uploads.js) when the bundle loads; else one plain request per
// file to /berkas. Either way a finished file becomes a hidden input carrying its id in the field's name.
let pending = 0;

function message(key, fallback) {
  return (form && form.dataset[key]) || fallback;
}

// "IMG_20240506_081512_0412.jpg" shows as "IMG_20240506_08…_0412.jpg" when it does not fit: the start is cut
// (CSS ellipsis), the end (the last characters, with the extension) always shows. The whole name is the title
// and what a screen reader reads.
const NAME_END = 10;

function nameParts(name) {
  const chars = Array.from(name);
  if (chars.length <= NAME_END + 4) return [name, ""];
  return [chars.slice(0, chars.length - NAME_END).join(""), chars.slice(chars.length - NAME_END).join("")];
}

function fillName(label, name) {
  const [start, end] = nameParts(name);
  const head = document.createElement("span");
  head.className = "name-start";
  head.textContent = start;
  const tail = document.createElement("span");
  tail.className = "name-end";
  tail.textContent = end;
  label.replaceChildren(head, tail);
  label.title = name;
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

function fileItem(file, fieldName, list) {
  const item = document.createElement("li");
  item.className = "file-item uploading";
  const preview = document.createElement("span");
  preview.className = "thumb-placeholder";
  const middle = document.createElement("div");
  middle.className = "file-main";
  const label = document.createElement("span");
  label.className = "file-name";
  fillName(label, file.name);
  const progress = document.createElement("progress");
  progress.max = 100;
  progress.value = 0;
  progress.setAttribute("aria-label", `${message("msgUploading", "Mengunggah…")} ${file.name}`);
  const note = document.createElement("p");
  note.className = "file-note";
  middle.append(label, progress, note);
  let finished = false;
  let cancel = null;
  const finish = () => {
    if (!finished) {
      finished = true;
      pending -= 1;
    }
  };
  item.append(preview, middle, removeButton(item, file.name, () => {
    if (!finished && cancel) cancel();
    finish();
  }));
  list.append(item);
  pending += 1;
  return {
    setCancel(fn) { cancel = fn; },
    progress(loaded, total) {
      progress.value = Math.round((loaded * 100) / total);
      note.textContent = "";
      item.classList.remove("retrying");
    },
    retrying() {
      item.classList.add("retrying");
      note.textContent = message("msgRetrying", "Koneksi terputus; menyambung lagi dan melanjutkan…");
    },
    done(body) {
      if (finished) return;
      finish();
      const img = document.createElement("img");
      img.src = body.thumbnail_url;
      img.alt = "";
      img.width = 64;
      img.height = 64;
      preview.replaceWith(img);
      progress.remove();
      note.textContent = "";
      fillName(label, body.name || file.name);
      const hidden = document.createElement("input");
      hidden.type = "hidden";
      hidden.name = fieldName;
      hidden.value = body.id;
      item.append(hidden);
      item.classList.remove("uploading", "retrying");
      item.dataset.fileId = body.id;
    },
    failed(text) {
      if (finished) return;
      finish();
      item.classList.remove("uploading", "retrying");
      item.classList.add("failed");
      progress.remove();
      note.setAttribute("role", "alert");
      note.textContent = text;
    },
  };
}

function uploadPlain(file, view) {
  const xhr = new XMLHttpRequest();
  view.setCancel(() => xhr.abort());
  xhr.open("POST", form.dataset.uploadUrl);
  xhr.setRequestHeader("X-CSRFToken", csrfToken());
  xhr.setRequestHeader("Accept", "application/json");
  xhr.upload.addEventListener("progress", (event) => {
    if (event.lengthComputable) view.progress(event.loaded, event.total);
  });
  xhr.addEventListener("load", () => {
    let body = null;
    try {
      body = JSON.parse(xhr.responseText);
    } catch {
      body = null;
    }
    if (xhr.status === 201 && body && body.id) {
      view.done(body);
    } else {
      const reason = body && body.error && body.error.message;
      view.failed(reason || `${message("msgFailed", "Gagal mengunggah")} (${xhr.status})`);
    }
  });
  xhr.addEventListener("error", () => view.failed(message("msgFailed", "Gagal mengunggah")));
  const data = new FormData();
  data.append("file", file);
  xhr.send(data);
}

// The resumable uploader, once its bundle has loaded (null: plain uploads).
let resumable = null;
const resumableReady = form && form.dataset.tusUrl
  ? import("../dist/uploads.js").then((bundle) => {
    resumable = bundle.createUploader({
      endpoint: form.dataset.tusUrl,
      csrfToken: csrfToken(),
      messages: {
        failed: message("msgFailed", "Gagal mengunggah"),
        duplicate: message("msgDuplicate", "Berkas ini sudah sedang diunggah."),
      },
    });
    form.dataset.uploads = "resumable";
  }).catch(() => { form.dataset.uploads = "plain"; })
  : Promise.resolve();

function uploadOne(file, fieldName, list) {
  const view = fileItem(file, fieldName, list);
  resumableReady.then(() => {
    if (resumable) {
      view.setCancel(resumable.add(file, { field: fieldName, task: form.dataset.taskId || "" }, view));
    } else {
      uploadPlain(file, view);
    }
  });
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

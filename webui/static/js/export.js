// Export job page (templates/reports/export.html): moves the progress bar by polling the job's JSON until its file
// is ready or it failed. Progressive enhancement only: without it the page shows the state when it was loaded.
const box = document.getElementById("export-job");
const bar = document.getElementById("export-progress");
const percent = document.getElementById("export-percent");
const statusText = document.getElementById("export-status");
const ready = document.getElementById("export-ready");
const link = document.getElementById("export-download");
const file = document.getElementById("export-file");
const error = document.getElementById("export-error");
const POLL_MS = 700;

function show(job) {
  bar.value = job.percent;
  bar.textContent = `${job.percent}%`;
  percent.textContent = `${job.percent}%`;
  statusText.textContent = job.status_text;
  box.dataset.status = job.status;
  if (job.ready) {
    link.href = job.download_url;
    file.textContent = job.file_name;
    ready.hidden = false;
  }
  if (job.error) {
    error.textContent = job.error;
    error.hidden = false;
  }
  return job.status === "queued" || job.status === "running";
}

async function poll() {
  try {
    const response = await fetch(box.dataset.statusUrl, { headers: { Accept: "application/json" }, cache: "no-store" });
    if (response.ok && !show(await response.json())) return;
  } catch (_) {
    // the server is busy or restarting: try again
  }
  setTimeout(poll, POLL_MS);
}

if (box && (box.dataset.status === "queued" || box.dataset.status === "running")) setTimeout(poll, POLL_MS);

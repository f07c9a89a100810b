// Resumable uploads for the task forms (webui/static/js/task.js loads this bundle; without it the page falls back
// to one plain request per file). Uppy's core keeps the files and its tus plugin speaks the tus protocol with
// /berkas/unggah (webui/uploads.py): a connection that drops goes on from the last byte the server has, and the
// upload's address is kept in localStorage (tus-js-client's URL storage, keyed by the file's name, type, size and
// date), so after a page reload the same file chosen again resumes where it stopped. The server answers only the
// user who started it; anyone else's browser is told "not found" and starts afresh.
import Uppy from "@uppy/core";
import Tus from "@uppy/tus";

// Connection lost: try again at once, then after growing pauses (about five minutes in all), then give up.
const RETRY_DELAYS = [0, 1000, 2000, 3000, 5000, 10000, 10000, 20000, 30000, 60000, 60000, 60000];
// Each PATCH carries at most this much: a connection that hangs half-open loses no more than one piece.
const CHUNK_BYTES = 5 * 1024 * 1024;

function errorMessage(error, response, fallback) {
  const xhr = response?.body?.xhr || error?.originalResponse?.getUnderlyingObject?.();
  if (xhr && xhr.responseText) {
    try {
      const body = JSON.parse(xhr.responseText);
      if (body && body.error && body.error.message) return body.error.message;
    } catch {
      // not JSON: the fallback below
    }
  }
  return fallback;
}

/**
 * One uploader per form. ``add(file, meta, handlers)`` starts an upload; ``handlers`` get
 * ``progress(bytesUploaded, bytesTotal)``, ``retrying()``, ``done(storedFile)`` and ``failed(message)``.
 * ``add`` returns a function that cancels the upload (its partial on the server is given up too).
 */
export function createUploader({ endpoint, csrfToken, messages }) {
  const uppy = new Uppy({ autoProceed: true, allowMultipleUploadBatches: true });
  uppy.use(Tus, {
    endpoint,
    headers: { "X-CSRFToken": csrfToken },
    chunkSize: CHUNK_BYTES,
    retryDelays: RETRY_DELAYS,
    removeFingerprintOnSuccess: true,
    limit: 2,
    allowedMetaFields: ["filename", "filetype", "field", "task"],
  });
  const handlersOf = new Map();

  uppy.on("upload-progress", (file, progress) => {
    const h = file && handlersOf.get(file.id);
    if (h && progress.bytesTotal) h.progress(progress.bytesUploaded, progress.bytesTotal);
  });
  uppy.on("upload-success", async (file, response) => {
    const h = handlersOf.get(file.id);
    handlersOf.delete(file.id);
    // The stored file is asked for before the file leaves Uppy: removing it can make the tus client end the upload
    // on the server (a resumed upload keeps its address), and what is asked for afterwards is gone.
    try {
      if (!h) return;
      const answer = await fetch(response.uploadURL, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      const body = await answer.json();
      if (answer.ok && body.file) h.done(body.file);
      else h.failed(messages.failed);
    } catch {
      if (h) h.failed(messages.failed);
    } finally {
      uppy.removeFile(file.id);
    }
  });
  uppy.on("upload-error", (file, error, response) => {
    const h = file && handlersOf.get(file.id);
    if (!file) return;
    handlersOf.delete(file.id);
    uppy.removeFile(file.id);
    if (h) h.failed(errorMessage(error, response, messages.failed));
  });

  function add(file, meta, handlers) {
    let id;
    try {
      id = uppy.addFile({
        name: file.name,
        type: file.type,
        data: file,
        meta: { filename: file.name, filetype: file.type || "", ...meta },
      });
    } catch {
      handlers.failed(messages.duplicate);
      return () => {};
    }
    handlersOf.set(id, handlers);
    // Per file, so the page can say the connection is being tried again.
    uppy.setFileState(id, {
      tus: {
        onShouldRetry(error, attempt, options, next) {
          const again = next(error);
          if (again) handlers.retrying();
          return again;
        },
      },
    });
    return () => {
      if (!handlersOf.has(id)) return;
      handlersOf.delete(id);
      uppy.removeFile(id);
    };
  }

  return { add, uppy };
}

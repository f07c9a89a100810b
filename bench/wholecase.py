"""A whole case over HTTP through gunicorn: the 17 requests of the SOP from start to finish (issue 19).

Per case: create it (Tim Pelaksana); for each of the five steps the actor's inbox (``GET /tasks?scope=mine`` for
step 1, which its creator holds, ``scope=lane`` for the others), the task (``GET /tasks/<id>``) and one
take-and-complete request (``POST /tasks/<id>/complete`` with ``"_claim": true``); then the case
(``GET /cases/<id>``). The four photos of step 1 are uploaded beforehand with the upload API (four new files per
case, not counted in the case's time). Each client has its own four users (one per lane) and one keep-alive
connection (``http.client``: gunicorn's sync workers close it after each answer, and it is opened again).

Figures: one client (median and p95 of a whole case), four clients at once (cases per minute and p95), and the
resident memory of gunicorn's master and of its workers afterwards.
"""
from __future__ import annotations

import http.client
import io
import json
import statistics
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from PIL import Image

from bench.livestack import API_PREFIX, LocalStack, StackUser
from ops.simulation import FORMS, NARASI, unggah_form
from process.deadlines import WIB

from .common import percentile, proc_status_mb

TEAM = "bench"
ROLES = ("tim_pelaksana", "admin_medsos", "wapimred", "pimred")
#: The actor of each of the five steps, and its form (step 1's is built per case, with its photos).
STEPS = (("tim_pelaksana", "mine", None), ("admin_medsos", "lane", FORMS["terima"]),
         ("wapimred", "lane", FORMS["koreksi"]), ("pimred", "lane", FORMS["setuju"]),
         ("admin_medsos", "lane", "unggah"))
REQUESTS_PER_CASE = 17
PHOTOS = 4
SHORTCUT = ("whole case: 17 requests (create; 5 x inbox, task, take-and-complete; the case), the 4 photos of "
            "step 1 uploaded beforehand with the upload API, 4 new files per case, not timed")


class BenchError(RuntimeError):
    pass


def _png(n: int) -> bytes:
    """A small PNG unique to ``n`` (the file store would otherwise find the same content again)."""
    image = Image.new("RGB", (8, 8), (n % 251, (n // 251) % 251, 90))
    image.putpixel((0, 0), ((n >> 16) & 255, (n >> 8) & 255, n & 255))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


class _Connection:
    """One keep-alive HTTP connection of one client; each request names its user's bearer token."""

    def __init__(self, base_url: str):
        parts = urlsplit(base_url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)

    def call(self, method: str, path: str, token: str, body: dict | None = None) -> dict | list:
        headers = {"Authorization": f"Bearer {token}", "Accept-Language": "id"}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            try:
                self.connection.request(method, API_PREFIX + path, body=data, headers=headers)
                response = self.connection.getresponse()
                text = response.read().decode("utf-8", "replace")
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # A kept connection the server had closed meanwhile (idle timeout): nothing was processed.
                self.connection.close()
                if attempt == 2 or method != "GET":
                    raise
        if response.status >= 300:
            raise BenchError(f"{method} {path}: {response.status} {text[:300]}")
        return json.loads(text)

    def close(self) -> None:
        self.connection.close()


def _items(body) -> list:
    """The inbox's rows, whether the list comes bare or as ``{items, total, next_cursor}``."""
    return body["items"] if isinstance(body, dict) else body


class Client:
    """One client: four users (one per lane) and a connection; works whole cases one after another."""

    def __init__(self, stack: LocalStack, k: int):
        self.k = k
        self.tokens = {role: stack.client(f"wc{k}_{role}").token for role in ROLES}
        self.uploader = stack.client(f"wc{k}_tim_pelaksana")
        self.connection = _Connection(stack.base_url)
        self.photos: list[list[str]] = []
        self.per_request: dict[str, list[float]] = {}

    def upload_photos(self, cases: int, start: int) -> None:
        for c in range(cases):
            ids = []
            for p in range(PHOTOS):
                n = 1 + (self.k * 100_000 + start + c) * PHOTOS + p
                result = self.uploader.upload(f"foto{n}.png", _png(n), "image/png")
                if result.status != 201:
                    raise BenchError(f"upload: {result.status} {result.body or result.error}")
                ids.append(result.body["id"])
            self.photos.append(ids)

    def _timed(self, kind: str, method: str, path: str, role: str, body: dict | None = None):
        started = time.perf_counter()
        result = self.connection.call(method, path, self.tokens[role], body)
        self.per_request.setdefault(kind, []).append(time.perf_counter() - started)
        return result

    def whole_case(self, n: int) -> float:
        """One case from start to finish (17 requests); its seconds."""
        photos = self.photos.pop()
        day = datetime.now(UTC).astimezone(WIB).date().isoformat()
        activity = f"Sosialisasi tahapan {self.k}-{n}"
        started = time.perf_counter()
        created = self._timed("create case", "POST", "/cases", "tim_pelaksana",
                              {"nama_kegiatan": activity, "tanggal_kegiatan": day, "tempat_kegiatan": "Padang",
                               "tim": TEAM})
        task_id = created["task_id"]
        for number, (role, scope, form) in enumerate(STEPS, start=1):
            _items(self._timed("inbox", "GET", "/tasks?" + urlencode({"scope": scope}), role))
            task = self._timed("task", "GET", f"/tasks/{task_id}", role)
            if form is None:
                form = {"nama_kegiatan": activity, "tanggal_kegiatan": day, "tempat_kegiatan": "Padang",
                        "foto": photos, "narasi": NARASI, "caption": "Sosialisasi #KPUSumbar",
                        "catatan_sumber": "Foto oleh tim humas."}
            elif form == "unggah":
                form = unggah_form(datetime.now(UTC), n)
            done = self._timed("take and complete", "POST", f"/tasks/{task_id}/complete", role,
                               {**form, "_claim": True, "_version": task["lock_version"]})
            if number < len(STEPS):
                if len(done["ready"]) != 1:
                    raise BenchError(f"step {number} of case {created['case_id']} left {done['ready']} ready")
                task_id = done["ready"][0]["id"]
            elif done["status"] != "completed":
                raise BenchError(f"case {created['case_id']} did not end: {done['status']}")
        self._timed("case", "GET", f"/cases/{created['case_id']}", "tim_pelaksana")
        return time.perf_counter() - started

    def close(self) -> None:
        self.connection.close()
        self.uploader.close()


def _users(clients: int) -> list[StackUser]:
    return [StackUser(f"wc{k}_{role}", [role], team=TEAM if role == "tim_pelaksana" else None)
            for k in range(clients) for role in ROLES]


def _parallel(clients: list[Client], cases_each: int, counter: list[int]) -> tuple[list[float], float, list[str]]:
    times: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def work(client: Client) -> None:
        for _ in range(cases_each):
            with lock:
                counter[0] += 1
                n = counter[0]
            try:
                seconds = client.whole_case(n)
            except (BenchError, OSError, http.client.HTTPException) as exc:
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")
                continue
            with lock:
                times.append(seconds)

    threads = [threading.Thread(target=work, args=(c,)) for c in clients]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times, time.perf_counter() - started, errors


def measure(stack: LocalStack, *, single_cases: int, parallel_cases_each: int, parallel_clients: int = 4,
            warmup: int = 2) -> dict:
    """On a started stack (users from :func:`add_users`): one client, then ``parallel_clients`` at once."""
    clients = [Client(stack, k) for k in range(parallel_clients)]
    counter = [0]
    figures: dict = {}
    try:
        clients[0].upload_photos(warmup + single_cases, 0)
        for c in clients:
            c.upload_photos(warmup + parallel_cases_each, 1000)
        for _ in range(warmup):  # first requests of each worker: imports, caches, connections
            counter[0] += 1
            clients[0].whole_case(counter[0])
        clients[0].per_request.clear()
        single = []
        for _ in range(single_cases):
            counter[0] += 1
            single.append(clients[0].whole_case(counter[0]))
        per_request = {kind: round(1000 * statistics.median(v), 2) for kind, v in clients[0].per_request.items()}
        _parallel(clients, warmup, counter)  # every worker warm
        times, elapsed, errors = _parallel(clients, parallel_cases_each, counter)
    finally:
        for c in clients:
            c.close()
    if not times:
        raise BenchError(f"no whole case succeeded with {parallel_clients} clients: {errors[:3]}")
    figures.update({
        "whole_case_median_ms": round(1000 * statistics.median(single), 1),
        "whole_case_p95_ms": round(1000 * percentile(single, 95), 1),
        "whole_case_cases": len(single),
        "whole_case_request_median_ms": per_request,
        "whole_case_4clients_per_min": round(60 * len(times) / elapsed, 1),
        "whole_case_4clients_p95_ms": round(1000 * percentile(times, 95), 1),
        "whole_case_4clients_median_ms": round(1000 * statistics.median(times), 1),
        "whole_case_4clients_cases": len(times),
        "whole_case_errors": len(errors),
        "whole_case_error_examples": errors[:3],
    })
    return figures


def rss(stack: LocalStack) -> dict:
    master = stack.web_master_pid()
    workers = [proc_status_mb(pid, "VmRSS") for pid in stack.web_worker_pids()]
    return {"rss_master_mb": proc_status_mb(master, "VmRSS") if master else None,
            "rss_worker_mb": max((w for w in workers if w is not None), default=None)}


def run(workdir: Path, url: str, *, quick: bool, workers: int = 2, threads: int | None = None,
        log: Callable[[str], None] = print) -> dict:
    """A fresh stack (``alur serve --workers N``) and the whole-case runs; the RSS of its processes after them."""
    single, each = (6, 3) if quick else (40, 15)
    with LocalStack(url, workdir, web_workers=workers) as stack:
        stack.add_users(_users(4))
        stack.start_web(workers, threads)
        figures = measure(stack, single_cases=single, parallel_cases_each=each)
        figures.update(rss(stack))
    figures["whole_case_server"] = f"{workers} workers x {threads or 1} thread(s)"
    return figures


def compare_servers(workdir: Path, url: str, configs: list[tuple[int, int]], *, cases_each: int = 15,
                    log: Callable[[str], None] = print) -> list[dict]:
    """The four-client run under several (workers, threads) settings of ``alur serve``, each on a fresh stack."""
    rows = []
    for workers, threads in configs:
        with LocalStack(url, workdir / f"serve-{workers}x{threads}", web_workers=workers) as stack:
            stack.add_users(_users(4))
            stack.start_web(workers, threads)
            figures = measure(stack, single_cases=10, parallel_cases_each=cases_each)
            row = {"workers": workers, "threads": threads,
                   "class": "gthread" if threads > 1 else "sync", **rss(stack),
                   **{k: figures[k] for k in ("whole_case_median_ms", "whole_case_p95_ms",
                                              "whole_case_4clients_per_min", "whole_case_4clients_p95_ms",
                                              "whole_case_4clients_median_ms", "whole_case_errors")}}
        log(json.dumps(row))
        rows.append(row)
    return rows


if __name__ == "__main__":  # python -m bench.wholecase [DATABASE_URL [PASSES]]: the serve settings compared (README)
    import sys
    import tempfile

    target = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
    passes = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    settings = [(2, 1), (3, 1), (4, 1), (2, 2), (2, 4), (3, 2)]
    with tempfile.TemporaryDirectory(prefix="alur-serve-") as tmp:
        for p in range(passes):  # in turn, so that a busy spell of the machine falls on every setting alike
            compare_servers(Path(tmp) / f"pass{p}", target, settings, cases_each=20)

"""Task completions per second through gunicorn on 127.0.0.1, over the JSON API, with concurrent clients."""
from __future__ import annotations

import http.client
import json
import statistics
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import select

from bench.livestack import API_PREFIX, LocalStack, StackUser
from bench.sop import TASK_TERIMA
from engine.models import TaskRow
from ops.simulation import FORMS

from .bulk import copies_of_one_case
from .common import peak_rss_mb, percentile

#: The step every client completes: Admin Medsos accepts the documentation (the case moves on to the
#: Wakil Pimpinan Redaksi, who are notified).
STEP = TASK_TERIMA
FORM = FORMS["terima"]


def _prepare(stack: LocalStack, tasks: int) -> list[str]:
    """``tasks`` cases waiting at :data:`STEP`: one real case (service layer) and bulk copies of it."""
    system = stack.system()
    copies_of_one_case(system, STEP, tasks, seed=17, claimed_share=0.0)
    with system.sessions() as session:
        return list(session.execute(select(TaskRow.id).where(TaskRow.state == "ready", TaskRow.bpmn_id == STEP,
                                                             TaskRow.claimed_by.is_(None))
                                    .order_by(TaskRow.instance_id)).scalars())


class _LoadClient:
    """The load's HTTP client: one POST per connection (gunicorn's sync workers close each one), over
    ``http.client``. The load runs on the same two cores as the server; ``requests`` cost about a fifth of the
    machine's CPU in this run (py-spy), taken from the server it measures."""

    def __init__(self, base_url: str, token: str):
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                        "Accept-Language": "id"}

    def post(self, path: str, body: dict) -> tuple[int | None, str]:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            connection.request("POST", API_PREFIX + path, body=json.dumps(body), headers=self.headers)
            response = connection.getresponse()
            return response.status, response.read().decode("utf-8", "replace")
        except (OSError, http.client.HTTPException) as exc:
            return None, f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()


def _client_loop(client: _LoadClient, task_ids: list[str], latencies: dict[str, list[float]],
                 errors: list[str]) -> None:
    """Each task is taken and completed in one request (``_claim``), as a client that fills in the form of a
    task nobody holds does."""
    for task_id in task_ids:
        started = time.perf_counter()
        status, body = client.post(f"/tasks/{task_id}/complete", {**FORM, "_claim": True})
        ended = time.perf_counter()
        if status is None or status >= 300:
            errors.append(f"{task_id}: {status} {body[:300]}")
            continue
        latencies["complete"].append(ended - started)


def _round(clients, task_ids: list[str]) -> dict:
    """Every client works its own share of ``task_ids`` at once; completions per second and latencies."""
    latencies = {"complete": []}
    errors: list[str] = []
    shares = [task_ids[k::len(clients)] for k in range(len(clients))]
    threads = [threading.Thread(target=_client_loop, args=(c, share, latencies, errors))
               for c, share in zip(clients, shares)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    return {"completions": len(latencies["complete"]), "seconds": elapsed,
            "per_s": len(latencies["complete"]) / elapsed, "latencies": latencies, "errors": errors}


def run(workdir: Path, url: str, *, threads: int, per_thread: int, rounds: int, workers: int = 2) -> dict:
    """Start ``alur serve --workers N`` on a fresh database (:class:`LocalStack`), prepare the tasks, and let
    ``threads`` clients take and complete them over the API (one request each), ``rounds`` times."""
    warmup = 2
    total = threads * (warmup + per_thread * rounds)
    with LocalStack(url, workdir, web_workers=workers) as stack:
        users = [StackUser(f"bench_admin{k}", ["admin_medsos"]) for k in range(threads)]
        users += [StackUser(f"bench_wapimred{k}", ["wapimred"]) for k in range(2)]  # they get notified
        stack.add_users(users)
        task_ids = _prepare(stack, total)
        if len(task_ids) < total:
            raise RuntimeError(f"only {len(task_ids)} of {total} tasks were prepared")
        stack.start_web(workers)
        api_clients = [stack.client(u.username) for u in users[:threads]]  # logs in: a token each
        clients = [_LoadClient(c.base_url, c.token) for c in api_clients]
        try:
            _round(clients, task_ids[:threads * warmup])  # first requests: imports, caches, connections
            results = []
            for r in range(rounds):
                start = threads * (warmup + per_thread * r)
                results.append(_round(clients, task_ids[start:start + threads * per_thread]))
            worker_rss = [peak_rss_mb(pid) for pid in stack.web_worker_pids()]
        finally:
            for c in api_clients:
                c.close()
    errors = [e for r in results for e in r["errors"]]
    pooled = {k: [x for r in results for x in r["latencies"][k]] for k in ("complete",)}
    if not pooled["complete"]:
        raise RuntimeError(f"no completion succeeded over HTTP: {errors[:3]}")
    return {
        "http_completions_per_s": round(statistics.median(r["per_s"] for r in results), 1),
        "http_p50_ms": round(1000 * percentile(pooled["complete"], 50), 2),
        "http_p95_ms": round(1000 * percentile(pooled["complete"], 95), 2),
        "http_completions": sum(r["completions"] for r in results),
        "http_errors": len(errors),
        "http_error_examples": errors[:3],
        "http_threads": threads,
        "http_workers": workers,
        "peak_rss_mb": max((r for r in worker_rss if r is not None), default=None),
    }

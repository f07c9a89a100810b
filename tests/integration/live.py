"""Helpers of the live tests: SOP cases driven through the JSON API, racing threads, database checks."""
from __future__ import annotations

import json
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import func, select

from bench.livestack import ApiClient, ApiResult, LocalStack
from engine.consistency import check_projection
from engine.models import EventRow, Instance, TaskRow
from tests.factories import FORMS, NARASI, png

#: What a loser of a race reads (webui/errors.py, Bahasa Indonesia), by error code.
#: The error codes a request that lost a race may get (each a 409 whose message is the catalogue's, rendered with
#: the error's params: checked against process/messages.py).
CONFLICT_CODES = frozenset({"task.already_claimed", "task.not_ready", "task.waiting_no_more", "case.changed",
                            "conflict", "task.held_by_other", "task.changed_hands"})


def expect(result: ApiResult, status: int, what: str) -> dict:
    assert result.status == status, f"{what}: expected {status}, got {result.status} {result.body or result.error}"
    return result.body


PHOTOS = 4


def photo(i: int) -> dict:
    """The ``files`` argument of an upload request: a small PNG, different per ``i``."""
    return {"file": (f"foto{i}.png", png((i * 50 % 256, 20, 20)), "image/png")}


def step1_values(activity: str, day: date, photo_ids: list[str]) -> dict:
    return {"nama_kegiatan": activity, "tanggal_kegiatan": day.isoformat(), "tempat_kegiatan": "Padang",
            "foto": photo_ids, "narasi": NARASI, "caption": "Sosialisasi #KPUSumbar",
            "catatan_sumber": "Foto oleh tim humas, narasi diperiksa ketua divisi."}


def step1_form(api: ApiClient, activity: str, day: date) -> dict:
    ids = [expect(api.call("POST", "/files", files=photo(i)), 201, "upload")["id"] for i in range(PHOTOS)]
    return step1_values(activity, day, ids)


def case_at_terima(api: ApiClient, activity: str, day: date) -> tuple[int, str]:
    """Start a case as Tim Pelaksana and hand in step 1; returns (case id, id of the ready Task_Terima)."""
    created = expect(api.post("/cases", {"nama_kegiatan": activity, "tanggal_kegiatan": day.isoformat(),
                                         "tempat_kegiatan": "Padang"}), 201, "start case")
    task = created["task_id"]
    expect(api.post(f"/tasks/{task}/claim"), 200, "claim step 1")
    done = expect(api.post(f"/tasks/{task}/complete", step1_form(api, activity, day)), 200, "complete step 1")
    (terima,) = [t for t in done["ready"] if t["bpmn_id"] == "Task_Terima"]
    return created["case_id"], terima["id"]


TERIMA_FORM = FORMS["terima"]


@dataclass
class Tally:
    """Outcomes of a batch of requests, thread-safe."""

    statuses: Counter = field(default_factory=Counter)
    codes: Counter = field(default_factory=Counter)
    messages: dict = field(default_factory=dict)
    no_answer: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, result: ApiResult) -> None:
        with self.lock:
            self.statuses[result.status] += 1
            if result.status is None:
                self.no_answer.append(result.error)
            elif not result.ok:
                self.codes[result.error_code] += 1
                self.messages.setdefault(result.error_code, set()).add(
                    (result.error_message, json.dumps(result.error_params, sort_keys=True)))

    @property
    def sent(self) -> int:
        return sum(self.statuses.values())

    @property
    def successes(self) -> int:
        return sum(n for s, n in self.statuses.items() if s is not None and 200 <= s < 300)

    @property
    def server_errors(self) -> int:
        return sum(n for s, n in self.statuses.items() if s is not None and s >= 500)


def race(clients: Sequence[ApiClient], call: Callable[[ApiClient], ApiResult], timeout: float = 60) -> list[ApiResult]:
    """Every client sends ``call`` at the same moment (a barrier), each from its own thread; their results."""
    barrier = threading.Barrier(len(clients))
    results: list[ApiResult | None] = [None] * len(clients)

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=timeout)
        except threading.BrokenBarrierError:
            results[i] = ApiResult(None, error="barrier broken")
            return
        results[i] = call(clients[i])

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), "a racing request did not finish in time"
    return [r for r in results if r is not None]


def audit_verify(stack: LocalStack) -> str:
    done = stack.cli("audit", "verify", check=False)
    assert done.returncode == 0, f"alur audit verify failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout.strip()


def projection_problems(stack: LocalStack, instance_ids=None) -> list[str]:
    system = stack.system()
    with system.sessions() as session:
        return [str(p) for p in check_projection(session, system.engine, instance_ids)]


def events_per(stack: LocalStack, type_: str) -> Counter:
    """How many events of ``type_`` each (case, task) has."""
    system = stack.system()
    with system.sessions() as session:
        rows = session.execute(select(EventRow.instance_id, EventRow.task_id, func.count())
                               .where(EventRow.type == type_).group_by(EventRow.instance_id, EventRow.task_id))
        return Counter({(i, t): n for i, t, n in rows})


def running_due(stack: LocalStack, now) -> int:
    """Running cases with a timer due at ``now`` (what a worker still has to fire)."""
    system = stack.system()
    with system.sessions() as session:
        return session.execute(select(func.count()).select_from(Instance)
                               .where(Instance.status == "running", Instance.next_timer_at <= now)).scalar()


def summary_ms(values: Sequence[float]) -> str:
    if not values:
        return "n/a"
    return (f"median {1000 * statistics.median(values):.0f} ms, worst {1000 * max(values):.0f} ms "
            f"(n={len(values)})")


def watch_overdue(system, ids: Sequence[int], seconds: float) -> dict[int, datetime]:
    """Watch cases from outside, as a person refreshing the inbox would: when each one's overdue mark (the effect
    of its timer) was first committed and visible, for at most ``seconds``."""
    seen: dict[int, datetime] = {}
    deadline = time.monotonic() + seconds
    while len(seen) < len(ids) and time.monotonic() < deadline:
        with system.sessions() as session:
            marked = session.execute(select(TaskRow.instance_id).where(TaskRow.instance_id.in_(ids),
                                                                       TaskRow.overdue_at.is_not(None))).scalars()
            at = datetime.now(UTC)
            for instance_id in marked:
                seen.setdefault(instance_id, at)
        time.sleep(0.05)
    return seen

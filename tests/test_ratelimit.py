"""The login rate limits count in one store for every process: the database by default (webui/ratelimit.py), Redis
when configured, memory only when asked for. Two app instances on one database (as two gunicorn workers are) share
each count; the counter update is atomic across processes."""
from __future__ import annotations

import multiprocessing
import os

import pytest

from tests.factories import make_users
from webui.ratelimit import DatabaseStorage, storage_uri

REDIS_URL = os.environ.get("ALUR_TEST_REDIS_URL", "redis://127.0.0.1:6379/1")


def _app(system, monkeypatch, storage: str | None):
    from webui import create_app

    if storage is None:
        monkeypatch.delenv("ALUR_RATELIMIT_STORAGE", raising=False)
    else:
        monkeypatch.setenv("ALUR_RATELIMIT_STORAGE", storage)
    return create_app(system=system, config={"SECRET_KEY": "test-secret", "TESTING": True,
                                             "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": True})


def _wrong_logins(app, n: int) -> list[int]:
    c = app.test_client()
    return [c.post("/masuk", data={"username": "tim", "password": f"salah-{i}"}).status_code for i in range(n)]


def test_the_default_store_is_the_database_and_memory_only_when_asked(system, monkeypatch):
    from limits.storage import MemoryStorage

    from webui.extensions import limiter

    url = system.settings.database_url
    assert storage_uri(None, url) == storage_uri("", url) == storage_uri("database", url) == "alur+" + url
    assert storage_uri("memory://", url) == "memory://"
    _app(system, monkeypatch, None)
    assert isinstance(limiter.storage, DatabaseStorage) and limiter.storage.check()
    _app(system, monkeypatch, "memory://")
    assert isinstance(limiter.storage, MemoryStorage)


def _two_apps_share_the_count(system, tx, monkeypatch, storage):
    make_users(system, tx)
    first = _wrong_logins(_app(system, monkeypatch, storage), 6)
    # A second instance of the app on the same database, as another gunicorn worker is: its limiter starts with
    # a store of its own, and must still see the six tries made through the first.
    second = _wrong_logins(_app(system, monkeypatch, storage), 6)
    assert first + second == [401] * 10 + [429] * 2


def test_two_app_instances_on_one_database_share_the_login_count(system, tx, monkeypatch):
    from sqlalchemy import func, select

    from process.models import RateLimitCounter

    _two_apps_share_the_count(system, tx, monkeypatch, None)
    with system.sessions() as s:  # the counts are rows of the app's database
        assert s.execute(select(func.max(RateLimitCounter.count))).scalar() == 12


def _redis_or_skip():
    try:
        import redis

        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means "not here", said in the skip
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")
    return client


def test_two_app_instances_share_the_login_count_in_redis(system, tx, monkeypatch):
    client = _redis_or_skip()
    for key in client.scan_iter("LIMITS:*"):
        client.delete(key)
    try:
        _two_apps_share_the_count(system, tx, monkeypatch, REDIS_URL)
    finally:
        for key in client.scan_iter("LIMITS:*"):
            client.delete(key)
        client.close()


# ----------------------------------------------------------------------------- the storage itself
def test_database_storage_counts_and_expires_fixed_windows(system):
    store = DatabaseStorage(storage_uri(None, system.settings.database_url))
    now = [1_000_000.0]
    store.now = lambda: now[0]
    assert store.get("k") == 0 and store.get_expiry("k") == now[0]
    assert [store.incr("k", 60) for _ in range(3)] == [1, 2, 3]
    assert store.incr("k", 60, amount=2) == 5 and store.get("k") == 5 and store.get_expiry("k") == now[0] + 60
    assert store.incr("other", 60) == 1
    now[0] += 59.9
    assert store.incr("k", 60) == 6  # still the same window
    now[0] += 0.1
    assert store.get("k") == 0  # the window is over...
    assert store.incr("k", 60) == 1 and store.get_expiry("k") == now[0] + 60  # ...and a new one starts
    store.clear("k")
    assert store.get("k") == 0 and store.get("other") == 0  # "other" expired with time too
    store.incr("x", 60)
    assert store.reset() == 1 and store.get("x") == 0 and store.check()


def _hammer(database_url: str, hits: int, start, results) -> None:
    """In a process of its own: wait for the start signal, then hit one login limit ``hits`` times."""
    from limits import parse
    from limits.strategies import FixedWindowRateLimiter

    limiter = FixedWindowRateLimiter(DatabaseStorage(storage_uri(None, database_url)))
    item = parse("10/minute")
    start.wait(60)
    results.put([limiter.hit(item, "127.0.0.1", "auth.login") for _ in range(hits)])


def test_the_counter_is_atomic_across_processes(system):
    """Four processes hit the same limit at once, 15 times each: exactly 10 hits get through."""
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_hammer, args=(system.settings.database_url, 15, start, results)) for _ in range(4)]
    for p in procs:
        p.start()
    try:
        start.set()
        allowed = [results.get(timeout=120) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=60)
            if p.is_alive():
                p.kill()
    assert sum(map(sum, allowed)) == 10, allowed

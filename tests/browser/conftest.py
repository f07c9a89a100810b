"""Browser tests: the real app served on 127.0.0.1 (werkzeug, in a thread) on a fresh SQLite database, driven by
Playwright in Debian's Chromium (/usr/bin/chromium; Playwright's own browser download is not used).

Skipped only when Chromium is absent and CI is not set; in CI (.ci/run installs chromium) they must run."""
from __future__ import annotations

import io
import logging
import os
import random
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from engine.clock import ManualClock
from engine.db import create_schema, transaction
from process.config import Settings
from process.deadlines import WIB
from process.system import System, build_system
from tests.factories import make_users

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("ALUR_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACTS = ROOT / "test-artifacts"
BUNDLE = ROOT / "webui" / "static" / "dist" / "diagram.js"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 780}
#: Generous for a 2-core CI machine, short enough that a missing element fails fast.
TIMEOUT_MS = 15_000


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives the real app in Chromium through Playwright (tests/browser)")


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    mine = [item for item in items if here in Path(str(item.fspath)).parents]
    if not CHROMIUM.exists() and not os.environ.get("CI"):
        skip = pytest.mark.skip(reason=f"{CHROMIUM} is not installed (apt-get install chromium); "
                                       "the browser tests run in CI, where .ci/run installs it")
        for item in mine:
            item.add_marker(skip)


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):  # one line per request would bury the test output
        pass


@dataclass
class LiveServer:
    url: str
    system: System
    clock: ManualClock
    tmp: Path
    app: object = None


@contextmanager
def serve_app(tmp: Path, name: str = "alur-live-server"):
    """The app on its own fresh SQLite database (whatever ALUR_TEST_DATABASE_URL says), served from a thread.
    Its clock is the tests' (a ManualClock, as in tests/conftest.py), so dates and screenshots do not depend on
    the day the suite runs."""
    from webui import create_app

    settings = Settings(database_url=f"sqlite:///{tmp / 'alur.db'}", files_dir=tmp / "files")
    clock = ManualClock(datetime(2025, 5, 6, 8, 0, tzinfo=WIB))
    system = build_system(settings, clock)
    create_schema(system.db)
    make_users(system, lambda: transaction(system.sessions))
    app = create_app(system=system, config={"SECRET_KEY": "browser-test-secret", "RATELIMIT_ENABLED": False})
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", system, clock, tmp, app)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        system.dispose()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    with serve_app(tmp_path_factory.mktemp("browser")) as server:
        yield server


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium); "
                    "CI=true makes the browser tests mandatory")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


class PageProblems:
    """Uncaught script errors and CSP refusals seen by any page of a test: each one fails the test."""

    def __init__(self):
        self.seen: list[str] = []

    def watch(self, page, who: str) -> None:
        page.on("pageerror", lambda exc: self.seen.append(f"{who}: uncaught {exc}"))
        page.on("console", lambda msg: self._console(who, msg))

    def _console(self, who, msg) -> None:
        text = msg.text
        if msg.type == "error" and ("Content Security Policy" in text or "Refused to" in text):
            self.seen.append(f"{who}: {text}")


@pytest.fixture
def open_as(browser, live_server):
    """``open_as("tim")`` → a Page in a browser context of its own, logged in through the login page.
    Keyword arguments go to ``browser.new_context`` (viewport, bypass_csp, ...)."""
    contexts = []
    problems = PageProblems()

    def _open(username: str, password: str | None = None, **context_args):
        context_args.setdefault("viewport", DESKTOP)
        context = browser.new_context(base_url=live_server.url, locale="id-ID", timezone_id="Asia/Jakarta",
                                      **context_args)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        problems.watch(page, username)
        page.goto("/masuk")
        page.get_by_label("Nama pengguna").fill(username)
        page.get_by_label("Kata sandi").fill(password or f"rahasia-{username}")
        page.get_by_role("button", name="Masuk").click()
        page.wait_for_url(lambda url: "/masuk" not in url)
        return page

    yield _open
    for context in contexts:
        context.close()
    assert not problems.seen, "browser reported problems:\n" + "\n".join(problems.seen)


def _jpeg(path: Path, seed: int, size=(1600, 1200)) -> Path:
    """A real photo-like JPEG (gradient + noise, a few hundred KB) so uploads take measurable time."""
    from PIL import Image

    rng = random.Random(seed)
    base = Image.linear_gradient("L").resize(size).convert("RGB")
    tint = Image.new("RGB", size, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    noise = Image.effect_noise(size, 40).convert("RGB")
    img = Image.blend(Image.blend(base, tint, 0.5), noise, 0.25)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=88)
    path.write_bytes(out.getvalue())
    return path


@pytest.fixture(scope="session")
def photos(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("photos")
    return [_jpeg(folder / f"dokumentasi-{i + 1}.jpg", seed=i) for i in range(4)]


@pytest.fixture(scope="session")
def diagram_bundle() -> Path:
    if not BUNDLE.exists():
        pytest.fail(f"{BUNDLE.relative_to(ROOT)} is missing: build the front end first (`make assets`, "
                    "or `npm ci && npm run build`)")
    return BUNDLE


@pytest.fixture(scope="session")
def axe_script() -> Path:
    if not AXE.exists():
        pytest.fail(f"{AXE.relative_to(ROOT)} is missing: install the front-end packages (`make assets` or `npm ci`)")
    return AXE

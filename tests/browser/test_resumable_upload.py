"""Weak networks (issue 18): a 40 MB video whose connection is cut midway completes without starting over; after a
page reload the same file resumes where it stopped; on a phone the file list tells long names apart.

The browser talks to the live server through a loopback TCP proxy the test controls (:class:`Proxy`): it counts the
bytes that reach the server and cuts every connection at a chosen point."""
from __future__ import annotations

import hashlib
import re
import socket
import threading
import time

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from process.models import FileRecord
from tests.browser import steps
from tests.browser.conftest import CHROMIUM, PHONE, TIMEOUT_MS

pytestmark = pytest.mark.browser

SIZE = 40 * 1024 * 1024
NAME = "VID_20250506_081512_0412.mp4"


class Proxy:
    """Forwards 127.0.0.1:<port> to the server. ``cut_at``: once that many bytes went up, every connection is closed
    (once); ``hold_at``: from then on nothing is forwarded until :meth:`release`."""

    def __init__(self, target_port: int):
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.upstream = 0
        self.cut_at: int | None = None
        self.hold_at: int | None = None
        self.cuts = 0
        self.released = threading.Event()
        self.lock = threading.Lock()
        self.sockets: list[socket.socket] = []
        self.closed = False
        self.serial = 0
        self.hold_serial: int | None = None  # connections up to this one are held; later ones go through
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            with self.lock:
                self.sockets += [client, server]
                self.serial += 1
                serial = self.serial
            threading.Thread(target=self._pump, args=(client, server, True, serial), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False, serial), daemon=True).start()

    def _held(self, serial: int) -> bool:
        with self.lock:
            if self.hold_at is None or self.upstream < self.hold_at:
                return False
            if self.hold_serial is None:
                self.hold_serial = self.serial
            return serial <= self.hold_serial

    def _pump(self, source: socket.socket, sink: socket.socket, up: bool, serial: int):
        try:
            while True:
                data = source.recv(64 * 1024)
                if not data:
                    break
                if up and self._held(serial):
                    self.released.wait()
                    return  # what was held is lost with the connection
                sink.sendall(data)
                if up:
                    with self.lock:
                        self.upstream += len(data)
                        cut = self.cut_at is not None and self.upstream >= self.cut_at
                    if cut:
                        self.cut_at = None
                        self.cut()
                        return
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def cut(self):
        """Every open connection dropped at once (both sides), as a phone losing its network does."""
        with self.lock:
            self.cuts += 1
            sockets, self.sockets = self.sockets, []
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def release(self):
        self.hold_at = None
        self.released.set()

    def close(self):
        self.closed = True
        self.listener.close()
        self.release()
        self.cut()


@pytest.fixture
def video(tmp_path):
    """40 MB that the content check takes for an MP4 (an ``ftyp`` box first), the rest random."""
    import os

    path = tmp_path / NAME
    head = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    path.write_bytes(head + os.urandom(SIZE - len(head)))
    return path


@pytest.fixture
def proxy(live_server):
    p = Proxy(int(live_server.url.rsplit(":", 1)[1]))
    yield p
    p.close()


@pytest.fixture
def through_proxy(browser, proxy):
    contexts = []

    def _open(username: str, **context_args):
        if not CHROMIUM.exists():
            pytest.skip("no chromium")
        context = browser.new_context(base_url=proxy.url, locale="id-ID", timezone_id="Asia/Jakarta",
                                      **context_args)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto("/masuk")
        page.get_by_label("Nama pengguna").fill(username)
        page.get_by_label("Kata sandi").fill(f"rahasia-{username}")
        page.get_by_role("button", name="Masuk").click()
        page.wait_for_url(lambda url: "/masuk" not in url)
        page.errors = errors
        return page

    yield _open
    for context in contexts:
        context.close()


def _attachments(page):
    return page.get_by_role("group", name=re.compile("Video, infografis"))


def _choose(page, path):
    expect(page.locator("#task-form")).to_have_attribute("data-uploads", "resumable")
    _attachments(page).get_by_label("Pilih berkas").set_input_files(str(path))


def _stored(live_server, file_id: str) -> FileRecord:
    with live_server.system.sessions() as s:
        return s.execute(select(FileRecord).where(FileRecord.id == file_id)).scalar_one()


def test_a_video_cut_off_midway_completes_without_starting_over(through_proxy, proxy, live_server, video):
    page = through_proxy("tim")
    steps.new_case(page, "Rapat pleno (jaringan lemah)", "Padang")
    proxy.cut_at = proxy.upstream + int(SIZE * 0.6)
    before = proxy.upstream
    _choose(page, video)
    done = _attachments(page).locator("li.file-item[data-file-id]")
    expect(done).to_have_count(1, timeout=120_000)
    sent = proxy.upstream - before
    assert proxy.cuts == 1, "the connection was never cut"
    assert sent < 1.5 * SIZE, f"{sent} bytes went up for a {SIZE}-byte file: the upload started over"
    record = _stored(live_server, done.get_attribute("data-file-id"))
    assert record.kind == "video" and record.size == SIZE
    assert record.sha256 == hashlib.sha256(video.read_bytes()).hexdigest()
    expect(_attachments(page).locator("li.file-item.failed")).to_have_count(0)
    assert not page.errors


def test_after_a_reload_the_same_file_resumes(through_proxy, proxy, live_server, video):
    page = through_proxy("tim")
    steps.new_case(page, "Rapat pleno (muat ulang)", "Padang")
    before = proxy.upstream
    proxy.hold_at = before + SIZE // 2
    _choose(page, video)
    deadline = time.monotonic() + 60
    while proxy.upstream < proxy.hold_at and time.monotonic() < deadline:
        time.sleep(0.1)
    assert proxy.upstream >= proxy.hold_at, "the upload never got halfway"
    task_url = page.url
    page.goto("about:blank")  # the page goes away while the upload's connection hangs (no request needed)
    proxy.cut()  # then the connection drops
    proxy.release()
    page.goto(task_url)  # and the task page is loaded afresh
    steps.take_if_needed(page)
    seen = []
    page.on("response", lambda r: seen.append(f"{r.request.method} {r.status} {r.headers.get('upload-offset')}")
            if "/berkas/unggah" in r.url else None)  # told when it fails
    _choose(page, video)  # the same file, chosen again
    done = _attachments(page).locator("li.file-item[data-file-id]")
    try:
        expect(done).to_have_count(1, timeout=30_000)
    except AssertionError:
        raise AssertionError(_attachments(page).inner_text() + f" upstream={proxy.upstream - before} {seen}") from None
    sent = proxy.upstream - before
    assert sent < 1.4 * SIZE, f"{sent} bytes went up for a {SIZE}-byte file: the upload started over"
    record = _stored(live_server, done.get_attribute("data-file-id"))
    assert record.sha256 == hashlib.sha256(video.read_bytes()).hexdigest()


def test_on_a_phone_long_names_are_told_apart_and_nothing_overlaps(through_proxy, tmp_path, photos):
    page = through_proxy("tim", viewport=PHONE)
    steps.new_case(page, "Rapat pleno (ponsel)", "Padang")
    named = []
    for i, photo in enumerate(photos):
        target = tmp_path / f"IMG_20240506_0815{i}2_{i}412.jpg"
        target.write_bytes(photo.read_bytes())
        named.append(target)
    expect(page.locator("#task-form")).to_have_attribute("data-uploads", "resumable")
    group = page.get_by_role("group", name=re.compile("Foto dokumentasi"))
    group.get_by_label("Pilih berkas").set_input_files([str(p) for p in named])
    items = group.locator("li.file-item")
    expect(items).to_have_count(4)

    def check(state: str):
        seen = set()
        for i in range(4):
            item = items.nth(i)
            name = item.locator(".file-name")
            full = name.get_attribute("title")
            assert full in {p.name for p in named}, state
            assert name.inner_text().replace("\n", "") == full  # what is read aloud is the whole name
            end = item.locator(".name-end")
            assert end.inner_text() and full.endswith(end.inner_text())
            seen.add(end.inner_text())
            box, button = name.bounding_box(), item.locator("button.remove, label.keep").first.bounding_box()
            assert box["x"] + box["width"] <= button["x"] + 0.5, f"{state}: the name runs under the button"
            assert end.bounding_box()["x"] + end.bounding_box()["width"] <= button["x"] + 0.5, state
            assert item.bounding_box()["x"] + item.bounding_box()["width"] <= PHONE["width"], state
        assert len(seen) == 4, f"{state}: the visible ends do not tell the names apart"

    for attempt in range(5):  # an item re-drawn at the moment its box is read has none: read them again
        try:
            check("while uploading")
            break
        except TypeError:
            if attempt == 4:
                raise
    expect(group.locator("li.file-item[data-file-id]")).to_have_count(4, timeout=30_000)
    check("uploaded")
    for i in range(4):
        assert group.locator("li.file-item").nth(i).locator("img").bounding_box()["width"] > 0

"""Every page, in each language, speaks only that language.

One scenario (tests/records_scenario.py: cases published, rejected and returned, plus a case waiting at each step
of the SOP, an overdue one, reminders and a delegation), one app; each role logs in and follows every link it can
reach (GET only, a few pages per kind of page), in English and in Bahasa Indonesia, and the error pages and a
refused form are visited too. The visible text (text nodes and the attributes people read: title, aria-label,
placeholder, alt, data-label) must not contain a word of the other language.

What is not the application's to translate is taken out first: the diagram's own names (task, lane, field and
option names, as the process owner wrote them), the data people typed (case titles, places, responses), and what a
page marks as written in another language (an element's ``lang``: the official SOP document is Indonesian on every
page, and its "No." column is Indonesian for *Nomor*).
"""
from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlsplit

import pytest
from lxml import etree

from process import modeling
from process.declarations import NS
from process.models import Notification
from tests.factories import FORMS, NARASI, step1_form, user
from tests.records_scenario import SopCase, at, build

#: Words that only Bahasa Indonesia has (whole words, any case): none may reach an English page.
INDONESIAN = ["Tugas", "Kasus", "Langkah", "Desember", "Juni", "Mei", "Rabu", "Senin", "Selasa", "Kamis", "Jumat",
              "Sabtu", "Minggu", "belum", "sudah", "tidak", "Terlambat", "Pengguna", "yang", "dan", "untuk",
              "dengan", "Batas", "waktu", "Simpan", "Kirim", "Keluar", "Laporan", "Tanggal", "Kembali", "lagi",
              "jam", "hari", "menit", "Dibuat", "oleh", "dari", "atau", "Pilih", "Buka", "Lihat", "ini", "itu",
              "pada", "akan", "telah", "ke", "di", "Semua", "Riwayat", "Ya", "selesai", "menunggu", "sesuai",
              "cocok", "tercatat", "Catatan", "Diserahkan", "Keputusan", "Tanggapan"]
#: Words that only English has: none may reach an Indonesian page.
ENGLISH = ["Task", "Tasks", "Case", "Cases", "Step", "December", "June", "Wednesday", "Monday", "Saturday",
           "Overdue", "User", "Users", "Submit", "the", "with", "Deadline", "Save", "Report", "Reports", "hours",
           "days", "minutes", "ago", "Open", "View", "Created", "Back", "of", "is", "are", "not", "by", "to",
           "in", "on", "at", "for", "from", "yes", "no", "match", "matches", "mismatch", "recorded", "expected",
           "state", "completed", "ready", "cancelled", "waiting", "active", "none", "true", "false", "Verify",
           "History", "Time", "Actor", "Event", "Events", "Notification", "Version", "Response"]
#: Attributes whose values people read (or hear: screen readers).
READ_ATTRIBUTES = ("title", "aria-label", "placeholder", "alt", "data-label")
#: Links not followed: leaving, switching language, files and downloads, the API.
SKIP = re.compile(r"^/(keluar|bahasa/|static/|berkas|api/)|[?&]format=|\.(xlsx|csv|pdf|bpmn|zip)$")
#: Pages of one kind (endpoint and query keys) visited per role and language.
PER_KIND = 2


_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
                   "wbr"})


class _Visible(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0
        self._lang: str | None = None  # the page's (<html lang>)
        self._open: list[tuple[str, bool]] = []  # open elements: (tag, written in another language)
        self._foreign = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "template"):
            self._hidden += 1
        lang = (dict(attrs).get("lang") or "").split("-")[0].lower()
        if tag == "html":
            self._lang = lang or None
        elif tag not in _VOID:
            foreign = bool(lang and self._lang and lang != self._lang)
            self._open.append((tag, foreign))
            self._foreign += foreign
        if self._foreign:
            return
        for name, value in attrs:
            if name in READ_ATTRIBUTES and value:
                self.parts.append(value)

    def handle_endtag(self, tag):
        if tag in ("script", "style", "template") and self._hidden:
            self._hidden -= 1
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i][0] == tag:
                self._foreign -= sum(foreign for _tag, foreign in self._open[i:])
                del self._open[i:]
                break

    def handle_data(self, data):
        if not self._hidden and not self._foreign:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Visible()
    parser.feed(html)
    return unescape(" ".join(" ".join(parser.parts).split()))


def _diagram_texts(system) -> list[str]:
    """The names the process owner wrote in the diagram (not the application's to translate)."""
    from engine.models import Definition

    with system.sessions() as s:
        xmls = [d.xml for d in s.query(Definition)]
    texts = set()
    for el in (el for xml in xmls for el in etree.fromstring(xml.encode() if isinstance(xml, str) else xml).iter()):
        if not isinstance(el.tag, str):
            continue
        for key, value in el.attrib.items():
            # Names and labels, and the help texts of fields (camunda:property values); a lower-case single word
            # (a signal's name, "terlambat") only where it is quoted as a name, so the same word written by the
            # application is still checked.
            if key in ("name", "label") and (" " in value or value[:1].isupper()) or key == "value" and " " in value:
                texts.add(value)
            # What the records print, as the alur: declarations say it (titles, the "by" column, legal basis, ...)
            if etree.QName(el).namespace == NS and key not in ("name", "label", "value") and (
                    " " in value or value[:1].isupper()):
                texts.add(value)
            if key in ("name", "label", "value", "id") and value:
                texts.add(f"\u201c{value}\u201d")
    return sorted(texts)


def _user_texts() -> list[str]:
    """What people typed (titles, places, team names, responses), and two texts that are names, not words."""
    texts = {"Sosialisasi Pemilih Pemula", "Rapat Koordinasi Humas", "Bimtek PPK", "Sosialisasi di Pasar Raya",
             "Festival A", "Festival B", "Padang", "Divisi Humas", "Divisi Teknis", NARASI, NARASI + " (dikoreksi)",
             "Sosialisasi #KPUSumbar", "Sosialisasi #KPUSumbar #Pemilu",
             "Foto oleh tim humas, narasi diperiksa ketua divisi.", "Bahasa Indonesia", "KPU Provinsi Sumatera Barat",
             # An example of an activity's name (data, in the office's language) and a command.
             "Sosialisasi Pemilih Pemula di SMA 1 Padang", "alur audit verify"}
    for form in FORMS.values():
        texts.update(v for v in form.values() if isinstance(v, str) and " " in v)
    return sorted(texts)


def without(text: str, excluded: list[str]) -> str:
    for phrase in sorted(excluded, key=len, reverse=True):
        text = text.replace(phrase, " ")
    return text


def leaks(text: str, words: list[str], excluded: list[str]) -> list[str]:
    text = without(text, excluded)
    return sorted({m.group(0) for w in words for m in re.finditer(rf"(?<![\w#@/.-]){re.escape(w)}(?![\w@/-])",
                                                                   text, re.IGNORECASE)})


@pytest.fixture
def world(system, tx, clock):
    """The records scenario, then a case waiting at each step (one of them overdue, one delegated), reminders and
    notifications of every kind."""
    build(system, tx, clock)
    with tx() as s:
        system.people.add_user(s, "root", "rahasia-root", ["admin"])
    clock.set(at(6, 2, 9))
    waiting = []
    for steps in ([], ["submit"], ["submit", "terima"], ["submit", "terima", "koreksi"],
                  ["submit", "terima", "koreksi", "setuju"]):
        case = SopCase.open(system, tx, "Festival A", "2025-06-02")
        for who, form in zip(("tim", "admin", "wapimred", "pimred"), steps, strict=False):
            case.do(who, form)
        waiting.append(case)
    with tx() as s:  # a delegation (notification "delegated")
        system.tasks.claim(s, user(s, "tim"), waiting[0].task_id)
        system.tasks.delegate(s, user(s, "tim"), waiting[0].task_id, "tim2")
    late = SopCase.open(system, tx, "Festival B", "2025-06-02")
    with tx() as s:  # a file uploaded but the task left open
        step1_form(system, s, "tim")
    clock.set(at(6, 4, 9))
    with tx() as s:
        system.timers.fire_due_timers(s)
        system.timers.send_due_reminders(s)
    with tx() as s:  # a second version (renamed step 5), so that cases can be moved to it (the migration page)
        from engine.models import Definition

        xml = (s.query(Definition).filter(Definition.process_key == system.settings.process_key)
               .order_by(Definition.id.desc()).first().xml)
        xml = xml.decode() if isinstance(xml, bytes) else xml
        modeling.deploy(s, system, user(s, "owner"), xml.replace('name="Mengunggah konten', 'name="Unggah konten'))
    with system.sessions() as s:
        kinds = {n.kind for n in s.query(Notification)}
    assert {"task_ready", "overdue", "returned", "delegated"} <= kinds, kinds
    return {"waiting": waiting, "late": late}


def _sentences(value) -> list[str]:
    """The texts of a JSON answer a page's script shows: sentences (strings with a space) and page fragments; not the
    diagram's XML."""
    if isinstance(value, dict):
        return [s for k, v in value.items() if k != "xml" for s in _sentences(v)]
    if isinstance(value, list):
        return [s for v in value for s in _sentences(v)]
    if isinstance(value, str) and "<" in value:
        return [visible_text(value)]
    return [value] if isinstance(value, str) and " " in value.strip() else []


class Walk:
    """One role's walk in one language: what it visited and what it found."""

    def __init__(self, app, who: str, language: str, excluded: list[str], words: list[str]):
        self.app, self.who, self.language, self.excluded, self.words = app, who, language, excluded, words
        self.client = app.test_client()
        self.visited, self.found = 0, []
        login = self.client.post("/masuk", data={"username": who, "password": f"rahasia-{who}"})
        assert login.status_code == 302
        self.client.get(f"/bahasa/{language}")

    def check(self, what: str, text: str) -> None:
        text = without(text, self.excluded)
        bad = leaks(text, self.words, [])
        if bad:
            where = [text[max(0, m.start() - 60):m.end() + 60]
                     for m in re.finditer(rf"\b{re.escape(bad[0])}\b", text, re.IGNORECASE)][:1]
            self.found.append(f"[{self.language}] {self.who} {what}: {', '.join(bad)} — …{where[0] if where else ''}…")

    def run(self) -> Walk:
        """Follow every link the role can reach (GET only, :data:`PER_KIND` pages of each kind)."""
        adapter = self.app.url_map.bind("localhost")
        kinds: dict[tuple, int] = {}
        queue, seen = ["/", "/halaman-yang-tidak-ada", "/admin/pengguna", "/audit", "/proses"], set()
        while queue:
            url = queue.pop(0)
            if url in seen or SKIP.search(url):
                continue
            seen.add(url)
            parts = urlsplit(url)
            try:
                endpoint = adapter.match(parts.path, method="GET")[0]
            except Exception:  # noqa: BLE001 - a 404 or 405: an error page, visited like the others
                endpoint = "<error>"
            kind = (endpoint, tuple(sorted(k for k, _ in parse_qsl(parts.query))))
            if kinds.get(kind, 0) >= PER_KIND:
                continue
            kinds[kind] = kinds.get(kind, 0) + 1
            resp = self.client.get(url, follow_redirects=True)
            self.visited += 1
            assert resp.status_code < 500, (self.who, url, resp.status_code)
            if resp.is_json:
                self.check(url, " | ".join(_sentences(resp.json)))
            elif resp.content_type.startswith("text/html"):
                html = resp.get_data(as_text=True)
                assert f'<html lang="{self.language}">' in html, (self.who, url)
                self.check(url, visible_text(html))
                queue += re.findall(r'(?:href|data-src)="(/[^"#]*)', unescape(html))
                queue += [f"{h}/1.json" for h in re.findall(r'href="(/audit/kasus/\d+/replay)"', html)]
        return self

    def post(self, url: str, status: int, data: dict | None = None) -> None:
        resp = self.client.post(url, data=data or {})
        assert resp.status_code == status, (self.who, url, resp.status_code)
        self.check(f"POST {url}", visible_text(resp.get_data(as_text=True)))


ROLES = ["tim", "admin", "wapimred", "pimred", "owner", "auditor", "root", "tim_lain"]


def test_every_page_in_english_has_no_indonesian_and_the_reverse(world, english_app, system):
    excluded = _diagram_texts(system) + _user_texts() + ["No."]  # the SOP document's column: Nomor
    problems, visited = [], 0
    for language, words in (("en", INDONESIAN), ("id", ENGLISH)):
        for who in ROLES:
            walk = Walk(english_app, who, language, excluded, words).run()
            if who == "auditor":  # the verification tables of a replay (re-executed on request)
                for instance_id in (1, 4):
                    walk.post(f"/audit/kasus/{instance_id}/replay/verifikasi", 200)
            if who == "tim":  # a refused form: its messages
                walk.post("/kasus/baru", 422, {"nama_kegiatan": "", "tanggal_kegiatan": "kemarin",
                                               "tempat_kegiatan": "\x07", "tim": ""})
            visited += walk.visited
            problems += walk.found
    assert visited > 200, visited  # the walk reached the pages
    assert not problems, f"{len(problems)} page(s) in the wrong language:\n" + "\n".join(problems)


def test_the_walk_finds_a_word_of_the_other_language():
    """The check itself: an Indonesian word on an English page is found, the diagram's and people's texts are not."""
    excluded = ["Menerima hasil dokumentasi kegiatan dan konten berita", "Festival A"]
    text = visible_text('<p title="Tugas baru">Step “Menerima hasil dokumentasi kegiatan dan konten berita” of '
                        'Festival A is ready<script>var tidak = 1</script></p>')
    assert leaks(text, INDONESIAN, excluded) == ["Tugas"]
    assert leaks(visible_text("<p>Rabu, 02 Desember 2026 21.48 WIB</p>"), INDONESIAN, []) == ["Desember", "Rabu"]
    assert leaks("New task: Festival A", INDONESIAN, excluded) == []
    # what the page marks as written in another language is not the page's language
    marked = visible_text('<html lang="en"><p>Official document <section lang="id"><h2>Waktu</h2><br><ul><li>H+1 '
                          'setelah kegiatan</li></ul></section> ends, tugas</p></html>')
    assert leaks(marked, INDONESIAN, []) == ["tugas"]

"""The official SOP document printed from the diagram (process/sopdoc.py), against the source SOP's own table
(tests/data/sop-21-2025, the KPU Sumbar document): its actors' columns, its rows, what each step needs, its deadline
in words and its output; the identity page; a picture test on the rendered PDF that every symbol stands in its
actor's column; a long matrix breaking across pages with off-page connectors; the declarations' validation; the
pages, the PDF download and ``alur sop print``."""
from __future__ import annotations

import html
import re
from datetime import datetime

import numpy as np
import pypdfium2 as pdfium
import pytest

from engine.clock import ManualClock
from engine.definitions import parse_definition
from engine.errors import InvalidDefinition
from process import modeling, sopdoc
from process.deadlines import WIB, timer_functions
from process.declarations import declarations_of
from tests.conftest import DIAGRAM, ROOT
from tests.factories import make_users, user

SOURCE = ROOT / "tests" / "data" / "sop-21-2025" / "sop-21-2025-alur-pengunggahan-konten-medsos.txt"
#: Slips of the source's text, read as the office meant them (the bundled diagram writes them right).
SOURCE_SLIPS = (("Rekapitulasi Konte Media", "Rekapitulasi Konten Media"), ("<li>Undang Nomor 14", "<li>Undang-Undang "
                                                                                                   "Nomor 14"))


# --------------------------------------------------------------------------------------------------
# The source table
# --------------------------------------------------------------------------------------------------


def _plain(text: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())


def source_sop() -> dict:
    """The source's actors (the Pelaksana columns, in order), its rows (No., Uraian, Kelengkapan items, Waktu,
    Output) and its identity page."""
    text = SOURCE.read_text(encoding="utf-8")
    for slip, meant in SOURCE_SLIPS:
        text = text.replace(slip, meant)
    lines = text.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("No.\tUraian Prosedur"))
    cells = [c.strip() for c in lines[head + 1].split("\t") if c.strip()]
    actors = cells[:cells.index("Kelengkapan")]
    rows: list[dict] = []
    for line in lines[head + 2:]:
        fields = line.split("\t")
        if re.fullmatch(r"\d+", fields[0].strip()):
            rest = [f for f in fields[2:] if f.strip()]
            kelengkapan = [_plain(i) for i in re.findall(r"(?:○|^o)\s*([^<○]+)", rest[0].strip())]
            rows.append({"no": fields[0].strip(), "uraian": fields[1].strip(), "kelengkapan": kelengkapan,
                         "waktu": _plain(rest[1]), "output": _plain(rest[2])})
        elif rows and any(f.strip() for f in fields):  # a cell's text broken onto a line of its own (Waktu, row 3)
            rows[-1]["waktu"] += " " + " ".join(f.strip() for f in fields if f.strip())

    def after(label: str) -> str:
        line = next(x for x in lines if label in x)
        return _plain(line.split(label, 1)[1])

    lists = {}
    for a, b in (("DASAR HUKUM", "KUALIFIKASI PELAKSANA"), ("KETERKAITAN", "PERALATAN/PERLENGKAPAN"),
                 ("PERINGATAN", "PENCATATAN DAN PENDATAAN")):
        at = next(i for i, x in enumerate(lines) if f"<b>{a}</b>" in x)
        left, right = [c for c in lines[at + 1].split("\t") if c.strip()]
        for title, cell in ((a, left), (b, right)):
            items = re.findall(r"<li>(.*?)</li>", cell)
            lists[title] = [_plain(i) for i in items] if items else [_plain(cell)]
    approver = next(x for x in lines if "DISAHKAN OLEH" in x)
    return {"actors": actors, "rows": rows, "number": after("NOMOR SOP"), "created": after("TGL PEMBUATAN:"),
            "revised": after("TGL REVISI:"), "effective": after("TGL EFEKTIF:"), "approver": _plain(approver),
            "name": after("NAMA SOP"), "lists": lists}


def _deadline(words: str) -> tuple[int, str]:
    """A Waktu cell as (days after, the day it counts from): "H +1 setelah X", or "Hari H setelah X …, maksimal 1
    (satu) hari sesudahnya" (the same: end of the next day)."""
    words = " ".join(words.split())
    found = re.search(r"H\s*\+\s*(\d+)", words) or re.search(r"maksimal (\d+)", words)
    ref = re.search(r"setelah (kegiatan|pengumpulan dokumentasi dan konten)", words)
    assert found and ref, words
    return int(found.group(1)), ref.group(1)


@pytest.fixture(scope="module")
def bundled():
    from process.procedure import build_engine

    engine = build_engine(ManualClock(datetime(2025, 5, 6, tzinfo=WIB)))[0]
    parsed = engine.validate(DIAGRAM.read_bytes())
    return parsed, declarations_of(parsed), engine


@pytest.fixture(scope="module")
def document(bundled):
    parsed, decl, _engine = bundled
    return sopdoc.build(parsed, decl, version=1)


@pytest.fixture(scope="module")
def pdf(document) -> pdfium.PdfDocument:
    return pdfium.PdfDocument(sopdoc.to_pdf(document, printed_at=datetime(2025, 5, 6, 9, tzinfo=WIB)))


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


# --------------------------------------------------------------------------------------------------
# The matrix against the source table
# --------------------------------------------------------------------------------------------------


def test_the_matrix_has_the_sources_columns_rows_kelengkapan_waktu_and_output(document):
    source = source_sop()
    assert source["actors"] == ["Tim Pelaksana", "Admin Medsos", "Wakil Pimpinan Redaksi", "Pimpinan Redaksi",
                                "Admin Medsos"]
    # Pelaksana: the lanes in order, Admin Medsos again on the right for step 5, as the source does
    assert [c.title for c in document.columns] == source["actors"]
    assert [r.number for r in document.rows] == [r["no"] for r in source["rows"]] == ["1", "2", "3", "4", "5"]
    assert [r.column for r in document.rows] == [0, 1, 2, 3, 4]
    for row, want in zip(document.rows, source["rows"]):
        # Uraian: the diagram's task names are the source's texts, shortened: same verb, no word of their own but one
        words = _words(row.text)
        assert words[0] == _words(want["uraian"])[0], (row.number, row.text)
        assert sum(w not in _words(want["uraian"]) for w in words) <= 1, (row.number, row.text, want["uraian"])
        others = [r for r in source["rows"] if r is not want]
        assert all(len(set(words) & set(_words(want["uraian"]))) > len(set(words) & set(_words(o["uraian"])))
                   for o in others), row.number  # and it is this row's text, not another's
        assert list(row.kelengkapan) == want["kelengkapan"], row.number
        days, ref = _deadline(want["waktu"])
        assert row.waktu == f"H+{days} setelah {ref}" and not row.waktu_flagged, (row.number, row.waktu)
        assert row.output.casefold() == want["output"].casefold(), row.number
    # the symbols: start above step 1, the decisions of steps 2-4 with their outcomes, the two ends
    assert [r.starts for r in document.rows] == [True, False, False, False, False]
    assert [bool(r.decision) for r in document.rows] == [False, True, True, True, False]
    decide = {o.label: (o.to, o.end) for o in document.rows[3].outcomes}
    assert decide == {"Setuju": (4, None), "Revisi ke Wapimred": (2, None), "Revisi ke Tim Pelaksana": (0, None),
                      "Tolak": (None, "Ditolak")}
    assert [(o.to, o.end) for o in document.rows[4].outcomes] == [(None, "Selesai")]


def test_waktu_in_words_and_what_cannot_be_put_in_words_is_flagged(bundled):
    _parsed, decl, _engine = bundled
    assert sopdoc.waktu("akhir_hari_kerja(tanggal_pengumpulan, 10)", "timeDate", decl) == (
        "10 hari kerja setelah pengumpulan dokumentasi dan konten", False)
    assert sopdoc.waktu("akhir_hari(tanggal_kegiatan, 0)", "timeDate", decl) == ("Hari H kegiatan", False)
    assert sopdoc.waktu("P2D", "timeDuration", decl) == ("2 hari sejak langkah dimulai", False)
    assert sopdoc.waktu("PT4H", "timeDuration", decl) == ("4 jam sejak langkah dimulai", False)
    assert sopdoc.waktu("2025-06-01T23:59:59+07:00", "timeDate", decl) == ("Paling lambat 1 Juni 2025", False)
    assert sopdoc.waktu("akhir_hari(tanggal_kegiatan, 1) if x else None", "timeDate", decl) == (
        "akhir_hari(tanggal_kegiatan, 1) if x else None", True)
    assert sopdoc.waktu(None, None, decl) == ("\u2014", False)


# --------------------------------------------------------------------------------------------------
# The rendered PDF
# --------------------------------------------------------------------------------------------------


def _text(page) -> str:
    return " ".join(page.get_textpage().get_text_range().split())


def test_the_identity_page_carries_the_sources_fields(pdf):
    source = source_sop()
    page = _text(pdf[0])
    assert "NOMOR SOP" in page and source["number"] in page
    for label in ("created", "revised", "effective"):
        assert source[label] in page, label  # "14 MARET 2023", "6 MEI 2025"
    assert "SEKRETARIS KPU PROVINSI SUMATERA BARAT" in source["approver"].upper()
    for part in ("SEKRETARIS KPU PROVINSI SUMATERA BARAT", "IRZAL ZAMZAMI", "19740310 199303 1 002"):
        assert part in source["approver"] and part in page, part
    assert source["name"] in page
    for title, items in source["lists"].items():
        assert title in page, title
        for item in items:
            assert item in page, (title, item)


def _image(page, scale: float = 3):
    return np.asarray(page.render(scale=scale).to_pil().convert("RGB")).astype(int), scale


def _blobs(img, colour: str) -> list[tuple[int, int, int, int]]:
    """Bounding boxes (x0, y0, x1, y1, pixels) of the areas filled with ``colour`` (a symbol's fill)."""
    rgb = tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
    mask = np.all(np.abs(img - rgb) <= 2, axis=2)
    boxes = []
    ys = np.flatnonzero(mask.any(axis=1))
    for band in np.split(ys, np.flatnonzero(np.diff(ys) > 1) + 1) if ys.size else []:
        xs = np.flatnonzero(mask[band[0]:band[-1] + 1].any(axis=0))
        for run in np.split(xs, np.flatnonzero(np.diff(xs) > 1) + 1):
            sub = mask[band[0]:band[-1] + 1, run[0]:run[-1] + 1]
            rows = np.flatnonzero(sub.any(axis=1))
            boxes.append((int(run[0]), int(band[0] + rows[0]), int(run[-1]), int(band[0] + rows[-1])))
    return boxes


def _columns(page, img, scale):
    """The matrix's columns as the rendered page draws them: the grid's vertical lines under the actors' header
    (x in pixels), each with the header text between them."""
    tp = page.get_textpage()
    _w, height = page.get_size()
    hit = tp.search("Kelengkapan").get_next()
    left, bottom, right, _top = tp.get_charbox(hit[0])
    x, y = int(left * scale) + 2, int((height - bottom) * scale)
    while not (img[y, x] < 200).all():  # down to the header's lower border
        y += 1
    line = img[y - 4]
    grey = np.flatnonzero(np.all(line < 190, axis=1))
    edges = [int(g) for i, g in enumerate(grey) if i == 0 or g - grey[i - 1] > 3]
    titles = []
    for a, b in zip(edges, edges[1:]):
        text = tp.get_text_bounded(a / scale, height - y / scale, b / scale, height - (y / scale - 25))
        titles.append(" ".join(text.split()))
    return edges, titles, y


def test_every_symbol_stands_in_its_actors_column_of_the_rendered_pdf(pdf, document, bundled):
    parsed, _decl, _engine = bundled
    lanes = {u.bpmn_id: u.lane for u in parsed.user_tasks}
    page = pdf[1]
    img, scale = _image(page)
    edges, titles, header_bottom = _columns(page, img, scale)
    assert titles[:2] == ["No.", "Uraian Prosedur"] and titles[-3:] == ["Kelengkapan", "Waktu", "Output"]
    actors = titles[2:-3]
    assert actors == source_sop()["actors"]

    def column(box) -> int:
        cx = (box[0] + box[2]) / 2
        found = [i for i, (a, b) in enumerate(zip(edges, edges[1:])) if a < box[0] and box[2] < b]
        assert found, box  # wholly inside one column
        assert edges[found[0]] < cx < edges[found[0] + 1]
        return found[0] - 2

    _w, height = page.get_size()
    tp = page.get_textpage()
    activities = sorted(_blobs(img, sopdoc.FILLS["activity"]), key=lambda b: b[1])
    assert len(activities) == len(document.rows) == 5
    for box, row in zip(activities, document.rows):
        assert box[1] > header_bottom
        label = " ".join(tp.get_text_bounded(box[0] / scale, height - box[3] / scale, box[2] / scale,
                                             height - box[1] / scale).split())
        assert label == row.short  # this step's rectangle ...
        assert actors[column(box)] == lanes[row.bpmn_id]  # ... in its lane's column
        assert column(box) == row.column
    decisions = sorted(_blobs(img, sopdoc.FILLS["decision"]), key=lambda b: b[1])
    assert [column(b) for b in decisions] == [1, 2, 3]  # steps 2-4 decide, each in its actor's column
    for decision, activity in zip(decisions, activities[1:4]):
        assert decision[1] > activity[3]  # beneath its rectangle
    terminators = sorted(_blobs(img, sopdoc.FILLS["terminator"]), key=lambda b: b[1])
    assert [column(b) for b in terminators] == [0, 3, 4]  # start (Tim Pelaksana), refused (Pimred), published
    assert terminators[0][3] < activities[0][1]


def test_the_html_page_draws_the_same_matrix(document):
    pages = sopdoc.matrix_pages(document)
    assert len(pages) == 1
    svg = sopdoc.matrix_svg(pages[0], "Bagan")
    assert svg.count(f'fill="{sopdoc.FILLS["activity"]}"') == 5
    assert svg.count(f'fill="{sopdoc.FILLS["decision"]}"') == 3
    assert ">Admin Medsos</text>" in svg and svg.count(">Admin Medsos</text>") == 2


def _long_diagram(steps: int) -> bytes:
    """A procedure of ``steps`` steps taking turns between two lanes (no DI: the SOP document needs none)."""
    nodes, flows, refs = [], [], {"A": [], "B": []}
    previous = "start"
    for i in range(1, steps + 1):
        lane = "A" if i % 2 else "B"
        nodes.append(f'<bpmn:userTask id="t{i}" name="Langkah nomor {i} dikerjakan"><bpmn:extensionElements>'
                     f'<alur:step number="{i}" label="L{i}"/></bpmn:extensionElements></bpmn:userTask>')
        flows.append(f'<bpmn:sequenceFlow id="f{i}" sourceRef="{previous}" targetRef="t{i}"/>')
        refs[lane].append(f"t{i}")
        previous = f"t{i}"
    flows.append(f'<bpmn:sequenceFlow id="fend" sourceRef="{previous}" targetRef="end"/>')
    refs["A"] += ["start"]
    refs["B"] += ["end"]
    lanes = "".join(f'<bpmn:lane id="lane{k}" name="Pelaksana {k}">'
                    + "".join(f"<bpmn:flowNodeRef>{r}</bpmn:flowNodeRef>" for r in v) + "</bpmn:lane>"
                    for k, v in refs.items())
    return ('<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/'
            '20100524/MODEL" xmlns:alur="urn:alur-medsos:bpmn:1" id="d" targetNamespace="t"><bpmn:process id="panjang"'
            f' name="Prosedur panjang" isExecutable="true"><bpmn:laneSet id="ls">{lanes}</bpmn:laneSet>'
            '<bpmn:startEvent id="start"/>' + "".join(nodes) + '<bpmn:endEvent id="end"/>' + "".join(flows)
            + "</bpmn:process></bpmn:definitions>").encode()


def test_a_long_matrix_breaks_across_pages_with_off_page_connectors_and_the_header_again():
    parsed = parse_definition(_long_diagram(16), timer_functions())
    doc = sopdoc.build(parsed, declarations_of(parsed), version=3)
    # back and forth between two lanes: one column each (a lane gets a second column only for the steps that end
    # the procedure, as step 5 of the SOP)
    assert len(doc.rows) == 16 and [c.title for c in doc.columns] == ["Pelaksana A", "Pelaksana B"]
    assert [r.column for r in doc.rows] == [0, 1] * 8
    pages = sopdoc.matrix_pages(doc)
    assert len(pages) >= 2
    rendered = pdfium.PdfDocument(sopdoc.to_pdf(doc))
    assert len(rendered) == 1 + len(pages)
    for number in range(1, len(rendered)):
        text = _text(rendered[number])
        assert "Uraian Prosedur" in text and "Pelaksana" in text and "Kelengkapan" in text, number
        img, _scale = _image(rendered[number], 1)
        offpage = _blobs(img, sopdoc.FILLS["offpage"])
        # one connector leaving every page but the last, one arriving on every page but the first
        assert len(offpage) == (number > 1) + (number < len(pages)), number
    letters = [[s.text for s in page.shapes if s.kind == "offpage"] for page in pages]
    assert letters[0] == ["A"] and letters[1][0] == "A"
    numbers = [int(n) for page in range(1, len(rendered)) for n in re.findall(r"Langkah nomor (\d+)",
                                                                              _text(rendered[page]))]
    assert numbers == list(range(1, 17))  # every row once, in order


# --------------------------------------------------------------------------------------------------
# Declarations: validated at deploy
# --------------------------------------------------------------------------------------------------


def _problems(engine, xml: bytes):
    with pytest.raises(InvalidDefinition) as info:
        engine.validate(xml)
    return {(p.code, p.params.get("attribute"), p.params.get("value")) for p in info.value.problems}


def _replaced(*pairs) -> bytes:
    text = DIAGRAM.read_text(encoding="utf-8")
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new)
    return text.encode()


def test_a_bad_nip_or_date_is_refused_naming_what_is_wrong(bundled):
    _parsed, _decl, engine = bundled
    found = _problems(engine, _replaced(('approverNip="19740310 199303 1 002"', 'approverNip="19740310 199303 1 00"'),
                                        ('created="2023-03-14"', 'created="14-03-2023"'),
                                        ('effective="2025-05-06"', 'effective="2025-02-30"')))
    assert ("decl.nip_invalid", None, "19740310 199303 1 00") in found
    assert ("decl.date_invalid", "sop/created", "14-03-2023") in found
    assert ("decl.date_invalid", "sop/effective", "2025-02-30") in found
    assert len(found) == 3
    letters = _problems(engine, _replaced(('approverNip="19740310 199303 1 002"', 'approverNip="1974031019930310AB"')))
    assert letters == {("decl.nip_invalid", None, "1974031019930310AB")}
    twice = _problems(engine, _replaced(('</alur:sop>', '</alur:sop><alur:sop number="lagi"/>')))
    assert twice == {("decl.sop_twice", None, None)}
    missing = _problems(engine, _replaced(
        ('<alur:input field="narasi"/>', '<alur:input field="narasi_x"/><alur:input/>'),
        ('<alur:legalBasis text=', '<alur:pisang/><alur:legalBasis text=')))
    assert ("decl.field_missing", "input/field", None) in missing
    assert ("decl.attribute_missing", "input/text", None) in missing
    assert ("decl.unknown", None, None) in missing


def test_the_problem_messages_name_the_rule_in_indonesian(app):
    from engine.errors import Problem
    from webui.problems import problem_message

    with app.test_request_context():
        nip = problem_message(Problem("p", "decl.nip_invalid", {"value": "123"}))
        day = problem_message(Problem("p", "decl.date_invalid", {"attribute": "sop/created", "value": "14-03-2023"}))
    assert "18 angka" in nip and "123" in nip
    assert "TTTT-BB-HH" in day and "14-03-2023" in day


# --------------------------------------------------------------------------------------------------
# The pages, the download, what changed, the CLI
# --------------------------------------------------------------------------------------------------


def test_process_owners_auditors_and_admins_read_the_sop_page_and_pdf(system, tx, login):
    make_users(system, tx)
    with tx() as s:
        system.people.add_user(s, "root", "rahasia-root", ["admin"])
    for who in ("owner", "auditor", "root"):
        c = login(who)
        index = c.get("/proses/sop").get_data(as_text=True)
        assert 'href="/proses/versi/1/sop"' in index, who
        page = c.get("/proses/versi/1/sop")
        assert page.status_code == 200, who
        body = html.unescape(page.get_data(as_text=True))
        assert "H+1 setelah pengumpulan dokumentasi dan konten" in body and "19740310 199303 1 002" in body
        assert "<svg" in body and "Versi pertama" in body
        download = c.get("/proses/versi/1/sop.pdf")
        assert download.status_code == 200 and download.data.startswith(b"%PDF")
        assert 'filename="sop-alur_pengunggahan-v1.pdf"' in download.headers["Content-Disposition"]
        assert c.get("/proses/versi/9/sop").status_code == 404
    owner = login("owner")
    assert 'href="/proses/versi/1/sop"' in owner.get("/proses/versi/1").get_data(as_text=True)
    for who in ("tim", "admin", "pimred"):  # "admin" of the factories is the Admin Medsos staff member
        assert login(who).get("/proses/versi/1/sop").status_code == 403, who


def test_a_new_version_says_what_changed_in_the_sops_terms(system, tx):
    make_users(system, tx)
    timer = ('<bpmn:timeDate xsi:type="bpmn:tFormalExpression">{}</bpmn:timeDate>\n      </bpmn:timerEventDefinition>'
             '\n    </bpmn:boundaryEvent>\n    <bpmn:intermediateThrowEvent id="Notif_Koreksi"')  # step 3's timer
    xml = _replaced((timer.format("akhir_hari(tanggal_pengumpulan, 1)"),
                     timer.format("akhir_hari_kerja(tanggal_pengumpulan, 2)")),
                    ('revised="2025-05-06"', 'revised="2025-07-01"'),
                    ('<alur:equipment text="Jaringan internet"/>', ''))
    with tx() as s:
        definition, _summary = modeling.deploy(s, system, user(s, "owner"), xml)
    with tx() as s:
        doc = sopdoc.document_of(s, system, definition.process_key, definition.version)
        first = sopdoc.document_of(s, system, definition.process_key, 1)
    assert first.changes is None and doc.previous_version == 1
    assert doc.changes == ("Tanggal revisi: 6 Mei 2025 \u2192 1 Juli 2025.",
                           "Peralatan/Perlengkapan dihapus: \u201cJaringan internet\u201d.",
                           "Langkah 3 (Koreksi): waktu \u201cH+1 setelah pengumpulan dokumentasi dan konten\u201d "
                           "\u2192 \u201c2 hari kerja setelah pengumpulan dokumentasi dan konten\u201d.")
    rendered = pdfium.PdfDocument(sopdoc.to_pdf(doc))
    text = _text(rendered[len(rendered) - 1])
    assert "PERUBAHAN DIBANDING VERSI 1" in text and "2 hari kerja setelah pengumpulan" in text


def test_alur_sop_print(cli, tmp_path):
    assert cli("init-db").exit_code == 0
    out = tmp_path / "sop.pdf"
    done = cli("sop", "print", "-o", str(out))
    assert done.exit_code == 0, done.output
    assert out.read_bytes().startswith(b"%PDF") and "version 1, 5 steps" in done.output
    assert len(pdfium.PdfDocument(out.read_bytes())) == 2
    again = cli("sop", "print", "--procedure", "alur_pengunggahan", "--version", "1", "-o", str(tmp_path / "b.pdf"))
    assert again.exit_code == 0, again.output
    missing = cli("sop", "print", "--version", "7", "-o", str(tmp_path / "c.pdf"))
    assert missing.exit_code != 0 and "has no version 7 (its versions: 1)" in missing.output
    unknown = cli("sop", "print", "--procedure", "tidak_ada", "-o", str(tmp_path / "d.pdf"))
    assert unknown.exit_code != 0 and "'tidak_ada' has no deployed version" in unknown.output
    assert "alur_pengunggahan" in unknown.output
    nowhere = cli("sop", "print", "-o", str(tmp_path / "no" / "such" / "dir.pdf"))
    assert nowhere.exit_code != 0 and "cannot write" in nowhere.output
    assert not (tmp_path / "c.pdf").exists() and not (tmp_path / "d.pdf").exists()


def test_each_procedure_has_its_own_sop_documents(system, tx, login):
    make_users(system, tx)
    other = _replaced(('<bpmn:process id="alur_pengunggahan" name="Alur Pengunggahan Konten Media Sosial"',
                       '<bpmn:process id="prosedur_lain" name="Prosedur Lain"'),
                      ('processRef="alur_pengunggahan"', 'processRef="prosedur_lain"'),
                      ('number="Nomor 21 Tahun 2025"', 'number="Nomor 7 Tahun 2026"'),
                      # a register of its own (register.format_taken refuses two registers writing one number)
                      ('<alur:register field="nomor_register"',
                       '<alur:register field="nomor_register" format="{seq:03d}/LAIN/{year}"'))
    with tx() as s:
        modeling.deploy(s, system, user(s, "owner"), other)
    c = login("auditor")
    index = html.unescape(c.get("/proses/sop").get_data(as_text=True))
    assert 'href="/proses/versi/1/sop"' in index and 'href="/proses/versi/1/sop?prosedur=prosedur_lain"' in index
    page = html.unescape(c.get("/proses/versi/1/sop?prosedur=prosedur_lain").get_data(as_text=True))
    assert "Prosedur Lain" in page and "Nomor 7 Tahun 2026" in page
    assert 'href="/proses/versi/1/sop.pdf?prosedur=prosedur_lain"' in page
    pdf = c.get("/proses/versi/1/sop.pdf?prosedur=prosedur_lain")
    assert 'filename="sop-prosedur_lain-v1.pdf"' in pdf.headers["Content-Disposition"]
    assert "Nomor 7 Tahun 2026" in _text(pdfium.PdfDocument(pdf.data)[0])
    assert "Nomor 21 Tahun 2025" in html.unescape(c.get("/proses/versi/1/sop").get_data(as_text=True))


def test_every_page_says_page_x_of_y_and_has_the_letterhead(pdf):
    for number in range(1, len(pdf) + 1):
        text = _text(pdf[number - 1])
        assert f"Halaman {number} dari {len(pdf)}" in text
    first = _text(pdf[0])
    assert "KOMISI PEMILIHAN UMUM PROVINSI SUMATERA BARAT" in first and "Jalan Pramuka Nomor 9 Padang" in first

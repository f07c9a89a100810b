"""The records as files: XLSX opens and has the rows, CSV parses, the PDF renders (page 1 to PNG with
pypdfium2) and carries the header, the SOP number, the legal basis and the signature blocks."""
from __future__ import annotations

import csv
import io
import math
from dataclasses import replace
from datetime import date, datetime, timedelta

import pypdfium2 as pdfium
import pytest
from openpyxl import load_workbook
from PIL import Image, ImageStat

from process import documents
from process.deadlines import WIB
from process.documents import (
    XLSX_DURATION,
    XLSX_YES_NO,
    Document,
    durasi,
    printable,
    recap_document,
    responses_document,
    to_csv,
    to_pdf,
    to_xlsx,
)
from process.records import (
    CaseResponses,
    Period,
    PlatformTotal,
    PostRow,
    Recap,
    RegisterRow,
    ResponseRow,
    recap,
    register_rows,
    written_responses,
)
from process.register import register_document
from tests.factories import bundled_rules
from tests.records_scenario import build

SOP = bundled_rules()

MAY = Period.month(2025, 5)
JUNE = Period.month(2025, 6)
NOW = datetime(2025, 6, 2, 9, 0, tzinfo=WIB)
#: A4 landscape in points (297 x 210 mm); pdfium renders a page to whole pixels, rounding up.
A4_LANDSCAPE = (297 / 25.4 * 72, 210 / 25.4 * 72)


def a4_pixels(scale: float) -> tuple[int, int]:
    return math.ceil(A4_LANDSCAPE[0] * scale - 1e-6), math.ceil(A4_LANDSCAPE[1] * scale - 1e-6)


@pytest.fixture
def docs(system, tx, clock) -> dict[str, Document]:
    sc = build(system, tx, clock)
    with tx() as s:
        out = {
            "register": register_document(register_rows(s, MAY, system.rules), MAY, NOW, SOP),
            "tanggapan": responses_document(written_responses(s, MAY, rulebook=system.rules), NOW, period=MAY,
                                            procedure=SOP),
            "rekap": recap_document(recap(s, Period(date(2025, 5, 1), date(2025, 6, 30)), system.rules,
                                          system.settings.platforms), NOW, SOP),
            "kasus": responses_document(written_responses(s, rulebook=system.rules, instance_id=sc.juni.instance_id),
                                        NOW),
        }
    return out


def pdf_pages(data: bytes) -> list[str]:
    """The text of each page (whitespace collapsed)."""
    pdf = pdfium.PdfDocument(data)
    try:
        texts = []
        for i in range(len(pdf)):
            page = pdf[i]
            textpage = page.get_textpage()
            texts.append(" ".join(textpage.get_text_range().split()))
            textpage.close()
            page.close()
        return texts
    finally:
        pdf.close()


def render_first_page(data: bytes, scale: float = 1.0) -> Image.Image:
    pdf = pdfium.PdfDocument(data)
    try:
        page = pdf[0]
        bitmap = page.render(scale=scale)
        image = bitmap.to_pil().convert("L")
        bitmap.close()
        page.close()
        return image
    finally:
        pdf.close()


def assert_not_blank(image: Image.Image) -> None:
    low, high = image.getextrema()
    assert low < 60 and high > 240, "the page is one flat colour"
    dark = sum(image.histogram()[:128])
    assert dark > 2000, f"only {dark} dark pixels: nothing printed"
    assert ImageStat.Stat(image).mean[0] > 200  # mostly paper, as a printed table should be


def render_pages(data: bytes, scale: float = 1.0) -> list[Image.Image]:
    pdf = pdfium.PdfDocument(data)
    try:
        images = []
        for i in range(len(pdf)):
            page = pdf[i]
            bitmap = page.render(scale=scale)
            images.append(bitmap.to_pil().convert("L"))
            bitmap.close()
            page.close()
        return images
    finally:
        pdf.close()


def ink(image: Image.Image, top: float, bottom: float) -> int:
    """Dark pixels between two heights (fractions of the page, from the top)."""
    width, height = image.size
    return sum(image.crop((0, int(height * top), width, int(height * bottom))).histogram()[:128])


def assert_no_blank_page(data: bytes) -> None:
    """Every page but the last is printed down to its lower half (above the footer), and the last has something
    between the running header and the footer: no page is blank below the letterhead or the running header."""
    pages = render_pages(data)
    footer = 1 - 16 / 210  # the footer line sits 8 mm above the bottom edge
    for number, image in enumerate(pages, 1):
        if number < len(pages):
            assert ink(image, 0.55, footer) > 1500, f"page {number} of {len(pages)} is blank in its lower half"
        else:
            assert ink(image, 16 / 210, footer) > 1500, f"the last page ({number}) is blank"


def recap_of(n: int, platform: str = "Instagram") -> Recap:
    """A recap of ``n`` posts made up in memory (the PDF only needs rows)."""
    day = datetime(2025, 5, 6, 13, tzinfo=WIB)
    posts = [PostRow(i, f"{i:03d}/REG-MEDSOS/V/2025", f"Kegiatan nomor {i}", date(2025, 5, 6), platform,
                     f"https://www.instagram.com/p/abc{i}/", day, day, "admin", "Admin Media Sosial",
                     day + timedelta(hours=8), True) for i in range(1, n + 1)]
    return Recap(MAY, posts, [PlatformTotal(platform, n, n, 0)], n, ("6 “Pengunggahan”",))


#: The written responses of a case as the simulator (ops/simulation.py) writes them: steps 2, 3 and 4 of the SOP.
SIM_RESPONSES = (
    (2, "Menerima hasil dokumentasi kegiatan dan konten berita", "Task_Terima", "diterima", "Dokumentasi lengkap.",
     "sim_admin", "Admin Medsos"),
    (3, "Mengontrol dan mengoreksi hasil dokumentasi dan konten", "Task_Koreksi", "lanjut", "Sudah dikoreksi.",
     "sim_wapimred", "Wakil Pimpinan Redaksi"),
    (4, "Memberikan keputusan dan pertimbangan atas konten yang akan diunggah", "Task_Putuskan", "setuju",
     "Layak diunggah.", "sim_pimred", "Pimpinan Redaksi"),
)


def responses_of(n: int) -> list[CaseResponses]:
    """``n`` registered cases with the simulator's three written responses each, made up in memory."""
    start = datetime(2025, 1, 2, 9, tzinfo=WIB)
    cases = []
    for i in range(1, n + 1):
        at = start + timedelta(hours=i)
        rows = [ResponseRow(step, name, bpmn, decision, text, who, who, lane, at, i % 10 == 0)
                for step, name, bpmn, decision, text, who, lane in SIM_RESPONSES]
        cases.append(CaseResponses(i, f"{i:03d}/REG-MEDSOS/I/2025", at, f"Kegiatan simulasi {i}", date(2025, 1, 2),
                                   "Tim Simulasi", "selesai", rows, SOP))
    return cases


# ---------------------------------------------------------------------------------------------- XLSX
def test_register_xlsx_opens_and_has_the_rows(docs):
    doc = docs["register"]
    assert doc.filename("xlsx") == "register-2025-05.xlsx"
    wb = load_workbook(io.BytesIO(to_xlsx(doc)))
    ws = wb["Register"]
    assert ws["A1"].value == "KOMISI PEMILIHAN UMUM PROVINSI SUMATERA BARAT"
    assert ws["A2"].value == "REGISTER DOKUMENTASI DAN KONTEN"
    assert ws["A3"].value.startswith("SOP Nomor 21 Tahun 2025")
    assert ws["A4"].value == "Periode: Mei 2025 (menurut tanggal register)"
    header = [c.value for c in ws[7]]
    assert header[:6] == ["No.", "Nomor Register", "Diserahkan (WIB)", "Batas Serah (WIB)", "Terlambat",
                          "Lama Terlambat (jam:menit:detik)"]
    col = {title: i for i, title in enumerate(header)}
    assert all(c.font.bold for c in ws[7])
    assert ws.freeze_panes == "A8"
    assert ws.column_dimensions["D"].width > ws.column_dimensions["A"].width
    rows = [r for r in ws.iter_rows(min_row=8, values_only=True)]
    assert [r[1] for r in rows] == ["001/REG-MEDSOS/V/2025", "002/REG-MEDSOS/V/2025", "003/REG-MEDSOS/V/2025"]
    # typed cells: numbers are numbers, times are WIB wall-clock times
    assert rows[2][2] == datetime(2025, 5, 31, 23, 59)
    assert rows[0][col["Tanggal Kegiatan"]] == datetime(2025, 5, 6, 0, 0) and rows[0][col["Foto"]] == 4
    assert rows[0][col["Status"]] == "Selesai: dipublikasikan"
    assert rows[0][col["Kelengkapan"]] == "Lengkap; tanpa Video, infografis dan konten lainnya"


def test_recap_xlsx_has_posts_and_totals_sheets(docs):
    wb = load_workbook(io.BytesIO(to_xlsx(docs["rekap"])))
    assert wb.sheetnames == ["Rekapitulasi", "Jumlah per platform"]
    ws = wb["Rekapitulasi"]
    posts = [r for r in ws.iter_rows(min_row=8, values_only=True)]
    assert [(r[1], r[9]) for r in posts] == [("Instagram", True), ("Instagram", True), ("Instagram", False)]
    assert ws["F8"].hyperlink.target == "https://www.instagram.com/p/abc123/"
    assert ws.auto_filter.ref == "A7:L10"


SHEET_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def _xlsx_cell_xml(data: bytes, ref: str, sheet: int = 1):
    """A cell of a workbook's sheet as stored (``<c r=.. t=..><v>..</v></c>``)."""
    import zipfile

    from lxml import etree

    with zipfile.ZipFile(io.BytesIO(data)) as z:
        root = etree.fromstring(z.read(f"xl/worksheets/sheet{sheet}.xml"))
    (cell,) = [c for c in root.iter(f"{{{SHEET_NS}}}c") if c.get("r") == ref]
    return cell


def test_recap_xlsx_cells_are_typed(docs):
    ws = load_workbook(io.BytesIO(to_xlsx(docs["rekap"])))["Rekapitulasi"]
    header = [c.value for c in ws[7]]
    assert header[7] == "Dicatat (WIB)"
    assert header[9] == "Tepat Waktu" and header[10] == "Lama Terlambat (jam:menit:detik)"
    # yes/no: a boolean shown as Ya/Tidak (positive;negative;zero — TRUE is 1)
    for cell in ws["J"][7:10]:
        assert cell.data_type == "b" and cell.number_format == '"Ya";"Ya";"Tidak"'
    assert [c.value for c in ws["J"][7:10]] == [True, True, False]
    # a duration: a number of days (as Excel subtracts times), shown in hours, the same as upload minus due
    late = ws["K10"]
    assert late.number_format == "[h]:mm:ss" and isinstance(late.value, timedelta)  # openpyxl reads it back so
    stored = _xlsx_cell_xml(to_xlsx(docs["rekap"]), "K10")
    assert stored.get("t") in (None, "n")  # stored as a number (no type: numeric), not as text
    uploaded, due = ws["G10"].value, ws["I10"].value
    assert isinstance(uploaded, datetime) and isinstance(due, datetime)
    assert abs(float(stored.findtext(f"{{{SHEET_NS}}}v")) - (uploaded - due) / timedelta(days=1)) < 1e-8
    assert abs(late.value - (uploaded - due)) < timedelta(milliseconds=1)
    assert timedelta(0) < late.value < timedelta(minutes=1)  # "kurang dari 1 menit" on the printed page
    assert ws["K8"].value is None and ws["K9"].value is None  # on time: no lateness
    assert ws["A8"].data_type == "n" and ws["A8"].value == 1


def test_recap_totals_sheet_filters_only_the_platforms(docs):
    ws = load_workbook(io.BytesIO(to_xlsx(docs["rekap"])))["Jumlah per platform"]
    totals = [r for r in ws.iter_rows(min_row=8, values_only=True)]
    assert totals[0] == ("Instagram", 3, 2, 1, 0)
    assert totals[-1] == ("Jumlah", 3, 2, 1, 0)
    jumlah = 7 + len(totals)  # the header is row 7
    assert ws[f"A{jumlah}"].value == "Jumlah" and ws[f"A{jumlah}"].font.bold and len(totals) > 2
    assert all(c.data_type == "n" for row in ws.iter_rows(min_row=8, min_col=2) for c in row)
    # the filter ends above the Jumlah row: filtering or sorting the platforms never moves the total
    assert ws.auto_filter.ref == f"A7:E{jumlah - 1}"


def test_responses_xlsx_one_row_per_response(docs):
    wb = load_workbook(io.BytesIO(to_xlsx(docs["tanggapan"])))
    rows = [r for r in wb["Tanggapan Tertulis"].iter_rows(min_row=8, values_only=True)]
    assert len(rows) == 9  # three cases of May, steps 2, 3 and 4 each
    assert rows[0][3].startswith("2. ") and rows[0][6] == "admin"
    assert rows[0][4] == "Lengkap, teruskan ke Wakil Pimpinan Redaksi"  # the form's own words for the choice
    assert rows[2][4] == "Setuju diunggah" and rows[2][7] == "Pimpinan Redaksi"
    late = wb["Tanggapan Tertulis"]["J8"]
    assert late.data_type == "b" and late.value is False and late.number_format == '"Ya";"Ya";"Tidak"'


# ----------------------------------------------------------------------------------------------- CSV
def test_csv_parses_with_bom_and_has_the_rows(docs):
    data = to_csv(docs["register"])
    assert data.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 with a BOM
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == [c.title for c in docs["register"].table.columns]
    assert [r[1] for r in rows[1:]] == ["001/REG-MEDSOS/V/2025", "002/REG-MEDSOS/V/2025", "003/REG-MEDSOS/V/2025"]
    assert rows[3][2] == "2025-05-31 23:59"
    recap_rows = list(csv.DictReader(io.StringIO(to_csv(docs["rekap"]).decode("utf-8-sig"))))
    assert [r["Tepat Waktu"] for r in recap_rows] == ["Ya", "Ya", "Tidak"]
    assert recap_rows[2]["Batas Waktu (WIB)"] == "2025-05-31 23:59"


def _row(**kw) -> RegisterRow:
    base = dict(number="001/REG-MEDSOS/V/2025", seq=1, year=2025, registered_at=datetime(2025, 5, 6, 9, tzinfo=WIB),
                instance_id=1, activity="Sosialisasi", activity_date=date(2025, 5, 6), place="Padang",
                team_code="humas", team_name="Divisi Humas", submitted_by="tim", submitted_by_name="Tim Humas",
                submissions=1, photos=4, other_files=1, outcome="berjalan",
                current_steps=("Menerima hasil dokumentasi kegiatan dan konten berita",))
    base.update(kw)
    return RegisterRow(**base)


def test_spreadsheets_never_run_text_as_a_formula():
    doc = register_document([_row(activity='=HYPERLINK("http://evil.example","klik")', place="+62 751",
                                  team_name="@tim")], MAY, NOW, SOP)
    rows = list(csv.reader(io.StringIO(to_csv(doc).decode("utf-8-sig"))))
    col = {title: i for i, title in enumerate(rows[0])}
    assert rows[1][col["Nama Kegiatan"]].startswith("'=") and rows[1][col["Tempat"]] == "'+62 751"
    assert rows[1][col["Tim"]] == "'@tim"
    ws = load_workbook(io.BytesIO(to_xlsx(doc)))["Register"]
    (cell,) = [c for c in ws[8] if isinstance(c.value, str) and "HYPERLINK" in c.value]
    assert cell.data_type == "s" and cell.value.startswith("=HYPERLINK")


# ----------------------------------------------------------------------------------------------- PDF
@pytest.mark.parametrize("key", ["register", "tanggapan", "rekap", "kasus"])
def test_pdf_renders_page_one(docs, key):
    data = to_pdf(docs[key])
    assert data.startswith(b"%PDF-")
    image = render_first_page(data)
    assert image.size == a4_pixels(1) == (842, 596)
    assert_not_blank(image)
    big = render_first_page(data, scale=2)
    assert big.size == a4_pixels(2)


@pytest.mark.parametrize("key", ["register", "tanggapan", "rekap"])
def test_pdf_text_has_header_sop_legal_basis_and_signatures(docs, key):
    doc = docs[key]
    pages = pdf_pages(to_pdf(doc))
    first, last, whole = pages[0], pages[-1], " ".join(pages)
    assert "KOMISI PEMILIHAN UMUM PROVINSI SUMATERA BARAT" in first
    assert "Sekretariat — Jalan Pramuka Nomor 9 Padang" in first
    assert doc.title.upper() in first
    assert "SOP Nomor 21 Tahun 2025 — Alur Pengunggahan Konten Media Sosial" in first
    assert "Dasar hukum" in first
    for law in ("Undang-Undang Nomor 14 Tahun 2008 tentang Keterbukaan Informasi Publik",
                "Peraturan Pemerintah Republik Indonesia Nomor 61 Tahun 2010",
                "Peraturan Komisi Pemilihan Umum Nomor 9 Tahun 2022 tentang Partisipasi Masyarakat"):
        assert law in whole
    assert len(SOP.basis) == 3
    for text in ("Dibuat oleh,", "Admin Media Sosial", "Diperiksa oleh,", "Wakil Pimpinan Redaksi", "Mengetahui,",
                 "Pimpinan Redaksi", "Padang, 2 Juni 2025", "NIP."):
        assert text in last, text
    for number, text in enumerate(pages, 1):
        assert f"Halaman {number} dari {len(pages)}" in text


def test_pdf_content_of_each_record(docs):
    register = " ".join(pdf_pages(to_pdf(docs["register"])))
    assert "Periode: Mei 2025" in register
    assert all(n in register for n in ("001/REG-MEDSOS/V/2025", "002/REG-MEDSOS/V/2025", "003/REG-MEDSOS/V/2025"))
    assert "004/REG-MEDSOS/VI/2025" not in register
    tanggapan = " ".join(pdf_pages(to_pdf(docs["tanggapan"])))
    assert "Dokumentasi lengkap." in tanggapan and "Layak diunggah." in tanggapan
    rekap = " ".join(pdf_pages(to_pdf(docs["rekap"])))
    assert "Jumlah per platform" in rekap and "kurang dari 1 menit" in rekap
    kasus = " ".join(pdf_pages(to_pdf(docs["kasus"])))
    assert "Kasus: 004/REG-MEDSOS/VI/2025 — Sosialisasi di Pasar Raya" in kasus and "Foto kurang jelas." in kasus


def test_pdf_long_table_repeats_its_header_and_numbers_pages():
    rows = [_row(number=f"{i:03d}/REG-MEDSOS/V/2025", seq=i, instance_id=i, activity=f"Kegiatan nomor {i}")
            for i in range(1, 121)]
    pages = pdf_pages(to_pdf(register_document(rows, MAY, NOW, SOP)))
    assert len(pages) >= 3
    for number, text in enumerate(pages, 1):
        assert f"Halaman {number} dari {len(pages)}" in text
    assert "Nomor Register" in pages[1]  # the header row is repeated on the next page
    assert "Kegiatan nomor 120" in " ".join(pages)
    assert "Dibuat oleh," in pages[-1]


def test_a_long_recap_starts_its_table_on_page_one():
    """A table longer than a page is split (its header row repeated), so page 1 is not blank below the letterhead."""
    data = to_pdf(recap_document(recap_of(60), NOW, SOP))
    pages = pdf_pages(data)
    assert len(pages) >= 2
    assert "Unggahan" in pages[0] and "001/REG-MEDSOS/V/2025" in pages[0]
    assert all("Nomor Register" in text for text in pages[:-1])  # the header row on every page of the table
    assert_no_blank_page(data)


@pytest.mark.parametrize("key", ["register", "tanggapan", "rekap", "kasus"])
def test_no_pdf_record_has_a_blank_page(docs, key):
    assert_no_blank_page(to_pdf(docs[key]))


def test_written_responses_print_as_one_continuous_document():
    """A heading per case and no page per case. Measured for these 300 cases: main's layout before issue 13 (one
    table per case, kept whole, 7.5 pt Helvetica) printed 101 pages, three cases a page; the issue counted one page
    per case (148 pages for 148 cases). At 9 pt DejaVu Sans with each case kept whole on a page: 39 pages with a
    Paragraph per cell, 35 with the cells as wrapped text (issue 17), 31 with cells padded 0.5/1.2 pt on 10.2 pt
    lines, 29 with 9.8 pt lines padded 0.1/1.4 pt (the descenders clear of the rule) and page margins of 12/13 mm:
    eleven cases a page, under the tenth of one page per case that issue 17 asks for. (A case column beside the
    responses would need ~110 pt that the seven columns, whose one-line widths already fill the landscape page,
    cannot give without wrapping.) The table is printed in parts (a split re-measures only its part): the header
    row heads every page, once."""
    cases = responses_of(300)
    data = to_pdf(responses_document(cases, NOW, period=Period.year(2025), procedure=SOP))
    pages = pdf_pages(data)
    assert len(pages) < 30, len(pages)
    whole = " ".join(pages)
    assert all(f"{i:03d}/REG-MEDSOS/I/2025 — Kegiatan simulasi {i} — 2 Januari 2025 — Tim Simulasi" in whole
               for i in range(1, 301))
    assert whole.count("Dokumentasi lengkap.") == 300 and "4. Keputusan" in pages[0]
    assert all(text.count("/REG-MEDSOS/I/2025 —") >= 11 for text in pages[1:-2])  # eleven cases to a full page
    header = "Langkah Keputusan Tanggapan Tertulis Nama Peran Waktu (WIB) Terlambat"
    assert all(text.count(header) == 1 for text in pages[:-1])  # at the top of each page, never in between
    assert all(text.startswith(header) for text in pages[1:-1])
    assert_no_blank_page(data)


def test_a_case_without_responses_still_has_its_heading():
    case = replace(responses_of(1)[0], responses=[])
    text = " ".join(pdf_pages(to_pdf(responses_document([case], NOW, period=MAY, procedure=SOP))))
    assert "001/REG-MEDSOS/I/2025 — Kegiatan simulasi 1" in text and "Belum ada tanggapan tertulis." in text


def test_pdf_prints_every_character_the_font_has():
    """DejaVu Sans is embedded: "Şəki", Cyrillic and Greek print as typed (the base fonts printed "S?ki"); only
    what the font lacks is replaced — an emoji beyond the emoticons by one U+FFFD per run."""
    assert printable("“Pemilu” — 2025 – ‘aman’ …") == "“Pemilu” — 2025 – ‘aman’ …"
    assert printable("Şəki Ğ ı Москва Αθήνα") == "Şəki Ğ ı Москва Αθήνα"
    assert printable("kotak 🗳\ufe0f suara\x07 👍🏽 😀") == "kotak \ufffd suara  \ufffd 😀"
    assert printable("a\u202eb\u200dc") == "abc"  # no invisible bidi override or joiner
    doc = register_document([_row(activity="Sosialisasi “Pemilu Damai” di Şəki 🗳 <b>&amp;",
                                  place="Ruang Rapat Ş", team_name="Тим Москва")], MAY, NOW, SOP)
    data = to_pdf(doc)
    text = " ".join(pdf_pages(data))
    assert "Sosialisasi “Pemilu Damai” di Şəki \ufffd <b>&amp;" in text
    assert "Ruang Rapat Ş" in text and "Тим Москва" in text and "?" not in text.replace("\ufffd", "")
    assert b"DejaVuSans" in data and b"Helvetica" not in data  # embedded, no base font left
    assert_not_blank(render_first_page(data))


def test_a_missing_font_is_a_clear_error(tmp_path, monkeypatch):
    from process import fonts

    monkeypatch.setenv("ALUR_FONT_DIR", str(tmp_path))
    with pytest.raises(fonts.FontMissing, match="fonts-dejavu-core.*ALUR_FONT_DIR"):
        fonts.check()


@pytest.mark.parametrize("key", ["register", "tanggapan", "rekap"])
def test_pdf_text_is_at_least_9_points(docs, key):
    """Everything on page 1 is at least 9 pt but the 8 pt footer (the table cells were 7.5 pt)."""
    pdf = pdfium.PdfDocument(to_pdf(docs[key]))
    try:
        page = pdf[0]
        textpage = page.get_textpage()
        small = "".join(textpage.get_text_range(i, 1) for i in range(textpage.count_chars())
                        if pdfium.raw.FPDFText_GetFontSize(textpage, i) < 9)
        textpage.close()
        page.close()
    finally:
        pdf.close()
    assert "".join(small.split()) == "".join("Dicetak 2 Juni 2025 09.00 WIB — Alur Medsos Halaman 1 dari".split()) + \
        small.split("dari")[-1].strip()


def _long_records() -> dict[str, bytes]:
    rows = [_row(number=f"{i:03d}/REG-MEDSOS/V/2025", seq=i, instance_id=i) for i in range(1, 61)]
    return {"register": to_pdf(register_document(rows, MAY, NOW, SOP)),
            "tanggapan": to_pdf(responses_document(responses_of(40), NOW, period=MAY, procedure=SOP)),
            "kasus": to_pdf(responses_document(responses_of(1), NOW)),
            "rekap": to_pdf(recap_document(recap_of(45), NOW, SOP))}


def test_every_page_of_every_record_says_page_x_of_y(docs):
    records = {**_long_records(), **{f"{k} (skenario)": to_pdf(d) for k, d in docs.items()}}
    assert len(records) == 8
    for name, data in records.items():
        pages = pdf_pages(data)
        for number, text in enumerate(pages, 1):
            assert text.count(f"Halaman {number} dari {len(pages)}") == 1, (name, number)
            assert text.rstrip().endswith(f"Halaman {number} dari {len(pages)}"), (name, number)  # the footer
    assert max(len(pdf_pages(d)) for d in records.values()) >= 3


def test_empty_period_prints_a_note():
    doc = register_document([], Period.month(2025, 4), NOW, SOP)
    text = " ".join(pdf_pages(to_pdf(doc)))
    assert "Tidak ada data dalam periode ini." in text and "Dibuat oleh," in text
    ws = load_workbook(io.BytesIO(to_xlsx(doc)))["Register"]
    assert ws["A8"].value == "Tidak ada data dalam periode ini."
    assert list(csv.reader(io.StringIO(to_csv(doc).decode("utf-8-sig")))) == [
        [c.title for c in doc.table.columns]]


def test_durations_in_words():
    assert durasi(timedelta(seconds=1)) == "kurang dari 1 menit"
    assert durasi(timedelta(hours=8, seconds=1)) == "8 jam"
    assert durasi(timedelta(days=1, hours=3, minutes=20)) == "1 hari 3 jam 20 menit"


def test_the_sop_diagram_declares_what_its_records_print():
    assert SOP.record_reference == "SOP Nomor 21 Tahun 2025 — Alur Pengunggahan Konten Media Sosial"
    assert (SOP.register_title, SOP.responses_heading, SOP.recap_heading) == (
        "Register Dokumentasi dan Konten", "Tanggapan Tertulis Tim Pertimbangan", "Rekapitulasi Konten Media Sosial")
    assert SOP.signatures == (("Dibuat oleh,", "Admin Media Sosial"), ("Diperiksa oleh,", "Wakil Pimpinan Redaksi"),
                              ("Mengetahui,", "Pimpinan Redaksi"))
    assert documents.KOP_ADDRESS == "Sekretariat — Jalan Pramuka Nomor 9 Padang"


def test_a_procedure_without_record_declarations_prints_generic_titles():
    from dataclasses import replace

    bare = replace(SOP, reference=None, responses_title=None, recap_title=None, basis=(), signatures=(),
                   steps={k: replace(v, register_title=None, register_by=None) for k, v in SOP.steps.items()})
    doc = register_document([_row()], MAY, NOW, bare)
    assert doc.title == "Register Alur Pengunggahan Konten Media Sosial"
    assert "Dicatat oleh" in [c.title for c in doc.table.columns]
    text = " ".join(pdf_pages(to_pdf(doc)))
    assert "Dasar hukum" not in text and "Alur Pengunggahan Konten Media Sosial" in text
    assert responses_document([], NOW, period=MAY, procedure=bare).title == "Tanggapan Tertulis"


def test_register_columns_keep_numbers_and_yes_no_typed():
    """A field the register lists (``alur:register columns``) that holds a number or a yes/no stays one in the
    XLSX (and reads Ya/Tidak in the CSV); a choice is still shown by its label."""
    import dataclasses

    step = SOP.register_step
    rules = dataclasses.replace(SOP, steps={**SOP.steps, step.bpmn_id: dataclasses.replace(
        step, register_columns=("jumlah_peserta", "siaran_langsung"))})
    doc = register_document([_row(fields={"jumlah_peserta": 120, "siaran_langsung": True}),
                             _row(number="002/REG-MEDSOS/V/2025", fields={"jumlah_peserta": 0.5,
                                                                          "siaran_langsung": False})],
                            MAY, NOW, rules)
    titles = [c.title for c in doc.table.columns]
    peserta, langsung = titles.index("jumlah_peserta") + 1, titles.index("siaran_langsung") + 1
    ws = load_workbook(io.BytesIO(to_xlsx(doc)))["Register"]
    assert (ws.cell(8, peserta).value, ws.cell(8, peserta).data_type) == (120, "n")
    assert (ws.cell(9, peserta).value, ws.cell(9, peserta).data_type) == (0.5, "n")
    assert [(ws.cell(r, langsung).value, ws.cell(r, langsung).data_type) for r in (8, 9)] == [(True, "b"),
                                                                                                 (False, "b")]
    assert ws.cell(8, langsung).number_format == '"Ya";"Ya";"Tidak"'
    rows = list(csv.reader(io.StringIO(to_csv(doc).decode("utf-8-sig"))))
    assert [r[langsung - 1] for r in rows[1:]] == ["Ya", "Tidak"] and rows[1][peserta - 1] == "120"


# ------------------------------------------------------------------------------------ written to a file (issue 17)
def _progress_log():
    calls: list[tuple[int, int]] = []
    return calls, lambda done, total: calls.append((done, total))


def assert_progress(calls: list[tuple[int, int]], total: int) -> None:
    """``progress`` was called with one total, never going backwards, last with everything done."""
    assert calls, "progress was never called"
    assert {t for _, t in calls} == {total}
    done = [d for d, _ in calls]
    assert done == sorted(done) and done[-1] == total and all(0 <= d <= total for d in done)


def test_write_pdf_to_a_file_says_page_x_of_the_right_total_on_every_page(tmp_path):
    """The total is a form every footer draws, defined once at the end: each page of a long record shows the real
    count, and progress goes up to every printed row."""
    doc = responses_document(responses_of(60), NOW, period=Period.year(2025), procedure=SOP)
    calls, progress = _progress_log()
    path = tmp_path / "tanggapan.pdf"
    with path.open("wb") as out:
        documents.write_pdf(doc, out, progress=progress)
    data = path.read_bytes()
    pages = pdf_pages(data)
    assert len(pages) >= 6
    for number, text in enumerate(pages, 1):
        assert text.rstrip().endswith(f"Halaman {number} dari {len(pages)}"), (number, text[-40:])
    assert_progress(calls, len(doc.sections[0].rows))
    assert len(calls) > 2  # as the parts are printed, not once at the end
    assert pdf_pages(to_pdf(doc)) == pages  # to_pdf is write_pdf into memory


def test_write_pdf_of_an_empty_record_reports_progress_and_has_one_total():
    doc = register_document([], MAY, NOW, SOP)
    calls, progress = _progress_log()
    out = io.BytesIO()
    documents.write_pdf(doc, out, progress=progress)
    assert calls == [(0, 0)]
    assert pdf_pages(out.getvalue())[-1].endswith("Halaman 1 dari 1")


def test_a_case_with_many_responses_splits_across_pages_under_repeated_headers():
    """A case longer than a page is not kept whole (that would fail): it runs on, the header row on every page."""
    case = responses_of(1)[0]
    many = [replace(case.responses[k % 3], text=f"Tanggapan nomor {k}") for k in range(80)]
    doc = responses_document([replace(case, responses=many)], NOW, period=MAY, procedure=SOP)
    pages = pdf_pages(to_pdf(doc))
    assert len(pages) >= 3
    whole = " ".join(pages)
    assert all(f"Tanggapan nomor {k} " in whole for k in range(80))
    assert all(text.count("Langkah Keputusan Tanggapan Tertulis") == 1 for text in pages[:-1])


def test_write_xlsx_streams_rows_keeping_types_formats_and_layout(tmp_path):
    """Write-only mode keeps what the workbook had: merged title rows, the frozen header, column widths, typed
    cells with their display formats, the total row bold and outside the filter; progress reaches every row."""
    doc = recap_document(recap_of(1200), NOW, SOP)
    calls, progress = _progress_log()
    path = tmp_path / "rekap.xlsx"
    with path.open("wb") as out:
        documents.write_xlsx(doc, out, progress=progress)
    assert_progress(calls, 1200 + len(doc.extra_sheets[0][1].rows))
    wb = load_workbook(path)
    ws = wb["Rekapitulasi"]
    assert "A1:L1" in {str(r) for r in ws.merged_cells.ranges} and ws["A2"].font.bold
    assert ws.freeze_panes == "A8" and ws.print_title_rows == "$7:$7"
    assert ws.page_setup.orientation == "landscape" and ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.column_dimensions["F"].width > ws.column_dimensions["A"].width
    assert ws.auto_filter.ref == "A7:L1207" and ws.max_row == 1207
    assert ws["A8"].value == 1 and ws["A1207"].value == 1200 and ws["A8"].border.left.style == "thin"
    assert ws["G8"].value == datetime(2025, 5, 6, 13, 0) and ws["G8"].number_format == "dd-mm-yyyy hh:mm"
    assert ws["E8"].number_format == "dd-mm-yyyy" and ws["E8"].alignment.wrap_text
    assert ws["J8"].value is True and ws["J8"].number_format == XLSX_YES_NO
    assert ws["F8"].hyperlink.target == "https://www.instagram.com/p/abc1/"
    totals = wb["Jumlah per platform"]
    assert totals["A9"].value == "Jumlah" and totals["A9"].font.bold and totals.auto_filter.ref == "A7:E8"
    assert path.read_bytes()[:2] == b"PK"


def test_xlsx_durations_keep_their_format_in_write_only_mode():
    late = datetime(2025, 5, 7, 9, 30, tzinfo=WIB)
    post = PostRow(1, "001/REG-MEDSOS/V/2025", "Kegiatan", date(2025, 5, 6), "Instagram", "https://x.example/1",
                   late, late, "admin", "Admin", late - timedelta(hours=26, minutes=30), False)
    ws = load_workbook(io.BytesIO(to_xlsx(recap_document(Recap(MAY, [post], [PlatformTotal("Instagram", 1, 0, 1)], 1),
                                                         NOW, SOP))))["Rekapitulasi"]
    assert ws["K8"].number_format == XLSX_DURATION and ws["K8"].value == timedelta(hours=26, minutes=30)
    assert ws["J8"].value is False and ws["J8"].number_format == XLSX_YES_NO


def test_the_page_footer_stays_inside_the_margin_on_every_page():
    """"Halaman x dari y" is drawn before the total is known: with ten pages or more, page 1's footer must still end
    inside the right margin (15 mm), on every page."""
    import pypdfium2 as pdfium

    data = to_pdf(responses_document(responses_of(120), NOW, period=Period.year(2025), procedure=SOP))
    pdf = pdfium.PdfDocument(data)
    assert len(pdf) >= 10
    for index in range(len(pdf)):
        page = pdf[index]
        width = page.get_width()
        text = page.get_textpage()
        rightmost = max(text.get_charbox(i)[2] for i in range(text.count_chars())
                        if text.get_charbox(i)[1] < 30 * 72 / 25.4)  # the footer's line, under 30 mm
        assert rightmost <= width - 15 * 72 / 25.4 + 0.5, (index + 1, rightmost, width)

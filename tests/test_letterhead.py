"""The letterhead from configuration (ALUR_KOP_*): office, address, telephone (the SOP's 0751-446654 by default),
e-mail, website and a logo, the same on the records and on the SOP document; a bad logo is refused at start-up."""
from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from openpyxl import load_workbook
from PIL import Image

from process import sopdoc
from process.config import Letterhead, Settings
from process.deadlines import WIB
from process.documents import to_pdf, to_xlsx
from process.register import register_document
from tests.test_documents import MAY, NOW, SOP, _row, pdf_pages

pytestmark = pytest.mark.nodb

#: A colour no record prints: the logo's.
LOGO_RGB = (200, 30, 160)


def _logo(tmp_path: Path, fmt: str = "PNG", name: str = "logo.png") -> Path:
    path = tmp_path / name
    Image.new("RGB", (200, 240), LOGO_RGB).save(path, fmt)
    return path


def _env(tmp_path: Path, **values) -> dict:
    return {"ALUR_INSTANCE_DIR": str(tmp_path), **values}


def test_the_default_letterhead_is_the_sops():
    head = Settings.from_env(env={"ALUR_INSTANCE_DIR": "/tmp/x"}).letterhead
    assert head == Letterhead()
    assert head.office == "KOMISI PEMILIHAN UMUM PROVINSI SUMATERA BARAT" and head.telephone == "0751-446654"
    assert head.contacts == "Telepon 0751-446654" and head.logo is None


def test_the_letterhead_from_the_environment(tmp_path):
    logo = _logo(tmp_path)
    head = Settings.from_env(env=_env(
        tmp_path, ALUR_KOP_OFFICE="KOMISI PEMILIHAN UMUM KOTA PADANG", ALUR_KOP_ADDRESS="Jalan Sudirman\nNomor 1",
        ALUR_KOP_TELEPHONE="0751-123456", ALUR_KOP_EMAIL="humas@kpu-padang.go.id",
        ALUR_KOP_WEBSITE="https://kota-padang.kpu.go.id", ALUR_KOP_LOGO=str(logo))).letterhead
    assert head.address == "Jalan Sudirman Nomor 1" and head.logo == logo.resolve()
    assert head.contacts == ("Telepon 0751-123456 — Pos-el humas@kpu-padang.go.id — Laman "
                             "https://kota-padang.kpu.go.id")


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: p / "missing.png", "no such file"),
    (lambda p: (p / "logo.png").write_text("not an image") and p / "logo.png", "not a readable PNG or JPEG"),
    (lambda p: _logo(p, "GIF", "logo.gif"), "is a GIF image; the letterhead takes PNG or JPEG"),
    (lambda p: Image.new("RGB", (8, 8)).save(p / "tiny.png") or p / "tiny.png", "at least 16 pixels"),
])
def test_a_bad_logo_is_refused_at_start_up(tmp_path, make, message):
    with pytest.raises(ValueError, match=f"ALUR_KOP_LOGO: .*{message}"):
        Settings.from_env(env=_env(tmp_path, ALUR_KOP_LOGO=str(make(tmp_path))))


def test_a_bad_email_is_refused(tmp_path):
    with pytest.raises(ValueError, match="ALUR_KOP_EMAIL must be an e-mail address"):
        Settings.from_env(env=_env(tmp_path, ALUR_KOP_EMAIL="humas kpu"))


def _logo_pixels(image: Image.Image) -> int:
    import numpy as np

    pixels = np.asarray(image.convert("RGB"), dtype=int)
    return int(np.all(np.abs(pixels - LOGO_RGB) <= 6, axis=2).sum())


def test_records_and_the_sop_document_print_the_configured_letterhead(tmp_path):
    from engine.clock import ManualClock
    from process.procedure import build_engine
    from tests.test_sopdoc import DIAGRAM, declarations_of

    head = Letterhead(office="KOMISI PEMILIHAN UMUM KOTA PADANG", address="Jalan Şəki Nomor 1 Padang",
                      email="humas@kpu-padang.go.id", website="kota-padang.kpu.go.id", logo=_logo(tmp_path))
    record = to_pdf(register_document([_row()], MAY, NOW, SOP), head)
    engine = build_engine(ManualClock(datetime(2025, 5, 6, tzinfo=WIB)))[0]
    parsed = engine.validate(DIAGRAM.read_bytes())
    sop = sopdoc.to_pdf(sopdoc.build(parsed, declarations_of(parsed), version=1), letterhead=head)
    for data in (record, sop):
        first = pdf_pages(data)[0]
        for text in ("KOMISI PEMILIHAN UMUM KOTA PADANG", "Jalan Şəki Nomor 1 Padang",
                     "Telepon 0751-446654 — Pos-el humas@kpu-padang.go.id — Laman kota-padang.kpu.go.id"):
            assert text in first, text
        # (the SOP's identity page names the office its diagram declares: alur:sop office)
        assert data is sop or "SUMATERA BARAT" not in first
        assert _logo_pixels(_render_colour(data)) > 500  # the logo is printed
    assert "KOMISI PEMILIHAN UMUM KOTA PADANG" in pdf_pages(to_pdf(register_document(
        [_row(seq=i, number=f"{i:03d}") for i in range(1, 60)], MAY, NOW, SOP), head))[1]  # the running header
    workbook = load_workbook(io.BytesIO(to_xlsx(register_document([_row()], MAY, NOW, SOP), head)))
    assert workbook.active["A1"].value == "KOMISI PEMILIHAN UMUM KOTA PADANG"  # the spreadsheet's head too
    assert workbook.properties.creator == "Alur Medsos — KOMISI PEMILIHAN UMUM KOTA PADANG"
    plain = pdf_pages(to_pdf(register_document([_row()], MAY, NOW, SOP)))[0]
    assert "KOMISI PEMILIHAN UMUM PROVINSI SUMATERA BARAT" in plain and "Telepon 0751-446654" in plain


def _render_colour(data: bytes) -> Image.Image:
    pdf = pdfium.PdfDocument(data)
    try:
        bitmap = pdf[0].render(scale=1)
        return bitmap.to_pil().convert("RGB")
    finally:
        pdf.close()


def test_the_app_does_not_start_without_the_pdf_font(tmp_path, monkeypatch):
    from process import fonts
    from webui import create_app

    monkeypatch.setenv("ALUR_FONT_DIR", str(tmp_path))
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'alur.db'}", files_dir=tmp_path / "files")
    with pytest.raises(fonts.FontMissing, match="apt-get install fonts-dejavu-core"):
        create_app(settings)

"""The font of every printed record and SOP document: DejaVu Sans (regular and bold), embedded as TrueType.

ReportLab's built-in Helvetica knows only WinAnsi (cp1252): "Şəki" printed as "S?ki". DejaVu Sans covers Latin,
Greek, Cyrillic, Turkish and Azerbaijani letters, IPA, arrows, dashes and quotes, and even the monochrome
emoticons (😀); it is embedded (subset) in each PDF, so the file prints the same on any computer.

The TTF files come from the Debian package ``fonts-dejavu-core`` (``/usr/share/fonts/truetype/dejavu``), which
``make run``/``make test`` and ``.ci/run`` install when it is missing; ``ALUR_FONT_DIR`` names another folder that
holds ``DejaVuSans.ttf`` and ``DejaVuSans-Bold.ttf``. Without them a record cannot be printed, so the app refuses
to start (:func:`check`) with a message that says what to install.
"""
from __future__ import annotations

import os
import unicodedata
from functools import lru_cache
from pathlib import Path

REGULAR, BOLD = "DejaVuSans", "DejaVuSans-Bold"
FILES = {REGULAR: "DejaVuSans.ttf", BOLD: "DejaVuSans-Bold.ttf"}
#: Where Debian's fonts-dejavu-core puts them.
SYSTEM_DIR = Path("/usr/share/fonts/truetype/dejavu")
#: What a character the font cannot draw becomes (U+FFFD, which DejaVu Sans draws as a "?" in a diamond).
MISSING = "\ufffd"


class FontMissing(RuntimeError):
    """The TTF files are not installed: no record can be printed."""


def font_dir() -> Path:
    return Path(os.environ.get("ALUR_FONT_DIR") or SYSTEM_DIR)


def check(folder: Path | None = None) -> Path:
    """The folder that holds the font files; :class:`FontMissing` naming the package to install otherwise."""
    folder = folder or font_dir()
    missing = [name for name in FILES.values() if not (folder / name).is_file()]
    if missing:
        raise FontMissing(
            f"The PDF font DejaVu Sans is missing ({', '.join(missing)} not in {folder}). Install the Debian "
            "package fonts-dejavu-core (apt-get install fonts-dejavu-core; `make run` and `.ci/run` do it) or set "
            "ALUR_FONT_DIR to a folder holding DejaVuSans.ttf and DejaVuSans-Bold.ttf.")
    return folder


@lru_cache(maxsize=1)
def register() -> frozenset[int]:
    """Register the fonts with ReportLab (once per process; ``<b>`` in paragraphs picks the bold one) and return
    the code points both of them can draw."""
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    folder = check()
    covered = None
    for name, file in FILES.items():
        font = TTFont(name, str(folder / file))
        pdfmetrics.registerFont(font)
        chars = frozenset(font.face.charToGlyph)
        covered = chars if covered is None else covered & chars
    # fonts-dejavu-core has no oblique: italics print upright.
    for bold, italic, name in ((0, 0, REGULAR), (1, 0, BOLD), (0, 1, REGULAR), (1, 1, BOLD)):
        addMapping(REGULAR, bold, italic, name)
    return covered or frozenset()


def printable(text: str) -> str:
    """``text`` as the font can draw it: every character it has stays; one it lacks becomes its base letter when
    the font has that (a letter with an accent the font does not combine), a combining mark or variation selector
    it lacks is dropped, anything else (emoji beyond the emoticons: 🗳, 👍🏽, flags) becomes one U+FFFD per run, so
    the reader sees that something was there. Control characters become spaces (tab and newline stay)."""
    text = str(text)
    if text.isascii() and text.replace("\n", "").replace("\t", "").isprintable():
        return text  # (printable ASCII: the font has every character)
    covered = register()
    out: list[str] = []
    for ch in unicodedata.normalize("NFC", text):
        category = unicodedata.category(ch)
        if ch in "\n\t":
            out.append(ch)
        elif category == "Cc":
            out.append(" ")
        elif category in ("Cf", "Cs", "Co", "Cn") or "\ufe00" <= ch <= "\ufe0f" or "\U000e0100" <= ch <= "\U000e01ef":
            continue  # invisible: formatting (bidi overrides, joiners), variation selectors; surrogates, private use
        elif ord(ch) in covered:
            out.append(ch)
        elif category in ("Mn", "Me"):
            continue
        else:
            base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
            if base and all(ord(c) in covered for c in base):
                out.append(base)
            elif not out or out[-1] != MISSING:
                out.append(MISSING)
    return "".join(out)

"""The refusals of the input rules (process/inputs.py) and of the photo limit (process/files.py) in the user's
language: the process layer gives a code and its parameters, this module the sentence. The msgids are the
Indonesian sentences the process layer writes itself; the English catalogue translates them."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import format_decimal, get_locale
from flask_babel import gettext as _

from engine.errors import EngineError
from process.forms import FieldError


def N_(message: str) -> str:
    """Marks a msgid for extraction (pybabel's default keywords); translated when used, with its parameters."""
    return message


#: Rule code → sentence (without the field's label), filled with the refusal's parameters.
MESSAGES = {
    "type": N_("harus berupa teks."),
    "multiline": N_("harus satu baris (tanpa ganti baris)."),
    "control_char": N_("berisi karakter kontrol %(char)s (%(char_name)s) yang tidak diizinkan."),
    "invalid_char": N_("berisi karakter %(char)s yang bukan teks."),
    "minlength": N_("minimal %(n)s karakter (sekarang %(length)s)."),
    "maxlength": N_("maksimal %(n)s karakter (sekarang %(length)s)."),
    "no_letter": N_("harus memuat setidaknya satu huruf atau angka."),
    "username": N_("hanya boleh berisi huruf a–z, angka, titik, garis bawah dan tanda hubung, diawali huruf atau "
                   "angka (tanpa spasi, huruf beraksen atau huruf lain)."),
    "team_code": N_("hanya boleh berisi huruf kecil a–z, angka, garis bawah dan tanda hubung."),
    "date": N_("harus tanggal dengan format TTTT-BB-HH, mis. 2025-05-06."),
    "date_window": N_("harus antara %(first)s dan %(last)s."),
}

#: Refusals that stand alone (no field label).
STANDALONE = {
    "image_too_large": N_("Foto terlalu besar: %(width)s × %(height)s piksel (%(megapixels)s megapiksel), batasnya "
                          "%(max_megapixels)s megapiksel. Perkecil resolusinya (mis. kirim ulang dari galeri ponsel "
                          "dengan ukuran lebih kecil) lalu unggah lagi."),
}


def _indonesian() -> bool:
    return str(get_locale()) == "id"


def _render(template: str | None, params: Mapping[str, Any]) -> str | None:
    if template is None:
        return None
    # Numbers are written the way the user's language writes them (199.8 in English, 199,8 in Bahasa Indonesia).
    params = {k: format_decimal(v) if isinstance(v, float) else v for k, v in params.items()}
    try:
        return _(template, **params)
    except (KeyError, ValueError, TypeError):  # parameters that do not fit: keep the process layer's text
        return None


def field_message(err: FieldError, label: str | None = None) -> str:
    """A form error in the user's language: the process layer's own text in Bahasa Indonesia, else the rule's
    sentence after the (translated) label; errors of other rules keep their text."""
    if _indonesian():
        return err.message
    if label is None:
        label = err.message.split(": ", 1)[0] if ": " in err.message else err.field
    return _labelled(err.code, err.params, label) or err.message


def _labelled(code: str, params: Mapping[str, Any], label: str) -> str | None:
    if code == "required":
        return _("%(label)s: wajib diisi.", label=label)
    sentence = _render(MESSAGES.get(code), params)
    return f"{label}: {sentence}" if sentence is not None else None


def error_message(exc: EngineError) -> str | None:
    """A standalone refusal in the user's language, or None when this module does not know it."""
    if _indonesian():
        return None
    params = getattr(exc, "params", None) or exc.context
    if exc.code in STANDALONE:
        return _render(STANDALONE[exc.code], params)
    label = params.get("label")
    if label:
        return _labelled(exc.code, params, _(label))
    return _render(MESSAGES.get(exc.code), params)

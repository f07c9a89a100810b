"""The modeler's texts in both languages: the group "Aturan prosedur" (frontend/alur-panel.js ``TEXTS``, Indonesian)
gets its texts from the server's catalogue (webui/modeler.py ``_rules_texts``), key by key the same Indonesian, and an
English translation for every one; the library dictionaries (frontend/modeler-i18n.js) name no Camunda product."""
from __future__ import annotations

import json
import re
from pathlib import Path

from flask_babel import force_locale

ROOT = Path(__file__).resolve().parents[1]


def js_texts() -> dict[str, str]:
    source = (ROOT / "frontend" / "alur-panel.js").read_text(encoding="utf-8")
    block = source[source.index("export const TEXTS = {"):]
    block = block[:block.index("\n};")]
    entries = re.findall(r'^\s+(\w+): ("(?:[^"\\]|\\.)*"),\s*$', block, re.M)
    assert len(entries) == block.count(': "'), "every TEXTS entry is one line `key: \"text\",`"
    return {key: json.loads(value) for key, value in entries}


def test_the_rules_group_texts_are_the_catalogues_in_either_language(app, english_app):
    from webui.modeler import _modeler_texts

    with app.test_request_context("/"):
        indonesian = _modeler_texts()["rules"]
    with english_app.test_request_context("/"), force_locale("en"):
        english = _modeler_texts()["rules"]
    texts = js_texts()
    assert set(indonesian) == set(texts), "alur-panel.js TEXTS and webui/modeler.py _rules_texts name the same keys"
    assert {k: v for k, v in indonesian.items() if v != texts[k]} == {}
    # every text has its English (the placeholders of a few are the same in both: "{when} = {equals}")
    same = {k for k in english if english[k] == indonesian[k] and not re.fullmatch(r"[{}\w\s=\u2192]+", english[k])}
    assert same == set(), f"no English translation for {sorted(same)}"
    for key, value in english.items():
        assert set(re.findall(r"\{\w+\}", value)) == set(re.findall(r"\{\w+\}", indonesian[key])), key


def test_the_page_texts_have_english_and_the_draft_offer_names_its_time(app, english_app):
    from webui.modeler import _modeler_texts

    with english_app.test_request_context("/"), force_locale("en"):
        english = _modeler_texts()
    assert english["draft_resume"] == "Continue the draft (saved {time})"
    assert english["draft_discard"] == "Discard the draft"
    with app.test_request_context("/"):
        assert _modeler_texts()["draft_resume"] == "Lanjutkan draf (disimpan {time})"


def test_no_camunda_product_name_in_what_the_dictionaries_show():
    source = (ROOT / "frontend" / "modeler-i18n.js").read_text(encoding="utf-8")
    values = re.findall(r':\s*"((?:[^"\\]|\\.)*)"', source)
    assert values and not [v for v in values if "camunda" in v.lower()]

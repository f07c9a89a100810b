"""The diagram-defined task forms in HTML: what each field shows, and how a posted form becomes the raw
dict that :meth:`process.tasks.Tasks.complete` validates.

Field types come from ``camunda:formData`` (see :mod:`engine.forms`); nothing here knows which step it
is rendering: which choices send a case back, which text fields are edited copies of others and which get
the per-platform length counter come from the diagram's declarations (process/declarations.py).
"""
from __future__ import annotations

import difflib
import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from markupsafe import Markup, escape
from werkzeug.datastructures import MultiDict

from engine.forms import FormField
from process.deadlines import WIB
from process.declarations import Declarations, Step, TextRule

#: Form keys that are never form fields (the CSRF token, the optimistic-lock version).
RESERVED_KEYS = frozenset({"csrf_token", "lock_version"})

#: How many rows of a ``posts`` field are read at most (one per configured platform).
MAX_POST_ROWS = 50


# --------------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------------


def input_id(field_id: str) -> str:
    """The HTML id of a field's main input (error summaries link to it)."""
    return f"f-{field_id}"


@dataclass(frozen=True)
class PostRow:
    index: int
    platform: str
    checked: bool
    url: str
    waktu: str  # datetime-local value in WIB, "YYYY-MM-DDTHH:MM"

    def name(self, field_id: str, part: str) -> str:
        return f"{field_id}-{self.index}-{part}"


@dataclass(frozen=True)
class FileItem:
    id: str
    name: str
    kind: str


@dataclass
class FieldView:
    """One field as the template renders it."""

    field: FormField
    value: Any
    errors: list[str] = field(default_factory=list)
    files: list[FileItem] = field(default_factory=list)
    posts: list[PostRow] = field(default_factory=list)
    counters: list[dict] = field(default_factory=list)
    step: Step | None = None  # the declarations of the step the form is of (how its choices are shown)

    @property
    def id(self) -> str:
        return self.field.id

    @property
    def html_id(self) -> str:
        return input_id(self.field.id)

    @property
    def type(self) -> str:
        return self.field.type

    @property
    def help(self) -> str:
        return self.field.properties.get("help", "")

    @property
    def accept(self) -> str | None:
        kinds = {k.strip() for k in self.field.constraints.get("accept", "").split(",") if k.strip()}
        if kinds == {"image"}:
            return "image/*"
        return None

    @property
    def multiple(self) -> bool:
        return self.field.constraints.get("max_files", "") != "1"

    def constraint(self, name: str) -> str | None:
        return self.field.constraints.get(name)

    def option_tone(self, option_id: str) -> str:
        """``return`` for a choice that sends the case back with a written response, ``reject`` for one that ends
        it (``alur:return``, ``alur:reject``)."""
        return self.step.tone(self.field.id, option_id) if self.step is not None else ""

    @property
    def datetime_value(self) -> str:
        return local_datetime(self.value) if self.value else ""

    def display(self) -> str:
        """A readonly field's value as text."""
        if self.field.type == "boolean":
            return "✓" if self.value else "–"
        if self.field.type == "enum":
            return dict(self.field.options).get(str(self.value), str(self.value or ""))
        return "" if self.value is None else str(self.value)


def caption_counters(text: str, platforms: Sequence[str], limits: Mapping[str, int]) -> list[dict]:
    """Character counts of ``text`` against each configured platform that has a limit."""
    used = len(text or "")
    return [{"platform": p, "limit": int(limits[p]), "used": used, "over": used > int(limits[p])}
            for p in platforms if p in limits]


def caption_limits_json(platforms: Sequence[str], limits: Mapping[str, int]) -> str:
    """The limits the counters use, as JSON for a ``data-`` attribute (read by static/js/task.js)."""
    return json.dumps({p: int(limits[p]) for p in platforms if p in limits}, ensure_ascii=False)


def local_datetime(value: Any) -> str:
    """An ISO datetime (aware, or naive = WIB) as a ``datetime-local`` value in WIB; "" when unreadable."""
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(str(value or "").strip())
        except ValueError:
            return ""
    dt = dt.replace(tzinfo=WIB) if dt.tzinfo is None else dt.astimezone(WIB)
    return dt.strftime("%Y-%m-%dT%H:%M")


def post_rows(platforms: Sequence[str], value: Any) -> list[PostRow]:
    """One row per configured platform, filled from stored posts or from a re-shown form."""
    by_platform: dict[str, Mapping] = {}
    for item in value if isinstance(value, list) else []:
        if isinstance(item, Mapping) and item.get("platform") in platforms:
            by_platform.setdefault(item["platform"], item)
    rows = []
    for index, platform in enumerate(platforms):
        item = by_platform.get(platform)
        if item is None:
            rows.append(PostRow(index, platform, False, "", ""))
        else:
            rows.append(PostRow(index, platform, True, str(item.get("url") or ""), local_datetime(item.get("waktu"))))
    return rows


def file_ids(value: Any) -> list[str]:
    """File ids of a files field's value: stored refs (``{"id", "sha256"}``) or plain ids."""
    ids = []
    for item in value if isinstance(value, list) else []:
        file_id = item.get("id") if isinstance(item, Mapping) else item
        if isinstance(file_id, str) and file_id and file_id not in ids:
            ids.append(file_id)
    return ids


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def counted_fields(rules: Declarations | None) -> frozenset[str]:
    """Text fields that get live character counters against each platform's caption limit (``alur:text
    counter``): the text and its corrected copy."""
    texts = rules.texts if rules is not None else ()
    return frozenset(k for t in texts if t.counter for k in (t.field, t.correction) if k)


def field_views(fields: Sequence[FormField], values: Mapping[str, Any], *, errors: Mapping[str, list[str]],
                files: Mapping[str, FileItem], platforms: Sequence[str],
                caption_limits: Mapping[str, int], rules: Declarations | None = None,
                step: Step | None = None) -> list[FieldView]:
    """Every field with its value, its messages and what its widget needs."""
    views = []
    counted = counted_fields(rules)
    for f in fields:
        value = values.get(f.id)
        view = FieldView(f, value, list(errors.get(f.id, [])), step=step)
        if f.type == "files":
            view.files = [files[i] for i in file_ids(value) if i in files]
        elif f.type == "posts":
            view.posts = post_rows(platforms, value)
        elif f.type == "text" and f.id in counted:
            view.counters = caption_counters(str(value or ""), platforms, caption_limits)
        views.append(view)
    return views


# --------------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------------

_CHECKED = frozenset({"on", "true", "1", "ya", "yes"})


def parse_posts(field_id: str, form: MultiDict, platforms: Sequence[str]) -> list[dict[str, str]]:
    """The filled rows of a posts field: ticked "diunggah", or with a URL or time typed in."""
    posts = []
    for index, platform in enumerate(list(platforms)[:MAX_POST_ROWS]):
        prefix = f"{field_id}-{index}-"
        ticked = form.get(prefix + "diunggah", "").strip().lower() in _CHECKED
        url = form.get(prefix + "url", "").strip()
        waktu = form.get(prefix + "waktu", "").strip()
        if ticked or url or waktu:
            posts.append({"platform": platform, "url": url, "waktu": waktu})
    return posts


def parse_form(fields: Sequence[FormField], form: MultiDict, *, platforms: Sequence[str],
               extra_files: Mapping[str, list[str]] | None = None) -> dict[str, Any]:
    """The raw dict for :meth:`process.tasks.Tasks.complete` from a posted HTML form.

    Only the form's own (non-readonly) fields are read, so the CSRF token, the lock version and the
    submit button never reach validation. An unticked checkbox is ``False``; files fields are lists of
    file ids (the ids already uploaded plus ``extra_files``, the ones stored from this very request);
    posts fields are the filled rows as ``{platform, url, waktu}``.
    """
    raw: dict[str, Any] = {}
    extra_files = extra_files or {}
    for f in fields:
        if f.readonly or f.id in RESERVED_KEYS:
            continue
        if f.type == "boolean":
            raw[f.id] = form.get(f.id, "").strip().lower() in _CHECKED
        elif f.type == "files":
            ids = [v.strip() for v in form.getlist(f.id) if isinstance(v, str) and v.strip()]
            raw[f.id] = list(dict.fromkeys(ids + list(extra_files.get(f.id, []))))
        elif f.type == "posts":
            raw[f.id] = parse_posts(f.id, form, platforms)
        elif f.id in form:
            raw[f.id] = form.get(f.id, "")
    return raw


def redisplay_values(fields: Sequence[FormField], raw: Mapping[str, Any], current: Mapping[str, Any]) -> dict:
    """Values to show again after a refused submission: what was typed, readonly fields as they were."""
    values = dict(current)
    for f in fields:
        if not f.readonly:
            values[f.id] = raw.get(f.id, "" if f.type not in ("boolean", "files", "posts") else
                                   (False if f.type == "boolean" else []))
    return values


# --------------------------------------------------------------------------------------------------
# Narrative and caption against the first submission
# --------------------------------------------------------------------------------------------------

_TOKENS = re.compile(r"\s+|[^\W_]+|_|[^\w\s]", re.UNICODE)


def _tokens(text: str) -> list[str]:
    return _TOKENS.findall(text or "")


def word_diff(old: str, new: str) -> Markup:
    """``new`` against ``old`` word by word, as HTML: removed words in ``<del>``, added ones in ``<ins>``."""
    a, b = _tokens(old), _tokens(new)
    parts: list[str] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            parts.append(str(escape("".join(a[i1:i2]))))
            continue
        if op in ("delete", "replace"):
            parts.append(f'<del class="diff-del">{escape("".join(a[i1:i2]))}</del>')
        if op in ("insert", "replace"):
            parts.append(f'<ins class="diff-ins">{escape("".join(b[j1:j2]))}</ins>')
    return Markup("".join(parts))


@dataclass(frozen=True)
class TextDiff:
    key: str
    label: str
    first: str
    latest: str

    @property
    def changed(self) -> bool:
        return self.first != self.latest

    @property
    def html(self) -> Markup:
        return word_diff(self.first, self.latest)


def latest_text(submissions: Iterable[Mapping[str, Any]], text: TextRule) -> str | None:
    """The newest version of a procedure's text across submitted forms in order: its correction or a
    resubmission, whichever came last."""
    latest = None
    for data in submissions:
        if text.correction and data.get(text.correction):
            latest = data[text.correction]
        elif data.get(text.field):
            latest = data[text.field]
    return latest


def text_diffs(rules: Declarations, first: Mapping[str, Any], submissions: Sequence[Mapping[str, Any]],
               since: Sequence[Mapping[str, Any]] | None = None) -> list[TextDiff]:
    """The procedure's texts (``alur:text``) against their latest version: as first handed in, or, with ``since``
    (the submissions up to an earlier moment, in order), as they stood then."""
    diffs = []
    for text in rules.texts:
        if since is None:
            original = str(first.get(text.field) or "")
        else:
            then = latest_text(since, text)
            original = str(then if then is not None else first.get(text.field) or "")
        latest = latest_text(submissions, text)
        diffs.append(TextDiff(text.field, text.label, original, str(latest if latest is not None else original)))
    return diffs


def until_last_round(completions: Sequence[tuple[str | None, Mapping[str, Any]]], bpmn_id: str
                     ) -> list[Mapping[str, Any]] | None:
    """The submissions (``completions``: each step's id and data, in order) up to the last time the step
    ``bpmn_id`` was completed, its own included: the texts as it left them the previous round; None when it was not
    completed before."""
    last = max((k for k, (step, _data) in enumerate(completions) if step == bpmn_id), default=None)
    return None if last is None else [data for _step, data in completions[:last + 1]]

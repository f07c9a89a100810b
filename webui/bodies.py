"""How much of a request body is read: one rule for every endpoint, enforced while reading.

Each view declares what its body is (:func:`accepts_body`): ``"upload"`` (multipart with files: the largest file
limit plus the multipart envelope, Flask's ``MAX_CONTENT_LENGTH``), ``"diagram"`` (a BPMN file:
``engine.definitions.MAX_XML_BYTES``), or by default a form or JSON document (``ALUR_MAX_FORM_BYTES``, 1 MB).
The request class gives Werkzeug that limit as ``max_content_length``, so a body declared larger
(``Content-Length``) is refused before a byte of it is read, and a body without a declared length
(``Transfer-Encoding: chunked``) is read only up to the limit. Either way the answer is 413 (webui/errors.py), with
the size when the client declared it; files over their kind's limit (a photo over ``ALUR_MAX_IMAGE_MB``) are 413 too
(``process.errors.TooLarge``).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Flask, current_app
from flask import Request as FlaskRequest
from werkzeug.exceptions import RequestEntityTooLarge

from engine.definitions import MAX_XML_BYTES

#: Room for the multipart envelope (boundaries, part headers, the other form fields) around the largest file.
ENVELOPE_BYTES = 1024 * 1024
FORM_BYTES = 1024 * 1024
KINDS = ("upload", "diagram", "form")

View = TypeVar("View", bound=Callable)


def accepts_body(kind: str) -> Callable[[View], View]:
    """Mark a view as taking a body of ``kind`` (``"upload"`` or ``"diagram"``; anything else is a form)."""
    if kind not in KINDS:
        raise ValueError(kind)

    def mark(view: View) -> View:
        view.body_kind = kind  # functools.wraps copies it onto every decorator around the view
        return view

    return mark


def body_kind(endpoint: str | None) -> str:
    view = current_app.view_functions.get(endpoint) if endpoint else None
    return getattr(view, "body_kind", "form")


def limits(kind: str) -> tuple[int, int]:
    """(bytes read at most, the limit to tell the user) for a body of ``kind``."""
    config = current_app.config
    upload_cap = config["MAX_CONTENT_LENGTH"]
    if kind == "upload":
        settings = current_app.extensions["alur"].settings
        largest_file = max(settings.max_image_bytes, settings.max_other_bytes)
        return upload_cap, min(largest_file, upload_cap)
    if kind == "diagram":
        return config["ALUR_MAX_DIAGRAM_BYTES"], config["ALUR_MAX_DIAGRAM_BYTES"]
    cap = min(config["ALUR_MAX_FORM_BYTES"], upload_cap)
    return cap, cap


class Request(FlaskRequest):
    """Flask's request, reading at most the limit of its endpoint's kind of body.

    Werkzeug stops a stream without a declared length at ``max_content_length``; a multipart parser then gets a 413,
    but ``get_data`` (raw bodies, JSON) would return the body cut off at the limit without a word. So the stream may
    give one byte more than the limit, and a body that did is refused here."""

    def body_limit(self) -> int:
        return limits(body_kind(self.endpoint))[0]

    @property
    def max_content_length(self) -> int | None:  # type: ignore[override]
        return self.body_limit() + 1

    def get_data(self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False):  # type: ignore
        data = super().get_data(cache=cache, as_text=False, parse_form_data=parse_form_data)
        if len(data) > self.body_limit():
            raise RequestEntityTooLarge()
        return data.decode(errors="replace") if as_text else data

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        raise AttributeError("the body limit follows the endpoint (webui/bodies.py)")


def init_app(app: Flask, max_upload_bytes: int) -> None:
    """The request class, and the limits unless the app's config gives them (tests make them small)."""
    app.request_class = Request
    for key, value in (("MAX_CONTENT_LENGTH", max_upload_bytes + ENVELOPE_BYTES),
                       ("ALUR_MAX_DIAGRAM_BYTES", MAX_XML_BYTES), ("ALUR_MAX_FORM_BYTES", FORM_BYTES)):
        if app.config.get(key) is None:  # Flask's own default for MAX_CONTENT_LENGTH is None: no limit
            app.config[key] = value

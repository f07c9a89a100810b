"""Saved filters of the inbox and the case list (process/savedfilters.py): saving the page's current filter and
order under a name, and deleting one. The pages themselves list them as quick links (:func:`quick_links`)."""
from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from process import savedfilters
from process.errors import BadRequest, Conflict

from . import i18n
from .access import me
from .db import db, system

bp = Blueprint("saved_filters", __name__)

#: The page of each list.
ENDPOINTS = {"inbox": "inbox.index", "cases": "cases.index"}


def page_url(view: str, params: dict[str, str]) -> str:
    return url_for(ENDPOINTS[view]) + ("?" + urlencode(params) if params else "")


def quick_links(view: str) -> list[dict]:
    """The user's saved filters of ``view`` as links to the page."""
    return [{"id": f.id, "name": f.name, "url": page_url(view, f.params), "params": f.params}
            for f in savedfilters.filters(db(), me(), view)]


@bp.post("/filter-tersimpan")
@login_required
def save():
    view = savedfilters.check_view(request.form.get("view"))
    params = {k: request.form.get(k, "") for k in savedfilters.PARAMS[view] if k in request.form}
    try:
        saved = savedfilters.save(db(), me(), view, request.form.get("name"), params, system().clock.now())
    except (BadRequest, Conflict) as refused:  # said on the page it came from, whose filter stays as it was
        flash(i18n.error_text(refused), "error")
        return redirect(page_url(view, {k: v for k, v in params.items() if v}))
    flash(_("Filter \u201c%(name)s\u201d disimpan.", name=saved.name), "success")
    return redirect(page_url(view, saved.params))


@bp.post("/filter-tersimpan/<id:filter_id>/hapus")
@login_required
def delete(filter_id: int):
    saved = savedfilters.delete(db(), me(), filter_id)
    flash(_("Filter \u201c%(name)s\u201d dihapus.", name=saved.name), "success")
    return redirect(url_for(ENDPOINTS[saved.view]))

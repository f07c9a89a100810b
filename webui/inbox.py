"""The task inbox (three tabs) and in-app notifications."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_translations
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from sqlalchemy import update

from process import inputs, notify, paging
from process.casefile import display_names
from process.deadlines import WIB
from process.inbox import SCOPES, inbox_counts, inbox_page
from process.models import Notification
from process.notification_page import notifications_page
from process.roles import ROLE_LABELS
from process.sorting import ACTIVITY_DATE, CHANGED, DEADLINE, parse_sort

from . import i18n
from .access import lane_map, me, my_lanes
from .db import db, system
from .ids import query_id
from .savedfilters import quick_links

bp = Blueprint("inbox", __name__)

#: A deadline closer than this is shown as "Hampir habis".
DUE_SOON = timedelta(hours=6)
NOTIFICATIONS_PER_PAGE = 50
#: Tasks on one page of a tab (the next ones are reached by the page's cursor).
PER_PAGE = 50


def deadline_info(due: datetime | None, now: datetime, overdue: bool) -> dict:
    """What the templates show for a deadline: absolute WIB, relative, and a status tag."""
    if due is None:
        return {"absolute": None, "relative": None, "status": "late" if overdue else "none"}
    status = "late" if overdue or due < now else ("soon" if due - now < DUE_SOON else "ok")
    return {"absolute": i18n.when(due), "relative": i18n.relative(due, now), "status": status}


def back_cursors() -> list[str]:
    """The cursors of the pages before this one (``?balik=``, "-" for the first page), which the page's links carry
    so that "Sebelumnya" can go back: the last 20; anything that is not a cursor is dropped (the link it would make
    would only be refused)."""
    return [c for c in request.args.getlist("balik")[-20:] if c == "-" or paging.looks_like_cursor(c)]


def _parse_day(raw: str, label: str, problems: list[str]) -> date | None:
    """A filter date by the date rule of process/inputs.py; a problem (and no filter) otherwise."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return inputs.query_date(raw, system().clock.now().astimezone(WIB).date())
    except inputs.Refused as refused:
        if refused.code == "date_window":
            problems.append(_("%(label)s harus antara %(first)s dan %(last)s.", label=label, **refused.params))
        else:
            problems.append(_("%(label)s tidak dapat dibaca: gunakan format TTTT-BB-HH (misalnya 2025-05-06).",
                              label=label))
        return None


@bp.get("/tugas-saya")
@login_required
def mine():
    return redirect(url_for(".index", tab="mine"))


@bp.get("/tugas-tim")
@login_required
def lane():
    return redirect(url_for(".index", tab="lane"))


@bp.get("/terlambat")
@login_required
def overdue():
    return redirect(url_for(".index", tab="overdue"))


@bp.get("/kotak-tugas")
@login_required
def index():
    user = me()
    mine = my_lanes()
    if not mine:
        # Process owners, auditors and administrators work no lane: tell them where their work is.
        roles = sorted(user.roles)
        return render_template("inbox/no_lane.html", roles=roles,
                               role_names=[ROLE_LABELS.get(r, r) for r in roles])
    session = db()
    now = system().clock.now()
    q = (request.args.get("q") or "").strip()[:100]
    problems: list[str] = []
    date_from = _parse_day(request.args.get("dari", ""), _("Tanggal awal"), problems)
    date_to = _parse_day(request.args.get("sampai", ""), _("Tanggal akhir"), problems)
    if date_from and date_to and date_from > date_to:
        problems.append(_("Tanggal awal lebih akhir daripada tanggal akhir; kedua tanggal ditukar."))
        date_from, date_to = date_to, date_from
    filters = {"q": q or None, "date_from": date_from, "date_to": date_to}
    lanes = lane_map().overdue_lanes
    filters["heard"] = lane_map().heard_lanes(mine)
    counts = inbox_counts(session, user, now=now, lanes=mine, overdue_lanes=lanes, **filters)
    tab = request.args.get("tab")
    if tab not in SCOPES:
        held = counts if not any((q, date_from, date_to)) else inbox_counts(
            session, user, now=now, lanes=mine, overdue_lanes=lanes, heard=filters["heard"])
        tab = "mine" if held["mine"] else "lane"
    sort = parse_sort("inbox", request.args.get("sort"), request.args.get("order"), default=DEADLINE)
    cursor = request.args.get("kursor") or None
    start = query_id("mulai", 1) if cursor else 1  # where the page starts (shown only: the cursor says where)
    page = inbox_page(session, user, tab, now=now, lanes=mine, overdue_lanes=lanes, sort=sort, per_page=PER_PAGE,
                      cursor=cursor, total=False, **filters)
    items = page.items
    shown_from, shown_to = paging.page_range(start, len(items), counts[tab])
    names = display_names(session, {i.claimed_by for i in items})
    several = len({d.process_key for d in system().rules.all_versions(session)}) > 1
    rules = system().rules.of_instances(session, {i.instance_id for i in items}) if several else {}
    rows = [{"item": i, "deadline": deadline_info(i.due_at, now, i.overdue),
             "procedure": rules[i.instance_id].name if several else None,
             "holder": names.get(i.claimed_by, i.claimed_by) if i.claimed_by else None,
             "mine": i.claimed_by == user.actor} for i in items]
    args = {k: v for k, v in {"q": q, "dari": request.args.get("dari", "").strip(),
                              "sampai": request.args.get("sampai", "").strip(),
                              "sort": request.args.get("sort", "").strip(),
                              "order": request.args.get("order", "").strip()}.items() if v}
    return render_template("inbox/index.html", tab=tab, rows=rows, counts=counts, problems=problems, q=q,
                           dari=date_from.isoformat() if date_from else "",
                           sampai=date_to.isoformat() if date_to else "", filter_args=args,
                           filtered=bool(q or date_from or date_to), now_wib=i18n.when(now), sort=sort,
                           sort_options=INBOX_SORTS, sort_label=dict(INBOX_SORTS)[sort.key],
                           saved=quick_links("inbox"), saved_args={"tab": tab, **args},
                           pager_args={"tab": tab, **args}, cursor=cursor, next_cursor=page.next_cursor,
                           shown_from=shown_from, shown_to=shown_to, per_page=PER_PAGE,
                           back=back_cursors() if cursor else [])


#: The orders of the inbox, as the page names them.
INBOX_SORTS = ((DEADLINE, _l("Batas waktu")), (CHANGED, _l("Perubahan terakhir kasus")),
               (ACTIVITY_DATE, _l("Tanggal kegiatan")))


@bp.get("/notifikasi")
@login_required
def notifications():
    cursor = request.args.get("kursor") or None
    start = query_id("mulai", 1) if cursor else 1  # where the page starts (shown only: the cursor says where)
    page = notifications_page(db(), me(), per_page=NOTIFICATIONS_PER_PAGE, cursor=cursor, field="kursor")
    locale, translations = i18n.locale(), get_translations()
    rows = [{"n": n, "text": notify.text_of(n, locale, translations), "export": notify.export_of(n)}
            for n in page.items]
    shown_from, shown_to = paging.page_range(start, len(rows), page.total)
    return render_template("inbox/notifications.html", items=rows, page=page, cursor=cursor,
                           shown_from=shown_from, shown_to=shown_to, back=back_cursors() if cursor else [])


@bp.post("/notifikasi/baca")
@login_required
def mark_read():
    user = me()
    result = db().execute(update(Notification)
                          .where(Notification.user_id == user.id, Notification.read_at.is_(None))
                          .values(read_at=system().clock.now()))
    if result.rowcount:
        flash(_("Semua notifikasi ditandai sudah dibaca."), "success")
    return redirect(url_for(".notifications"))

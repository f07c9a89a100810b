"""Logging in and out (HTML sessions), API bearer tokens, and the language switch."""
from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from process.models import User
from process.sessions import API, WEB

from .access import LoginUser, my_session_id
from .db import db, system
from .extensions import limiter, login_manager

bp = Blueprint("auth", __name__)

TOKEN_MAX_AGE = 12 * 3600
LANGUAGES = ("id", "en")
#: What a browser strips from both ends of a URL (C0 controls and space), and what it drops anywhere in it.
_C0_OR_SPACE = "".join(map(chr, range(0x21)))
_TAB_OR_NEWLINE = str.maketrans("", "", "\t\n\r")


def local_target(value: str | None) -> str | None:
    """``value`` as a path on this site, or None when a browser could read it as leading anywhere else.

    The one rule for every redirect whose target a request supplies (``?next=`` after login, the Referer of the
    language switch). The value is first read the way a browser reads a URL (WHATWG URL standard): leading and
    trailing control characters and spaces stripped, tabs and newlines removed everywhere, backslashes taken as
    slashes. What remains must be a path (``/…``, not ``//…``) or an absolute URL of this very origin; the answer
    is that normalised path with its query and fragment, so the browser has nothing left to reinterpret.
    """
    if not value:
        return None
    url = value.strip(_C0_OR_SPACE).translate(_TAB_OR_NEWLINE).replace("\\", "/")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return None
    path = parts.path
    if parts.scheme or parts.netloc:
        own = urlsplit(request.host_url)
        if (parts.scheme.lower(), parts.netloc.lower()) != (own.scheme, own.netloc.lower()):
            return None
        path = path or "/"
    if not path.startswith("/") or path.startswith("//"):
        return None
    return urlunsplit(("", "", path, parts.query, parts.fragment))


class LoginForm(FlaskForm):
    username = StringField("Nama pengguna", validators=[DataRequired(), Length(max=100)])
    password = PasswordField("Kata sandi", validators=[DataRequired(), Length(max=200)])


@login_manager.user_loader
def _load_user(session_id: str):
    """The user of the signed session cookie (or remember cookie) ``session_id``: only while that login's row is
    open and the user active (one statement with their roles; see process/sessions.py)."""
    if not isinstance(session_id, str):
        return None
    user = system().people.session_user(db(), session_id, WEB)
    return LoginUser(user, session_id) if user is not None else None


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="alur-api-token")


def issue_token(user: User) -> str:
    """A signed token for 12 hours, carrying the secret of a new ``api`` session row (ends like a login does)."""
    return _serializer().dumps({"sid": system().people.open_session(db(), user, API)})


def user_from_token(token: str) -> User | None:
    try:
        data = _serializer().loads(token, max_age=TOKEN_MAX_AGE)
    except (BadSignature, SignatureExpired):
        return None
    secret = data.get("sid") if isinstance(data, dict) else None
    if not isinstance(secret, str):
        return None
    return system().people.session_user(db(), secret, API)


def check_credentials(username: str, password: str) -> User | None:
    return system().people.authenticate(db(), username, password)


@bp.route("/masuk", methods=["GET", "POST"])
@limiter.limit("10 per minute;50 per hour", methods=["POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = check_credentials(form.username.data.strip(), form.password.data)
        if user is None:
            # One message for unknown users and wrong passwords alike: no user enumeration.
            flash(_("Nama pengguna atau kata sandi salah."), "error")
            return render_template("auth/login.html", form=form), 401
        if current_user.is_authenticated:  # a login over another one in this browser ends that one
            system().people.end_session(db(), my_session_id(), "replaced")
        lang = session.get("lang")
        session.clear()  # a fresh session on login (no fixation); the chosen language stays
        if lang in LANGUAGES:
            session["lang"] = lang
        login_user(LoginUser(user, system().people.open_session(db(), user, WEB)))
        return redirect(local_target(request.args.get("next")) or url_for("inbox.index"))
    return render_template("auth/login.html", form=form)


@bp.post("/keluar")
@login_required
def logout():
    # Server-side: a copy of the cookie (or a remember cookie) no longer lets anyone in.
    system().people.end_session(db(), my_session_id(), "logout")
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.get("/bahasa/<lang>")
def set_language(lang: str):
    if lang in LANGUAGES:
        session["lang"] = lang
    return redirect(local_target(request.referrer) or "/")


def select_locale() -> str:
    if request.path.startswith("/api/"):  # API clients say what they read in Accept-Language
        return request.accept_languages.best_match(LANGUAGES) or "id"
    lang = session.get("lang")
    if lang in LANGUAGES:
        return lang
    return "id"

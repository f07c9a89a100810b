"""Logging in and out (HTML sessions), API bearer tokens, and the language switch."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_required, login_user, logout_user
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from process.models import User

from .access import LoginUser
from .db import db, system
from .extensions import limiter, login_manager

bp = Blueprint("auth", __name__)

TOKEN_MAX_AGE = 12 * 3600
LANGUAGES = ("id", "en")


class LoginForm(FlaskForm):
    username = StringField("Nama pengguna", validators=[DataRequired(), Length(max=100)])
    password = PasswordField("Kata sandi", validators=[DataRequired(), Length(max=200)])


@login_manager.user_loader
def _load_user(user_id: str):
    uid, _sep, fingerprint = user_id.partition(":")
    if not uid.isdigit():
        return None
    user = system().alur.user(db(), int(uid))
    if user is None or not user.active or user.password_hash[-12:] != fingerprint:
        return None
    return LoginUser(user)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="alur-api-token")


def issue_token(user: User) -> str:
    return _serializer().dumps({"uid": user.id, "fp": user.password_hash[-12:]})


def user_from_token(token: str) -> User | None:
    try:
        data = _serializer().loads(token, max_age=TOKEN_MAX_AGE)
    except (BadSignature, SignatureExpired):
        return None
    user = system().alur.user(db(), int(data.get("uid", 0)))
    if user is None or not user.active or user.password_hash[-12:] != data.get("fp"):
        return None
    return user


def check_credentials(username: str, password: str) -> User | None:
    return system().alur.authenticate(db(), username, password)


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
        lang = session.get("lang")
        session.clear()  # a fresh session on login (no fixation); the chosen language stays
        if lang in LANGUAGES:
            session["lang"] = lang
        login_user(LoginUser(user))
        target = request.args.get("next", "")
        if not target.startswith("/") or target.startswith("//"):
            target = url_for("inbox.index")
        return redirect(target)
    return render_template("auth/login.html", form=form)


@bp.post("/keluar")
@login_required
def logout():
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.get("/bahasa/<lang>")
def set_language(lang: str):
    if lang in LANGUAGES:
        session["lang"] = lang
    target = request.referrer or "/"
    if not target.startswith(request.host_url) and not target.startswith("/"):
        target = "/"
    return redirect(target)


def select_locale() -> str:
    if request.path.startswith("/api/"):  # API clients say what they read in Accept-Language
        return request.accept_languages.best_match(LANGUAGES) or "id"
    lang = session.get("lang")
    if lang in LANGUAGES:
        return lang
    return "id"

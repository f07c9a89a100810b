"""Flask front end of Alur Medsos."""
from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from flask import Flask, jsonify, redirect, url_for
from flask_login import current_user

from process import fonts
from process.config import Settings
from process.system import System, build_system

from . import bodies, errors, i18n, ids, request_text
from . import db as request_db
from .extensions import babel, csrf, limiter, login_manager
from .ratelimit import storage_uri as ratelimit_storage

log = logging.getLogger(__name__)

#: No inline scripts, no third-party origins. bpmn-js sets inline style attributes on SVG, hence
#: 'unsafe-inline' for styles only.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
       "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
       "frame-ancestors 'none'")


def _secret_key(instance_dir: Path) -> str:
    """ALUR_SECRET_KEY, else a random key kept (owner-only) in the instance folder."""
    if os.environ.get("ALUR_SECRET_KEY"):
        return os.environ["ALUR_SECRET_KEY"]
    instance_dir.mkdir(parents=True, exist_ok=True)
    path = instance_dir / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip()


def create_app(settings: Settings | None = None, system: System | None = None, config: dict | None = None) -> Flask:
    """The application factory: nothing is read or connected at import time."""
    app = Flask(__name__)
    system = system or build_system(settings or Settings.from_env(), purpose="web")
    fonts.check()  # no printed record without its font: refuse to start, saying what to install
    app.extensions["alur"] = system
    instance_dir = Path(os.environ.get("ALUR_INSTANCE_DIR") or Path.cwd() / "instance")
    app.config.update(
        SECRET_KEY=None,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=os.environ.get("ALUR_HTTPS", "") == "1",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,
        BABEL_DEFAULT_LOCALE="id",
        BABEL_DEFAULT_TIMEZONE="Asia/Jakarta",
        BABEL_TRANSLATION_DIRECTORIES=str(Path(__file__).with_name("translations")),
        # Counted where every process sees the same count: the database unless Redis (or memory) is configured.
        RATELIMIT_STORAGE_URI=ratelimit_storage(os.environ.get("ALUR_RATELIMIT_STORAGE"), system.settings.database_url),
        # Off only for load tests on loopback (bench/livestack.py): many logins from one address.
        RATELIMIT_ENABLED=os.environ.get("ALUR_RATELIMIT_ENABLED", "1") != "0",
        RATELIMIT_HEADERS_ENABLED=True,
    )
    if config:
        app.config.update(config)
    bodies.init_app(app, max(system.settings.max_image_bytes, system.settings.max_other_bytes))
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(instance_dir)

    from .auth import bp as auth_bp
    from .auth import select_locale

    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    limiter.init_app(app)
    request_db.init_app(app)
    errors.init_app(app)
    i18n.init_app(app)
    request_text.init_app(app)
    ids.init_app(app)  # the id converters, before any route uses them
    app.register_blueprint(auth_bp)
    from . import (
        admin,
        api,
        audit,
        cases,
        exportjobs,
        files,
        inbox,
        modeler,
        pwa,
        reports,
        savedfilters,
        tasks,
        uploads,
    )

    for module in (inbox, tasks, cases, files, uploads, admin, modeler, reports, exportjobs, audit, savedfilters, api,
                   pwa):
        app.register_blueprint(module.bp)

    @app.after_request
    def _security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    @app.context_processor
    def _globals():
        from flask_babel import get_locale

        from process.roles import ROLE_LABELS

        unread = 0
        if current_user.is_authenticated:
            from sqlalchemy import func, select

            from process.models import Notification

            unread = request_db.db().execute(
                select(func.count()).select_from(Notification)
                .where(Notification.user_id == current_user.user.id, Notification.read_at.is_(None))).scalar()
        from .access import may_start_case, sees_audit
        from .drafts import take_done

        return {"ROLE_LABELS": ROLE_LABELS, "current_locale": str(get_locale()), "unread_count": unread,
                "may_start_case": may_start_case, "sees_audit": sees_audit, "drafts_done": take_done}

    @app.get("/healthz")
    def healthz():
        """Liveness: this process answers. Never touches the database (a restart would not bring it back)."""
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz():
        """Readiness: the database answers and has the schema; 503 with Retry-After when it does not, so a load
        balancer sends requests elsewhere until it does."""
        from sqlalchemy import select
        from sqlalchemy.exc import SQLAlchemyError

        from engine.models import Definition

        try:
            request_db.db().execute(select(Definition.id).limit(1)).all()
        except SQLAlchemyError as exc:
            log.warning("not ready: %s", exc)
            response = jsonify({"status": "unavailable", "database": "unreachable"})
            response.status_code = 503
            response.headers["Retry-After"] = str(errors.RETRY_AFTER)
            return response
        return {"status": "ready", "database": "ok"}

    @app.get("/")
    def index():
        if current_user.is_authenticated:
            return redirect(url_for("inbox.index"))
        return redirect(url_for("auth.login"))

    return app

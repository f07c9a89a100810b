"""Flask front end of Alur Medsos."""
from __future__ import annotations

from flask import Flask

from process.config import Settings

from .wiring import System, build_system


def create_app(settings: Settings | None = None, system: System | None = None) -> Flask:
    """The application factory: nothing is read or connected at import time."""
    app = Flask(__name__, instance_relative_config=True)
    system = system or build_system(settings or Settings.from_env())
    app.extensions["alur"] = system

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    @app.get("/")
    def index():
        return ("<!doctype html><html lang='id'><meta charset='utf-8'><title>Alur Medsos</title>"
                "<h1>Alur Pengunggahan Konten Media Sosial</h1>"
                "<p>SOP Nomor 21 Tahun 2025 — KPU Provinsi Sumatera Barat.</p>")

    return app

"""Installing the app on a phone's home screen: the web app manifest (its icons are static files made by
ops/make_icons.py, committed under webui/static/icons/)."""
from __future__ import annotations

import json

from flask import Blueprint, Response, url_for

bp = Blueprint("pwa", __name__)

#: The app's palette (webui/static/css/app.css: --kpu-red and --bg).
THEME_COLOR = "#a4161a"
BACKGROUND_COLOR = "#f6f6f8"
#: (file under static/icons/, size, purpose) of each icon the manifest lists.
ICONS = (("icon-192.png", 192, "any"), ("icon-512.png", 512, "any"), ("icon-maskable-512.png", 512, "maskable"))


@bp.get("/manifest.webmanifest")
def manifest():
    body = {
        "name": "Alur Medsos — KPU Sumbar",
        "short_name": "Alur Medsos",
        "lang": "id",
        "dir": "ltr",
        "id": "/",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "orientation": "any",
        "theme_color": THEME_COLOR,
        "background_color": BACKGROUND_COLOR,
        "icons": [{"src": url_for("static", filename=f"icons/{name}"), "sizes": f"{size}x{size}", "type": "image/png",
                   "purpose": purpose} for name, size, purpose in ICONS],
    }
    response = Response(json.dumps(body, ensure_ascii=False, indent=1), mimetype="application/manifest+json")
    response.cache_control.public = True
    response.cache_control.max_age = 3600
    return response

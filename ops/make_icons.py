"""Draws the home-screen icons of the web app manifest (webui/pwa.py) into webui/static/icons/.

    .venv/bin/python ops/make_icons.py

The mark: three steps of a flow (white dots joined by a line rising to the right, like a tick) on the app's red.
Drawn at four times the size and scaled down, for smooth edges. The PNGs are committed; run this again only to
change the drawing. ``maskable`` keeps the mark inside the central 80 % safe zone on a full-bleed background, so a
phone may crop it to any shape."""
from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parents[1] / "webui" / "static" / "icons"
RED = (164, 22, 26, 255)  # --kpu-red
WHITE = (255, 255, 255, 255)
SCALE = 4


def _mark(draw: ImageDraw.ImageDraw, size: int, inset: float) -> None:
    """The flow mark inside the square [inset, size - inset]."""
    box = size - 2 * inset

    def at(x: float, y: float) -> tuple[float, float]:
        return inset + x * box, inset + y * box

    points = [at(.2, .55), at(.42, .74), at(.8, .3)]
    width = round(box * .09)
    draw.line(points, fill=WHITE, width=width, joint="curve")
    radius = box * .1
    for x, y in points:
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=WHITE)
    inner = radius * .45
    x, y = points[-1]
    draw.ellipse((x - inner, y - inner, x + inner, y + inner), fill=RED)


def icon(size: int, *, maskable: bool = False, opaque: bool = False) -> Image.Image:
    big = size * SCALE
    img = Image.new("RGBA", (big, big), RED if (maskable or opaque) else (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    if maskable:
        _mark(draw, big, big * .2)  # within the 80 % safe zone (a circle of radius 0.4 × size)
    else:
        if not opaque:
            draw.rounded_rectangle((0, 0, big - 1, big - 1), radius=big * .18, fill=RED)
        _mark(draw, big, big * .12)
    img = img.resize((size, size), Image.LANCZOS)
    return img.convert("RGB") if (maskable or opaque) else img


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    made = {
        "icon-192.png": icon(192),
        "icon-512.png": icon(512),
        "icon-maskable-512.png": icon(512, maskable=True),
        "apple-touch-icon.png": icon(180, opaque=True),  # iOS draws its own rounded corners, on no transparency
    }
    for name, img in made.items():
        img.save(OUT / name, "PNG", optimize=True)
        print(OUT / name, img.size)
    return 0


if __name__ == "__main__":
    sys.exit(main())

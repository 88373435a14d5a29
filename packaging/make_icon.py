"""Draw the app icon (the same design as resources/icons/llad.svg) with Pillow as PNG and Windows .ico.

Run from the repository root: ``python packaging/make_icon.py``. The outputs are committed; rerun after
changing the SVG.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

ICONS = Path(__file__).resolve().parent.parent / "resources" / "icons"


def draw(size: int = 256) -> Image.Image:
    s = size / 64
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle([2 * s, 2 * s, 62 * s, 62 * s], radius=12 * s, fill="#0d47a1")
    d.rounded_rectangle([9 * s, 9 * s, 43 * s, 43 * s], radius=4 * s, fill="#3a4d57")
    d.ellipse([15 * s, 15 * s, 45 * s, 45 * s], fill="#cfd8dc", outline="#ffffff", width=round(4 * s))
    d.ellipse([28.5 * s, 22.5 * s, 37.5 * s, 31.5 * s], fill="#e53935")
    d.line([41 * s, 41 * s, 55 * s, 55 * s], fill="#ffffff", width=round(7 * s))
    r = 3.5 * s
    for cx, cy in ((41 * s, 41 * s), (55 * s, 55 * s)):
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill="#ffffff")
    return img


def main() -> None:
    img = draw(256)
    img.save(ICONS / "llad.png")
    img.save(ICONS / "llad.ico", sizes=[(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)])


if __name__ == "__main__":
    main()

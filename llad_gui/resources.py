"""Find files under ``resources/`` in a checkout and in the PyInstaller bundle (one function for both)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from core.resources import resource_path


def icon_path(name: str) -> Path:
    return resource_path("icons", name)


def style_path(name: str = "app.qss") -> Path:
    return resource_path("styles", name)


def read_style(name: str = "app.qss") -> str:
    path = style_path(name)
    return path.read_text(encoding="utf-8") if path.exists() else ""


@cache
def palette() -> dict:
    """Colours the stylesheet cannot reach (table cells, plots), from ``resources/styles/palette.json``."""
    return json.loads(style_path("palette.json").read_text(encoding="utf-8"))

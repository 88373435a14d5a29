"""Where LLAD keeps per-user data: recipes, the inspection log, saved images.

The folder is ``$LLAD_HOME`` when set, otherwise the platform's per-user data folder:
``~/.local/share/llad`` (Linux, honouring ``$XDG_DATA_HOME``), ``~/Library/Application Support/llad`` (macOS),
``%LOCALAPPDATA%\\llad`` (Windows).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def data_home() -> Path:
    """The per-user data folder (not created here)."""
    env = os.environ.get("LLAD_HOME")
    if env:
        return Path(env).expanduser()
    if sys.platform.startswith("win"):
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        # an empty variable counts as unset (XDG spec), else the data would land in ./llad of the working folder
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "llad"


def recipes_dir(override: str | Path | None = None) -> Path:
    """Folder holding one sub-folder per category; ``override`` (``--recipes``) wins over the default."""
    return Path(override).expanduser() if override else data_home() / "recipes"


def log_path(override: str | Path | None = None) -> Path:
    """SQLite inspection log."""
    return Path(override).expanduser() if override else data_home() / "inspections.sqlite"


def images_dir(override: str | Path | None = None) -> Path:
    """Where NG (and optionally all) inspected images are kept."""
    return Path(override).expanduser() if override else data_home() / "images"

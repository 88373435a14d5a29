"""Locate files in a checkout, an installed environment and a PyInstaller bundle through one function each."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def bundle_root() -> Path | None:
    """The PyInstaller extraction folder when frozen, else None."""
    root = getattr(sys, "_MEIPASS", None)
    return Path(root) if root else None


def project_root() -> Path:
    """The checkout (or bundle) folder that holds ``resources/``."""
    frozen = bundle_root()
    return frozen if frozen else Path(__file__).resolve().parent.parent


def resource_path(*parts: str) -> Path:
    """A file under ``resources/``, in a checkout or in the frozen build."""
    return project_root().joinpath("resources", *parts)


def find_package_file(package: str, relative: str) -> Path | None:
    """A data file shipped inside an installed package (or copied beside it in the frozen build)."""
    frozen = bundle_root()
    if frozen is not None:
        candidate = frozen / package / relative
        if candidate.exists():
            return candidate
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / relative
        if candidate.exists():
            return candidate
    return None

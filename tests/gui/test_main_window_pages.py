"""Pages load loudly: every page the main window lists imports, and one that cannot be imported stops the window
from being built (it used to become a tab saying "not available in this build")."""

from __future__ import annotations

import importlib
import sys

import pytest

from llad_gui import main_window
from llad_gui.main_window import OTHER_PAGES, MainWindow, load_page
from llad_gui.state import AppState


@pytest.fixture
def state(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("LLAD_HOME", str(tmp_path / "home"))
    s = AppState(tmp_path / "home")
    yield s
    s.close()


def test_every_listed_page_imports():
    for _, module, cls in OTHER_PAGES:
        assert isinstance(getattr(importlib.import_module(module), cls), type)


def test_a_page_that_cannot_import_fails_loudly(qtbot, state, tmp_path, monkeypatch):
    (tmp_path / "broken_page.py").write_text("import llad_no_such_dependency\n\nclass BrokenPage: ...\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "broken_page", raising=False)
    with pytest.raises(ModuleNotFoundError, match="llad_no_such_dependency"):
        load_page("broken_page", "BrokenPage", state)
    with pytest.raises(AttributeError):
        load_page("llad_gui.pages.log_page", "NoSuchPage", state)
    monkeypatch.setattr(main_window, "OTHER_PAGES", (("Broken", "broken_page", "BrokenPage"),))
    with pytest.raises(ModuleNotFoundError):
        MainWindow(state)

"""GUI test fixtures: an offscreen Qt, settings and data folders redirected to tmp, a trained category shared by
the whole session, and a guard that fails any test leaving a QThread running.

``trained_home`` trains the "tiny" preset on a few generated good parts once per session (30-60 s on a loaded
machine) and returns the LLAD home folder with a category named ``tiles`` active. Other GUI tests may reuse it.
"""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before any Qt import

import gc
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QSettings, QThread

TRAIN_IMAGES = 14


def train_tiles(home: Path, good_dir: Path, n: int = TRAIN_IMAGES, steps: int = 15) -> Path:
    """Train and activate a 'tiles' category from ``n`` good images into ``home``; returns ``home``."""
    from core.data.io import list_images
    from core.recipes import RecipeStore
    from core.training import preset, run_fit

    store = RecipeStore(home / "recipes")
    store.root.mkdir(parents=True, exist_ok=True)
    recipe = store.create("tiles")
    paths = list_images(good_dir)[:n]
    recipe.import_samples(paths)
    trained = run_fit(recipe.samples(), preset("tiny", steps=steps), calibration_defects=6)
    recipe.save_version(trained, activate=True)
    return home


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory, parts_root) -> Path:
    """An LLAD home with the category 'tiles' trained (tiny preset) and active. Do not modify it: copy first.

    For quick local iterations, ``LLAD_GUI_TEST_HOME`` may name a home trained earlier with :func:`train_tiles`.
    """
    reuse = os.environ.get("LLAD_GUI_TEST_HOME")
    if reuse and (Path(reuse) / "recipes" / "tiles" / "recipe.json").exists():
        return Path(reuse)
    home = tmp_path_factory.mktemp("llad-trained-home")
    return train_tiles(home, parts_root / "train" / "good")


@pytest.fixture
def gui_home(tmp_path, trained_home, monkeypatch) -> Path:
    """A private copy of ``trained_home`` with LLAD_HOME and HOME pointing into tmp."""
    home = tmp_path / "home"
    shutil.copytree(trained_home, home)
    monkeypatch.setenv("LLAD_HOME", str(home))
    monkeypatch.setenv("HOME", str(tmp_path))
    return home


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path, monkeypatch):
    """QSettings go to an INI file under tmp, never the user's real settings."""
    monkeypatch.setenv("HOME", str(tmp_path))
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
        QSettings.setPath(QSettings.Format.IniFormat, scope, str(tmp_path / "settings"))
    QCoreApplication.setOrganizationName("LLAD")
    QCoreApplication.setApplicationName("LLAD Inspector")
    yield tmp_path / "settings"


def _running_qthreads() -> list[QThread]:
    return [o for o in gc.get_objects() if issubclass(type(o), QThread) and _is_running(o)]


def _is_running(t: QThread) -> bool:
    try:
        return t.isRunning()
    except RuntimeError:  # the C++ object is already gone
        return False


@pytest.fixture(autouse=True)
def no_threads_left(qapp):
    """Fail a test that leaves one of our QThreads running (the thread pool's threads are Qt's own)."""
    yield
    running = _running_qthreads()
    for t in running:
        t.requestInterruption()
        t.quit()
        t.wait(5000)
    assert not running, f"test left {len(running)} QThread(s) running: {running}"


MODEL_TIMEOUT = 180_000  # loading and warming a model takes 30-50 s when the 2 cores are shared


def open_window(qtbot, home, wait_model=True):
    """The real main window (and its state) on ``home``, shown; waits for the model unless told not to."""
    from llad_gui.app import build_window, make_application

    make_application()
    state, window = build_window(home)
    qtbot.addWidget(window)
    window.show()
    if wait_model:
        qtbot.waitUntil(lambda: state.predictor is not None, timeout=MODEL_TIMEOUT)
    return state, window


@pytest.fixture
def window(qtbot, gui_home):
    """The real main window on a copy of the trained home, closed (threads stopped) after the test."""
    state, win = open_window(qtbot, gui_home)
    yield win
    win.close()
    state.close()


def wait_results(qtbot, page, n: int, timeout: int = 60_000) -> None:
    """Wait until the Inspect ``page`` has at least ``n`` results."""
    qtbot.waitUntil(lambda: len(page.history) >= n, timeout=timeout)


@pytest.fixture
def tiles_state(gui_home):
    """The application state on a copy of the trained home with 'tiles' chosen (its model loading in the
    background); closed after the test."""
    from llad_gui.state import AppState

    state = AppState(gui_home)
    state.set_category("tiles")
    yield state
    state.close()


def wait_model(qtbot, state, timeout: int = 3 * MODEL_TIMEOUT) -> None:
    """Wait for ``state``'s model; a load error fails the test at once with its message."""
    errors = []
    state.modelError.connect(errors.append)
    qtbot.waitUntil(lambda: state.predictor is not None or bool(errors), timeout=timeout)
    assert not errors, errors


@pytest.fixture
def show_page(qtbot):
    """``show_page(cls, state, size=(1024, 768))``: a page built on ``state``, shown, and shut down after the
    test (request it after the state's fixture, so the page is shut down before the state closes)."""
    pages = []

    def show(cls, state, size: tuple[int, int] = (1024, 768)):
        page = cls(state)
        qtbot.addWidget(page)
        page.resize(*size)
        page.show()
        pages.append(page)
        return page

    yield show
    for page in reversed(pages):
        page.shutdown()

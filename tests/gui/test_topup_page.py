"""The Train page's Top up and Inspection mask buttons on a real trained category: a top-up runs in the training
worker (progress, cancel that writes nothing) and saves a new version started from the active one."""

from __future__ import annotations

import shutil

import pytest
from PySide6.QtCore import Qt

from core.data.io import list_images
from core.topup import TOPUP_STEPS
from llad_gui.pages.train_page import TrainPage
from llad_gui.widgets.roi_editor import RoiEditorDialog

TOPUP_TIMEOUT = 900_000  # a shared 2-core machine under load


@pytest.fixture
def page(tiles_state, show_page):
    return show_page(TrainPage, tiles_state, (1400, 850))


@pytest.mark.timeout(1800)
def test_top_up_cancel_then_finish(qtbot, page, tmp_path, parts_root):
    recipe = page.state.recipe()
    qtbot.waitUntil(lambda: page.train_button.isEnabled(), timeout=30_000)
    known = {s.path.name for s in recipe.samples()}
    folder = tmp_path / "new"
    folder.mkdir()
    for p in [p for p in list_images(parts_root / "train" / "good") if p.name not in known][:6]:
        shutil.copy2(p, folder / p.name)
    with qtbot.waitSignal(page.gallery.thumbnailsLoaded, timeout=60_000):
        page.import_folder(folder)
    qtbot.waitUntil(lambda: page.gallery.counts()[0] == len(known) + 6, timeout=60_000)
    assert page.topup_button.isEnabled()
    before = recipe.versions()

    qtbot.mouseClick(page.topup_button, Qt.MouseButton.LeftButton)
    assert page.cancel_button.isEnabled() and not page.topup_button.isEnabled()
    qtbot.waitUntil(lambda: len(page.loss_plot.losses) >= 1, timeout=TOPUP_TIMEOUT)
    with qtbot.waitSignal(page.trainingCancelled, timeout=120_000):
        qtbot.mouseClick(page.cancel_button, Qt.MouseButton.LeftButton)
    assert recipe.versions() == before

    page.fit_options = {"calibration_defects": 6}
    events = []
    with qtbot.waitSignal(page.trainingFinished, timeout=TOPUP_TIMEOUT) as done:
        qtbot.mouseClick(page.topup_button, Qt.MouseButton.LeftButton)
        page.worker.progress.connect(events.append)
    version = done.args[1]
    assert recipe.versions() == [*before, version] and recipe.active_version == before[-1]
    assert [e.step for e in events if e.stage == "train"] == list(range(1, TOPUP_STEPS + 1))
    stats = recipe.version_info(version).stats
    assert stats["topped_up_from"] == before[-1] and len(stats["topup_new_samples"]) == 6
    assert len(set(stats["holdout_names"]) & set(stats["topup_new_samples"])) >= 1  # the new batch in its share
    assert "Topped up from" in page.summary.text()


def test_mask_button_opens_the_editor_on_a_good_sample(qtbot, page):
    qtbot.waitUntil(lambda: page.mask_button.isEnabled(), timeout=30_000)
    qtbot.mouseClick(page.mask_button, Qt.MouseButton.LeftButton)
    dialog = page.mask_dialog
    assert isinstance(dialog, RoiEditorDialog) and dialog.isVisible()
    assert dialog.canvas.mask() == page.state.recipe().roi()
    dialog.reject()
    # no background task (thumbnails, the model's loading) outlives the page
    qtbot.waitUntil(lambda: page.gallery._pending <= 0 and page.state.predictor is not None, timeout=120_000)

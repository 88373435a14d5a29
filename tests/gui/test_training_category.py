"""A training belongs to the category it was started for: switching the toolbar's category while it runs
leaves the Train page on it (samples, versions, the category list), and at the end "Activate <category>
<version>" activates that category's new version, not the one the toolbar shows."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from core.training import preset
from llad_gui.pages.train_page import TrainPage

TRAIN_TIMEOUT = 240_000


@pytest.fixture
def page_and_state(tiles_state, show_page):
    tiles_state.store.create("other")
    tiles_state.categoriesChanged.emit()
    return tiles_state, show_page(TrainPage, tiles_state, (1024, 700))


def test_training_stays_with_its_category_when_the_toolbar_switches(qtbot, page_and_state):
    state, page = page_and_state
    tiles = state.store.get("tiles")
    before = tiles.versions()
    qtbot.waitUntil(lambda: page.gallery.counts()[0] >= 10, timeout=30_000)
    samples = page.gallery.counts()
    page.train_config = preset("tiny", steps=12)
    page.fit_options = {"calibration_defects": 6}
    with qtbot.waitSignal(page.trainingFinished, timeout=TRAIN_TIMEOUT) as done:
        qtbot.mouseClick(page.train_button, Qt.MouseButton.LeftButton)
        state.set_category("other")  # the operator switches the toolbar while tiles trains
        assert state.category == "other"
        assert page.category == "tiles"
        assert page.gallery.counts() == samples, "tiles' samples stay on the page"
        assert page.categories.list.currentItem().text() == "tiles"
        assert "tiles" in page.train_box.title()
        assert page.notice.isVisibleTo(page) and "other" in page.notice.text()
    new = done.args[1]
    assert done.args[0] == "tiles" and new not in before
    assert page.activate_new_button.text() == f"Activate tiles {new}"
    assert page.versions.item(0, 0).text() == new, "the versions table is tiles'"
    qtbot.mouseClick(page.activate_new_button, Qt.MouseButton.LeftButton)
    assert state.store.get("tiles").active_version == new
    assert state.store.get("other").active_version is None
    assert state.category == "other", "activating does not switch the toolbar"
    state.set_category("tiles")
    assert page.category == "tiles" and not page.notice.isVisibleTo(page)

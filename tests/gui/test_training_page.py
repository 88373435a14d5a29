"""The Train page end to end on generated parts: a category from nothing to a trained, activated model through
the page's own buttons and worker; a cancelled run that leaves the active version alone; category names the
store rejects shown inline; samples excluded, flagged as repeats and deleted."""

from __future__ import annotations

import shutil

import pytest
from PySide6.QtCore import Qt

from core.data.io import list_images, load_image
from core.training import image_density_needs, preset
from core.training_words import duration_text as _duration
from core.version_text import whole_part_check_text
from llad_gui.pages.train_page import TrainPage
from llad_gui.state import AppState

TRAIN_TIMEOUT = 240_000


@pytest.fixture
def make_page(qtbot):
    """Build a Train page on an LLAD home; on teardown stop any training and wait for background tasks."""
    made = []

    def make(home, category: str = ""):
        state = AppState(home)
        if category:
            state.set_category(category)
        page = TrainPage(state)
        qtbot.addWidget(page)
        page.resize(1400, 850)
        page.show()
        made.append((state, page))
        return state, page

    yield make
    for state, page in made:
        page.shutdown()
        state.close()


@pytest.fixture
def good_folder(tmp_path, parts_root):
    folder = tmp_path / "good"
    folder.mkdir()
    for p in list_images(parts_root / "train" / "good")[:12]:
        shutil.copy2(p, folder / p.name)
    return folder


def _ok(qtbot, dialog, text: str) -> None:
    dialog.edit.setText(text)
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)


def test_category_from_nothing_to_an_active_model(qtbot, make_page, tmp_path, good_folder):
    state, page = make_page(tmp_path / "home")
    assert not page.train_button.isEnabled()

    dialog = page.categories.new_category()
    _ok(qtbot, dialog, "tiles/left")
    assert dialog.isVisible() and "must not contain" in dialog.error.text()
    assert state.categories() == []
    _ok(qtbot, dialog, "tiles")
    assert not dialog.isVisible()
    assert state.categories() == ["tiles"] and state.category == "tiles"

    with qtbot.waitSignal(page.gallery.thumbnailsLoaded, timeout=30_000):
        page.import_folder(good_folder)
    qtbot.waitUntil(lambda: page.gallery.counts() == (12, 12), timeout=30_000)
    assert "12" in page.gallery.count_label.text() and page.gallery.duplicates() == []

    # the same view again, as a still camera would deliver it: flagged, then excluded, then deleted
    frame = load_image(list_images(good_folder)[3])
    with qtbot.waitSignal(page.sampleAdded) as added:
        page.add_good_sample(frame)
    qtbot.waitUntil(lambda: len(page.gallery.duplicates()) == 1, timeout=30_000)
    repeat = added.args[1].rsplit("/", 1)[-1]
    page.gallery.select([repeat])
    qtbot.mouseClick(page.gallery.exclude_button, Qt.MouseButton.LeftButton)
    assert state.recipe().excluded() == {repeat} and page.gallery.counts() == (12, 13)
    page.gallery.delete_samples([repeat])
    assert page.gallery.counts() == (12, 12) and state.recipe().excluded() == set()

    assert page.train_button.isEnabled() and page.train_button.text() == "Train"
    assert page.preset_combo.currentData() == "fast"
    page.train_config = preset("tiny", steps=12)
    page.fit_options = {"calibration_defects": 6}
    events = []
    with qtbot.waitSignal(page.trainingFinished, timeout=TRAIN_TIMEOUT) as done:
        qtbot.mouseClick(page.train_button, Qt.MouseButton.LeftButton)
        assert page.cancel_button.isEnabled() and not page.train_button.isEnabled()
        page.worker.progress.connect(events.append)
    assert done.args == ["tiles", "v001"]
    assert [e.step for e in events if e.stage == "train"] == list(range(1, 13))
    assert len(page.loss_plot.losses) == 12
    recipe = state.recipe()
    assert recipe.versions() == ["v001"] and recipe.active_version is None  # the operator decides
    assert page.summary_box.isVisible() and "not active yet" in page.summary.text()
    # 12 good images: far too few for the whole-part check, and the summary says how many it needs
    needed = image_density_needs(page.train_config)[0]
    assert f"check is off: it needs at least {needed} good images" in page.summary.text()
    info = recipe.version_info("v001")
    assert info.preset == "tiny" and info.sample_count == 12
    assert "synthetic_defect_detection_rate" in info.stats

    with qtbot.waitSignal(state.modelChanged, timeout=60_000):
        qtbot.mouseClick(page.activate_new_button, Qt.MouseButton.LeftButton)
    assert recipe.active_version == "v001"
    qtbot.waitUntil(lambda: state.predictor is not None, timeout=60_000)
    assert state.predictor.version == "v001"
    assert page.versions.item(0, 1).text() == "● active"
    # the version's time is the whole training's, calibration included, as the status line said when it finished
    assert page.versions.item(0, 6).text() == _duration(info.stats["total_seconds"])
    assert page.train_button.text() == "Retrain"


def test_cancel_keeps_the_active_version(qtbot, make_page, gui_home):
    state, page = make_page(gui_home, "tiles")
    qtbot.waitUntil(lambda: state.predictor is not None, timeout=60_000)
    recipe = state.recipe()
    before = recipe.versions()
    active = recipe.active_version
    assert active is not None
    qtbot.waitUntil(lambda: page.train_button.isEnabled(), timeout=30_000)
    page.train_config = preset("tiny", steps=500)
    qtbot.mouseClick(page.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(page.loss_plot.losses) >= 1, timeout=TRAIN_TIMEOUT)
    with qtbot.waitSignal(page.trainingCancelled, timeout=60_000):
        qtbot.mouseClick(page.cancel_button, Qt.MouseButton.LeftButton)
    assert recipe.active_version == active and recipe.versions() == before
    assert not [d for d in recipe.versions_dir.iterdir() if d.name.startswith(".tmp")]
    assert "cancelled" in page.status.text() and page.train_button.isEnabled()


def test_rename_duplicate_delete_and_rejected_names(qtbot, make_page, tmp_path, monkeypatch):
    state, page = make_page(tmp_path / "home")
    panel = page.categories
    assert panel.create("Bracket") is None
    for bad, words in (("", "empty"), ("bracket", "already exists"), ("../x", "must not"), ("con", "reserved")):
        dialog = panel.new_category()
        _ok(qtbot, dialog, bad)
        assert dialog.isVisible() and words in dialog.error.text(), dialog.error.text()
        dialog.reject()
    assert state.categories() == ["Bracket"]

    _ok(qtbot, panel.rename_category(), "Bracket A")
    assert state.categories() == ["Bracket A"] and state.category == "Bracket A"
    _ok(qtbot, panel.duplicate_category(), "Bracket B")
    assert state.categories() == ["Bracket A", "Bracket B"] and state.category == "Bracket B"
    assert [panel.list.item(i).text() for i in range(panel.list.count())] == ["Bracket A", "Bracket B"]

    monkeypatch.setattr(panel, "confirm", lambda *a: False)
    qtbot.mouseClick(panel.delete_button, Qt.MouseButton.LeftButton)
    assert "Bracket B" in state.categories()
    monkeypatch.setattr(panel, "confirm", lambda *a: True)
    qtbot.mouseClick(panel.delete_button, Qt.MouseButton.LeftButton)
    assert state.categories() == ["Bracket A"] and state.category == ""


def test_the_summary_says_whether_the_whole_part_check_counts():
    """Fully, partly, off (with how many good images it needs), or nothing for versions saved before it."""
    on = {"image_density_weight": {"welllit": 2.0, "lowlight": 2.0}, "image_density_needs": [499, 747]}
    partly = {"image_density_weight": {"welllit": 0.7, "lowlight": 0.7}, "image_density_needs": [499, 747]}
    off = {**partly, "image_density_weight": {"lowlight": 0.0}, "train_images": 90, "holdout_images": 10}
    assert whole_part_check_text(on) == "The whole-part texture check is on."
    assert "counts partly; from 747 good images" in whole_part_check_text(partly)
    assert whole_part_check_text(off).endswith("at least 499 good images from several batches (this version had 100).")
    assert whole_part_check_text({**off, "image_density_needs": [None, None]}).endswith("with these training settings.")
    assert whole_part_check_text({"train_images": 90}) == ""

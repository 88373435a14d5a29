"""The threshold assistant on the Train page: after training, the new version's summary carries the assistant's
warning and a button opening the trade-off of its held-out good scores and synthetic-defect scores; a target
chosen there becomes the category's threshold."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from core.threshold_advice import tradeoff_from_version
from core.training import preset
from llad_gui.pages.train_page import TrainPage

TRAIN_TIMEOUT = 240_000


def test_assistant_after_training_sets_the_category_threshold(qtbot, tiles_state, show_page):
    state = tiles_state
    page = show_page(TrainPage, state, (1400, 900))
    try:
        assert not page.summary_box.isVisible()  # nothing trained yet on this page
        page.train_config = preset("tiny", steps=5)
        page.fit_options = {"calibration_defects": 6}
        with qtbot.waitSignal(page.trainingFinished, timeout=TRAIN_TIMEOUT) as done:
            assert page.start_training()
        version = done.args[1]
        assert page.summary_box.isVisible() and not page.assistant_dialog.isVisible()
        qtbot.mouseClick(page.assistant_button, Qt.MouseButton.LeftButton)
        assert page.assistant_dialog.isVisible() and version in page.assistant_dialog.windowTitle()
        saved = tradeoff_from_version(state.recipe().versions_dir / version)  # what the version kept
        shown = page.assistant.tradeoff
        assert [s.name for s in shown.sets] == [s.name for s in saved.sets]
        for a, b in zip(shown.sets, saved.sets):
            assert a.good.tolist() == pytest.approx(b.good.tolist())
            assert a.defect.size == 6 and a.defect.tolist() == pytest.approx(b.defect.tolist())
        assert len(page.assistant.curve_items) == len(shown.drawn_sets()) >= 1
        assert "synthetic defects are caught" in page.assistant.text.text()
        warning = shown.advice(state.thresholds).warning  # shown in the summary too, without opening the window
        assert page.assistant_warning.text() == warning and page.assistant_warning.isVisible() == bool(warning)

        page.assistant.frr_spin.setValue(0.0)
        expected = shown.threshold_for_false_reject(0.0, state.thresholds.uncertain_band)
        with qtbot.waitSignal(state.thresholdsChanged):
            qtbot.mouseClick(page.assistant.set_button, Qt.MouseButton.LeftButton)
        assert state.thresholds.image == pytest.approx(expected)
        assert state.recipe().thresholds().image == pytest.approx(expected)
        assert shown.point(state.thresholds).false_reject_rate == 0.0
        assert f"{expected:.3f}" in page.assistant.text.text()
    finally:
        page.assistant_dialog.close()

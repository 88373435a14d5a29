"""The Evaluate page on generated parts in MVTec layout (6 good, 6 defective with masks): metrics shown, a
sortable table, an image's overlay on double-click, a suggested threshold applied to the application, and
cancelling."""

from __future__ import annotations

import math
import shutil

import pytest
from PySide6.QtCore import Qt

from core.data.io import list_images
from llad_gui.pages.evaluate_page import EvaluatePage
from tests.gui.conftest import wait_model

EVAL_TIMEOUT = 120_000


@pytest.fixture
def subset(tmp_path, parts_root):
    """6 good and 6 defective generated parts with their masks, in MVTec layout under tmp."""
    root = tmp_path / "parts-subset"
    picks = {"good": 6, "blob": 2, "crack": 2, "band": 2}
    for kind, n in picks.items():
        dest = root / "test" / kind
        dest.mkdir(parents=True)
        for p in list_images(parts_root / "test" / kind)[:n]:
            shutil.copy2(p, dest / p.name)
            if kind != "good":
                mask = parts_root / "ground_truth" / kind / f"{p.stem}_mask.png"
                (root / "ground_truth" / kind).mkdir(parents=True, exist_ok=True)
                shutil.copy2(mask, root / "ground_truth" / kind / mask.name)
    return root


@pytest.fixture
def page(qtbot, tiles_state, show_page):
    wait_model(qtbot, tiles_state)
    p = show_page(EvaluatePage, tiles_state, (1300, 800))
    yield p
    if p.dialog is not None:
        p.dialog.close()


def test_evaluate_shows_metrics_table_and_overlay(qtbot, page, subset):
    assert not page.run_button.isEnabled()  # no folder yet
    page.folder_edit.setText(str(subset))
    assert page.run_button.isEnabled()
    with qtbot.waitSignal(page.evaluationFinished, timeout=EVAL_TIMEOUT) as done:
        qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
        assert page.cancel_button.isEnabled()
    evaluation = done.args[0]
    assert evaluation is page.evaluation
    report = evaluation.report
    assert report.counts == {"good": 6, "defective": 6, "unreadable": 0}
    assert 0.0 <= report.image_auroc <= 1.0 and math.isfinite(report.pixel_auroc)
    m = page.metric_labels
    assert m["image_auroc"].text() == f"{report.image_auroc:.3f}"
    assert m["pixel_auroc"].text() == f"{report.pixel_auroc:.3f}" and m["aupro"].text() != "–"
    cells = {k: int(c.text()) for k, c in page.confusion_cells.items()}
    assert cells == report.confusion and sum(cells.values()) == 12

    # the table: 12 rows, sorted by score (highest first), sortable by any column
    assert page.proxy.rowCount() == 12
    scores = [float(page.proxy.index(r, 2).data()) for r in range(12)]
    assert scores == sorted(scores, reverse=True)
    page.table.sortByColumn(1, Qt.SortOrder.AscendingOrder)
    types = [page.proxy.index(r, 1).data() for r in range(12)]
    assert types == sorted(types)
    page.filter_edit.setText("crack")
    assert page.proxy.rowCount() == 2
    page.filter_edit.clear()

    # double-click: the image with its overlay
    rect = page.table.visualRect(page.proxy.index(0, 0))
    qtbot.mouseClick(page.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(page.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert page.dialog is not None
    qtbot.waitUntil(
        lambda: page.dialog.image.pixmap() is not None and not page.dialog.image.pixmap().isNull(), timeout=60_000
    )
    assert "score" in page.dialog.caption.text()

    # suggest for a 0 % false-reject target and apply it: the app's threshold moves, pixel and band stay
    before = page.state.thresholds
    page.frr_spin.setValue(0.0)
    s = page.suggest()
    assert s is not None and s.false_reject_rate == 0.0
    assert f"{s.threshold:.3f}" in page.suggestion_label.text()
    with qtbot.waitSignal(page.state.thresholdsChanged):
        qtbot.mouseClick(page.apply_button, Qt.MouseButton.LeftButton)
    t = page.state.thresholds
    assert t.image == pytest.approx(s.threshold) and (t.pixel, t.uncertain_band) == (
        before.pixel,
        before.uncertain_band,
    )
    assert page.state.recipe().thresholds().image == pytest.approx(s.threshold)  # saved with the recipe
    assert int(page.confusion_cells["fp"].text()) == 0  # the matrix follows the new threshold
    page.f1_radio.setChecked(True)
    assert page.suggest().reason == "best F1 on this set"


def test_evaluation_can_be_cancelled(qtbot, page, subset):
    page.lowlight_check.setChecked(True)
    assert page.run(subset)
    with qtbot.waitSignal(page.evaluationCancelled, timeout=EVAL_TIMEOUT):
        qtbot.mouseClick(page.cancel_button, Qt.MouseButton.LeftButton)
    assert page.evaluation is None and "cancelled" in page.status.text()
    assert page.run_button.isEnabled()


def test_suggest_is_enabled_after_evaluation_and_apply_updates_the_text(qtbot, page, subset):
    """Issue 33 bug 3: the buttons were refreshed before the rows existed, and "Now:" kept the old threshold."""
    page.folder_edit.setText(str(subset))
    with qtbot.waitSignal(page.evaluationFinished, timeout=EVAL_TIMEOUT):
        qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
    assert page.suggest_button.isEnabled()
    page.frr_spin.setValue(0.0)
    qtbot.mouseClick(page.suggest_button, Qt.MouseButton.LeftButton)
    s = page.suggestion
    assert s is not None and f"{s.threshold:.3f}" != "1.000"
    assert "Now: 1.000" in page.suggestion_label.text() and page.apply_button.isEnabled()
    with qtbot.waitSignal(page.state.thresholdsChanged):
        qtbot.mouseClick(page.apply_button, Qt.MouseButton.LeftButton)
    assert f"Now: {s.threshold:.3f}" in page.suggestion_label.text()
    assert not page.apply_button.isEnabled()  # already applied


def test_assistant_shows_the_calibration_trade_off_and_sets_a_target(qtbot, page, subset):
    """The active version's held-out and synthetic-defect scores as curves, the test set beside them after an
    evaluation, and a target catch rate applied to the application's thresholds."""
    assistant = page.assistant
    lighting = {s.name for s in page.calibration.sets}
    assert lighting and lighting <= {"low-light", "well-lit", "paired"}
    names = [c.name for c in assistant.tradeoff.curves()]
    assert len(assistant.curve_items) == len(names) and "test set" not in names
    assert "synthetic defects are caught" in assistant.text.text()
    with qtbot.waitSignal(page.evaluationFinished, timeout=EVAL_TIMEOUT):
        assert page.run(subset)
    assert "test set" in [c.name for c in assistant.tradeoff.curves()]
    x, y = assistant.point_items[-1].getData()  # the test set's operating point matches the confusion grid
    conf = page.evaluation.confusion(page.state.thresholds)
    assert x[0] == pytest.approx(100 * conf["fp"] / 6) and y[0] == pytest.approx(100 * conf["tp"] / 6)

    assistant.catch_radio.setChecked(True)
    assistant.catch_spin.setValue(100.0)
    expected = page.calibration.threshold_for_catch(1.0, page.state.thresholds.uncertain_band)
    with qtbot.waitSignal(page.state.thresholdsChanged):
        qtbot.mouseClick(assistant.set_button, Qt.MouseButton.LeftButton)
    assert page.state.thresholds.image == pytest.approx(expected)
    assert page.state.recipe().thresholds().image == pytest.approx(expected)  # saved with the recipe
    assert assistant.tradeoff.point(page.state.thresholds).catch_rate == 1.0
    assert f"{expected:.3f}" in page.confusion_caption.text()  # the grid follows the assistant's threshold

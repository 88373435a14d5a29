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
from llad_gui.state import AppState

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
def page(qtbot, gui_home):
    state = AppState(gui_home)
    state.set_category("tiles")
    qtbot.waitUntil(lambda: state.predictor is not None, timeout=60_000)
    p = EvaluatePage(state)
    qtbot.addWidget(p)
    p.resize(1300, 800)
    p.show()
    yield p
    p.shutdown()
    if p.dialog is not None:
        p.dialog.close()
    state.close()


def test_evaluate_shows_metrics_table_and_overlay(qtbot, page, subset):
    assert not page.run_button.isEnabled()  # no folder yet
    page.folder_edit.setText(str(subset))
    assert page.run_button.isEnabled()
    with qtbot.waitSignal(page.evaluationFinished, timeout=EVAL_TIMEOUT) as done:
        qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
        assert page.cancel_button.isEnabled()
    report = done.args[0]
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
    assert page.report is None and "cancelled" in page.status.text()
    assert page.run_button.isEnabled()
